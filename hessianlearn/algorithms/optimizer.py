"""The base of all optimizers: one evaluation, a direction, a globalization, one update.

An optimizer step on the batch ``feed_dict`` (and the Hessian batch
``hessian_feed_dict``) is

1. one call of :func:`~hessianlearn.utilities.reduction.evaluate` fetching the
   data loss, the gradient (and accuracy) -- plus the regularization's cost and
   gradient -- so ``f = data_loss + R(w)`` and ``g = grad f`` (on Newton-CG's fast
   path, with a Hessian batch of its own and a graph that can be copied, the same run
   captures the Hessian batch and computes ``H b``, ``b = -(g + gamma w)``:
   :attr:`Optimizer.primes_first_product`; with a fixed step it may also finish the
   step there: :meth:`Optimizer._gradient_run_step`);
2. a direction ``p`` from ``g`` and the curvature operator ``H`` (subclasses);
3. a globalization (fixed step ``alpha``, Armijo line search, trust region or
   spectral step) that chooses the step length and writes ``w + alpha p`` into
   the session.

The numpy reference steps build no graphs: they use the problem's tensors, a session
and a curvature operator (``CURVATURE_OPERATORS[parameters['hessian_type']]``); the
fast path's graphs are built by :mod:`hessianlearn.problem.fused_steps` and
:mod:`hessianlearn.problem.primed_product` and cached on the problem.
"""
import copy
import numbers
from collections.abc import Mapping

import numpy as np
from scipy.sparse.linalg import LinearOperator

from ..problem.hessian import Hessian
from ..problem.fused_steps import fused_step
from ..problem.gauss_newton_operator import GaussNewton
from ..problem.graph_walks import unseen_feeds
from ..problem.linearization import retire_points
from ..problem.primed_product import primed_product
from ..utilities.mpi import check_agreement, run_collectively, synchronized_generator
from ..utilities.parameter_list import ParameterList
from ..utilities.reduction import evaluate
from .armijo_line_search import ArmijoLineSearch

__all__ = ["Optimizer", "NonFiniteError", "CURVATURE_OPERATORS", "ParametersOptimizer",
           "FUSED_STEP_CHOICES"]

#: Curvature operator classes by ``hessian_type``; the one place to register more
#: (e.g. ``'gauss_newton'``). Each is called as ``cls(problem, sess, regularization, comm=comm)``.
CURVATURE_OPERATORS = {"hessian": Hessian, "gauss_newton": GaussNewton}


class NonFiniteError(FloatingPointError):
    """The loss, the gradient or the step is NaN or inf; the weights were not changed."""


def _normalize_choice(value):
    """``'None'``/``'none'`` (strings of the original settings) mean ``None``."""
    if isinstance(value, str) and value.lower() == "none":
        return None
    return value


def _check_choice(value, valid, key):
    value = _normalize_choice(value)
    if value not in valid:
        raise ValueError(
            f"Parameter {key!r} must be one of {list(valid)}, got {value!r}."
        )
    return value


def _check_positive(value, key, allow_zero=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) \
            or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"Parameter {key!r} must be a finite real number {bound}, got {value!r}.")
    return float(value)


def _check_decay(parameters, keys=("beta_1", "beta_2")):
    """Moving-average decay rates (Adam, AdaHessian, Sophia) must lie in [0, 1)."""
    for key in keys:
        if _check_positive(parameters[key], key, allow_zero=True) >= 1.0:
            raise ValueError(f"Parameter {key!r} must be in [0, 1), got {parameters[key]!r}.")


def _check_count(value, key, minimum=1):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"Parameter {key!r} must be an int >= {minimum}, got {value!r}.")
    return int(value)


def _check_feed(feed_dict, argument):
    if not isinstance(feed_dict, Mapping):
        raise TypeError(
            f"{argument} must be a dict mapping placeholders to arrays, got "
            f"{type(feed_dict).__name__}."
        )
    return dict(feed_dict)


