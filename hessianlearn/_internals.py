"""The private TensorFlow internals hessianlearn uses for speed, each behind one function here.

Every function has a public fallback that gives the same values (to round-off)
by a slower route, taken when the internal is missing (a TensorFlow version
that renamed it) or when the shortcut is switched off with
:func:`public_fallbacks` (the tests force every fallback that way). So a
TensorFlow upgrade that removes an internal costs speed, never correctness.

=========================  ===============================================  ==========================================
shortcut                   internal                                         public fallback
=========================  ===============================================  ==========================================
``session_run``            ``tensorflow.python.client.session`` fetch       ``sess.run``
                           handler and ``Session._call_tf_sessionrun``
                           (:mod:`hessianlearn.utilities.session_callables`)
``gradient_function``      ``ops.get_gradient_function`` (a registered      no bias folding: the plain
                           gradient applied to one op alone,                ``tf.gradients`` path
                           :mod:`hessianlearn.problem.hessian_products`)
``forward_override``       setting ``Operation._gradient_function`` on      TensorFlow's registered gradients
                           existing forward ops                             of those ops
                           (:mod:`hessianlearn.problem.second_order_gradients`)
``control_flow_context``   ``_get_control_flow_context`` of graphs and      no sharing of point tensors across
                           ops (tell a ``tf.while_loop`` body from the      columns, no bias folding
                           top level)
``zeros_marker``           ``Tensor._is_zeros_tensor`` (``tf.gradients``'    only ``ZerosLike`` ops count as
                           marker of the zeros it fills in)                 known zeros (a zero term is added)
``pfor_matmul``            the ``MatMul`` entry of ``tf.vectorized_map``'s   its own rule: transposes of the
                           converter registry (``parallel_for.pfor``),      loop-dependent operand and of the
                           swapped while a Hessian block is vectorized      result around one ``MatMul``
                           (:func:`broadcast_matmul_rule`)
``session_config``         ``Session._config`` (the ``ConfigProto`` a       Adam's fused step in its form for
                           session was made with: one intra-op thread       several intra-op threads (the same
                           asked for picks Adam's per-tensor kernel form)   bits, slower on one thread)
=========================  ===============================================  ==========================================
"""
import contextlib

__all__ = ["SHORTCUTS", "enabled", "public_fallbacks", "session_internals", "registered_gradient",
           "set_gradient_function", "restore_gradient_function", "control_flow_context", "marked_zeros",
           "broadcast_matmul_rule", "session_config", "UNKNOWN"]

SHORTCUTS = ("session_run", "gradient_function", "forward_override", "control_flow_context",
             "zeros_marker", "pfor_matmul", "session_config")

#: Returned by :func:`control_flow_context` when the context cannot be known.
UNKNOWN = object()

_disabled = set()


def enabled(name):
    """Whether the shortcut ``name`` (one of :data:`SHORTCUTS`) is in use."""
    if name not in SHORTCUTS:
        raise ValueError(f"unknown shortcut {name!r}; choose from {', '.join(SHORTCUTS)}.")
    return name not in _disabled


@contextlib.contextmanager
def public_fallbacks(*names):
    """Context in which the named shortcuts (all of :data:`SHORTCUTS` if none are named)
    take their public fallbacks. Graph-building shortcuts act when the graph is built, so
    build the problem inside the context to get its fallback graph."""
    names = names or SHORTCUTS
    for name in names:
        enabled(name)  # validates
    previous = set(_disabled)
    _disabled.update(names)
    try:
        yield
    finally:
        _disabled.clear()
        _disabled.update(previous)


def session_internals():
    """The ``tensorflow.python.client.session`` module (fetch handler), or None: use ``sess.run``."""
    if not enabled("session_run"):
        return None
    try:
        from tensorflow.python.client import session
    except ImportError:
        return None
    return session if hasattr(session, "_FetchHandler") else None


