"""The base training problem: a Keras network, a loss and its derivatives as graph tensors.

A :class:`Problem` owns the TF1 graph of one training loss ``f(w)`` over the
flattened trainable weights ``w`` (length ``dimension``). It exposes

* ``loss``, ``gradient`` (``g = df/dw``, shape ``(dimension,)``), ``norm_g``;
* ``dw`` (placeholder, ``(dimension,)``) and ``Hdw = d/dw (g^T dw)``;
* ``H_quadratic = dw^T H dw``;
* ``dW`` (placeholder, ``(dimension, k)``) and ``HdW = d/dw (g^T dW)`` for a
  block of ``k = hessian_block_size`` columns;
* update (``w += v``) and assignment (``w = v``) ops fed by placeholders.

Problems build graphs only; they never loop over data and never own a session.
"""
import numbers

import numpy as np

from .._tf import check_keras_model, float_dtype, tf
from .hessian_products import hessian_block_product, hessian_row_block_product, hessian_vector_parts
from .second_order_gradients import forward_overrides, second_order_overrides
from ..utilities.reduction import register_derived
from ..utilities.session_callables import run

__all__ = ["Problem", "squared_error"]


def _check_block_size(hessian_block_size):
    if hessian_block_size is None:
        return None
    if isinstance(hessian_block_size, bool) or not isinstance(hessian_block_size, numbers.Integral) \
            or hessian_block_size < 1:
        raise ValueError(
            f"hessian_block_size must be a positive int (the number of columns of dW), "
            f"got {hessian_block_size!r}; pass None to build the block product later."
        )
    return int(hessian_block_size)


def squared_error(prediction, target):
    """``(prediction - target)^2`` entrywise, as one ``SquaredDifference`` op.

    Its gradient in the prediction is ``2 g (prediction - target)``, so a Hessian column
    passes through the loss as one product by ``2 g``; ``tf.square(target - prediction)``
    took four elementwise passes per column (two ``Neg``, two ``Mul``). Same values.
    """
    return tf.math.squared_difference(prediction, target)


def _flatten(tensors):
    return tf.concat([tf.reshape(t, [-1]) for t in tensors], axis=0)


