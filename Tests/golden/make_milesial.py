#!/usr/bin/env python3
"""Writes the milesial/Pytorch-UNet fixtures that Tests/InteropMilesialTests.fs checks CropCat against
(run by hand with Debian's python3-torch, committed with its output; CI needs no Python):

  LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp /usr/bin/python3 Tests/golden/make_milesial.py

The classes below are milesial's unet/unet_parts.py and unet/unet_model.py, structure and module
names unchanged (inc, down1..4, up1..4, outc; double_conv / maxpool_conv / up / conv). Two changes,
both only to keep the committed files small or to reproduce an older revision:
  - `base` replaces the hard-coded 64: every width n of milesial's code is written c(n) = n * base // 64
    (base = 64 is milesial's net exactly; the fixtures use base = 1, widths 1..16).
  - `conv_bias` restores the 3x3 convolutions' biases that milesial's code had before its commit
    "delete convolution bias before BN" (old checkpoints carry inc.double_conv.0.bias etc.).

Files:
  milesial_new.pt  n_channels 3, n_classes 2, bilinear False (transposed up), no conv bias, and
                   state_dict['mask_values'] = [0, 255] as milesial's train.py saves it.
  milesial_old.pt  n_channels 3, n_classes 1, bilinear True, conv biases (the old layout).
  milesial.json + milesial.bin  the inputs (1x3x32x32, and 1x3x23x45 where milesial pads), PyTorch's
                   eval-mode outputs of both nets, and
                   for the old one a train-mode output (batch statistics), inc's first running mean
                   after it and inc's first conv bias: raw little-endian float32.
"""
import json
import os
from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))


# --- unet_parts.py -------------------------------------------------------------------------------
class DoubleConv(nn.Module):
    """(convolution => [BN] => ReLU) * 2"""

    def __init__(self, in_channels, out_channels, mid_channels=None, conv_bias=False):
        super().__init__()
        if not mid_channels:
            mid_channels = out_channels
        self.double_conv = nn.Sequential(
            nn.Conv2d(in_channels, mid_channels, kernel_size=3, padding=1, bias=conv_bias),
            nn.BatchNorm2d(mid_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid_channels, out_channels, kernel_size=3, padding=1, bias=conv_bias),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True)
        )

    def forward(self, x):
        return self.double_conv(x)


class Down(nn.Module):
    """Downscaling with maxpool then double conv"""

    def __init__(self, in_channels, out_channels, conv_bias=False):
        super().__init__()
        self.maxpool_conv = nn.Sequential(
            nn.MaxPool2d(2),
            DoubleConv(in_channels, out_channels, conv_bias=conv_bias)
        )

    def forward(self, x):
        return self.maxpool_conv(x)


