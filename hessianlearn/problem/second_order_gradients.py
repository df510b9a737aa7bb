"""Gradients that make Hessian products cheap: of first-order kernels and of some forward ops.

A Hessian product differentiates the gradient's graph, so TensorFlow calls the
registered gradients of the first-order kernels (``ReluGrad``, ``MaxPoolGrad``, ...).
Some of them return dense zeros for inputs that the kernel's output does not
depend on almost everywhere: ``ReluGrad(g, f) = g * [f > 0]`` is piecewise
constant in ``f``, and ``MaxPoolGrad(x, y, g)`` (``g`` routed to each window's
argmax) is piecewise constant in ``x`` and ``y``. In a Hessian product every such
zero is an activation-sized tensor, filled and summed (``AddN``) into the real
contributions, once per column. The gradients here return ``None`` for them
(no contribution; the values are unchanged). The derivative of ``MaxPoolGrad``
in ``g``, ``r -> r[argmax]`` per window (an R-forward max pool), is
``MaxPoolGradGrad``, which searches every window again on each call; inside
:func:`shared_argmax` (the block products: many columns at one point) it is a
gather at argmax positions computed once (``max_pool_with_argmax``, per graph
loop context), a one-time cost per point instead of a window search per column.
Likewise the smooth activations' kernels
(``SigmoidGrad``, ``TanhGrad``, ``SoftplusGrad``) have a second derivative that is a
direction-independent factor times the incoming sensitivity (``dy (1 - 2y)`` for the
sigmoid); TensorFlow rebuilt it from three or more elementwise ops per column, here
the factor is made once per point and each column multiplies by it.

One first-order gradient is rewritten as well: a ``Relu`` whose output ``a`` feeds a
max pool ``p = MaxPool(a)`` has the gradient ``ReluGrad(MaxPoolGrad(a, p, dp), a)``,
a mask over the activation. Every entry the pool routes back lands on its window's
maximum, where ``a = p``, so the same values are ``MaxPoolGrad(a, p, ReluGrad(dp, p))``:
the mask at the pooled size (a quarter for 2x2 pools). The gradient applies it once,
a Hessian column four times (twice per such layer: in the gradient it differentiates
and on the way back through the forward pass), so each of those masks is a quarter
of the work. And the
softmax cross-entropy's second derivative, ``(r - <r, s>) s`` per row for softmax ``s``,
takes the row sums as a reduction with ``s`` made once per point, where TensorFlow
recomputed ``s`` and formed ``<r, s>`` as a batch of ``1 x C`` by ``C x 1`` matrix products,
per column. Both are gradients of forward ops (:func:`forward_overrides`), set only while
the problem differentiates.

:func:`second_order_overrides` is the context the problems build their gradient
in; the ops it creates carry the override, so every later differentiation of
the gradient (``Hdw``, ``HdW``, explicit Hessians) uses these functions.
"""
import contextlib
import weakref

from .._internals import (UNKNOWN, control_flow_context, marked_zeros, restore_gradient_function,
                          set_gradient_function)
from .._tf import tf
from .graph_walks import ancestor_ops

__all__ = ["second_order_overrides", "shared_argmax", "forward_overrides"]

_PREFIX = "HessianlearnSecondOrder"


def _relu_grad_grad(op, grad):
    """``ReluGrad(g, f) = g [f > 0]``: linear in ``g``, zero derivative in ``f``."""
    return tf.raw_ops.ReluGrad(gradients=grad, features=op.inputs[1]), None


def _relu6_grad_grad(op, grad):
    return tf.raw_ops.Relu6Grad(gradients=grad, features=op.inputs[1]), None


def _leaky_relu_grad_grad(op, grad):
    return tf.raw_ops.LeakyReluGrad(gradients=grad, features=op.inputs[1],
                                    alpha=op.get_attr("alpha")), None


# Per graph: (op name, what, control flow context) -> a direction-independent tensor of the op
_POINT_TENSORS = weakref.WeakKeyDictionary()


def _point_tensor(op, what, build):
    """``build()``, made once per ``op`` and graph loop context and shared by every column.

    It depends on the point (the op's inputs), not on a direction: the columns of a block
    share it, and a product at a captured point stores it with the capture. It stays
    differentiable, so a product differentiated once more (third order) is still exact.
    """
    graph = op.graph
    context = control_flow_context(graph)  # a while-loop body needs its own copy
    if context is UNKNOWN:
        return build()  # not shared: same values, made per column
    cache = _POINT_TENSORS.setdefault(graph, {})
    key = (op.name, what, id(context))
    if key not in cache:
        with tf.control_dependencies(None), tf.name_scope(op.name.split("/")[-1] + "_" + what):
            cache[key] = (context, build())  # the context is kept alive with its id
    return cache[key][1]


