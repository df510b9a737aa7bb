"""Inexact Newton with GMRES on the curvature operator."""
from ..utilities.parameter_list import ParameterList
from .gmres_solver import GMRESSolver, ParametersGMRESSolver
from .optimizer import Optimizer, _check_count, _check_positive, line_search_parameters

__all__ = ["InexactNewtonGMRES", "ParametersInexactNewtonGMRES"]


def ParametersInexactNewtonGMRES():
    """A fresh ``ParameterList`` of :class:`InexactNewtonGMRES` settings."""
    entries = {
        "alpha": [1.0, "Step length (fixed, or the first line-search trial)"],
        "globalization": [None, "None (fixed step alpha) or 'line_search' (Armijo)"],
        "krylov_rel_tolerance": [0.5, "GMRES relative residual tolerance"],
        "krylov_abs_tolerance": [1e-12, "GMRES absolute residual floor"],
        "krylov_max_iter": [10, "Maximum GMRES iterations per step"],
        "hessian_type": ["hessian", "Curvature operator: 'hessian'"],
        "seed": [0, "Seed of the optimizer's random generator"],
    }
    entries.update(line_search_parameters())
    return ParameterList(entries)


class InexactNewtonGMRES(Optimizer):
    """Newton step ``H p = -g`` solved inexactly by GMRES (scipy), with a globalization.

    GMRES minimizes ``||H p + g||`` over the Krylov space and does not stop at
    negative curvature, so on indefinite Hessians ``p`` may be an ascent
    direction; the Armijo line search then falls back to ``-g``. Sweeps count
    every operator column GMRES applied, including the one for the true
    residual. See :class:`~hessianlearn.algorithms.optimizer.Optimizer`.
    """

    globalizations = (None, "line_search")
    _solver_class = GMRESSolver
    _solver_parameters = staticmethod(ParametersGMRESSolver)

    @classmethod
    def default_parameters(cls):
        return ParametersInexactNewtonGMRES()

    def __init__(self, problem, regularization=None, sess=None, parameters=None, comm=None):
        super().__init__(problem, regularization, sess, parameters, comm)
        self.solver = self._solver_class(self._solver_parameters())
        self.last_solver_info = None

    def _check_parameters(self):
        super()._check_parameters()
        _check_positive(self.parameters["krylov_rel_tolerance"], "krylov_rel_tolerance")
        _check_positive(self.parameters["krylov_abs_tolerance"], "krylov_abs_tolerance",
                        allow_zero=True)
        _check_count(self.parameters["krylov_max_iter"], "krylov_max_iter")

    def _step(self, feed_dict, hessian_feed_dict, loss, g):
        sp = self.solver.parameters
        sp["rel_tolerance"] = float(self.parameters["krylov_rel_tolerance"])
        sp["abs_tolerance"] = float(self.parameters["krylov_abs_tolerance"])
        sp["max_iterations"] = int(self.parameters["krylov_max_iter"])
        p, solver_info = self.solver.solve(self.hessian_operator(hessian_feed_dict), -g)
        self.last_solver_info = solver_info
        info = {"krylov_iterations": solver_info.iterations, "krylov_reason": solver_info.reason}
        info.update(self._globalize(feed_dict, loss, g, p))
        return info
