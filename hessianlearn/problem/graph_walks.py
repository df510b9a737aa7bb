"""Walks over a problem's TensorFlow graph."""

__all__ = ["ancestor_ops", "dependency_ops", "CONTROL_FLOW_OPS"]

#: Operation types of graph control flow (v1 loops and conds, functional forms): a graph
#: holding them is not copied (into a linearization, a loop body or a primed product).
CONTROL_FLOW_OPS = frozenset({"Enter", "Exit", "NextIteration", "Merge", "Switch", "LoopCond",
                              "While", "StatelessWhile", "If", "StatelessIf", "PartitionedCall",
                              "StatefulPartitionedCall"})


def ancestor_ops(tensors):
    """The operations that ``tensors`` depend on through data inputs, their own included."""
    found, stack = set(), [t.op for t in tensors]
    while stack:
        op = stack.pop()
        if op not in found:
            found.add(op)
            stack.extend(t.op for t in op.inputs)
    return found


def dependency_ops(ops):
    """``ops`` and every operation they depend on, through data and control inputs (what a
    copy of ``ops`` must hold to run as they do)."""
    found, stack = set(), list(ops)
    while stack:
        op = stack.pop()
        if op not in found:
            found.add(op)
            stack.extend(t.op for t in op.inputs)
            stack.extend(op.control_inputs)
    return found
