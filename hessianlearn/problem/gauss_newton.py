"""Generalized Gauss-Newton (GGN) actions of a problem's loss, built in the graph.

Write the loss as ``f(w) = L(z(w))`` with ``z = NN(x; w)`` the network outputs
of the whole batch (all outputs of the model, concatenated). With
``J = dz/dw`` (``(m, dimension)``, ``m`` the number of output entries of the
batch) and ``H_L = d^2 L / dz^2`` (``(m, m)``), the generalized Gauss-Newton
matrix is

.. math::

    G = J^T H_L J, \\qquad
    H = G + \\sum_{a} \\frac{\\partial L}{\\partial z_a} \\nabla^2_w z_a .

``G`` is symmetric, and positive semidefinite when ``L`` is convex in ``z``
(mean squared error, softmax cross-entropy). For a loss that is a sum over
samples, ``H_L`` is block diagonal with one block per sample; nothing here
relies on that, the batch output is differentiated as one tensor.

``G v`` is built without forming ``J``, in three passes:

1. ``J v`` by forward mode through the double-gradient trick:
   ``J^T u = tf.gradients(z, w, grad_ys=u)`` is linear in a dummy ``u``, so
   ``J v = d/du <J^T u, v>``;
2. ``H_L (J v) = d/dz <dL/dz, J v>`` with ``J v`` held constant;
3. ``J^T (H_L J v)``, a vector-Jacobian product (``tf.gradients`` with
   ``grad_ys``).

Problems expose the results as ``problem.GNdw`` (fed by ``problem.dw``) and
``problem.GNdW`` (fed by ``problem.dW``, the same placeholder as ``HdW``).
Losses that are not a function of the network outputs alone (a game's
per-player losses, a VAE's KL term on a latent layer, a derivative (H1) loss,
Keras weight regularization losses) have no such factorization:
:func:`gauss_newton_graph` raises ``NotImplementedError`` for them.
"""
from .._tf import tf
from .hessian_products import folded_sensitivities
from .second_order_gradients import shared_argmax

__all__ = ["GaussNewtonGraph", "gauss_newton_graph", "gauss_newton_block"]


def _flatten(tensors):
    return tf.concat([tf.reshape(t, [-1]) for t in tensors], axis=0)


def _zeros_for_none(tensors, like):
    return [tf.zeros_like(b) if t is None else t for t, b in zip(tensors, like)]


def _check_supported(problem):
    """Raise ``NotImplementedError`` unless ``problem.loss`` is ``L(z(w))``."""
    name = type(problem).__name__
    reasons = []
    if getattr(problem, "is_gan", False):
        reasons.append("it is a game (each player has its own loss, so there is no single L(z))")
    if getattr(problem, "is_vae", False):
        reasons.append("its KL term depends on a latent layer, not only on the network output")
    if getattr(problem, "has_derivative_loss", False):
        reasons.append("its loss depends on derivatives of the network output, not on z alone")
    if not reasons and len(problem._objectives()) != 1:
        reasons.append("it has several objectives (per-player losses)")
    if reasons:
        raise NotImplementedError(
            f"The generalized Gauss-Newton matrix J^T H_L J is not defined for {name}: "
            f"{'; '.join(reasons)}. Use the Hessian operator (hessian_type='hessian') instead."
        )
    outputs = list(problem.NN.outputs)
    direct = tf.gradients(problem.loss, problem._weights, stop_gradients=outputs)
    leaking = [v.name for v, g in zip(problem._weights, direct) if g is not None]
    if leaking:
        raise NotImplementedError(
            f"The generalized Gauss-Newton matrix J^T H_L J is not defined for {name}: its loss "
            f"depends on the weights {leaking} other than through the network outputs (e.g. a "
            "Keras regularization loss). Remove that term from the loss (use L2Regularization, "
            "which the operators add exactly) or use the Hessian operator."
        )
    return outputs


