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
import inspect
import numbers

import numpy as np
from scipy.sparse.linalg import LinearOperator

from .operators import (
    _check_int,
    _bind_form,
    _check_positive_float,
    _operator_and_dimension,
    as_generator,
    as_operator,
)
from .range_finders import (
    _check_max_vectors,
    _orthonormal_block,
    _partition_operators,
    _project_out,
)

__all__ = [
    "variance_based_nystrom",
    "get_random_range_vectors",
    "compute_Theta",
    "update_Theta",
    "finish_computing_eigenvalue_decomposition",
    "compute_rayleigh_statistics",
]


def _grow_symmetric(T, Q_old, new, A_new):
    """Extend :math:`T = Q^TAQ` by the columns ``new`` given ``A_new = A new``."""
    cross = Q_old.T @ A_new
    corner = new.T @ A_new
    corner = 0.5 * (corner + corner.T)
    top = np.hstack([T, cross])
    bottom = np.hstack([cross.T, corner])
    return np.vstack([top, bottom])


def _nystrom_on_partitions(Aop, partition_ops, n, block_size=10, std_tolerance=0.5,
                           max_vectors=None, max_bad_vectors=1, seed=0,
                           return_info=False):
    """The partition-operator form of :func:`variance_based_nystrom` (documented there)."""
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


# ---------------------------------------------------------------------------
# The finite-sum form: A = (A_1 + ... + A_m) / m given by the list apply_AA
# ---------------------------------------------------------------------------
def _finite_sum_terms(apply_AA, num_cols_A, dimension_from=None):
    """Check ``apply_AA`` and ``num_cols_A``; return ``(n, [f_1, ..., f_m])``.

    Each ``f_k`` maps an ``(n, r)`` array to ``A_k`` times it.  Arrays,
    ``LinearOperator``s and objects with ``dimension`` are applied blockwise;
    a plain callable is applied column by column (as the original code did),
    so it only needs to map a vector of shape ``(n,)`` to ``(n,)``.
    ``dimension_from`` names the array ``n`` was read from, for the errors.
    """
    n = _check_int(num_cols_A, "num_cols_A")
    if isinstance(apply_AA, (str, bytes)) or not isinstance(apply_AA, (list, tuple)):
        raise TypeError(
            "'apply_AA' must be a list of the m terms A_k of A = (A_1 + ... + A_m)/m "
            f"(callables x -> A_k x, arrays or operators), got {type(apply_AA).__name__}.")
    if len(apply_AA) == 0:
        raise ValueError("'apply_AA' must hold at least one term A_k, got an empty list.")
    terms = []
    for k, term in enumerate(apply_AA):
        argument = f"apply_AA[{k}]"
        blockwise = (isinstance(term, (np.ndarray, LinearOperator))
                     or hasattr(term, "dimension") or not callable(term))
        try:
            op = as_operator(term, argument, n=n)
        except ValueError as error:
            if dimension_from is None:
                raise
            raise ValueError(f"{error} (the number of rows of '{dimension_from}')") from None
        if blockwise:
            terms.append(lambda X, op=op: np.asarray(op.matmat(X), dtype=np.float64))
        else:
            terms.append(lambda X, op=op: np.column_stack(
                [np.asarray(op.matvec(X[:, j]), dtype=np.float64) for j in range(X.shape[1])]
            ) if X.shape[1] else np.zeros((n, 0)))
    return n, terms


def _check_basis(Q, n, argument):
    Q = np.asarray(Q, dtype=np.float64)
    if Q.ndim != 2 or (n is not None and Q.shape[0] != n):
        rows = "n" if n is None else str(n)
        raise ValueError(f"'{argument}' must be a 2-D array of shape ({rows}, r), got shape {Q.shape}.")
    return Q


def _check_theta(Theta, argument="Theta"):
    Theta = np.asarray(Theta, dtype=np.float64)
    if Theta.ndim != 3 or Theta.shape[0] != Theta.shape[1]:
        raise ValueError(
            f"'{argument}' must be a 3-D array of shape (r, r, m) (its slices Q^T A_k Q), "
            f"got shape {Theta.shape}.")
    return Theta


