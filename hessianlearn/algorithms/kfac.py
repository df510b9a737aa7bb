"""K-FAC (Martens & Grosse, arXiv:1503.05671; KFC for convolutions, Grosse & Martens 2016)."""
import numpy as np

from ..problem.kfac_factors import kfac_factors
from ..utilities.parameter_list import ParameterList
from ..utilities.reduction import count_samples
from .optimizer import Optimizer, _check_choice, _check_count, _check_positive

__all__ = ["KFAC", "ParametersKFAC"]

#: Valid values of ``parameters['fisher']``.
FISHER_MODES = ("sampled", "exact")


def ParametersKFAC():
    """A fresh ``ParameterList`` of :class:`KFAC` settings (the K-FAC paper's rules)."""
    return ParameterList({
        "alpha": [1.0, "Not a step length here: the step is rescaled by the quadratic model"],
        "damping": [1.0, "Initial damping lambda (Tikhonov, factored over A and G)"],
        "damping_min": [1e-8, "Smallest damping the reduction-ratio rule may reach"],
        "damping_adaptation_interval": [5, "Adapt lambda every T1 steps (omega = (19/20)^T1)"],
        "factor_decay": [0.95, "Moving-average decay of the factors: min(1 - 1/k, factor_decay) "
                               "at step k"],
        "inverse_frequency": [1, "Recompute the factors' eigendecompositions every T3 steps"],
        "fisher": ["sampled", "'sampled' (one Monte Carlo output noise per step: the Fisher) or "
                              "'exact' (every output direction: the exact Gauss-Newton factor G, "
                              "one backward pass per output entry)"],
        "hessian_type": ["gauss_newton", "Curvature of the step's quadratic model: 'gauss_newton'"],
        "seed": [0, "Seed of the sampled output noise (the generator advances every step)"],
    })


def _eigh(matrix):
    values, vectors = np.linalg.eigh(0.5 * (matrix + matrix.T))
    return np.maximum(values, 0.0), vectors


