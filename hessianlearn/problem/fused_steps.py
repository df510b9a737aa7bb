"""Whole optimizer steps built into the graph, so one iteration is one or two session runs.

The numpy-side optimizers (:mod:`hessianlearn.algorithms`) fetch the gradient,
draw test matrices, orthonormalize, solve and feed the update back, which costs
host copies of ``(dimension, k)`` blocks and several session runs per
iteration. The graphs here compute the same step where the weights live:

* :class:`FusedAdamStep`: loss, gradient and the Adam update in one run; the
  moments ``m`` and ``v`` are graph variables.
* :class:`FusedGradientDescentStep`: loss, gradient and ``w -= alpha g`` in one run.
* :class:`FusedStepSequence`: several of either in one run, a ``tf.while_loop``
  over the stacked batches of the next iterations.
* :class:`FusedNewtonCGStep`: on the Hessian batch, truncated CG for ``H p = -g``
  (the fed gradient and tolerance) in a ``tf.while_loop``, and ``w += alpha p``.
* :class:`PrimedNewtonCGStep`: in the gradient's run, CG's first iteration on the primed
  product ``H b`` and ``w += alpha x`` when that iteration ends the solve.
* :class:`FusedLowRankSaddleFreeNewtonStep`: on the Hessian batch and a test
  matrix (Gaussian drawn in the graph from a fed seed, or fed; Rademacher fed as
  bits), ``Y = H Omega``, a basis of ``Y``, ``T = Q^T H Q``, its eigenpairs, the
  Woodbury step and the update, in one run (the gradient of the training batch
  is fed: the two batches share the network's input placeholder).

All apply the update only when it is finite (first-order: the loss and
``||g||``; LRSFN: the small matrices and the step; a flag is fetched);
otherwise the weights are unchanged and the caller raises. The graphs are
built once per problem (and regularization weight, rank, test matrix kind,
curvature) and cached on the problem. The optimizers select them with their
``fused_step`` parameter (default ``'auto'``); they are single-process only
(no MPI reduction can happen inside one run).

How an optimizer gets a fast path: write its step's formula once in
:mod:`hessianlearn.utilities.step_math` (over ``numpy`` or ``tf``) and call it
from the optimizer's numpy ``_step``; add a graph class here that evaluates the
loss and gradient (:func:`_evaluation`) and applies the same formula with
tensors, register it in :func:`fused_step`; in the optimizer add
``fused_step_parameters()`` to its parameters, return ``None`` from
``_fast_path_unsupported`` for the parameters it covers (a phrase naming the
combination otherwise), and branch on ``uses_fast_path`` (counting
``fast_path_iterations``); first-order steps with an ``apply(handles, grads, t)``
method also run in :class:`FusedStepSequence`. A step that can end in the gradient's
own run (as :class:`PrimedNewtonCGStep` does) returns its fetches and feed from the
optimizer's ``_gradient_run_step`` hook, orders its weight update after every read of
that run, and books the step in ``_step`` when the fetched flag says it was applied.
Then a float64 test that the two paths give the same iterates.
"""
import inspect

import numpy as np

from .._tf import tf
from ..utilities.random_matrices import check_test_matrix
from ..utilities.stateless_draws import stateless_gaussian_parts
from ..utilities.step_math import (adam_kernel_epsilon, adam_kernel_update, cg_advance,
                                   cg_next_direction, forcing_term,
                                   saddle_free_woodbury_direction, spectral_step_length)
from .gauss_newton import gauss_newton_graph
from .graph_walks import ancestor_ops, subgraph_def, uncopyable_types
from .hessian_products import hessian_row_block_parts, hessian_vector_parts, vectorized_row_block_parts

__all__ = ["FusedAdamStep", "FusedArmijoGradientDescentStep", "FusedGradientDescentStep",
           "FusedLowRankSaddleFreeNewtonStep", "FusedNewtonCGStep",
           "FusedStepSequence", "PrimedNewtonCGStep", "fused_step"]


def fused_step(kind, problem, regularization=None, **options):
    """The cached fused step graph ``kind`` for ``problem``.

    ``kind``: ``'adam'``, ``'sgd'``, ``'armijo_gd'``, ``'lrsfn'``, ``'newton_cg'``,
    ``'primed_newton_cg'`` or ``'steps'`` (:class:`FusedStepSequence`). ``options`` are the
    constructor's keywords (``flat`` for ``'adam'``, ``rank``, ``oversample``, ... for
    ``'lrsfn'``, ``method`` and the step's keywords for ``'steps'``, the
    :class:`~hessianlearn.problem.primed_product.PrimedProduct` ``primed``, built with the
    regularization's ``gamma``, for ``'primed_newton_cg'``). The graph is built on first use
    and reused by later fits; the cache is keyed by the options with the constructor's
    defaults filled in (leaving one out or passing its default is the same graph) and by
    the regularization's ``gamma`` (the graphs use nothing else of it), so a new
    ``L2Regularization`` with the same ``gamma`` reuses the graphs.
    """
    classes = {"adam": FusedAdamStep, "sgd": FusedGradientDescentStep,
               "armijo_gd": FusedArmijoGradientDescentStep,
               "lrsfn": FusedLowRankSaddleFreeNewtonStep, "newton_cg": FusedNewtonCGStep,
               "primed_newton_cg": PrimedNewtonCGStep, "steps": FusedStepSequence}
    if kind not in classes:
        raise ValueError(f"kind must be one of {sorted(classes)}, got {kind!r}.")
    signature = inspect.signature(classes[kind])
    try:
        bound = signature.bind(problem, regularization, **options)
    except TypeError as error:
        raise TypeError(f"fused_step({kind!r}): {error}") from None
    bound.apply_defaults()
    arguments = dict(list(bound.arguments.items())[2:])  # after problem and regularization
    for name, parameter in signature.parameters.items():
        if parameter.kind is parameter.VAR_KEYWORD:
            arguments.update(arguments.pop(name, {}))
    key = (kind, None if regularization is None else ("L2", float(regularization.gamma)),
           tuple(sorted(arguments.items())))
    cache = problem._graph_cache("fused_steps")
    if key not in cache:
        cache[key] = classes[kind](problem, regularization, **options)
    return cache[key]


def _evaluation(problem, regularization, loss, grads, weights, accuracy=None):
    """The fetches of one first-order evaluation and the regularized gradient parts.

    ``loss`` and ``grads`` (one per weight tensor) are the data loss and its gradient at
    ``weights`` (tensors of the weights' values). Returns ``(fetches, grads, finite)``:
    ``fetches`` holds ``data_loss``, ``reg_cost`` (``gamma/2 ||w||^2`` or 0), ``norm_g``
    (of ``grads + gamma w``) and ``accuracy`` when given; ``finite`` is whether the loss
    and ``norm_g`` are finite (then so is every first-order step from them).
    """
    reg_cost = _regularization_cost(problem, regularization, weights)
    if regularization is not None:
        gamma = tf.constant(regularization.gamma, problem.dtype)
        grads = [g + gamma * w for g, w in zip(grads, weights)]
    norm_g = tf.sqrt(tf.add_n([tf.reduce_sum(tf.square(g)) for g in grads]))
    finite = tf.logical_and(tf.math.is_finite(loss + reg_cost), tf.math.is_finite(norm_g))
    fetches = {"data_loss": loss, "reg_cost": reg_cost, "norm_g": norm_g}
    if accuracy is not None:
        fetches["accuracy"] = accuracy
    return fetches, grads, finite


