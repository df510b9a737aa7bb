"""Graph tensors of K-FAC's Kronecker factors for the Dense and Conv2D layers of a problem.

For a layer with pre-activations ``s = W^T a + b`` (``Dense``; for ``Conv2D`` the
same at every output position ``t``, with ``a_t`` the input patch under the
kernel, Grosse & Martens 2016) and ``abar = [a; 1]`` (no ``1`` without a bias),
the layer's block of the generalized Gauss-Newton matrix of ``L(z)`` is
approximated (Martens & Grosse 2015) by ``A kron G`` with

.. math::

    A = \\frac1N \\sum_i \\sum_t \\bar a_{it} \\bar a_{it}^T, \\qquad
    G = \\frac1T \\sum_i \\sum_t g_{it} g_{it}^T, \\qquad g_{it} = J_{s_{it}}^T u_i,

``N`` samples, ``T`` output positions (1 for ``Dense``), ``J_{s}`` the Jacobian
of the network outputs ``z`` with respect to ``s`` and ``u`` an output-space
vector with ``E[u u^T] = H_L`` (the loss Hessian ``d^2 L / dz^2``, one block per
sample): ``u = R eps`` with ``R R^T = H_L`` and ``eps`` fed noise:

* mean squared error over ``N`` samples of ``m`` entries: ``R = (2 / (N m))^{1/2} I``;
* mean softmax cross-entropy: ``R = (I - p 1^T) diag(p)^{1/2} / N^{1/2}``,
  ``p = softmax(z)``; a mixed loss sums the two with independent noise.

Feeding standard-normal ``eps`` gives the Monte Carlo Fisher of the predictive
distribution; feeding every unit vector ``e_k`` (the same for all samples) and
summing gives ``G`` exactly. The weights are laid out as the flat ``w`` holds
them: the kernel (row-major, ``(d_in, d_out)`` or ``(kh, kw, c_in, c_out)``)
followed by the bias, i.e. the rows of ``Wbar = [W; b^T]``, so the block acts
as ``vec(A Wbar G)``.
"""
import numpy as np

from .._tf import keras, tf
from .autoencoder_problem import AutoencoderProblem
from .classification_problem import ClassificationProblem
from .gauss_newton import _check_supported
from .regression_problem import RegressionProblem

__all__ = ["KFACLayer", "KFACFactors", "kfac_factors", "SUPPORTED_LAYER_TYPES"]

#: The Keras layer classes K-FAC registers (subclasses included).
SUPPORTED_LAYER_TYPES = (keras.layers.Dense, keras.layers.Conv2D)


class KFACLayer:
    """One registered layer: its name, type, weight slice and factor sizes.

    Attributes
    ----------
    name, kind : str
        Layer name and ``'Dense'`` or ``'Conv2D'``.
    block : slice
        Slice of ``w`` holding the kernel followed by the bias.
    rows, columns : int
        Sizes of ``A`` (``d_in + 1`` with a bias, ``kh kw c_in (+ 1)`` for Conv2D)
        and of ``G`` (``d_out`` or ``c_out``).
    """

    def __init__(self, name, kind, block, rows, columns):
        self.name, self.kind, self.block = name, kind, block
        self.rows, self.columns = rows, columns


def _flat_layers(model):
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _flat_layers(layer)
        else:
            yield layer


def _pre_activation(layer):
    """The layer's pre-activation tensor ``s`` (its output when the activation is linear)."""
    output = layer.output
    if layer.activation is keras.activations.linear or layer.activation is None:
        return output
    op = output.op
    if len(op.inputs) != 1 or op.inputs[0].shape.as_list() != output.shape.as_list():
        raise ValueError(
            f"K-FAC cannot find the pre-activation of layer {layer.name!r} (activation "
            f"{getattr(layer.activation, '__name__', layer.activation)!r} is not a single op); "
            "use activation=None and a separate keras.layers.Activation layer."
        )
    return op.inputs[0]


def _weight_block(problem, layer):
    """The slice of ``w`` for the layer's kernel and bias (contiguous, kernel first)."""
    descriptors = problem.layer_descriptors
    kernel = descriptors.get(layer.kernel.name)
    if kernel is None:
        return None  # not trained
    if not layer.use_bias:
        return kernel["slice"]
    bias = descriptors.get(layer.bias.name)
    if bias is None or bias["slice"].start != kernel["slice"].stop:
        raise ValueError(
            f"K-FAC needs layer {layer.name!r}'s trainable kernel and bias next to each other in w; "
            "freeze both or neither."
        )
    return slice(kernel["slice"].start, bias["slice"].stop)


def _loss_factors(problem):
    """``[R_t]``: functions ``eps -> R_t eps`` (shape of z) with ``sum_t R_t R_t^T = H_L``."""
    z = problem.y_prediction
    n = tf.cast(tf.shape(z)[0], z.dtype)
    entries = float(np.prod(z.shape.as_list()[1:]))

    def squared(eps):
        return tf.sqrt(2.0 / (n * entries)) * eps

    def cross_entropy(eps):
        p = tf.nn.softmax(z)
        v = eps * tf.sqrt(p)
        return (v - p * tf.reduce_sum(v, axis=-1, keepdims=True)) / tf.sqrt(n)

    _check_supported(problem)  # games, VAEs, H1: the Gauss-Newton operator's error
    if isinstance(problem, ClassificationProblem):
        return {"cross_entropy": [cross_entropy], "least_squares": [squared],
                "mixed": [cross_entropy, squared]}[problem.loss_type]
    if isinstance(problem, (RegressionProblem, AutoencoderProblem)):
        return [squared]
    raise NotImplementedError(
        f"K-FAC's output-space factor is defined for mean-squared-error (RegressionProblem, "
        f"AutoencoderProblem) and softmax cross-entropy (ClassificationProblem) losses, not for "
        f"{type(problem).__name__}."
    )


