"""Randomized eigendecomposition grown until eigenvalues drown in sampling noise.

A subsampled Hessian :math:`A = \\frac1J\\sum_j A_j` is only known up to the
variation between data partitions :math:`A_1, \\dots, A_J`.  Its small
eigenvalues are not worth resolving once that variation dominates them.
:func:`variance_based_nystrom` grows a randomized eigendecomposition block
by block and, after each block, measures for every Ritz pair
:math:`(\\lambda_i, u_i)` the spread of its Rayleigh quotients over the
partitions,

.. math::

    \\rho_{ji} = u_i^T A_j u_i, \\qquad
    s_i = \\operatorname{std}_j \\rho_{ji} \\ (\\text{ddof}=1).

A pair is *bad* when :math:`s_i > \\text{std\\_tolerance} \\cdot
|\\lambda_i|`.  Growth stops once ``max_bad_vectors`` pairs are bad (or at
``max_vectors``, or when the range is exhausted); the trusted (not bad)
pairs are returned.

Design choice: the decomposition is the Rayleigh-Ritz projection
:math:`Q^T A Q` on the grown range (as in
:func:`~hessianlearn.algorithms.randomized_eigensolver.randomized_eigensolver`),
not the PSD-only Nyström formula :math:`(AQ)(Q^TAQ)^{-1}(AQ)^T`, so that
indefinite Hessians keep their negative eigenvalues.

Costs per block of :math:`b` new directions: :math:`2b` columns of
:math:`A` (range and projection) and :math:`b` columns of every
:math:`A_j`; the partition projections :math:`Q^T A_j Q` are grown
incrementally, never recomputed.
"""
import numpy as np

from .operators import (
    _check_int,
    _check_positive_float,
    _operator_and_dimension,
    as_generator,
)
from .range_finders import (
    _check_max_vectors,
    _orthonormal_block,
    _partition_operators,
    _project_out,
)

__all__ = ["variance_based_nystrom"]


def _grow_symmetric(T, Q_old, new, A_new):
    """Extend :math:`T = Q^TAQ` by the columns ``new`` given ``A_new = A new``."""
    cross = Q_old.T @ A_new
    corner = new.T @ A_new
    corner = 0.5 * (corner + corner.T)
    top = np.hstack([T, cross])
    bottom = np.hstack([cross.T, corner])
    return np.vstack([top, bottom])


def variance_based_nystrom(Aop, partition_ops, n, block_size=10, std_tolerance=0.5,
                           max_vectors=None, max_bad_vectors=1, seed=0,
                           return_info=False):
    """Eigenpairs of symmetric ``Aop`` that stand above the partition noise.

    Parameters
    ----------
    Aop : ndarray, LinearOperator or operator
        Symmetric operator of shape ``(n, n)`` (e.g. the Hessian on a
        batch); any form accepted by
        :func:`~hessianlearn.algorithms.operators.as_operator`.
    partition_ops : sequence of operators
        At least two symmetric operators of shape ``(n, n)``: the Hessian on
        disjoint parts of that batch.
    n : int
        Dimension.
    block_size : int
        Gaussian probes per block.
    std_tolerance : float
        A pair is bad when its Rayleigh-quotient standard deviation over
        the partitions exceeds ``std_tolerance * |lambda|``.
    max_vectors : int, optional
        Maximum size of the basis; default ``n``.
    max_bad_vectors : int
        Stop once this many current Ritz pairs are bad.
    seed : int, numpy.random.Generator or None
        Seed of the probes; a ``Generator`` is used and advanced.
    return_info : bool
        Also return a dict of diagnostics.

    Returns
    -------
    eigenvalues : ndarray, shape (m,)
        Trusted eigenvalues, sorted by :math:`|\\lambda|` descending.
    eigenvectors : ndarray, shape (n, m)
        Orthonormal columns, matching ``eigenvalues``.
    info : dict, only if ``return_info``
        ``'reason'`` (``'bad_vectors'``, ``'max_vectors'``, ``'exhausted'``),
        ``'basis_size'``, ``'bad_vectors'`` (count at the end),
        ``'relative_std'`` (:math:`s_i/|\\lambda_i|` of the trusted pairs),
        ``'operator_columns'`` and ``'partition_columns'``.

    Raises
    ------
    ValueError
        If fewer than two partitions are given, shapes differ, or an integer
        argument is out of range.

    Notes
    -----
    The trailing Ritz pairs of a basis of size :math:`m` are less accurate
    than the leading ones (as in any randomized eigensolver without
    oversampling); if the partitions agree closely, all :math:`m` pairs may
    be returned, and callers wanting high accuracy keep only the leading
    ones.
    """
    op, n = _operator_and_dimension(Aop, n, "Aop")
    partitions = _partition_operators(partition_ops, n,
                                      "the spread of Rayleigh quotients")
    block_size = _check_int(block_size, "block_size")
    std_tolerance = _check_positive_float(std_tolerance, "std_tolerance")
    max_vectors = _check_max_vectors(max_vectors, n)
    max_bad_vectors = _check_int(max_bad_vectors, "max_bad_vectors")
    rng = as_generator(seed)

    Q = np.zeros((n, 0))
    T = np.zeros((0, 0))
    T_parts = [np.zeros((0, 0)) for _ in partitions]
    columns = 0
    partition_columns = 0
    scale = 0.0
    reason = "max_vectors"
    values = np.zeros(0)
    vectors = np.zeros((0, 0))
    bad = np.zeros(0, dtype=bool)
    relative_std = np.zeros(0)
    while Q.shape[1] < max_vectors:
        width = min(block_size, max_vectors - Q.shape[1])
        omega = rng.standard_normal((n, width))
        Y = np.asarray(op.matmat(omega))
        columns += width
        scale = max(scale, float(np.max(np.linalg.norm(Y, axis=0))))
        new = _orthonormal_block(Q, _project_out(Q, Y), scale)
        if new.shape[1] == 0:
            reason = "exhausted"
            break
        A_new = np.asarray(op.matmat(new))
        columns += new.shape[1]
        T = _grow_symmetric(T, Q, new, A_new)
        for j, P in enumerate(partitions):
            T_parts[j] = _grow_symmetric(T_parts[j], Q, new,
                                         np.asarray(P.matmat(new)))
        partition_columns += len(partitions) * new.shape[1]
        Q = np.hstack([Q, new])

        values, vectors = np.linalg.eigh(T)
        order = np.argsort(-np.abs(values), kind="stable")
        values, vectors = values[order], vectors[:, order]
        quotients = np.array([np.einsum("ij,ij->j", vectors, Tj @ vectors)
                              for Tj in T_parts])
        spread = np.std(quotients, axis=0, ddof=1)
        bad = spread > std_tolerance * np.abs(values)
        with np.errstate(divide="ignore", invalid="ignore"):
            relative_std = np.where(spread > 0, spread / np.abs(values), 0.0)
        if np.count_nonzero(bad) >= max_bad_vectors:
            reason = "bad_vectors"
            break

    good = ~bad
    eigenvalues = values[good]
    eigenvectors = Q @ vectors[:, good] if Q.shape[1] else np.zeros((n, 0))
    if not return_info:
        return eigenvalues, eigenvectors
    return eigenvalues, eigenvectors, {
        "reason": reason, "basis_size": Q.shape[1],
        "bad_vectors": int(np.count_nonzero(bad)),
        "relative_std": relative_std[good],
        "operator_columns": columns, "partition_columns": partition_columns,
    }
