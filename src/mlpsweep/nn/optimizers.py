"""Update rules: what one run does with its mean gradient after every mini-batch.

Backpropagation gives the mean gradient of the batch, ``g = (1/|B|) Σ_{x∈B} ∇C_x`` (an Lp penalty of
p > 1 has added ``λ∇R(w)`` to its weights' part); the run's rule turns it into a step.  The rule owns the
learning rate η and its per-epoch decay, and whatever state it keeps, as named arrays a checkpoint saves
and restores without knowing the rule.  One object per run, as in scikit-learn's
``_stochastic_optimizers``; a stack of runs gives each its own rule on its own row of the stack's
parameter and gradient matrices, so a run's numbers are those it gets alone.

The built-in rules (``optimizer: {name: …}`` in a topology's settings):

* ``sgd`` — the lecture's ``θ ← θ − η g``;
* ``momentum`` — heavy ball: ``v ← μ v + η g``, ``θ ← θ − v`` (the ``momentum: μ`` setting is its shorthand);
* ``nesterov`` — Nesterov's accelerated gradient in Sutskever et al.'s form (2013):
  ``v ← μ v − η g``, ``θ ← θ + μ v − η g``;
* ``adam`` — Kingma & Ba (2015), bias-corrected: ``m ← β₁m + (1−β₁)g``, ``v ← β₂v + (1−β₂)g²``,
  ``θ ← θ − η m̂ / (√v̂ + ε)`` with ``m̂ = m/(1−β₁ᵗ)``, ``v̂ = v/(1−β₂ᵗ)``; ``weight_decay`` > 0 makes it
  AdamW (Loshchilov & Hutter, 2019): the weights first shrink by ``η·weight_decay·w``, decoupled from g.

A rule of one's own is a module that defines ``RULE``, a subclass of :class:`UpdateRule`, named in the
config as ``optimizer: {name: mypackage.myrule, …}`` (as a study kind can be); its ``options`` (a JSON
schema's properties, with defaults) are checked like every setting.  ``tests/rules/`` holds one (RMSProp).

A rule writes every number in the parameters' dtype: scalars are rounded to it once per epoch, so a step
is the same sequence of NumPy operations on the same bits wherever it runs.
"""

from __future__ import annotations

import numpy as np

from ..plugins import from_module


def eta_at(eta: float, decay: float, epoch: int) -> float:
    """η₀ · decay^(epoch − 1) for a 1-based epoch, as repeated float64 products (IEEE-754 rounds each the same
    everywhere; a library ``pow`` need not)."""
    for _ in range(epoch - 1):
        eta *= decay
    return eta


class UpdateRule:
    """One run's update rule.  Subclasses set :attr:`name`, :attr:`options`, :attr:`state_names` and write
    :meth:`step`; :attr:`eta` holds the epoch's learning rate as a 0-d array of the parameters' dtype.

    ``n_weights`` is how many leading entries of the flat parameter vector are weights (the rest are
    biases); ``options`` are the rule's own settings, checked and completed from :attr:`options`.
    """

    #: The name in ``optimizer: {name: …}``.
    name = ""
    #: The rule's own settings: JSON schema properties with their defaults.
    options: dict = {}
    #: The arrays a checkpoint must keep (each created in ``__init__`` as an attribute of that name).
    state_names: tuple = ()
    #: Parameter-sized arrays the rule allocates, state and scratch (the memory estimate counts them).
    buffers: int = 0

    def __init__(self, *, eta: float, eta_decay: float, n_params: int, n_weights: int, dtype, **options):
        self.eta0, self.decay = float(eta), float(eta_decay)
        self.n_params, self.n_weights, self.dtype = n_params, n_weights, np.dtype(dtype)
        self.eta = np.zeros((), dtype=self.dtype)
        for key, spec in self.options.items():
            setattr(self, key, options.get(key, spec.get("default")))
        self.start_epoch(1)

    def start_epoch(self, epoch: int) -> None:
        """Set η for a 1-based ``epoch``: η₀ · decay^(epoch − 1), rounded once to the parameters' dtype."""
        self.eta[...] = eta_at(self.eta0, self.decay, epoch)

    def step(self, params: np.ndarray, grad: np.ndarray) -> None:
        """Update ``params`` in place from the mean gradient ``grad`` (which the rule may overwrite)."""
        raise NotImplementedError

    def threshold(self, penalty, w: np.ndarray, arithmetic=None) -> np.ndarray:
        """An Lp penalty of p ≤ 1: each weight's shrinkage threshold ηλp|w|^{p−1}, from the weights before the
        step (:meth:`.penalties.LpPenalty.threshold`; η is the rule's)."""
        with np.errstate(divide="ignore"):  # |0|^{p−1} is inf for p < 1: the weight stays at zero, as meant
            return penalty.threshold(w, self.eta, np.empty_like(w), arithmetic)

    @property
    def state(self) -> dict[str, np.ndarray]:
        """The rule's state by name (what a checkpoint saves)."""
        return {name: getattr(self, name) for name in self.state_names}

    def load_state(self, saved: dict[str, np.ndarray]) -> None:
        """Restore :attr:`state` from a checkpoint (the same names and shapes)."""
        for name in self.state_names:
            getattr(self, name)[...] = saved[name]

    def zeros(self) -> np.ndarray:
        """A parameter-sized buffer of zeros in the parameters' dtype (for state)."""
        return np.zeros(self.n_params, dtype=self.dtype)

    def scalar(self, value: float) -> np.ndarray:
        """``value`` rounded once to the parameters' dtype (a 0-d array: NumPy then keeps that dtype)."""
        return np.array(value, dtype=self.dtype)


