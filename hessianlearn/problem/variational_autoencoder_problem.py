"""Variational autoencoder: reconstruction loss plus the Gaussian KL term."""
from .._tf import tf
from .problem import Problem, squared_error
from .regression_problem import relative_error_tensors

__all__ = ["VariationalAutoencoderProblem"]

_LOSS_TYPES = ("least_squares", "cross_entropy")
_CLIP = 1e-7


class VariationalAutoencoderProblem(Problem):
    r"""Variational autoencoder with a diagonal Gaussian encoder and a standard normal prior.

    With encoder outputs ``mu = z_mean`` and ``s = z_log_var`` (shape ``(batch, r)``)
    and decoder output ``xhat`` (the model's output, the input's shape),

    .. math::

        f(w) = \frac{1}{n}\sum_i \ell(x_i, \hat x_i)
               \;-\; \frac{1}{2n}\sum_i\sum_j \left(1 + s_{ij} - \mu_{ij}^2 - e^{s_{ij}}\right),

    where ``loss_type='least_squares'`` takes ``l(x, xhat) = sum_j (x_j - xhat_j)^2`` and
    ``loss_type='cross_entropy'`` takes ``l = -sum_j x_j log p_j + (1 - x_j) log(1 - p_j)``
    with ``p = clip(xhat, 1e-7, 1 - 1e-7)`` read as probabilities (use a sigmoid output
    and data in ``[0, 1]``). Sums run over every non-batch axis. The two terms are the
    tensors ``reconstruction_loss`` and ``kl_loss``; ``loss`` is their sum.

    Parameters
    ----------
    NeuralNetwork : tf.keras.Model
        The whole VAE, input ``x`` to reconstruction ``xhat``. It has either one input
        (``x``, the sampling noise drawn inside the graph) or two inputs ``[x, epsilon]``
        with ``epsilon`` of ``z_mean``'s shape (see Notes).
    z_mean, z_log_var : tf.Tensor
        The encoder's mean and log-variance tensors, ``(batch, r)``, in the model's graph.
    loss_type : {'least_squares', 'cross_entropy'}
    hessian_block_size, dtype
        As in :class:`Problem`.

    Notes
    -----
    The reparametrization ``z = mu + exp(s / 2) * epsilon`` makes the loss random when
    ``epsilon`` is sampled inside the graph, and then finite differences, Hessian
    checks and line searches see a different function at every evaluation. The natural
    way to keep the noise under the researcher's control is to make ``epsilon`` a
    second Keras ``Input``::

        x = tf.keras.Input((d,)); eps = tf.keras.Input((r,))
        h = Dense(16, activation="tanh")(x)
        z_mean, z_log_var = Dense(r)(h), Dense(r)(h)
        z = Lambda(lambda t: t[0] + tf.exp(0.5 * t[1]) * t[2])([z_mean, z_log_var, eps])
        vae = tf.keras.Model([x, eps], Dense(d, activation="sigmoid")(z))
        problem = VariationalAutoencoderProblem(vae, z_mean, z_log_var)
        feed = {problem.x: x_batch, problem.epsilon: rng.standard_normal((n, r))}

    With such a model ``problem.epsilon`` is that input (draw it once per batch to
    keep the loss deterministic for the inner Newton iteration); with a one-input
    model ``problem.epsilon`` is ``None``. There is no separate ``y_true``: the target is
    ``x``. ``accuracy = 1 - mean_i ||x_i - xhat_i|| / ||x_i||`` as for the autoencoder.
    """

    is_autoencoder = True
    is_vae = True
    _allows_multiple_io = True

    def __init__(self, NeuralNetwork, z_mean, z_log_var, loss_type="least_squares",
                 hessian_block_size=None, dtype=None):
        if loss_type not in _LOSS_TYPES:
            raise ValueError(f"loss_type must be one of {_LOSS_TYPES}, got {loss_type!r}.")
        for name, t in (("z_mean", z_mean), ("z_log_var", z_log_var)):
            if not isinstance(t, tf.Tensor):
                raise TypeError(
                    f"{name} must be the encoder's graph tensor (e.g. the output of the Dense "
                    f"layer giving the latent {name.split('_', 1)[1]}), got {type(t).__name__}."
                )
        if z_mean.shape.as_list()[1:] != z_log_var.shape.as_list()[1:]:
            raise ValueError(
                f"z_mean and z_log_var must have the same shape, got {z_mean.shape.as_list()} "
                f"and {z_log_var.shape.as_list()}."
            )
        self.loss_type = loss_type
        self.z_mean = z_mean
        self.z_log_var = z_log_var
        super().__init__(NeuralNetwork, hessian_block_size=hessian_block_size, dtype=dtype)

    def _check_network(self):
        super()._check_network()
        n_in, n_out = len(self.NN.inputs), len(self.NN.outputs)
        if n_out != 1 or n_in not in (1, 2):
            raise ValueError(
                f"A VAE model has one output and one input (x) or two inputs [x, epsilon], "
                f"got {n_in} inputs and {n_out} outputs."
            )
        graph = self.NN.inputs[0].graph
        for name, t in (("z_mean", self.z_mean), ("z_log_var", self.z_log_var)):
            if t.graph is not graph:
                raise ValueError(f"{name} is not in the model's graph; pass the encoder's tensor.")
        if n_in == 2 and self.NN.inputs[1].shape.as_list()[1:] != self.z_mean.shape.as_list()[1:]:
            raise ValueError(
                f"The second input (epsilon) must have z_mean's shape "
                f"{self.z_mean.shape.as_list()[1:]}, got {self.NN.inputs[1].shape.as_list()[1:]}."
            )

    def _build_inputs(self):
        super()._build_inputs()
        self.epsilon = self.NN.inputs[1] if len(self.NN.inputs) == 2 else None

    def _build_loss(self):
        if self.x.shape.as_list()[1:] != self.y_prediction.shape.as_list()[1:]:
            raise ValueError(
                f"A VAE's output must have the input's shape: input {self.x.shape.as_list()[1:]}, "
                f"output {self.y_prediction.shape.as_list()[1:]}."
            )
        self.y_true = self.x
        x, xhat = self.x, self.y_prediction
        feature_axes = list(range(1, len(x.shape)))
        if self.loss_type == "least_squares":
            per_sample = tf.reduce_sum(squared_error(xhat, x), axis=feature_axes)
        else:
            p = tf.clip_by_value(xhat, _CLIP, 1.0 - _CLIP)
            per_sample = -tf.reduce_sum(x * tf.log(p) + (1.0 - x) * tf.log(1.0 - p), axis=feature_axes)
        self.reconstruction_loss = tf.reduce_mean(per_sample)
        mu, s = tf.cast(self.z_mean, self.dtype), tf.cast(self.z_log_var, self.dtype)
        latent_axes = list(range(1, len(mu.shape)))
        kl = -0.5 * tf.reduce_sum(1.0 + s - tf.square(mu) - tf.exp(s), axis=latent_axes)
        self.kl_loss = tf.reduce_mean(kl)
        self.loss = self.reconstruction_loss + self.kl_loss
        self.rel_error, self.variance_reduction = relative_error_tensors(x, xhat)
        self.accuracy = 1.0 - self.rel_error
