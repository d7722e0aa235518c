#!/usr/bin/env python3
"""Writes the ResNet fixtures that Tests/InteropResNetTests.fs checks CropCat against (run by hand,
committed with its output; CI needs no Python):

  LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp /usr/bin/python3 Tests/golden/make_resnet.py

ResNet-34 weights are 87 MB, too big to commit, so every weight is computed from a formula that the C#
test computes too (ResNetFormula in the test): parameter number k (its index in the state dict's key
order, stored in resnet.json) element j (row-major) gets u = hash(k, j) / 2^32 - 0.5 from a 32-bit
counter hash, in float64, then
  conv / linear weight: u * 2 sqrt(3 / fan_in)   (variance 1 / fan_in)
  batch-norm weight:    0.5 + 0.4 u              (below 1, so 16 residual sums stay O(1))
  any bias:             0.1 u
  running_mean:         0.2 u
  running_var:          1 + 0.5 (u + 0.5)
  num_batches_tracked:  0
cast to float32 once. Only the inputs, the outputs and the key lists (name, shape, dtype) are committed.

1. torchvision's resnet34 (Debian's python3-torchvision), eval mode, on a 1x3x32x32 input: the stem
   (relu(bn1(conv1 x))) and layer1 ... layer4 outputs. Key list: its whole state dict, fc included.
2. segmentation_models_pytorch 0.3's Unet(encoder_name="resnet34", classes=2), written out below with smp's
   module structure and key names (smp is not packaged): encoder = torchvision's resnet34 without avgpool
   and fc; decoder center Identity; block N: F.interpolate(x, scale_factor=2, mode="nearest"),
   cat([x, skip]) (no skip in the last block), conv1 = Sequential(Conv2d 3x3 no bias, BatchNorm2d, ReLU),
   conv2 the same; segmentation_head = Sequential(Conv2d 3x3, Identity, Identity). Eval mode, 1x3x64x64 input.
3. resnet_keys.pt: torch.save of a torchvision-style state dict holding a few resnet-shaped tensors
   (conv1.weight, bn1.*, layer1.0.conv1.weight, fc.bias), for the restricted unpickler's .pth path.
resnet.json + resnet.bin: inputs and outputs as raw little-endian float32 with shape and offset (in floats).
"""
import json
import os
from collections import OrderedDict

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
M32 = 0xFFFFFFFF


def uniform(k, n):
    """u in [-0.5, 0.5) for elements 0..n-1 of parameter k: the counter hash the C# test repeats."""
    j = np.arange(n, dtype=np.uint64)
    h = ((j + np.uint64(1)) * np.uint64(2654435761) + np.uint64((k + 1) * 40503)) & np.uint64(M32)
    h ^= h >> np.uint64(15)
    h = (h * np.uint64(2246822519)) & np.uint64(M32)
    h ^= h >> np.uint64(13)
    return h.astype(np.float64) / 4294967296.0 - 0.5


def value(k, name, shape):
    n = int(np.prod(shape)) if len(shape) else 1
    u = uniform(k, n)
    if name.endswith("num_batches_tracked"):
        return torch.zeros(shape, dtype=torch.int64)
    if name.endswith("running_mean"):
        v = 0.2 * u
    elif name.endswith("running_var"):
        v = 1.0 + 0.5 * (u + 0.5)
    elif name.endswith("bias"):
        v = 0.1 * u
    elif len(shape) == 1:
        v = 0.5 + 0.4 * u
    else:
        v = u * 2.0 * np.sqrt(3.0 / float(np.prod(shape[1:])))
    return torch.from_numpy(v.astype(np.float32).reshape(shape))


def fill(model):
    sd = model.state_dict()
    keys = []
    new = OrderedDict()
    for k, (name, t) in enumerate(sd.items()):
        new[name] = value(k, name, list(t.shape))
        keys.append([name, list(t.shape), "int64" if t.dtype == torch.int64 else "float32"])
    model.load_state_dict(new, strict=True)
    return keys


