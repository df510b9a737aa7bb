"""Graphs: losses, gradients, Hessian actions, regularization, and the numpy-facing operators."""
from .problem import *  # noqa: F401,F403
from .regression_problem import *  # noqa: F401,F403
from .autoencoder_problem import *  # noqa: F401,F403
from .classification_problem import *  # noqa: F401,F403
from .regularization import *  # noqa: F401,F403
from .curvature_operator import *  # noqa: F401,F403
from .hessian import *  # noqa: F401,F403

from . import (problem, regression_problem, autoencoder_problem, classification_problem,
               regularization, curvature_operator, hessian)

__all__ = [name for module in (problem, regression_problem, autoencoder_problem,
                               classification_problem, regularization, curvature_operator, hessian)
           for name in module.__all__]
