"""Graph construction of exact Hessian-vector and Hessian-block products.

For a loss ``f(w)`` with gradient parts ``g_i = df/dW_i`` (one per trainable
weight tensor ``W_i``), the Hessian action on a flat direction ``v`` is built by
reverse-over-reverse differentiation,

.. math::  H v = \\nabla_w \\big( g(w)^T v \\big),

with ``v`` treated as a constant, built as ``tf.gradients(g, w, grad_ys=v)``
(``v`` as the output sensitivities of ``g``: no scalar ``g^T v`` is formed and
broadcast back). The forward and first backward passes are the ones already in
the graph for the gradient, so a session run that fetches both ``gradient`` and
``H v`` computes them once; the gradients of the first-order kernels it
differentiates are those of :mod:`.second_order_gradients` (no dense zeros).
A bias's direction enters through its layer's kernel gradient (one fused
``BiasAdd`` on the kernel's local backward step, see ``folded_sensitivities``)
instead of being tiled to the activation's shape per column, which saves an
activation-sized tile and sum per column.

A block ``V`` of ``k`` columns is built as ``k`` such products that share the
forward and backward passes and run in one session call; the build time grows
linearly in ``k``. The columns are taken as the rows of ``V^T`` (contiguous) and
the products stacked per weight tensor: slicing columns of a row-major
``(dimension, k)`` block and stacking flat columns along axis 1 were strided
copies that cost as much as the Hessian arithmetic at small batches. A block
with a dynamic column count runs one column product in a ``tf.while_loop``.

Measured alternatives (see ``bench/README.md``): forward-over-reverse by
``tf.autodiff.ForwardAccumulator`` or by the double-``tf.gradients`` trick were slower
per run in TF 2.21 graph mode. ``tf.vectorized_map`` over the columns builds a graph
that does not grow with the column count; with its ``MatMul`` rule replaced by
``hessianlearn._internals.broadcast_matmul_rule`` it also runs faster than the
unrolled block at small batches (0.89-0.96x at Tutorial 0's Hessian batch 8, 40 columns)
but slower at large ones (1.32-1.37x at batch 100, 20 columns; ``bench/block_forms.py``).
The fused LRSFN step uses it (``vectorized_row_block_parts``) for its build time (0.09 s
against 1.1 s at Tutorial 0's shape); ``hessian_block_product`` keeps the unrolled block.
"""
from .._internals import broadcast_matmul_rule, control_flow_context, registered_gradient
from .._tf import tf
from .second_order_gradients import shared_argmax

__all__ = ["hessian_vector_parts", "hessian_block_product", "hessian_row_block_product",
           "hessian_row_block_parts", "vectorized_row_block_parts"]


def hessian_vector_parts(problem, v_parts):
    """Hessian action on a direction given per weight tensor.

    Parameters
    ----------
    problem : Problem
        Supplies ``_weights``, ``_gradient_parts``, ``_objectives()`` and ``_gradients``.
    v_parts : list of tensors
        ``v_parts[i]`` has the shape of ``problem._weights[i]``.

    Returns
    -------
    list of tensors
        ``(H v)_i`` shaped like the weights. For several objectives (a game), each
        objective contributes the block of its own weights: ``H`` is block diagonal.
    """
    weights = problem._weights
    hv = [None] * len(weights)
    for _, ids in problem._objectives():
        # d/dw (g^T v) = sum_i (dg_i/dw)^T v_i: v_i enter as the gradients' output
        # sensitivities, so no scalar is formed and broadcast back to each weight's shape
        gradient_parts = [tf.convert_to_tensor(problem._gradient_parts[i]) for i in ids]
        ys, grad_ys = folded_sensitivities(gradient_parts, [v_parts[i] for i in ids])
        for i, h in zip(ids, problem._gradients(ys, ids, grad_ys=grad_ys)):
            hv[i] = h
    return [tf.zeros_like(w) if h is None else h for w, h in zip(weights, hv)]


def _producer(tensor):
    """The op that computes ``tensor``, looking through ``Identity`` ops."""
    op = tensor.op
    while op.type == "Identity":
        op = op.inputs[0].op
    return op


