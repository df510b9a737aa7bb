"""Data: seeded iterators of feed dictionaries and offline dataset loaders."""
from .data import *  # noqa: F401,F403
from .mnist import *  # noqa: F401,F403
from . import data as _data
from . import mnist as _mnist

__all__ = []
__all__ += _data.__all__
__all__ += _mnist.__all__
from .batch_iterators import *  # noqa: F401,F403,E402
from . import batch_iterators as _batch_iterators  # noqa: E402
__all__ += _batch_iterators.__all__
