"""Numpy-facing curvature operators over a problem's graph and a session.

A curvature operator ``A`` (the Hessian, later the Gauss-Newton matrix or a
per-layer block) acts on numpy arrays for one data batch:

* ``A(x, feed_dict)`` with ``x`` of shape ``(n,)`` or ``(n, k)`` returns ``A x``
  with the same shape, ``n = A.dimension``;
* ``A.quadratics(x, feed_dict)`` returns ``x^T A x`` (a float, or ``(k,)`` for a
  matrix, column by column);
* ``A.as_linear_operator(feed_dict)`` is a symmetric
  ``scipy.sparse.linalg.LinearOperator`` for ``eigsh``, ``cg``, ``minres``.

With ``layer_name`` the operator is restricted to one layer's weights, the
diagonal block ``A[s, s]`` for the slice ``s`` of ``w`` that layer occupies
(:func:`layer_slice`): ``n = s.stop - s.start`` and
``A_s x = (A P_s^T x)[s]`` with ``P_s^T`` the zero extension from ``s`` to all
weights. Spectra and traces per layer then come from the same functions.

Subclasses only say which graph tensors give ``A v`` and ``A V``.
"""
import numbers

import numpy as np
from scipy.sparse.linalg import LinearOperator

from ..utilities.reduction import count_samples, evaluate
from .linearization import (capture_op as _capture_op, linearization, point_generation,
                            retire_points)

__all__ = ["CurvatureOperator", "OperatorWrapper", "layer_slice"]

DEFAULT_BLOCK_SIZE = 20


def layer_slice(problem, layer_name):
    """The slice of the flat weights ``w`` held by ``layer_name``.

    Parameters
    ----------
    problem : Problem
    layer_name : str
        Either a key of ``problem.layer_descriptors`` (one weight tensor, e.g.
        ``'dense/kernel:0'``, the ``':0'`` may be omitted) or a layer name (e.g.
        ``'dense'``): then all weights named ``'dense/...'``, which must be
        contiguous in ``w`` (kernel and bias of one layer are).

    Returns
    -------
    slice
        ``slice(start, stop)`` into ``w``.

    Raises
    ------
    TypeError
        If ``layer_name`` is not a string.
    ValueError
        If no weight matches; the message lists the valid names.
    """
    if not isinstance(layer_name, str):
        raise TypeError(f"layer_name must be a string, got {type(layer_name).__name__}.")
    descriptors = problem.layer_descriptors
    for key in (layer_name, layer_name + ":0"):
        if key in descriptors:
            return descriptors[key]["slice"]
    members = sorted((d["slice"] for key, d in descriptors.items() if key.startswith(layer_name + "/")),
                     key=lambda s: s.start)
    if members:
        if any(a.stop != b.start for a, b in zip(members, members[1:])):
            raise ValueError(
                f"The weights of layer {layer_name!r} are not contiguous in w; restrict to one "
                "weight tensor instead (a key of problem.layer_descriptors)."
            )
        return slice(members[0].start, members[-1].stop)
    layers = sorted({key.rsplit("/", 1)[0] for key in descriptors if "/" in key})
    raise ValueError(
        f"Unknown layer_name {layer_name!r}. Valid layer names: {layers}; valid weight names "
        f"(keys of problem.layer_descriptors): {list(descriptors)}."
    )


