"""Preconditioners of the Newton-Krylov systems: the :class:`Preconditioner` interface and
the identity."""
from abc import ABC

from .._tf import tf

__all__ = ["Preconditioner", "IdentityPreconditioner"]


class Preconditioner(ABC):
    """Base of preconditioners :math:`M \\approx H^{-1}` of a problem's Hessian systems.

    A subclass's ``__call__()`` returns the tensor of :math:`M x` for the vector
    fed to its placeholder ``x`` (shape ``(dimension,)``, in the problem's graph).
    """


class IdentityPreconditioner(Preconditioner):
    """:math:`M = I`: ``__call__()`` returns the placeholder ``x`` itself.

    Parameters
    ----------
    problem : Problem
        The placeholder ``x`` of shape ``(dimension,)`` is built in its graph.
    dtype : tf.DType, optional
        Defaults to the problem's dtype; if given it must be that dtype.

    Examples
    --------
    >>> M = IdentityPreconditioner(problem)                 # doctest: +SKIP
    >>> sess.run(M(), {M.x: v})                             # doctest: +SKIP  (== v)
    """

    def __init__(self, problem, dtype=None):
        if dtype is not None and tf.as_dtype(dtype) != problem.dtype:
            raise ValueError(f"dtype {tf.as_dtype(dtype).name} differs from the problem's dtype "
                             f"{problem.dtype.name}; leave dtype out (the problem's is used).")
        with problem._graph.as_default():
            self.x = tf.placeholder(problem.dtype, (problem.dimension,), name="vec_for_prec_apply")

    def __call__(self):
        return self.x
