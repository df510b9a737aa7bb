"""Lanczos eigenpairs and stochastic Lanczos quadrature (spectral densities).

The Lanczos process builds, from a start vector :math:`v_1`, an orthonormal
basis :math:`V_m` of the Krylov space
:math:`\\mathcal{K}_m(A, v_1)` and the tridiagonal
:math:`T_m = V_m^T A V_m` (diagonal :math:`\\alpha_j`, off-diagonal
:math:`\\beta_j`).  Here every new vector is fully reorthogonalized against
the basis (twice), so the Ritz values do not acquire spurious copies.

* :func:`lanczos` returns extreme eigenpairs of a symmetric operator, with the
  residual bound :math:`|\\beta_m s_{mi}|` as stopping test.
* :func:`stochastic_lanczos_quadrature` turns :math:`m` Lanczos steps from a
  normalized random probe :math:`v` into a Gauss quadrature rule
  :math:`v^T f(A) v \\approx \\sum_l \\tau_l f(\\theta_l)`, with nodes
  :math:`\\theta_l` the eigenvalues of :math:`T_m` and weights
  :math:`\\tau_l` the squared first components of its eigenvectors.
  Averaged over probes it approximates the spectral measure
  :math:`\\frac1n \\sum_i \\delta_{\\lambda_i}`; the moments
  :math:`\\sum_l w_l \\theta_l^p \\approx \\frac1n \\operatorname{tr}(A^p)` are
  exact per probe for :math:`p \\le 2m - 1`.
* :func:`spectral_density` broadens those nodes with Gaussians of width
  :math:`\\sigma` on a grid (Lin, Saad, Yang 2016; Ghorbani, Krishnan, Xiao
  2019).

Both routines first check symmetry on a random pair :math:`u, v`:
:math:`|u^T A v - v^T A u| \\le \\text{tol}\\,(\\|u\\|\\|Av\\| + \\|v\\|\\|Au\\|)`.
"""
import warnings

import numpy as np
from scipy.linalg import eigh_tridiagonal

from .operators import (
    _check_int,
    _check_positive_float,
    _operator_and_dimension,
    as_generator,
)
from .trace_estimators import _rademacher

__all__ = ["lanczos", "stochastic_lanczos_quadrature", "spectral_density"]

_WHICH = ("LA", "SA", "both")


def _check_symmetric(op, n, rng, tolerance, argument="Aop"):
    """Raise ``ValueError`` if ``u.Av`` and ``v.Au`` differ for random u, v."""
    UV = rng.standard_normal((n, 2))
    AUV = np.asarray(op.matmat(UV))
    u, v = UV[:, 0], UV[:, 1]
    Au, Av = AUV[:, 0], AUV[:, 1]
    u_Av = float(np.dot(u, Av))
    v_Au = float(np.dot(v, Au))
    scale = (np.linalg.norm(u) * np.linalg.norm(Av)
             + np.linalg.norm(v) * np.linalg.norm(Au))
    if abs(u_Av - v_Au) > tolerance * scale:
        raise ValueError(
            f"'{argument}' is not symmetric: on random vectors u, v, "
            f"u.Av = {u_Av:.6e} but v.Au = {v_Au:.6e} (relative difference "
            f"{abs(u_Av - v_Au) / scale:.2e} > {tolerance:.1e}). Lanczos needs a "
            "symmetric operator; use a Gauss-Newton or symmetrized operator."
        )


def _symmetric_generator(op, n, seed, symmetry_tolerance):
    """Validate ``symmetry_tolerance``, check ``op`` for symmetry, return the generator.

    The symmetry probes are the first draws of the returned generator.
    """
    if symmetry_tolerance is None:
        # Round-off of the operator's own precision: 1e-8 for float64, ~1e-4 for float32.
        symmetry_tolerance = max(1e-8, 1e3 * float(np.finfo(np.dtype(op.dtype)).eps)) \
            if np.issubdtype(np.dtype(op.dtype), np.floating) else 1e-8
    symmetry_tolerance = _check_positive_float(symmetry_tolerance,
                                               "symmetry_tolerance")
    rng = as_generator(seed)
    _check_symmetric(op, n, rng, symmetry_tolerance)
    return rng