class CurvatureOperator:
    """Base class; subclasses implement :meth:`_vector_product` and :meth:`_block_product`.

    Parameters
    ----------
    problem : Problem
    sess : tf.compat.v1.Session
        A session in which the problem's variables are initialized.
    regularization : L2Regularization, optional
        Its Hessian ``gamma I`` is added to every action.
    block_size : int, optional
        Columns evaluated per session run for matrices; defaults to the problem's
        ``hessian_block_size`` or 20. Remainders are zero-padded.
    comm : communicator, optional
        Data-parallel reduction (see :func:`hessianlearn.utilities.reduction.evaluate`).
    layer_name : str, optional
        Restrict the operator to the diagonal block of one layer's (or one weight
        tensor's) weights, see :func:`layer_slice`; ``dimension`` becomes that
        block's size. ``None`` (default) acts on all weights.
    """

    def __init__(self, problem, sess, regularization=None, block_size=None, comm=None,
                 layer_name=None):
        self.problem = problem
        self.sess = sess
        self.regularization = regularization
        self.comm = comm
        if block_size is None:
            block_size = problem.hessian_block_size or DEFAULT_BLOCK_SIZE
        if isinstance(block_size, bool) or not isinstance(block_size, numbers.Integral) or block_size < 1:
            raise ValueError(f"block_size must be a positive int, got {block_size!r}.")
        self.block_size = int(block_size)
        self.layer_name = layer_name
        self.layer_slice = None if layer_name is None else layer_slice(problem, layer_name)
        if self.layer_slice is None:
            self.dimension = problem.dimension
        else:
            self.dimension = self.layer_slice.stop - self.layer_slice.start
        self.dtype = np.dtype(problem.dtype.as_numpy_dtype)
        self._linearized = {}  # (blocks, block_size) -> (vector, block or None) linearizations

    @property
    def shape(self):
        return (self.dimension, self.dimension)

    # -- what subclasses provide: (placeholder, tensor) pairs
    def _vector_product(self):
        raise NotImplementedError

    def _block_product(self, k):
        raise NotImplementedError

    def _point_vector_product(self):
        """The vector product that :meth:`at_point` copies (default: :meth:`_vector_product`)."""
        return self._vector_product()

    # -- numpy side
    def _check_input(self, x):
        if isinstance(x, (str, bytes)) or not hasattr(x, "__len__") and not hasattr(x, "shape"):
            raise TypeError(f"x must be a numpy vector or matrix, got {type(x).__name__}.")
        arr = np.asarray(x, dtype=self.dtype)
        if arr.ndim not in (1, 2):
            raise ValueError(
                f"x must be a vector (n,) or a matrix (n, k) with n = {self.dimension}, "
                f"got an array with {arr.ndim} dimensions, shape {arr.shape}."
            )
        if arr.shape[0] != self.dimension:
            raise ValueError(
                f"x has {arr.shape[0]} rows but the operator's dimension is {self.dimension} "
                "(the number of trainable weights, or of the layer's weights with layer_name)."
            )
        return arr

    def _run(self, placeholder, tensor, value, feed_dict):
        feed = dict(feed_dict)
        feed[placeholder] = value
        return evaluate(self.sess, tensor, feed, self.comm)

    def _apply(self, arr, feed_dict):
        full = arr
        if self.layer_slice is not None:  # zero extension to all weights
            full = np.zeros((self.problem.dimension,) + arr.shape[1:], dtype=self.dtype)
            full[self.layer_slice] = arr
        if full.ndim == 1:
            out = self._run(*self._vector_product(), full, feed_dict)
        else:
            out = self._apply_matrix(full, feed_dict)
        if self.layer_slice is not None:
            out = out[self.layer_slice]
        if self.regularization is not None and self.regularization.is_active:
            out = out + self.regularization.hessian_action(arr)
        return out

    def _apply_matrix(self, X, feed_dict):
        n, ncols = X.shape
        k = self.block_size
        block = None if ncols == 1 else self._block_product(k)  # None at a point without blocks
        if block is None:
            return np.stack([self._run(*self._vector_product(), x, feed_dict) for x in X.T], axis=1)
        out = np.empty((n, ncols), dtype=self.dtype)
        placeholder, tensor = block
        for start in range(0, ncols, k):
            stop = min(start + k, ncols)
            block = X[:, start:stop]
            if stop - start < k:
                block = np.concatenate([block, np.zeros((n, k - (stop - start)), self.dtype)], axis=1)
            out[:, start:stop] = self._run(placeholder, tensor, block, feed_dict)[:, : stop - start]
        return out

    def __call__(self, x, feed_dict):
        """``A x`` for ``x`` of shape ``(n,)`` or ``(n, k)``; ``feed_dict`` is not modified."""
        return self._apply(self._check_input(x), feed_dict)

    def quadratics(self, x, feed_dict):
        """``x^T A x``: a float for a vector, the ``(k,)`` column-wise values for a matrix."""
        arr = self._check_input(x)
        ax = self._apply(arr, feed_dict)
        if arr.ndim == 1:
            return float(arr @ ax)
        return np.einsum("ij,ij->j", arr, ax)

    def at_point(self, feed_dict, blocks=True, captured=False, defer=False, primed=None):
        """This operator frozen at the current weights and the batch in ``feed_dict``.

        One session run stores the products' direction-free inputs (forward and
        first backward pass, weights, batch: :mod:`.linearization`); every later
        product repeats only the direction's work (``bench/hessian_actions.py``
        measures ``H dw`` in gradients, fresh and at a point). Products keep
        describing the captured point when the weights change afterwards; call
        ``at_point`` again to move. The captured values are held once per problem
        and session: a later ``at_point`` retires earlier points (using one then
        raises ``RuntimeError``).

        Parameters
        ----------
        feed_dict : dict
            The batch (not kept: its values are captured).
        blocks : bool, optional
            Also capture the ``block_size``-column product for matrices (its graph
            copy is built on first use). With ``False`` matrices go column by column.
        captured : bool, optional
            ``True`` if :meth:`capture_op` (same ``blocks``) was just run on this batch
            by the caller; no capture run is made then.
        defer : bool, optional
            Single process only: make the capture in the run of the first vector
            product, which is then computed by the fresh product graph on the batch (it
            shares the forward and backward passes with the capture): one session run
            fewer per point, the same products to round-off. A solver that may take a
            single product (CG stopping at negative curvature) then costs what the fresh
            operator costs.
        primed : tuple, optional
            ``(v, A v)`` computed with the capture (``captured`` True), e.g. by a
            :class:`~hessianlearn.problem.primed_product.PrimedProduct` in the gradient's run
            (``A v`` without the regularization's term): the first vector product, if its
            direction equals ``v`` bit for bit, returns it without a session run.

        Returns
        -------
        OperatorWrapper
            ``dimension``, ``shape``, ``__call__(x)``, ``quadratics``, ``as_linear_operator()``.
        """
        return OperatorWrapper(_AtPoint(self, feed_dict, blocks, captured, defer, primed), {})

    def capture_op(self, blocks=True):
        """The op :meth:`at_point` runs to capture: fetch it in a run of your own on the
        same batch (e.g. with the gradient, sharing the forward and backward passes), then
        call ``at_point(feed_dict, blocks, captured=True)`` right after. Asking for it
        retires the earlier points of this problem and session (their values are about
        to be overwritten)."""
        op = _capture_op(self.problem, [x for x in self._linearizations(blocks) if x is not None])
        retire_points(self.problem, self.sess)
        return op

    def _linearizations(self, blocks):
        """``(vector, block or None)`` linearizations of this operator's products (cached
        on the problem, and here: a step at a point asks for them every iteration)."""
        key = (bool(blocks), self.block_size)
        if key not in self._linearized:
            vector = linearization(self.problem, *self._point_vector_product())
            block = linearization(self.problem, *self._block_product(self.block_size)) if blocks else None
            self._linearized[key] = (vector, block)
        return self._linearized[key]

    def as_linear_operator(self, feed_dict):
        """A symmetric ``scipy.sparse.linalg.LinearOperator`` on a frozen copy of ``feed_dict``."""
        feed = dict(feed_dict)
        return LinearOperator(
            shape=self.shape,
            dtype=self.dtype,
            matvec=lambda v: self(np.ravel(v), feed),
            rmatvec=lambda v: self(np.ravel(v), feed),
            matmat=lambda V: self(V, feed),
            rmatmat=lambda V: self(V, feed),
        )