class Up(nn.Module):
    """Upscaling then double conv"""

    def __init__(self, in_channels, out_channels, bilinear=True, conv_bias=False):
        super().__init__()

        # if bilinear, use the normal convolutions to reduce the number of channels
        if bilinear:
            self.up = nn.Upsample(scale_factor=2, mode='bilinear', align_corners=True)
            self.conv = DoubleConv(in_channels, out_channels, in_channels // 2, conv_bias=conv_bias)
        else:
            self.up = nn.ConvTranspose2d(in_channels, in_channels // 2, kernel_size=2, stride=2)
            self.conv = DoubleConv(in_channels, out_channels, conv_bias=conv_bias)

    def forward(self, x1, x2):
        x1 = self.up(x1)
        # input is CHW
        diffY = x2.size()[2] - x1.size()[2]
        diffX = x2.size()[3] - x1.size()[3]

        x1 = F.pad(x1, [diffX // 2, diffX - diffX // 2,
                        diffY // 2, diffY - diffY // 2])
        x = torch.cat([x2, x1], dim=1)
        return self.conv(x)


class OutConv(nn.Module):
    def __init__(self, in_channels, out_channels):
        super(OutConv, self).__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=1)

    def forward(self, x):
        return self.conv(x)


# --- unet_model.py -------------------------------------------------------------------------------
class UNet(nn.Module):
    def __init__(self, n_channels, n_classes, bilinear=False, base=64, conv_bias=False):
        super(UNet, self).__init__()
        self.n_channels = n_channels
        self.n_classes = n_classes
        self.bilinear = bilinear

        def c(n):
            return n * base // 64

        b = conv_bias
        self.inc = (DoubleConv(n_channels, c(64), conv_bias=b))
        self.down1 = (Down(c(64), c(128), conv_bias=b))
        self.down2 = (Down(c(128), c(256), conv_bias=b))
        self.down3 = (Down(c(256), c(512), conv_bias=b))
        factor = 2 if bilinear else 1
        self.down4 = (Down(c(512), c(1024) // factor, conv_bias=b))
        self.up1 = (Up(c(1024), c(512) // factor, bilinear, conv_bias=b))
        self.up2 = (Up(c(512), c(256) // factor, bilinear, conv_bias=b))
        self.up3 = (Up(c(256), c(128) // factor, bilinear, conv_bias=b))
        self.up4 = (Up(c(128), c(64), bilinear, conv_bias=b))
        self.outc = (OutConv(c(64), n_classes))

    def forward(self, x):
        x1 = self.inc(x)
        x2 = self.down1(x1)
        x3 = self.down2(x2)
        x4 = self.down3(x3)
        x5 = self.down4(x4)
        x = self.up1(x5, x4)
        x = self.up2(x, x3)
        x = self.up3(x, x2)
        x = self.up4(x, x1)
        logits = self.outc(x)
        return logits


# --- fixtures ------------------------------------------------------------------------------------
def perturb(net):
    """Non-trivial conv biases and batch-norm parameters, with running statistics calibrated on random
    inputs (then jittered) so that the ReLUs of these 1-channel-wide nets stay alive: a wrong fold or a
    wrong concat order must change the output."""
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(0.0, 0.3)
            elif isinstance(m, nn.Conv2d) and m.bias is not None:
                m.bias.uniform_(-0.5, 0.5)
        bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
        for m in bns:
            m.reset_running_stats()
            m.momentum = None  # cumulative average over the calibration batches
        net.train()
        for _ in range(4):
            net(torch.rand(2, 3, 32, 48))
        for m in bns:
            m.momentum = 0.1
            m.running_mean.add_(torch.empty_like(m.running_mean).uniform_(-0.1, 0.1))
            m.running_var.mul_(torch.empty_like(m.running_var).uniform_(0.8, 1.2))
            m.num_batches_tracked.fill_(11)


def main():
    torch.manual_seed(16)
    torch.set_num_threads(1)
    expected = OrderedDict()

    new = UNet(3, 2, bilinear=False, base=1)
    perturb(new)
    sd = new.state_dict()
    sd['mask_values'] = [0, 255]  # milesial's train.py: state_dict['mask_values'] = mask_values
    torch.save(sd, os.path.join(HERE, "milesial_new.pt"))

    old = UNet(3, 1, bilinear=True, base=1, conv_bias=True)
    perturb(old)
    torch.save(old.state_dict(), os.path.join(HERE, "milesial_old.pt"))

    x = torch.rand(1, 3, 32, 32)
    odd = torch.rand(1, 3, 23, 45)  # floor pooling, then F.pad of the up-sampled map at three levels per axis
    new.eval()
    old.eval()
    with torch.no_grad():
        expected["input"] = x
        expected["new.output"] = new(x)
        expected["old.output"] = old(x)
        expected["odd.input"] = odd
        expected["new.odd.output"] = new(odd)
        expected["old.odd.output"] = old(odd)

    # Train mode: batch statistics absorb a conv bias, and the running-mean update keeps it apart.
    old.train()
    with torch.no_grad():
        expected["old.train.output"] = old(x)
    expected["old.train.inc.double_conv.1.running_mean"] = old.inc.double_conv[1].running_mean.clone()
    expected["old.inc.double_conv.0.bias"] = old.inc.double_conv[0].bias.detach().clone()

    for k in ("new.output", "old.output", "old.train.output", "new.odd.output", "old.odd.output"):
        assert expected[k].std() > 0.05, f"{k} is nearly constant: dead ReLUs, choose another seed"

    index, blob, offset = {}, bytearray(), 0
    for k, v in expected.items():
        b = v.detach().contiguous().float().numpy().astype("<f4").tobytes()
        index[k] = {"shape": list(v.shape), "offset": offset}
        blob += b
        offset += v.numel()
    with open(os.path.join(HERE, "milesial.bin"), "wb") as f:
        f.write(blob)
    with open(os.path.join(HERE, "milesial.json"), "w") as f:
        json.dump({"torch": torch.__version__, "tensors": index}, f, indent=1)
    for name, bil, classes in [("transposed", False, 2), ("bilinear", True, 1)]:
        full = UNet(3, classes, bilinear=bil)
        print("parameters of UNet(3, %d, bilinear=%s): %d" % (classes, bil, sum(p.numel() for p in full.parameters())))
    print("new", tuple(expected["new.output"].shape), "old", tuple(expected["old.output"].shape))


if __name__ == "__main__":
    main()