def _wanted(values, k, which):
    """Indices (into ascending ``values``) of the ``k`` wanted Ritz values."""
    m = values.shape[0]
    if which == "LA":
        return np.arange(m - min(k, m), m)
    if which == "SA":
        return np.arange(min(k, m))
    high = min((k + 1) // 2, m)
    low = min(k // 2, m - high)
    return np.concatenate([np.arange(low), np.arange(m - high, m)])


def _orthogonalize(V, w):
    """Remove the components of ``w`` along the columns of ``V``, twice."""
    w = w - V @ (V.T @ w)
    return w - V @ (V.T @ w)


def lanczos(Aop, n, k, which="LA", max_iterations=None, seed=0, tolerance=1e-10,
            symmetry_tolerance=None):
    """Extreme eigenpairs of a symmetric operator by Lanczos (full reorthogonalization).

    Parameters
    ----------
    Aop : ndarray, LinearOperator or operator
        Symmetric operator of shape ``(n, n)``; any form accepted by
        :func:`~hessianlearn.algorithms.operators.as_operator`.
    n : int
        Dimension.
    k : int
        Number of eigenpairs, ``1 <= k <= n``.
    which : {'LA', 'SA', 'both'}
        Largest algebraic, smallest algebraic, or both ends (as ARPACK's
        ``'BE'``: ``ceil(k/2)`` largest and ``floor(k/2)`` smallest).
    max_iterations : int, optional
        Maximum Lanczos steps (operator products), default ``n``.
    seed : int, numpy.random.Generator or None
        Seed of the start vector and symmetry probes; a ``Generator`` is
        used and advanced.
    tolerance : float
        Stop when every wanted Ritz pair has residual bound
        :math:`|\\beta_m s_{mi}| \\le \\text{tolerance} \\cdot
        \\max_l |\\theta_l|`.
    symmetry_tolerance : float, optional
        Relative tolerance of the symmetry check (2 extra operator columns);
        default ``max(1e-8, 1000 eps)`` of the operator's dtype (1e-8 in float64).

    Returns
    -------
    eigenvalues : ndarray, shape (k,)
        In ascending order (as ``numpy.linalg.eigh``).
    eigenvectors : ndarray, shape (n, k)
        Orthonormal columns, matching ``eigenvalues``.

    Raises
    ------
    ValueError
        If the operator is detected non-symmetric, ``k`` is not in
        ``[1, n]``, ``which`` is unknown, or shapes do not match.

    Warns
    -----
    RuntimeWarning
        If ``max_iterations`` steps end before the wanted pairs converge (the
        current Ritz approximations are returned).

    Notes
    -----
    When the Krylov space becomes invariant (:math:`\\beta_m \\le
    \\text{tolerance}` relative to the largest :math:`|\\alpha| + \\beta`
    seen), the process restarts with a random vector orthogonal to the basis
    instead of stopping, so that further copies of a repeated eigenvalue can
    be found (a single start vector sees only one).  In floating point a
    clustered rest of the spectrum can delay the detection of invariance, and
    copies may then still be missed; for operators with few distinct
    eigenvalues the process may run up to ``max_iterations`` steps.

    Examples
    --------
    >>> import numpy as np
    >>> A = np.diag(np.arange(1.0, 11.0))
    >>> values, vectors = lanczos(A, 10, 3)
    >>> np.round(values, 8)
    array([ 8.,  9., 10.])
    """
    op, n = _operator_and_dimension(Aop, n, "Aop")
    k = _check_int(k, "k")
    if k > n:
        raise ValueError(f"'k' = {k} must not exceed the dimension n = {n}.")
    if which not in _WHICH:
        raise ValueError(f"'which' must be one of {_WHICH}, got {which!r}.")
    max_iterations = n if max_iterations is None else _check_int(
        max_iterations, "max_iterations")
    max_iterations = min(max_iterations, n)
    tolerance = _check_positive_float(tolerance, "tolerance")
    rng = _symmetric_generator(op, n, seed, symmetry_tolerance)

    V = np.zeros((n, max_iterations))
    alphas = np.zeros(max_iterations)
    betas = np.zeros(max_iterations)
    v = rng.standard_normal(n)
    V[:, 0] = v / np.linalg.norm(v)
    scale = 0.0
    converged = False
    steps = 0
    values = vectors = None
    for j in range(max_iterations):
        steps = j + 1
        w = np.asarray(op.matvec(V[:, j])).reshape(-1).astype(float)
        alphas[j] = float(np.dot(V[:, j], w))
        w = _orthogonalize(V[:, :j + 1], w)
        beta = float(np.linalg.norm(w))
        scale = max(scale, abs(alphas[j]) + beta + (betas[j - 1] if j else 0.0))
        # The Krylov space is (numerically) invariant: restart rather than stop,
        # so that further copies of repeated eigenvalues can still be found.
        breakdown = beta <= max(tolerance, 100.0 * np.finfo(float).eps) * max(
            scale, 1e-300)
        if steps >= k and not breakdown:
            values, vectors = eigh_tridiagonal(alphas[:steps], betas[:steps - 1])
            wanted = _wanted(values, k, which)
            bound = np.abs(beta * vectors[-1, wanted])
            if np.all(bound <= tolerance * max(np.max(np.abs(values)), 1e-300)):
                converged = True
                break
        if steps == max_iterations:
            if steps == n:
                converged = True
            break
        if breakdown:
            # Invariant subspace: continue from a fresh orthogonal direction.
            betas[j] = 0.0
            w = _orthogonalize(V[:, :steps], rng.standard_normal(n))
            V[:, j + 1] = w / np.linalg.norm(w)
        else:
            betas[j] = beta
            V[:, j + 1] = w / beta
    values, vectors = eigh_tridiagonal(alphas[:steps], betas[:steps - 1])
    wanted = _wanted(values, k, which)
    if not converged:
        warnings.warn(
            f"lanczos: the {k} wanted eigenpairs did not converge to tolerance "
            f"{tolerance:.1e} in {steps} steps; returning the current Ritz pairs. "
            "Increase max_iterations.",
            RuntimeWarning,
            stacklevel=2,
        )
    return values[wanted], V[:, :steps] @ vectors[:, wanted]


def stochastic_lanczos_quadrature(Aop, n, probes=10, lanczos_steps=30, seed=0,
                                  symmetry_tolerance=None):
    """Gauss quadrature nodes and weights of the spectral measure of ``Aop``.

    Runs ``lanczos_steps`` Lanczos steps (full reorthogonalization) from
    each of ``probes`` normalized Rademacher vectors, all probes at once
    through ``matmat``.

    Parameters
    ----------
    Aop : ndarray, LinearOperator or operator
        Symmetric operator of shape ``(n, n)``; any form accepted by
        :func:`~hessianlearn.algorithms.operators.as_operator`.
    n : int
        Dimension.
    probes : int
        Number of random start vectors, ``>= 1``.
    lanczos_steps : int
        Lanczos steps per probe, ``>= 1`` (at most ``n`` are taken; fewer if
        a probe's Krylov space becomes invariant, which makes its rule exact).
    seed : int, numpy.random.Generator or None
        Seed of the probes; a ``Generator`` is used and advanced.
    symmetry_tolerance : float, optional
        Relative tolerance of the symmetry check; default ``max(1e-8, 1000 eps)``
        of the operator's dtype.

    Returns
    -------
    nodes : ndarray, shape (q,)
        Ritz values of all probes, concatenated.
    weights : ndarray, shape (q,)
        Nonnegative weights summing to 1; moments follow as
        ``np.sum(weights * nodes**p)`` :math:`\\approx \\operatorname{tr}(A^p)/n`.

    Raises
    ------
    ValueError
        If ``probes <= 0``, ``lanczos_steps <= 0``, the operator is
        non-symmetric, or shapes do not match.

    Notes
    -----
    Cost: ``probes * lanczos_steps`` operator columns (plus 2 for the
    symmetry check).
    """
    op, n = _operator_and_dimension(Aop, n, "Aop")
    probes = _check_int(probes, "probes")
    steps = min(_check_int(lanczos_steps, "lanczos_steps"), n)
    rng = _symmetric_generator(op, n, seed, symmetry_tolerance)

    Z = _rademacher(rng, n, probes) / np.sqrt(n)
    basis = np.zeros((steps, n, probes))
    basis[0] = Z
    alphas = np.zeros((steps, probes))
    betas = np.zeros((steps, probes))
    lengths = np.full(probes, steps)
    active = np.ones(probes, dtype=bool)
    scale = np.zeros(probes)
    for j in range(steps):
        W = np.asarray(op.matmat(basis[j])).astype(float)
        alphas[j] = np.where(active, np.einsum("nc,nc->c", basis[j], W), 0.0)
        for _ in range(2):
            coefficients = np.einsum("knc,nc->kc", basis[:j + 1], W)
            W = W - np.einsum("knc,kc->nc", basis[:j + 1], coefficients)
        beta = np.linalg.norm(W, axis=0)
        previous = betas[j - 1] if j else np.zeros(probes)
        scale = np.maximum(scale, np.abs(alphas[j]) + beta + previous)
        if j == steps - 1:
            break
        broken = active & (beta <= 100.0 * np.finfo(float).eps * scale)
        lengths[broken] = j + 1
        active &= ~broken
        betas[j] = np.where(active, beta, 0.0)
        safe = np.where(active, beta, 1.0)
        basis[j + 1] = np.where(active, W / safe, 0.0)

    nodes = []
    weights = []
    for c in range(probes):
        m = lengths[c]
        theta, S = eigh_tridiagonal(alphas[:m, c], betas[:m - 1, c])
        nodes.append(theta)
        weights.append(S[0, :] ** 2 / probes)
    return np.concatenate(nodes), np.concatenate(weights)


def spectral_density(Aop, n, probes=10, lanczos_steps=30, grid=None, sigma=None,
                     seed=0, num_points=1000):
    """Gaussian-broadened spectral density of ``Aop`` by stochastic Lanczos quadrature.

    .. math::

        \\phi(t) \\propto \\sum_l w_l \\,
        \\frac{1}{\\sqrt{2\\pi}\\sigma}
        \\exp\\!\\Big(-\\frac{(t - \\theta_l)^2}{2\\sigma^2}\\Big),

    with :math:`(\\theta_l, w_l)` from :func:`stochastic_lanczos_quadrature`,
    normalized so that its trapezoidal integral over ``grid`` is 1.

    Parameters
    ----------
    Aop : ndarray, LinearOperator or operator
        Symmetric operator of shape ``(n, n)``; any form accepted by
        :func:`~hessianlearn.algorithms.operators.as_operator`.
    n : int
        Dimension.
    probes, lanczos_steps : int
        See :func:`stochastic_lanczos_quadrature`.
    grid : ndarray, shape (g,), optional
        Strictly increasing evaluation points (at least 2).  Default:
        ``num_points`` points from ``min(nodes) - 5 sigma`` to
        ``max(nodes) + 5 sigma``.
    sigma : float, optional
        Broadening width > 0.  Default: 1% of the node range (or of
        ``max(1, |node|)`` if all nodes coincide).
    seed : int, numpy.random.Generator or None
        Seed of the probes; a ``Generator`` is used and advanced.
    num_points : int
        Size of the default grid.

    Returns
    -------
    grid : ndarray, shape (g,)
    density : ndarray, shape (g,)
        Nonnegative, integrating to 1 over ``grid`` (trapezoidal rule).

    Raises
    ------
    ValueError
        If ``probes <= 0``, ``sigma <= 0``, ``grid`` is not a strictly
        increasing 1-D array, the grid misses the spectrum entirely, or the
        operator is non-symmetric.
    """
    nodes, weights = stochastic_lanczos_quadrature(
        Aop, n, probes=probes, lanczos_steps=lanczos_steps, seed=seed)
    low, high = float(np.min(nodes)), float(np.max(nodes))
    if sigma is None:
        spread = high - low
        sigma = 0.01 * (spread if spread > 0 else max(1.0, abs(high)))
    sigma = _check_positive_float(sigma, "sigma")
    if grid is None:
        num_points = _check_int(num_points, "num_points", minimum=2)
        grid = np.linspace(low - 5.0 * sigma, high + 5.0 * sigma, num_points)
    else:
        grid = np.array(grid, dtype=float)
        if grid.ndim != 1 or grid.size < 2 or np.any(np.diff(grid) <= 0):
            raise ValueError(
                "'grid' must be a strictly increasing 1-D array of at least two "
                f"points, got shape {grid.shape}."
            )
    offsets = (grid[:, None] - nodes[None, :]) / sigma
    density = np.exp(-0.5 * offsets ** 2) @ weights / (np.sqrt(2.0 * np.pi) * sigma)
    total = float(np.trapezoid(density, grid))
    if not total > 0:
        raise ValueError(
            "The spectral density vanishes on 'grid': the grid does not cover "
            f"the spectrum estimate [{low:.3e}, {high:.3e}]. Widen the grid or "
            "leave it as None."
        )
    return grid, density / total
