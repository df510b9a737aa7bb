"""Shared test matrices and operator forms of the numpy linear-algebra tests.

Imported by the tests as ``from linalg_cases import ...`` (pytest puts this folder
on ``sys.path``, as for ``cases.py``). Every matrix is explicit float64, so each
algorithm can be checked against ``numpy.linalg`` in every operator form it accepts.
"""
import numpy as np
from scipy.sparse.linalg import aslinearoperator

__all__ = ["DimensionOperator", "FORMS", "random_orthogonal", "symmetric_matrix"]


class DimensionOperator:
    """The shape of hessianlearn's HessianWrapper: ``dimension`` and ``__call__``."""

    def __init__(self, A):
        self.A = A
        self.dimension = A.shape[0]

    def __call__(self, x):
        return self.A @ x


#: The operator forms every solver and eigensolver must accept, as ``form(A)``.
FORMS = {
    "array": lambda A: A,
    "linear_operator": aslinearoperator,
    "dimension_call": DimensionOperator,
}


def random_orthogonal(n, seed=0):
    """Orthogonal ``U`` of shape (n, n): the Q factor of a standard normal ``n x n`` draw.

    ``seed`` is an int or a ``numpy.random.Generator`` (used and advanced, so
    further draws from it continue the same stream).
    """
    U, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((n, n)))
    return U


def symmetric_matrix(eigenvalues, seed=0):
    """Symmetric :math:`U \\operatorname{diag}(\\lambda) U^T` of shape (n, n), ``U = random_orthogonal(n, seed)``."""
    U = random_orthogonal(len(eigenvalues), seed)
    return (U * np.asarray(eigenvalues, dtype=float)) @ U.T
