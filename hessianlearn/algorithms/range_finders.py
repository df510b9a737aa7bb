"""Adaptive randomized range finders, plain and noise-aware.

Both finders grow an orthonormal basis :math:`Q \\in \\mathbb{R}^{n \\times m}`
for the dominant range of a symmetric operator :math:`A` one block of
Gaussian probes at a time.  Each new block :math:`Y = A\\Omega` is
orthogonalized against :math:`Q` twice (classical Gram-Schmidt, "twice is
enough"), and its columns :math:`(I - QQ^T) A \\omega_i` also serve as an a
posteriori error probe (Halko, Martinsson, Tropp 2011, Lemma 4.1):

.. math::

    \\|(I - QQ^T) A\\|_2 \\le 10 \\sqrt{2/\\pi}\\,
    \\max_{i \\le r} \\|(I - QQ^T) A \\omega_i\\|_2

with probability at least :math:`1 - 10^{-r}`, :math:`r` the block size.

The noise-aware finder additionally evaluates the Rayleigh quotients of
each new block on the sub-batch operators :math:`A_1, \\dots, A_J` (the
Hessian on data partitions) and stops once those quotients are dominated by
sampling noise.
"""
import numpy as np

from .operators import (
    _check_int,
    _check_positive_float,
    _operator_and_dimension,
    as_generator,
    as_operator,
)

__all__ = ["block_range_finder", "noise_aware_adaptive_range_finder"]

#: Constant of the probabilistic error bound, :math:`10\\sqrt{2/\\pi}`.
_PROBE_CONSTANT = 10.0 * np.sqrt(2.0 / np.pi)


def _project_out(Q, Y):
    """Return :math:`(I - QQ^T)^2 Y` (two Gram-Schmidt passes); ``Y`` untouched."""
    if Q.shape[1] == 0:
        return Y.copy()
    Y = Y - Q @ (Q.T @ Y)
    return Y - Q @ (Q.T @ Y)


def _orthonormal_block(Q, Y, scale):
    """Orthonormal basis of the already-projected block ``Y``, orthogonal to ``Q``.

    Columns whose singular values fall below ``scale * n * eps`` are dropped,
    so an exhausted range yields an empty block instead of noise.
    """
    if Y.shape[1] == 0:
        return Y
    U, s, _ = np.linalg.svd(Y, full_matrices=False)
    cutoff = max(scale, s[0] if s.size else 0.0) * Y.shape[0] * np.finfo(float).eps
    U = U[:, s > cutoff]
    if U.shape[1] == 0:
        return U
    U = _project_out(Q, U)
    U, _ = np.linalg.qr(U)
    return U


def _check_max_vectors(max_vectors, n):
    """``max_vectors`` as an int capped at ``n`` (``n`` if ``None``)."""
    max_vectors = n if max_vectors is None else _check_int(max_vectors, "max_vectors")
    return min(max_vectors, n)


def _check_epsilon_block(epsilon, block_size, max_vectors, n):
    epsilon = _check_positive_float(epsilon, "epsilon", allow_zero=True)
    block_size = _check_int(block_size, "block_size")
    return epsilon, block_size, _check_max_vectors(max_vectors, n)


def _partition_operators(partition_ops, n, purpose):
    """Check ``partition_ops`` (two or more) and convert each to an ``(n, n)`` operator.

    ``purpose`` ends the error for fewer than two: "... needs at least two
    partition operators to measure <purpose>".
    """
    if isinstance(partition_ops, (str, bytes)) or not hasattr(partition_ops, "__len__"):
        raise TypeError("'partition_ops' must be a list of operators (one per data "
                        "partition).")
    if len(partition_ops) < 2:
        raise ValueError(
            "'partition_ops' needs at least two partition operators to measure "
            f"{purpose}, got {len(partition_ops)}."
        )
    return [as_operator(P, f"partition_ops[{j}]", n=n)
            for j, P in enumerate(partition_ops)]


