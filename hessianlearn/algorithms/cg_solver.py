"""Conjugate gradient for Newton systems: forcing terms, negative curvature, Steihaug.

Solves :math:`A x = b` for a symmetric operator :math:`A` (typically the
Hessian :math:`H_k`, with :math:`b = -g_k`) and returns ``(x, info)``.  The
solver is the inner loop of inexact Newton-CG (O'Leary-Roseberry, Alger,
Ghattas, arXiv:1905.06738):

* the relative tolerance may be an Eisenstat--Walker forcing term
  :math:`\\eta_k` (``eta_mode`` 1 or 2) instead of a fixed value;
* when a direction of non-positive curvature :math:`p^T A p \\le 0` is met the
  iteration stops and returns the last iterate (or :math:`b` itself at the
  first iteration), which is still a descent direction for the model;
* with a ``trust_region_radius`` :math:`\\Delta` it becomes Steihaug's
  truncated CG: negative curvature or leaving the region returns the point
  :math:`x + \\tau p` on the boundary :math:`\\|x + \\tau p\\| = \\Delta`,
  :math:`\\tau > 0`.
"""
from dataclasses import dataclass

import numpy as np

from ..utilities.parameter_list import ParameterList
from ..utilities.step_math import cg_advance, cg_next_direction, forcing_term
from .operators import (
    _check_positive_float,
    _check_vector,
    _operator_and_vector,
)

__all__ = [
    "ParametersCGSolver",
    "CGSolver",
    "SolverInfo",
    "eisenstat_walker_forcing_term",
]

_GOLDEN = 0.5 * (1.0 + np.sqrt(5.0))


@dataclass(frozen=True)
class SolverInfo:
    """Outcome of a Krylov solve (shared by CG, GMRES and MINRES).

    Attributes
    ----------
    iterations : int
        Number of Krylov iterations performed (operator products, not
        counting the one for a nonzero initial guess).
    converged : bool
        ``True`` if the residual tolerance was met.
    reason : str
        Why the solver stopped: ``'tolerance'``, ``'negative_curvature'``,
        ``'trust_region_boundary'``, ``'max_iterations'`` or (scipy solvers)
        ``'breakdown'``.
    residual_norm : float
        :math:`\\|b - A x\\|_2` of the returned ``x`` (CG: the recursively
        updated residual, which equals it up to rounding).
    tolerance : float
        The absolute residual tolerance that was used,
        :math:`\\max(\\eta \\|b\\|, \\text{abs\\_tolerance})`.
    relative_tolerance : float
        The relative tolerance :math:`\\eta` that was used (the forcing term
        in Eisenstat--Walker modes).
    """

    iterations: int
    converged: bool
    reason: str
    residual_norm: float
    tolerance: float
    relative_tolerance: float


def _copy_solver_parameters(parameters, default_parameters):
    """Return a copy of ``parameters``, or ``default_parameters()`` if ``None``.

    Shared by the Krylov solvers' constructors; ``default_parameters`` is the
    solver's ``Parameters*Solver`` factory, named in the ``TypeError`` for
    anything that is not a :class:`ParameterList`.
    """
    if parameters is None:
        parameters = default_parameters()
    elif not isinstance(parameters, ParameterList):
        raise TypeError(
            "'parameters' must be a ParameterList from "
            f"{default_parameters.__name__}(), got {type(parameters).__name__}."
        )
    return parameters.copy()


