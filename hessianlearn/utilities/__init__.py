"""Utilities: parameter lists (and, later, finite-difference checks, plotting)."""
from .parameter_list import *  # noqa: F401,F403
from . import parameter_list as _parameter_list

__all__ = []
__all__ += _parameter_list.__all__