def _regularization_cost(problem, regularization, weights):
    """``gamma/2 ||w||^2`` of the weight tensors ``weights`` (0 without regularization)."""
    if regularization is None:
        return tf.zeros([], problem.dtype)
    gamma = tf.constant(regularization.gamma, problem.dtype)
    return 0.5 * gamma * tf.add_n([tf.reduce_sum(tf.square(w)) for w in weights])


def _accuracy(problem):
    accuracy = getattr(problem, "accuracy", None)
    return accuracy if isinstance(accuracy, tf.Tensor) else None


class _FusedStep:
    """Shared parts: the problem, its regularization and dtype, scalar placeholders, the guarded update."""

    #: the constructor keywords besides problem and regularization that build this graph again
    options = {}

    def __init__(self, problem, regularization):
        self.problem = problem
        self.regularization = regularization
        self.dtype = problem.dtype

    def _scalar(self, name, dtype=None):
        return tf.placeholder(dtype or self.dtype, [], name=name)

    def _guarded_update(self, finite, update, after):
        """``w += update`` if ``finite`` (else ``w += 0``), run after the tensors in ``after``."""
        update = tf.where(finite, update, tf.zeros_like(update))
        with tf.control_dependencies(after):
            ops = [tf.assign_add(v, part)
                   for v, part in zip(self.problem._weights, self.problem._split(update))]
        return tf.group(*ops)


class FusedAdamStep(_FusedStep):
    """One Adam iteration, ``w <- w - alpha m_hat / (sqrt(v_hat) + eps)``, in one session run.

    With ``g = grad (loss + R)`` on the fed batch and the iteration ``t`` (from 1),

    .. math::

        m \\leftarrow \\beta_1 m + (1-\\beta_1) g, \\quad
        v \\leftarrow \\beta_2 v + (1-\\beta_2) g^2, \\quad
        w \\leftarrow w - \\alpha \\frac{m / (1-\\beta_1^t)}{\\sqrt{v / (1-\\beta_2^t)} + \\epsilon},

    elementwise, as :class:`~hessianlearn.algorithms.Adam`, in one of two forms with the
    same bits on the CPU (tested):

    - ``flat=True``: :func:`~hessianlearn.utilities.step_math.adam_kernel_update` over the
      flattened gradient, the moments two flat variables: a dozen elementwise ops, which
      TensorFlow splits over the intra-op threads only when their size pays for it;
    - ``flat=False``: TensorFlow's ``ResourceApplyAdam``, one op per weight tensor (moments
      per tensor), given :func:`~hessianlearn.utilities.step_math.adam_kernel_epsilon`.
      The kernel's cost estimate grows with the square of a tensor's length, so it splits
      all but the smallest tensors over the intra-op threads: fewer ops, the cheaper form
      with one such thread, the dearer one with more (``bench/adam_forms.py``).

    The update runs only when the loss and ``||g||`` are finite (then so is the step).

    Attributes
    ----------
    fetches : dict
        ``data_loss``, ``reg_cost``, ``norm_g`` (of the regularized gradient),
        ``finite``, ``update`` (the op) and ``accuracy`` when the problem has one.
    alpha, beta_1, beta_2, epsilon, t : placeholders (scalars, problem dtype)
    m, v : tensors, shape (dimension,)
        The moments' values (read them with ``sess.run``; :meth:`load` sets them).
    options : dict
        ``{'flat': flat}``: the keywords that build this form again (a step sequence over
        this step passes them, so it shares the moments).
    """

    def __init__(self, problem, regularization=None, flat=True):
        super().__init__(problem, regularization)
        self.flat = bool(flat)
        self.options = {"flat": self.flat}
        with problem._graph.as_default(), tf.name_scope("fused_adam"):
            self.alpha = self._scalar("alpha")
            self.beta_1 = self._scalar("beta_1")
            self.beta_2 = self._scalar("beta_2")
            self.epsilon = self._scalar("epsilon")
            self.t = self._scalar("t")
            shapes = [[problem.dimension]] if self.flat else [w.shape for w in problem._weights]

            def moments(name):
                return [tf.Variable(tf.zeros(shape, self.dtype), trainable=False, name=f"{name}_{i}",
                                    collections=[tf.GraphKeys.LOCAL_VARIABLES], use_resource=True)
                        for i, shape in enumerate(shapes)]

            self._m, self._v = moments("m"), moments("v")
            self._reset = tf.variables_initializer(self._m + self._v)
            self.m = tf.concat([tf.reshape(x.read_value(), [-1]) for x in self._m], axis=0)
            self.v = tf.concat([tf.reshape(x.read_value(), [-1]) for x in self._v], axis=0)
            self._load_values = tf.placeholder(self.dtype, [2, problem.dimension], name="load")
            split = (lambda row: [row]) if self.flat else problem._split
            self._load = tf.group(*[x.assign(part, read_value=False) for row, variables in
                                    zip(tf.unstack(self._load_values), (self._m, self._v))
                                    for x, part in zip(variables, split(row))])
            weights = [tf.convert_to_tensor(w) for w in problem._weights]
            fetches, grads, finite = _evaluation(problem, regularization, problem.loss,
                                                 problem._gradient_parts, weights, _accuracy(problem))
            handles = [w.handle for w in problem._weights]
            with tf.control_dependencies(list(fetches.values())):
                fetches["update"] = tf.cond(finite, lambda: self.apply(handles, grads, self.t),
                                            tf.no_op)
            fetches["finite"] = finite
            self.fetches = fetches

    def apply(self, handles, grads, t):
        """The op applying the Adam update at iteration ``t`` to the weights ``handles``
        (variable handles, one per weight tensor) from the gradient parts ``grads``; the
        moments are read when it runs."""
        if not self.flat:
            beta_1_power, beta_2_power = self.beta_1 ** t, self.beta_2 ** t
            epsilon = adam_kernel_epsilon(self.epsilon, beta_2_power, xp=tf)
            return tf.group(*[tf.raw_ops.ResourceApplyAdam(
                var=w, m=m.handle, v=v.handle, beta1_power=beta_1_power, beta2_power=beta_2_power,
                lr=self.alpha, beta1=self.beta_1, beta2=self.beta_2, epsilon=epsilon, grad=g)
                for w, m, v, g in zip(handles, self._m, self._v, grads)])
        (m_var,), (v_var,) = self._m, self._v
        g = tf.concat([tf.reshape(part, [-1]) for part in grads], axis=0)
        m, v, delta = adam_kernel_update(m_var.read_value(), v_var.read_value(), g, t,
                                         self.alpha, self.beta_1, self.beta_2, self.epsilon, xp=tf)
        ops = [m_var.assign(m, read_value=False), v_var.assign(v, read_value=False)]
        ops += [tf.raw_ops.AssignSubVariableOp(resource=w, value=part)
                for w, part in zip(handles, self.problem._split(delta))]
        return tf.group(*ops)

    def reset(self, sess):
        """Set ``m = v = 0`` in ``sess`` (call before the first step of a run)."""
        sess.run(self._reset)

    def load(self, sess, m, v):
        """Set the moments to the flat arrays ``m`` and ``v`` (shape ``(dimension,)``)."""
        values = np.stack([np.asarray(m, dtype=self.dtype.as_numpy_dtype),
                           np.asarray(v, dtype=self.dtype.as_numpy_dtype)])
        sess.run(self._load, {self._load_values: values})

    def feed(self, feed_dict, alpha, beta_1, beta_2, epsilon, t):
        """``feed_dict`` plus the step's scalars (a new dict)."""
        feed = dict(feed_dict)
        feed.update({self.alpha: alpha, self.beta_1: beta_1, self.beta_2: beta_2,
                     self.epsilon: epsilon, self.t: float(t)})
        return feed