def get_random_range_vectors(apply_AA, num_cols_A, block_size_r, seed=0):
    """Range sample :math:`Y = A\\Omega` of :math:`A = \\frac1m \\sum_k A_k`.

    Parameters
    ----------
    apply_AA : list
        The ``m`` terms :math:`A_k`: callables ``x -> A_k x`` on vectors of shape
        ``(n,)``, or arrays / operators of shape ``(n, n)``.
    num_cols_A : int
        Dimension ``n``.
    block_size_r : int
        Number ``r`` of Gaussian columns of :math:`\\Omega \\in \\mathbb{R}^{n \\times r}`.
    seed : int, numpy.random.Generator or None
        Seed of :math:`\\Omega`; a ``Generator`` is used and advanced.

    Returns
    -------
    Y : ndarray, shape (n, r)
    """
    n, terms = _finite_sum_terms(apply_AA, num_cols_A)
    r = _check_int(block_size_r, "block_size_r")
    omega = as_generator(seed).standard_normal((n, r))
    return sum(term(omega) for term in terms) / len(terms)


def compute_Theta(Q, apply_AA):
    """The 3-tensor :math:`\\Theta_{ijk} = q_i^T A_k q_j` of shape ``(r, r, m)``.

    ``Q`` is ``(n, r)`` (orthonormal columns in practice); frontal slice
    ``Theta[:, :, k]`` is :math:`Q^T A_k Q`.
    """
    Q = _check_basis(Q, None, "Q")
    _, terms = _finite_sum_terms(apply_AA, Q.shape[0], "Q")
    return np.stack([Q.T @ term(Q) for term in terms], axis=-1)


def update_Theta(Q1, Q2, Theta11, apply_AA):
    """:math:`\\Theta` of the basis ``[Q1, Q2]`` from ``Theta11`` of ``Q1``.

    Only the new columns are applied: ``A_k Q2`` gives the blocks
    :math:`Q_1^T A_k Q_2` and :math:`Q_2^T A_k Q_2`; the lower-left block is
    the transpose of the upper-right one (each :math:`A_k` is symmetric).

    Parameters
    ----------
    Q1 : ndarray, shape (n, r1)
    Q2 : ndarray, shape (n, r2)
    Theta11 : ndarray, shape (r1, r1, m)
    apply_AA : list of m terms (see :func:`get_random_range_vectors`)

    Returns
    -------
    Theta : ndarray, shape (r1 + r2, r1 + r2, m)
    """
    Q2 = _check_basis(Q2, None, "Q2")
    Q1 = _check_basis(Q1, Q2.shape[0], "Q1")
    Theta11 = _check_theta(Theta11, "Theta11")
    _, terms = _finite_sum_terms(apply_AA, Q2.shape[0], "Q2")
    r1, r2, m = Q1.shape[1], Q2.shape[1], len(terms)
    if Theta11.shape != (r1, r1, m):
        raise ValueError(
            f"'Theta11' must have shape ({r1}, {r1}, {m}) (Q1 has {r1} columns, apply_AA "
            f"{m} terms), got {Theta11.shape}.")
    Theta = np.zeros((r1 + r2, r1 + r2, m))
    Theta[:r1, :r1] = Theta11
    for k, term in enumerate(terms):
        AQ2 = term(Q2)
        Theta[:r1, r1:, k] = Q1.T @ AQ2
        Theta[r1:, :r1, k] = Theta[:r1, r1:, k].T
        Theta[r1:, r1:, k] = Q2.T @ AQ2
    return Theta


def finish_computing_eigenvalue_decomposition(Q, Theta):
    """Eigenpairs of :math:`A \\approx Q B Q^T`, :math:`B = \\frac1m\\sum_k \\Theta_{::k}`.

    Solves :math:`B = V \\operatorname{diag}(d) V^T` (symmetrized) and returns
    ``(dd, U, V)`` with ``U = Q V``, sorted by :math:`|d|` descending.

    Parameters
    ----------
    Q : ndarray, shape (n, r)
    Theta : ndarray, shape (r, r, m)

    Returns
    -------
    dd : ndarray, shape (r,)
    U : ndarray, shape (n, r)
    V : ndarray, shape (r, r)
    """
    Theta = _check_theta(Theta)
    Q = _check_basis(Q, None, "Q")
    if Q.shape[1] != Theta.shape[0]:
        raise ValueError(
            f"'Q' has {Q.shape[1]} columns but 'Theta' is {Theta.shape[0]} x {Theta.shape[1]}.")
    B = Theta.mean(axis=-1)
    dd, V = np.linalg.eigh(0.5 * (B + B.T))
    order = np.argsort(-np.abs(dd), kind="stable")
    dd, V = dd[order], V[:, order]
    return dd, Q @ V, V


