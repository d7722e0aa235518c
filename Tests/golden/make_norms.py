#!/usr/bin/python3
"""Writes norms_*.pt and norms.json: U-Nets with instance norm, group norm, leaky ReLU, ELU and SiLU blocks,
written by PyTorch with CropCat's parameter names, and PyTorch's outputs on random inputs.

The reference for CropCat's BlockSpec norm/activation kinds (Layers/BlockNorm.cs, Layers/ConvBlock.cs): the modules
below are written from PyTorch's own layers (nn.InstanceNorm2d/3d(C, affine=True), nn.GroupNorm(G, C),
F.leaky_relu, F.elu, F.silu), structured as CropCat's U-Net fold: enc{k} blocks, 2x2 max-pool, bottom block,
dec{k}.up transposed 2x2 convolution, [skip, up] concatenation (the skip centre-cropped with offset
floor((S - s) / 2) for unpadded nets), dec{k} block, 1x1 head. Convolutions right before batch or instance norm have
no bias (the norm removes it); before group norm they keep it. Run by hand with Debian's python3-torch (1.13 here):

    apt-get install -y python3-torch
    /usr/bin/python3 Tests/golden/make_norms.py

Deterministic (fixed seed). Each net's description is the JSON CropCat parses (SpecJson), so the test builds the
net from it, loads the .pt state dict and compares outputs in eval mode.
"""

import json
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))


class Block(nn.Module):
    def __init__(self, dims, cin, cout, padding, norm, groups, activation, slope):
        super().__init__()
        conv = nn.Conv2d if dims == 2 else nn.Conv3d
        bias = norm in ("none", "group")
        pad = 1 if padding == "same" else 0
        self.conv1 = conv(cin, cout, 3, padding=pad, bias=bias)
        self.conv2 = conv(cout, cout, 3, padding=pad, bias=bias)
        self.activation, self.slope = activation, slope
        if norm == "instance":
            inorm = nn.InstanceNorm2d if dims == 2 else nn.InstanceNorm3d
            self.norm1, self.norm2 = inorm(cout, affine=True), inorm(cout, affine=True)
        elif norm == "group":
            self.norm1, self.norm2 = nn.GroupNorm(groups, cout), nn.GroupNorm(groups, cout)
        else:
            self.norm1 = self.norm2 = None

    def act(self, x):
        if self.activation == "leakyRelu":
            return F.leaky_relu(x, self.slope)
        if self.activation == "elu":
            return F.elu(x)
        if self.activation == "silu":
            return F.silu(x)
        return F.relu(x)

    def forward(self, x):
        x = self.conv1(x)
        if self.norm1 is not None:
            x = self.norm1(x)
        x = self.act(x)
        x = self.conv2(x)
        if self.norm2 is not None:
            x = self.norm2(x)
        return self.act(x)


class Decoder(Block):
    """dec{k}: the up-convolution and the block share one scope in CropCat's names."""

    def __init__(self, dims, cin, cout, padding, norm, groups, activation, slope):
        super().__init__(dims, 2 * cout, cout, padding, norm, groups, activation, slope)
        up = nn.ConvTranspose2d if dims == 2 else nn.ConvTranspose3d
        self.up = up(cin, cout, 2, stride=2)


def centre_crop(skip, like):
    slices = [slice(None), slice(None)]
    for a in range(2, skip.dim()):
        offset = (skip.shape[a] - like.shape[a]) // 2
        slices.append(slice(offset, offset + like.shape[a]))
    return skip[tuple(slices)]


class UNet(nn.Module):
    def __init__(self, dims, cin, widths, classes, padding, merge, norm, groups, activation, slope):
        super().__init__()
        self.dims, self.merge, self.depth = dims, merge, len(widths) - 1
        args = (padding, norm, groups, activation, slope)
        c = cin
        for k in range(1, self.depth + 1):
            setattr(self, f"enc{k}", Block(dims, c, widths[k - 1], *args))
            c = widths[k - 1]
        self.bottom = Block(dims, c, widths[-1], *args)
        for k in range(self.depth, 0, -1):
            setattr(self, f"dec{k}", Decoder(dims, widths[k], widths[k - 1], *args))
        conv = nn.Conv2d if dims == 2 else nn.Conv3d
        self.head = conv(widths[0], classes, 1)

    def forward(self, x):
        pool = F.max_pool2d if self.dims == 2 else F.max_pool3d
        skips = []
        for k in range(1, self.depth + 1):
            x = getattr(self, f"enc{k}")(x)
            skips.append(x)
            x = pool(x, 2)
        x = self.bottom(x)
        for k in range(self.depth, 0, -1):
            dec = getattr(self, f"dec{k}")
            u = dec.up(x)
            s = skips[k - 1]
            if self.merge == "cropcat":
                s = centre_crop(s, u)
            x = Block.forward(dec, torch.cat([s, u], 1))
        return self.head(x)


CASES = [
    # nnU-Net's block: instance norm + leaky ReLU, here unpadded with crop-and-cat.
    dict(name="instance_leaky", dims=2, cin=2, widths=[8, 16, 32], classes=3, padding="valid", merge="cropcat",
         norm="instance", groups=8, activation="leakyRelu", slope=0.01, size=[60, 76]),
    dict(name="group_silu", dims=2, cin=3, widths=[8, 16, 32], classes=2, padding="same", merge="concat",
         norm="group", groups=4, activation="silu", slope=0.01, size=[32, 48]),
    dict(name="instance_elu_3d", dims=3, cin=1, widths=[4, 8], classes=2, padding="same", merge="concat",
         norm="instance", groups=8, activation="elu", slope=0.01, size=[8, 16, 12]),
    dict(name="none_leaky02", dims=2, cin=1, widths=[4, 8], classes=2, padding="same", merge="concat",
         norm="none", groups=8, activation="leakyRelu", slope=0.2, size=[24, 20]),
]


def description(c):
    unet = {"widths": c["widths"], "classes": c["classes"], "padding": c["padding"], "merge": c["merge"],
            "norm": c["norm"], "activation": c["activation"], "bottomDropout": 0}
    if c["norm"] == "group":
        unet["groups"] = c["groups"]
    if c["activation"] == "leakyRelu":
        unet["slope"] = c["slope"]
    return {"inChannels": c["cin"], "dims": c["dims"], "unet": unet}


def main():
    torch.manual_seed(20261203)
    out = {"torch": torch.__version__, "nets": []}
    for c in CASES:
        net = UNet(c["dims"], c["cin"], c["widths"], c["classes"], c["padding"], c["merge"], c["norm"], c["groups"],
                   c["activation"], c["slope"])
        with torch.no_grad():
            # Affine norm parameters away from 1 and 0, so a missing or misplaced scale shows.
            for name, p in net.named_parameters():
                if ".norm" in name:
                    p.add_(torch.randn_like(p) * (0.3 if name.endswith("weight") else 0.2))
        net.eval()
        x = torch.randn([1, c["cin"]] + c["size"])
        with torch.no_grad():
            y = net(x)
        torch.save(net.state_dict(), os.path.join(HERE, f"norms_{c['name']}.pt"))
        out["nets"].append({"name": c["name"], "description": description(c), "input_shape": list(x.shape),
                            "input": [round(v, 7) for v in x.flatten().tolist()], "output_shape": list(y.shape),
                            "output": y.flatten().tolist()})
    with open(os.path.join(HERE, "norms.json"), "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