def folded_sensitivities(parts, v_parts):
    """``(ys, grad_ys)`` whose backward pass is ``d/dw sum_i <v_i, g_i>``.

    By default the gradient parts themselves with the directions as sensitivities.
    A bias gradient ``g_b = BiasAddGrad(dz)`` whose ``dz`` also makes another part
    ``g_k = K(..., dz)`` (the layer's kernel gradient: ``MatMul``,
    ``Conv2DBackpropFilter``) is folded into that kernel's local backward step: the
    sensitivity of ``dz`` is ``K^T_dz v_k + v_b`` (broadcast along the channels) as
    one ``BiasAdd`` that grappler fuses into the kernel's convolution or matmul,
    instead of ``v_b`` tiled to the activation's shape and added to the rest. The
    other inputs of ``K`` get their local sensitivities ``K^T_x v_k``. Same sum, fewer
    activation-sized tensors per column.
    """
    producers = [_producer(part) for part in parts]
    ys, grad_ys, folded = [], [], set()
    for b, op_b in enumerate(producers):
        if op_b.type != "BiasAddGrad":
            continue
        dz = op_b.inputs[0]
        kernel = next((k for k, op_k in enumerate(producers) if k != b and k not in folded
                       and op_k.type != "BiasAddGrad" and any(t is dz for t in op_k.inputs)), None)
        if kernel is None:
            continue
        op_k = producers[kernel]
        local = _local_gradients(op_k, v_parts[kernel])
        if local is None:
            continue
        for x, sensitivity in zip(op_k.inputs, local):
            if sensitivity is None:
                continue
            if x is dz:
                sensitivity = tf.nn.bias_add(sensitivity, v_parts[b],
                                             data_format=op_b.get_attr("data_format").decode())
            ys.append(x)
            grad_ys.append(sensitivity)
        folded.update((b, kernel))
    for i, (part, v) in enumerate(zip(parts, v_parts)):
        if i not in folded:
            ys.append(part)
            grad_ys.append(v)
    return ys, grad_ys


def _local_gradients(op, grad):
    """The registered gradient of ``op`` alone: its inputs' sensitivities for output sensitivity ``grad``
    (None when it cannot be had: the caller then leaves the work to ``tf.gradients``)."""
    if len(op.outputs) != 1 or control_flow_context(op) is not None:
        return None  # inside graph control flow only tf.gradients knows the gradient loop state
    function = registered_gradient(op)
    if function is None:
        return None
    local = function(op, grad)
    return list(local) if isinstance(local, (list, tuple)) else [local]


def hessian_block_product(problem, V, parallel_iterations=10):
    """``H V`` for a ``(dimension, k)`` tensor ``V``.

    Parameters
    ----------
    problem : Problem
    V : tensor, shape ``(dimension, k)``
        With a static ``k`` the ``k`` column products are unrolled in the graph
        (build time linear in ``k``; the fastest per column). With ``k`` unknown
        (placeholder shape ``(dimension, None)``) one column product is built and
        run in a ``tf.while_loop`` over the columns: a small graph for any ``k``,
        but each iteration re-runs the product's direction-independent operations,
        so it costs more per column (see ``bench/README.md``).
    parallel_iterations : int, optional
        Loop iterations that may run concurrently (dynamic ``k`` only).

    Returns
    -------
    tensor, shape ``(dimension, k)``
        Column ``j`` is ``H V[:, j]``, the same graph operations as
        :func:`hessian_vector_parts` on that column.
    """
    k = V.shape.as_list()[1]
    if k is not None:
        # Columns are rows of V^T: contiguous slices instead of strided copies
        return tf.transpose(hessian_row_block_product(problem, tf.transpose(V)))

    num_columns = tf.shape(V)[1]
    rows = tf.transpose(V)
    out = tf.TensorArray(V.dtype, size=num_columns, element_shape=[problem.dimension])

    def body(j, out):
        return j + 1, out.write(j, _flat(hessian_vector_parts(problem, problem._split(rows[j]))))

    _, out = tf.while_loop(lambda j, _: j < num_columns, body, [tf.constant(0), out],
                           parallel_iterations=parallel_iterations)
    return tf.reshape(tf.transpose(out.stack()), [problem.dimension, -1])


