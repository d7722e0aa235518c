#!/usr/bin/env python3
"""Writes the golden fixture that Tests/InteropGoldenTests.fs checks CropCat against (run by hand,
committed with its output; CI needs no Python):

  LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp /usr/bin/python3 Tests/golden/make_fixture.py

1. A small unpadded U-Net in the reading group's naming (encoder.enc_blocks / decoder.upconvs /
   decoder.dec_blocks / head; in 1, widths [4, 8, 16], 2 classes), the reading group's classes verbatim in
   structure: Block = Conv2d -> ReLU -> Conv2d (no ReLU after the second), torchvision's CenterCrop,
   [up, skip] concatenation, a 1x1 head (CropCat: UNetOptions.ReadingGroup). Its weights
   go to reading_group.pt (torch.save of the state dict) and reading_group.safetensors; an input
   (1x1x60x76), PyTorch's output, and three training steps (pixel-weighted cross-entropy, SGD lr 0.05
   momentum 0.99, the same input each step): the three losses and every weight after step 3.
2. A small padded U-Net in the Carvana implementation's naming (inc / downN / upN / outc, DoubleConv
   with batch norm, transposed up, [skip, up]; in 1, widths [2, 4, 8], 2 classes) in eval mode with
   non-trivial running statistics: carvana.pt, an input (1x1x16x16) and its output.
3. expected.json + expected.bin: every expected tensor as raw little-endian float32, with its shape
   and offset (in floats) in the json.

With --check-export FILE.safetensors it instead loads a file that CropCat exported in the reading
group's layout (PyTorchWeights.ExportSafetensors(net, path, StateDictLayout.ReadingGroup)) into the
PyTorch module with load_state_dict(strict=True) and prints PyTorch's output on the fixture input next
to the committed one: the check that PyTorch loads CropCat's export.
"""
import json
import os
import struct
from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
STEPS = 3  # SGD steps of the training check


# --- the reading group's layout ------------------------------------------------------------------
class Block(nn.Module):
    """The reading group's block verbatim in structure: Conv -> ReLU -> Conv, with no ReLU after the second."""

    def __init__(self, cin, cout):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(cout, cout, 3)

    def forward(self, x):
        return self.conv2(self.relu(self.conv1(x)))


class Encoder(nn.Module):
    def __init__(self, chs):
        super().__init__()
        self.enc_blocks = nn.ModuleList(Block(chs[i], chs[i + 1]) for i in range(len(chs) - 1))

    def forward(self, x):
        feats = []
        for i, b in enumerate(self.enc_blocks):
            x = b(x)
            feats.append(x)
            if i < len(self.enc_blocks) - 1:
                x = F.max_pool2d(x, 2)
        return feats


def center_crop(t, h, w):
    # torchvision's CenterCrop, as the reading group's code uses it: offset int(round((H - h) / 2)).
    return torchvision.transforms.CenterCrop([h, w])(t)


class Decoder(nn.Module):
    def __init__(self, chs):
        super().__init__()
        self.upconvs = nn.ModuleList(nn.ConvTranspose2d(chs[i], chs[i + 1], 2, 2) for i in range(len(chs) - 1))
        self.dec_blocks = nn.ModuleList(Block(chs[i], chs[i + 1]) for i in range(len(chs) - 1))

    def forward(self, x, feats):
        for i in range(len(self.upconvs)):
            x = self.upconvs[i](x)
            skip = center_crop(feats[i], x.shape[2], x.shape[3])
            x = self.dec_blocks[i](torch.cat([x, skip], dim=1))  # [up, skip]: the reading group's order
        return x


class ReadingGroupUNet(nn.Module):
    def __init__(self, enc_chs=(1, 4, 8, 16), dec_chs=(16, 8, 4), classes=2):
        super().__init__()
        self.encoder = Encoder(enc_chs)
        self.decoder = Decoder(dec_chs)
        self.head = nn.Conv2d(dec_chs[-1], classes, 1)

    def forward(self, x):
        feats = self.encoder(x)
        return self.head(self.decoder(feats[::-1][0], feats[::-1][1:]))


# --- the Carvana implementation's layout ---------------------------------------------------------
class DoubleConv(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.double_conv = nn.Sequential(
            nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))

    def forward(self, x):
        return self.double_conv(x)


