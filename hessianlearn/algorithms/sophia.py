"""Sophia-H (Liu, Li, Hall, Liang, Ma, arXiv:2305.14342): clipped diagonal Newton steps."""
import numpy as np

from ..utilities.parameter_list import ParameterList
from .optimizer import Optimizer, _check_count, _check_decay, _check_positive
from .weight_diagonal import hutchinson_weight_diagonal

__all__ = ["Sophia", "ParametersSophia"]


def ParametersSophia():
    """A fresh ``ParameterList`` of :class:`Sophia` settings (the paper's Sophia-H defaults)."""
    return ParameterList({
        "alpha": [1e-3, "Learning rate (the largest change of a weight per step)"],
        "beta_1": [0.96, "Decay of the gradient's moving average, in [0, 1)"],
        "beta_2": [0.99, "Decay of the diagonal's moving average (per refresh), in [0, 1)"],
        "gamma": [0.01, "Scale gamma of the diagonal in the clipped ratio m / max(gamma h, epsilon)"],
        "epsilon": [1e-12, "Floor of gamma h in the ratio"],
        "weight_decay": [0.0, "Decoupled weight decay: w <- (1 - alpha weight_decay) w before the step"],
        "hessian_frequency": [10, "Refresh the diagonal every k steps (k = hessian_frequency)"],
        "hessian_probes": [1, "Rademacher probes (Hessian-vector products) per refresh"],
        "hessian_type": ["hessian", "Curvature operator: 'hessian' or 'gauss_newton'"],
        "seed": [0, "Seed of the Rademacher probes (the generator advances at every refresh)"],
    })


class Sophia(Optimizer):
    """Sophia with the Hutchinson diagonal (Sophia-H).

    At iteration ``t = 0, 1, ...`` with gradient ``g_t``:

    .. math::

        m_t = \\beta_1 m_{t-1} + (1 - \\beta_1) g_t, \\\\
        h_t = \\beta_2 h_{t-k} + (1 - \\beta_2) \\hat h_t \\quad
              \\text{if } t \\bmod k = 0, \\text{ else } h_t = h_{t-1}, \\\\
        w \\leftarrow (1 - \\alpha \\lambda) w, \\quad
        w \\leftarrow w - \\alpha \\operatorname{clip}\\bigl(m_t / \\max(\\gamma h_t, \\epsilon), 1\\bigr),

    elementwise, ``m_{-1} = h_{-k} = 0``, ``clip(x, 1) = max(min(x, 1), -1)``,
    ``lambda = weight_decay``, ``k = hessian_frequency`` and :math:`\\hat h_t`
    the (signed) Hutchinson estimate of :math:`\\operatorname{diag} H` on the
    Hessian batch (:func:`~hessianlearn.algorithms.weight_diagonal.hutchinson_weight_diagonal`).
    Coordinates with ``h <= 0`` or a large ratio move by ``alpha`` in the
    direction of ``-m`` (a sign step).

    Sweeps per step: ``[1, hessian_probes]`` on a refresh step (``t mod k = 0``,
    including the first step), ``[1, 0]`` otherwise; so ``[1, probes / k]`` on average.

    Attributes
    ----------
    m, h : ndarray, shape (dimension,) or None
        The moving averages of the gradient and of the diagonal.
    """

    state_attributes = Optimizer.state_attributes + ("m", "h")

    @classmethod
    def default_parameters(cls):
        return ParametersSophia()

    def __init__(self, problem, regularization=None, sess=None, parameters=None, comm=None):
        super().__init__(problem, regularization, sess, parameters, comm)
        self.m = self.h = None

    def _check_parameters(self):
        super()._check_parameters()
        p = self.parameters
        _check_decay(p)
        _check_positive(p["gamma"], "gamma")
        _check_positive(p["epsilon"], "epsilon")
        _check_positive(p["weight_decay"], "weight_decay", allow_zero=True)
        _check_count(p["hessian_frequency"], "hessian_frequency")
        _check_count(p["hessian_probes"], "hessian_probes")

    def _step(self, feed_dict, hessian_feed_dict, loss, g):
        p = self.parameters
        beta_1, beta_2 = float(p["beta_1"]), float(p["beta_2"])
        alpha = float(p["alpha"])
        m = (1.0 - beta_1) * g if self.m is None else beta_1 * self.m + (1.0 - beta_1) * g
        h = np.zeros_like(g) if self.h is None else self.h
        refreshed = self.iter % int(p["hessian_frequency"]) == 0
        if refreshed:
            estimate, _ = hutchinson_weight_diagonal(
                self.hessian_operator(hessian_feed_dict), self.problem.dimension,
                probes=int(p["hessian_probes"]), seed=self.rng)
            h = beta_2 * h + (1.0 - beta_2) * estimate
        ratio = np.clip(m / np.maximum(float(p["gamma"]) * h, float(p["epsilon"])), -1.0, 1.0)
        step = -ratio
        if float(p["weight_decay"]) > 0.0:
            w = self.problem.get_weights(self.sess)
            step = step - float(p["weight_decay"]) * w
        self._check_step(step)
        self.problem.update_weights(self.sess, alpha * step)
        self.alpha = alpha
        self.m, self.h = m, h
        return {"hessian_refreshed": refreshed}
