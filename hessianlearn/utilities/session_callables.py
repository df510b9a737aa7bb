"""``sess.run`` with the per-call Python work done once per (fetches, fed keys) pair.

``Session.run`` re-parses the fetch structure and re-checks every fed value
in Python on every call, a fixed cost per run comparable to a whole Adam step
on a small batch. :func:`run` prepares the fetch and feed lists once for each
distinct pair of fetch structure and fed placeholders (cached on the
session) and then only converts the fed values to the placeholders' dtypes
and checks their shapes. Anything it cannot handle (a feed key that is not a tensor, a
value of the wrong shape) goes through ``sess.run``, which raises its usual
errors, and so does every call when the session internals are not there
(``hessianlearn._internals.session_internals``).
"""
import numpy as np

from .._internals import session_internals
from .._tf import tf

__all__ = ["run"]

_CACHE_ATTRIBUTE = "_hessianlearn_callables"
_SESSION_RUN = "session.run"  # cache marker: this structure always goes through sess.run


def _structure(fetches):
    """A hashable picture of the nesting (dict keys, sequence types and lengths), leaves as None."""
    if isinstance(fetches, dict):
        return ("dict",) + tuple((k, _structure(fetches[k])) for k in sorted(fetches))
    if isinstance(fetches, (list, tuple)):
        return (type(fetches).__name__,) + tuple(_structure(f) for f in fetches)
    return None


def _signature(fetches, feed_dict):
    flat = tf.nest.flatten(fetches)
    keys = tuple(feed_dict)
    # The cache entry keeps the fetched and fed graph elements alive, so their ids stay theirs.
    return (tuple(id(f) for f in flat), _structure(fetches), tuple(id(k) for k in keys)), flat, keys


class _Entry:
    """The prepared fetch and feed lists of one (fetches, fed keys) pair.

    ``Session.make_callable`` hands any call with feeds back to ``Session.run``,
    so this does what ``Session.run`` does after its Python checks: one
    ``_call_tf_sessionrun`` with the graph outputs, then the fetch structure.
    (TensorFlow internals, pinned by the tests; :func:`run` falls back to
    ``sess.run`` if they are missing.)
    """

    def __init__(self, session_module, sess, fetches, flat, keys):
        self.fetches, self.flat, self.keys = fetches, flat, keys  # keep the graph elements alive
        self.sess = sess
        self.handler = session_module._FetchHandler(sess.graph, fetches, {})
        self.fetch_list = [t._as_tf_output() for t in self.handler.fetches()]
        self.target_list = [op._c_op for op in self.handler.targets()]
        self.outputs = [k._as_tf_output() for k in keys]
        self.dtypes = [k.dtype.as_numpy_dtype for k in keys]
        self.shapes = [None if k.shape.rank is None else tuple(k.shape.as_list()) for k in keys]
        sess._extend_graph()

    def __call__(self, values):
        if self.sess._closed:
            raise RuntimeError("Attempted to use a closed Session.")
        results = self.sess._call_tf_sessionrun(None, dict(zip(self.outputs, values)),
                                                self.fetch_list, self.target_list, None)
        return self.handler.build_results(self.sess, results)

    def values(self, feed_dict):
        """The fed values converted, or None if one does not fit its static shape."""
        values = []
        for key, dtype, shape in zip(self.keys, self.dtypes, self.shapes):
            value = np.asarray(feed_dict[key], dtype=dtype)
            if shape is not None and (value.ndim != len(shape) or any(
                    d is not None and d != v for d, v in zip(shape, value.shape))):
                return None
            values.append(value)
        return values


def run(sess, fetches, feed_dict=None):
    """``sess.run(fetches, feed_dict)``, through the prepared lists cached on ``sess`` when possible.

    Parameters
    ----------
    sess : tf.compat.v1.Session
    fetches : tensor, operation, or list/tuple/dict of them
    feed_dict : dict, optional
        Tensors (placeholders) to values; not modified.

    Returns
    -------
    What ``sess.run(fetches, feed_dict)`` returns.
    """
    feed_dict = {} if feed_dict is None else feed_dict
    session_module = session_internals()
    if session_module is None or not all(isinstance(k, tf.Tensor) for k in feed_dict):
        return sess.run(fetches, feed_dict)
    signature, flat, keys = _signature(fetches, feed_dict)
    cache = sess.__dict__.setdefault(_CACHE_ATTRIBUTE, {})
    entry = cache.get(signature)
    if entry is None:
        fed = {id(k) for k in keys}
        try:
            # A fetched tensor that is also fed returns the fed value: Session.run's business
            entry = _SESSION_RUN if any(id(f) in fed for f in flat) else _Entry(session_module, sess, fetches, flat, keys)
        except (TypeError, ValueError, AttributeError):  # not a fetch structure it handles
            entry = _SESSION_RUN
        cache[signature] = entry
    if entry is _SESSION_RUN:
        return sess.run(fetches, feed_dict)
    values = entry.values(feed_dict)
    if values is None:
        return sess.run(fetches, feed_dict)  # raises the usual shape error
    return entry(values)
