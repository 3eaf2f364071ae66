"""The NumPy training core: the lecture's network, backprop and mini-batch SGD.

Split as in numpy-ml: :mod:`.activations` (σ and derivatives), :mod:`.costs`
(C_x and δ_L), :mod:`.penalties` (Lp weight penalties), :mod:`.network` (Φ,
parameters, matrix-form backprop), :mod:`.sgd` (mini-batch SGD for one run or a stack of runs, and its history), :mod:`.optimizers` (update rules and dropout) and :mod:`.io` (``.npz`` + JSON persistence, no pickle).
"""

from .io import ModelFileError, load_network, save_network
from .network import Network, Workspace, one_hot
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
    "Workspace",
    "load_network",
    "one_hot",
    "save_network",
    "sparsity",
    "train",
    "train_stack",
]