class Problem:
    """Base class of all training problems.

    Parameters
    ----------
    NeuralNetwork : tf.keras.Model
        A tf-keras (Keras 2) model, built in graph mode after importing hessianlearn.
    hessian_block_size : int, optional
        Number of columns ``k`` of the block Hessian product ``HdW``. ``None``
        builds no block now; :meth:`_initialize_hessian_blocking` adds one later.
    dtype : str or tf.DType, optional
        Floating type of the problem; defaults to the model input's dtype and must
        match the dtype of the trainable weights.

    Notes
    -----
    Subclasses implement :meth:`_build_loss`, which sets ``y_true``, ``loss`` and,
    where meaningful, ``accuracy``. Weights are flattened in the order of
    ``NN.trainable_weights``, each tensor row-major; ``layer_descriptors`` maps each
    weight's name to its shape and slice of ``w``.
    """

    is_autoencoder = False
    is_gan = False
    is_vae = False
    has_derivative_loss = False
    #: Whether models with several inputs or outputs are accepted.
    _allows_multiple_io = False

    def __init__(self, NeuralNetwork, hessian_block_size=None, dtype=None):
        self.NN = check_keras_model(NeuralNetwork)
        self.hessian_block_size = _check_block_size(hessian_block_size)
        self._check_network()
        model_dtype = float_dtype(NeuralNetwork.inputs[0].dtype)
        self.dtype = model_dtype if dtype is None else float_dtype(dtype)
        weight_dtypes = {v.dtype.base_dtype for v in self._weights}
        if weight_dtypes != {self.dtype}:
            raise ValueError(
                f"dtype {self.dtype.name} does not match the trainable weights' dtype "
                f"{sorted(d.name for d in weight_dtypes)}; build the model with "
                f"dtype='{self.dtype.name}' (e.g. tf.keras.backend.set_floatx) or omit dtype."
            )
        self._graph = self.NN.inputs[0].graph
        self._blocks = {}
        self._point_hdw = None  # (v, H v) for products at a captured point, built on first use
        self._graph_caches = {}  # graph pieces other modules build on demand (see _graph_cache)
        with self._graph.as_default():
            self._build_inputs()
            self._build_loss()
            self._build_weights()
            self._build_derivatives()
            self._build_update_ops()
            if self.hessian_block_size is not None:
                self._initialize_hessian_blocking(self.hessian_block_size)

    # ------------------------------------------------------------------ checks
    @property
    def _weights(self):
        return list(self.NN.trainable_weights)

    def _check_network(self):
        if not self.NN.trainable_weights:
            raise ValueError(
                "NeuralNetwork has no trainable weights; there is nothing to differentiate. "
                "Check that its layers are trainable."
            )
        if not self._allows_multiple_io and (len(self.NN.inputs) != 1 or len(self.NN.outputs) != 1):
            raise ValueError(
                f"{type(self).__name__} takes a model with one input and one output, got "
                f"{len(self.NN.inputs)} inputs and {len(self.NN.outputs)} outputs; use "
                "KerasModelProblem for compiled models with several inputs or outputs."
            )

    # ------------------------------------------------------------------ graph
    def _build_inputs(self):
        self.x = self.NN.inputs[0]
        self.y_prediction = self.NN.outputs[0]
        self.output_dimension = int(np.prod(self.y_prediction.shape.as_list()[1:]))

    def _build_loss(self):
        raise NotImplementedError("subclasses define the loss")

    def _objectives(self):
        """List of ``(loss_tensor, weight_indices)`` pairs whose gradients make ``g``.

        The default is one objective, ``self.loss``, over all weights. A game (GAN)
        gives each player its own loss over its own weights; the Hessian is then the
        block diagonal of the players' Hessians.
        """
        return [(self.loss, list(range(len(self._weights))))]

    def _build_weights(self):
        weights = self._weights
        self.shapes = [v.shape.as_list() for v in weights]
        sizes = [int(np.prod(s)) for s in self.shapes]
        offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
        self.indices = [(int(offsets[i]), int(offsets[i + 1])) for i in range(len(sizes))]
        self.dimension = int(offsets[-1])
        self.layer_descriptors = {
            v.name: {"shape": tuple(s), "slice": slice(a, b)}
            for v, s, (a, b) in zip(weights, self.shapes, self.indices)
        }
        self.w = _flatten(weights)

    def _split(self, flat):
        """Split a flat ``(dimension,)`` tensor into tensors shaped like the weights."""
        return [tf.reshape(flat[a:b], s) for (a, b), s in zip(self.indices, self.shapes)]

    def _split_columns(self, block):
        """Split a ``(dimension, k)`` tensor into ``(k,) + shape`` tensors, one per weight."""
        k = tf.shape(block)[1]
        parts = []
        for (a, b), s in zip(self.indices, self.shapes):
            part = tf.transpose(block[a:b, :])
            parts.append(tf.reshape(part, tf.concat([[k], s], axis=0)))
        return parts

    def _differentiation(self):
        """Context for every ``tf.gradients`` over this problem's graph: the gradients of
        :mod:`.second_order_gradients`, forward ops' included, that keep Hessian products cheap."""
        forward = self._graph_cache(
            "forward_overrides", lambda: forward_overrides([loss for loss, _ in self._objectives()]))
        return second_order_overrides(self._graph, forward)

    def _gradients(self, ys, weight_ids, grad_ys=None):
        """Flat-ordered list of gradients of ``ys`` w.r.t. the weights ``weight_ids``."""
        weights = self._weights
        with self._differentiation():
            grads = tf.gradients(ys, [weights[i] for i in weight_ids], grad_ys=grad_ys)
        return [tf.zeros_like(weights[i]) if g is None else g for g, i in zip(grads, weight_ids)]

    def _build_derivatives(self):
        weights = self._weights
        grads = [None] * len(weights)
        for loss, ids in self._objectives():
            for i, g in zip(ids, self._gradients(loss, ids)):
                grads[i] = g
        grads = [tf.zeros_like(v) if g is None else g for v, g in zip(weights, grads)]
        self._gradient_parts = grads
        self.gradient = _flatten(grads)
        self.norm_g = tf.sqrt(tf.reduce_sum(tf.square(self.gradient)))
        register_derived(self.norm_g, [self.gradient], np.linalg.norm)  # ||mean g||, not mean ||g||
        self.dw = tf.placeholder(self.dtype, [self.dimension], name="dw")
        self.Hdw = self._hessian_vector_product(self.dw)
        self.H_quadratic = tf.reduce_sum(self.dw * self.Hdw)

    def _hessian_vector_product(self, v):
        """Build ``H v = d/dw (g^T v)`` for a flat ``(dimension,)`` tensor ``v``.

        Reverse-over-reverse on the gradient already in the graph; see
        :mod:`.hessian_products`.
        """
        return _flatten(hessian_vector_parts(self, self._split(v)))

    def _point_hessian_vector_product(self):
        """``(v, H v)``, ``v`` a ``(dimension,)`` placeholder, built as a one-column block.

        The form products at a captured point copy (``Hessian.at_point``): inside a
        block a max pool's second-order term gathers at argmax positions that do not
        depend on the direction, so the capture stores them once; ``Hdw`` searches
        the pool windows per product instead (cheaper for a single fresh product).
        """
        if self._point_hdw is None:
            with self._graph.as_default():
                v = tf.placeholder(self.dtype, [self.dimension], name="dw_at_point")
                self._point_hdw = (v, tf.reshape(hessian_row_block_product(self, v[tf.newaxis]), [-1]))
        return self._point_hdw

    def _hessian_block_product(self, V):
        """Build ``H V`` for a ``(dimension, k)`` tensor with static ``k`` (one session run).

        The ``k`` column products share the forward and backward passes; see
        :func:`.hessian_products.hessian_block_product`.
        """
        return hessian_block_product(self, V)

    def _graph_cache(self, name, build=dict):
        """The problem's cache ``name`` (``build()`` on first use): where modules that add
        graph pieces to this problem (fused steps, linearizations, the Gauss-Newton graph)
        keep them, so each is built once per problem."""
        if name not in self._graph_caches:
            self._graph_caches[name] = build()
        return self._graph_caches[name]

    def _initialize_hessian_blocking(self, hessian_block_size):
        """Build (or reuse) the block product for ``k`` columns; sets ``dW`` and ``HdW``.

        Returns the pair ``(dW, HdW)``: ``dW`` a ``(dimension, k)`` placeholder and
        ``HdW = d/dw (g^T dW)`` of the same shape.
        """
        k = _check_block_size(hessian_block_size)
        self.hessian_block_size = k
        self.dW, self.HdW = self._hessian_block(k)
        return self.dW, self.HdW

    def _hessian_block(self, k):
        """The cached ``(dW, HdW)`` pair for ``k`` columns, built on first use."""
        if k not in self._blocks:
            with self._graph.as_default():
                dW = tf.placeholder(self.dtype, [self.dimension, k], name=f"dW_{k}")
                self._blocks[k] = (dW, self._hessian_block_product(dW))
        return self._blocks[k]

    # ------------------------------------------------------------------ Gauss-Newton
    @property
    def GNdw(self):
        """``G dw = J^T H_L J dw`` fed by ``dw``; built on first access (see :mod:`.gauss_newton`)."""
        from .gauss_newton import gauss_newton_graph
        return gauss_newton_graph(self).GNdw

    @property
    def GNdW(self):
        """``G dW`` fed by ``dW`` (``hessian_block_size`` columns); built on first access."""
        if self.hessian_block_size is None:
            raise AttributeError("GNdW needs a block size: call _initialize_hessian_blocking(k) first.")
        from .gauss_newton import gauss_newton_block
        return gauss_newton_block(self, self.hessian_block_size)[1]

    def _build_update_ops(self):
        weights = self._weights
        self._update_placeholder = tf.placeholder(self.dtype, [self.dimension], name="w_update")
        self._assignment_placeholder = tf.placeholder(self.dtype, [self.dimension], name="w_assign")
        self._update_ops = tf.group(*[
            tf.assign_add(v, p) for v, p in zip(weights, self._split(self._update_placeholder))
        ])
        self._assignment_ops = tf.group(*[
            tf.assign(v, p) for v, p in zip(weights, self._split(self._assignment_placeholder))
        ])

    # ------------------------------------------------------------------ session helpers
    def _check_flat(self, v, argument):
        # A fresh copy: TensorFlow may keep a fed buffer as the variables' storage, and later
        # in-place updates of the weights would then change the caller's array.
        arr = np.array(v, dtype=self.dtype.as_numpy_dtype, copy=True)
        if arr.shape != (self.dimension,):
            raise ValueError(
                f"{argument} must be a flat vector of length {self.dimension} (the number of "
                f"trainable weights), got shape {arr.shape}."
            )
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{argument} contains NaN or inf.")
        return arr

    def update_weights(self, sess, v):
        """``w <- w + v`` in ``sess`` for a flat vector ``v`` of length ``dimension``."""
        run(sess, self._update_ops, {self._update_placeholder: self._check_flat(v, "v")})

    def set_weights(self, sess, w):
        """``w <- w_new`` in ``sess`` for a flat vector of length ``dimension``."""
        run(sess, self._assignment_ops, {self._assignment_placeholder: self._check_flat(w, "w")})

    def get_weights(self, sess):
        """The flat weight vector ``w`` (a numpy copy)."""
        return run(sess, self.w)

    def _partition_dictionaries(self, feed_dict, n):
        """Split one data dict into ``n`` dicts along the sample axis (``numpy.array_split`` order)."""
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
            raise ValueError(f"n must be a positive int, got {n!r}.")
        pieces = {key: np.array_split(np.asarray(value), n) for key, value in feed_dict.items()}
        return [{key: pieces[key][i] for key in feed_dict} for i in range(n)]

    def _weights_from_keras_list(self, weight_list):
        """Flatten a Keras-style list of weight arrays into a vector of length ``dimension``."""
        if len(weight_list) != len(self.shapes):
            raise ValueError(
                f"w_0 as a list must hold {len(self.shapes)} arrays (one per trainable weight), "
                f"got {len(weight_list)}."
            )
        flat = []
        for i, (arr, shape) in enumerate(zip(weight_list, self.shapes)):
            arr = np.asarray(arr)
            if tuple(arr.shape) != tuple(shape):
                raise ValueError(f"w_0[{i}] must have shape {tuple(shape)}, got {arr.shape}.")
            flat.append(arr.reshape(-1))
        return np.concatenate(flat)
