"""The lecture's algorithm, one sample at a time, written for clarity only.

Column vectors as on the lecture's slides: for one input x (shape (d, 1)),
z_ℓ = W_ℓ a_{ℓ−1} + b_ℓ, a_ℓ = σ(z_ℓ); backprop runs the four equations

    δ_L = ∇_a C ⊙ g'(z_L),   δ_ℓ = (W_{ℓ+1}ᵀ δ_{ℓ+1}) ⊙ σ'(z_ℓ),
    ∂C/∂b_ℓ = δ_ℓ,            ∂C/∂W_ℓ = δ_ℓ a_{ℓ−1}ᵀ,

and mini-batch SGD loops over the samples of each batch, summing their
gradients.  The tests compare the matrix-form implementation with this one,
and the training benchmark uses it as the per-sample baseline.  It covers
the lecture's own setting: sigmoid / relu / tanh / identity hidden layers,
linear or sigmoid output, quadratic cost.
"""

import numpy as np


def _sigma(name, z):
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "tanh":
        return np.tanh(z)
    return z.copy()


def _sigma_prime(name, z):
    if name == "sigmoid":
        s = 1.0 / (1.0 + np.exp(-z))
        return s * (1.0 - s)
    if name == "relu":
        return (z > 0).astype(z.dtype)
    if name == "tanh":
        return 1.0 - np.tanh(z) ** 2
    return np.ones_like(z)


class LectureNetwork:
    """Per-sample network with weights W_ℓ (N_ℓ, N_{ℓ−1}) and biases b_ℓ (N_ℓ, 1)."""

    def __init__(self, weights, biases, activation="sigmoid", output="sigmoid"):
        self.weights = [np.array(w, dtype=np.float64) for w in weights]
        self.biases = [np.array(b, dtype=np.float64).reshape(-1, 1) for b in biases]
        self.activation = activation
        self.output = "identity" if output == "linear" else output

    def backprop(self, x, y):
        """Gradients of C_x = ½‖a_L − y‖² for one sample (column vectors)."""
        a, activations, zs = x, [x], []
        last = len(self.weights) - 1
        for ell, (w, b) in enumerate(zip(self.weights, self.biases)):
            z = w @ a + b
            zs.append(z)
            a = _sigma(self.output if ell == last else self.activation, z)
            activations.append(a)
        gw = [None] * len(self.weights)
        gb = [None] * len(self.weights)
        delta = (activations[-1] - y) * _sigma_prime(self.output, zs[-1])
        gw[-1], gb[-1] = delta @ activations[-2].T, delta
        for ell in range(last - 1, -1, -1):
            delta = (self.weights[ell + 1].T @ delta) * _sigma_prime(self.activation, zs[ell])
            gw[ell], gb[ell] = delta @ activations[ell].T, delta
        return gw, gb

    def batch_gradient(self, xs, ys):
        """Σ over the batch of the per-sample gradients (rows of xs, ys)."""
        sw = [np.zeros_like(w) for w in self.weights]
        sb = [np.zeros_like(b) for b in self.biases]
        for x, y in zip(xs, ys):
            gw, gb = self.backprop(x.reshape(-1, 1), y.reshape(-1, 1))
            for s, g in zip(sw, gw):
                s += g
            for s, g in zip(sb, gb):
                s += g
        return sw, sb

    def sgd_epoch(self, xs, ys, order, batch_size, eta):
        """One epoch: batches of ``batch_size`` in the given sample ``order``."""
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            sw, sb = self.batch_gradient(xs[idx], ys[idx])
            k = len(idx)
            self.weights = [w - (eta / k) * g for w, g in zip(self.weights, sw)]
            self.biases = [b - (eta / k) * g for b, g in zip(self.biases, sb)]