class FusedGradientDescentStep(_FusedStep):
    """One fixed-step gradient descent iteration, ``w <- w - alpha g``, in one session run.

    ``g = grad (loss + R)`` on the fed batch, as
    :class:`~hessianlearn.algorithms.GradientDescent` with globalization None;
    the update (``ResourceApplyGradientDescent`` per weight tensor) runs only when
    the loss and ``||g||`` are finite.

    Attributes
    ----------
    fetches : dict
        As :class:`FusedAdamStep`'s.
    alpha : placeholder (scalar, problem dtype)
    """

    def __init__(self, problem, regularization=None):
        super().__init__(problem, regularization)
        with problem._graph.as_default(), tf.name_scope("fused_gradient_descent"):
            self.alpha = self._scalar("alpha")
            weights = [tf.convert_to_tensor(w) for w in problem._weights]
            fetches, grads, finite = _evaluation(problem, regularization, problem.loss,
                                                 problem._gradient_parts, weights, _accuracy(problem))
            handles = [w.handle for w in problem._weights]
            with tf.control_dependencies(list(fetches.values())):
                fetches["update"] = tf.cond(finite, lambda: self.apply(handles, grads, None),
                                            tf.no_op)
            fetches["finite"] = finite
            self.fetches = fetches

    def apply(self, handles, grads, t=None):
        """The op ``w -= alpha g`` on the weights ``handles`` (``t`` unused)."""
        return tf.group(*[tf.raw_ops.ResourceApplyGradientDescent(var=w, alpha=self.alpha, delta=g)
                          for w, g in zip(handles, grads)])

    def reset(self, sess):
        """Nothing to reset (no optimizer state)."""

    def feed(self, feed_dict, alpha):
        """``feed_dict`` plus the step length (a new dict)."""
        feed = dict(feed_dict)
        feed[self.alpha] = alpha
        return feed


def _evaluation_subgraph(problem, regularization, loss_only=False):
    """What :class:`FusedStepSequence` (``loss_only``: the Armijo step) copies into its loop body.

    Returns ``(placeholders, handles, graph_def, outputs, has_accuracy, copied)``: the data
    placeholders the loss depends on, the weights' variable handles, the ``GraphDef`` of the
    ops from those to the data loss, its gradient parts and the accuracy (placeholders
    and handles left out), the names of those outputs, whether the accuracy is one and the
    names of the copied operations (for :func:`~.graph_walks.unseen_feeds`).
    Raises ``ValueError`` when that graph contains control flow or stateful operations
    other than variable reads (it could not be copied into a loop faithfully).
    """
    accuracy = None if loss_only else _accuracy(problem)
    outputs = [problem.loss] if loss_only else \
        [problem.loss] + list(problem._gradient_parts) + ([accuracy] if accuracy is not None else [])
    handles = [w.handle for w in problem._weights]
    handle_ops = {h.op for h in handles}
    ops = ancestor_ops(outputs)
    placeholders = sorted((op.outputs[0] for op in ops if op.type == "Placeholder"),
                          key=lambda t: t.name)
    flow, stateful = uncopyable_types(ops)
    if flow:
        raise ValueError(f"the loss and gradient graph holds control flow ({', '.join(flow)}); "
                         "it cannot be run several steps per session call.")
    # a copied stateful op (a seeded random draw) would restart its own stream
    if stateful:
        raise ValueError(f"the loss and gradient graph holds stateful ops ({', '.join(stateful)}); "
                         "it cannot be run several steps per session call.")
    keep = {op.name for op in ops if op.type != "Placeholder" and op not in handle_ops}
    graph_def = subgraph_def(problem._graph, keep)
    return placeholders, handles, graph_def, [t.name for t in outputs], accuracy is not None, keep


class FusedStepSequence(_FusedStep):
    """Several first-order steps (Adam or fixed-step gradient descent) in one session run.

    The batches of ``s`` consecutive iterations are fed stacked (each data
    placeholder ``x`` of shape ``(b, ...)`` as ``(s, b, ...)``); a
    ``tf.while_loop`` runs, for ``i = 0, ..., s - 1``, the loss and gradient on
    batch ``i`` at the current weights (a copy of the problem's loss and gradient
    graph, so the same arithmetic as one step per run) and the step's update
    (``step.apply``: :class:`FusedAdamStep` or :class:`FusedGradientDescentStep`,
    whose placeholders and moments it uses), iteration ``t_0 + i``. The loop stops
    after the first iteration whose loss or ``||g||`` is not finite (that update is
    not applied). The per-iteration ``data_loss``, ``reg_cost``, ``norm_g`` (and
    ``accuracy``) come back as arrays of length ``s``, so the logger gets every one.

    Parameters
    ----------
    problem : Problem
    regularization : L2Regularization, optional
    method : {'adam', 'sgd'}
    **step_options
        The single step's keywords (Adam's ``flat``).

    Attributes
    ----------
    step : FusedAdamStep or FusedGradientDescentStep
        The single-step graph whose scalars (and Adam's moments) are shared.
    placeholders : list of tensors
        The data placeholders, in the order of ``stacked``.
    copied : set of str
        The names of the operations the loop body copies: batches feeding any other of
        their tensors (:func:`~.graph_walks.unseen_feeds`) must run one step per call.
    stacked : list of placeholders
        ``(None,) + placeholder.shape`` each: the next ``s`` batches.
    t0 : placeholder
        Adam's iteration number of the first step (1-based; unused by gradient descent).
    fetches : dict
        ``data_loss``, ``reg_cost``, ``norm_g`` (``accuracy``): shape ``(steps,)``,
        ``steps`` the iterations run, and ``finite`` (all of them finite).
    """

    def __init__(self, problem, regularization=None, method="adam", **step_options):
        super().__init__(problem, regularization)
        if method not in ("adam", "sgd"):
            raise ValueError(f"method must be 'adam' or 'sgd', got {method!r}.")
        self.step = fused_step(method, problem, regularization, **step_options)
        placeholders, handles, graph_def, outputs, has_accuracy, self.copied = _evaluation_subgraph(
            problem, regularization)
        self.placeholders = placeholders
        dtype = self.dtype
        with problem._graph.as_default(), tf.name_scope(f"fused_{method}_sequence"):
            self.stacked = [tf.placeholder(p.dtype, [None] + p.shape.as_list(), name="stacked")
                            for p in placeholders]
            self.t0 = self._scalar("t0")
            count = tf.shape(self.stacked[0])[0]
            keys = ["data_loss", "reg_cost", "norm_g"] + (["accuracy"] if has_accuracy else [])
            arrays = tuple(tf.TensorArray(dtype, size=count, element_shape=[]) for _ in keys)

            def body(i, finite, arrays):
                # the weights are read after the previous iteration's update: their handles
                # depend on the loop counter, which is produced after that update
                with tf.control_dependencies([i]):
                    current = [tf.identity(h) for h in handles]
                input_map = {p.name: x[i] for p, x in zip(placeholders, self.stacked)}
                input_map.update({h.name: c for h, c in zip(handles, current)})
                copied = tf.import_graph_def(graph_def, input_map=input_map,
                                             return_elements=outputs, name="step")
                loss, grads = copied[0], copied[1:1 + len(handles)]
                accuracy = copied[-1] if has_accuracy else None
                weights = [tf.raw_ops.ReadVariableOp(resource=c, dtype=dtype) for c in current]
                values, grads, ok = _evaluation(problem, regularization, loss, grads, weights,
                                                accuracy)
                t = self.t0 + tf.cast(i, dtype)
                update = tf.cond(ok, lambda: self.step.apply(current, grads, t), tf.no_op)
                with tf.control_dependencies([update]):
                    arrays = tuple(a.write(i, values[k]) for a, k in zip(arrays, keys))
                    return i + 1, ok, arrays

            _, finite, arrays = tf.while_loop(
                lambda i, finite, arrays: tf.logical_and(i < count, finite), body,
                (tf.constant(0), tf.constant(True), arrays), parallel_iterations=1,
                back_prop=False)
            self.fetches = {k: a.stack() for k, a in zip(keys, arrays)}
            self.fetches["finite"] = finite

    def feed(self, batches, **scalars):
        """The stacked ``batches`` (a list of feed dicts, same keys and shapes) plus the
        step's scalars (``step.feed``'s keywords; Adam also ``t0``), a new dict."""
        feed = self.step.feed({}, **scalars)
        feed[self.t0] = float(scalars.get("t", 1))
        for p, x in zip(self.placeholders, self.stacked):
            try:
                feed[x] = np.stack([batch[p] for batch in batches])
            except KeyError:
                raise ValueError(f"every batch must feed {p.name} (the loss depends on it).") from None
        return feed


