"""The compiled engine: the reference step (:mod:`.step`) as one Numba call per epoch, the same bytes.

Exact arithmetic makes every element the correctly rounded value of its mathematics, so code computed in any
order, with any instructions, gives the reference step's bytes as long as it decides each element the same
way: a float64 value and a rigorous bound, the element settled where both ends of its interval round to the
same float32, and recomputed exactly where they do not.  :mod:`.kernels` holds those primitives and
:mod:`.kernel_step` the epoch.  Native arithmetic runs the same epoch with its products summed in float32
(its bytes are the machine's either way: neither step promises them).  This module decides which stacks the
kernel can train (:func:`supports`: either arithmetic, float32 parameters, the built-in rules, penalties of
p ∈ {2, 1.5, 1, ½}, any built-in activation, cost and dropout),
lays their parameters and rules' state out for it (:class:`CompiledSteps`, a :class:`.step.Steps` whose
epochs are compiled) and finishes the rare activations the kernel hands back (:func:`.exact`'s Decimal code).

Numba is optional: :func:`available` says whether it imports; without it, and for what :func:`supports` does
not cover, the reference step runs (slower; in exact arithmetic, the same bytes).  Compiled code is cached
beside this module (or under ``NUMBA_CACHE_DIR``; :mod:`.jit`), so a job loads it instead of compiling it.
"""

from __future__ import annotations

import logging

import numpy as np

from . import exact, exact_functions
from .jit import available, kernel
from .optimizers import SGD, Adam, Momentum, Nesterov, rule_class
from .step import Steps


log = logging.getLogger(__name__)


# -- the compiled epoch --------------------------------------------------------------------------------------

#: The activation codes of :mod:`.kernels` by name (linear is the identity).
ACTIVATIONS = {"sigmoid": 0, "tanh": 1, "relu": 2, "identity": 3, "linear": 3, "square": 4, "softmax": 5}
#: The built-in rules the kernel has, by class (a rule of one's own runs the reference step).
RULES = {SGD: 0, Momentum: 1, Nesterov: 2, Adam: 3}
#: Penalty codes by p (p > 1: the gradient; p ≤ 1: the shrinkage), 0 for none.
PENALTIES = {2.0: 1, 1.5: 2, 1.0: 3, 0.5: 4}
#: How the kernel sums a product, by arithmetic: in float32 (native), or exactly rounded once (exact).
ARITHMETICS = {"native": 0, "exact": 1}


def supports(nets, settings) -> str | None:
    """Why the compiled engine cannot train this stack (a few words), or None when it can."""
    net = nets[0]
    if net.arithmetic.name not in ARITHMETICS:
        return f"{net.arithmetic.name} arithmetic has no compiled step"
    if net.dtype != np.float32:
        return f"{np.dtype(net.dtype).name} parameters (compiled: float32)"
    if not available():
        return "Numba cannot be imported"
    if net.hidden.name not in ACTIVATIONS or net.output.name not in ACTIVATIONS:
        return "an activation of one's own"
    for st in settings:
        rule = rule_class(st.rule["name"])
        if rule not in RULES:
            return f"the update rule {rule.name!r} is not built in"
    for st in settings:
        pen = st.penalty
        if pen.active and float(pen.p) not in PENALTIES:
            return f"an L{pen.p:g} penalty (compiled: p = 2, 1.5, 1, 1/2)"
    return None


def hyper(rule, penalty, dropout: float) -> list[float]:
    """A run's constants for the kernel, in :mod:`.kernel_step`'s column order."""
    mu = float(getattr(rule, "momentum", 0.0) or 0.0)
    b1, b2 = float(getattr(rule, "beta1", 0.0)), float(getattr(rule, "beta2", 0.0))
    return [
        RULES[type(rule)],
        float(rule.eta),
        mu,
        b1,
        1.0 - b1,
        b2,
        1.0 - b2,
        float(getattr(rule, "epsilon", 0.0)),
        b1,
        b2,
        float(getattr(rule, "weight_decay", 0.0) or 0.0),
        PENALTIES.get(float(penalty.p), 0) if penalty.active else 0,
        float(penalty.lam),
        float(penalty.p),
        float(dropout),
        1.0 / (1.0 - dropout),
    ]


