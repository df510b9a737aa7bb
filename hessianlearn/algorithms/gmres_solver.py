"""GMRES for (possibly nonsymmetric or indefinite) systems, on scipy's ``gmres``.

Solves :math:`A x = b` by restarted GMRES(m) over any operator form accepted
by :func:`~hessianlearn.algorithms.operators.as_operator`, with the same
``solve(A, b, x0=None) -> (x, info)`` interface as
:class:`~hessianlearn.algorithms.cg_solver.CGSolver`.
"""
import numpy as np
from scipy.sparse.linalg import gmres

from ..utilities.parameter_list import ParameterList
from .cg_solver import SolverInfo
from .operators import (
    _check_int,
    _check_positive_float,
    _check_vector,
    _operator_and_vector,
)

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


class GMRESSolver:
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

    def __init__(self, parameters=None):
        if parameters is None:
            parameters = ParametersGMRESSolver()
        elif not isinstance(parameters, ParameterList):
            raise TypeError(
                "'parameters' must be a ParameterList from "
                f"ParametersGMRESSolver(), got {type(parameters).__name__}."
            )
        self.parameters = parameters.copy()

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
        op, b = _operator_and_vector(A, b)
        n = b.shape[0]
        if x0 is not None:
            x0 = _check_vector(x0, n, "x0").copy()
        params = self.parameters
        rel_tolerance = _check_positive_float(params["rel_tolerance"],
                                              "rel_tolerance", allow_zero=True)
        abs_tolerance = _check_positive_float(params["abs_tolerance"],
                                              "abs_tolerance", allow_zero=True)
        max_iterations = _check_int(params["max_iterations"], "max_iterations")
        restart = min(_check_int(params["restart"], "restart"), max_iterations)
        outer = -(-max_iterations // restart)
        tolerance = max(rel_tolerance * float(np.linalg.norm(b)), abs_tolerance)

        count = [0]

        def counter(_residual):
            count[0] += 1

        x, flag = gmres(op, b.copy(), x0=x0, rtol=rel_tolerance,
                        atol=abs_tolerance, restart=restart, maxiter=outer,
                        callback=counter, callback_type="pr_norm")
        residual_norm = float(np.linalg.norm(b - op.matvec(x)))
        if flag == 0:
            reason = "tolerance"
        elif flag > 0:
            reason = "max_iterations"
        else:
            reason = "breakdown"
        info = SolverInfo(iterations=count[0], converged=flag == 0, reason=reason,
                          residual_norm=residual_norm, tolerance=tolerance,
                          relative_tolerance=rel_tolerance)
        return x, info
