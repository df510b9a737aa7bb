"""Gradient descent: ``w <- w - alpha g`` (SGD on mini-batches), optionally with Armijo."""
from ..utilities.parameter_list import ParameterList
from .optimizer import Optimizer, line_search_parameters

__all__ = ["GradientDescent", "ParametersGradientDescent"]


def ParametersGradientDescent():
    """A fresh ``ParameterList`` of :class:`GradientDescent` settings."""
    entries = {
        "alpha": [1e-3, "Fixed step length (globalization None); line searches start at line_search_alpha"],
        "globalization": [None, "None (fixed step alpha) or 'line_search' (Armijo on the batch)"],
        "hessian_type": ["hessian", "Curvature operator (unused by the direction; kept for H)"],
        "seed": [0, "Seed of the optimizer's random generator"],
    }
    entries.update(line_search_parameters())
    return ParameterList(entries)


class GradientDescent(Optimizer):
    """Steepest descent ``p = -g``, ``w <- w + alpha p``.

    With ``globalization=None`` this is (stochastic) gradient descent with a fixed
    step; with ``'line_search'`` the step is chosen by Armijo backtracking from
    ``line_search_alpha`` (1.0) on the gradient batch. Costs ``[1, 0]`` sweeps per fixed step.
    See :class:`~hessianlearn.algorithms.optimizer.Optimizer` for the arguments.
    """

    globalizations = (None, "line_search")

    @classmethod
    def default_parameters(cls):
        return ParametersGradientDescent()

    def _step(self, feed_dict, hessian_feed_dict, loss, g):
        return self._globalize(feed_dict, loss, g, -g)