class KFAC(Optimizer):
    """Kronecker-factored approximate curvature for the model's Dense and Conv2D layers.

    The layers are found in the Keras model (``problem.NN``, nested models
    included); each layer's block of the Gauss-Newton matrix is approximated by
    ``A kron G`` (:mod:`hessianlearn.problem.kfac_factors`), computed on the
    Hessian batch and averaged over steps with decay ``min(1 - 1/k, 0.95)``. One
    step with gradient ``g``, damping ``lambda`` and the regularization's
    ``eta = gamma``:

    1. per layer, with ``Gbar`` the layer's gradient as the ``(rows, columns)``
       matrix of ``Wbar = [W; b^T]``, ``pi = ((tr A / rows) / (tr G / columns))^{1/2}``:
       ``Delta = -(A + pi (lambda + eta)^{1/2} I)^{-1} Gbar (G + (lambda + eta)^{1/2} / pi I)^{-1}``
       (factored Tikhonov damping; weights of other layers get ``Delta = -g``);
    2. ``w <- w + a Delta`` with the quadratic model's step
       ``a = -g^T Delta / (Delta^T C Delta + lambda ||Delta||^2)``, ``C`` the
       Gauss-Newton matrix plus ``eta I`` (one product);
    3. every ``T1`` steps, ``rho = (f(w + a Delta) - f(w)) / (a g^T Delta + a^2 Delta^T C Delta / 2)``
       on the gradient batch; ``lambda <- omega lambda`` if ``rho > 3/4``,
       ``lambda <- lambda / omega`` if ``rho < 1/4``, ``omega = (19/20)^{T1}``.

    A model without Dense or Conv2D layers raises ``ValueError`` naming the
    supported types; a problem without a Gauss-Newton form raises the
    Gauss-Newton operator's ``NotImplementedError``. Single process only.

    Sweeps per step: ``sweeps[1]`` gets one per factor pass on the Hessian batch (a
    forward pass and one backward pass to the layers' pre-activations; ``fisher
    'exact'`` makes one per loss term and output entry) plus one for ``C Delta``;
    ``sweeps[0]`` gets 1 for the gradient and 0.5 on damping-adaptation steps.

    Attributes
    ----------
    layers : list of KFACLayer
        The registered layers.
    factors : list of (ndarray, ndarray)
        The averaged ``(A, G)`` per layer (``None`` before the first step).
    damping : float
    """

    @classmethod
    def default_parameters(cls):
        return ParametersKFAC()

    def __init__(self, problem, regularization=None, sess=None, parameters=None, comm=None):
        super().__init__(problem, regularization, sess, parameters, comm)
        self.graph = kfac_factors(problem)
        self.layers = self.graph.layers
        self.factors = None
        self.damping = float(self.parameters["damping"])
        self._eigen = None

    def _check_parameters(self):
        super()._check_parameters()
        p = self.parameters
        if self.comm is not None:
            raise ValueError("KFAC runs in a single process: its factors are not reduced over "
                             "MPI ranks; pass comm=None.")
        _check_positive(p["damping"], "damping")
        _check_positive(p["damping_min"], "damping_min", allow_zero=True)
        _check_count(p["damping_adaptation_interval"], "damping_adaptation_interval")
        if not 0.0 <= _check_positive(p["factor_decay"], "factor_decay", allow_zero=True) < 1.0:
            raise ValueError(f"Parameter 'factor_decay' must be in [0, 1), got {p['factor_decay']!r}.")
        _check_count(p["inverse_frequency"], "inverse_frequency")
        _check_choice(p["fisher"], FISHER_MODES, "fisher")
        if _check_choice(p["hessian_type"], ("gauss_newton",), "hessian_type") != "gauss_newton":
            raise ValueError("Parameter 'hessian_type' must be 'gauss_newton'.")

    # ------------------------------------------------------------------ factors
    def batch_factors(self, feed_dict):
        """``[(A, G)]`` per layer on ``feed_dict`` (one pass per noise; counted in ``sweeps[1]``)."""
        graph = self.graph
        samples = count_samples(feed_dict)
        if not samples:
            raise ValueError("feed_dict holds no data batch (no fed placeholder with a batch axis); "
                             "pass {problem.x: ..., problem.y_true: ...}.")
        shape = graph.noise_shape(samples)
        if self.parameters["fisher"] == "sampled":
            noises = [self.rng.standard_normal(shape)]
        else:  # every unit output direction of every term, the same for all samples
            noises = []
            for t in range(shape[0]):
                for k in range(int(np.prod(shape[2:]))):
                    eps = np.zeros((shape[0], int(np.prod(shape[2:]))))
                    eps[t, k] = 1.0
                    noises.append(np.broadcast_to(eps[:, None, :], (shape[0], shape[1], eps.shape[1]))
                                  .reshape(shape))
        A, G = None, None
        for noise in noises:
            fetches = (graph.G,) if A is not None else (graph.A, graph.G)
            out = self.sess.run(fetches, {**feed_dict, graph.noise: noise})
            self.sweeps[1] += 1.0
            if A is None:
                A, G = out[0], [np.zeros_like(x) for x in out[1]]
            G = [x + y for x, y in zip(G, out[-1])]
        return list(zip(A, G))

    def _update_factors(self, feed_dict):
        new = self.batch_factors(feed_dict)
        k = self.iter + 1
        decay = min(1.0 - 1.0 / k, float(self.parameters["factor_decay"]))
        if self.factors is None:
            self.factors = new
        else:
            self.factors = [(decay * A + (1.0 - decay) * An, decay * G + (1.0 - decay) * Gn)
                            for (A, G), (An, Gn) in zip(self.factors, new)]
        if self._eigen is None or self.iter % int(self.parameters["inverse_frequency"]) == 0:
            self._eigen = [(_eigh(A), _eigh(G)) for A, G in self.factors]

    def _eta(self):
        return float(self.regularization.gamma) if self._regularized else 0.0

    def precondition(self, g):
        """``Delta`` of step 1 for the gradient ``g`` (shape ``(dimension,)``)."""
        total = self.damping + self._eta()
        delta = -np.array(g, dtype=np.float64)
        for layer, ((a_values, a_vectors), (g_values, g_vectors)) in zip(self.layers, self._eigen):
            Gbar = np.asarray(g[layer.block], dtype=np.float64).reshape(layer.rows, layer.columns)
            a_mean = max(float(np.mean(a_values)), 1e-300)
            g_mean = max(float(np.mean(g_values)), 1e-300)
            pi = np.sqrt(a_mean / g_mean)
            inner = a_vectors.T @ Gbar @ g_vectors
            inner /= np.outer(a_values + pi * np.sqrt(total), g_values + np.sqrt(total) / pi)
            delta[layer.block] = -(a_vectors @ inner @ g_vectors.T).ravel()
        return delta

    # ------------------------------------------------------------------ step
    def _step(self, feed_dict, hessian_feed_dict, loss, g):
        self._update_factors(hessian_feed_dict)
        delta = self.precondition(g)
        self._check_step(delta)
        C = self.hessian_operator(hessian_feed_dict)
        dCd = float(delta @ C.matvec(delta))
        slope = float(g @ delta)
        denominator = dCd + self.damping * float(delta @ delta)
        a = -slope / denominator if denominator > 0.0 and slope < 0.0 else 0.0
        self.problem.update_weights(self.sess, a * delta)
        self.alpha = a
        info = {"damping": self.damping, "curvature": dCd}
        if self.iter % int(self.parameters["damping_adaptation_interval"]) == 0 and a > 0.0:
            predicted = a * slope + 0.5 * a * a * dCd
            rho = (self._loss(feed_dict) - loss) / predicted if predicted < 0.0 else -np.inf
            omega = (19.0 / 20.0) ** int(self.parameters["damping_adaptation_interval"])
            if rho > 0.75:
                self.damping = max(omega * self.damping, float(self.parameters["damping_min"]))
            elif rho < 0.25:
                self.damping = self.damping / omega
            info["rho"] = float(rho)
        return info
