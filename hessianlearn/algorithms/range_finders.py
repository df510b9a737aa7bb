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
import inspect
from collections.abc import Mapping

import numpy as np

from .operators import (
    _bind_form,
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
    :math:`\\|(I - QQ^T) A\\|_2` over all ``block_size`` images, and the
    running largest image norm.
    """
    omega = rng.standard_normal((Q.shape[0], block_size))
    Y = np.asarray(op.matmat(omega))
    scale = max(scale, float(np.max(np.linalg.norm(Y, axis=0))))
    Y = _project_out(Q, Y)
    estimate = _PROBE_CONSTANT * float(np.max(np.linalg.norm(Y, axis=0)))
    new = _orthonormal_block(Q, Y[:, :width], scale)
    return new, estimate, scale


def _block_range_finder(Aop, n, epsilon, block_size, max_vectors=None, seed=0,
                        return_info=False, verbose=False):
    """The operator form of :func:`block_range_finder` (documented there)."""
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
        if verbose:
            print("At iteration", blocks, "error estimate is", estimate,
                  "converged =", estimate <= epsilon)
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


def _noise_aware_on_partitions(Aop, partition_ops, block_size, noise_tolerance, epsilon,
                               max_vectors=None, seed=0, return_info=False, verbose=False):
    """The operator form of :func:`noise_aware_adaptive_range_finder` (documented there)."""
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
        if verbose:
            print("At iteration", len(ratios), "error estimate is", estimate,
                  "noise ratio is", ratio)
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


class _BoundCurvature:
    """``x -> Hessian(x, feed_dict)`` with the ``dimension`` (and ``dtype``) of ``Hessian``."""

    def __init__(self, hessian, feed_dict):
        self._hessian = hessian
        self._feed_dict = feed_dict
        self.dimension = hessian.dimension
        if hasattr(hessian, "dtype"):
            self.dtype = hessian.dtype

    def __call__(self, x):
        return self._hessian(x, self._feed_dict)

    def quadratics(self, X):
        """Column-wise :math:`x_i^T H x_i` of ``X`` (``(n, b)``) on this batch."""
        if hasattr(self._hessian, "quadratics"):
            return np.asarray(self._hessian.quadratics(X, self._feed_dict), dtype=np.float64)
        return np.einsum("ij,ij->j", X, np.asarray(self(X), dtype=np.float64))


def _noise_aware_on_feed_dicts(Hessian, hessian_feed_dict, rq_estimator_dict_list,
                               block_size=None, noise_tolerance=1.0, epsilon=1e-1,
                               max_vectors=20, verbose=False, seed=0):
    """The feed-dictionary form of :func:`noise_aware_adaptive_range_finder` (see there)."""
    if not callable(Hessian) or not hasattr(Hessian, "dimension"):
        raise TypeError(
            "'Hessian' must be a curvature operator with an int 'dimension' and "
            "__call__(x, feed_dict) (e.g. hessianlearn's Hessian), got "
            f"{type(Hessian).__name__}.")
    if not isinstance(hessian_feed_dict, Mapping):
        raise TypeError("'hessian_feed_dict' must be a dict of placeholders to data, got "
                        f"{type(hessian_feed_dict).__name__}.")
    if not isinstance(rq_estimator_dict_list, (list, tuple)):
        raise TypeError("'rq_estimator_dict_list' must be a list of feed dicts (one per data "
                        f"partition), got {type(rq_estimator_dict_list).__name__}.")
    if len(rq_estimator_dict_list) < 2:
        raise ValueError("'rq_estimator_dict_list' needs at least two feed dicts to measure the "
                         f"spread of Rayleigh quotients, got {len(rq_estimator_dict_list)}.")
    for j, feed in enumerate(rq_estimator_dict_list):
        if not isinstance(feed, Mapping):
            raise TypeError(f"'rq_estimator_dict_list[{j}]' must be a feed dict, got "
                            f"{type(feed).__name__}.")
    op = as_operator(_BoundCurvature(Hessian, hessian_feed_dict), "Hessian")
    n = op.shape[0]
    if block_size is None:
        block_size = max(1, int(0.01 * n))
    block_size = _check_int(block_size, "block_size")
    noise_tolerance = _check_positive_float(noise_tolerance, "noise_tolerance", allow_zero=True)
    epsilon = _check_positive_float(epsilon, "epsilon", allow_zero=True)
    max_vectors = min(_check_int(max_vectors, "max_vectors"), n)
    rng = as_generator(seed)
    partitions = [_BoundCurvature(Hessian, feed) for feed in rq_estimator_dict_list]

    Q = np.zeros((n, 0))
    scale = 0.0
    iteration = 0
    while Q.shape[1] < max_vectors:
        width = min(block_size, max_vectors - Q.shape[1])
        new, estimate, scale = _probe_block(op, Q, rng, block_size, width, scale)
        if new.shape[1] == 0:
            break
        Q = np.hstack([Q, new])
        iteration += 1
        quotients = np.array([P.quadratics(new) for P in partitions])
        with np.errstate(divide="ignore", invalid="ignore"):
            snr = np.abs(quotients.mean(axis=0)) / quotients.std(axis=0)
        too_noisy = bool(np.any(snr < noise_tolerance))
        if verbose:
            print("At iteration", iteration, "operator error estimate is", estimate,
                  "convergence =", estimate <= epsilon, ", smallest snr =", float(np.min(snr)))
        if estimate <= epsilon or too_noisy:
            break
    return Q


_BLOCK_FORM = inspect.signature(_block_range_finder)


def _block_original_form(A_op, n, epsilon, block_size, verbose=False, seed=0):
    return _block_range_finder(A_op, n, epsilon, block_size, seed=seed, verbose=verbose)


_BLOCK_ORIGINAL_FORM = inspect.signature(_block_original_form)


def block_range_finder(*args, **kwargs):
    """Adaptive blocked randomized range finder.

    ::

        block_range_finder(Aop, n, epsilon, block_size, max_vectors=None, seed=0,
                           return_info=False, verbose=False) -> Q[, info]
        block_range_finder(A_op, n, epsilon, block_size, verbose=False, seed=0) -> Q

    The second line is the call form of the original hessianlearn (chosen when
    the fifth positional argument is a bool or ``A_op=`` is given); both run
    the same algorithm.  Grows :math:`Q` until the probe estimate of
    :math:`\\|(I - QQ^T) A\\|_2` is at most ``epsilon`` (see the module
    notes), or ``max_vectors`` columns are reached, or the range is exhausted.

    Parameters
    ----------
    Aop, A_op : ndarray, LinearOperator or operator
        Operator of shape ``(n, n)``; any form accepted by
        :func:`~hessianlearn.algorithms.operators.as_operator` (a plain
        callable mapping ``(n,) -> (n,)`` and ``(n, k) -> (n, k)``).
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
    verbose : bool
        Print the error estimate after every block (nothing is printed otherwise).

    Returns
    -------
    Q : ndarray, shape (n, m)
        Orthonormal basis, ``m <= max_vectors``.
    info : dict, only if ``return_info``
        ``'error_estimate'`` (last probe estimate, before its block was
        added), ``'reason'`` (``'epsilon'``, ``'max_vectors'`` or
        ``'exhausted'``), ``'operator_columns'`` (number of operator
        columns applied), ``'blocks'``.

    Raises
    ------
    TypeError
        Unknown keyword or too many positional arguments (named in the message).
    ValueError
        Out-of-range arguments or shapes (named in the message).

    Notes
    -----
    The block that passes the error test has already been computed, so it
    is added to :math:`Q` as well (it can only reduce the error).
    """
    original = "A_op" in kwargs or (len(args) >= 5 and isinstance(args[4], (bool, np.bool_)))
    if original:
        bound = _bind_form("block_range_finder", "original", _BLOCK_ORIGINAL_FORM, args, kwargs)
        return _block_original_form(*bound.args, **bound.kwargs)
    bound = _bind_form("block_range_finder", "operator", _BLOCK_FORM, args, kwargs)
    return _block_range_finder(*bound.args, **bound.kwargs)


_NOISE_AWARE_FORM = inspect.signature(_noise_aware_on_partitions)
_NOISE_AWARE_FEED_FORM = inspect.signature(_noise_aware_on_feed_dicts)
_NOISE_AWARE_FEED_KEYWORDS = {"Hessian", "hessian_feed_dict", "rq_estimator_dict_list"}


def noise_aware_adaptive_range_finder(*args, **kwargs):
    """Range finder that stops when new directions see only sampling noise.

    Two call forms, chosen by the second argument (a feed dict, or a list of
    operators)::

        noise_aware_adaptive_range_finder(Aop, partition_ops, block_size, noise_tolerance,
                                          epsilon, max_vectors=None, seed=0,
                                          return_info=False, verbose=False) -> Q[, info]
        noise_aware_adaptive_range_finder(Hessian, hessian_feed_dict, rq_estimator_dict_list,
                                          block_size=None, noise_tolerance=1.0, epsilon=0.1,
                                          max_vectors=20, verbose=False, seed=0) -> Q

    **Operator form.** ``Aop`` is the full-batch operator and
    ``partition_ops`` at least two operators of the same shape (the Hessian
    on disjoint sub-batches), in any form of
    :func:`~hessianlearn.algorithms.operators.as_operator` (a plain callable
    is not enough for ``Aop``: its dimension is unknown).  :math:`Q` grows
    blockwise as in :func:`block_range_finder`; for each new orthonormal block
    :math:`[q_1, \\dots, q_b]` the Rayleigh quotients
    :math:`\\rho_{ji} = q_i^T A_j q_i` on the partitions have per-direction
    mean :math:`\\mu_i` and sample std :math:`s_i` (``ddof=1``); the block is
    noise, and the search stops *without adding it*, when
    :math:`\\operatorname{mean}_i s_i > \\text{noise\\_tolerance} \\cdot
    \\operatorname{mean}_i |\\mu_i|`.  ``return_info`` adds a dict with
    ``'reason'`` (``'noise'``, ``'epsilon'``, ``'max_vectors'``,
    ``'exhausted'``), ``'error_estimate'``, ``'noise_ratios'``,
    ``'operator_columns'`` and ``'partition_columns'``.

    **Feed-dictionary form** (the original hessianlearn's).  ``Hessian`` is a
    curvature operator such as :class:`~hessianlearn.problem.hessian.Hessian`
    (``dimension``, ``Hessian(x, feed_dict)``, optionally
    ``quadratics(X, feed_dict)``); ``hessian_feed_dict`` the Hessian batch and
    ``rq_estimator_dict_list`` a list of at least two feed dicts on which the
    Rayleigh quotients are sampled.  ``block_size`` defaults to
    ``max(1, int(0.01 n))``.  Each new block is added to :math:`Q`; the search
    stops when some direction of it has signal-to-noise ratio
    :math:`|\\mu_i| / s_i` (population std) below ``noise_tolerance``, when the
    error estimate is at most ``epsilon``, at ``max_vectors`` columns, or when
    the range is exhausted.

    In both forms the error estimate is the probe estimate of
    :math:`\\|(I-QQ^T)A\\|_2` of :func:`block_range_finder`, ``seed`` (an int or
    a ``numpy.random.Generator``) seeds the probes, and ``verbose`` prints one
    line per block (nothing is printed otherwise).

    Returns
    -------
    Q : ndarray, shape (n, m)
        Orthonormal basis.

    Raises
    ------
    TypeError
        Unknown keyword, too many positional arguments, or an argument of the
        wrong type (named in the message).
    ValueError
        Fewer than two partitions, mismatched shapes, out-of-range values.
    """
    feed_form = (bool(_NOISE_AWARE_FEED_KEYWORDS & set(kwargs))
                 or (len(args) >= 2 and isinstance(args[1], Mapping)))
    if feed_form:
        bound = _bind_form("noise_aware_adaptive_range_finder", "feed-dictionary",
                           _NOISE_AWARE_FEED_FORM, args, kwargs)
        return _noise_aware_on_feed_dicts(*bound.args, **bound.kwargs)
    bound = _bind_form("noise_aware_adaptive_range_finder", "operator", _NOISE_AWARE_FORM,
                       args, kwargs)
    return _noise_aware_on_partitions(*bound.args, **bound.kwargs)
