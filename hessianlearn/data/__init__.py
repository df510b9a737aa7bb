"""Data: seeded iterators of feed dictionaries and offline dataset loaders."""
from .data import *  # noqa: F401,F403
from .mnist import *  # noqa: F401,F403
from .fashion_mnist import *  # noqa: F401,F403
from .cifar import *  # noqa: F401,F403
from . import data as _data
from . import mnist as _mnist
from . import fashion_mnist as _fashion_mnist
from . import cifar as _cifar

__all__ = []
__all__ += _data.__all__
__all__ += _mnist.__all__
from .batch_iterators import *  # noqa: F401,F403,E402
from . import batch_iterators as _batch_iterators  # noqa: E402
__all__ += _batch_iterators.__all__
__all__ += _fashion_mnist.__all__
__all__ += _cifar.__all__
