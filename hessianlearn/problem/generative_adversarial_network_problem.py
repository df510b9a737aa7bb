"""Generative adversarial network: a two-player game with one loss per player."""
from .._tf import check_keras_model, tf
from .problem import Problem, squared_error

__all__ = ["GenerativeAdversarialNetworkProblem"]

_LOSS_TYPES = ("cross_entropy", "least_squares")


class GenerativeAdversarialNetworkProblem(Problem):
    r"""A GAN as a game: the discriminator ``D`` and the generator ``G`` each minimize their own loss.

    With real samples ``x_i``, noise ``z_i``, discriminator logits ``a_i = D(x_i)`` and
    ``b_i = D(G(z_i))`` (shape ``(batch, 1)``):

    * ``loss_type='cross_entropy'`` (from logits, ``sigma`` the logistic function):
      ``discriminator_loss = -mean_i [log sigma(a_i) + log(1 - sigma(b_i))]`` (real -> 1,
      fake -> 0) and the non-saturating ``generator_loss = -mean_i log sigma(b_i)`` (fake -> 1);
    * ``loss_type='least_squares'`` (LSGAN): ``discriminator_loss = mean_i (a_i - 1)^2 + b_i^2``
      and ``generator_loss = mean_i (b_i - 1)^2``.

    The flat weights are ``w = [w_D, w_G]`` (discriminator first). ``gradient`` is the
    *simultaneous gradient* ``[d f_D / d w_D, d f_G / d w_G]`` and ``Hdw``/``HdW`` act
    with the block diagonal ``diag(d^2 f_D / d w_D^2, d^2 f_G / d w_G^2)`` of the
    players' own Hessians, which is symmetric. (The Jacobian of the simultaneous
    gradient has off-diagonal interaction blocks and is not symmetric; they are left
    out.) ``loss = discriminator_loss + generator_loss`` is reported for monitoring;
    it is not the function whose gradient is ``gradient``.

    Parameters
    ----------
    generator : tf.keras.Model
        Noise ``(batch, q)`` to samples shaped like the discriminator's input.
    discriminator : tf.keras.Model
        Samples to one logit per sample, ``(batch, 1)``.
    loss_type : {'cross_entropy', 'least_squares'}
    hessian_block_size, dtype
        As in :class:`Problem`.

    Notes
    -----
    Feed ``{problem.x: real_batch, problem.noise: noise_batch}``. ``y_prediction`` is the
    generated batch ``G(z)``; ``real_logits`` and ``fake_logits`` are ``a`` and ``b``;
    ``accuracy`` is the fraction of real and fake samples the discriminator classifies
    correctly (logit sign). Both models must be built in the same graph and share no
    trainable weights.
    """

    is_gan = True

    def __init__(self, generator, discriminator, loss_type="cross_entropy",
                 hessian_block_size=None, dtype=None):
        if loss_type not in _LOSS_TYPES:
            raise ValueError(f"loss_type must be one of {_LOSS_TYPES}, got {loss_type!r}.")
        self.loss_type = loss_type
        self.generator = check_keras_model(generator, "generator")
        self.discriminator = check_keras_model(discriminator, "discriminator")
        super().__init__(discriminator, hessian_block_size=hessian_block_size, dtype=dtype)

    @property
    def _weights(self):
        return list(self.discriminator.trainable_weights) + list(self.generator.trainable_weights)

    def _check_network(self):
        for name, model in (("generator", self.generator), ("discriminator", self.discriminator)):
            if not model.trainable_weights:
                raise ValueError(f"The {name} has no trainable weights; check that its layers are trainable.")
            if len(model.inputs) != 1 or len(model.outputs) != 1:
                raise ValueError(
                    f"The {name} must have one input and one output, got {len(model.inputs)} "
                    f"inputs and {len(model.outputs)} outputs."
                )
        if self.generator.inputs[0].graph is not self.discriminator.inputs[0].graph:
            raise ValueError("generator and discriminator must be built in the same graph.")
        d_ids = {id(v) for v in self.discriminator.trainable_weights}
        if any(id(v) in d_ids for v in self.generator.trainable_weights):
            raise ValueError("generator and discriminator share trainable weights; each player needs its own.")
        fake_shape = self.generator.outputs[0].shape.as_list()[1:]
        real_shape = self.discriminator.inputs[0].shape.as_list()[1:]
        if fake_shape != real_shape:
            raise ValueError(
                f"The generator's output shape {fake_shape} must equal the discriminator's "
                f"input shape {real_shape}."
            )
        logit_shape = self.discriminator.outputs[0].shape.as_list()[1:]
        if logit_shape not in ([1], []):
            raise ValueError(f"The discriminator must output one logit per sample, got shape {logit_shape}.")
        if self.generator.inputs[0].dtype.base_dtype != self.discriminator.inputs[0].dtype.base_dtype:
            raise ValueError("generator and discriminator must use the same dtype.")

    def _build_inputs(self):
        self.noise = self.generator.inputs[0]
        self.x = self.discriminator.inputs[0]
        self.y_prediction = self.generator.outputs[0]
        self.output_dimension = 1
        self.real_logits = self.discriminator.outputs[0]
        self.fake_logits = self.discriminator(self.y_prediction)

    def _build_loss(self):
        a, b = self.real_logits, self.fake_logits
        if self.loss_type == "cross_entropy":
            def xent(labels, logits):
                return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits))
            self.discriminator_loss = xent(tf.ones_like(a), a) + xent(tf.zeros_like(b), b)
            self.generator_loss = xent(tf.ones_like(b), b)
        else:
            self.discriminator_loss = (tf.reduce_mean(squared_error(a, 1.0))
                                       + tf.reduce_mean(tf.square(b)))
            self.generator_loss = tf.reduce_mean(squared_error(b, 1.0))
        self.loss = self.discriminator_loss + self.generator_loss
        self.y_true = None
        correct = tf.concat([tf.cast(a > 0, self.dtype), tf.cast(b <= 0, self.dtype)], axis=0)
        self.accuracy = tf.reduce_mean(correct)

    def _objectives(self):
        n_d = len(self.discriminator.trainable_weights)
        n = len(self._weights)
        return [(self.discriminator_loss, list(range(n_d))),
                (self.generator_loss, list(range(n_d, n)))]
