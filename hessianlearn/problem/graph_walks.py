"""Walks over a problem's TensorFlow graph, and the partial copies built from them."""
from .._tf import tf

__all__ = ["ancestor_ops", "uncopyable_types", "subgraph_def", "strip_colocation", "unseen_feeds",
           "CONTROL_FLOW_OPS", "COPYABLE_STATEFUL_OPS"]

#: Operation types of graph control flow (v1 loops and conds, functional forms): a graph
#: holding them is not copied (into a linearization, a loop body or a primed product).
CONTROL_FLOW_OPS = frozenset({"Enter", "Exit", "NextIteration", "Merge", "Switch", "LoopCond",
                              "While", "StatelessWhile", "If", "StatelessIf", "PartitionedCall",
                              "StatefulPartitionedCall"})

#: Stateful operation types a copy may hold: they read the state the original reads (a
#: copied random draw, by contrast, would restart its own stream).
COPYABLE_STATEFUL_OPS = frozenset({"VarHandleOp", "ReadVariableOp", "Placeholder"})


def ancestor_ops(roots, control_inputs=False):
    """The operations that ``roots`` (tensors or operations) depend on through data inputs,
    and with ``control_inputs`` also through control inputs, their own included."""
    found, stack = set(), [root if isinstance(root, tf.Operation) else root.op for root in roots]
    while stack:
        op = stack.pop()
        if op not in found:
            found.add(op)
            stack.extend(t.op for t in op.inputs)
            if control_inputs:
                stack.extend(op.control_inputs)
    return found


def uncopyable_types(ops, allowed=()):
    """``(flow, stateful)``: the sorted operation types among ``ops`` that a partial copy would
    not run faithfully: graph control flow, and stateful operations other than
    :data:`COPYABLE_STATEFUL_OPS` and the operations in ``allowed``."""
    flow = sorted({op.type for op in ops} & CONTROL_FLOW_OPS)
    stateful = sorted({op.type for op in ops if op.op_def.is_stateful and op not in allowed}
                      - COPYABLE_STATEFUL_OPS)
    return flow, stateful


def strip_colocation(nodes):
    """Remove the colocation hints (``_class``) of the node definitions ``nodes`` in place: in a
    partial copy they may name operations that are not copied."""
    for node in nodes:
        if "_class" in node.attr:
            del node.attr["_class"]


def subgraph_def(graph, names, drop_colocation=False):
    """A ``GraphDef`` of ``graph`` holding only the nodes named in ``names`` (its versions and
    function library kept), for ``tf.import_graph_def`` with the left-out inputs mapped.
    ``drop_colocation`` removes the colocation hints (``_class``), which may name left-out nodes."""
    graph_def = graph.as_graph_def()
    nodes = [node for node in graph_def.node if node.name in names]
    if drop_colocation:
        strip_colocation(nodes)
    del graph_def.node[:]
    graph_def.node.extend(nodes)
    return graph_def


def unseen_feeds(feed_dict, copied_names, inputs):
    """The keys of ``feed_dict`` that a partial copy would not see: fed tensors whose
    operations the copy recomputes (their names in ``copied_names``) and that are not among
    its mapped ``inputs`` (e.g. a fed ``tf.placeholder_with_default``, which the copy would
    read at its default). Callers run the original graph instead when there are any."""
    return [key for key in feed_dict if key not in inputs
            and getattr(getattr(key, "op", None), "name", None) in copied_names]
