"""Whole optimizer steps built into the graph, so one iteration is one or two session runs.

The numpy-side optimizers (:mod:`hessianlearn.algorithms`) fetch the gradient,
draw test matrices, orthonormalize, solve and feed the update back, which costs
host copies of ``(dimension, k)`` blocks and several session runs per
iteration. The graphs here compute the same step where the weights live:

* :class:`FusedAdamStep`: loss, gradient and the Adam update in one run; the
  moments ``m`` and ``v`` are graph variables.
* :class:`FusedLowRankSaddleFreeNewtonStep`: on the Hessian batch and a fed
  Gaussian test matrix, ``Y = H Omega``, an orthonormal basis ``Q`` of ``Y``,
  ``T = Q^T H Q``, its eigenpairs, the Woodbury step and the update, in one run
  (the gradient of the training batch is fed: the two batches share the
  network's input placeholder).

Both apply the update only when the loss, the gradient and the step are finite
(a flag is fetched); otherwise the weights are unchanged and the caller raises.
The graphs are built once per problem (and regularization, rank) and cached on
the problem. The optimizers select them with their ``fused_step`` parameter;
they are single-process only (no MPI reduction can happen inside one run).
"""
import numpy as np

from .._tf import tf

__all__ = ["FusedAdamStep", "FusedLowRankSaddleFreeNewtonStep", "fused_step"]


def _cache(problem):
    cache = problem.__dict__.get("_fused_step_cache")
    if cache is None:
        cache = problem.__dict__["_fused_step_cache"] = {}
    return cache


def fused_step(kind, problem, regularization=None, **options):
    """The cached fused step graph ``kind`` (``'adam'`` or ``'lrsfn'``) for ``problem``.

    ``options`` are the constructor's keywords (``rank``, ``oversample`` for
    ``'lrsfn'``). The graph is built on first use and reused by later fits.
    """
    classes = {"adam": FusedAdamStep, "lrsfn": FusedLowRankSaddleFreeNewtonStep}
    if kind not in classes:
        raise ValueError(f"kind must be one of {sorted(classes)}, got {kind!r}.")
    key = (kind, regularization, tuple(sorted(options.items())))
    cache = _cache(problem)
    if key not in cache:
        cache[key] = classes[kind](problem, regularization, **options)
    return cache[key]


class _FusedStep:
    """Shared parts: the regularized loss and gradient, the guarded weight update."""

    def __init__(self, problem, regularization):
        self.problem = problem
        self.regularization = regularization
        self.dtype = problem.dtype

    def _scalar(self, name, dtype=None):
        return tf.placeholder(dtype or self.dtype, [], name=name)

    def _regularized_gradient(self, g):
        """``g + gamma w`` (the regularization's gradient) when there is a regularization."""
        if self.regularization is None:
            return g
        return g + self.regularization.gradient

    def _guarded_update(self, finite, update, after):
        """``w += update`` if ``finite`` (else ``w += 0``), run after the tensors in ``after``."""
        update = tf.where(finite, update, tf.zeros_like(update))
        with tf.control_dependencies(after):
            ops = [tf.assign_add(v, part)
                   for v, part in zip(self.problem._weights, self.problem._split(update))]
        return tf.group(*ops)


