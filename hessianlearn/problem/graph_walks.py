"""Walks over a problem's TensorFlow graph."""

__all__ = ["ancestor_ops"]


def ancestor_ops(tensors):
    """The operations that ``tensors`` depend on through data inputs, their own included."""
    found, stack = set(), [t.op for t in tensors]
    while stack:
        op = stack.pop()
        if op not in found:
            found.add(op)
            stack.extend(t.op for t in op.inputs)
    return found
