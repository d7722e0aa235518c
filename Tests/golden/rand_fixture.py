#!/usr/bin/python3
"""Writes rand_expected.json: scikit-image's adapted Rand error on small random label maps.

The reference for CropCat.Training.Metrics.RandError (and RandErrorOfClasses), computed by an
independent implementation: skimage.metrics.adapted_rand_error with its defaults (true label 0
ignored, pair counts). Run by hand with Debian's python3-skimage (0.19.3 here):

    apt-get install -y python3-skimage
    /usr/bin/python3 Tests/golden/rand_fixture.py

The output is deterministic (fixed numpy seed). Only cases where skimage's score is finite are
kept: it is NaN when the true cells or the predicted segments hold no pair of pixels.
"""

import json
import math
import os

import numpy as np
import skimage
from skimage.measure import label
from skimage.metrics import adapted_rand_error


def blocks(rng, h, w, k):
    """An instance map of up to k rectangles on background 0, later ones drawn over earlier ones."""
    m = np.zeros((h, w), dtype=np.int64)
    for i in range(1, k + 1):
        y0, x0 = rng.randint(0, h), rng.randint(0, w)
        y1, x1 = rng.randint(y0, h) + 1, rng.randint(x0, w) + 1
        m[y0:y1, x0:x1] = i
    return m


def perturb(rng, truth, p):
    """The truth with a fraction p of pixels relabelled at random (merges, splits, misses, spurious)."""
    pred = truth.copy()
    mask = rng.random_sample(truth.shape) < p
    pred[mask] = rng.randint(0, truth.max() + 3, size=mask.sum())
    # Now and then merge two cells or split one, the errors the metric is for.
    if rng.random_sample() < 0.5 and truth.max() >= 2:
        pred[pred == 2] = 1
    if rng.random_sample() < 0.5:
        cols = np.arange(truth.shape[1]) >= truth.shape[1] // 2
        pred[(pred == 1) & cols[None, :]] = truth.max() + 7
    return pred


def with_background_singletons(components):
    """Predicted background pixels as one-pixel segments each (CropCat's RandErrorOfClasses)."""
    out = components.copy()
    bg = out == 0
    out[bg] = out.max() + 1 + np.arange(bg.sum())
    return out


def finite(x):
    return not (math.isnan(x) or math.isinf(x))


def main():
    rng = np.random.RandomState(20261201)
    labels, classes = [], []
    while len(labels) < 40:
        h, w = rng.randint(3, 13), rng.randint(3, 13)
        truth = blocks(rng, h, w, rng.randint(1, 6))
        kind = len(labels) % 3
        if kind == 0:
            pred = rng.randint(0, 5, size=(h, w))  # unrelated labels
        else:
            pred = perturb(rng, truth, 0.1 if kind == 1 else 0.3)
        with np.errstate(divide="ignore", invalid="ignore"):
            are = float(adapted_rand_error(truth, pred)[0])
        if finite(are):
            labels.append({"height": h, "width": w, "truth": truth.ravel().tolist(),
                           "predicted": pred.ravel().tolist(), "expected": are})

    while len(classes) < 30:
        h, w = rng.randint(3, 13), rng.randint(3, 13)
        truth = blocks(rng, h, w, rng.randint(1, 6))
        fg = truth > 0
        flip = rng.random_sample((h, w)) < (0.05, 0.15, 0.4)[len(classes) % 3]
        cls = (fg ^ flip).astype(np.int64)
        comps = label(cls, background=0, connectivity=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            are = float(adapted_rand_error(truth, with_background_singletons(comps))[0])
        if finite(are):
            classes.append({"height": h, "width": w, "truth": truth.ravel().tolist(),
                            "classes": cls.ravel().tolist(), "expected": are})

    out = {
        "skimage": skimage.__version__,
        "function": "skimage.metrics.adapted_rand_error(truth, predicted)[0], ignore_labels=(0,)",
        "classes_note": "predicted = skimage.measure.label(classes, connectivity=1) with every background pixel its own label",
        "labels": labels,
        "classes": classes,
    }
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rand_expected.json")
    with open(path, "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
