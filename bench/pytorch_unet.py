#!/usr/bin/env python3
"""PyTorch side of `cropcat bench`: the same U-Net as CropCat.Nets.UNet.Create (valid 3x3 convs +
ReLU, 2x2 max-pool, 2x2 transposed conv, centre crop, [skip, up] concatenation, bottom dropout,
1x1 head), timed the same way; and, for commands with "encoder": "resnet34", segmentation_models_pytorch's
Unet on torchvision's resnet34 (smp's module structure as in Tests/golden/make_resnet.py: nearest x2
up-sampling, cat [up, skip], two conv3x3-BN-ReLU per decoder block, widths 256..16, 3x3 head; needs
torchvision), as CropCat's ResNetUNets.Describe builds it.

Run by the bench as a worker: it reads one JSON command per line on stdin and answers one JSON line
on stdout, so the driver can interleave PyTorch repetitions with CropCat's.

  {"op": "setup", "threads": 2}                       -> {"torch": "1.13.0", "threads": 2}
  {"op": "fwd"|"train", "widths": [...], "size": 572,
   "in": 1, "classes": 2, "dropout": 0.5}              -> {"s": seconds}
  the same with "encoder": "resnet34", "in": 3, "size": 512 -> {"s": seconds}
  {"op": "rss"}                                        -> {"peak_mib": ..., "rss_mib": ...}
  {"op": "quit"}

`--probe fwd --widths 64,128,256,512,1024 --size 572` runs one warm-up and one forward in a fresh
process and prints {"base_mib": ..., "peak_mib": ...}: memory after building the net and the peak of a forward.

Use Debian's python3-torch with OpenBLAS (LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp);
without it PyTorch 1.13 falls back to the reference BLAS and is not a fair peer.
"""
import argparse
import gc
import json
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3)
        self.conv2 = nn.Conv2d(cout, cout, 3)

    def forward(self, x):
        return F.relu(self.conv2(F.relu(self.conv1(x), inplace=True)), inplace=True)


class UNet(nn.Module):
    def __init__(self, cin, classes, widths, dropout=0.0):
        super().__init__()
        depth = len(widths) - 1
        self.enc = nn.ModuleList(Block(cin if k == 0 else widths[k - 1], widths[k]) for k in range(depth))
        self.bottom = Block(widths[depth - 1], widths[depth])
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.up = nn.ModuleList(nn.ConvTranspose2d(widths[k + 1], widths[k], 2, stride=2) for k in range(depth))
        self.dec = nn.ModuleList(Block(2 * widths[k], widths[k]) for k in range(depth))
        self.head = nn.Conv2d(widths[0], classes, 1)

    def forward(self, x):
        skips = []
        for blk in self.enc:
            x = blk(x)
            skips.append(x)
            x = F.max_pool2d(x, 2)
        x = self.dropout(self.bottom(x))
        for k in reversed(range(len(self.up))):
            u = self.up[k](x)
            s = skips.pop()
            h, w = u.shape[2], u.shape[3]
            oh, ow = (s.shape[2] - h) // 2, (s.shape[3] - w) // 2
            x = self.dec[k](torch.cat([s[:, :, oh:oh + h, ow:ow + w], u], 1))
        return self.head(x)


