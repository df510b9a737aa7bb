"""Curvature products at a captured point: the direction-free work done once.

A Hessian product ``H dw`` on a batch splits into work that does not depend on
``dw`` (the forward pass, the first backward pass: activations, their
derivatives, the weights and the batch) and work that does (the two passes of
the direction). Krylov solvers and eigensolvers apply ``H`` many times at one
point, so the first part need not be repeated: a :class:`Linearization` of a
product ``(placeholder, tensor)`` is a copy of the direction-dependent
subgraph whose other inputs (the *frontier*: tensors not depending on the
direction that feed operations that do) are read from variables. One
``capture`` run stores the frontier at the current weights and batch; every
later run feeds only the direction:

.. math::  H(w_*, \\text{batch}_*)\\, dw, \\quad w_*, \\text{batch}_* \\text{ as captured,}

so the products keep describing the captured point even if the weights change
afterwards (capture again to move). A captured product skips the forward and
first backward passes, so it costs less than a fresh one (``bench/hessian_actions.py``
measures both).

The copy is made with ``tf.import_graph_def`` from the node definitions of the
direction-dependent operations (constants come along, control inputs from
outside and colocation hints are dropped), so any product graph without control
flow works: the Hessian, its static blocks, the Gauss-Newton products (a
``tf.while_loop`` or ``tf.cond`` on the direction's path, as in recurrent layers,
raises ``NotImplementedError``). Frontier values live in
variables with unknown shape that belong to no collection (not saved, not
initialized by ``global_variables_initializer``); variables are shared by all
linearizations of one problem, so capturing several products at once stores each
tensor once.
"""
from .._tf import tf
from .graph_walks import CONTROL_FLOW_OPS, ancestor_ops, strip_colocation

__all__ = ["Linearization", "linearization", "capture_op", "retire_points", "point_generation"]


def _direction_dependent(placeholder, tensor):
    """Operations on a path from ``placeholder`` to ``tensor`` (both ends included)."""
    ancestors = ancestor_ops([tensor])
    if placeholder.op not in ancestors:
        raise ValueError(f"{tensor.name} does not depend on {placeholder.name}: nothing to linearize.")
    dependent, stack = set(), [placeholder.op]
    while stack:
        op = stack.pop()
        if op not in dependent:
            dependent.add(op)
            stack.extend(c for t in op.outputs for c in t.consumers() if c in ancestors)
    return dependent


def _recomputed(dependent):
    """Direction-free operations copied rather than captured: the forward ``MaxPool`` of
    each ``MaxPoolGrad`` among the ``dependent`` operations. oneDNN runs ``MaxPoolGrad`` on a workspace of its
    forward op; without that op in the graph TensorFlow's own, much slower, kernel
    runs."""
    return {op.inputs[1].op for op in dependent
            if op.type == "MaxPoolGrad" and op.inputs[1].op.type == "MaxPool"
            and op.inputs[1].op.inputs[0] is op.inputs[0]}


def _cache(problem):
    return problem._graph_cache("linearization", lambda: {"variables": {}, "products": {},
                                                          "captures": {}, "generations": {}})


def retire_points(problem, sess):
    """Start a new captured point of ``problem`` in ``sess``; returns its generation.

    The frontier variables are shared by every linearization of the problem, so a
    new capture overwrites the values earlier points read: their generation is older."""
    generations = _cache(problem)["generations"]
    generations[sess] = generations.get(sess, 0) + 1
    return generations[sess]


def point_generation(problem, sess):
    """The generation of the latest captured point of ``problem`` in ``sess`` (``None``: none yet)."""
    return _cache(problem)["generations"].get(sess)