def session_config(sess):
    """The ``tf.ConfigProto`` ``sess`` was made with, or None (none given, unknown, or the
    shortcut is off)."""
    if not enabled("session_config"):
        return None
    return getattr(sess, "_config", None)


def registered_gradient(op):
    """The gradient function registered for ``op``'s type, or None (unknown, or the shortcut is off)."""
    if not enabled("gradient_function"):
        return None
    try:
        from tensorflow.python.framework.ops import get_gradient_function
    except ImportError:
        return None
    try:
        return get_gradient_function(op)
    except LookupError:
        return None


def set_gradient_function(op, function):
    """Give the existing ``op`` the gradient ``function``; return the previous one.

    Returns :data:`UNKNOWN` (and changes nothing) when the shortcut is off or the
    attribute is gone: ``op`` then keeps TensorFlow's gradient.
    """
    if not enabled("forward_override") or not hasattr(op, "_gradient_function"):
        return UNKNOWN
    previous = op._gradient_function
    op._gradient_function = function
    return previous


def restore_gradient_function(op, previous):
    """Undo :func:`set_gradient_function` (``previous`` is what it returned, not UNKNOWN)."""
    op._gradient_function = previous


def control_flow_context(graph_or_op):
    """The graph control-flow context (None at the top level) of a graph's current
    construction point or of an op, or :data:`UNKNOWN` when it cannot be known."""
    if not enabled("control_flow_context"):
        return UNKNOWN
    get = getattr(graph_or_op, "_get_control_flow_context", None)
    return UNKNOWN if get is None else get()


def marked_zeros(tensor):
    """Whether ``tf.gradients`` marked ``tensor`` as the zeros it fills in for a missing
    gradient (False when the marker is unavailable or the shortcut is off)."""
    return enabled("zeros_marker") and bool(getattr(tensor, "_is_zeros_tensor", False))


def _pfor_registry():
    """``tf.vectorized_map``'s converter registry (op type -> rule), or None when it is gone."""
    try:
        from tensorflow.python.ops.parallel_for import pfor
    except ImportError:
        return None, None
    registry = getattr(pfor, "_pfor_converter_registry", None)
    if not isinstance(registry, dict) or "MatMul" not in registry or not hasattr(pfor, "wrap"):
        return None, None
    return pfor, registry


@contextlib.contextmanager
def broadcast_matmul_rule():
    """Context in which ``tf.vectorized_map`` turns ``C = op(A) op(B)`` (a ``MatMul``) whose
    ``B`` alone depends on the loop index into one broadcast batch product
    ``C[j] = op(A) op(B[j])`` (``BatchMatMulV2``, no copies).

    TensorFlow's own rule transposes the stacked ``B`` (``(k, p, q)`` to ``(p, k q)``),
    runs one ``MatMul`` and transposes the result back: for a Hessian block those are
    two copies of a ``(k, n_i)`` block per weight matrix: with TensorFlow's rule the block
    takes 1.57-1.72x as long at the Tutorial 0 shape and 1.11-1.18x at Hessian batch 100
    (``bench/block_forms.py``). Every other ``MatMul`` keeps TensorFlow's
    rule. The registry entry is restored on exit, so ``tf.vectorized_map`` elsewhere is
    unchanged; with the shortcut off (or the registry gone) this context does nothing.
    """
    pfor, registry = _pfor_registry() if enabled("pfor_matmul") else (None, None)
    if registry is None:
        yield
        return
    stock = registry["MatMul"]

    def convert(pfor_input):
        a, a_stacked, _ = pfor_input.input(0)
        b, b_stacked, _ = pfor_input.input(1)
        if a_stacked or not b_stacked:
            return stock(pfor_input)
        from tensorflow.python.ops import math_ops
        return pfor.wrap(math_ops.matmul(a, b, transpose_a=pfor_input.get_attr("transpose_a"),
                                         transpose_b=pfor_input.get_attr("transpose_b")), True)

    registry["MatMul"] = convert
    try:
        yield
    finally:
        registry["MatMul"] = stock
