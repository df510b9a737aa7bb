"""Adam: bias-corrected first and second moment estimates of the gradient."""
import numpy as np

from .._internals import session_config
from ..utilities.parameter_list import ParameterList
from ..utilities.step_math import adam_update
from .optimizer import Optimizer, _check_decay, _check_positive, fused_step_parameters

__all__ = ["Adam", "ParametersAdam"]


def ParametersAdam():
    """A fresh ``ParameterList`` of :class:`Adam` settings."""
    return ParameterList({
        "alpha": [1e-3, "Learning rate"],
        "beta_1": [0.9, "Decay of the first moment estimate, in [0, 1)"],
        "beta_2": [0.999, "Decay of the second moment estimate, in [0, 1)"],
        "epsilon": [1e-7, "Denominator offset, > 0"],
        "hessian_type": ["hessian", "Curvature operator (unused by the direction; kept for H)"],
        "seed": [0, "Seed of the optimizer's random generator"],
        **fused_step_parameters("Fused: the gradient and the Adam update in one session run "
                                "(moments kept in the graph)"),
    })


class Adam(Optimizer):
    """Adam (Kingma & Ba, arXiv:1412.6980) with a fixed learning rate.

    At iteration ``t = 1, 2, ...`` with gradient ``g_t``:

    .. math::

        m_t = \\beta_1 m_{t-1} + (1 - \\beta_1) g_t, \\quad
        v_t = \\beta_2 v_{t-1} + (1 - \\beta_2) g_t^2, \\\\
        \\hat m_t = m_t / (1 - \\beta_1^t), \\quad \\hat v_t = v_t / (1 - \\beta_2^t), \\\\
        w_t = w_{t-1} - \\alpha\\, \\hat m_t / (\\sqrt{\\hat v_t} + \\epsilon),

    elementwise, ``m_0 = v_0 = 0``. Costs ``[1, 0]`` sweeps per step. The moments
    are the attributes ``m`` and ``v`` (shape ``(dimension,)``, ``None`` before
    the first step).

    With ``parameters['fused_step']`` (``'auto'`` by default: single process)
    the evaluation and the update are one session run of :class:`~hessianlearn.problem.fused_steps.FusedAdamStep`
    (same step to round-off); the moments then live in the graph and reading
    ``m`` or ``v`` fetches them.
    """

    uses_hessian_batch = False  # first-order: no curvature

    #: ``m`` and ``v`` read the graph's moments while the fused step holds them
    state_attributes = Optimizer.state_attributes + ("m", "v")

    @classmethod
    def default_parameters(cls):
        return ParametersAdam()

    def load_state_dict(self, state):
        """Restore a :meth:`state_dict`; the moments go to the host (the fused step loads them
        into its graph variables at its next run)."""
        self._fused = None
        super().load_state_dict(state)

    def __init__(self, problem, regularization=None, sess=None, parameters=None, comm=None):
        self._m = self._v = None
        self._fused = None  # the FusedAdamStep holding the moments, while they live in the graph
        super().__init__(problem, regularization, sess, parameters, comm)

    def _moment(self, name):
        if self._fused is not None:
            return self.sess.run(getattr(self._fused, name)).astype(np.float64)
        return getattr(self, "_" + name)

    @property
    def m(self):
        """First moment estimate, shape ``(dimension,)`` (``None`` before the first step)."""
        return self._moment("m")

    @m.setter
    def m(self, value):
        self._m = value

    @property
    def v(self):
        """Second moment estimate, shape ``(dimension,)`` (``None`` before the first step)."""
        return self._moment("v")

    @v.setter
    def v(self, value):
        self._v = value

    @property
    def sess(self):
        return Optimizer.sess.fget(self)

    @sess.setter
    def sess(self, sess):
        if getattr(self, "_fused", None) is not None:  # keep the moments when the session changes
            old = self._sess
            if old is not None and getattr(old, "_closed", False):
                raise ValueError(
                    "Adam's moments lived in the graph of a session that is now closed, so they "
                    "are lost: take optimizer.state_dict() before closing the session and "
                    "load_state_dict() after setting the new one, or build a new Adam.")
            if old is not None:
                self._m, self._v = self.m, self.v
            self._fused = None
        Optimizer.sess.fset(self, sess)

    def _check_parameters(self):
        super()._check_parameters()
        _check_decay(self.parameters)
        _check_positive(self.parameters["epsilon"], "epsilon")

    def _fast_path_unsupported(self):
        return None

    def _step(self, feed_dict, hessian_feed_dict, loss, g):
        beta_1 = float(self.parameters["beta_1"])
        beta_2 = float(self.parameters["beta_2"])
        t = self.iter + 1
        if self._fused is not None:  # switched back from the fused step: moments to the host
            self._m, self._v, self._fused = self.m, self.v, None
        m, v, p = adam_update(self.m, self.v, g, t, beta_1, beta_2, float(self.parameters["epsilon"]))
        info = self._globalize(feed_dict, loss, g, p)
        self.m, self.v = m, v
        return info

    # ------------------------------------------------------------------ fused step
    _sequence_method = "adam"

    @property
    def supports_step_sequences(self):
        return self.uses_fast_path and not self._no_step_sequences

    def _fused_form(self):
        """FusedAdamStep's keywords for this session, chosen when the step takes the moments:
        with one intra-op thread asked for, TensorFlow's per-tensor kernel (it cannot split
        there and runs fewer ops), else the flat form; the same bits either way. TensorFlow
        sizes its pool at a process's first session, so for a later session that asked for
        another size the choice may not fit the pool: a matter of speed only."""
        config = session_config(self.sess)
        return {"flat": config is None or config.intra_op_parallelism_threads != 1}

    def _fused_single_step(self):
        if self._fused is None:
            step = self._fused_graph("adam", **self._fused_form())
            if self._m is None:
                step.reset(self.sess)
            else:  # continue from host-side moments
                step.load(self.sess, self._m, self._v)
            self._fused = step
        return self._fused

    def _fused_scalars(self):
        p = self.parameters
        return {"alpha": float(p["alpha"]), "beta_1": float(p["beta_1"]),
                "beta_2": float(p["beta_2"]), "epsilon": float(p["epsilon"]), "t": self.iter + 1}

    def minimize(self, feed_dict, hessian_feed_dict=None):
        """One Adam step (see :meth:`Optimizer.minimize`); one session run on the fast path."""
        if not self.uses_fast_path:
            return super().minimize(feed_dict, hessian_feed_dict)
        return self._fused_minimize(feed_dict)