class Linearization:
    """A product ``tensor(placeholder)`` re-built on captured direction-free inputs.

    Parameters
    ----------
    problem : Problem
        Owner of the graph and of the shared frontier variables.
    placeholder : tf.Tensor
        The direction (e.g. ``problem.dw``, shape ``(n,)``, or a block's ``dW``).
    tensor : tf.Tensor
        The product (e.g. ``problem.Hdw``), linear in ``placeholder``.

    Attributes
    ----------
    direction : placeholder
        The copy's direction placeholder (same dtype and shape as ``placeholder``).
    product : tensor
        The copy of ``tensor``: feed only ``direction`` after a ``capture`` run.
    capture : op
        Stores the frontier; run it with the batch's feed (and with any fetches of
        the same point, e.g. the gradient: the work is shared).
    frontier : list of tensors
        The captured tensors of the original graph.
    """

    def __init__(self, problem, placeholder, tensor):
        graph = problem._graph
        dependent = _direction_dependent(placeholder, tensor)
        dependent |= _recomputed(dependent)
        loops = sorted({op.type for op in dependent} & CONTROL_FLOW_OPS)
        if loops:
            raise NotImplementedError(
                f"{tensor.name} runs through graph control flow ({', '.join(loops)}: a tf.while_loop "
                "or tf.cond, e.g. a recurrent layer or a dynamic-column block), which a partial "
                "copy cannot carry; apply this operator without at_point, or use a static block.")
        frontier, constants = {}, {}  # by name, in a deterministic order
        for op in sorted(dependent, key=lambda op: op.name):
            for t in op.inputs:
                if t.op not in dependent:
                    if t.op.type == "Const":
                        constants[t.op.name] = t.op
                    else:
                        frontier[t.name] = t
        frontier, constants = list(frontier.values()), list(constants.values())
        nodes = {op.name for op in dependent} | {op.name for op in constants}
        graph_def = tf.GraphDef()
        graph_def.versions.CopyFrom(graph.graph_def_versions)
        for op in list(dependent) + constants:
            node = graph_def.node.add()
            node.CopyFrom(op.node_def)
            inputs = [name for name in node.input
                      if not name.startswith("^") or name[1:] in nodes]  # outside order is met
            del node.input[:]
            node.input.extend(inputs)
        strip_colocation(graph_def.node)
        variables = _cache(problem)["variables"]
        with graph.as_default(), tf.name_scope(None):
            reads = {}
            for t in frontier:
                if t.dtype in (tf.resource, tf.variant):  # handles are not values: read live
                    reads[t.name] = t
                    continue
                if t.name not in variables:
                    with tf.name_scope("linearization_frontier"):
                        variables[t.name] = tf.Variable(tf.zeros([0], t.dtype), shape=tf.TensorShape(None),
                                                   validate_shape=False, trainable=False,
                                                   collections=[], use_resource=True, name="frontier")
                read = variables[t.name].read_value()
                read.set_shape(t.shape)
                reads[t.name] = read
            direction, product = tf.import_graph_def(
                graph_def, input_map=reads, return_elements=[placeholder.name, tensor.name],
                name="linearized")
        self.problem = problem
        self.direction, self.product = direction, product
        self.frontier = frontier
        self._variables = variables

    @property
    def capture(self):
        return capture_op(self.problem, [self])

    def assigns(self):
        """``[(variable, tensor)]`` that ``capture`` runs."""
        return [(self._variables[t.name], t) for t in self.frontier if t.name in self._variables]


def capture_op(problem, linearizations):
    """One op storing the frontiers of several linearizations of ``problem`` (each tensor
    once); cached per set of linearizations, so repeated captures add nothing to the graph."""
    captures = _cache(problem)["captures"]
    key = tuple(sorted(id(linear) for linear in linearizations))
    if key not in captures:
        captures[key] = _capture_op(problem, linearizations)
    return captures[key]


def _capture_op(problem, linearizations):
    pairs = {}
    for linear in linearizations:
        for variable, t in linear.assigns():
            pairs[t.name] = (variable, t)
    with problem._graph.as_default(), tf.name_scope("linearization_capture"):
        return tf.group(*[v.assign(t, read_value=False) for v, t in pairs.values()])


def linearization(problem, placeholder, tensor):
    """The cached :class:`Linearization` of ``tensor(placeholder)`` for ``problem``."""
    products = _cache(problem)["products"]
    key = (placeholder.name, tensor.name)
    if key not in products:
        products[key] = Linearization(problem, placeholder, tensor)
    return products[key]