class FusedArmijoGradientDescentStep(_FusedStep):
    """Gradient descent with the Armijo backtracking line search in one session run.

    With ``f`` the loss plus regularization on the fed batch, ``g`` its gradient at
    ``w_0`` and the slope ``-||g||^2``, the trials ``alpha_0, beta alpha_0, ...``
    (at most ``max_backtrack`` reductions) set ``w = w_0 - alpha g`` and evaluate
    ``f`` there (a copy of the problem's loss graph), until
    ``f(w) <= f(w_0) - c_1 alpha ||g||^2`` with ``f(w)`` finite, as
    :class:`~hessianlearn.algorithms.armijo_line_search.ArmijoLineSearch`; if no trial
    is accepted the weights go back to ``w_0`` (``alpha = 0``). Nothing changes when
    ``f(w_0)`` or ``||g||`` is not finite.

    Attributes
    ----------
    alpha, c1, backtracking_factor : placeholders (scalars, problem dtype)
    max_backtrack : placeholder (int32 scalar)
    placeholders : list of tensors
        The data placeholders the trials' copy of the loss reads.
    copied : set of str
        The names of the operations the trials copy: a batch feeding any other of their
        tensors (:func:`~.graph_walks.unseen_feeds`) must take the reference step.
    fetches : dict
        :class:`FusedAdamStep`'s evaluation at ``w_0`` plus ``alpha`` (the accepted
        step, 0 if none), ``backtracks``, ``finite`` and ``update``.
    """

    def __init__(self, problem, regularization=None):
        super().__init__(problem, regularization)
        placeholders, handles, graph_def, outputs, _, self.copied = _evaluation_subgraph(
            problem, regularization, loss_only=True)
        self.placeholders = placeholders
        dtype = self.dtype
        with problem._graph.as_default(), tf.name_scope("fused_armijo_gradient_descent"):
            self.alpha = self._scalar("alpha")
            self.c1 = self._scalar("c1")
            self.backtracking_factor = self._scalar("backtracking_factor")
            self.max_backtrack = tf.placeholder(tf.int32, [], name="max_backtrack")
            w_0 = [tf.convert_to_tensor(w) for w in problem._weights]
            fetches, grads, finite = _evaluation(problem, regularization, problem.loss,
                                                 problem._gradient_parts, w_0, _accuracy(problem))
            f_0 = fetches["data_loss"] + fetches["reg_cost"]
            slope = -tf.square(fetches["norm_g"])

            def trial(k, alpha, accepted, done):
                with tf.control_dependencies([k]):
                    moved = [tf.raw_ops.AssignVariableOp(resource=h, value=w - alpha * g)
                             for h, w, g in zip(handles, w_0, grads)]
                with tf.control_dependencies(moved):
                    current = [tf.identity(h) for h in handles]
                input_map = {p.name: p for p in placeholders}
                input_map.update({h.name: c for h, c in zip(handles, current)})
                loss = tf.import_graph_def(graph_def, input_map=input_map, return_elements=outputs,
                                           name="trial")[0]
                weights = [tf.raw_ops.ReadVariableOp(resource=c, dtype=dtype) for c in current]
                value = loss + _regularization_cost(problem, regularization, weights)
                ok = tf.logical_and(tf.math.is_finite(value), value <= f_0 + self.c1 * alpha * slope)
                done = tf.logical_or(ok, k >= self.max_backtrack)
                next_alpha = tf.where(done, alpha, alpha * self.backtracking_factor)
                return k + 1, next_alpha, tf.where(ok, alpha, tf.zeros_like(alpha)), done

            def search():
                k, _, accepted, _ = tf.while_loop(
                    lambda k, alpha, accepted, done: tf.logical_not(done), trial,
                    (tf.constant(0), self.alpha, tf.zeros([], dtype), tf.constant(False)),
                    parallel_iterations=1, back_prop=False)
                with tf.control_dependencies([accepted]):
                    restore = tf.cond(accepted > 0.0, tf.no_op, lambda: tf.group(*[
                        tf.raw_ops.AssignVariableOp(resource=h, value=w) for h, w in zip(handles, w_0)]))
                with tf.control_dependencies([restore]):
                    return tf.identity(accepted), tf.identity(k - 1)

            with tf.control_dependencies(list(fetches.values())):
                alpha, backtracks = tf.cond(finite, search,
                                            lambda: (tf.zeros([], dtype), tf.constant(-1)))
            fetches.update({"alpha": alpha, "backtracks": backtracks, "finite": finite})
            self.fetches = fetches

    def reset(self, sess):
        """Nothing to reset (no optimizer state)."""

    def feed(self, feed_dict, alpha, c1, backtracking_factor, max_backtrack):
        """``feed_dict`` plus the line search's scalars (a new dict)."""
        feed = dict(feed_dict)
        feed.update({self.alpha: alpha, self.c1: c1, self.backtracking_factor: backtracking_factor,
                     self.max_backtrack: int(max_backtrack)})
        return feed


