"""Double-pass randomized eigensolver for symmetric operators (Halko-Martinsson-Tropp).

For symmetric :math:`A \\in \\mathbb{R}^{n \\times n}` and a target rank
:math:`k` with oversampling :math:`p`:

1. draw a Gaussian (or Rademacher) test matrix :math:`\\Omega \\in \\mathbb{R}^{n \\times (k+p)}`;
2. first pass: :math:`Y = A \\Omega`, :math:`Q R = Y` (thin QR);
3. second pass: :math:`T = Q^T A Q`, symmetrized :math:`(T + T^T)/2`;
4. :math:`T = V \\Lambda V^T`, :math:`U = Q V`.

The eigenpairs are sorted by :math:`|\\lambda|` descending, so indefinite
spectra (Hessians at saddle points) keep their large negative eigenvalues.
The cost is :math:`2(k+p)` operator columns (two blocked products), which is
what callers count in sweep accounting.

References
----------
N. Halko, P. G. Martinsson, J. A. Tropp, "Finding structure with randomness",
SIAM Review 53 (2011), Algorithms 4.1 and 5.3.
"""
import numpy as np
import scipy.linalg

from .operators import (
    _check_int,
    _operator_and_dimension,
    as_generator,
    as_operator,
)
from ..utilities.random_matrices import draw_test_matrix

__all__ = ["randomized_eigensolver", "eigensolver_from_range", "randomized_double_pass_eigensolver"]


def eigensolver_from_range(Aop, Q, verbose=False):
    """Rayleigh-Ritz eigenpairs of symmetric ``Aop`` on the range of ``Q``.

    Computes :math:`T = Q^T A Q` (symmetrized), :math:`T = V \\Lambda V^T`
    and returns :math:`(\\Lambda, Q V)` sorted by :math:`|\\lambda|`
    descending.  Costs ``Q.shape[1]`` operator columns.

    Parameters
    ----------
    Aop : ndarray, LinearOperator or operator
        Symmetric operator of shape ``(n, n)`` (any form accepted by
        :func:`~hessianlearn.algorithms.operators.as_operator`).
    Q : ndarray, shape (n, m)
        Matrix with orthonormal columns (not modified).
    verbose : bool
        Print the stages (nothing is printed otherwise).

    Returns
    -------
    eigenvalues : ndarray, shape (m,)
    eigenvectors : ndarray, shape (n, m)
        Orthonormal columns; float32 for a float32 operator, else float64.

    Raises
    ------
    ValueError
        If ``Q`` is not 2-D with ``n`` rows.
    """
    verbose = _check_verbose(verbose)
    Q = np.asarray(Q)
    if Q.ndim != 2:
        raise ValueError(f"'Q' must be a 2-D array of shape (n, m), got shape {Q.shape}.")
    n = Q.shape[0]
    op = as_operator(Aop, "Aop", n=n)
    if Q.shape[1] == 0:
        return np.zeros(0), np.zeros((n, 0))
    if np.dtype(op.dtype) == np.float32 and Q.dtype != np.float32:
        Q = Q.astype(np.float32)  # a float32 operator: T and U in float32, no upcast of AQ
    if verbose:
        print("Forming small square matrix")
    AQ = np.asarray(op.matmat(Q))
    if verbose:
        print("Computing eigenvalue decomposition")
    return _ritz_pairs(Q, AQ)


def _check_verbose(verbose, argument="verbose"):
    if not isinstance(verbose, (bool, np.bool_)):
        raise TypeError(f"'{argument}' must be True or False, got {type(verbose).__name__} {verbose!r}.")
    return bool(verbose)


#: Largest ratio max|R_ii| / min|R_ii| for which Cholesky QR is trusted (its loss of
#: orthogonality grows like eps * cond(Y)^2 before the second pass).
_CHOLESKY_QR_CONDITION_LIMIT = 1e6