def ParametersCGSolver():
    """Return a fresh :class:`ParameterList` of CG solver settings.

    Keys
    ----
    rel_tolerance : float
        Relative residual tolerance :math:`\\eta` (``eta_mode`` 0), and the
        initial forcing term in modes 1 and 2 (before two gradient norms are
        known).
    abs_tolerance : float
        Absolute residual floor; the solve stops once
        :math:`\\|r\\| \\le \\max(\\eta\\|b\\|, \\text{abs\\_tolerance})`.
    max_iterations : int
        Maximum number of CG iterations.
    eta_mode : int
        0: fixed ``rel_tolerance``; 1, 2: Eisenstat--Walker choices, see
        :func:`eisenstat_walker_forcing_term`.
    ew_gamma, ew_alpha : float
        Parameters of Eisenstat--Walker choice 2.
    eta_max : float
        Upper bound on the forcing term (modes 1 and 2).
    trust_region_radius : float or None
        Steihaug trust-region radius :math:`\\Delta`; ``None`` for plain
        (negative-curvature-truncated) CG.
    """
    return ParameterList({
        "rel_tolerance": [1e-6, "Relative residual tolerance eta (eta_mode 0; "
                                "initial forcing term in modes 1, 2)"],
        "abs_tolerance": [1e-12, "Absolute residual tolerance floor"],
        "max_iterations": [1000, "Maximum number of CG iterations"],
        "eta_mode": [0, "Forcing term: 0 fixed rel_tolerance, 1 and 2 "
                        "Eisenstat-Walker choices"],
        "ew_gamma": [0.9, "Eisenstat-Walker choice 2 factor gamma in (0, 1]"],
        "ew_alpha": [0.5 * (1.0 + np.sqrt(5.0)),
                     "Eisenstat-Walker choice 2 exponent alpha in (1, 2]"],
        "eta_max": [0.9, "Upper bound on the Eisenstat-Walker forcing term"],
        "trust_region_radius": [None, "Steihaug trust-region radius, None for "
                                      "no trust region"],
    })


def eisenstat_walker_forcing_term(
    eta_mode,
    grad_norm,
    previous_grad_norm,
    previous_linear_residual=None,
    previous_eta=None,
    gamma=0.9,
    alpha=_GOLDEN,
    eta_max=0.9,
):
    """Eisenstat--Walker forcing term :math:`\\eta_k` for inexact Newton.

    With :math:`g_k` the current gradient and
    :math:`r_{k-1} = g_{k-1} + H_{k-1} p_{k-1}` the final residual of the
    previous linear solve:

    * choice 1 (``eta_mode=1``):
      :math:`\\eta_k = \\big|\\, \\|g_k\\| - \\|r_{k-1}\\| \\,\\big| / \\|g_{k-1}\\|`,
      safeguarded by :math:`\\eta_k \\leftarrow \\max(\\eta_k,
      \\eta_{k-1}^{(1+\\sqrt 5)/2})` when
      :math:`\\eta_{k-1}^{(1+\\sqrt 5)/2} > 0.1`;
    * choice 2 (``eta_mode=2``):
      :math:`\\eta_k = \\gamma (\\|g_k\\| / \\|g_{k-1}\\|)^{\\alpha}`,
      safeguarded by :math:`\\eta_k \\leftarrow \\max(\\eta_k,
      \\gamma \\eta_{k-1}^{\\alpha})` when
      :math:`\\gamma \\eta_{k-1}^{\\alpha} > 0.1`.

    The result is clipped to ``[0, eta_max]``.

    Parameters
    ----------
    eta_mode : {1, 2}
    grad_norm, previous_grad_norm : float
        :math:`\\|g_k\\|` and :math:`\\|g_{k-1}\\|` (the latter > 0).
    previous_linear_residual : float, optional
        :math:`\\|r_{k-1}\\|`; required for choice 1.
    previous_eta : float, optional
        :math:`\\eta_{k-1}` for the safeguard; no safeguard if ``None``.
    gamma, alpha, eta_max : float
        Parameters of choice 2 and the upper bound.

    Returns
    -------
    float
        The forcing term :math:`\\eta_k`.

    References
    ----------
    S. C. Eisenstat and H. F. Walker, "Choosing the forcing terms in an
    inexact Newton method", SIAM J. Sci. Comput. 17 (1996).
    """
    if eta_mode not in (1, 2):
        raise ValueError(f"'eta_mode' must be 1 or 2 here, got {eta_mode!r}.")
    grad_norm = _check_positive_float(grad_norm, "grad_norm", allow_zero=True)
    previous_grad_norm = _check_positive_float(previous_grad_norm,
                                               "previous_grad_norm")
    if eta_mode == 1:
        if previous_linear_residual is None:
            raise ValueError(
                "Eisenstat-Walker choice 1 needs 'previous_linear_residual', "
                "the final residual norm of the previous linear solve."
            )
        previous_linear_residual = _check_positive_float(
            previous_linear_residual, "previous_linear_residual", allow_zero=True)
    with np.errstate(over="ignore"):  # a huge ratio: eta_max (both choices are evaluated)
        return float(forcing_term(np.float64(grad_norm), previous_grad_norm,
                                  previous_linear_residual or 0.0, eta_mode == 1,
                                  _safeguard(eta_mode, previous_eta, gamma, alpha),
                                  gamma, alpha, eta_max))


