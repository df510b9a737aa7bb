"""Graph construction of exact Hessian-vector and Hessian-block products.

For a loss ``f(w)`` with gradient parts ``g_i = df/dW_i`` (one per trainable
weight tensor ``W_i``), the Hessian action on a flat direction ``v`` is built by
reverse-over-reverse differentiation,

.. math::  H v = \\nabla_w \\big( g(w)^T v \\big),

with ``v`` treated as a constant. The forward and first backward passes are the
ones already in the graph for the gradient, so a session run that fetches both
``gradient`` and ``H v`` computes them once.

A block ``V`` of ``k`` columns is built as ``k`` such products that share the
forward and backward passes and run in one session call. The columns of ``V`` are
split per weight once (one slice and one unstack per weight tensor), which keeps
the graph small: its build time grows linearly in ``k``.

Measured alternatives (see ``bench/README.md``): forward-over-reverse by
``tf.autodiff.ForwardAccumulator`` or by the double-``tf.gradients`` trick, and
``tf.vectorized_map`` over the columns, were all slower in TF 2.21 graph mode.
"""
from .._tf import tf

__all__ = ["hessian_vector_parts", "hessian_block_product"]


def _dot(a_parts, b_parts):
    """``sum_i <a_i, b_i>`` as a scalar tensor."""
    return tf.add_n([tf.reduce_sum(a * b) for a, b in zip(a_parts, b_parts)])


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
        g_dot_v = _dot([problem._gradient_parts[i] for i in ids], [v_parts[i] for i in ids])
        for i, h in zip(ids, problem._gradients(g_dot_v, ids)):
            hv[i] = h
    return [tf.zeros_like(w) if h is None else h for w, h in zip(weights, hv)]


def _column_parts(problem, V, k):
    """Split a ``(dimension, k)`` tensor into ``k`` lists of per-weight tensors."""
    per_weight = []
    for (a, b), shape in zip(problem.indices, problem.shapes):
        cols = tf.unstack(V[a:b, :], num=k, axis=1)
        per_weight.append([tf.reshape(c, shape) for c in cols])
    return [[per_weight[i][j] for i in range(len(per_weight))] for j in range(k)]


def hessian_block_product(problem, V):
    """``H V`` for a ``(dimension, k)`` tensor ``V`` with a static column count ``k``.

    Parameters
    ----------
    problem : Problem
    V : tensor, shape ``(dimension, k)``

    Returns
    -------
    tensor, shape ``(dimension, k)``
        Column ``j`` is ``H V[:, j]``, equal to :func:`hessian_vector_parts` applied
        to that column (the same graph operations, hence the same floating-point
        result).
    """
    k = V.shape.as_list()[1]
    if k is None:
        raise ValueError(
            "V must have a static number of columns (placeholder shape (dimension, k)); "
            "the Hessian operator pads the last block to k columns."
        )
    columns = []
    for parts in _column_parts(problem, V, k):
        hv = hessian_vector_parts(problem, parts)
        columns.append(tf.concat([tf.reshape(h, [-1]) for h in hv], axis=0))
    return tf.stack(columns, axis=1)