def compute_rayleigh_statistics(Theta, V):
    """Mean and standard deviation over ``k`` of the Rayleigh quotients :math:`u_i^T A_k u_i`.

    With :math:`u_i = Q v_i`, :math:`u_i^T A_k u_i = v_i^T \\Theta_{::k} v_i`, so
    no operator is applied.  The standard deviation is the population one
    (``ddof=0``), as in the original code.

    Parameters
    ----------
    Theta : ndarray, shape (r, r, m)
    V : ndarray, shape (r, s)
        Columns :math:`v_i` (eigenvectors of :math:`B`).

    Returns
    -------
    mu : ndarray, shape (s,)
    std : ndarray, shape (s,)
    """
    Theta = _check_theta(Theta)
    V = np.asarray(V, dtype=np.float64)
    if V.ndim != 2 or V.shape[0] != Theta.shape[0]:
        raise ValueError(
            f"'V' must be a 2-D array with {Theta.shape[0]} rows (Theta is "
            f"{Theta.shape[0]} x {Theta.shape[1]} x {Theta.shape[2]}), got shape {V.shape}.")
    C = np.einsum("jk,jlm,lk->km", V, Theta, V)
    return C.mean(axis=1), C.std(axis=1)


def _nystrom_on_finite_sum(apply_AA, num_cols_A, oversampling_parameter=5, block_size=10,
                           std_tol=0.5, max_bad_vectors=5, max_vectors=100, verbose=True,
                           seed=0):
    """The finite-sum form of :func:`variance_based_nystrom` (see there)."""
    n, _ = _finite_sum_terms(apply_AA, num_cols_A)
    oversampling = _check_int(oversampling_parameter, "oversampling_parameter", minimum=0)
    block_size = _check_int(block_size, "block_size")
    std_tol = _check_positive_float(std_tol, "std_tol")
    max_bad_vectors = _check_int(max_bad_vectors, "max_bad_vectors")
    max_vectors = _check_int(max_vectors, "max_vectors")
    rng = as_generator(seed)
    m = len(apply_AA)

    Q = np.zeros((n, 0))
    Theta = np.zeros((0, 0, m))
    while True:
        width = min(block_size, n - Q.shape[1])
        if width == 0:
            break
        Y = get_random_range_vectors(apply_AA, n, width, seed=rng)
        Q2 = np.linalg.qr(_project_out(Q, Y))[0]
        Theta = update_Theta(Q, Q2, Theta, apply_AA)
        Q = np.hstack([Q, Q2])
        dd, U, V = finish_computing_eigenvalue_decomposition(Q, Theta)
        _, std = compute_rayleigh_statistics(Theta, V)
        kept = max(Q.shape[1] - oversampling, 0)  # the `oversampling` smallest pairs are unreliable
        dd, U, std = dd[:kept], U[:, :kept], std[:kept]
        with np.errstate(divide="ignore", invalid="ignore"):
            bad = std / np.abs(dd) > std_tol
        num_bad = int(np.count_nonzero(bad))
        if verbose:
            print("current_rank=", kept - num_bad, ", num_bad_vectors=", num_bad)
        if num_bad >= max_bad_vectors or Q.shape[1] > max_vectors:
            break
    good = ~bad
    return [dd[good], U[:, good], std[good]], [dd, U, std]


_PARTITION_FORM = inspect.signature(_nystrom_on_partitions)
_FINITE_SUM_FORM = inspect.signature(_nystrom_on_finite_sum)
_FINITE_SUM_ONLY_KEYWORDS = {"apply_AA", "num_cols_A", "oversampling_parameter", "std_tol", "verbose"}


