"""Stochastic trace and diagonal estimators with Rademacher probes.

For a square operator :math:`A` and i.i.d. Rademacher vectors
:math:`z \\in \\{-1, +1\\}^n` (so :math:`E[zz^T] = I`):

* Hutchinson: :math:`\\operatorname{tr} A \\approx \\frac1m \\sum_i z_i^T A z_i`;
* Hutch++ (Meyer, Musco, Musco, Woodruff 2021): capture a rank-:math:`m/3`
  range :math:`Q` of :math:`A S`, take :math:`\\operatorname{tr}(Q^TAQ)`
  exactly and Hutchinson on the deflated remainder
  :math:`(I-QQ^T)A(I-QQ^T)`;
* diagonal (Bekas, Kokiopoulou, Saad 2007):
  :math:`\\operatorname{diag} A \\approx \\frac1m \\sum_i z_i \\odot A z_i`.

Every estimate comes with its standard error, the sample standard deviation
of the per-probe terms (``ddof=1``) over :math:`\\sqrt{\\#\\text{terms}}`
(``nan`` with a single term).  Probes are applied in one ``matmat`` call.
"""
import numpy as np

from .operators import _check_int, _operator_and_dimension, as_generator

__all__ = ["hutchinson_trace", "hutchpp_trace", "hutchinson_diagonal"]


def _rademacher(rng, n, m):
    return rng.choice(np.array([-1.0, 1.0]), size=(n, m))


def _mean_and_error(samples, axis=-1):
    samples = np.asarray(samples)
    count = samples.shape[axis]
    mean = np.mean(samples, axis=axis)
    if count < 2:
        return mean, np.full(np.shape(mean), np.nan)[()]
    return mean, np.std(samples, axis=axis, ddof=1) / np.sqrt(count)


def _check_probes(probes):
    return _check_int(probes, "probes")


def _probe_products(Aop, n, probes, seed):
    """Rademacher probes ``Z`` and their images ``A Z``, both of shape (n, m).

    Validates the operator, ``n`` and ``probes``; one ``matmat`` call.
    """
    op, n = _operator_and_dimension(Aop, n, "Aop")
    probes = _check_probes(probes)
    rng = as_generator(seed)
    Z = _rademacher(rng, n, probes)
    return Z, np.asarray(op.matmat(Z))


def hutchinson_trace(Aop, n, probes, seed=0):
    """Hutchinson estimate of :math:`\\operatorname{tr} A`.

    Parameters
    ----------
    Aop : ndarray, LinearOperator or operator
        Square operator of shape ``(n, n)``; any form accepted by
        :func:`~hessianlearn.algorithms.operators.as_operator`.
    n : int
        Dimension.
    probes : int
        Number of Rademacher probes :math:`m \\ge 1` (operator columns).
    seed : int, numpy.random.Generator or None
        Seed of the probes; a ``Generator`` is used and advanced.

    Returns
    -------
    estimate : float
        :math:`\\frac1m \\sum_i z_i^T A z_i`.
    standard_error : float
        Sample std of the terms over :math:`\\sqrt m`; ``nan`` if ``m = 1``.

    Raises
    ------
    ValueError
        If ``probes <= 0`` or shapes do not match.

    Examples
    --------
    >>> import numpy as np
    >>> estimate, error = hutchinson_trace(np.eye(4), 4, probes=5)
    >>> float(estimate)
    4.0
    """
    Z, AZ = _probe_products(Aop, n, probes, seed)
    samples = np.einsum("ij,ij->j", Z, AZ)
    estimate, error = _mean_and_error(samples)
    return float(estimate), float(error)


def hutchpp_trace(Aop, n, probes, seed=0):
    """Hutch++ estimate of :math:`\\operatorname{tr} A`.

    With :math:`m` = ``probes`` and :math:`s = m/3`: Rademacher
    :math:`S, G \\in \\mathbb{R}^{n \\times s}`, :math:`Q = \\operatorname{orth}(AS)`,

    .. math::

        \\operatorname{tr} A \\approx \\operatorname{tr}(Q^T A Q)
        + \\frac1s \\sum_i g_i^T (I-QQ^T) A (I-QQ^T) g_i .

    Parameters
    ----------
    Aop : ndarray, LinearOperator or operator
        Square operator of shape ``(n, n)``; any form accepted by
        :func:`~hessianlearn.algorithms.operators.as_operator`.
    n : int
        Dimension.
    probes : int
        Total operator columns :math:`m`, a positive multiple of 3.
    seed : int, numpy.random.Generator or None
        Seed of the probes; a ``Generator`` is used and advanced.

    Returns
    -------
    estimate : float
    standard_error : float
        Standard error of the Hutchinson part (the deflated part is exact
        given :math:`Q`); ``nan`` if :math:`s = 1`.

    Raises
    ------
    ValueError
        If ``probes`` is not a positive multiple of 3, or shapes do not match.
    """
    op, n = _operator_and_dimension(Aop, n, "Aop")
    probes = _check_probes(probes)
    if probes % 3 != 0:
        raise ValueError(
            f"'probes' must be a multiple of 3 for Hutch++ (a third each for "
            f"the range, its projection and the remainder), got {probes}."
        )
    s = probes // 3
    rng = as_generator(seed)
    S = _rademacher(rng, n, s)
    G = _rademacher(rng, n, s)
    Q, _ = np.linalg.qr(np.asarray(op.matmat(S)))
    exact = float(np.trace(Q.T @ np.asarray(op.matmat(Q))))
    G = G - Q @ (Q.T @ G)
    AG = np.asarray(op.matmat(G))
    AG = AG - Q @ (Q.T @ AG)
    samples = np.einsum("ij,ij->j", G, AG)
    remainder, error = _mean_and_error(samples)
    return exact + float(remainder), float(error)


def hutchinson_diagonal(Aop, n, probes, seed=0):
    """Stochastic estimate of :math:`\\operatorname{diag} A`.

    Parameters
    ----------
    Aop : ndarray, LinearOperator or operator
        Square operator of shape ``(n, n)``; any form accepted by
        :func:`~hessianlearn.algorithms.operators.as_operator`.
    n : int
        Dimension.
    probes : int
        Number of Rademacher probes :math:`m \\ge 1`.
    seed : int, numpy.random.Generator or None
        Seed of the probes; a ``Generator`` is used and advanced.

    Returns
    -------
    diag_estimate : ndarray, shape (n,)
        :math:`\\frac1m \\sum_i z_i \\odot A z_i` (exact for diagonal
        :math:`A`).
    standard_error : ndarray, shape (n,)
        Entrywise standard error; ``nan`` if ``m = 1``.

    Raises
    ------
    ValueError
        If ``probes <= 0`` or shapes do not match.
    """
    Z, AZ = _probe_products(Aop, n, probes, seed)
    samples = Z * AZ
    estimate, error = _mean_and_error(samples, axis=1)
    return estimate, np.broadcast_to(error, estimate.shape).copy()
