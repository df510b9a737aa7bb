"""Shared base of inexact Newton with a scipy Krylov solver (GMRES, MINRES).

The step solves :math:`H p = -g` inexactly with the solver's relative
tolerance ``krylov_rel_tolerance``, absolute floor ``krylov_abs_tolerance``
and at most ``krylov_max_iter`` iterations, then globalizes ``p`` (fixed step
or Armijo line search).  The optimizers differ only in the solver class and
the solver name in their parameter descriptions.
"""
from ..utilities.parameter_list import ParameterList
from .optimizer import (Optimizer, _check_count, _check_positive, at_point_parameters,
                        line_search_parameters)

__all__ = []


def _krylov_newton_parameters(solver_name):
    """A fresh ``ParameterList`` of inexact Newton settings for ``solver_name``."""
    entries = {
        "alpha": [1.0, "Fixed step length (globalization None); line searches start at line_search_alpha"],
        "globalization": [None, "None (fixed step alpha) or 'line_search' (Armijo)"],
        "krylov_rel_tolerance": [0.5, f"{solver_name} relative residual tolerance"],
        "krylov_abs_tolerance": [1e-12, f"{solver_name} absolute residual floor"],
        "krylov_max_iter": [10, f"Maximum {solver_name} iterations per step"],
        "hessian_type": ["hessian", "Curvature operator: 'hessian'"],
        **at_point_parameters(),
        "seed": [0, "Seed of the optimizer's random generator"],
    }
    entries.update(line_search_parameters())
    return ParameterList(entries)


class _InexactNewtonKrylov(Optimizer):
    """Newton step ``H p = -g`` by a scipy Krylov solver; subclasses set the solver.

    ``_solver_class`` is the solver (``solve(A, b) -> (x, SolverInfo)``) and
    ``_solver_parameters`` the factory of its settings.
    """

    globalizations = (None, "line_search")
    state_attributes = Optimizer.state_attributes + ("last_solver_info",)
    _solver_class = None
    _solver_parameters = None

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
