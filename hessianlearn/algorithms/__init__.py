"""Numpy-side algorithms: Krylov solvers, randomized eigensolvers and range finders,
curvature estimators, globalizations and the optimizers built from them.

They see a curvature operator (anything :func:`as_operator` accepts) and, for the
optimizers, a problem's existing tensors and a session; they never build graphs.
"""
from .._exports import export_modules

_MODULES = (
    # linear algebra
    "operators", "cg_solver", "gmres_solver", "minres_solver",
    "randomized_eigensolver", "range_finders", "variance_based_nystrom",
    "trace_estimators", "lanczos",
    # globalization
    "armijo_line_search", "trust_region",
    # optimizers
    "optimizer", "gradient_descent", "adam",
    "inexact_newton_cg", "inexact_newton_gmres", "inexact_newton_minres",
    "low_rank_hessian", "low_rank_saddle_free_newton",
    # second-order optimizer lab
    "weight_diagonal", "adahessian", "sophia", "lbfgs", "hessian_free", "kfac",
)

__all__ = export_modules(__name__, _MODULES, globals())