class KFACFactors:
    """The factor tensors of every registered layer of ``problem`` (see the module docstring).

    Attributes
    ----------
    layers : list of KFACLayer
        Registered layers, in the model's layer order.
    noise : tf.placeholder, shape (terms, batch) + output shape
        The output-space noise ``eps``, one slice per loss term.
    terms : int
        Number of loss terms (2 for the mixed classification loss, else 1).
    A, G : list of tf.Tensor
        ``A`` (``rows x rows``) and ``G`` (``columns x columns``) per layer on the fed batch.
    patches, pre_activations : list of tf.Tensor
        Per layer: the rows ``abar_{it}`` (``(N T, rows)``) and the pre-activations ``s``
        (``(N, d_out)`` or ``(N, H', W', c_out)``); the layer's weight gradient is
        ``sum_{it} abar_{it} (dL/ds_{it})^T``.

    Raises
    ------
    ValueError
        If the model has no Dense or Conv2D layer with trainable weights (the message
        names the supported types), or a registered layer cannot be factored.
    NotImplementedError
        For losses other than mean squared error and softmax cross-entropy.
    """

    def __init__(self, problem):
        self.problem = problem
        with problem._graph.as_default():
            factors = _loss_factors(problem)
            self.terms = len(factors)
            z = problem.y_prediction
            self.noise = tf.placeholder(problem.dtype, [self.terms] + z.shape.as_list(),
                                        name="kfac_noise")
            u = tf.add_n([R(self.noise[t]) for t, R in enumerate(factors)])
            self.layers, inputs, pre_activations = [], [], []
            for layer in _flat_layers(problem.NN):
                if not isinstance(layer, SUPPORTED_LAYER_TYPES):
                    continue
                block = _weight_block(problem, layer)
                if block is None:
                    continue
                a, s, rows, columns = self._layer_tensors(layer)
                kind = "Conv2D" if isinstance(layer, keras.layers.Conv2D) else "Dense"
                self.layers.append(KFACLayer(layer.name, kind, block, rows, columns))
                inputs.append(a)
                pre_activations.append(s)
            if not self.layers:
                raise ValueError(
                    "K-FAC found no layer to precondition: it supports "
                    f"{', '.join(t.__name__ for t in SUPPORTED_LAYER_TYPES)} layers (and their "
                    "subclasses) with trainable weights; the model has "
                    f"{sorted({type(l).__name__ for l in _flat_layers(problem.NN)})}."
                )
            self.patches, self.pre_activations = inputs, pre_activations
            gradients = tf.gradients(z, pre_activations, grad_ys=u)
            self.A, self.G = [], []
            n = tf.cast(tf.shape(z)[0], problem.dtype)
            for layer, a, g in zip(self.layers, inputs, gradients):
                g = tf.zeros([1, layer.columns], problem.dtype) if g is None \
                    else tf.reshape(g, [-1, layer.columns])
                positions = tf.cast(tf.shape(g)[0], problem.dtype) / n
                self.A.append(tf.matmul(a, a, transpose_a=True) / n)
                self.G.append(tf.matmul(g, g, transpose_a=True) / positions)

    def _layer_tensors(self, layer):
        """``(abar rows, s rows, rows, columns)`` of one layer: one row per sample and position."""
        try:
            a, s = layer.input, _pre_activation(layer)
        except AttributeError as error:
            raise ValueError(f"K-FAC needs layer {layer.name!r} called exactly once in the model "
                             f"({error}).") from None
        if isinstance(layer, keras.layers.Conv2D):
            if layer.data_format != "channels_last" or getattr(layer, "groups", 1) != 1 \
                    or a.shape.ndims != 4:
                raise ValueError(f"K-FAC supports channels_last Conv2D layers without groups; "
                                 f"layer {layer.name!r} is not one.")
            kh, kw = layer.kernel_size
            sh, sw = layer.strides
            dh, dw = layer.dilation_rate
            a = tf.image.extract_patches(a, sizes=[1, kh, kw, 1], strides=[1, sh, sw, 1],
                                         rates=[1, dh, dw, 1], padding=layer.padding.upper())
        elif a.shape.ndims != 2:
            raise ValueError(f"K-FAC supports Dense layers on (batch, features) inputs; layer "
                             f"{layer.name!r} gets shape {a.shape.as_list()}.")
        rows = int(a.shape[-1])
        a = tf.reshape(a, [-1, rows])
        if layer.use_bias:
            a = tf.concat([a, tf.ones_like(a[:, :1])], axis=1)
            rows += 1
        columns = int(s.shape[-1])
        return a, s, rows, columns

    def noise_shape(self, batch_size):
        """Shape of the ``noise`` value for a batch of ``batch_size`` samples."""
        return (self.terms, int(batch_size)) + tuple(self.problem.y_prediction.shape.as_list()[1:])


def kfac_factors(problem):
    """The (cached) :class:`KFACFactors` of ``problem``, built on first call."""
    return problem._graph_cache("kfac_factors", lambda: KFACFactors(problem))