def orthonormal_basis(Y, dtype=np.float64):
    """An orthonormal basis ``Q`` (shape ``(n, m)``) of the range of ``Y`` (``(n, m)``).

    Cholesky QR twice, ``G = Y^T Y = R^T R``, ``Q = Y R^{-1}`` (two matrix
    products per pass, fast on tall blocks), falling back to Householder QR
    when ``Y`` is too ill-conditioned for it.  The first pass always runs in
    float64.  With ``dtype=np.float32`` the second pass (on a block whose
    condition number is already ~1) runs in float32 and ``Q`` is float32:
    orthonormal to float32 round-off, which is all a float32 operator can use.
    """
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"'dtype' must be float32 or float64, got {dtype}.")
    Q = np.array(Y, dtype=np.float64)
    try:
        for _ in range(2):
            R = scipy.linalg.cholesky(Q.T @ Q, lower=False, check_finite=False)
            diagonal = np.abs(np.diag(R))
            if not np.all(np.isfinite(diagonal)) or diagonal.min() <= diagonal.max() / _CHOLESKY_QR_CONDITION_LIMIT:
                raise np.linalg.LinAlgError("ill-conditioned block")
            R_inv = scipy.linalg.solve_triangular(R, np.eye(R.shape[0]), lower=False, check_finite=False)
            Q = Q @ R_inv.astype(Q.dtype, copy=False)
            Q = Q.astype(dtype, copy=False)  # no-op for float64; the second pass in float32
        return Q
    except np.linalg.LinAlgError:
        # Householder QR: stable for any conditioning.
        Q = scipy.linalg.qr(np.asarray(Y, dtype=np.float64), mode="economic", check_finite=False)[0]
        return Q.astype(dtype, copy=False)


def _ritz_pairs(Q, AQ):
    """Eigenpairs of the symmetrized :math:`Q^T (AQ)`, sorted by |lambda| desc.

    ``T`` is formed in the common dtype of ``Q`` and ``AQ`` (float32 when both
    are: no upcast of the tall blocks), its eigenproblem is solved in float64
    and ``U = Q V`` is returned in ``Q``'s dtype.
    """
    T = np.asarray(Q.T @ AQ, dtype=np.float64)
    T = 0.5 * (T + T.T)
    values, vectors = np.linalg.eigh(T)
    order = np.argsort(-np.abs(values), kind="stable")
    return values[order], Q @ vectors[:, order].astype(Q.dtype, copy=False)


def randomized_eigensolver(Aop, n, k, p=None, seed=0, test_matrix="gaussian", verbose=False):
    """Top-``k`` eigenpairs (by magnitude) of symmetric ``Aop``, double pass.

    Parameters
    ----------
    Aop : ndarray, LinearOperator or operator
        Symmetric operator of shape ``(n, n)`` (any form accepted by
        :func:`~hessianlearn.algorithms.operators.as_operator`).
    n : int
        Dimension.
    k : int
        Number of eigenpairs, ``1 <= k <= n``.
    p : int, optional
        Oversampling, default 10; reduced to ``n - k`` if ``k + p > n``.
    seed : int, numpy.random.Generator or None
        Seed of the test matrix.  A ``Generator`` is used and
        advanced (optimizers pass their own so each iteration differs).
    test_matrix : {'gaussian', 'rademacher'}, optional
        Entries of the ``(n, k + p)`` test matrix: standard normal (default) or
        random signs (:mod:`hessianlearn.utilities.random_matrices`; much
        cheaper to draw, the same range-finding guarantees in practice).
        A bool in this sixth position is read as ``verbose`` (the original
        hessianlearn's sixth argument), ``test_matrix`` then stays ``'gaussian'``.
    verbose : bool, optional
        Print the stages (nothing is printed otherwise).

    Returns
    -------
    eigenvalues : ndarray, shape (k,)
        Sorted by :math:`|\\lambda|` descending.
    eigenvectors : ndarray, shape (n, k)
        Orthonormal columns, matching ``eigenvalues``; float32 (orthonormal to
        float32 round-off) for a float32 operator, else float64.

    Raises
    ------
    ValueError
        If ``k`` is not in ``[1, n]``, ``p < 0`` or shapes do not match.

    Notes
    -----
    Cost: :math:`2(k+p)` operator columns in two ``matmat`` calls.  The error
    of the Ritz values is governed by :math:`|\\lambda_{k+p+1}|`; with a
    fast-decaying spectrum the top ``k`` pairs are accurate to near machine
    precision.

    Examples
    --------
    >>> import numpy as np
    >>> A = np.diag([5.0, -3.0, 1.0, 0.1, 0.0])
    >>> values, vectors = randomized_eigensolver(A, 5, 2, p=2)
    >>> np.round(values, 10)
    array([ 5., -3.])
    """
    if isinstance(test_matrix, (bool, np.bool_)):  # the original's positional verbose
        test_matrix, verbose = "gaussian", bool(test_matrix)
    verbose = _check_verbose(verbose)
    op, n = _operator_and_dimension(Aop, n, "Aop")
    k = _check_int(k, "k")
    if k > n:
        raise ValueError(f"'k' = {k} must not exceed the dimension n = {n}.")
    p = 10 if p is None else _check_int(p, "p", minimum=0)
    p = min(p, n - k)
    rng = as_generator(seed)
    # A float32 operator (a float32 network) gets a float32 test matrix: half the bytes to draw and feed.
    dtype = np.float32 if np.dtype(op.dtype) == np.float32 else np.float64
    omega = draw_test_matrix(rng, n, k + p, test_matrix, dtype)
    if verbose:
        print("Applying Hessian")
    Y = np.asarray(op.matmat(omega))
    # For a float32 operator Q, T = Q^T (AQ) and U = Q V stay float32 (orthonormalized in float64 first).
    Q = orthonormal_basis(Y, dtype=dtype)
    if verbose:
        print("Forming small square matrix")
    AQ = np.asarray(op.matmat(Q))
    if verbose:
        print("Computing eigenvalue decomposition")
    values, vectors = _ritz_pairs(Q, AQ)
    return values[:k], vectors[:, :k]


