"""The one function through which data-dependent quantities are evaluated.

Losses, gradients and curvature-operator actions are all computed as
``evaluate(sess, fetches, feed_dict, comm)``. Without a communicator this is
``sess.run``; the data-parallel (MPI) path sums the local results here, so no
other module needs to know about processes.
"""

__all__ = ["evaluate"]


def evaluate(sess, fetches, feed_dict, comm=None):
    """Run ``fetches`` on the data in ``feed_dict`` and reduce over processes.

    Parameters
    ----------
    sess : tf.compat.v1.Session
    fetches : tensor, or list/tuple of tensors
    feed_dict : dict
        Placeholders to values; not modified.
    comm : communicator or None
        ``None`` evaluates locally.
    """
    if comm is not None:
        raise NotImplementedError("data-parallel evaluation is not available yet")
    return sess.run(fetches, feed_dict)
