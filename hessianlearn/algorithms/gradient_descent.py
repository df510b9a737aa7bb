"""Gradient descent: ``w <- w - alpha g`` (SGD on mini-batches), optionally with Armijo."""
from ..problem.graph_walks import unseen_feeds
from ..utilities.parameter_list import ParameterList
from ..utilities.reduction import evaluate
from .optimizer import Optimizer, _check_feed, fused_step_parameters, line_search_parameters

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
    entries.update(fused_step_parameters("Fused: the gradient and the update (fixed step) or the "
                                         "whole Armijo line search in one session run"))
    return ParameterList(entries)


class GradientDescent(Optimizer):
    """Steepest descent ``p = -g``, ``w <- w + alpha p``.

    With ``globalization=None`` this is (stochastic) gradient descent with a fixed
    step; with ``'line_search'`` the step is chosen by Armijo backtracking from
    ``line_search_alpha`` (1.0) on the gradient batch. Costs ``[1, 0]`` sweeps per fixed step.
    See :class:`~hessianlearn.algorithms.optimizer.Optimizer` for the arguments.

    With ``fused_step`` (``'auto'`` by default: single process) the evaluation and
    the update are one session run of
    :class:`~hessianlearn.problem.fused_steps.FusedGradientDescentStep` (fixed
    step) or :class:`~hessianlearn.problem.fused_steps.FusedArmijoGradientDescentStep`
    (the whole line search), with the same steps.
    """

    _sequence_method = "sgd"

    uses_hessian_batch = False  # first-order: no curvature

    globalizations = (None, "line_search")

    @classmethod
    def default_parameters(cls):
        return ParametersGradientDescent()

    _no_armijo_graph = False  # set once the problem's loss graph proved impossible to copy

    def _fast_path_unsupported(self):
        if self.globalization == "line_search" and self._no_armijo_graph:
            return ("globalization 'line_search' on this problem (its loss graph holds control "
                    "flow or random draws, which the in-graph line search cannot copy)")
        return None

    @property
    def supports_step_sequences(self):
        return self.uses_fast_path and self.globalization is None and not self._no_step_sequences

    def _fused_single_step(self):
        return self._fused_graph("sgd")

    def _fused_scalars(self):
        return {"alpha": float(self.parameters["alpha"])}

    def minimize(self, feed_dict, hessian_feed_dict=None):
        """One step (see :meth:`Optimizer.minimize`); one session run on the fast path."""
        if not self.uses_fast_path:
            return super().minimize(feed_dict, hessian_feed_dict)
        if self.globalization == "line_search":
            return self._fused_line_search(feed_dict, hessian_feed_dict)
        return self._fused_minimize(feed_dict)

    def _fused_line_search(self, feed_dict, hessian_feed_dict):
        """The Armijo step in one session run (:class:`~hessianlearn.problem.fused_steps.FusedArmijoGradientDescentStep`)."""
        if self.sess is None:
            raise ValueError("sess is None: pass sess= to the constructor or set optimizer.sess "
                             "before calling minimize.")
        self._check_parameters()
        try:
            step = self._fused_graph("armijo_gd")
        except ValueError:  # the loss graph cannot be copied: the reference path from now on
            self._no_armijo_graph = True
            self._check_parameters()  # fused_step True now raises, naming the reason
            return super().minimize(feed_dict, hessian_feed_dict)
        feed = _check_feed(feed_dict, "feed_dict")
        if unseen_feeds(feed, step.copied, step.placeholders):  # the trials' copy would not see them
            return super().minimize(feed_dict, hessian_feed_dict)
        p = self.parameters
        out = evaluate(self.sess, step.fetches, step.feed(
            feed, float(p["line_search_alpha"]), float(p["c_armijo"]),
            float(p["backtracking_factor"]), int(p["max_backtrack"])))
        info = self._fused_record(out)
        backtracks = int(out["backtracks"])
        self.sweeps[0] += 0.5 * (backtracks + 1)  # the trials' loss evaluations
        self.alpha = float(out["alpha"])
        info.update({"alpha": self.alpha, "backtracks": backtracks, "accepted": self.alpha > 0.0,
                     "steepest_descent_fallback": False})
        return info

    def _step(self, feed_dict, hessian_feed_dict, loss, g):
        return self._globalize(feed_dict, loss, g, -g)