class SGD(UpdateRule):
    """The lecture's step: ``θ ← θ − η g``."""

    name = "sgd"

    def step(self, params, grad):
        np.multiply(grad, self.eta, out=grad)
        np.subtract(params, grad, out=params)


MU = {
    "type": "number",
    "minimum": 0,
    "exclusiveMaximum": 1,
    "default": 0.9,
    "description": "Momentum μ: the share of the last step the next one keeps.",
}


class Momentum(UpdateRule):
    """Heavy-ball momentum: ``v ← μ v + η g``, ``θ ← θ − v``."""

    name = "momentum"
    options = {"momentum": MU}
    state_names = ("velocity",)
    buffers = 1

    def __init__(self, **kw):
        super().__init__(**kw)
        self.mu, self.velocity = self.scalar(self.momentum), self.zeros()

    def step(self, params, grad):
        v = self.velocity
        np.multiply(v, self.mu, out=v)
        np.multiply(grad, self.eta, out=grad)
        np.add(v, grad, out=v)
        np.subtract(params, v, out=params)


class Nesterov(Momentum):
    """Nesterov's accelerated gradient (Sutskever et al. 2013): ``v ← μ v − η g``, ``θ ← θ + μ v − η g``; the
    same option and state as :class:`Momentum`."""

    name = "nesterov"

    def step(self, params, grad):
        v = self.velocity
        np.multiply(grad, self.eta, out=grad)  # η g
        np.multiply(v, self.mu, out=v)
        np.subtract(v, grad, out=v)  # v = μ v − η g
        np.subtract(params, grad, out=params)
        np.multiply(v, self.mu, out=grad)
        np.add(params, grad, out=params)  # θ + μ v − η g


