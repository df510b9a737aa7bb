"""Gradient descent: ``w <- w - alpha g`` (SGD on mini-batches), optionally with Armijo."""
from ..utilities.parameter_list import ParameterList
from .optimizer import Optimizer, fused_step_parameters, line_search_parameters

__all__ = ["GradientDescent", "ParametersGradientDescent"]


def ParametersGradientDescent():
    """A fresh ``ParameterList`` of :class:`GradientDescent` settings."""
    entries = {
        "alpha": [1e-3, "Step length (fixed, or the first line-search trial)"],
        "globalization": [None, "None (fixed step alpha) or 'line_search' (Armijo on the batch)"],
        "hessian_type": ["hessian", "Curvature operator (unused by the direction; kept for H)"],
        "seed": [0, "Seed of the optimizer's random generator"],
    }
    entries.update(line_search_parameters())
    entries.update(fused_step_parameters("Fused (globalization None): the gradient and the update "
                                         "in one session run"))
    return ParameterList(entries)


class GradientDescent(Optimizer):
    """Steepest descent ``p = -g``, ``w <- w + alpha p``.

    With ``globalization=None`` this is (stochastic) gradient descent with a fixed
    step; with ``'line_search'`` the step is chosen by Armijo backtracking from
    ``alpha`` on the gradient batch. Costs ``[1, 0]`` sweeps per fixed step.
    See :class:`~hessianlearn.algorithms.optimizer.Optimizer` for the arguments.

    With a fixed step and ``fused_step`` (``'auto'`` by default: single process)
    the evaluation and the update are one session run of
    :class:`~hessianlearn.problem.fused_steps.FusedGradientDescentStep` (same step).
    """

    _sequence_method = "sgd"

    globalizations = (None, "line_search")

    @classmethod
    def default_parameters(cls):
        return ParametersGradientDescent()

    def _fast_path_unsupported(self):
        if self.globalization == "line_search":
            return "globalization 'line_search' (it needs globalization None)"
        return None

    @property
    def supports_step_sequences(self):
        return self.uses_fast_path and not self._no_step_sequences

    def _fused_single_step(self):
        return self._fused_graph("sgd")

    def _fused_scalars(self):
        return {"alpha": float(self.parameters["alpha"])}

    def minimize(self, feed_dict, hessian_feed_dict=None):
        """One step (see :meth:`Optimizer.minimize`); one session run on the fast path."""
        if not self.uses_fast_path:
            return super().minimize(feed_dict, hessian_feed_dict)
        return self._fused_minimize(feed_dict)

    def _step(self, feed_dict, hessian_feed_dict, loss, g):
        return self._globalize(feed_dict, loss, g, -g)
