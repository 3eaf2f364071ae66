"""The forward pass and backpropagation, written once: training, monitoring and evaluation all use them.

For layers ``(W_ℓ, b_ℓ)``, ℓ = 1 … L, and a batch of inputs ``x`` (rows are samples)::

    z_ℓ = a_{ℓ−1} W_ℓᵀ + b_ℓ,   a_ℓ = σ(z_ℓ)   (a_0 = x; the output layer's own σ at ℓ = L)
    δ_L = ∂C/∂z_L                                (the cost's, :meth:`.costs.Cost.delta`)
    ∂C/∂W_ℓ = δ_ℓᵀ a_{ℓ−1},  ∂C/∂b_ℓ = Σ_rows δ_ℓ,  δ_{ℓ−1} = (δ_ℓ W_ℓ) ⊙ σ'(z_{ℓ−1})

With dropout, a hidden layer's activation is multiplied by its mask before the next layer reads it, and δ by
the same mask on the way back.  Every product goes through the arithmetic object (:mod:`.arith`), so the
same lines compute natively or exactly.  Arrays may carry a leading axis of runs (a stack: ``(S, k, n)``
against ``(S, n_out, n_in)``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Pass:
    """What a forward pass leaves for backpropagation and evaluation."""

    inputs: list  # what each layer reads: x, then each hidden layer's activation (after dropout)
    hidden: list  # what σ' is computed from, per hidden layer: a = σ(z), or z where σ' needs it
    z: np.ndarray  # z_L
    a: np.ndarray  # a_L = Φ(x)


def forward(net, layers, x, arithmetic, masks=None, nonnegative_input: bool = False) -> Pass:
    """The forward pass of ``x`` through ``layers`` (``[(W_ℓ, b_ℓ)]``) of a network shaped like ``net``."""
    inputs, hidden = [x], []
    last = len(layers) - 1
    for ell, (w, b) in enumerate(layers):
        nonnegative = nonnegative_input if ell == 0 else net.hidden.nonnegative
        z = arithmetic.affine(inputs[-1], w, b, nonnegative)
        if ell == last:
            return Pass(inputs, hidden, z, arithmetic.activate(net.output, z.copy()))
        if net.hidden.needs_z:
            hidden.append(z.copy())
        a = arithmetic.activate(net.hidden, z)
        if not net.hidden.needs_z:
            hidden.append(a)
        inputs.append(a if masks is None else a * masks[ell])
    raise ValueError("a network has at least one layer")


def backprop(net, layers, p: Pass, y, arithmetic, grads, scale=None, masks=None, nonnegative_input=False) -> None:
    """Write ``scale`` · Σ_x ∇C_x (the sum when ``scale`` is None) into ``grads``, one ``(gW_ℓ, gb_ℓ)`` per
    layer, from the forward pass ``p`` of the same batch and its targets ``y``."""
    d = net.cost.delta(p.a, y, net.output)
    if scale is not None:
        d *= scale
    for ell in range(len(layers) - 1, -1, -1):
        nonnegative = nonnegative_input if ell == 0 else net.hidden.nonnegative
        gw, gb, back = arithmetic.gradients(d, p.inputs[ell], layers[ell][0], nonnegative, back=ell > 0)
        grads[ell][0][...] = gw
        grads[ell][1][...] = gb
        if ell:
            d = back
            if not net.hidden.unit_derivative:
                d *= net.hidden.derivative(p.hidden[ell - 1])
            if masks is not None:
                d *= masks[ell - 1]
