"""Utilities: parameter lists, finite-difference checks, plotting (matplotlib imported lazily)."""
from .parameter_list import *  # noqa: F401,F403
from .plotting import *  # noqa: F401,F403
from . import parameter_list as _parameter_list
from . import plotting as _plotting

__all__ = []
__all__ += _parameter_list.__all__
__all__ += _plotting.__all__