class Down(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.maxpool_conv = nn.Sequential(nn.MaxPool2d(2), DoubleConv(cin, cout))

    def forward(self, x):
        return self.maxpool_conv(x)


class Up(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.up = nn.ConvTranspose2d(cin, cin // 2, 2, stride=2)
        self.conv = DoubleConv(cin, cout)

    def forward(self, x1, x2):
        return self.conv(torch.cat([x2, self.up(x1)], dim=1))  # [skip, up]


class OutConv(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 1)

    def forward(self, x):
        return self.conv(x)


class CarvanaUNet(nn.Module):
    def __init__(self, w=(2, 4, 8), classes=2):
        super().__init__()
        self.inc = DoubleConv(1, w[0])
        self.down1 = Down(w[0], w[1])
        self.down2 = Down(w[1], w[2])
        self.up1 = Up(w[2], w[1])
        self.up2 = Up(w[1], w[0])
        self.outc = OutConv(w[0], classes)

    def forward(self, x):
        x1 = self.inc(x)
        x2 = self.down1(x1)
        x3 = self.down2(x2)
        return self.outc(self.up2(self.up1(x3, x2), x1))


# --- files ---------------------------------------------------------------------------------------
def write_safetensors(path, tensors, metadata=None):
    """The safetensors format: 8-byte little-endian header length, JSON header, raw data."""
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        b = t.detach().contiguous().to(torch.float32).numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    if metadata:
        header["__metadata__"] = metadata
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def main():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    expected = OrderedDict()

    net = ReadingGroupUNet()
    torch.save(net.state_dict(), os.path.join(HERE, "reading_group.pt"))
    write_safetensors(os.path.join(HERE, "reading_group.safetensors"), net.state_dict(), {"format": "pt"})
    x = torch.rand(1, 1, 60, 76)
    net.eval()
    with torch.no_grad():
        y = net(x)
    expected["rg.input"] = x
    expected["rg.output"] = y

    # Three training steps, the paper's recipe at batch 1: from step 2 on the momentum buffer is no
    # longer the gradient, so a wrong momentum (or none) shows in the weights.
    net.train()
    target = torch.randint(0, 2, (1, y.shape[2], y.shape[3]))
    weight = torch.rand(1, y.shape[2], y.shape[3]) * 10 + 1
    sgd = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.99)
    losses = []
    for _ in range(STEPS):
        sgd.zero_grad()
        loss = (F.cross_entropy(net(x), target, reduction="none") * weight).mean()
        loss.backward()
        sgd.step()
        losses.append(loss.item())
    expected["rg.target"] = target.float()
    expected["rg.weight"] = weight
    expected["rg.losses"] = torch.tensor(losses)
    for k, v in net.state_dict().items():
        expected[f"rg.step{STEPS}." + k] = v

    cv = CarvanaUNet()
    with torch.no_grad():
        for m in cv.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
                m.num_batches_tracked.fill_(7)
    torch.save(cv.state_dict(), os.path.join(HERE, "carvana.pt"))
    cv.eval()
    xc = torch.rand(1, 1, 16, 16)
    with torch.no_grad():
        expected["cv.input"] = xc
        expected["cv.output"] = cv(xc)

    index, blob, offset = {}, bytearray(), 0
    for k, v in expected.items():
        b = v.detach().contiguous().float().numpy().astype("<f4").tobytes()
        index[k] = {"shape": list(v.shape), "offset": offset}
        blob += b
        offset += v.numel()
    with open(os.path.join(HERE, "expected.bin"), "wb") as f:
        f.write(blob)
    with open(os.path.join(HERE, "expected.json"), "w") as f:
        json.dump({"torch": torch.__version__, "tensors": index}, f, indent=1)
    print("losses", losses, "output", tuple(y.shape), "carvana", tuple(expected["cv.output"].shape))


def read_safetensors(path):
    """Reads F32 tensors of a safetensors file (no safetensors package needed)."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = OrderedDict()
    for name, e in header.items():
        if name == "__metadata__":
            continue
        assert e["dtype"] == "F32", f"{name}: {e['dtype']}"
        b, end = e["data_offsets"]
        out[name] = torch.frombuffer(bytearray(data[b:end]), dtype=torch.float32).reshape(e["shape"])
    return out


def check_export(path):
    net = ReadingGroupUNet()
    net.load_state_dict(read_safetensors(path), strict=True)
    net.eval()
    index = json.load(open(os.path.join(HERE, "expected.json")))["tensors"]
    blob = open(os.path.join(HERE, "expected.bin"), "rb").read()

    def get(name):
        e = index[name]
        count = 1
        for d in e["shape"]:
            count *= d
        return torch.frombuffer(bytearray(blob[4 * e["offset"]:4 * (e["offset"] + count)]), dtype=torch.float32).reshape(e["shape"])

    with torch.no_grad():
        y = net(get("rg.input"))
    print("max |PyTorch(CropCat export) - fixture output| =", (y - get("rg.output")).abs().max().item())


if __name__ == "__main__":
    import sys
    if len(sys.argv) == 3 and sys.argv[1] == "--check-export":
        check_export(sys.argv[2])
    else:
        main()