def _is_finite_sum_call(args, kwargs):
    if _FINITE_SUM_ONLY_KEYWORDS & set(kwargs):
        return True
    if args and isinstance(args[0], (list, tuple)):
        return True
    return (len(args) >= 2 and isinstance(args[1], numbers.Integral)
            and not isinstance(args[1], (bool, np.bool_)))


def variance_based_nystrom(*args, **kwargs):
    """Randomized eigendecomposition grown until the eigenpairs drown in sampling noise.

    Two call forms; the first positional arguments decide which one runs.

    **Partition-operator form** (returns the trusted pairs, see the module notes)::

        variance_based_nystrom(Aop, partition_ops, n, block_size=10, std_tolerance=0.5,
                               max_vectors=None, max_bad_vectors=1, seed=0,
                               return_info=False)
            -> (eigenvalues, eigenvectors[, info])

    **Finite-sum form** of the original hessianlearn, for
    :math:`A = \\frac1m \\sum_k A_k`::

        variance_based_nystrom(apply_AA, num_cols_A, oversampling_parameter=5,
                               block_size=10, std_tol=0.5, max_bad_vectors=5,
                               max_vectors=100, verbose=True, seed=0)
            -> [[d, U, std], [d_all, U_all, std_all]]

    It grows an orthonormal basis :math:`Q` by ``block_size`` range samples of
    :math:`A` at a time (:func:`get_random_range_vectors`), keeps the tensor
    :math:`\\Theta_{::k} = Q^T A_k Q` up to date (:func:`update_Theta`), and
    after each block computes the Ritz pairs of :math:`\\frac1m\\sum_k \\Theta_{::k}`
    (:func:`finish_computing_eigenvalue_decomposition`) and the spread over
    ``k`` of their Rayleigh quotients (:func:`compute_rayleigh_statistics`,
    population std).  The ``oversampling_parameter`` pairs of smallest
    :math:`|\\lambda|` are discarded as inaccurate; of the others, a pair is
    bad when :math:`\\operatorname{std}_i / |\\lambda_i| > ` ``std_tol``.  It
    stops once ``max_bad_vectors`` pairs are bad, once the basis has more than
    ``max_vectors`` columns, or when it spans all of :math:`\\mathbb{R}^n`.
    ``d, U, std`` are the good pairs (sorted by :math:`|\\lambda|` descending,
    ``U`` of shape ``(n, len(d))``) and their Rayleigh-quotient std; the
    ``*_all`` entries are all the kept pairs.  ``apply_AA`` is a list of
    callables ``x -> A_k x`` (applied to one vector at a time) or arrays /
    operators of shape ``(n, n)``; ``verbose`` prints the current rank and
    number of bad vectors after every block; ``seed`` (an int or a
    ``numpy.random.Generator``) seeds the Gaussian probes.

    The finite-sum form is chosen when the first argument is a list or tuple,
    the second an int, or a keyword of that form only (``apply_AA``,
    ``num_cols_A``, ``oversampling_parameter``, ``std_tol``, ``verbose``) is
    given.

    Parameters
    ----------
    (of the partition-operator form; the finite-sum form's are described above)

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
    (of the partition-operator form; the finite-sum form's are described above)

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
    TypeError
        Unknown keyword, too many positional arguments, or an argument of the
        wrong type (the message names it).
    ValueError
        An argument out of range or of the wrong shape, or fewer than two
        partitions (the message names the argument).

    Notes
    -----
    In the partition-operator form the trailing Ritz pairs of a basis of size
    :math:`m` are less accurate than the leading ones (as in any randomized
    eigensolver without oversampling); if the partitions agree closely, all
    :math:`m` pairs may be returned, and callers wanting high accuracy keep
    only the leading ones.
    """
    if _is_finite_sum_call(args, kwargs):
        bound = _bind_form("variance_based_nystrom", "finite-sum", _FINITE_SUM_FORM, args, kwargs)
        return _nystrom_on_finite_sum(*bound.args, **bound.kwargs)
    bound = _bind_form("variance_based_nystrom", "partition-operator", _PARTITION_FORM,
                       args, kwargs)
    return _nystrom_on_partitions(*bound.args, **bound.kwargs)

