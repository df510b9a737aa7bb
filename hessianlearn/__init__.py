"""hessianlearn: Hessian-based stochastic optimization in TensorFlow (graph mode) and tf-keras.

Importing the package puts TensorFlow in graph mode and makes ``tf.keras``
resolve to tf-keras (see :mod:`hessianlearn._tf`). ``from hessianlearn import *``
gives every public name of the subpackages.
"""
from ._tf import tf, keras  # noqa: F401  (first: graph mode and tf-keras before anything else)

from . import problem, algorithms, data, model, utilities, lab  # noqa: E402
from .problem import *  # noqa: F401,F403,E402
from .algorithms import *  # noqa: F401,F403,E402
from .data import *  # noqa: F401,F403,E402
from .model import *  # noqa: F401,F403,E402
from .utilities import *  # noqa: F401,F403,E402
from .lab import *  # noqa: F401,F403,E402

__version__ = "0.1.0"

__all__ = ["tf", "keras"] + [
    name
    for package in (problem, algorithms, data, model, utilities, lab)
    for name in getattr(package, "__all__", [])
]