class Adam(UpdateRule):
    """Adam, bias-corrected, with AdamW's decoupled weight decay on the weights when ``weight_decay`` > 0."""

    name = "adam"
    options = {
        "beta1": {
            "type": "number",
            "minimum": 0,
            "exclusiveMaximum": 1,
            "default": 0.9,
            "description": "Decay β₁ of the mean of the gradient.",
        },
        "beta2": {
            "type": "number",
            "minimum": 0,
            "exclusiveMaximum": 1,
            "default": 0.999,
            "description": "Decay β₂ of the mean of its square.",
        },
        "epsilon": {
            "type": "number",
            "exclusiveMinimum": 0,
            "default": 1e-8,
            "description": "ε added to √v̂ in the step's denominator.",
        },
        "weight_decay": {
            "type": "number",
            "minimum": 0,
            "default": 0.0,
            "description": "AdamW's decoupled decay of the weights (not the biases): w ← w − η·λ·w.",
        },
    }
    #: β₁ᵗ and β₂ᵗ are kept as products, one factor per step (float64: no ``pow`` whose rounding could differ)
    state_names = ("m", "v", "beta1_power", "beta2_power")
    buffers = 3  # m, v and a scratch vector

    def __init__(self, **kw):
        super().__init__(**kw)
        self.m, self.v = self.zeros(), self.zeros()
        self.beta1_power, self.beta2_power = np.ones((), dtype=np.float64), np.ones((), dtype=np.float64)
        self.b1, self.one_b1 = self.scalar(self.beta1), self.scalar(1.0 - self.beta1)
        self.b2, self.one_b2 = self.scalar(self.beta2), self.scalar(1.0 - self.beta2)
        self.eps = self.scalar(self.epsilon)
        self.scratch = self.zeros()

    def step(self, params, grad):
        self.beta1_power *= self.beta1
        self.beta2_power *= self.beta2
        m, v, w = self.m, self.v, params[: self.n_weights]
        if self.weight_decay:  # AdamW: shrink the weights first, apart from the gradient
            shrink = self.scratch[: self.n_weights]
            np.multiply(w, self.scalar(float(self.eta) * self.weight_decay), out=shrink)
            np.subtract(w, shrink, out=w)
        np.multiply(m, self.b1, out=m)
        np.multiply(grad, self.one_b1, out=self.scratch)
        np.add(m, self.scratch, out=m)  # m ← β₁m + (1−β₁)g
        np.multiply(v, self.b2, out=v)
        np.multiply(grad, grad, out=grad)
        np.multiply(grad, self.one_b2, out=grad)
        np.add(v, grad, out=v)  # v ← β₂v + (1−β₂)g²
        denominator = np.sqrt(v, out=grad)
        np.multiply(denominator, self.scalar(1.0 / np.sqrt(1.0 - float(self.beta2_power))), out=denominator)  # √v̂
        np.add(denominator, self.eps, out=denominator)
        step = np.divide(m, denominator, out=grad)
        np.multiply(step, self.scalar(float(self.eta) / (1.0 - float(self.beta1_power))), out=step)  # η m̂/(√v̂+ε)
        np.subtract(params, step, out=params)


#: The built-in rules by name.
RULES: dict[str, type[UpdateRule]] = {rule.name: rule for rule in (SGD, Momentum, Nesterov, Adam)}


class UnknownRule(ValueError):
    """An optimizer name that is neither built in nor an importable module with a ``RULE``."""


def rule_class(name: str) -> type[UpdateRule]:
    """The rule called ``name``: a built-in one, or the ``RULE`` of the module ``name``."""
    if name in RULES:
        return RULES[name]
    return from_module(
        name,
        "RULE",
        lambda r: isinstance(r, type) and issubclass(r, UpdateRule),
        what="optimizer",
        built_in=sorted(RULES),
        error=UnknownRule,
    )


def make_rule(optimizer: dict, *, eta: float, eta_decay: float, n_params: int, n_weights: int, dtype) -> UpdateRule:
    """The rule ``optimizer`` (``{"name": …, its options}``, checked) of one run."""
    options = {k: v for k, v in optimizer.items() if k != "name"}
    return rule_class(optimizer["name"])(
        eta=eta, eta_decay=eta_decay, n_params=n_params, n_weights=n_weights, dtype=dtype, **options
    )


class Dropout:
    """Inverted dropout of rate r: each hidden unit is kept with probability 1 − r and scaled by 1/(1 − r)."""

    def __init__(self, rate: float, widths, batch_size: int, dtype):
        self.rate = float(rate)
        self.scale = 1.0 / (1.0 - self.rate)
        self.keep = [np.empty((batch_size, n), dtype=bool) for n in widths]

    def draw(self, rng: np.random.Generator, masks) -> None:
        """Fill ``masks`` (one (k, N_ℓ) array per hidden layer) from ``rng``, layer by layer."""
        for u, keep in zip(masks, self.keep):
            kp = keep[: u.shape[0]]
            rng.random(out=u, dtype=u.dtype)
            np.greater_equal(u, self.rate, out=kp)
            np.multiply(kp, self.scale, out=u)