class _CountingOperator(LinearOperator):
    """``H`` on one feed as a symmetric ``LinearOperator`` that counts applied columns.

    Every column adds ``weight`` to ``optimizer.sweeps[1]`` (``weight`` is the
    fraction of the Hessian batch the feed holds: 1, or ``n_j / N`` for a part).
    """

    def __init__(self, optimizer, feed_dict, weight=1.0, at_point=False, captured=False, primed=None):
        super().__init__(dtype=optimizer.H.dtype, shape=optimizer.H.shape)
        self._optimizer = optimizer
        self._weight = float(weight)
        if at_point:  # capture the point (unless done); products do the direction's work only
            self._apply = optimizer.H.at_point(feed_dict, blocks=False, captured=captured,
                                               defer=True, primed=primed)
        else:
            feed = dict(feed_dict)
            self._apply = lambda x: optimizer.H(x, feed)

    def _matvec(self, x):
        self._optimizer.sweeps[1] += self._weight
        return self._apply(np.ravel(x))

    def _matmat(self, X):
        X = np.asarray(X)
        self._optimizer.sweeps[1] += self._weight * X.shape[1]
        return self._apply(X)

    _rmatvec = _matvec
    _rmatmat = _matmat

    def _adjoint(self):
        return self


class Optimizer:
    """Base class: evaluation, bookkeeping, globalization; subclasses give the direction.

    Parameters
    ----------
    problem : Problem
        Gives ``loss``, ``gradient``, ``accuracy`` (if any) and the weight update ops.
    regularization : L2Regularization, optional
        Its ``cost`` and ``gradient`` are added to the loss and gradient; the
        curvature operator ``H`` includes its Hessian ``gamma I``.
    sess : tf.compat.v1.Session, optional
        Session holding the initialized weights; may be set later (``opt.sess = s``)
        but is required by :meth:`minimize`.
    parameters : ParameterList or dict, optional
        Defaults to this class's ``Parameters<ClassName>()``. A dict (or another
        ``ParameterList``) overrides those defaults; an unknown key raises
        ``KeyError`` with a close-match suggestion. The caller's object is copied,
        never modified; change settings later through ``opt.parameters[key]``.
    comm : communicator, optional
        Passed to every :func:`~hessianlearn.utilities.reduction.evaluate` call.

    Attributes
    ----------
    sweeps : ndarray, shape (2,)
        Cumulative cost ``[gradient batch passes, Hessian-vector products on the
        Hessian batch]``:

        * one gradient evaluation (loss and gradient on ``feed_dict``) adds 1 to
          ``sweeps[0]``;
        * every loss-only evaluation of a trial point (line-search trials: the
          first trial and each backtrack; the trust-region trial) adds 0.5 to
          ``sweeps[0]`` (forward pass only);
        * every column of ``H`` applied on the Hessian batch adds 1 to
          ``sweeps[1]``; a column applied on a part of that batch with ``n_j`` of
          its ``N`` samples adds ``n_j / N``. The count is of the columns the
          algorithm actually applied, e.g. ``2 (r + p)`` for the double-pass
          randomized eigensolver with rank ``r`` and (possibly reduced)
          oversampling ``p``, the CG iterations (plus one product for the
          trust-region model value), and every probe of an adaptive range finder.

        Epoch equivalents are ``data.batch_factor . sweeps`` (done by the fit loop).
    iter : int
        Number of completed :meth:`minimize` calls.
    alpha : float
        Step length applied in the last iteration (0 if the step was rejected).
    rng : numpy.random.Generator
        ``numpy.random.default_rng(parameters['seed'])``; randomized methods draw
        their test matrices from it, so it advances every iteration and the
        iterates are reproducible for a given seed.
    H : CurvatureOperator
        The curvature operator (including the regularization), chosen by
        ``parameters['hessian_type']`` from :data:`CURVATURE_OPERATORS`.
    last_evaluation : dict
        From the single evaluation at the start of the last step: ``loss`` (data
        loss plus regularization cost), ``data_loss``, ``norm_g`` (of the full
        gradient) and ``accuracy`` when the problem defines one.
    """

    #: Valid values of ``parameters['globalization']`` (``None``: fixed step ``alpha``).
    globalizations = (None,)
    #: Whether :meth:`minimize` reads its ``hessian_feed_dict`` (False for first-order methods:
    #: the fit loop then draws no Hessian batches for them).
    uses_hessian_batch = True
    #: Whether the step's solver applies ``H`` first to ``b = -g`` (CG from zero): on the fast
    #: path the gradient's run then also captures the Hessian batch's point and computes
    #: ``H b`` (:mod:`hessianlearn.problem.primed_product`), one session run fewer per step.
    primes_first_product = False
    #: Attributes carried between steps, saved by :meth:`state_dict` (dotted paths reach into
    #: parts, e.g. ``'trust_region.radius'``); subclasses extend the tuple with their own.
    state_attributes = ("sweeps", "iter", "alpha", "last_evaluation")

    def __init__(self, problem, regularization=None, sess=None, parameters=None, comm=None):
        self.problem = problem
        self.regularization = regularization
        self.comm = comm
        # Under MPI the ranks first agree on the settings, so a bad setting raises on every rank.
        self.parameters = run_collectively(comm, self._make_parameters, parameters)
        check_agreement(comm, {key: repr(value) for key, value in self.parameters.items()},
                        f"{type(self).__name__} parameters")
        run_collectively(comm, self._check_parameters)
        self._sess = None
        self.H = None
        self.sess = sess
        self.sweeps = np.zeros(2)
        self.iter = 0
        self.alpha = float(self.parameters["alpha"])
        # the same stream on every rank (seed None: rank 0's entropy is broadcast)
        self.rng = synchronized_generator(comm, self.parameters["seed"])
        self.last_evaluation = {}
        self._captured_feed = None  # the batch minimize() captured the curvature on, if any
        self._primed = None  # (b, H b) from the gradient's run, for the operator on _captured_feed
        self._in_run_step = None  # results of _gradient_run_step's fetches in the last gradient run
        #: Number of steps that ran the fused in-graph step (the rest ran the numpy path).
        self.fast_path_iterations = 0

    # ------------------------------------------------------------------ set-up
    @classmethod
    def default_parameters(cls):
        """A fresh ``ParameterList`` of this optimizer's defaults (subclasses override)."""
        raise NotImplementedError

    def _make_parameters(self, parameters):
        defaults = self.default_parameters()
        if parameters is None:
            return defaults
        if isinstance(parameters, ParameterList):
            defaults.update(dict(parameters.items()))
        elif isinstance(parameters, Mapping):
            defaults.update(dict(parameters))
        else:
            raise TypeError(
                f"parameters must be a ParameterList (e.g. from Parameters{type(self).__name__}()) "
                f"or a dict of overrides, got {type(parameters).__name__}."
            )
        return defaults

    def _check_parameters(self):
        """Validate the settings used by every optimizer; subclasses extend."""
        p = self.parameters
        _check_positive(p["alpha"], "alpha")
        seed = p["seed"]
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)
                                 or seed < 0):
            raise ValueError(f"Parameter 'seed' must be a non-negative int or None, got {seed!r}.")
        if "globalization" in p:
            _check_choice(p["globalization"], self.globalizations, "globalization")
        if "hessian_type" in p:
            _check_choice(p["hessian_type"], tuple(CURVATURE_OPERATORS), "hessian_type")
        if "max_backtrack" in p:
            _check_count(p["max_backtrack"], "max_backtrack", minimum=0)
        if "line_search_alpha" in p:
            _check_positive(p["line_search_alpha"], "line_search_alpha")
        if "hessian_at_point" in p and not isinstance(p["hessian_at_point"], (bool, np.bool_)):
            raise ValueError(f"Parameter 'hessian_at_point' must be True or False, got "
                             f"{p['hessian_at_point']!r}.")
        if "fused_step" in p:
            choice = check_fused_step(p["fused_step"])
            if choice is True and self.comm is not None:
                raise ValueError(
                    "Parameter 'fused_step' = True computes the whole step in one session run, "
                    "which cannot be reduced over MPI ranks; set fused_step 'auto' or False under MPI."
                )
            unsupported = self._fast_path_unsupported() if choice is True else None
            if unsupported:
                raise ValueError(
                    f"Parameter 'fused_step' = True: {type(self).__name__} has no fast path for "
                    f"{unsupported}; set fused_step 'auto' (the fast path where it exists) or False."
                )

    def _fast_path_unsupported(self):
        """``None`` if the current parameters have a fast (fused) step, else the combination
        that has none, as a phrase for messages (subclasses with fast steps override).
        Optimizers with ``hessian_at_point`` have one: their products at a captured point."""
        return None if "hessian_at_point" in self.parameters else "any parameters"

    @property
    def uses_fast_path(self):
        """Whether the next step runs the fused graph (``fused_step`` True, or ``'auto'``
        with a fast path for the current parameters, single process)."""
        if "fused_step" not in self.parameters:
            return False
        choice = check_fused_step(self.parameters["fused_step"])
        if choice == "auto":
            return self.comm is None and self._fast_path_unsupported() is None
        return choice

    @property
    def fast_path_note(self):
        """One line for the fit's header when ``'auto'`` falls back because of MPI, else ``None``."""
        if "fused_step" in self.parameters and self.parameters["fused_step"] == "auto" \
                and self.comm is not None and self._fast_path_unsupported() is None:
            return ("fused_step 'auto': the fused step cannot be reduced over MPI ranks; "
                    "the numpy reference path is used")
        return None

    @classmethod
    def inactive_parameters(cls, parameters):
        """Keys of ``parameters`` that the step does not read with these values.

        The base rule: the Armijo keys (``line_search_parameters()``) only act
        with ``globalization='line_search'``; ``alpha`` (the fixed step) does
        not act with a line search, trust region or spectral step. Subclasses
        add their own (e.g. LRSFN's range-finding keys without range finding).

        Parameters
        ----------
        parameters : mapping
            A full parameter list of this class.

        Returns
        -------
        set of str
        """
        inactive = set()
        if "globalization" not in parameters:
            return inactive
        globalization = _normalize_choice(parameters["globalization"])
        if globalization != "line_search":
            inactive |= set(line_search_parameters())
        if globalization is not None:
            inactive.add("alpha")
        return inactive & set(parameters.keys())

    @property
    def globalization(self):
        """The validated ``parameters['globalization']`` (``None`` for a fixed step)."""
        if "globalization" not in self.parameters:
            return None
        return _check_choice(self.parameters["globalization"], self.globalizations, "globalization")

    @property
    def sess(self):
        """The session; setting it (re)builds the curvature operator ``H``."""
        return self._sess

    @sess.setter
    def sess(self, sess):
        self._sess = sess
        hessian_type = self.parameters["hessian_type"] if "hessian_type" in self.parameters else "hessian"
        operator_class = CURVATURE_OPERATORS[_check_choice(hessian_type, tuple(CURVATURE_OPERATORS),
                                                           "hessian_type")]
        self.H = operator_class(self.problem, sess, self.regularization, comm=self.comm)

    @property
    def _regularized(self):
        return self.regularization is not None and self.regularization.is_active

    # ------------------------------------------------------------------ evaluations
    def _evaluate(self, feed_dict, capture=None, primed=None, in_run=None):
        """Loss, gradient (and accuracy) in one ``evaluate`` call; fills ``last_evaluation``.

        Returns ``(loss, g)`` with ``loss = data_loss + R(w)`` and ``g`` of shape
        ``(dimension,)``. Raises :class:`NonFiniteError` if either is NaN or inf.
        ``capture`` (an op) runs in the same call (the curvature's capture at this point);
        so does ``primed``, a ``(PrimedProduct, its feed)`` pair: its capture on the Hessian
        batch and ``H b`` are kept in ``_primed`` for the next :meth:`hessian_operator`;
        so does ``in_run``, a ``(fetches, feed)`` pair of the step's own (see
        :meth:`_gradient_run_step`), whose results are kept in ``_in_run_step``.
        """
        fetches = {"data_loss": self.problem.loss, "gradient": self.problem.gradient}
        if capture is not None:
            fetches["capture"] = capture
        if primed is not None:
            graph, extra = primed
            fetches.update(primed_capture=graph.capture, primed_direction=graph.direction,
                           primed_product=graph.product)
            feed_dict = {**feed_dict, **extra}
        if in_run is not None:
            fetches["in_run_step"] = in_run[0]
            feed_dict = {**feed_dict, **in_run[1]}
        accuracy = getattr(self.problem, "accuracy", None)
        if accuracy is not None:
            fetches["accuracy"] = accuracy
        if self._regularized:
            fetches["reg_cost"] = self.regularization.cost
            fetches["reg_gradient"] = self.regularization.gradient
        out = evaluate(self.sess, fetches, feed_dict, self.comm)
        self.sweeps[0] += 1.0
        if primed is not None:
            self._primed = (out["primed_direction"], out["primed_product"])
        self._in_run_step = out.get("in_run_step")
        data_loss = float(out["data_loss"])
        loss = data_loss + (float(out["reg_cost"]) if self._regularized else 0.0)
        g = np.array(out["gradient"], dtype=np.float64)
        if self._regularized:
            g = g + out["reg_gradient"]
        norm_g = float(np.linalg.norm(g))  # finite: so is every entry (else check them)
        if not (np.isfinite(loss) and (np.isfinite(norm_g) or np.all(np.isfinite(g)))):
            raise NonFiniteError(
                f"iteration {self.iter}: the loss ({loss}) or the gradient is NaN or inf; "
                "the weights were not changed. Check the data and lower the step length alpha."
            )
        self.last_evaluation = {"loss": loss, "data_loss": data_loss, "norm_g": norm_g}
        if accuracy is not None:
            self.last_evaluation["accuracy"] = float(out["accuracy"])
        return loss, g

    def _loss(self, feed_dict):
        """``data_loss + R(w)`` at the current weights; adds 0.5 to ``sweeps[0]``."""
        fetches = [self.problem.loss]
        if self._regularized:
            fetches.append(self.regularization.cost)
        values = evaluate(self.sess, fetches, feed_dict, self.comm)
        self.sweeps[0] += 0.5
        return float(sum(values))

    def hessian_operator(self, feed_dict, weight=1.0, at_point=None):
        """``H`` on ``feed_dict`` as a ``LinearOperator`` whose columns are counted in ``sweeps[1]``.

        With ``at_point`` (default: the ``hessian_at_point`` parameter, if the optimizer
        has one) the operator is ``H.at_point(feed_dict)``: one run captures the
        direction-free work and each product repeats only the direction's (the
        capture is not counted in ``sweeps``: it is the part each counted product
        would otherwise redo). When the Hessian batch is the gradient's batch,
        :meth:`minimize` captures in the gradient's run, so the capture costs no pass; with
        a batch of its own and :attr:`primes_first_product`, the gradient's run also
        captures it and computes ``H b`` (:meth:`_primed_product`), which the operator's
        first product returns if its direction is ``b``.
        """
        if at_point is None:
            at_point = self._hessian_at_point()
        captured = at_point and feed_dict is self._captured_feed
        primed = self._primed if captured else None
        self._captured_feed, self._primed = None, None  # a capture serves one operator, right after it
        return _CountingOperator(self, feed_dict, weight, at_point, captured, primed)

    def _primed_product(self, feed_dict, hessian_feed_dict):
        """``(PrimedProduct, its feed)`` when this step's gradient run can also capture the
        Hessian batch and apply ``H`` to ``b`` (:attr:`primes_first_product`, fast path,
        products at a point, single process, a Hessian batch of its own), else ``None``."""
        if not (self.primes_first_product and hessian_feed_dict is not feed_dict
                and self.comm is None and self.uses_fast_path and self._hessian_at_point()):
            return None
        graph = primed_product(self.H, self.regularization.gamma if self._regularized else 0.0)
        extra = None if graph is None else graph.feed(hessian_feed_dict)
        return None if extra is None else (graph, extra)

    def _gradient_run_step(self, primed):
        """``(fetches, feed)`` of step work to run with the gradient, or ``None`` (the
        default). ``primed`` is :meth:`_primed_product`'s pair for this step. The results
        reach :meth:`_step` as ``self._in_run_step``; work that changes the weights must
        order itself after every read of them in that run."""
        return None

    def _hessian_at_point(self):
        """Products at a captured point: asked for, or the fast path of the inexact Newton methods."""
        if "hessian_at_point" not in self.parameters:
            return False
        return bool(self.parameters["hessian_at_point"]) or self.uses_fast_path

    # ------------------------------------------------------------------ the step
    def minimize(self, feed_dict, hessian_feed_dict=None):
        """Take one step on the batch ``feed_dict`` and apply it to the weights.

        Parameters
        ----------
        feed_dict : dict
            Gradient batch ``{problem.x: ..., problem.y_true: ...}`` (not modified).
        hessian_feed_dict : dict, optional
            Batch on which the curvature operator is evaluated; ``feed_dict`` if None.

        Returns
        -------
        dict
            Step information: ``iteration``, ``loss``, ``norm_g``, ``alpha`` and
            method-specific entries.

        Raises
        ------
        NonFiniteError
            If the loss, gradient or step is NaN or inf (weights unchanged).
        """
        if self.sess is None:
            raise ValueError("sess is None: pass sess= to the constructor or set optimizer.sess "
                             "before calling minimize.")
        feed = _check_feed(feed_dict, "feed_dict")
        hess_feed = feed if hessian_feed_dict is None or hessian_feed_dict is feed_dict \
            else _check_feed(hessian_feed_dict, "hessian_feed_dict")
        self._check_parameters()
        # products at a point on the gradient's own batch: capture in the gradient's run
        capture = self.H.capture_op(blocks=False) \
            if hess_feed is feed and self._hessian_at_point() else None
        primed = self._primed_product(feed, hess_feed)
        if primed is not None:  # the copy overwrites the captured values: earlier points retire
            retire_points(self.problem, self.sess)
        self._captured_feed = feed if capture is not None else hess_feed if primed is not None else None
        self._primed = None
        loss, g = self._evaluate(feed, capture, primed, self._gradient_run_step(primed))
        info = {"iteration": self.iter, "loss": loss, "norm_g": self.last_evaluation["norm_g"]}
        if "hessian_at_point" in self.parameters and self.uses_fast_path:
            self.fast_path_iterations += 1  # the inexact Newton methods' fast path
        info.update(self._step(feed, hess_feed, loss, g))
        info["alpha"] = self.alpha
        self.iter += 1
        return info

    # ------------------------------------------------------------------ fused first-order steps
    def _fused_graph(self, kind, **options):
        """The problem's cached fused graph ``kind`` for this optimizer's regularization."""
        return fused_step(kind, self.problem, self.regularization if self._regularized else None,
                          **options)

    def _fused_scalars(self):
        """The keywords of the fused step's ``feed`` at the next iteration (subclasses)."""
        raise NotImplementedError

    def _fused_prepare(self):
        """Before a fused first-order run: check the session and settings; return the step graph."""
        if self.sess is None:
            raise ValueError("sess is None: pass sess= to the constructor or set optimizer.sess "
                             "before calling minimize.")
        self._check_parameters()
        return self._fused_single_step()

    def _fused_single_step(self):
        raise NotImplementedError

    def _fused_record(self, out, j=None):
        """Book one fused iteration from the fetched ``out`` (entry ``j`` of arrays if given):
        ``last_evaluation``, sweeps, counters; returns the step info. Raises
        :class:`NonFiniteError` (weights unchanged) if it was not finite."""
        value = (lambda key: float(out[key])) if j is None else (lambda key: float(out[key][j]))
        data_loss = value("data_loss")
        loss = data_loss + value("reg_cost")
        norm_g = value("norm_g")
        if not (np.isfinite(loss) and np.isfinite(norm_g)):
            raise NonFiniteError(
                f"iteration {self.iter}: the loss ({loss}), the gradient or the step is NaN or inf; "
                "the weights were not changed. Check the data and lower the step length alpha."
            )
        self.sweeps[0] += 1.0
        self.fast_path_iterations += 1
        self.last_evaluation = {"loss": loss, "data_loss": data_loss, "norm_g": norm_g}
        if "accuracy" in out:
            self.last_evaluation["accuracy"] = value("accuracy")
        self.alpha = float(self.parameters["alpha"])
        info = {"iteration": self.iter, "loss": loss, "norm_g": norm_g, "alpha": self.alpha}
        self.iter += 1
        return info

    def _fused_minimize(self, feed_dict):
        """One fused first-order step on ``feed_dict`` (one session run)."""
        feed = _check_feed(feed_dict, "feed_dict")
        step = self._fused_prepare()
        out = evaluate(self.sess, step.fetches, step.feed(feed, **self._fused_scalars()))
        return self._fused_record(out)

    @property
    def supports_step_sequences(self):
        """Whether :meth:`minimize_steps` runs several steps per session call now
        (subclasses with a fast path that can; not for problems whose graph cannot be copied)."""
        return False

    _no_step_sequences = False  # set once the problem's graph proved impossible to loop over

    def minimize_steps(self, feed_dicts):
        """Steps on the batches ``feed_dicts`` in order (one per batch); a list of step infos.

        Optimizers whose fast path runs several steps per session call
        (:attr:`supports_step_sequences`) do so, with the same iterates as
        :meth:`minimize` per batch; ``evaluations`` then holds each step's
        ``last_evaluation``. Others call :meth:`minimize` per batch.
        """
        infos, self.evaluations = [], []
        feeds = [_check_feed(f, "feed_dicts[i]") for f in feed_dicts]
        sequence = None
        if self.supports_step_sequences and len(feeds) > 1:
            step = self._fused_prepare()  # the sequence runs this step's graph (its state too)
            try:
                sequence = self._fused_graph("steps", method=self._sequence_method, **step.options)
            except ValueError:  # a graph the loop cannot copy (control flow, random draws)
                self._no_step_sequences = True
            if sequence is not None and any(unseen_feeds(feed, sequence.copied, sequence.placeholders)
                                            for feed in feeds):
                sequence = None  # e.g. a fed placeholder_with_default: the loop would not see it
        if sequence is None:
            for feed in feeds:
                infos.append(self.minimize(feed))
                self.evaluations.append(dict(self.last_evaluation))
            return infos
        out = evaluate(self.sess, sequence.fetches, sequence.feed(feeds, **self._fused_scalars()))
        # the loop ran up to the first non-finite iteration (not applied): recording it raises,
        # after the iterations before it are in `evaluations`
        for j in range(len(out["norm_g"])):
            infos.append(self._fused_record(out, j))
            self.evaluations.append(dict(self.last_evaluation))
        return infos

    def _step(self, feed_dict, hessian_feed_dict, loss, g):
        """Compute and apply the step; return method-specific info. Subclasses implement."""
        raise NotImplementedError

    # ------------------------------------------------------------------ state (checkpoints)
    def state_dict(self):
        """Everything a later step depends on besides the weights and the parameters.

        Returns
        -------
        dict
            ``'class'`` (the optimizer's class name), ``'rng'`` (the random
            generator's ``bit_generator.state``) and a deep copy of every
            attribute named in :attr:`state_attributes` (counters, moments,
            eigenpairs, solver and trust-region state). Subclasses whose state
            lives outside Python attributes (e.g. graph variables) override this
            and :meth:`load_state_dict`. Taken between steps, it lets an optimizer
            rebuilt with the same parameters on the same weights continue with
            bitwise the same steps.
        """
        state = {"class": type(self).__name__, "rng": copy.deepcopy(self.rng.bit_generator.state)}
        for name in self.state_attributes:
            state[name] = copy.deepcopy(_get_path(self, name))
        return state

    def rank_local_state(self):
        """This process's part of the state where it differs between MPI ranks, else None.

        :meth:`state_dict` holds what every rank shares (rank 0 writes it to a
        checkpoint). A fit's checkpoint also gathers this value from every rank,
        and a fit resumed on as many ranks hands each rank its own part back
        through :meth:`load_rank_local_state` (after :meth:`load_state_dict`).
        The base class has none; :class:`~hessianlearn.algorithms.lbfgs.LBFGS`
        keeps its pending curvature pair's batch here.
        """
        return None

    def load_rank_local_state(self, value):
        """Restore this rank's :meth:`rank_local_state` (None restores nothing)."""

    def load_state_dict(self, state):
        """Restore a :meth:`state_dict` (taken from an optimizer of the same class).

        Raises
        ------
        TypeError
            ``state`` is not a dict.
        ValueError
            It comes from another optimizer class or lacks one of the entries.
        """
        if not isinstance(state, Mapping):
            raise TypeError(f"state must be a dict from state_dict(), got {type(state).__name__}.")
        if state.get("class") != type(self).__name__:
            raise ValueError(
                f"state comes from optimizer {state.get('class')!r}; this optimizer is "
                f"{type(self).__name__!r}. Load a state taken from the same optimizer class."
            )
        missing = [name for name in ("rng",) + tuple(self.state_attributes) if name not in state]
        if missing:
            raise ValueError(f"state lacks the entries {missing} that {type(self).__name__} saves.")
        self.rng.bit_generator.state = copy.deepcopy(state["rng"])
        for name in self.state_attributes:
            value = copy.deepcopy(state[name])
            if name == "sweeps":
                value = np.array(value, dtype=float)
            _set_path(self, name, value)
        self._captured_feed, self._primed = None, None

    def _check_step(self, p):
        if not np.all(np.isfinite(p)):
            raise NonFiniteError(
                f"iteration {self.iter}: the step direction is NaN or inf (the curvature on this "
                "batch is not finite); the weights were not changed."
            )

    def _globalize(self, feed_dict, loss, g, p, alpha=None):
        """Apply ``w += alpha p`` by the configured globalization; return info.

        ``None``: fixed step ``alpha`` (default ``parameters['alpha']``).
        ``'line_search'``: Armijo backtracking on ``feed_dict`` from
        ``parameters['line_search_alpha']`` (``alpha`` is not used); if
        ``g^T p >= 0`` (not a descent direction, possible for GMRES/MINRES on an
        indefinite operator) the direction falls back to ``-g``.
        """
        self._check_step(p)
        if self.globalization == "line_search":
            return self._line_search(feed_dict, loss, g, p, float(self.parameters["line_search_alpha"]))
        alpha = float(self.parameters["alpha"]) if alpha is None else float(alpha)
        self.problem.update_weights(self.sess, alpha * p)
        self.alpha = alpha
        return {}

    def _line_search(self, feed_dict, loss, g, p, alpha0):
        slope = float(g @ p)
        fallback = slope >= 0.0 and np.any(g != 0.0)
        if fallback:
            p = -g
            slope = -float(g @ g)
        w0 = self.problem.get_weights(self.sess)
        trial = {"alpha": 0.0}

        def phi(alpha):
            self.problem.set_weights(self.sess, w0 + alpha * p)
            trial["alpha"] = alpha
            return self._loss(feed_dict)

        search = ArmijoLineSearch(c1=self.parameters["c_armijo"],
                                  backtracking_factor=self.parameters["backtracking_factor"],
                                  max_backtrack=self.parameters["max_backtrack"])
        alpha, backtracks = search.search(phi, loss, slope, alpha0)
        if alpha != trial["alpha"]:
            self.problem.set_weights(self.sess, w0 + alpha * p)
        self.alpha = alpha
        return {"backtracks": backtracks, "accepted": alpha > 0.0,
                "steepest_descent_fallback": bool(fallback)}


