"""Central finite-difference checks of a problem's gradient and Hessian action."""
import numpy as np

from .reduction import evaluate

__all__ = ["finite_difference_check"]

_DEFAULT_EPSILONS = 10.0 ** -np.arange(1, 9)


def _flat_weights(problem, value, argument):
    """A flat vector from ``value``, or from a list of per-weight arrays (the original's form)."""
    if isinstance(value, (list, tuple)) and value and all(np.ndim(v) >= 1 for v in value):
        if len(value) != len(problem.shapes):
            raise ValueError(f"{argument} as a list must hold {len(problem.shapes)} arrays (one per "
                             f"trainable weight), got {len(value)}.")
        for i, (arr, shape) in enumerate(zip(value, problem.shapes)):
            if tuple(np.shape(arr)) != tuple(shape):
                raise ValueError(f"{argument}[{i}] must have shape {tuple(shape)}, got {np.shape(arr)}.")
        value = np.concatenate([np.asarray(arr, dtype=np.float64).reshape(-1) for arr in value])
    return np.array(problem._check_flat(value, argument), dtype=np.float64)


def finite_difference_check(sess, problem, feed_dict, w=None, dw=None, epsilons=None,
                            regularization=None, verbose=False, w_hat=None):
    r"""Compare ``g . dw`` and ``H dw`` with central differences of the loss and gradient.

    For each step ``eps``,

    .. math::

        e_g(\epsilon) = \frac{\left|\frac{f(w + \epsilon\,dw) - f(w - \epsilon\,dw)}{2\epsilon}
                       - g(w)^T dw\right|}{|g(w)^T dw|},\qquad
        e_H(\epsilon) = \frac{\left\|\frac{g(w + \epsilon\,dw) - g(w - \epsilon\,dw)}{2\epsilon}
                       - H(w)\,dw\right\|}{\|H(w)\,dw\|}.

    Both errors should fall like ``eps^2`` until round-off (``~ machine eps / eps``)
    takes over. For a game (a problem whose ``_objectives()`` gives each player its
    own loss over its own weights, such as a GAN) each player's loss and gradient are
    differenced along that player's part of ``dw`` only, and the sums over players
    are compared with ``g . dw`` and the block-diagonal ``H dw``.

    Parameters
    ----------
    sess : tf.compat.v1.Session
        Session in which ``problem``'s variables are initialized.
    problem : Problem
    feed_dict : dict
        One data batch; not modified.
    w : array_like, shape (dimension,), optional
        Point of the check; defaults to the current weights. A list of
        per-weight arrays (the shapes of ``problem.shapes``) is flattened.
    dw : array_like, shape (dimension,), optional
        Direction; defaults to a standard normal vector (seed 0) scaled to unit
        norm. A list of per-weight arrays is flattened.
    epsilons : array_like, optional
        Positive step sizes; defaults to ``10**-1, ..., 10**-8``. A bool in
        this sixth position is the original hessianlearn's positional
        ``verbose`` (the default steps are then used).
    regularization : L2Regularization, optional
        Adds its cost, gradient and Hessian action to the problem's.
    verbose : bool, optional
        Print ``g . dw`` and one row per step: ``eps``, the loss at ``w + eps dw``
        (for a game: the last player's loss, moved along its own weights)
        and the two absolute errors. Nothing is printed otherwise.
    w_hat : array_like, optional
        The original's name of ``dw`` (give one of the two).

    Returns
    -------
    dict
        ``epsilons`` (``(m,)``), ``gradient_errors`` and ``hessian_errors`` (``(m,)``,
        relative, as above), and the analytic ``g_dw`` (float) and ``Hdw``
        (``(dimension,)``) they were compared with. Under the original's names:
        ``epsilon`` (the steps), ``error_g`` and ``error_H`` (``(m,)``, the
        absolute errors, the numerators of :math:`e_g` and :math:`e_H`).

    Notes
    -----
    The weights in ``sess`` are restored on return, also after an exception.
    Every evaluation goes through :func:`hessianlearn.utilities.reduction.evaluate`.
    """
    n = problem.dimension
    if isinstance(epsilons, (bool, np.bool_)):  # the original's sixth positional argument
        epsilons, verbose = None, bool(epsilons)
    if not isinstance(verbose, (bool, np.bool_)):
        raise TypeError(f"verbose must be True or False, got {type(verbose).__name__} {verbose!r}.")
    if w_hat is not None:
        if dw is not None:
            raise TypeError("Give the direction as dw or as w_hat (its original name), not both.")
        dw = w_hat
    if epsilons is None:
        epsilons = _DEFAULT_EPSILONS
    epsilons = np.array(epsilons, dtype=np.float64).reshape(-1)
    if epsilons.size == 0 or not np.all(np.isfinite(epsilons)) or np.any(epsilons <= 0):
        raise ValueError(f"epsilons must be a non-empty list of positive step sizes, got {epsilons!r}.")
    if not isinstance(feed_dict, dict):
        raise TypeError(f"feed_dict must be a dict of placeholders to data, got {type(feed_dict).__name__}.")
    dtype = np.dtype(problem.dtype.as_numpy_dtype)
    if dw is None:
        dw = np.random.default_rng(0).standard_normal(n)
        dw /= np.linalg.norm(dw)
    dw = _flat_weights(problem, dw, "dw" if w_hat is None else "w_hat")

    grad_t, hdw_t = problem.gradient, problem.Hdw
    reg_cost = None
    with problem._graph.as_default():
        if regularization is not None and regularization.is_active:
            reg_cost = regularization.cost
            grad_t = grad_t + regularization.gradient
            hdw_t = hdw_t + regularization.Hdw
        # one mask per player (a single one unless the problem is a game)
        players = []
        for objective, ids in problem._objectives():
            mask = np.zeros(n, dtype=bool)
            for i in ids:
                a, b = problem.indices[i]
                mask[a:b] = True
            players.append((objective if reg_cost is None else objective + reg_cost, mask))

    w_saved = problem.get_weights(sess)
    try:
        w0 = w_saved if w is None else _flat_weights(problem, w, "w")
        problem.set_weights(sess, w0.astype(dtype))
        feed = dict(feed_dict)
        g0 = evaluate(sess, grad_t, feed)
        feed[problem.dw] = dw.astype(dtype)
        hdw0 = np.asarray(evaluate(sess, hdw_t, feed), dtype=np.float64)
        g_dw = float(np.dot(g0, dw))
        feed = dict(feed_dict)
        gradient_errors, hessian_errors = [], []
        absolute_g, absolute_h = [], []
        if verbose:
            print("g . dw:", g_dw)
            print("{0:10} {1:10} {2:10} {3:10}".format("epsilon", "loss", "error_g", "error_H"))
        for eps in epsilons:
            fd_loss = 0.0
            fd_grad = np.zeros(n)
            for objective, mask in players:
                step = np.where(mask, eps * dw, 0.0)
                problem.set_weights(sess, (w0 + step).astype(dtype))
                f_plus, g_plus = evaluate(sess, [objective, grad_t], feed)
                problem.set_weights(sess, (w0 - step).astype(dtype))
                f_minus, g_minus = evaluate(sess, [objective, grad_t], feed)
                fd_loss += (float(f_plus) - float(f_minus)) / (2.0 * eps)
                diff = (np.asarray(g_plus, np.float64) - np.asarray(g_minus, np.float64)) / (2.0 * eps)
                fd_grad[mask] = diff[mask]
            absolute_g.append(abs(fd_loss - g_dw))
            absolute_h.append(float(np.linalg.norm(fd_grad - hdw0)))
            gradient_errors.append(absolute_g[-1] / max(abs(g_dw), np.finfo(float).tiny))
            hessian_errors.append(absolute_h[-1] / max(np.linalg.norm(hdw0), np.finfo(float).tiny))
            if verbose:
                print("{0:1.4e} {1:1.4e} {2:1.4e} {3:1.4e}".format(
                    eps, float(f_plus), absolute_g[-1], absolute_h[-1]))
    finally:
        problem.set_weights(sess, w_saved)
    return {
        "epsilons": epsilons,
        "gradient_errors": np.array(gradient_errors),
        "hessian_errors": np.array(hessian_errors),
        "g_dw": g_dw,
        "Hdw": hdw0,
        "epsilon": epsilons,
        "error_g": np.array(absolute_g),
        "error_H": np.array(absolute_h),
    }
