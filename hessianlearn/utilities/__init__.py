"""Utilities: parameter lists, finite-difference checks, plotting (matplotlib imported lazily),
the MPI helpers, prepared session runs and the eigensolvers' random test matrices."""
from .._exports import export_modules

_MODULES = ("parameter_list", "finite_difference_check", "plotting", "curvature_plots", "mpi",
            "session_callables", "random_matrices")

__all__ = export_modules(__name__, _MODULES, globals())