def _whitening(G, relative_floor):
    """``W = V diag(max(s, floor)^{-1/2})`` from ``G = V diag(s) V^T`` (``m x m``, float64).

    For a Gram matrix ``G = X^T X`` the columns of ``X W`` are orthonormal up to
    the round-off in ``G``; eigenvalues below ``floor = relative_floor * max(s)``
    (numerically null directions of ``X``) are raised to it, so ``W`` stays
    bounded and ``X W`` spans the range of ``X`` without amplifying its noise.
    """
    s, V = tf.linalg.eigh(0.5 * (G + tf.transpose(G)))
    floor = relative_floor * tf.maximum(tf.reduce_max(s), np.finfo(np.float64).tiny)
    return V * tf.math.rsqrt(tf.maximum(s, floor))[tf.newaxis, :]


def _row_gram(a, b):
    """``a b^T`` (``(m, m)``) for ``(m, n)`` blocks ``a`` and ``b``, ``n`` the long axis.

    Taken as a batch of one matrix product: on CPU (oneDNN, TF 2.21) that kernel
    runs this shape in 0.50-0.55x the time of ``tf.matmul(a, b, transpose_b=True)``
    (``bench/block_forms.py``, ``m = 40``, ``n = 25088``).
    """
    return tf.matmul(a[tf.newaxis], b[tf.newaxis], transpose_b=True)[0]


def _finite_or_identity(M):
    """``(M, True)`` if ``M`` (square) is finite, else ``(I, False)``: eigh must not see NaN."""
    finite = tf.reduce_all(tf.math.is_finite(M))
    return tf.where(finite, M, tf.eye(tf.shape(M)[0], dtype=M.dtype)), finite


