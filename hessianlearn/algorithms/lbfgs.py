"""Limited-memory BFGS (Nocedal 1980; Liu & Nocedal 1989) with an Armijo line search."""
import warnings
from collections import deque

import numpy as np

from ..utilities.mpi import size_of
from ..utilities.parameter_list import ParameterList
from ..utilities.reduction import evaluate
from .optimizer import Optimizer, _check_count, line_search_parameters

__all__ = ["LBFGS", "ParametersLBFGS"]


def ParametersLBFGS():
    """A fresh ``ParameterList`` of :class:`LBFGS` settings."""
    entries = {
        "alpha": [1.0, "Not a step length here: every step is an Armijo line search from "
                       "line_search_alpha (the unit step)"],
        "memory": [10, "Number m of curvature pairs (s, y) kept"],
        "seed": [0, "Seed of the optimizer's random generator (L-BFGS draws no random numbers)"],
    }
    entries.update(line_search_parameters())
    return ParameterList(entries)


def _same_batch(a, b):
    """Whether two feed dicts hold the same data (same keys, equal arrays)."""
    if a.keys() != b.keys():
        return False
    for key in a:
        x, y = a[key], b[key]
        if x is y:
            continue
        x, y = np.asarray(x), np.asarray(y)
        if x.shape != y.shape or not np.array_equal(x, y):
            return False
    return True


def _is_tensor(key):
    return hasattr(key, "graph") and isinstance(getattr(key, "name", None), str)


def two_loop_recursion(g, pairs):
    """``H_k g`` for the L-BFGS inverse-Hessian approximation of the pairs ``(s_i, y_i)``.

    ``pairs`` is ordered oldest first; ``H_k^0 = (s^T y / y^T y) I`` from the newest
    pair (``I`` without pairs).
    """
    q = np.array(g, dtype=np.float64)
    alphas = []
    for s, y in reversed(pairs):
        a = float(s @ q) / float(y @ s)
        alphas.append(a)
        q = q - a * y
    if pairs:
        s, y = pairs[-1]
        q = q * (float(s @ y) / float(y @ y))
    for (s, y), a in zip(pairs, reversed(alphas)):
        b = float(y @ q) / float(y @ s)
        q = q + (a - b) * s
    return q


