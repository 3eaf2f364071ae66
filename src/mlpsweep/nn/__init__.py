"""The NumPy training core: the lecture's network, backprop and mini-batch SGD.

Split as in numpy-ml: :mod:`.activations` (σ and derivatives), :mod:`.costs`
(C_x and δ_L), :mod:`.penalties` (Lp weight penalties), :mod:`.network` (Φ,
parameters, matrix-form backprop), :mod:`.optimizers` (update rules, which own η,
and dropout), :mod:`.step` (the steps of a stack of runs: gradient, penalty,
rule), :mod:`.sgd` (mini-batch SGD for one run or a stack of runs),
:mod:`.settings`, :mod:`.history` and :mod:`.monitoring` (a run's settings, its
per-epoch record and what is evaluated after each epoch), :mod:`.checkpoint` and
:mod:`.io` (``.npz`` + JSON persistence, no pickle).

The arithmetic is an object (:mod:`.arith`: native or exact, with
:mod:`.exact` and :mod:`.exact_functions` for correctly rounded values), and the
step is written twice: once to be read (:mod:`.passes`, :mod:`.step`) and once
compiled (:mod:`.compiled`, :mod:`.kernel_step`, :mod:`.kernel_rules`,
:mod:`.kernels`, :mod:`.jit`), byte-equal in exact arithmetic.
"""

from .io import ModelFileError, load_network, save_network
from .network import Network, one_hot
from .penalties import LpPenalty, sparsity
from .history import Diverged, History
from .settings import Settings
from .sgd import TrainingState, train, train_stack

__all__ = [
    "Diverged",
    "History",
    "LpPenalty",
    "ModelFileError",
    "Network",
    "Settings",
    "TrainingState",
    "load_network",
    "one_hot",
    "save_network",
    "sparsity",
    "train",
    "train_stack",
]