class FusedAdamStep(_FusedStep):
    """One Adam iteration, ``w <- w - alpha m_hat / (sqrt(v_hat) + eps)``, in one session run.

    With ``g = grad (loss + R)`` on the fed batch and the iteration ``t`` (from 1),

    .. math::

        m \\leftarrow \\beta_1 m + (1-\\beta_1) g, \\quad
        v \\leftarrow \\beta_2 v + (1-\\beta_2) g^2, \\quad
        w \\leftarrow w - \\alpha \\frac{m / (1-\\beta_1^t)}{\\sqrt{v / (1-\\beta_2^t)} + \\epsilon},

    elementwise, as :class:`~hessianlearn.algorithms.Adam`; ``m`` and ``v``
    (shape ``(dimension,)``) are graph variables (:meth:`reset` zeroes them).

    Attributes
    ----------
    fetches : dict
        ``data_loss``, ``reg_cost``, ``norm_g`` (of the regularized gradient),
        ``finite``, ``update`` (the op) and ``accuracy`` when the problem has one.
    alpha, beta_1, beta_2, epsilon, t : placeholders (scalars, problem dtype)
    m, v : tf.Variable, shape (dimension,)
    """

    def __init__(self, problem, regularization=None):
        super().__init__(problem, regularization)
        n = problem.dimension
        with problem._graph.as_default(), tf.name_scope("fused_adam"):
            self.alpha = self._scalar("alpha")
            self.beta_1 = self._scalar("beta_1")
            self.beta_2 = self._scalar("beta_2")
            self.epsilon = self._scalar("epsilon")
            self.t = self._scalar("t")
            local = [tf.GraphKeys.LOCAL_VARIABLES]
            self.m = tf.Variable(tf.zeros([n], self.dtype), trainable=False, collections=local,
                                 name="m", use_resource=True)
            self.v = tf.Variable(tf.zeros([n], self.dtype), trainable=False, collections=local,
                                 name="v", use_resource=True)
            self._reset = tf.variables_initializer([self.m, self.v])
            loss = problem.loss
            reg_cost = tf.zeros([], self.dtype) if regularization is None else regularization.cost
            g = self._regularized_gradient(problem.gradient)
            norm_g = tf.norm(g)
            m_old, v_old = self.m.read_value(), self.v.read_value()
            m = self.beta_1 * m_old + (1.0 - self.beta_1) * g
            v = self.beta_2 * v_old + (1.0 - self.beta_2) * g * g
            m_hat = m / (1.0 - self.beta_1 ** self.t)
            v_hat = v / (1.0 - self.beta_2 ** self.t)
            step = -self.alpha * (m_hat / (tf.sqrt(v_hat) + self.epsilon))
            finite = tf.logical_and(tf.math.is_finite(loss + reg_cost),
                                    tf.reduce_all(tf.math.is_finite(step)))
            fetches = {"data_loss": loss, "reg_cost": reg_cost, "norm_g": norm_g}
            accuracy = getattr(problem, "accuracy", None)
            if isinstance(accuracy, tf.Tensor):
                fetches["accuracy"] = accuracy
            after = list(fetches.values())
            update = self._guarded_update(finite, step, after)
            with tf.control_dependencies(after):
                moments = tf.group(self.m.assign(tf.where(finite, m, m_old)),
                                   self.v.assign(tf.where(finite, v, v_old)))
            fetches["finite"] = finite
            fetches["update"] = tf.group(update, moments)
            self.fetches = fetches

    def reset(self, sess):
        """Set ``m = v = 0`` in ``sess`` (call before the first step of a run)."""
        sess.run(self._reset)

    def feed(self, feed_dict, alpha, beta_1, beta_2, epsilon, t):
        """``feed_dict`` plus the step's scalars (a new dict)."""
        feed = dict(feed_dict)
        feed.update({self.alpha: alpha, self.beta_1: beta_1, self.beta_2: beta_2,
                     self.epsilon: epsilon, self.t: float(t)})
        return feed


def _orthonormal_basis(Y):
    """``Q`` with orthonormal columns spanning ``Y`` (``(n, m)``, float64): shifted Cholesky-QR3.

    ``G = Y^T Y + s I`` with the shift ``s = 11 (n m + m (m+1)) u ||Y||_F^2``
    (``u`` the unit round-off) is positive definite even for rank-deficient
    ``Y``; ``Q_1 = Y R^{-1}`` with ``R^T R = G``, then two unshifted
    Cholesky-QR passes make ``Q`` orthonormal to round-off (Fukaya, Kannan,
    Nakatsukasa, Yamamoto, Yanagisawa, SIAM J. Sci. Comput. 42 (2020)). The
    work is three ``m x m`` Gram products of ``Y``: cheap next to ``H Y``.
    """
    n, m = Y.shape.as_list()
    eye = tf.eye(m, dtype=Y.dtype)
    unit = np.finfo(Y.dtype.as_numpy_dtype).eps / 2

    def cholesky_qr(X, shifted):
        G = tf.matmul(X, X, transpose_a=True)
        if shifted:  # ||Y||_F^2 = trace(Y^T Y)
            G = G + 11.0 * (n * m + m * (m + 1)) * unit * tf.linalg.trace(G) * eye
        L = tf.linalg.cholesky(G)
        # X R^{-1} with R = L^T, as X (L^{-1})^T: an m x m triangular solve and one matmul
        # (a triangular solve with n right-hand sides is several times slower on CPU).
        return tf.matmul(X, tf.linalg.triangular_solve(L, eye, lower=True), transpose_b=True)

    Q = cholesky_qr(Y, True)
    Q = cholesky_qr(Q, False)
    return cholesky_qr(Q, False)


