"""A Newton-Krylov step's first curvature product, computed in the gradient's session run.

An inexact Newton step at ``w`` evaluates the loss and gradient ``g`` on the training batch,
then captures the curvature operator ``A`` (Hessian or Gauss-Newton) at ``w`` on the
Hessian batch (:meth:`~hessianlearn.problem.curvature_operator.CurvatureOperator.at_point`)
and applies it; CG's first product is on its right-hand side

.. math::  b = -(g + \\gamma w),

the negative regularized gradient. :class:`PrimedProduct` is a copy of the operator's
capture op and of its fresh vector product ``A v`` whose data placeholders are its own
(fed the Hessian batch, while the problem's take the training batch) and whose direction
is ``b`` computed in the graph from the gradient. One session run then gives ``g``,
stores the point and returns ``A b``: one run per step fewer than a gradient run followed
by a capture-and-first-product run, the same arithmetic. ``b`` is rounded as the host
rounds it before feeding it: the sum in float64, negated, cast to the problem's dtype, so
the direction CG feeds equals it entry for entry (the operator checks that before using
``A b``).

The copy shares the problem's variables (weights and the captured frontier: the copied
variable handles are mapped to the originals). A graph with control flow, or stateful
operations other than variable reads and the capture's own assignments (a random draw, a
moving-average update), is not copied: :func:`primed_product` returns ``None`` and the
step makes the capture in the run of its first product instead.
"""
from .._tf import tf
from .graph_walks import ancestor_ops, subgraph_def, uncopyable_types

__all__ = ["PrimedProduct", "primed_product"]


class PrimedProduct:
    """The capture and ``A b`` of a curvature operator on its own copy of the data inputs.

    Parameters
    ----------
    operator : CurvatureOperator
        Its capture (``operator.capture_op(blocks=False)``) and fresh vector product
        (``operator._vector_product()``) are copied.
    gamma : float
        The L2 weight in ``b = -(g + gamma w)`` (0: ``b = -g``).

    Attributes
    ----------
    placeholders : dict
        The problem's data placeholder -> the copy's placeholder of the same shape.
    capture : op
        Stores the point (the frontier variables of ``operator.capture_op(blocks=False)``).
    product : tensor
        ``A b``, ``(dimension,)``, before the regularization's ``gamma b`` (the operator adds
        it); available only after ``capture`` has run (the copied product itself reads the
        batch and the weights, not the captured values).
    direction : tensor
        ``b`` in the problem's dtype, ``(dimension,)``.
    """

    def __init__(self, operator, gamma):
        problem = operator.problem
        graph = problem._graph
        capture = operator.capture_op(blocks=False)
        fresh_direction, fresh_product = operator._vector_product()
        ops = ancestor_ops([capture, fresh_product], control_inputs=True)
        # the capture's own assignments (tf.group may nest them one level under no-ops)
        allowed = set(capture.control_inputs)
        allowed.update(op for group in capture.control_inputs if group.type == "NoOp"
                       for op in group.control_inputs)
        flow, stateful = uncopyable_types(ops, allowed)
        if stateful or flow:
            raise ValueError(f"the capture and product graph holds {', '.join(stateful + flow)}, "
                             "which a copy would not run faithfully.")
        handles = [op for op in ops if op.type == "VarHandleOp"]
        keep = {op.name for op in ops if op.type != "VarHandleOp" and op is not fresh_direction.op}
        data = sorted((op.outputs[0] for op in ops if op.type == "Placeholder" and op.name in keep),
                      key=lambda t: t.name)
        graph_def = subgraph_def(graph, keep, drop_colocation=True)
        with graph.as_default(), tf.name_scope(None), tf.name_scope("primed_product"):
            self.direction = _negative_regularized_gradient(problem, gamma)
            input_map = {op.outputs[0].name: op.outputs[0] for op in handles}
            input_map[fresh_direction.name] = self.direction
            copied = tf.import_graph_def(
                graph_def, input_map=input_map,
                return_elements=[capture.name, fresh_product.name] + [p.name for p in data], name="copy")
            self.capture = copied[0]
            with tf.control_dependencies([self.capture]):  # A b available after the capture
                self.product = tf.identity(copied[1])
        self.placeholders = dict(zip(data, copied[2:]))
        self._graph, self._copied = graph, keep
        self._prefix = self.capture.name[: -len(capture.name)]  # the copy's name scope
        self._copies = dict(self.placeholders)  # fed tensor -> its copy (None: not copied)

    def feed(self, feed_dict):
        """The Hessian batch ``feed_dict`` for the copy: each fed tensor the copy recomputes
        (the data placeholders, and e.g. a ``tf.placeholder_with_default``) fed to its copy.
        ``None`` when a data placeholder the product reads is not fed."""
        if any(p not in feed_dict for p in self.placeholders):
            return None
        feed = {}
        for key, value in feed_dict.items():
            if key not in self._copies:  # looked up once per fed tensor, not every step
                name = getattr(getattr(key, "op", None), "name", None)
                self._copies[key] = (self._graph.get_tensor_by_name(self._prefix + key.name)
                                     if name in self._copied else None)
            if self._copies[key] is not None:
                feed[self._copies[key]] = value
        return feed


def _negative_regularized_gradient(problem, gamma):
    """``b = -(g + gamma w)`` as the host forms it: ``g`` and ``gamma w`` (the product the
    regularization's gradient computes, in the problem's dtype) widened to float64, summed,
    negated and cast back."""
    g = problem.gradient
    if gamma <= 0.0:
        return -g
    reg = tf.constant(gamma, dtype=problem.dtype) * problem.w
    return tf.cast(-(tf.cast(g, tf.float64) + tf.cast(reg, tf.float64)), problem.dtype)


def primed_product(operator, gamma=0.0):
    """The cached :class:`PrimedProduct` of ``operator``'s class and ``gamma`` for the
    operator's problem, or ``None`` when the graph cannot be copied or ``operator`` is
    restricted to one layer (``b`` is on all the weights)."""
    if operator.layer_slice is not None:
        return None
    cache = operator.problem._graph_cache("primed_products")
    key = (type(operator), float(gamma))
    if key not in cache:
        try:
            cache[key] = PrimedProduct(operator, float(gamma))
        except ValueError:
            cache[key] = None
    return cache[key]