def _safeguard(eta_mode, previous_eta, gamma, alpha):
    """The forcing term's lower bound from ``eta_{k-1}``: ``eta_{k-1}^((1+sqrt 5)/2)``
    (choice 1) or ``gamma eta_{k-1}^alpha`` (choice 2) when it exceeds 0.1, else 0."""
    if previous_eta is None:
        return 0.0
    floor = previous_eta ** _GOLDEN if eta_mode == 1 else gamma * previous_eta ** alpha
    return floor if floor > 0.1 else 0.0


def _boundary_step(x, p, radius):
    """Return :math:`\\tau > 0` with :math:`\\|x + \\tau p\\| = \\Delta`.

    Solves :math:`(p^Tp)\\tau^2 + 2(x^Tp)\\tau + (x^Tx - \\Delta^2) = 0` for its
    positive root (it exists since :math:`\\|x\\| \\le \\Delta`), in a form that
    avoids cancellation.
    """
    pp = float(np.dot(p, p))
    xp = float(np.dot(x, p))
    gap = max(radius * radius - float(np.dot(x, x)), 0.0)
    root = np.sqrt(xp * xp + pp * gap)
    if xp > 0:
        return gap / (xp + root)
    return (root - xp) / pp


class CGSolver:
    """Conjugate gradient for symmetric systems :math:`A x = b` (Newton-CG).

    Parameters
    ----------
    parameters : ParameterList, optional
        Settings from :func:`ParametersCGSolver` (copied; defaults if
        ``None``).

    Notes
    -----
    Stopping test: :math:`\\|r_j\\| \\le \\max(\\eta \\|b\\|,
    \\text{abs\\_tolerance})` with :math:`r_j = b - A x_j`.  The relative
    tolerance :math:`\\eta` is ``rel_tolerance`` when ``eta_mode`` is 0.  In
    modes 1 and 2 it is the Eisenstat--Walker forcing term computed from the
    state given to :meth:`set_forcing_state` (call it once per Newton
    iteration, before :meth:`solve`); until a state is given,
    ``rel_tolerance`` is used.  The solver remembers the forcing term it used
    for the safeguard of the next one.

    Every call of :meth:`solve` costs one operator product per iteration
    (plus one for a nonzero ``x0``).

    Examples
    --------
    >>> import numpy as np
    >>> A = np.array([[4.0, 1.0], [1.0, 3.0]])
    >>> x, info = CGSolver().solve(A, np.array([1.0, 2.0]))
    >>> np.allclose(A @ x, [1.0, 2.0]), info.reason
    (True, 'tolerance')
    """

    def __init__(self, parameters=None):
        self.parameters = _copy_solver_parameters(parameters, ParametersCGSolver)
        self._forcing_state = None
        self._previous_eta = None

    def set_forcing_state(self, grad_norm, previous_grad_norm,
                          previous_linear_residual=None):
        """Give the Newton-iteration state that the forcing term needs.

        Parameters
        ----------
        grad_norm : float
            :math:`\\|g_k\\|`, the current gradient norm (the norm of ``b``).
        previous_grad_norm : float
            :math:`\\|g_{k-1}\\|`.
        previous_linear_residual : float, optional
            Final residual norm of the previous solve,
            ``info.residual_norm`` of the previous :meth:`solve` (required
            for ``eta_mode`` 1).
        """
        _check_positive_float(grad_norm, "grad_norm", allow_zero=True)
        _check_positive_float(previous_grad_norm, "previous_grad_norm")
        if previous_linear_residual is not None:
            _check_positive_float(previous_linear_residual,
                                  "previous_linear_residual", allow_zero=True)
        self._forcing_state = (grad_norm, previous_grad_norm,
                               previous_linear_residual)

    def relative_tolerance(self):
        """Return the relative tolerance :math:`\\eta` the next solve will use."""
        mode = self.parameters["eta_mode"]
        if mode not in (0, 1, 2):
            raise ValueError(f"Parameter 'eta_mode' must be 0, 1 or 2, got {mode!r}.")
        if mode == 0 or self._forcing_state is None:
            return float(self.parameters["rel_tolerance"])
        grad_norm, previous_grad_norm, previous_residual = self._forcing_state
        return eisenstat_walker_forcing_term(
            mode, grad_norm, previous_grad_norm, previous_residual,
            previous_eta=self._previous_eta,
            gamma=self.parameters["ew_gamma"],
            alpha=self.parameters["ew_alpha"],
            eta_max=self.parameters["eta_max"],
        )

    def forcing_law(self, previous_grad_norm=None, previous_linear_residual=None):
        """The next solve's relative tolerance as a function of ``||b||``, for a graph.

        With the previous gradient norm (and, for ``eta_mode`` 1, the previous residual)
        the next Newton iteration will pass to :meth:`set_forcing_state`, or ``None`` if it
        will not call it, returns the keywords of
        :func:`~hessianlearn.utilities.step_math.forcing_term` other than ``grad_norm``,
        plus ``fixed`` (True: the term is ``fixed_eta`` whatever ``||b||``) and
        ``abs_tolerance``. :meth:`relative_tolerance` after ``set_forcing_state(||b||,
        ...)`` is this law at ``||b||``, to round-off.
        """
        p = self.parameters
        law = {"fixed": True, "fixed_eta": 0.0, "previous_grad_norm": 1.0,
               "previous_residual": 0.0, "choice_1": False, "floor": 0.0,
               "gamma": float(p["ew_gamma"]), "alpha": float(p["ew_alpha"]),
               "eta_max": float(p["eta_max"]),
               "abs_tolerance": _check_positive_float(p["abs_tolerance"], "abs_tolerance",
                                                      allow_zero=True)}
        mode = p["eta_mode"]
        if mode in (1, 2) and previous_grad_norm is not None:
            if mode == 1 and previous_linear_residual is None:
                raise ValueError("Eisenstat-Walker choice 1 needs 'previous_linear_residual', "
                                 "the final residual norm of the previous linear solve.")
            law.update(fixed=False, previous_grad_norm=_check_positive_float(
                previous_grad_norm, "previous_grad_norm"), choice_1=mode == 1,
                       previous_residual=float(previous_linear_residual or 0.0),
                       floor=_safeguard(mode, self._previous_eta, law["gamma"], law["alpha"]))
        else:
            law["fixed_eta"] = self.relative_tolerance()
        return law

    def start_solve(self, b, norm_b=None):
        """``(eta, tolerance)`` of a solve of ``A x = b`` starting now: the relative
        tolerance :meth:`relative_tolerance` (remembered for the next forcing term's
        safeguard) and the absolute one ``max(eta ||b||, abs_tolerance)``. :meth:`solve`
        calls it; a solve done elsewhere (the fused in-graph CG) calls it instead, and may
        give ``norm_b`` (``||b||``) instead of ``b``."""
        abs_tolerance = _check_positive_float(self.parameters["abs_tolerance"],
                                              "abs_tolerance", allow_zero=True)
        eta = self.relative_tolerance()
        self._previous_eta = eta
        norm_b = float(np.linalg.norm(b)) if norm_b is None else float(norm_b)
        return eta, max(eta * norm_b, abs_tolerance)

    def solve(self, A, b, x0=None, callback=None):
        """Solve :math:`A x = b` by (truncated, optionally Steihaug) CG.

        Parameters
        ----------
        A : ndarray, LinearOperator or operator
            Symmetric operator of shape ``(n, n)``; any form accepted by
            :func:`~hessianlearn.algorithms.operators.as_operator` (a plain
            callable takes ``n`` from ``b``). It must not write into the vectors it is
            applied to (the first is ``b`` itself).
        b : ndarray, shape (n,)
            Right-hand side (never modified).
        x0 : ndarray, shape (n,), optional
            Initial guess (never modified); zero if ``None``.  With a trust
            region it must lie inside it.
        callback : callable, optional
            Called as ``callback(x)`` with a copy of the iterate after every
            iteration.

        Returns
        -------
        x : ndarray, shape (n,)
            Approximate solution, truncated step or boundary point.
        info : SolverInfo
            Iterations, convergence flag, stopping reason, residual norm.

        Raises
        ------
        ValueError
            If shapes do not match, a parameter is invalid, or ``x0`` lies
            outside the trust region.
        """
        op, b = _operator_and_vector(A, b)
        n = b.shape[0]
        params = self.parameters
        max_iterations = params["max_iterations"]
        if (isinstance(max_iterations, bool)
                or not isinstance(max_iterations, (int, np.integer))
                or max_iterations < 0):
            raise ValueError(
                "Parameter 'max_iterations' must be a non-negative int, got "
                f"{max_iterations!r}."
            )
        radius = params["trust_region_radius"]
        if radius is not None:
            radius = _check_positive_float(radius, "trust_region_radius")

        eta, tolerance = self.start_solve(b)

        def result(x, iterations, reason, residual_norm):
            info = SolverInfo(
                iterations=iterations,
                converged=reason == "tolerance",
                reason=reason,
                residual_norm=float(residual_norm),
                tolerance=tolerance,
                relative_tolerance=eta,
            )
            return x, info

        dtype = np.result_type(b.dtype, op.dtype, np.float64)
        if x0 is None:
            x = np.zeros(n, dtype=dtype)
            r = b.astype(dtype, copy=False)  # r and p are rebound, never written in place
        else:
            x = _check_vector(x0, n, "x0").astype(dtype, copy=True)
            if radius is not None and np.linalg.norm(x) > radius:
                raise ValueError(
                    f"'x0' has norm {np.linalg.norm(x):.3e}, outside the trust "
                    f"region of radius {radius:.3e}; start inside it (or at zero)."
                )
            r = b - op.matvec(x)
        rr = float(np.dot(r, r))
        if np.sqrt(rr) <= tolerance:
            return result(x, 0, "tolerance", np.sqrt(rr))
        p = r

        for iteration in range(max_iterations):
            Ap = np.asarray(op.matvec(p)).reshape(-1)
            pAp = float(np.dot(p, Ap))
            if pAp <= 0.0:
                if radius is not None:
                    tau = _boundary_step(x, p, radius)
                    r_boundary = r - tau * Ap
                    return result(x + tau * p, iteration + 1, "negative_curvature",
                                  np.linalg.norm(r_boundary))
                if iteration == 0 and x0 is None:
                    # No progress yet: return the steepest-descent direction b.
                    return result(b.astype(dtype, copy=True), 1,
                                  "negative_curvature", np.linalg.norm(b - Ap))
                return result(x, iteration + 1, "negative_curvature",
                              np.sqrt(rr))
            step = rr / pAp
            x_next, r_next = cg_advance(x, r, p, Ap, step)
            if radius is not None and np.linalg.norm(x_next) >= radius:
                tau = _boundary_step(x, p, radius)
                r_boundary = r - tau * Ap
                return result(x + tau * p, iteration + 1, "trust_region_boundary",
                              np.linalg.norm(r_boundary))
            x, r = x_next, r_next
            rr_next = float(np.dot(r, r))
            if callback is not None:
                callback(x.copy())
            if np.sqrt(rr_next) <= tolerance:
                return result(x, iteration + 1, "tolerance", np.sqrt(rr_next))
            p = cg_next_direction(r, rr_next, rr, p)
            rr = rr_next
        return result(x, max_iterations, "max_iterations", np.sqrt(rr))
