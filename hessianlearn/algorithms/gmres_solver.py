"""GMRES for (possibly nonsymmetric or indefinite) systems, on scipy's ``gmres``.

Solves :math:`A x = b` by restarted GMRES(m) over any operator form accepted
by :func:`~hessianlearn.algorithms.operators.as_operator`, with the same
``solve(A, b, x0=None) -> (x, info)`` interface as
:class:`~hessianlearn.algorithms.cg_solver.CGSolver`.
"""
import numpy as np
from scipy.sparse.linalg import gmres

from ..utilities.parameter_list import ParameterList
from ._scipy_krylov import _counted_solve, _scipy_solver_info, _ScipyKrylovSolver
from .operators import _check_int

__all__ = ["ParametersGMRESSolver", "GMRESSolver"]


def ParametersGMRESSolver():
    """Return a fresh :class:`ParameterList` of GMRES settings.

    Keys
    ----
    rel_tolerance : float
        Relative residual tolerance :math:`\\eta`.
    abs_tolerance : float
        Absolute residual floor; GMRES stops once
        :math:`\\|b - A x\\| \\le \\max(\\eta \\|b\\|, \\text{abs\\_tolerance})`.
    max_iterations : int
        Maximum total number of inner (Arnoldi) iterations.
    restart : int
        Krylov dimension :math:`m` between restarts.
    """
    return ParameterList({
        "rel_tolerance": [1e-6, "Relative residual tolerance"],
        "abs_tolerance": [1e-12, "Absolute residual tolerance floor"],
        "max_iterations": [1000, "Maximum total number of GMRES iterations"],
        "restart": [50, "Krylov subspace dimension between restarts"],
    })


class GMRESSolver(_ScipyKrylovSolver):
    """Restarted GMRES, :math:`\\min_{x \\in x_0 + K_m} \\|b - A x\\|_2`.

    Parameters
    ----------
    parameters : ParameterList, optional
        Settings from :func:`ParametersGMRESSolver` (copied; defaults if
        ``None``).

    Notes
    -----
    Built on ``scipy.sparse.linalg.gmres`` (``rtol``/``atol`` keywords).
    After the solve one extra operator product computes the true residual
    reported in ``info.residual_norm``.

    Examples
    --------
    >>> import numpy as np
    >>> A = np.array([[2.0, 1.0], [0.0, 3.0]])
    >>> x, info = GMRESSolver().solve(A, np.array([1.0, 1.0]))
    >>> bool(np.allclose(A @ x, 1.0)), info.converged
    (True, True)
    """

    _default_parameters = staticmethod(ParametersGMRESSolver)

    def solve(self, A, b, x0=None):
        """Solve :math:`A x = b`.

        Parameters
        ----------
        A : ndarray, LinearOperator or operator
            Operator of shape ``(n, n)`` in any form accepted by
            :func:`~hessianlearn.algorithms.operators.as_operator`.
        b : ndarray, shape (n,)
            Right-hand side (never modified).
        x0 : ndarray, shape (n,), optional
            Initial guess (never modified); zero if ``None``.

        Returns
        -------
        x : ndarray, shape (n,)
        info : SolverInfo
            ``reason`` is ``'tolerance'``, ``'max_iterations'`` or
            ``'breakdown'``.
        """
        op, b, x0, rel_tolerance, abs_tolerance, max_iterations = (
            self._common_settings(A, b, x0))
        restart = min(_check_int(self.parameters["restart"], "restart"),
                      max_iterations)
        outer = -(-max_iterations // restart)
        tolerance = max(rel_tolerance * float(np.linalg.norm(b)), abs_tolerance)
        x, flag, iterations = _counted_solve(
            gmres, op, b, x0=x0, rtol=rel_tolerance, atol=abs_tolerance,
            restart=restart, maxiter=outer, callback_type="pr_norm")
        info = _scipy_solver_info(flag, iterations, b - op.matvec(x), tolerance,
                                  rel_tolerance)
        return x, info
