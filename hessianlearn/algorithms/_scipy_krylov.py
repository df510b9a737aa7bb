"""Shared machinery of the Krylov solvers that wrap scipy (GMRES, MINRES).

Both solvers copy a :class:`ParameterList`, validate ``A``, ``b``, ``x0`` and
the common settings ``rel_tolerance``, ``abs_tolerance``, ``max_iterations``
the same way, count scipy's iterations through its ``callback`` and turn
scipy's exit flag into a :class:`~hessianlearn.algorithms.cg_solver.SolverInfo`.
Only the scipy call and its solver-specific settings differ.
"""
import numpy as np

from .cg_solver import SolverInfo, _copy_solver_parameters
from .operators import (
    _check_int,
    _check_positive_float,
    _check_vector,
    _operator_and_vector,
)

__all__ = []


class _ScipyKrylovSolver:
    """Base of the scipy-wrapped solvers; subclasses set ``_default_parameters``.

    ``_default_parameters`` is the factory of the subclass's settings (e.g.
    ``staticmethod(ParametersGMRESSolver)``); it gives the defaults and names
    the expected type in the error for a wrong ``parameters``.
    """

    _default_parameters = None

    def __init__(self, parameters=None):
        self.parameters = _copy_solver_parameters(parameters, self._default_parameters)

    def _common_settings(self, A, b, x0):
        """Validated ``(op, b, x0, rel_tolerance, abs_tolerance, max_iterations)``.

        ``x0`` is a copy (or ``None``); ``b`` is never written to.
        """
        op, b = _operator_and_vector(A, b)
        if x0 is not None:
            x0 = _check_vector(x0, b.shape[0], "x0").copy()
        params = self.parameters
        rel_tolerance = _check_positive_float(params["rel_tolerance"],
                                              "rel_tolerance", allow_zero=True)
        abs_tolerance = _check_positive_float(params["abs_tolerance"],
                                              "abs_tolerance", allow_zero=True)
        max_iterations = _check_int(params["max_iterations"], "max_iterations")
        return op, b, x0, rel_tolerance, abs_tolerance, max_iterations


def _counted_solve(scipy_solver, op, b, **options):
    """Run ``scipy_solver(op, b.copy(), callback=..., **options)``.

    Returns ``(x, flag, iterations)``, ``iterations`` being the number of
    callback calls (one per scipy iteration).
    """
    count = [0]

    def counter(_state):
        count[0] += 1

    x, flag = scipy_solver(op, b.copy(), callback=counter, **options)
    return x, flag, count[0]


def _scipy_solver_info(flag, iterations, residual, tolerance, relative_tolerance):
    """:class:`SolverInfo` from scipy's exit ``flag`` and the true ``residual``.

    ``flag`` 0 is ``'tolerance'`` (converged), positive ``'max_iterations'``,
    negative ``'breakdown'``.
    """
    if flag == 0:
        reason = "tolerance"
    elif flag > 0:
        reason = "max_iterations"
    else:
        reason = "breakdown"
    return SolverInfo(iterations=iterations, converged=flag == 0, reason=reason,
                      residual_norm=float(np.linalg.norm(residual)),
                      tolerance=tolerance, relative_tolerance=relative_tolerance)