def _argmax(op):
    """Flat argmax positions (batch included) of the windows of ``op``'s forward input."""
    def build():
        _, argmax = tf.nn.max_pool_with_argmax(
            tf.stop_gradient(op.inputs[0]), op.get_attr("ksize"), op.get_attr("strides"),
            op.get_attr("padding").decode(), include_batch_in_index=True)
        return argmax
    return _point_tensor(op, "argmax", build)


def _sigmoid_grad_grad(op, grad):
    """``SigmoidGrad(y, dy) = dy y (1 - y)``: ``grad dy (1 - 2y)`` for ``y``, ``SigmoidGrad(y, grad)``
    for ``dy``; the factor ``dy (1 - 2y)`` once per point (one ``Mul`` per column, not four ops)."""
    y, dy = op.inputs
    factor = _point_tensor(op, "factor", lambda: dy * (1.0 - 2.0 * y))
    return grad * factor, tf.raw_ops.SigmoidGrad(y=y, dy=grad)


def _tanh_grad_grad(op, grad):
    """``TanhGrad(y, dy) = dy (1 - y^2)``: ``-2 grad dy y`` for ``y``, ``TanhGrad(y, grad)`` for ``dy``."""
    y, dy = op.inputs
    factor = _point_tensor(op, "factor", lambda: -2.0 * dy * y)
    return grad * factor, tf.raw_ops.TanhGrad(y=y, dy=grad)


def _softplus_grad_grad(op, grad):
    """``SoftplusGrad(dy, x) = dy sigmoid(x)``: ``SoftplusGrad(grad, x)`` for ``dy`` and
    ``grad dy sigmoid'(x)`` for ``x``, with ``sigmoid'(x) = 1 / (e^-x + 2 + e^x)``."""
    dy, x = op.inputs
    factor = _point_tensor(op, "factor",
                           lambda: dy / (tf.exp(-x) + 2.0 + tf.exp(x)))
    return tf.raw_ops.SoftplusGrad(gradients=grad, features=x), grad * factor


_SHARED_ARGMAX = [False]


@contextlib.contextmanager
def shared_argmax():
    """Context for building many Hessian columns at one point: max pools' second-order
    terms gather at argmax positions computed once instead of searching per column."""
    previous, _SHARED_ARGMAX[0] = _SHARED_ARGMAX[0], True
    try:
        yield
    finally:
        _SHARED_ARGMAX[0] = previous


def _max_pool_grad_grad(op, grad):
    """``d MaxPoolGrad(x, y, g) / d g`` applied to ``grad`` (shaped like ``x``): ``grad`` at
    each window's argmax, shaped like ``y``; ``None`` for ``x`` and ``y``."""
    padding = op.get_attr("padding").decode()
    if not _SHARED_ARGMAX[0] or op.get_attr("data_format").decode() != "NHWC" \
            or padding not in ("SAME", "VALID"):
        pooled = tf.raw_ops.MaxPoolGradGrad(
            orig_input=op.inputs[0], orig_output=op.inputs[1], grad=grad, ksize=op.get_attr("ksize"),
            strides=op.get_attr("strides"), padding=padding,
            data_format=op.get_attr("data_format").decode())
    else:
        pooled = tf.reshape(tf.gather(tf.reshape(grad, [-1]), _argmax(op)), tf.shape(op.inputs[1]))
    return None, None, pooled


_GRADIENTS = {"ReluGrad": _relu_grad_grad, "Relu6Grad": _relu6_grad_grad,
              "LeakyReluGrad": _leaky_relu_grad_grad, "MaxPoolGrad": _max_pool_grad_grad,
              "SigmoidGrad": _sigmoid_grad_grad, "TanhGrad": _tanh_grad_grad,
              "SoftplusGrad": _softplus_grad_grad}
for _op_type, _function in _GRADIENTS.items():
    try:
        tf.RegisterGradient(_PREFIX + _op_type)(_function)
    except KeyError:  # registered by an earlier import of this module (a reload)
        pass