class _AtPoint(CurvatureOperator):
    """A curvature operator's products re-built on inputs captured at one point."""

    def __init__(self, operator, feed_dict, blocks, captured=False, defer=False, primed=None):
        self.__dict__.update(operator.__dict__)  # problem, sess, layer slice, regularization, ...
        self._vector, self._block = operator._linearizations(blocks)
        self._pending = None  # (capture op, batch, fresh vector product) until the first product
        self._primed = primed if captured else None  # (v, A v) for the first vector product
        if not captured:
            capture = operator.capture_op(blocks)
            if defer and self.comm is None:
                self._pending = (capture, dict(feed_dict), operator._vector_product())
            else:
                evaluate(self.sess, capture, feed_dict, self.comm)  # collective
        self._fraction = None  # under MPI: this rank's share of the batch, fixed at the capture
        if self.comm is not None:
            counts = self.comm.allgather(count_samples(feed_dict) or 0)
            self._fraction = counts[self.comm.Get_rank()] / sum(counts) if sum(counts) else None
        # the capture variables are the problem's: a later capture replaces this point
        self._generation = point_generation(self.problem, self.sess)
        if self._generation is None:
            raise ValueError("captured=True but capture_op() was never run in this session; "
                             "run it on the batch first, or call at_point without captured.")

    def _run(self, placeholder, tensor, value, feed_dict):
        if point_generation(self.problem, self.sess) != self._generation:
            raise RuntimeError(
                "This operator's point was replaced by a later capture (at_point or capture_op) on "
                "the same problem and session (they share the captured values); call at_point again.")
        if self._primed is not None:
            (direction, product), self._primed = self._primed, None
            if placeholder is self._vector.direction and np.array_equal(value, direction):
                return product
        if self._pending is not None:
            capture, feed, (fresh_placeholder, fresh_product) = self._pending
            self._pending = None
            if placeholder is self._vector.direction:  # capture and this product in one run
                feed[fresh_placeholder] = value
                return evaluate(self.sess, [capture, fresh_product], feed)[1]
            evaluate(self.sess, capture, feed)
        return evaluate(self.sess, tensor, {placeholder: value}, self.comm,
                        local_fraction=self._fraction)

    def _vector_product(self):
        return self._vector.direction, self._vector.product

    def _block_product(self, k):
        return None if self._block is None else (self._block.direction, self._block.product)


class OperatorWrapper:
    """A curvature operator bound to one data dict: ``wrapper(x) = A(x, feed_dict)``.

    Exposes ``dimension``, ``shape`` and ``__call__`` so solvers and eigensolvers
    can use it like any operator.
    """

    def __init__(self, operator, feed_dict):
        self.operator = operator
        self.feed_dict = dict(feed_dict)
        self.dimension = operator.dimension
        self.shape = operator.shape
        self.dtype = operator.dtype

    def __call__(self, x):
        return self.operator(x, self.feed_dict)

    def quadratics(self, x):
        return self.operator.quadratics(x, self.feed_dict)

    def as_linear_operator(self):
        return self.operator.as_linear_operator(self.feed_dict)