def _get_path(obj, path):
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


def _set_path(obj, path, value):
    *parents, last = path.split(".")
    for part in parents:
        obj = getattr(obj, part)
    setattr(obj, last, value)


#: Values of the ``fused_step`` parameter and setting.
FUSED_STEP_CHOICES = ("auto", True, False)


def check_fused_step(value, argument="Parameter 'fused_step'"):
    """``value`` as one of :data:`FUSED_STEP_CHOICES` (numpy bools accepted), else ``ValueError``."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, str) and value == "auto":
        return value
    raise ValueError(f"{argument} must be one of 'auto', True, False, got {value!r}.")


def fused_step_parameters(description):
    """The ``fused_step`` entry (default ``'auto'``) of optimizers with a fast path."""
    return {"fused_step": ["auto", "'auto' (the fused in-graph step where it computes the "
                                   "reference step, single process), True (raise where it does "
                                   "not), False (numpy reference path). " + description]}


def at_point_parameters(fast_path="the Krylov products at the captured point (as "
                                  "hessian_at_point True)"):
    """The ``[value, description]`` entry of optimizers whose Krylov products may run at a
    captured point (read by :meth:`Optimizer.hessian_operator` and :meth:`Optimizer.minimize`);
    ``fast_path`` says what their ``fused_step`` runs."""
    return {
        "hessian_at_point": [False, "Capture the Hessian batch's direction-free work once per step "
                             "(Hessian.at_point): cheaper products when the solver takes several"],
        **fused_step_parameters("Fast path of the inexact Newton methods: " + fast_path),
    }


def line_search_parameters():
    """The ``[value, description]`` entries shared by optimizers with an Armijo line search.

    ``line_search_alpha`` (1.0, the unit step of the original hessianlearn) is
    the first trial of every Armijo search; ``alpha`` is only the fixed step.
    """
    return {
        "line_search_alpha": [1.0, "First trial step of the Armijo line search (line_search)"],
        "max_backtrack": [10, "Maximum number of Armijo backtracks (line_search)"],
        "c_armijo": [1e-4, "Armijo sufficient-decrease constant c1 in (0, 1)"],
        "backtracking_factor": [0.5, "Step reduction factor per backtrack, in (0, 1)"],
    }


def ParametersOptimizer(dictionary=None):
    r"""The original hessianlearn's base optimizer parameters.

    ``alpha`` 1.0 (step length or learning rate), ``rel_tolerance`` 1e-3 and
    ``abs_tolerance`` 1e-4 (convergence when :math:`\|g\|/\|g_0\|` resp.
    :math:`\|g\|` falls below them) and ``globalization`` None.  Each optimizer
    class has its own complete list (``Parameters<ClassName>()``); this one is
    the common base the original's optimizers extended.

    Parameters
    ----------
    dictionary : dict or ParameterList, optional
        Further ``key -> [value, description]`` entries; an entry for one of
        the four keys above replaces its default. Not modified.

    Returns
    -------
    ParameterList
    """
    entries = {
        "alpha": [1.0, "Initial step length, or learning rate"],
        "rel_tolerance": [1e-3, "Relative convergence when ||g|| / ||g_0|| <= rel_tolerance"],
        "abs_tolerance": [1e-4, "Absolute convergence when ||g|| <= abs_tolerance"],
        "globalization": [None, "None, 'line_search' or 'trust_region'"],
    }
    if dictionary is not None:
        extra = ParameterList(dictionary)
        entries.update({key: [value, extra.description(key)] for key, value in extra.items()})
    return ParameterList(entries)
