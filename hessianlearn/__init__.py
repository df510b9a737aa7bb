"""hessianlearn: Hessian-based stochastic optimization in TensorFlow (graph mode) and tf-keras.

Importing the package puts TensorFlow in graph mode and makes ``tf.keras``
resolve to tf-keras (see :mod:`hessianlearn._tf`). ``from hessianlearn import *``
gives the public API, listed by section in :mod:`hessianlearn._public`; every
other name is reachable by its module path (``hessianlearn.utilities.mpi.is_root``).
"""
from ._tf import tf, keras  # noqa: F401  (first: graph mode and tf-keras before anything else)

from . import problem, algorithms, data, model, utilities, lab  # noqa: E402
from ._public import PUBLIC_NAMES as _PUBLIC_NAMES  # noqa: E402
from ._version import __version__  # noqa: E402,F401


def _export(names, packages):
    """``{name: object}`` for the public ``names``, each from the subpackage that exports it."""
    found = {"tf": tf, "keras": keras}
    for name in names:
        if name in found:
            continue
        owners = [package for package in packages if name in getattr(package, "__all__", ())]
        if len(owners) != 1:
            raise ImportError(f"public name {name!r} is exported by {len(owners)} subpackages "
                              "(hessianlearn/_public.py lists it; exactly one subpackage's __all__ must)")
        found[name] = getattr(owners[0], name)
    return found


globals().update(_export(_PUBLIC_NAMES, (problem, algorithms, data, model, utilities, lab)))

__all__ = list(_PUBLIC_NAMES)