def hessian_row_block_product(problem, VT):
    """``(H V)^T`` for ``V^T`` given as a ``(k, dimension)`` tensor with static ``k``.

    The same ``k`` column products as :func:`hessian_block_product`, in the
    row layout: row ``j`` of ``V^T`` is a contiguous direction, and the result
    is assembled per weight tensor (``k`` products stacked, then one
    concatenation), with no strided column slicing or transposes. Graphs that
    keep their blocks as rows (the fused LRSFN step) use it directly.

    Returns
    -------
    tensor, shape ``(k, dimension)``
        Row ``j`` is ``H V^T[j]``.
    """
    if VT.shape.as_list()[0] is None:
        raise ValueError("hessian_row_block_product needs a static number of rows.")
    directions = [problem._split(row) for row in tf.unstack(VT, axis=0)]
    return tf.concat(_stack_products(problem, directions), axis=1)


def hessian_row_block_parts(problem, VT_parts):
    """``(H V)^T`` per weight tensor, for ``V^T`` given per weight tensor.

    Parameters
    ----------
    problem : Problem
    VT_parts : list of tensors
        ``VT_parts[i]`` has shape ``(k, n_i)``, ``n_i`` the size of weight
        tensor ``i`` (``k`` static): the columns of ``V^T`` that belong to it.

    Returns
    -------
    list of tensors
        Part ``i`` has shape ``(k, n_i)``. Nothing is concatenated or sliced:
        a graph that keeps its blocks per weight tensor (the fused LRSFN step)
        saves those copies of the ``(k, dimension)`` blocks.
    """
    if any(P.shape.as_list()[0] is None for P in VT_parts):
        raise ValueError("hessian_row_block_parts needs a static number of rows.")
    rows = [tf.unstack(P, axis=0) for P in VT_parts]
    directions = [[tf.reshape(rows[i][j], shape) for i, shape in enumerate(problem.shapes)]
                  for j in range(len(rows[0]))]
    return _stack_products(problem, directions)


def vectorized_row_block_parts(problem, VT_parts):
    """:func:`hessian_row_block_parts` as one product vectorized over the rows, or None.

    The product ``H v`` is built once and ``tf.vectorized_map`` turns it into a
    product over the ``k`` rows of ``V^T`` (a leading batch dimension on every
    direction-dependent tensor: one batch of matrix products per layer where the
    unrolled block has ``k`` small ones; a ``MatMul`` on a direction-dependent
    operand becomes a broadcast batch product, ``hessianlearn._internals.broadcast_matmul_rule``).
    The graph does not grow with ``k``: at the Tutorial 0 shape (``k = 40``,
    Hessian batch 8) it is built in ~0.1 s where the unrolled block takes ~1.1 s,
    and runs in 0.89-0.96x its time (1.32-1.37x at batch 100, ``k = 20``;
    ``bench/block_forms.py``). Returns None when an op of the
    product has no vectorization rule (in TensorFlow 2.16-2.21 a convolution whose
    filter depends on the direction; ``tf.vectorized_map`` would fall back to a
    ``tf.while_loop``, slower per column than the unrolled block): the caller then
    uses the unrolled block. Same values to round-off.
    """
    k = VT_parts[0].shape.as_list()[0]
    if k is None:
        raise ValueError("vectorized_row_block_parts needs a static number of rows.")

    def product(rows):
        parts = [tf.reshape(row, shape) for row, shape in zip(rows, problem.shapes)]
        return [tf.reshape(h, [-1]) for h in hessian_vector_parts(problem, parts)]

    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("CRITICAL")  # pfor logs the op it cannot convert as an error
    try:
        with broadcast_matmul_rule():  # no transposes of the (k, n_i) blocks around MatMuls
            out = tf.vectorized_map(product, list(VT_parts), fallback_to_while_loop=False)
    except ValueError:  # an op without a vectorization rule
        return None
    finally:
        logger.setLevel(level)
    return [tf.ensure_shape(part, [k, b - a]) for part, (a, b) in zip(out, problem.indices)]


def _stack_products(problem, directions):
    """``[(k, n_i)]``: the products ``H v_j`` of the per-weight directions, stacked per weight."""
    with shared_argmax():  # the columns share one forward pass, hence its argmax positions
        products = [hessian_vector_parts(problem, parts) for parts in directions]
    return [tf.reshape(tf.stack([parts[i] for parts in products], axis=0), [len(directions), -1])
            for i in range(len(problem._weights))]


def _flat(parts):
    return tf.concat([tf.reshape(p, [-1]) for p in parts], axis=0)