def _probe_block(op, Q, rng, block_size, width, scale):
    """Apply ``op`` to ``block_size`` Gaussian probes and extend the range.

    Returns ``(new, estimate, scale)``: the orthonormal block from the first
    ``width`` projected images (orthogonal to ``Q``), the probe estimate of
    :math:`\|(I - QQ^T) A\|_2` over all ``block_size`` images, and the
    running largest image norm.
    """
    omega = rng.standard_normal((Q.shape[0], block_size))
    Y = np.asarray(op.matmat(omega))
    scale = max(scale, float(np.max(np.linalg.norm(Y, axis=0))))
    Y = _project_out(Q, Y)
    estimate = _PROBE_CONSTANT * float(np.max(np.linalg.norm(Y, axis=0)))
    new = _orthonormal_block(Q, Y[:, :width], scale)
    return new, estimate, scale


def block_range_finder(Aop, n, epsilon, block_size, max_vectors=None, seed=0,
                       return_info=False):
    """Adaptive blocked randomized range finder.

    Grows :math:`Q` until the probe estimate of :math:`\\|(I - QQ^T) A\\|_2`
    is at most ``epsilon`` (see the module notes), or ``max_vectors``
    columns are reached, or the range is exhausted.

    Parameters
    ----------
    Aop : ndarray, LinearOperator or operator
        Operator of shape ``(n, n)``; any form accepted by
        :func:`~hessianlearn.algorithms.operators.as_operator`.
    n : int
        Dimension.
    epsilon : float
        Absolute target for :math:`\\|(I - QQ^T) A\\|_2` (scale it by an
        estimate of :math:`\\|A\\|` for a relative target).
    block_size : int
        Number of Gaussian probes per block (also the number of probes in
        each error estimate; failure probability :math:`10^{-r}`).
    max_vectors : int, optional
        Maximum number of columns of :math:`Q`; default ``n``.
    seed : int, numpy.random.Generator or None
        Seed of the probes; a ``Generator`` is used and advanced.
    return_info : bool
        Also return a dict of diagnostics.

    Returns
    -------
    Q : ndarray, shape (n, m)
        Orthonormal basis, ``m <= max_vectors``.
    info : dict, only if ``return_info``
        ``'error_estimate'`` (last probe estimate, before its block was
        added), ``'reason'`` (``'epsilon'``, ``'max_vectors'`` or
        ``'exhausted'``), ``'operator_columns'`` (number of operator
        columns applied), ``'blocks'``.

    Notes
    -----
    The block that passes the error test has already been computed, so it
    is added to :math:`Q` as well (it can only reduce the error).
    """
    op, n = _operator_and_dimension(Aop, n, "Aop")
    epsilon, block_size, max_vectors = _check_epsilon_block(
        epsilon, block_size, max_vectors, n)
    rng = as_generator(seed)
    Q = np.zeros((n, 0))
    columns = 0
    blocks = 0
    estimate = np.inf
    scale = 0.0
    reason = "max_vectors"
    while Q.shape[1] < max_vectors:
        width = min(block_size, max_vectors - Q.shape[1])
        new, estimate, scale = _probe_block(op, Q, rng, block_size, width, scale)
        columns += block_size
        blocks += 1
        Q = np.hstack([Q, new])
        if estimate <= epsilon:
            reason = "epsilon"
            break
        if new.shape[1] == 0:
            reason = "exhausted"
            break
    if not return_info:
        return Q
    return Q, {"error_estimate": estimate, "reason": reason,
               "operator_columns": columns, "blocks": blocks}


