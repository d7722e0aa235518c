#!/usr/bin/env python3
"""Writes the .pt files that CropCat's restricted unpickler must refuse (Tests/InteropRefusalTests.fs),
with Debian's python3-torch and Python's own pickle (run by hand, committed with its output):

  LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp /usr/bin/python3 Tests/golden/make_refused.py

  refused_stack_global.pt  torch.save(..., pickle_protocol=4) of a state dict holding a datetime.date:
                           protocol 4 names classes with STACK_GLOBAL ('datetime', 'date').
  refused_reduce_system.pt a state dict with an object whose __reduce__ is (os.system, ('touch MARKER',)):
                           GLOBAL posix.system + REDUCE, what a malicious checkpoint carries. Python's
                           torch.load would run the command; CropCat must refuse it and run nothing.
  refused_reduce_eval.pt   the same with builtins.eval at protocol 4 (STACK_GLOBAL + REDUCE).
  refused_full_model.pt    torch.save(model): the whole module pickled, not its state dict.
  refused_legacy.pt        torch.save(state_dict, _use_new_zipfile_serialization=False): the pre-1.6
                           format (magic number + pickles, no zip).
"""
import datetime
import os
from collections import OrderedDict

import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
# The command the malicious files would run; the test checks this file never appears.
MARKER = "/tmp/cropcat-pickle-was-executed"


class RunsSystem:
    def __reduce__(self):
        return (os.system, ("touch " + MARKER,))


class RunsEval:
    def __reduce__(self):
        return (eval, ("open(%r, 'w').close()" % MARKER,))


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.head = nn.Conv2d(1, 2, 1)

    def forward(self, x):
        return self.head(x)


def main():
    torch.manual_seed(3)
    w = torch.zeros(2)

    def path(name):
        return os.path.join(HERE, name)

    torch.save(OrderedDict([("head.weight", w), ("saved", datetime.date(2020, 1, 2))]),
               path("refused_stack_global.pt"), pickle_protocol=4)
    torch.save(OrderedDict([("head.weight", w), ("payload", RunsSystem())]), path("refused_reduce_system.pt"))
    torch.save(OrderedDict([("head.weight", w), ("payload", RunsEval())]),
               path("refused_reduce_eval.pt"), pickle_protocol=4)
    torch.save(Tiny(), path("refused_full_model.pt"))
    torch.save(Tiny().state_dict(), path("refused_legacy.pt"), _use_new_zipfile_serialization=False)
    print("written; marker", MARKER, "exists:", os.path.exists(MARKER))


if __name__ == "__main__":
    main()