def randomized_double_pass_eigensolver(Aop, Y, k):
    """Top-``k`` eigenpairs of symmetric ``Aop`` from a precomputed range sample, rows form.

    The row-oriented call of the original hessianlearn: ``Y`` holds the ``m``
    samples :math:`(A\\omega_j)^T` as rows.  Computes :math:`Q R = Y^T` (thin
    QR), the second pass :math:`T = Q^T A Q` (symmetrized),
    :math:`T = V \\Lambda V^T`, and returns the ``k`` pairs of largest
    :math:`|\\lambda|` with the eigenvectors as rows.

    Parameters
    ----------
    Aop : ndarray, LinearOperator, operator or callable
        Symmetric operator of shape ``(n, n)``.  Arrays, ``LinearOperator``s and
        objects with ``dimension`` are applied to the columns of ``Q``; a plain
        callable is called as in the original, ``Aop(Q.T)`` on the ``(m, n)``
        array whose rows are the basis vectors, and must return the ``(m, n)``
        array of their images as rows.
    Y : ndarray, shape (m, n)
        Rows :math:`(A\\omega_j)^T`, ``n >= m >= k`` (not modified).
    k : int
        Number of eigenpairs, ``1 <= k <= m``.

    Returns
    -------
    lmbda : ndarray, shape (k,)
        Sorted by :math:`|\\lambda|` descending.
    Ut : ndarray, shape (k, n)
        Orthonormal rows, the eigenvectors matching ``lmbda``.

    Raises
    ------
    ValueError
        If ``Y`` is not 2-D with ``n >= m``, ``k`` is not in ``[1, m]``, or
        ``Aop``'s images have the wrong shape.
    """
    Y = np.asarray(Y)
    if Y.ndim != 2 or not np.issubdtype(Y.dtype, np.number):
        raise ValueError(f"'Y' must be a numeric 2-D array of shape (m, n) (samples as rows), "
                         f"got shape {Y.shape}.")
    m, n = Y.shape
    if m > n:
        raise ValueError(f"'Y' has m = {m} rows (samples) and n = {n} columns; it needs n >= m "
                         "(pass the samples as rows, Y = (A Omega)^T).")
    k = _check_int(k, "k")
    if k > m:
        raise ValueError(f"'k' = {k} must not exceed the number of samples m = {m} (rows of 'Y').")
    Q = scipy.linalg.qr(np.asarray(Y, dtype=np.float64).T, mode="economic", check_finite=False)[0]
    plain_callable = (callable(Aop) and not hasattr(Aop, "dimension")
                      and not isinstance(Aop, np.ndarray) and not hasattr(Aop, "matmat"))
    if plain_callable:
        images = np.asarray(Aop(Q.T), dtype=np.float64)
        if images.shape != (m, n):
            raise ValueError(f"'Aop' returned shape {images.shape} for the ({m}, {n}) rows Q^T; "
                             f"a plain callable must map (m, n) rows to (m, n) rows.")
        AQ = images.T
    else:
        AQ = np.asarray(as_operator(Aop, "Aop", n=n).matmat(Q), dtype=np.float64)
    values, vectors = _ritz_pairs(Q, AQ)
    return values[:k], vectors[:, :k].T