_OVERRIDES = {op_type: _PREFIX + op_type for op_type in _GRADIENTS}


def _pooled_relu_gradient(op, grad):
    """Gradient of ``a = Relu(z)`` feeding a max pool: ``MaxPoolGrad(a, p, ReluGrad(dp, p))``
    when ``grad`` is that pool's ``MaxPoolGrad(a, p, dp)`` (``a``'s only use), else the usual
    ``ReluGrad(grad, a)``. Equal values: each routed entry lands where ``a`` is its window's
    maximum ``p``, so the mask ``[a > 0]`` there is ``[p > 0]``."""
    a = op.outputs[0]
    pool = grad.op
    if pool.type != "MaxPoolGrad" or pool.inputs[0] is not a:
        return tf.raw_ops.ReluGrad(gradients=grad, features=a)
    _, p, dp = pool.inputs
    return tf.raw_ops.MaxPoolGrad(
        orig_input=a, orig_output=p, grad=tf.raw_ops.ReluGrad(gradients=dp, features=p),
        ksize=pool.get_attr("ksize"), strides=pool.get_attr("strides"),
        padding=pool.get_attr("padding"), explicit_paddings=pool.get_attr("explicit_paddings"),
        data_format=pool.get_attr("data_format"))


def _is_zero(tensor):
    return tensor is None or marked_zeros(tensor) \
        or tensor.op.type == "ZerosLike"


def _softmax_cross_entropy_gradient(op, grad_loss, grad_grad):
    """Gradient of ``(loss, backprop) = SoftmaxCrossEntropyWithLogits(logits, labels)``.

    ``backprop = s - labels`` with ``s = softmax(logits)``, so its derivative applied to a
    sensitivity ``r`` (``grad_grad``, shape ``(batch, C)``) is ``(r - <r, s>) s`` per row:
    here ``s`` once per point and ``<r, s>`` a row sum. ``grad_loss`` (shape ``(batch,)``)
    contributes ``grad_loss backprop`` to the logits and ``-grad_loss log s`` to the labels,
    as in TensorFlow's gradient.
    """
    logits = op.inputs[0]
    terms, labels = [], None
    if not _is_zero(grad_loss):
        per_row = tf.expand_dims(grad_loss, -1)
        terms.append(per_row * op.outputs[1])
        labels = per_row * -tf.nn.log_softmax(logits)
    if not _is_zero(grad_grad):
        s = _point_tensor(op, "softmax", lambda: tf.nn.softmax(logits))
        terms.append((grad_grad - tf.reduce_sum(grad_grad * s, axis=-1, keepdims=True)) * s)
    if not terms:
        return tf.zeros_like(logits), labels
    return (terms[0] if len(terms) == 1 else terms[0] + terms[1]), labels


def forward_overrides(outputs):
    """``{op: gradient function}`` for the forward ops among the ancestors of ``outputs``
    that :func:`second_order_overrides` differentiates its own way: a ``Relu`` whose output
    feeds a ``MaxPool`` (:func:`_pooled_relu_gradient`) and the softmax cross-entropy
    (:func:`_softmax_cross_entropy_gradient`)."""
    found = {}
    for op in ancestor_ops(outputs):
        if op.type == "MaxPool" and op.inputs[0].op.type == "Relu":
            found[op.inputs[0].op] = _pooled_relu_gradient
        elif op.type == "SoftmaxCrossEntropyWithLogits":
            found[op] = _softmax_cross_entropy_gradient
    return found


@contextlib.contextmanager
def second_order_overrides(graph=None, forward=None):
    """Context in which the first-order kernels created get the gradients above.

    Build a loss's gradient inside it; Hessian products taken of that gradient
    later (anywhere) then skip the zero terms. First-order values are unchanged.
    The forward ops in ``forward`` (from :func:`forward_overrides`) take their
    gradient functions while the context lasts; outside it they keep TensorFlow's (and
    inside it too when the internal is unavailable, :mod:`hessianlearn._internals`).
    """
    graph = tf.get_default_graph() if graph is None else graph
    forward = forward or {}
    previous = {}
    for op, function in forward.items():
        replaced = set_gradient_function(op, function)
        if replaced is not UNKNOWN:
            previous[op] = replaced
    try:
        with graph.gradient_override_map(_OVERRIDES):
            yield
    finally:
        for op, function in previous.items():
            restore_gradient_function(op, function)