def _rademacher_parts_from_bits(bits, n, m, indices, dtype):
    """``Omega^T[:, a:b]`` (``(m, b - a)``) for each ``(a, b)`` in ``indices``, of the +-1
    matrix packed in uint8 ``bits`` (the column-major layout of
    :mod:`hessianlearn.utilities.random_matrices`: row ``j`` of ``Omega^T`` is bits
    ``j n`` to ``(j + 1) n``), by a 256 x 8 lookup table.

    When ``n`` and every bound are multiples of 8, each part's rows are whole bytes:
    the bytes are sliced (an eighth of a byte per sign) and unpacked straight into the
    part, so the ``(m, n)`` signs are never sliced per weight tensor (a strided copy of
    the whole block, a noticeable share of a whole step).
    """
    table = tf.constant((2.0 * np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1,
                                             bitorder="little") - 1.0).astype(dtype.as_numpy_dtype))
    if n % 8 == 0 and all(a % 8 == 0 and b % 8 == 0 for a, b in indices):
        rows = tf.reshape(bits, [m, n // 8])
        return [tf.reshape(tf.gather(table, tf.cast(rows[:, a // 8: b // 8], tf.int32)), [m, b - a])
                for a, b in indices]
    signs = tf.reshape(tf.reshape(tf.gather(table, tf.cast(bits, tf.int32)), [-1])[: n * m], [m, n])
    return [signs[:, a:b] for a, b in indices]


class FusedLowRankSaddleFreeNewtonStep(_FusedStep):
    """One fixed-rank LRSFN iteration on the Hessian batch in one session run.

    With ``H`` the Hessian of the loss on the fed (Hessian) batch plus
    ``gamma_R I``, the fed gradient ``g`` (of the training batch, regularized),
    and a test matrix ``Omega`` ``(dimension, m)``, ``m = k + p`` (Gaussian, drawn
    here by ``stateless_gaussian_parts`` (Box-Muller) from a fed seed, or fed explicitly;
    or Rademacher, fed as packed bits and unpacked here):

    1. ``Y = H Omega``; ``Q_1 = Y W_1`` with ``W_1 = G_1^{-1/2}``,
       ``G_1 = Y^T Y`` (:func:`_whitening`): a well-conditioned basis of the
       range of ``Y`` (not yet orthonormal to round-off);
    2. ``Z = H Q_1``; ``G_2 = Q_1^T Q_1``, ``B = Q_1^T Z``; with ``W_2 = G_2^{-1/2}``
       the Rayleigh-Ritz matrix on the orthonormal basis ``Q = Q_1 W_2`` is
       ``T = W_2^T B W_2 = Q^T H Q`` (``Q`` is never formed: this is Cholesky-QR2
       with the second product folded into the small matrices);
    3. ``T = P Lambda P^T`` (float64), sorted by ``|lambda|`` descending, the
       first ``k`` kept: ``U = Q_1 C`` with ``C = W_2 P_k`` (``m x k``);
    4. ``mu = |lambda - gamma_R|``, ``p = -(U diag(1/(mu+gamma)) U^T g + (g - U U^T g)/gamma)``
       (Woodbury, as :meth:`LowRankSaddleFreeNewton.direction`), applied
       through ``U^T g = C^T (Q_1^T g)`` and ``U a = Q_1 (C a)``;
    5. ``alpha = min(spectral_alpha, 0.1/|lambda_1|)`` if ``spectral`` else the
       fed ``alpha``; ``w += alpha p`` if everything is finite.

    The ``(n, m)`` blocks are held transposed and split per weight tensor, as
    ``(m, n_i)`` rows (the layout of
    :func:`~hessianlearn.problem.hessian_products.hessian_row_block_parts`:
    only the test matrix is split, once; the Gauss-Newton products take flat
    rows and are split back). Both passes run one block graph in a
    two-iteration ``tf.while_loop`` (the whitening under ``tf.cond`` in the
    first): half the operations of two
    unrolled blocks, so the graph builds (and first runs) in about half the time
    and runs faster.

    The tall products (``(n, m)`` blocks) run in the problem's precision, the
    ``m x m`` algebra in float64. The subspace, hence the step, is that of the
    numpy double-pass randomized eigensolver with the same ``Omega`` (equal to
    round-off in float64; in float32 to float32 round-off times the condition
    number of ``Y`` in the weakest directions, as any float32 QR of ``Y``).

    Parameters
    ----------
    problem : Problem
    regularization : L2Regularization, optional
    rank : int
        ``k``, at most ``dimension``.
    oversample : int
        ``p >= 0``; reduced to ``dimension - k``.
    test_matrix : {'gaussian', 'rademacher'}
        What :meth:`feed` takes as ``omega``: a seed or the ``(dimension, m)``
        matrix, or the packed bits (uint8, ``ceil(dimension m / 8)``).
    curvature : {'hessian', 'gauss_newton'}
        ``H`` is the loss's Hessian or its generalized Gauss-Newton matrix
        ``J^T H_L J`` (:mod:`.gauss_newton`), as the optimizers' ``hessian_type``.

    Attributes
    ----------
    omega : placeholder or None
        Rademacher: the ``(ceil(dimension m / 8),)`` uint8 bits; Gaussian: None.
    seed : placeholder or None
        Gaussian: ``(2,)`` int64; part ``i`` of ``Omega^T`` is drawn with seed ``seed + [0, i]``.
    omega_parts : list of tensors
        ``Omega^T`` split per weight tensor, ``(m, n_i)`` (Gaussian: placeholders with
        the drawn parts as defaults).
    g, alpha, gamma, gamma_r, spectral_alpha, spectral : placeholders
    fetches : dict
        ``eigenvalues`` (``k``, of ``H`` including ``gamma_R``), ``alpha`` (the
        one applied), ``finite`` and ``update`` (the op).
    columns : int
        Hessian columns applied per run, ``2 (k + p)``.
    """

    def __init__(self, problem, regularization=None, rank=20, oversample=0, test_matrix="gaussian",
                 curvature="hessian"):
        super().__init__(problem, regularization)
        n = problem.dimension
        rank = int(rank)
        if not 1 <= rank <= n:
            raise ValueError(f"rank must be an int in [1, {n}] (the number of weights), got {rank!r}.")
        oversample = min(int(oversample), n - rank)
        if oversample < 0:
            raise ValueError(f"oversample must be an int >= 0, got {oversample!r}.")
        self.rank, self.oversample = rank, oversample
        self.test_matrix = check_test_matrix(test_matrix)
        if curvature not in ("hessian", "gauss_newton"):
            raise ValueError(f"curvature must be 'hessian' or 'gauss_newton', got {curvature!r}.")
        self.curvature = curvature
        if curvature == "gauss_newton":  # raises NotImplementedError for losses without a GGN
            flat_product = gauss_newton_graph(problem).row_block_product

            def parts_product(parts):  # the GGN takes flat rows
                out = flat_product(tf.concat(parts, axis=1))
                return [out[:, a:b] for a, b in problem.indices]
        else:
            def parts_product(parts):  # vectorized over the rows where every op allows it
                out = vectorized_row_block_parts(problem, parts)
                return hessian_row_block_parts(problem, parts) if out is None else out
        m = rank + oversample
        self.columns = 2 * m
        f64 = tf.float64
        dtype = self.dtype
        # Gram eigenvalues below this fraction of the largest are round-off of the block
        floor = m * np.finfo(dtype.as_numpy_dtype).eps
        with problem._graph.as_default(), tf.name_scope("fused_lrsfn"):
            self.g = tf.placeholder(dtype, [n], name="g")
            self.alpha = self._scalar("alpha", f64)
            self.gamma = self._scalar("gamma", f64)
            self.gamma_r = self._scalar("gamma_r", f64)
            self.spectral_alpha = self._scalar("spectral_alpha", f64)
            self.spectral = tf.placeholder(tf.bool, [], name="spectral")
            # The (n, m) blocks X are kept as X^T split per weight tensor, a list of (m, n_i):
            # the layout the block product takes and gives with no copies.
            if self.test_matrix == "rademacher":  # bits drawn by the optimizer's generator
                self.omega = tf.placeholder(tf.uint8, [-(-n * m // 8)], name="omega_bits")
                self.seed = None
                omega_parts = _rademacher_parts_from_bits(self.omega, n, m, problem.indices, dtype)
            else:  # drawn here from the fed seed, part by part; feeding omega_parts overrides
                self.seed = tf.placeholder(tf.int64, [2], name="seed")
                self.omega = None
                drawn = stateless_gaussian_parts([[m, b - a] for a, b in problem.indices], self.seed, dtype)
                omega_parts = [tf.placeholder_with_default(part, [m, b - a], name=f"omega_t_{i}")
                               for i, (part, (a, b)) in enumerate(zip(drawn, problem.indices))]
            self.omega_parts = omega_parts

            def apply_h(X):  # (H_loss X)^T per weight; gamma_R I is added by callers
                # X is a constant direction: tf.gradients must not differentiate through it
                return parts_product([tf.stop_gradient(part) for part in X])

            def gram(A, B):  # A^T B in float64 (m x m) from the split blocks
                return tf.cast(tf.add_n([_row_gram(a, b) for a, b in zip(A, B)]), f64)

            def left(W, X):  # (X W)^T per weight for an m x m float64 W
                W = tf.cast(W, dtype)
                return [tf.matmul(W, part, transpose_a=True) for part in X]

            # Non-finite curvature (NaN data) shows in the small matrices: eigh gets the
            # identity instead so the run completes, and finite = False (no update).
            def whitened(Y, X):  # after the first pass: Q_1 from Y = H_loss X
                if regularization is not None:  # without one, gamma_R = 0: no (m, n) work
                    Y = [y + tf.cast(self.gamma_r, dtype) * x for y, x in zip(Y, X)]
                G_1, finite_1 = _finite_or_identity(gram(Y, Y))
                return left(_whitening(G_1, floor), Y), finite_1

            # The two passes share one block graph (built once: half the graph, half the build)
            def body(i, X, Z, finite_1):  # pass 0: X = Omega -> Q_1; pass 1: X = Q_1 -> Z
                P = apply_h(X)

                def first():
                    Q_1, finite = whitened(P, X)
                    return Q_1, Z, finite

                return (i + 1,) + tuple(tf.cond(tf.equal(i, 0), first, lambda: (X, P, finite_1)))

            zeros = [tf.zeros([m, b - a], dtype) for a, b in problem.indices]
            _, Q_1, Z, finite = tf.while_loop(
                lambda i, *_: i < 2, body, (tf.constant(0), omega_parts, zeros, tf.constant(True)),
                parallel_iterations=1, back_prop=False)
            for part, (a, b) in zip(Q_1 + Z, problem.indices * 2):
                part.set_shape([m, b - a])
            G_2, finite_2 = _finite_or_identity(gram(Q_1, Q_1))
            W_2 = _whitening(G_2, floor)
            # Q_1^T (H_loss + gamma_R I) Q_1, the shift added to the small matrix
            B = gram(Z, Q_1)
            B = 0.5 * (B + tf.transpose(B)) + self.gamma_r * G_2
            T, finite_t = _finite_or_identity(tf.matmul(W_2, tf.matmul(B, W_2), transpose_a=True))
            finite = tf.logical_and(finite, tf.logical_and(finite_2, finite_t))
            values, vectors = tf.linalg.eigh(0.5 * (T + tf.transpose(T)))
            order = tf.argsort(-tf.abs(values), stable=True)[:rank]
            values = tf.gather(values, order)
            C = tf.matmul(W_2, tf.gather(vectors, order, axis=1))  # U = Q_1 C

            def tall(vector):  # Q_1 vector, (n,) in float64
                vector = tf.cast(vector, dtype)
                return tf.cast(tf.concat([tf.linalg.matvec(part, vector, transpose_a=True)
                                          for part in Q_1], axis=0), f64)

            mu = tf.abs(values - self.gamma_r)
            g = tf.cast(self.g, f64)
            Q_1g = tf.add_n([tf.linalg.matvec(part, self.g[a:b])
                             for part, (a, b) in zip(Q_1, problem.indices)])
            Utg = tf.linalg.matvec(C, tf.cast(Q_1g, f64), transpose_a=True)
            direction = saddle_free_woodbury_direction(
                g, Utg, lambda a: tall(tf.linalg.matvec(C, a)), mu, self.gamma)
            spectral_alpha = spectral_step_length(self.spectral_alpha, values[0], xp=tf)
            alpha = tf.where(self.spectral, spectral_alpha, self.alpha)
            step = tf.cast(alpha * direction, dtype)
            finite = tf.logical_and(finite, tf.reduce_all(tf.math.is_finite(step)))
            self.direction = direction
            self.fetches = {"eigenvalues": values, "alpha": alpha, "finite": finite,
                            "update": self._guarded_update(finite, step, [values, alpha])}

    def feed(self, hessian_feed_dict, g, omega, alpha, gamma, gamma_r=0.0, spectral_alpha=1.0,
             spectral=False):
        """``hessian_feed_dict`` plus the gradient, the test matrix and the step's scalars (a new dict).

        ``omega``: Rademacher, the packed bits; Gaussian, either the seed (an int,
        or a pair of ints, from which the graph draws ``Omega``: the same seed gives
        the same matrix) or an explicit ``(dimension, m)`` matrix (fed as its parts).
        """
        feed = dict(hessian_feed_dict)
        if self.test_matrix == "rademacher":
            feed[self.omega] = np.asarray(omega, dtype=np.uint8)
        elif np.ndim(omega) == 2:
            omega = np.asarray(omega, dtype=self.dtype.as_numpy_dtype)
            n, m = self.problem.dimension, self.rank + self.oversample
            if omega.shape != (n, m):
                raise ValueError(f"omega must have shape ({n}, {m}), got {omega.shape}.")
            feed.update({part: omega[a:b].T for part, (a, b) in
                         zip(self.omega_parts, self.problem.indices)})
        else:
            feed[self.seed] = np.broadcast_to(np.asarray(omega, dtype=np.int64), (2,))
        feed.update({self.g: np.asarray(g, dtype=self.dtype.as_numpy_dtype),
                     self.alpha: float(alpha),
                     self.gamma: float(gamma), self.gamma_r: float(gamma_r),
                     self.spectral_alpha: float(spectral_alpha), self.spectral: bool(spectral)})
        return feed


#: ``FusedNewtonCGStep.fetches['reason']`` codes, in the names of :class:`~hessianlearn.algorithms.cg_solver.SolverInfo`.
CG_REASONS = ("tolerance", "negative_curvature", "max_iterations")


class FusedNewtonCGStep(_FusedStep):
    """One inexact Newton-CG iteration on the Hessian batch in one session run.

    Truncated CG on ``H p = -g`` from ``p = 0`` (``H`` the Hessian, or the
    Gauss-Newton matrix, of the loss on the fed batch plus ``gamma_R I``; ``g``
    the fed gradient of the training batch): stop when ``||r|| <= tolerance``
    (fed: the host computes the forcing term), at ``max_iterations``, or at
    non-positive curvature ``d^T H d <= 0`` with the last iterate (``-g`` at the
    first iteration). The iterates, residuals and directions are float64, each
    product takes the direction in the problem's precision, as the numpy
    :class:`~hessianlearn.algorithms.cg_solver.CGSolver` with a Hessian operator
    does; both apply :func:`~hessianlearn.utilities.step_math.cg_advance` and
    :func:`~hessianlearn.utilities.step_math.cg_next_direction`. The loop is a
    ``tf.while_loop`` with one product per iteration, then ``w += alpha p`` if
    ``p`` is finite. The steps equal the numpy path's to round-off (float64).

    Attributes
    ----------
    g, tolerance, max_iterations, alpha : placeholders
    direction : tensor
        ``p`` (float64, ``(dimension,)``).
    fetches : dict
        ``iterations`` (products applied), ``reason`` (index in :data:`CG_REASONS`),
        ``residual_norm``, ``finite`` and ``update`` (the op).
    """

    def __init__(self, problem, regularization=None, curvature="hessian"):
        super().__init__(problem, regularization)
        if curvature not in ("hessian", "gauss_newton"):
            raise ValueError(f"curvature must be 'hessian' or 'gauss_newton', got {curvature!r}.")
        self.curvature = curvature
        n, dtype, f64 = problem.dimension, self.dtype, tf.float64
        if curvature == "gauss_newton":
            product = gauss_newton_graph(problem).vector_product
        else:
            def product(v):
                return tf.concat([tf.reshape(h, [-1])
                                  for h in hessian_vector_parts(problem, problem._split(v))], 0)
        with problem._graph.as_default(), tf.name_scope("fused_newton_cg"):
            self.g = tf.placeholder(dtype, [n], name="g")
            self.tolerance = self._scalar("tolerance", f64)
            self.max_iterations = tf.placeholder(tf.int32, [], name="max_iterations")
            self.alpha = self._scalar("alpha", f64)
            gamma_r = 0.0 if regularization is None else float(regularization.gamma)

            def apply_h(p):  # H p in float64; p is a constant direction for tf.gradients
                hp = tf.cast(product(tf.stop_gradient(tf.cast(p, dtype))), f64)
                return hp + gamma_r * p if gamma_r else hp

            b = -tf.cast(self.g, f64)
            rr_0 = tf.reduce_sum(b * b)
            done_0 = tf.sqrt(rr_0) <= self.tolerance
            # state: j, x, r, p, rr, done, reason, residual; the returned iterate is x
            state = (tf.constant(0), tf.zeros([n], f64), b, b, rr_0, done_0,
                     tf.constant(0), tf.sqrt(rr_0))

            def body(j, x, r, p, rr, done, reason, residual):
                Ap = apply_h(p)
                pAp = tf.reduce_sum(p * Ap)
                negative = pAp <= 0.0
                step = rr / tf.where(negative, tf.ones_like(pAp), pAp)
                x_next, r_next = cg_advance(x, r, p, Ap, step)
                rr_next = tf.reduce_sum(r_next * r_next)
                converged = tf.sqrt(rr_next) <= self.tolerance
                first = tf.equal(j, 0)
                # negative curvature: the last iterate, or b itself (steepest descent) at first
                x_out = tf.where(negative, tf.where(first, b, x), x_next)
                r_out = tf.where(negative, r, r_next)
                residual_out = tf.where(negative, tf.where(first, tf.norm(b - Ap), tf.sqrt(rr)),
                                        tf.sqrt(rr_next))
                reason_out = tf.where(negative, 1, tf.where(converged, 0, 2))
                p_out = tf.where(negative, p, cg_next_direction(r_next, rr_next, rr, p))
                rr_out = tf.where(negative, rr, rr_next)
                return (j + 1, x_out, r_out, p_out, rr_out, tf.logical_or(negative, converged),
                        reason_out, residual_out)

            j, x, _, _, _, _, reason, residual = tf.while_loop(
                lambda j, *rest: tf.logical_and(j < self.max_iterations, tf.logical_not(rest[4])),
                body, state, parallel_iterations=1, back_prop=False)
            # no iteration ran: converged at 0 (tolerance) or max_iterations = 0
            reason = tf.where(done_0, 0, tf.where(tf.equal(j, 0), 2, reason))
            step = tf.cast(self.alpha * x, dtype)
            finite = tf.reduce_all(tf.math.is_finite(x))
            self.direction = x
            self.fetches = {"iterations": j, "reason": reason, "residual_norm": residual,
                            "finite": finite, "update": self._guarded_update(finite, step, [x])}

    def feed(self, hessian_feed_dict, g, tolerance, max_iterations, alpha):
        """``hessian_feed_dict`` plus the gradient, the absolute residual tolerance, the
        iteration limit and the step length (a new dict)."""
        feed = dict(hessian_feed_dict)
        feed.update({self.g: np.asarray(g, dtype=self.dtype.as_numpy_dtype),
                     self.tolerance: float(tolerance), self.max_iterations: int(max_iterations),
                     self.alpha: float(alpha)})
        return feed


class PrimedNewtonCGStep(_FusedStep):
    """Newton-CG with a fixed step, finished in the gradient's session run when CG's first
    iteration finishes it.

    A :class:`~hessianlearn.problem.primed_product.PrimedProduct` gives, in the run of the
    loss and gradient ``g``, the product ``A b`` on the Hessian batch with ``b = -(g + gamma
    w)``. CG from zero applies ``A`` first to ``b``, so its first iteration needs nothing
    else: with ``rr = b^T b`` and ``pAp = b^T (A b + gamma b)``
    (:func:`~hessianlearn.utilities.step_math.cg_advance`),

    .. math::  x_1 = \\frac{rr}{pAp} b, \\qquad r_1 = b - \\frac{rr}{pAp} (A b + \\gamma b).

    The solve ends there when ``||b|| <= tol`` (``x = 0``), ``pAp <= 0`` (``x = b``,
    steepest descent), ``||r_1|| <= tol`` or at most one iteration is allowed, with ``tol =
    max(eta ||b||, abs_tolerance)`` and ``eta`` the forcing term at ``||b||`` (the fed law
    of :meth:`~hessianlearn.algorithms.cg_solver.CGSolver.forcing_law`,
    :func:`~hessianlearn.utilities.step_math.forcing_term`). Then the same run applies ``w
    += alpha x``, after every read of the weights, if the loss, ``||b||`` and the update are
    finite (``applied``); otherwise the weights are unchanged and the caller continues CG on
    the host from the primed product, which reaches the same first iterate.

    The vectors stay in the problem's precision (``b`` is the primed direction, ``x`` kept
    as its coefficient), the scalars are float64: the steps equal the host CG's (float64
    vectors) to round-off in float64. In float32 the dot products (TensorFlow's tree sums)
    are within about 1e-7 of the host's relative to ``sum |u_i v_i|``, and ``||r_1||``
    within float32's epsilon times ``||b|| / ||r_1||`` (about 1e-5 measured); so where
    ``pAp`` is near 0 on that scale, or ``||r_1||`` near the tolerance, the two forms may
    stop differently, each a CG outcome at float32 precision. Float64 vectors would add
    about 0.25 ms per step at Tutorial 0's 50992 weights (fresh 400 KB buffers), float32
    ones add about 0.05 ms; ``tensordot`` (a 1 x n x 1 matrix product) is slower still.

    Attributes
    ----------
    fetches : dict
        ``applied`` (bool), ``iterations`` (0 or 1), ``reason`` (index in
        :data:`CG_REASONS`), ``residual_norm`` and ``update`` (the op).
    """

    def __init__(self, problem, regularization=None, primed=None):
        super().__init__(problem, regularization)
        dtype, f64 = self.dtype, tf.float64
        gamma = 0.0 if regularization is None else float(regularization.gamma)
        with problem._graph.as_default(), tf.name_scope(None), tf.name_scope("primed_newton_cg"):
            # the scalars fed as one vector (one feed instead of twelve); flags as 0 or 1
            self.scalars = tf.placeholder(f64, [len(self.SCALARS)], name="scalars")
            law = dict(zip(self.SCALARS, tf.unstack(self.scalars)))
            for flag in ("fixed", "choice_1", "single_iteration"):
                law[flag] = law[flag] > 0.5

            def dot(u, v):
                return tf.cast(tf.reduce_sum(u * v), f64)

            b = primed.direction
            Ab = primed.product + tf.constant(gamma, dtype) * b if gamma > 0.0 else primed.product
            rr, pAp = dot(b, b), dot(b, Ab)
            norm_b = tf.sqrt(rr)
            eta = tf.where(law["fixed"], law["fixed_eta"], forcing_term(
                norm_b, law["previous_grad_norm"], law["previous_residual"], law["choice_1"],
                law["floor"], law["gamma"], law["alpha"], law["eta_max"], xp=tf))
            tolerance = tf.maximum(eta * norm_b, law["abs_tolerance"])
            done_0 = norm_b <= tolerance
            negative = pAp <= 0.0
            # cg_advance from x = 0 along p = b: x_1 = step b, kept as its coefficient; at
            # negative curvature x = b (coefficient 1) and its residual b - A b
            step = tf.where(negative, tf.ones_like(pAp), rr / pAp)  # rr / 0 is not selected
            coefficient = tf.where(done_0, tf.zeros_like(step), step)
            r_1 = b - tf.cast(step, dtype) * Ab
            residual_1 = tf.sqrt(dot(r_1, r_1))
            converged = residual_1 <= tolerance
            scale = law["step_alpha"] * coefficient  # w += scale b
            reg_cost = _regularization_cost(problem, regularization, [problem.w])
            finite = tf.reduce_all([
                tf.math.is_finite(tf.cast(problem.loss, f64) + tf.cast(reg_cost, f64)),
                tf.math.is_finite(norm_b), tf.math.is_finite(tf.cast(scale, dtype)),
                tf.math.is_finite(tf.cast(scale * norm_b, dtype)),
                # b nonzero with rr = 0 (squares below the smallest float) only the host sees
                tf.logical_or(rr > 0.0, law["abs_tolerance"] > 0.0)])
            # every read of the weights in the gradient's run (Optimizer._evaluate's fetches)
            # is an ancestor of one of these: the regularization's cost and gradient read
            # w, the primed product is available after the capture. Identities, so that no
            # op a session already ran gets the control-dependency mark TensorFlow sets
            reads = [problem.loss, problem.gradient, primed.product, _accuracy(problem),
                     None if regularization is None else problem.w]
            after = [tf.identity(t) for t in reads if t is not None]
            with tf.control_dependencies(after):  # the update's branch runs after the reads
                applied = tf.identity(tf.logical_and(
                    finite, tf.reduce_any([done_0, negative, converged, law["single_iteration"]])))

            def update():
                parts = problem._split(tf.cast(scale, dtype) * b)
                return tf.group(*[tf.assign_add(v, part)
                                  for v, part in zip(problem._weights, parts)])

            self.fetches = {
                "applied": applied,
                "iterations": tf.where(done_0, 0, 1),
                "reason": tf.where(done_0, 0, tf.where(negative, 1, tf.where(converged, 0, 2))),
                "residual_norm": tf.where(done_0, norm_b, residual_1),
                "update": tf.cond(applied, update, tf.no_op)}

    #: The fed scalars, in the order of ``scalars``: the forcing law's entries
    #: (:meth:`~hessianlearn.algorithms.cg_solver.CGSolver.forcing_law`), then
    #: ``single_iteration`` (``max_iterations == 1``) and ``step_alpha``.
    SCALARS = ("fixed", "fixed_eta", "previous_grad_norm", "previous_residual", "choice_1",
               "floor", "gamma", "alpha", "eta_max", "abs_tolerance", "single_iteration",
               "step_alpha")

    def feed(self, law, single_iteration, alpha):
        """The feed of the step's scalars: ``law`` from
        :meth:`~hessianlearn.algorithms.cg_solver.CGSolver.forcing_law`,
        ``single_iteration`` (``max_iterations == 1``) and the step length ``alpha``."""
        values = dict(law, single_iteration=single_iteration, step_alpha=alpha)
        return {self.scalars: np.array([float(values[name]) for name in self.SCALARS])}

