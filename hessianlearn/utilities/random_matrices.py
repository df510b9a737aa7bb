"""Random test matrices ``Omega`` (shape ``(n, m)``) of the randomized eigensolvers.

Two kinds, both with independent entries of mean 0 and variance 1:

* ``'gaussian'``: standard normal entries (the original LRSFN code's choice);
* ``'rademacher'``: entries ``+-1`` with probability 1/2 each, from random
  bits. Drawing them costs one random bit per entry instead of a normal
  variate (about two orders of magnitude less work), and the packed
  bits are 32 times fewer bytes to feed than a float32 matrix, which the
  fused LRSFN step unpacks in the graph.

Bit layout (shared by :func:`rademacher_from_bits` and the fused step's
graph): ``bits`` is a uint8 array of ``ceil(n m / 8)`` bytes; bit ``j`` (least
significant first) of byte ``b`` gives entry ``8 b + j`` of ``Omega`` in
column-major order (row-major ``Omega^T``, the layout of the fast Hessian
block products): ``+1`` if set, else ``-1``.
"""
import numpy as np

__all__ = ["TEST_MATRICES", "draw_test_matrix", "rademacher_bits", "rademacher_from_bits"]

#: Accepted values of the ``test_matrix`` arguments and parameters.
TEST_MATRICES = ("gaussian", "rademacher")


def check_test_matrix(kind, argument="test_matrix"):
    """``kind`` if it is one of :data:`TEST_MATRICES`, else ``ValueError``."""
    if not isinstance(kind, str) or kind not in TEST_MATRICES:
        raise ValueError(f"'{argument}' must be one of {list(TEST_MATRICES)}, got {kind!r}.")
    return kind


def rademacher_bits(rng, n, m):
    """``ceil(n m / 8)`` random bytes from generator ``rng`` (uint8), the packed Rademacher matrix."""
    return rng.integers(0, 256, size=-(-n * m // 8), dtype=np.uint8)


def rademacher_from_bits(bits, n, m, dtype=np.float64):
    """The ``(n, m)`` matrix of ``+-1`` encoded by ``bits`` (layout in the module docstring)."""
    signs = np.unpackbits(np.asarray(bits, dtype=np.uint8), count=n * m, bitorder="little")
    signs = np.ascontiguousarray(signs.reshape(m, n).T)  # column-major bits, a C-ordered matrix
    return 2 * signs.astype(dtype) - 1


def draw_test_matrix(rng, n, m, kind="gaussian", dtype=np.float64):
    """An ``(n, m)`` test matrix of ``kind`` ('gaussian' or 'rademacher') drawn from ``rng``.

    The generator advances; the same generator state gives the same matrix.
    """
    kind = check_test_matrix(kind)
    if kind == "gaussian":
        return rng.standard_normal((n, m), dtype=dtype)
    return rademacher_from_bits(rademacher_bits(rng, n, m), n, m, dtype)