class Conv2dReLU(nn.Sequential):
    def __init__(self, cin, cout):
        super().__init__(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class DecoderBlock(nn.Module):
    """smp's DecoderBlock (no attention): nearest x2, cat [up, skip], two conv3x3-BN-ReLU."""

    def __init__(self, cin, skip, cout):
        super().__init__()
        self.conv1 = Conv2dReLU(cin + skip, cout)
        self.conv2 = Conv2dReLU(cout, cout)

    def forward(self, x, skip=None):
        x = F.interpolate(x, scale_factor=2, mode="nearest")
        if skip is not None:
            x = torch.cat([x, skip], dim=1)
        return self.conv2(self.conv1(x))


RESNETS = {"resnet18": ("BasicBlock", [2, 2, 2, 2]), "resnet34": ("BasicBlock", [3, 4, 6, 3]),
           "resnet50": ("Bottleneck", [3, 4, 6, 3])}


class SmpUnet(nn.Module):
    """smp.Unet(encoder_name, encoder_depth=5, decoder_channels=(256, 128, 64, 32, 16)) in smp's structure."""

    def __init__(self, encoder, cin, classes):
        super().__init__()
        import torchvision  # only the ResNet cases need it

        block, layers = RESNETS[encoder]
        trunk = torchvision.models.resnet.ResNet(getattr(torchvision.models.resnet, block), layers)
        if cin != 3:
            trunk.conv1 = nn.Conv2d(cin, 64, 7, stride=2, padding=3, bias=False)
        del trunk.fc, trunk.avgpool
        self.encoder = trunk
        e = 4 if block == "Bottleneck" else 1
        feats = [64 * e * 8, 64 * e * 4, 64 * e * 2, 64 * e, 64]  # layer4 .. layer1, stem
        decoder = [256, 128, 64, 32, 16]
        ins = [feats[0]] + decoder[:-1]
        skips = feats[1:] + [0]
        self.blocks = nn.ModuleList(DecoderBlock(i, s, o) for i, s, o in zip(ins, skips, decoder))
        self.head = nn.Conv2d(16, classes, 3, padding=1)

    def forward(self, x):
        t = self.encoder
        stem = t.relu(t.bn1(t.conv1(x)))
        f1 = t.layer1(t.maxpool(stem))
        f2 = t.layer2(f1)
        f3 = t.layer3(f2)
        x = t.layer4(f3)
        for block, skip in zip(self.blocks, [f3, f2, f1, stem, None]):
            x = block(x, skip)
        return self.head(x)


def out_size(size, depth):
    for _ in range(depth):
        size = (size - 4) // 2
    size -= 4
    for _ in range(depth):
        size = size * 2 - 4
    return size


class Case:
    def __init__(self, op, widths, size, cin, classes, dropout, encoder=None):
        g = torch.Generator().manual_seed(1)
        self.op = op
        self.net = SmpUnet(encoder, cin, classes) if encoder else UNet(cin, classes, widths, dropout)
        self.x = torch.rand(1, cin, size, size, generator=g)
        if op == "fwd":
            self.net.eval()
        else:
            self.net.train()
            o = size if encoder else out_size(size, len(widths) - 1)
            self.target = torch.randint(0, classes, (1, o, o), generator=g)
            self.weight = torch.rand(1, o, o, generator=g).mul_(10).add_(1)
            self.sgd = torch.optim.SGD(self.net.parameters(), lr=1e-7, momentum=0.99)

    def run_once(self):
        t = time.perf_counter()
        if self.op == "fwd":
            with torch.no_grad():
                y = self.net(self.x)
                del y
        else:
            self.sgd.zero_grad()
            logits = self.net(self.x)
            loss = F.cross_entropy(logits, self.target, reduction="none").mul_(self.weight).mean()
            loss.backward()
            self.sgd.step()
            del logits, loss
        return time.perf_counter() - t


def status_mib(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def serve():
    cases = {}
    for line in sys.stdin:
        cmd = json.loads(line)
        op = cmd["op"]
        if op == "quit":
            break
        if op == "setup":
            torch.set_num_threads(int(cmd.get("threads", 2)))
            reply = {"torch": torch.__version__, "threads": torch.get_num_threads()}
        elif op.startswith("drop-"):
            cases.pop((op[5:], tuple(cmd["widths"]), cmd["size"], cmd.get("encoder")), None)
            gc.collect()
            reply = {}
        elif op == "rss":
            reply = {"peak_mib": status_mib("VmHWM:"), "rss_mib": status_mib("VmRSS:")}
        else:
            key = (op, tuple(cmd["widths"]), cmd["size"], cmd.get("encoder"))
            if key not in cases:
                cases[key] = Case(op, cmd["widths"], cmd["size"], cmd.get("in", 1), cmd.get("classes", 2),
                                  cmd.get("dropout", 0.0), cmd.get("encoder"))
            reply = {"s": cases[key].run_once()}
        print(json.dumps(reply), flush=True)


def probe(args):
    torch.set_num_threads(args.threads)
    widths = [int(w) for w in args.widths.split(",")]
    case = Case(args.probe, widths, args.size, 1, 2, args.dropout)
    base = status_mib("VmRSS:")
    case.run_once()
    case.run_once()
    print(json.dumps({"base_mib": base, "peak_mib": status_mib("VmHWM:")}), flush=True)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--probe", choices=["fwd", "train"])
    p.add_argument("--widths", default="64,128,256,512,1024")
    p.add_argument("--size", type=int, default=572)
    p.add_argument("--dropout", type=float, default=0.5)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    if a.probe:
        probe(a)
    else:
        serve()