class LBFGS(Optimizer):
    """L-BFGS direction ``p = -H_k g`` by the two-loop recursion, Armijo step from the unit step.

    ``H_k`` is the BFGS inverse-Hessian approximation built from the last
    ``memory`` pairs ``s = w_{k+1} - w_k`` (the accepted step) and ``y = g(w_{k+1})
    - g(w_k)``, both gradients on the batch of step ``k`` (for a new batch ``g(w_{k+1})``
    on the old batch costs one extra gradient evaluation; on the same batch it is
    the next step's gradient). A pair with ``s^T y <= 0`` (to round-off: ``<= eps
    ||s|| ||y||``) is skipped, so ``H_k`` stays positive definite. Without pairs
    (the first step) ``p = -g / max(1, ||g||)``. The Armijo search on the gradient
    batch starts from ``line_search_alpha`` (the unit step); a rejected step
    (``alpha = 0``) makes no pair.

    Sweeps per step: ``[1 + 0.5 (backtracks + 1) + c, 0]`` with ``c = 1`` when the
    previous step's batch differs from this one's (the gradient for ``y``), else 0.

    Attributes
    ----------
    pairs : deque of (ndarray, ndarray)
        The stored ``(s, y)`` pairs, oldest first.
    skipped_pairs : int
        Number of pairs skipped for ``s^T y <= 0``.
    """

    uses_hessian_batch = False  # gradients only

    #: ``pending_step``: the last accepted step, whose pair the next step completes
    state_attributes = Optimizer.state_attributes + ("pairs", "skipped_pairs", "pending_step")

    @classmethod
    def default_parameters(cls):
        return ParametersLBFGS()

    def __init__(self, problem, regularization=None, sess=None, parameters=None, comm=None):
        super().__init__(problem, regularization, sess, parameters, comm)
        self.pairs = deque(maxlen=int(self.parameters["memory"]))
        self.skipped_pairs = 0
        self._pending = None  # (s, g, feed) of the last accepted step

    def _check_parameters(self):
        super()._check_parameters()
        _check_count(self.parameters["memory"], "memory")

    @property
    def pending_step(self):
        """``(s, g, batch, ranks)`` of the last accepted step (``None`` if none).

        ``batch`` is the step's gradient batch, keyed by the fed tensors' names so
        that it pickles; ``ranks`` the number of MPI ranks. Under MPI each rank
        holds its own part of the batch: ``batch`` is then None here and the part
        is :meth:`rank_local_state` (a checkpoint gathers it from every rank).
        Assigning it maps the names back to the tensors of the session's graph.
        State saved on another number of ranks than the restoring run's is
        dropped with a ``RuntimeWarning`` (the next step then stores no pair;
        the other pairs are kept).
        """
        if self._pending is None:
            return None
        s, g, feed = self._pending
        ranks = size_of(self.comm)
        return s, g, (self._named(feed) if ranks == 1 else None), ranks

    @pending_step.setter
    def pending_step(self, value):
        if value is None:
            self._pending = None
            return
        s, g, batch, ranks = value
        if ranks != size_of(self.comm) or (ranks > 1 and batch is not None):
            why = (f"was saved on {ranks} rank(s) and is restored on {size_of(self.comm)}"
                   if ranks != size_of(self.comm) else
                   "holds one rank's batch (a state from before the rank-local format)")
            warnings.warn(f"L-BFGS: the pending curvature pair {why}: its batch is not restored, "
                          "the next step stores no pair, so the resumed run departs from the "
                          "uninterrupted one.", RuntimeWarning, stacklevel=2)
            self._pending = None
            return
        # under MPI the batch arrives by load_rank_local_state
        self._pending = (s, g, None if batch is None else self._tensors(batch))

    def rank_local_state(self):
        """Under MPI, this rank's part of the pending step's batch (names as keys), else None."""
        if self._pending is None or self._pending[2] is None or size_of(self.comm) == 1:
            return None
        return self._named(self._pending[2])

    def load_rank_local_state(self, value):
        """Give the pending step (restored by ``load_state_dict``) this rank's batch ``value``."""
        if value is None or self._pending is None:
            return
        s, g, _ = self._pending
        self._pending = (s, g, self._tensors(value))

    @staticmethod
    def _named(feed):
        return {(key.name if _is_tensor(key) else key, _is_tensor(key)): value
                for key, value in feed.items()}

    def _tensors(self, batch):
        graph = self.sess.graph
        return {graph.get_tensor_by_name(key) if tensor else key: array
                for (key, tensor), array in batch.items()}

    def _gradient_at(self, feed_dict):
        """``g`` (with the regularization's gradient) at the current weights; one sweep."""
        fetches = [self.problem.gradient]
        if self._regularized:
            fetches.append(self.regularization.gradient)
        values = evaluate(self.sess, fetches, feed_dict, self.comm)
        self.sweeps[0] += 1.0
        return sum(np.asarray(v, dtype=np.float64) for v in values)

    def _batch_unchanged(self, old, new):
        same = _same_batch(old, new)
        if self.comm is not None:  # every rank must take the same branch
            same = all(self.comm.allgather(same))
        return same

    def _store_pair(self, feed_dict, g):
        s, g_old, old_feed = self._pending
        self._pending = None
        if old_feed is None:  # restored without its batch (on every rank alike)
            warnings.warn("L-BFGS: the pending curvature pair has no batch (its rank-local part "
                          "was not restored with load_rank_local_state); no pair is stored.",
                          RuntimeWarning, stacklevel=3)
            return False
        g_new = g if self._batch_unchanged(old_feed, feed_dict) else self._gradient_at(old_feed)
        y = g_new - g_old
        sy = float(s @ y)
        if sy <= np.finfo(np.float64).eps * float(np.linalg.norm(s) * np.linalg.norm(y)):
            self.skipped_pairs += 1
            return False
        memory = int(self.parameters["memory"])
        if self.pairs.maxlen != memory:
            self.pairs = deque(self.pairs, maxlen=memory)
        self.pairs.append((s, y))
        return True

    def _step(self, feed_dict, hessian_feed_dict, loss, g):
        stored = self._store_pair(feed_dict, g) if self._pending is not None else False
        if self.pairs:
            p = -two_loop_recursion(g, list(self.pairs))
        else:
            p = -g / max(1.0, float(np.linalg.norm(g)))
        info = self._line_search(feed_dict, loss, g, p, float(self.parameters["line_search_alpha"]))
        if self.alpha > 0.0:
            step = self.alpha * (-g if info["steepest_descent_fallback"] else p)
            self._pending = (step, g, dict(feed_dict))
        info.update({"pair_stored": stored, "memory_used": len(self.pairs)})
        return info