class CompiledSteps(Steps):
    """:class:`.step.Steps` whose epochs run in the compiled kernel; the rules' state lives in stacked arrays
    the kernel updates (each rule's named arrays are views of them, so checkpoints see them)."""

    def __init__(self, nets, settings, rngs, x, targets, track_gradients=False):
        super().__init__(nets, settings, rngs, x, targets, track_gradients)
        S, NP, K = self.S, self.P.shape[1], self.K
        net = nets[0]
        self.R1, self.R2 = np.zeros((S, NP), net.dtype), np.zeros((S, NP), net.dtype)
        self.bpow = np.ones((S, 2))
        for s, rule in enumerate(self.rules):
            self._adopt_state(s, rule)
        self.hyper = np.array(
            [hyper(r, st.penalty, st.dropout) for r, st in zip(self.rules, settings)], dtype=np.float64
        )
        sizes = net.sizes
        blocks = np.cumsum([0] + [K * n for n in sizes[1:]])
        codes = [ACTIVATIONS[net.hidden.name]] * (len(sizes) - 2) + [ACTIVATIONS[net.output.name]]
        self.lay = np.array(
            [
                (n_in, n_out, w.start, b.start, code, off)
                for (n_out, n_in), w, b, code, off in zip(net._shapes(), net._w_slices, net._b_slices, codes, blocks)
            ],
            dtype=np.int64,
        )
        widest = max(sizes)
        total, K_widest = int(blocks[-1]), K * widest
        f32 = np.float32
        #: float32 buffers in kernel_step's order: XB, YB, Z, A, AM, MK, D1, D2, T, H1, H2
        self.b32 = tuple(
            np.zeros(n, f32)
            for n in (K * sizes[0], K * sizes[-1], total, total, total, total, K_widest, K_widest, self.nw, widest,
                      widest)
        )  # fmt: skip
        #: float64 buffers in kernel_step's order: MAG, ACC1, ACC2, V, TERMS, PARTIALS, BF, MF
        n_max = max(widest, K)
        self.b64 = (
            np.zeros(K_widest), np.zeros(widest), np.zeros(widest), np.zeros(K_widest), np.zeros(n_max + 1),
            np.zeros(64), np.array([exact.bound_factor(n) for n in range(n_max + 1)]),
            np.array([exact.magnitude_factor(n) for n in range(n_max + 1)]),
        )  # fmt: skip
        self.counts = np.zeros(S, np.int64)
        self.pend = np.empty(K_widest, np.int64)
        quadratic = net.cost.name == "quadratic"
        self.cfg = np.array([quadratic, ACTIVATIONS[net.hidden.name], K, self.nw, ARITHMETICS[net.arithmetic.name]],
                            dtype=np.int64)  # fmt: skip
        self.H = sum(sizes[1:-1])
        self.n_steps = -(-self.m // K)
        self.GB = np.empty((S, self.n_steps if track_gradients else 0, NP - self.nw), f32)

    def _adopt_state(self, s: int, rule) -> None:
        """Make ``rule``'s state arrays views of row ``s`` of the stacked ones (their values carried over)."""
        names = {"velocity": self.R1, "m": self.R1, "v": self.R2}
        for name, stacked in names.items():
            if name in rule.state_names:
                stacked[s] = getattr(rule, name)
                setattr(rule, name, stacked[s])
        for i, name in enumerate(("beta1_power", "beta2_power")):
            if name in rule.state_names:
                self.bpow[s, i] = getattr(rule, name)
                setattr(rule, name, self.bpow[s, i : i + 1].reshape(()))

    def epoch(self, epoch: int, alive: np.ndarray) -> list | None:
        run = kernel().epoch
        for rule in self.rules:
            rule.start_epoch(epoch)
        self.hyper[:, 1] = [float(rule.eta) for rule in self.rules]
        m = self.m
        perm = np.stack([rng.permutation(m) for rng in self.rngs])
        drops = [s for s, st in enumerate(self.dropouts) if st is not None]
        U = np.zeros((self.S, m * self.H if drops else 0), np.float32)
        for s in drops:  # each step's masks, layer by layer, drawn at once: the same stream as step by step
            self.rngs[s].random(out=U[s], dtype=np.float32)
        state = np.array([0, 0, -1, 0], dtype=np.int64)
        alive = np.asarray(alive, np.bool_)
        args = (self.x, self.targets, perm, self.P, self.G, self.lay, self.cfg, self.b32, self.b64, U, self.hyper,
                self.R1, self.R2, self.bpow, alive, self.counts, self.track, self.GB, state, self.pend)  # fmt: skip
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            while run(*args):
                self._finish(state)
        counter = self.arithmetic.counter
        for s in range(self.S):
            counter.per_run[s] += int(self.counts[s])
        self.counts[:] = 0
        if not self.track:
            return None
        sq = np.stack([self.arithmetic.sum_of_squares(self.GB[s], self.offsets) for s in range(self.S)])
        norms = np.sqrt(sq)
        return [[self.arithmetic.mean(col) for col in norms[s].T] for s in range(self.S)]

    def _finish(self, state) -> None:
        """The activations the kernel could not round with certainty, recomputed exactly (:mod:`.exact`)."""
        s, ell, n = int(state[0]), int(state[2]), int(state[3])
        _, n_out, _, _, code, zo = (int(v) for v in self.lay[ell])
        Z, A = self.b32[2], self.b32[3]
        for q in self.pend[:n].tolist():
            if code == ACTIVATIONS["softmax"]:
                i, j = divmod(q, n_out)
                A[zo + q] = exact_functions.softmax_exact(Z[zo + i * n_out : zo + (i + 1) * n_out], j)
            elif code == ACTIVATIONS["sigmoid"]:
                A[zo + q] = exact_functions.sigmoid_exact(float(Z[zo + q]))
            else:
                A[zo + q] = exact_functions.tanh_exact(float(Z[zo + q]))
        self.counts[s] += n


def make_steps(nets, settings, rngs, x, targets, track_gradients=False, engine: str | None = None) -> Steps:
    """The steps of a stack: compiled where :func:`supports` says it can (and ``engine`` is not
    ``reference``), else the reference step."""
    why = "engine: reference" if engine == "reference" else supports(nets, settings)
    if why is None:
        log.info("engine: the compiled step")
        return CompiledSteps(nets, settings, rngs, x, targets, track_gradients)
    if why == "engine: reference":
        log.info("engine: the reference step (engine: reference)")
    else:
        agree = nets[0].arithmetic.engines_agree
        (log.warning if why.startswith("Numba") else log.info)(f"engine: the reference step ({why}; {agree})")
    return Steps(nets, settings, rngs, x, targets, track_gradients)
