"""Data: seeded iterators of feed dictionaries and offline dataset loaders."""
from .data import *  # noqa: F401,F403
from .mnist import *  # noqa: F401,F403
from . import data as _data
from . import mnist as _mnist

__all__ = []
__all__ += _data.__all__
__all__ += _mnist.__all__