class FusedLowRankSaddleFreeNewtonStep(_FusedStep):
    """One fixed-rank LRSFN iteration on the Hessian batch in one session run.

    With ``H`` the Hessian of the loss on the fed (Hessian) batch plus
    ``gamma_R I``, the fed gradient ``g`` (of the training batch, regularized),
    and a fed Gaussian test matrix ``Omega`` ``(dimension, k + p)``:

    1. ``Y = H Omega``, ``Q`` an orthonormal basis of ``Y`` (float64, shifted
       Cholesky-QR3);
    2. ``T = sym(Q^T H Q) = V Lambda V^T`` (``T`` formed in the problem's
       precision, its eigenpairs in float64), sorted by ``|lambda|``
       descending, the first ``k`` kept: ``U = Q V_k``;
    3. ``mu = |lambda - gamma_R|``, ``p = -(U diag(1/(mu+gamma)) U^T g + (g - U U^T g)/gamma)``
       (Woodbury, as :meth:`LowRankSaddleFreeNewton.direction`);
    4. ``alpha = min(spectral_alpha, 0.1/|lambda_1|)`` if ``spectral`` else the
       fed ``alpha``; ``w += alpha p`` if everything is finite.

    The subspace, hence the step, equals that of the numpy double-pass
    randomized eigensolver with the same ``Omega`` (up to round-off).

    Parameters
    ----------
    problem : Problem
    regularization : L2Regularization, optional
    rank : int
        ``k``, at most ``dimension``.
    oversample : int
        ``p >= 0``; reduced to ``dimension - k``.

    Attributes
    ----------
    omega : placeholder, shape (dimension, k + p)
    g, alpha, gamma, gamma_r, spectral_alpha, spectral : placeholders
    fetches : dict
        ``eigenvalues`` (``k``, of ``H`` including ``gamma_R``), ``alpha`` (the
        one applied), ``finite`` and ``update`` (the op).
    columns : int
        Hessian columns applied per run, ``2 (k + p)``.
    """

    def __init__(self, problem, regularization=None, rank=20, oversample=0):
        super().__init__(problem, regularization)
        n = problem.dimension
        rank = int(rank)
        if not 1 <= rank <= n:
            raise ValueError(f"rank must be an int in [1, {n}] (the number of weights), got {rank!r}.")
        oversample = min(int(oversample), n - rank)
        if oversample < 0:
            raise ValueError(f"oversample must be an int >= 0, got {oversample!r}.")
        self.rank, self.oversample = rank, oversample
        m = rank + oversample
        self.columns = 2 * m
        f64 = tf.float64
        with problem._graph.as_default(), tf.name_scope("fused_lrsfn"):
            self.g = tf.placeholder(self.dtype, [n], name="g")
            self.alpha = self._scalar("alpha", f64)
            self.gamma = self._scalar("gamma", f64)
            self.gamma_r = self._scalar("gamma_r", f64)
            self.spectral_alpha = self._scalar("spectral_alpha", f64)
            self.spectral = tf.placeholder(tf.bool, [], name="spectral")
            # Fed from the optimizer's generator: numpy's float32 normals are several times
            # faster than TF's stateless kernel, and float64 problems then share the numpy
            # path's random stream exactly.
            self.omega = tf.placeholder(self.dtype, [n, m], name="omega")

            def apply_h(X):
                # X is a constant direction: tf.gradients must not differentiate through it
                X = tf.stop_gradient(X)
                HX = problem._hessian_block_product(X)
                return HX + tf.cast(self.gamma_r, self.dtype) * X

            # Non-finite curvature (NaN data): factor finite stand-ins so the run completes,
            # and report finite = False (no update).
            Y = tf.cast(apply_h(self.omega), f64)
            finite_y = tf.reduce_all(tf.math.is_finite(Y))
            Q = _orthonormal_basis(tf.where(finite_y, Y, tf.cast(self.omega, f64)))
            Q_w = tf.cast(Q, self.dtype)
            # T in the problem's precision (one fewer (n, m) cast in float32), eigh in float64
            T = tf.cast(tf.matmul(Q_w, apply_h(Q_w), transpose_a=True), f64)
            finite_t = tf.logical_and(finite_y, tf.reduce_all(tf.math.is_finite(T)))
            T = tf.where(finite_t, T, tf.eye(m, dtype=f64))
            values, vectors = tf.linalg.eigh(0.5 * (T + tf.transpose(T)))
            order = tf.argsort(-tf.abs(values), stable=True)[:rank]
            values = tf.gather(values, order)
            V = tf.gather(vectors, order, axis=1)
            mu = tf.abs(values - self.gamma_r)
            g = tf.cast(self.g, f64)
            Utg = tf.linalg.matvec(V, tf.linalg.matvec(Q, g, transpose_a=True), transpose_a=True)
            U_scaled = tf.linalg.matvec(Q, tf.linalg.matvec(V, Utg / (mu + self.gamma)))
            U_Utg = tf.linalg.matvec(Q, tf.linalg.matvec(V, Utg))
            direction = -(U_scaled + (g - U_Utg) / self.gamma)
            lam1 = tf.abs(values[0])
            spectral_alpha = tf.where(lam1 > 0.0, tf.minimum(self.spectral_alpha,
                                                            0.1 / tf.maximum(lam1, 1e-300)),
                                      self.spectral_alpha)
            alpha = tf.where(self.spectral, spectral_alpha, self.alpha)
            step = tf.cast(alpha * direction, self.dtype)
            finite = tf.logical_and(finite_t, tf.reduce_all(tf.math.is_finite(step)))
            self.direction = direction
            self.fetches = {"eigenvalues": values, "alpha": alpha, "finite": finite,
                            "update": self._guarded_update(finite, step, [values, alpha])}

    def feed(self, hessian_feed_dict, g, omega, alpha, gamma, gamma_r=0.0, spectral_alpha=1.0,
             spectral=False):
        """``hessian_feed_dict`` plus the gradient and the step's scalars (a new dict)."""
        feed = dict(hessian_feed_dict)
        feed.update({self.g: np.asarray(g, dtype=self.dtype.as_numpy_dtype),
                     self.omega: np.asarray(omega, dtype=self.dtype.as_numpy_dtype),
                     self.alpha: float(alpha),
                     self.gamma: float(gamma), self.gamma_r: float(gamma_r),
                     self.spectral_alpha: float(spectral_alpha), self.spectral: bool(spectral)})
        return feed
