#!/usr/bin/env bash
# CropCat before/after a change, in one run: the paper net's forward and training step, alternating
# between two builds of `cropcat` (ROUNDS rounds, each build's `cropcat bench` in turn), both NCHW
# (CROPCAT_LAYOUT=contiguous, so the Auto tuner's choice is not part of the comparison).
# Usage: bench/before_after.sh BEFORE_CROPCAT AFTER_CROPCAT [ROUNDS] > report.md
set -euo pipefail
before=$1 after=$2 rounds=${3:-3}
tmp=$(mktemp -d)
for r in $(seq 1 "$rounds"); do
  for side in before after; do
    bin=$before; [ "$side" = after ] && bin=$after
    CROPCAT_LAYOUT=contiguous "$bin" bench --cases paper-fwd,paper-train --no-python --single-heap --no-memory --reps 3 \
      --out "$tmp/$side-$r.md" > /dev/null 2>&1
  done
done
# The median seconds of CropCat and of the hand-written reference net, per case and run.
row() { grep -E "^\| $2 \|" "$1" | awk -F'|' '{ split($4, a, " "); split($5, b, " "); print a[1], b[1] }'; }
echo "| case | round | before CropCat s | after CropCat s | after/before | after CropCat/Reference |"
echo "|---|---|---|---|---|---|"
for c in paper-fwd paper-train; do
  for r in $(seq 1 "$rounds"); do
    read -r b _ < <(row "$tmp/before-$r.md" "$c")
    read -r a ref < <(row "$tmp/after-$r.md" "$c")
    echo "| $c | $r | $b | $a | $(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f", a / b }') | $(awk -v a="$a" -v b="$ref" 'BEGIN { printf "%.3f", a / b }') |"
  done
done
# Over all rounds: the ratio of the summed medians (each round's interleaving cancels slow drifts).
for c in paper-fwd paper-train; do
  paste <(for r in $(seq 1 "$rounds"); do row "$tmp/before-$r.md" "$c"; done) \
        <(for r in $(seq 1 "$rounds"); do row "$tmp/after-$r.md" "$c"; done) |
    awk -v c="$c" '{ b += $1; a += $3; ref += $4 } END { printf "%s over %d rounds: after/before %.3f, after CropCat/Reference %.3f\n", c, NR, a / b, a / ref }'
done
grep -h "machine:" "$tmp/after-1.md" | head -1
