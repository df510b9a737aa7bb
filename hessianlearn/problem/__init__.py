"""Graphs: losses, gradients, Hessian and Gauss-Newton actions, regularization, and the
numpy-facing curvature operators over them."""
from .._exports import export_modules

_MODULES = (
    "problem", "regression_problem", "autoencoder_problem", "classification_problem",
    "variational_autoencoder_problem", "generative_adversarial_network_problem",
    "h1_regression_problem", "keras_model_problem",
    "regularization",
    "curvature_operator", "hessian", "gauss_newton_operator", "fused_steps",
    "preconditioner",
)

__all__ = export_modules(__name__, _MODULES, globals())
