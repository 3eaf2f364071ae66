"""An update rule of one's own, outside the mlpsweep package: RMSProp (Tieleman & Hinton 2012, lecture 6e).

It is the whole of a new rule (tests/test_optimizers.py trains it stacked and alone, and through the train
command): this module and ``optimizer: {name: rmsprop, rho: …}`` in a topology's settings, with this folder
on the Python path.  ``s ← ρ s + (1 − ρ) g²``, ``θ ← θ − η g / (√s + ε)``.
"""

import numpy as np

from mlpsweep.nn.optimizers import UpdateRule


class RMSProp(UpdateRule):
    name = "rmsprop"
    options = {
        "rho": {"type": "number", "minimum": 0, "exclusiveMaximum": 1, "default": 0.9},
        "epsilon": {"type": "number", "exclusiveMinimum": 0, "default": 1e-8},
    }
    state_names = ("square",)
    buffers = 2

    def __init__(self, **kw):
        super().__init__(**kw)
        self.square, self.scratch = self.zeros(), self.zeros()
        self.r, self.one_r, self.eps = self.scalar(self.rho), self.scalar(1 - self.rho), self.scalar(self.epsilon)

    def step(self, params, grad):
        s = self.square
        np.multiply(s, self.r, out=s)
        np.multiply(grad, grad, out=self.scratch)
        np.multiply(self.scratch, self.one_r, out=self.scratch)
        np.add(s, self.scratch, out=s)
        np.sqrt(s, out=self.scratch)
        np.add(self.scratch, self.eps, out=self.scratch)
        np.divide(grad, self.scratch, out=grad)
        np.multiply(grad, self.eta, out=grad)
        np.subtract(params, grad, out=params)


RULE = RMSProp