def noise_aware_adaptive_range_finder(Aop, partition_ops, block_size,
                                      noise_tolerance, epsilon, max_vectors=None,
                                      seed=0, return_info=False):
    """Range finder that stops when new directions see only sampling noise.

    Grows :math:`Q` blockwise as :func:`block_range_finder`.  For each new
    orthonormal block :math:`[q_1, \\dots, q_b]` it evaluates the Rayleigh
    quotients :math:`\\rho_{ji} = q_i^T A_j q_i` on every partition operator
    :math:`A_j` (:math:`j = 1..J`), with per-direction mean
    :math:`\\mu_i` and standard deviation :math:`s_i` over partitions
    (sample std, ``ddof=1``).  The block is noise, and the search stops
    without adding it, when

    .. math::

        \\operatorname{mean}_i s_i > \\text{noise\\_tolerance} \\cdot
        \\operatorname{mean}_i |\\mu_i| .

    It also stops when the probe estimate of :math:`\\|(I-QQ^T)A\\|` is at
    most ``epsilon``, at ``max_vectors`` columns, or when the range is
    exhausted.

    Parameters
    ----------
    Aop : ndarray, LinearOperator or operator
        Operator of shape ``(n, n)`` (the full-batch Hessian); any form
        accepted by :func:`~hessianlearn.algorithms.operators.as_operator`
        (a plain callable is not enough here: its dimension is unknown).
    partition_ops : sequence of operators
        At least two operators of the same shape, the Hessian on disjoint
        sub-batches.
    block_size : int
        Probes per block.
    noise_tolerance : float
        Ratio of spread to mean magnitude at which directions count as noise.
    epsilon : float
        Absolute target for :math:`\\|(I - QQ^T) A\\|_2`.
    max_vectors : int, optional
        Maximum number of columns; default ``n``.
    seed : int, numpy.random.Generator or None
        Seed of the probes; a ``Generator`` is used and advanced.
    return_info : bool
        Also return a dict of diagnostics.

    Returns
    -------
    Q : ndarray, shape (n, m)
        Orthonormal basis.
    info : dict, only if ``return_info``
        ``'reason'`` (``'noise'``, ``'epsilon'``, ``'max_vectors'``,
        ``'exhausted'``), ``'error_estimate'``, ``'noise_ratios'`` (the
        ratio :math:`\\operatorname{mean}s/\\operatorname{mean}|\\mu|` of
        every block examined), ``'operator_columns'`` (columns of ``Aop``)
        and ``'partition_columns'`` (columns summed over partitions).

    Raises
    ------
    ValueError
        If fewer than two partitions are given or shapes differ.
    """
    op = as_operator(Aop, "Aop")
    n = op.shape[0]
    partitions = _partition_operators(partition_ops, n, "their spread")
    noise_tolerance = _check_positive_float(noise_tolerance, "noise_tolerance")
    epsilon, block_size, max_vectors = _check_epsilon_block(
        epsilon, block_size, max_vectors, n)
    rng = as_generator(seed)

    Q = np.zeros((n, 0))
    columns = 0
    partition_columns = 0
    estimate = np.inf
    scale = 0.0
    ratios = []
    reason = "max_vectors"
    while Q.shape[1] < max_vectors:
        width = min(block_size, max_vectors - Q.shape[1])
        new, estimate, scale = _probe_block(op, Q, rng, block_size, width, scale)
        columns += block_size
        if new.shape[1] == 0:
            reason = "exhausted"
            break
        quotients = np.array([np.einsum("ij,ij->j", new, np.asarray(P.matmat(new)))
                              for P in partitions])
        partition_columns += len(partitions) * new.shape[1]
        spread = float(np.mean(np.std(quotients, axis=0, ddof=1)))
        magnitude = float(np.mean(np.abs(np.mean(quotients, axis=0))))
        ratio = spread / magnitude if magnitude > 0 else (np.inf if spread > 0 else 0.0)
        ratios.append(ratio)
        if ratio > noise_tolerance:
            reason = "noise"
            break
        Q = np.hstack([Q, new])
        if estimate <= epsilon:
            reason = "epsilon"
            break
    if not return_info:
        return Q
    return Q, {"reason": reason, "error_estimate": estimate,
               "noise_ratios": ratios, "operator_columns": columns,
               "partition_columns": partition_columns}
