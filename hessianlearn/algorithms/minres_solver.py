"""MINRES for symmetric (possibly indefinite) systems, on scipy's ``minres``.

Solves :math:`A x = b` for symmetric :math:`A` over any operator form
accepted by :func:`~hessianlearn.algorithms.operators.as_operator`, with the
same ``solve(A, b, x0=None) -> (x, info)`` interface as
:class:`~hessianlearn.algorithms.cg_solver.CGSolver`.  Unlike CG, MINRES does
not break down on indefinite Hessians.
"""
import numpy as np
from scipy.sparse.linalg import minres

from ..utilities.parameter_list import ParameterList
from .cg_solver import SolverInfo
from .operators import (
    _check_int,
    _check_positive_float,
    _check_vector,
    _operator_and_vector,
)

__all__ = ["ParametersMINRESSolver", "MINRESSolver"]


def ParametersMINRESSolver():
    """Return a fresh :class:`ParameterList` of MINRES settings.

    Keys
    ----
    rel_tolerance : float
        Relative tolerance :math:`\\eta` passed to scipy as ``rtol``.
    abs_tolerance : float
        Absolute floor; scipy's ``minres`` has no ``atol``, so the relative
        tolerance used is :math:`\\max(\\eta, \\text{abs\\_tolerance}/\\|b\\|)`.
    max_iterations : int
        Maximum number of MINRES iterations.
    shift : float
        Solve :math:`(A - \\sigma I) x = b` instead.
    """
    return ParameterList({
        "rel_tolerance": [1e-6, "Relative residual tolerance"],
        "abs_tolerance": [1e-12, "Absolute residual tolerance floor"],
        "max_iterations": [1000, "Maximum number of MINRES iterations"],
        "shift": [0.0, "Shift sigma: solve (A - sigma I) x = b"],
    })


class MINRESSolver:
    """MINRES, :math:`\\min_{x \\in x_0 + K_j} \\|b - A x\\|_2` for symmetric A.

    Parameters
    ----------
    parameters : ParameterList, optional
        Settings from :func:`ParametersMINRESSolver` (copied; defaults if
        ``None``).

    Notes
    -----
    Built on ``scipy.sparse.linalg.minres`` (``rtol`` keyword).  scipy's
    stopping test also involves an estimate of :math:`\\|A\\|`, so
    ``info.converged`` reports scipy's verdict; ``info.residual_norm`` is the
    true residual :math:`\\|b - A x\\|` (one extra operator product).

    Examples
    --------
    >>> import numpy as np
    >>> A = np.array([[2.0, 0.0], [0.0, -1.0]])
    >>> x, info = MINRESSolver().solve(A, np.array([2.0, 1.0]))
    >>> bool(np.allclose(x, [1.0, -1.0])), info.converged
    (True, True)
    """

    def __init__(self, parameters=None):
        if parameters is None:
            parameters = ParametersMINRESSolver()
        elif not isinstance(parameters, ParameterList):
            raise TypeError(
                "'parameters' must be a ParameterList from "
                f"ParametersMINRESSolver(), got {type(parameters).__name__}."
            )
        self.parameters = parameters.copy()

    def solve(self, A, b, x0=None):
        """Solve :math:`(A - \\sigma I) x = b` (:math:`\\sigma` = ``shift``, default 0).

        Parameters
        ----------
        A : ndarray, LinearOperator or operator
            Symmetric operator of shape ``(n, n)`` in any form accepted by
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
        shift = float(params["shift"])
        b_norm = float(np.linalg.norm(b))
        rtol = rel_tolerance
        if b_norm > 0:
            rtol = max(rel_tolerance, abs_tolerance / b_norm)
        tolerance = max(rel_tolerance * b_norm, abs_tolerance)

        count = [0]

        def counter(_x):
            count[0] += 1

        x, flag = minres(op, b.copy(), x0=x0, rtol=rtol, shift=shift,
                         maxiter=max_iterations, callback=counter)
        residual = b - op.matvec(x)
        if shift != 0.0:
            residual = residual + shift * x
        if flag == 0:
            reason = "tolerance"
        elif flag > 0:
            reason = "max_iterations"
        else:
            reason = "breakdown"
        info = SolverInfo(iterations=count[0], converged=flag == 0, reason=reason,
                          residual_norm=float(np.linalg.norm(residual)),
                          tolerance=tolerance, relative_tolerance=rtol)
        return x, info