class GaussNewtonGraph:
    """The graph pieces of ``G v = J^T H_L J v`` for one problem, built once.

    Parameters
    ----------
    problem : Problem
        A problem whose ``loss`` depends on the weights only through
        ``problem.NN.outputs``.

    Attributes
    ----------
    GNdw : tf.Tensor, shape (dimension,)
        ``G dw`` for the placeholder ``problem.dw``.

    Raises
    ------
    NotImplementedError
        For losses without the ``L(z(w))`` structure (games, VAEs, derivative
        losses, weight-dependent loss terms).
    """

    def __init__(self, problem):
        self.problem = problem
        self._blocks = {}
        with problem._graph.as_default():
            self.outputs = _check_supported(problem)
            ids = list(range(len(problem._weights)))
            # J^T u, linear in the dummy cotangents u (one per output).
            self._u = [tf.zeros_like(z) for z in self.outputs]
            self._jtu = problem._gradients(self.outputs, ids, grad_ys=self._u)
            with problem._differentiation():  # e.g. the cross-entropy's H_L as a row sum
                self._loss_gradients = tf.gradients(problem.loss, self.outputs)
            self.GNdw = self.vector_product(problem.dw)

    def jacobian_vector_product(self, v):
        """``[J_o v for each output o]``: forward-mode products for a flat ``(dimension,)`` ``v``."""
        v_parts = self.problem._split(v)  # d/du (J^T u)^T v = J v: v as output sensitivities
        ys, grad_ys = folded_sensitivities(self._jtu, v_parts)  # biases folded into their kernels
        return _zeros_for_none(tf.gradients(ys, self._u, grad_ys=grad_ys), self.outputs)

    def vector_product(self, v):
        """``G v = J^T H_L J v`` for a flat ``(dimension,)`` tensor ``v``."""
        problem = self.problem
        with problem._graph.as_default():
            jv = [tf.stop_gradient(t) for t in self.jacobian_vector_product(v)]
            terms = [tf.reduce_sum(g * t) for g, t in zip(self._loss_gradients, jv) if g is not None]
            if terms:
                with problem._differentiation():
                    hl_jv = tf.gradients(tf.add_n(terms), self.outputs)
            else:  # the loss does not depend on the outputs at all
                hl_jv = [None] * len(self.outputs)
            hl_jv = [tf.stop_gradient(t) for t in _zeros_for_none(hl_jv, self.outputs)]
            ids = list(range(len(problem._weights)))
            return _flatten(problem._gradients(self.outputs, ids, grad_ys=hl_jv))

    def block(self, k):
        """``(dW, GdW)`` for ``k`` columns: ``dW`` is the problem's placeholder for ``HdW``.

        ``GdW`` (``(dimension, k)``) is built column by column on first use and cached.
        """
        if k not in self._blocks:
            dW, _ = self.problem._hessian_block(k)
            with self.problem._graph.as_default():
                self._blocks[k] = (dW, tf.transpose(self.row_block_product(tf.transpose(dW))))
        return self._blocks[k]

    def row_block_product(self, VT):
        """``(G V)^T`` for ``V^T`` of shape ``(k, dimension)`` (static ``k``): one product per
        row, the rows contiguous (the layout of :func:`.hessian_products.hessian_row_block_product`)."""
        with self.problem._graph.as_default(), shared_argmax():  # one point, many columns
            return tf.stack([self.vector_product(row) for row in tf.unstack(VT, axis=0)], axis=0)


def gauss_newton_graph(problem):
    """The (cached) :class:`GaussNewtonGraph` of ``problem``, built on first call."""
    return problem._graph_cache("gauss_newton", lambda: GaussNewtonGraph(problem))


def gauss_newton_block(problem, k):
    """``(dW, GNdW)`` of ``problem`` for ``k`` columns (``dW`` shared with ``HdW``)."""
    return gauss_newton_graph(problem).block(k)