class Conv2dReLU(nn.Sequential):
    def __init__(self, cin, cout):
        super().__init__(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class DecoderBlock(nn.Module):
    def __init__(self, cin, skip, cout):
        super().__init__()
        self.conv1 = Conv2dReLU(cin + skip, cout)
        self.attention1 = nn.Identity()
        self.conv2 = Conv2dReLU(cout, cout)
        self.attention2 = nn.Identity()

    def forward(self, x, skip=None):
        x = F.interpolate(x, scale_factor=2, mode="nearest")
        if skip is not None:
            x = torch.cat([x, skip], dim=1)
            x = self.attention1(x)
        x = self.conv1(x)
        x = self.conv2(x)
        return self.attention2(x)


class UnetDecoder(nn.Module):
    def __init__(self, encoder_channels=(3, 64, 64, 128, 256, 512), decoder_channels=(256, 128, 64, 32, 16)):
        super().__init__()
        encoder_channels = encoder_channels[1:][::-1]
        head = encoder_channels[0]
        ins = [head] + list(decoder_channels[:-1])
        skips = list(encoder_channels[1:]) + [0]
        self.center = nn.Identity()
        self.blocks = nn.ModuleList(DecoderBlock(i, s, o) for i, s, o in zip(ins, skips, decoder_channels))

    def forward(self, *features):
        features = features[1:][::-1]
        x = self.center(features[0])
        skips = features[1:]
        for i, block in enumerate(self.blocks):
            x = block(x, skips[i] if i < len(skips) else None)
        return x


class ResNetEncoder(torchvision.models.ResNet):
    def __init__(self):
        super().__init__(torchvision.models.resnet.BasicBlock, [3, 4, 6, 3])
        del self.fc
        del self.avgpool

    def forward(self, x):
        feats = [x]
        x = self.relu(self.bn1(self.conv1(x)))
        feats.append(x)
        x = self.layer1(self.maxpool(x))
        feats.append(x)
        for layer in (self.layer2, self.layer3, self.layer4):
            x = layer(x)
            feats.append(x)
        return feats


class Unet(nn.Module):
    def __init__(self, classes=2):
        super().__init__()
        self.encoder = ResNetEncoder()
        self.decoder = UnetDecoder()
        self.segmentation_head = nn.Sequential(nn.Conv2d(16, classes, 3, padding=1), nn.Identity(), nn.Identity())

    def forward(self, x):
        return self.segmentation_head(self.decoder(*self.encoder(x)))


def main():
    torch.manual_seed(0)
    tensors = OrderedDict()

    trunk = torchvision.models.resnet34()
    trunk_keys = fill(trunk)
    trunk.eval()
    x = torch.from_numpy((uniform(10_000, 3 * 32 * 32) * 2.0).astype(np.float32).reshape(1, 3, 32, 32))
    tensors["trunk.input"] = x
    with torch.no_grad():
        y = trunk.relu(trunk.bn1(trunk.conv1(x)))
        tensors["trunk.stem"] = y
        y = trunk.layer1(trunk.maxpool(y))
        tensors["trunk.layer1"] = y
        for i, layer in enumerate((trunk.layer2, trunk.layer3, trunk.layer4)):
            y = layer(y)
            tensors[f"trunk.layer{i + 2}"] = y

    unet = Unet(classes=2)
    unet_keys = fill(unet)
    unet.eval()
    x = torch.from_numpy((uniform(20_000, 3 * 64 * 64) * 2.0).astype(np.float32).reshape(1, 3, 64, 64))
    tensors["smp.input"] = x
    with torch.no_grad():
        tensors["smp.output"] = unet(x)

    index, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        a = t.detach().contiguous().numpy().astype("<f4")
        index[name] = {"shape": list(t.shape), "offset": offset}
        blobs.append(a.tobytes())
        offset += a.size
        print(f"{name}: {list(t.shape)} max |x| {float(t.abs().max()):.4g}")
    with open(os.path.join(HERE, "resnet.bin"), "wb") as f:
        for b in blobs:
            f.write(b)
    with open(os.path.join(HERE, "resnet.json"), "w") as f:
        json.dump({"torch": torch.__version__, "torchvision": torchvision.__version__, "tensors": index,
                   "resnet34": trunk_keys, "smp_resnet34": unet_keys}, f, indent=None, separators=(",", ":"))

    sd = trunk.state_dict()
    few = OrderedDict((k, sd[k].clone()) for k in
                      ["conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var",
                       "bn1.num_batches_tracked", "layer1.0.conv1.weight", "fc.bias"])
    torch.save(few, os.path.join(HERE, "resnet_keys.pt"))


if __name__ == "__main__":
    main()
