"""The single fit loop: :class:`HessianlearnModel`.

One call ``HessianlearnModel(problem, regularization, data, settings=s).fit()``
opens a session, initializes the weights, builds the optimizer the settings
name (:mod:`~hessianlearn.model.optimizer_registry`), and iterates the
training batches until ``settings['max_sweeps']`` sweeps of work are done.

Sweeps (epoch equivalents)
--------------------------
The optimizer counts its work in ``optimizer.sweeps = [gradient passes,
Hessian-vector products]``. One gradient pass on a training batch of ``b`` of
the ``N`` training samples costs ``b / N`` sweeps; one Hessian-vector product
on a Hessian batch of ``b_H`` samples costs ``b_H / N``; so after each step

    sweeps += (b / N) * d(sweeps[0]) + (b_H / N) * d(sweeps[1]),

which is ``data.batch_factor . optimizer.sweeps`` for a fixed batch size (the
increment form also covers growing batches). When the data has no Hessian
batches the Hessian is evaluated on the gradient batch, so a Hessian-vector
product then costs ``b / N``.

Every key of the logger dict is documented in :meth:`HessianlearnModel.fit`.

Checkpoints and resume
----------------------
With ``settings['checkpoint_frequency']`` the loop writes, between two steps,
everything the rest of the run depends on (weights, the optimizer's
:meth:`~hessianlearn.algorithms.optimizer.Optimizer.state_dict`, the data
iterators' positions, counters, logger, best weights, printed rows) through
:mod:`~hessianlearn.model.checkpoint`; ``fit(resume=True)`` loads the newest
readable one and continues, so the run equals an uninterrupted one.
"""
import contextlib
import math
import numbers
import os
import signal
import threading
import time
import warnings

import numpy as np
from threadpoolctl import threadpool_limits

from .._tf import tf
from ..utilities.mpi import check_agreement, check_identical, run_collectively, size_of
from ..utilities.reduction import evaluate
from .checkpoint import (CHECKPOINT_FOLDER, fingerprint_differences, newest_checkpoint, read_checkpoint,
                         remove_checkpoints, write_checkpoint)
from .curvature_recorder import CurvatureRecorder
from .device import device_config
from .logger import last_value, new_logger, save_logger
from .optimizer_registry import make_optimizer
from .printer import Printer, ProgressBar
from .settings import HessianlearnModelSettings, changed_settings, validate_settings

__all__ = ["HessianlearnModel"]

#: Validation extras: logger key -> problem attribute (fetched when the problem has it).
VALIDATION_EXTRAS = {
    "val_variance_reduction": "variance_reduction",
    "val_rel_error": "rel_error",
    "val_l2_loss": "l2_loss",
    "val_h1_loss": "h1_loss",
    "val_recon_loss": "reconstruction_loss",
    "val_kl_loss": "kl_loss",
}


def graph_rewrite_config(config):
    """Set the fit session's graph rewrites in ``config`` (a ``tf.ConfigProto``, changed in
    place and returned).

    TensorFlow rewrites each new fetch and feed signature (Grappler) at its first
    run. The fit's session runs one round of the meta-optimizer instead of two
    and skips the MLIR (TFG) pass, whose passes here only re-sort and re-export
    the graph. The first run of Tutorial 0's fused LRSFN step costs about 0.16 s
    instead of 0.23 s, its later runs the same, and the executed kernels are the
    ones of the default rewrites: every optimizer's logger is bitwise the same
    (``tests/test_fast_by_default.py``).
    """
    rewrites = config.graph_options.rewrite_options
    rewrites.meta_optimizer_iterations = rewrites.ONE
    rewrites.disable_tfg_optimizer = True
    return config


def _crossed(previous, current, frequency):
    """Whether a multiple of ``frequency`` lies in ``(previous, current]``."""
    return math.floor(current / frequency + 1e-12) > math.floor(previous / frequency + 1e-12)


def _is_tensor(value):
    return isinstance(value, (tf.Tensor, tf.Variable))


#: Settings a resumed fit may change: display, threads, checkpoint cadence (not the run's numbers).
RESUMABLE_SETTINGS = ("verbose", "progress_bar", "checkpoint_frequency", "intra_threads",
                      "inter_threads", "blas_threads", "debug", "layer_weights")


@contextlib.contextmanager
def _deferred_interrupt():
    """Defer Ctrl-C (SIGINT) to the next step boundary while the fit loop runs.

    Yields a dict whose ``'requested'`` count the handler increments; a second
    Ctrl-C raises ``KeyboardInterrupt`` at once. Off the main thread, or when the
    caller installed its own SIGINT handler, nothing is changed (yields None).
    """
    if threading.current_thread() is not threading.main_thread() \
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield None
        return
    pending = {"requested": 0}

    def handler(signum, frame):
        pending["requested"] += 1
        if pending["requested"] > 1:
            raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield pending
    finally:
        signal.signal(signal.SIGINT, previous)


class HessianlearnModel:
    """Train a problem with a Hessian-based (or first-order) stochastic optimizer.

    Parameters
    ----------
    problem : Problem
        The training problem (graph of the loss and its derivatives).
    regularization : L2Regularization or None
        Added to the loss; its Hessian ``gamma I`` is part of the curvature.
    data : Data
        Gives ``train`` (batch dicts), ``hess_train`` (Hessian batch dicts or
        None), ``validation`` (dict), ``batch_factor``, ``train_data_size``.
    derivative_data : Data, optional
        Extra feeds for problems with derivative losses (e.g. ``dy_true``): its
        training batches are merged into each training batch and its validation
        dict into the validation dict.
    settings : dict or ParameterList, optional
        Overrides of :func:`~hessianlearn.model.settings.HessianlearnModelSettings`
        (copied; the caller's object is not modified). Change ``model.settings``
        between fits to compare optimizers.
    comm : communicator, optional
        MPI communicator; evaluations go through
        :func:`~hessianlearn.utilities.reduction.evaluate` and only rank 0
        prints or writes files.

    Attributes
    ----------
    settings : ParameterList
    logger : dict or None
        The logger of the last fit (see :meth:`fit`).
    optimizer : Optimizer or None
        The optimizer of the last fit.
    sess : tf.compat.v1.Session or None
        The session of the last fit, left open with the best (restored)
        weights; :meth:`close` closes it, the next :meth:`fit` replaces it.
    logger_path : str or None
        Where the logger was last saved.
    """

    def __init__(self, problem, regularization, data, derivative_data=None, settings=None, comm=None):
        for attribute in ("loss", "gradient", "dimension", "NN"):
            if not hasattr(problem, attribute):
                raise TypeError(
                    f"problem must be a hessianlearn Problem (with '{attribute}'), "
                    f"got {type(problem).__name__}."
                )
        for name, value in (("data", data), ("derivative_data", derivative_data)):
            if value is None and name == "derivative_data":
                continue
            missing = [a for a in ("train", "validation", "batch_factor") if not hasattr(value, a)]
            if missing:
                raise TypeError(
                    f"{name} must be a hessianlearn Data object (missing {', '.join(missing)}), "
                    f"got {type(value).__name__}."
                )
        self.problem = problem
        self.regularization = regularization
        self.data = data
        self.derivative_data = derivative_data
        self.settings = HessianlearnModelSettings(settings)
        self.comm = comm
        self.rank = 0 if comm is None else int(comm.Get_rank())
        self.sess = None
        self.optimizer = None
        self.logger = None
        self.logger_path = None
        self._optimizer_class = None
        self._optimizer_parameters = None
        self._initializer = None

    # ------------------------------------------------------------------ optimizer choice
    def set_optimizer(self, optimizer, parameters=None):
        """Choose the optimizer of the next fits.

        Parameters
        ----------
        optimizer : str or class
            A registered name (sets ``settings['optimizer']``), or an optimizer
            class with the ``Optimizer(problem, regularization, sess, parameters, comm)``
            constructor (used until a name is set again).
        parameters : dict or ParameterList, optional
            For a name: parameter overrides applied after the settings. For a
            class: its parameters (``None``: registered defaults filled from the
            settings, or the class's own defaults).
        """
        if isinstance(optimizer, str):
            previous = self.settings["optimizer"]
            self.settings["optimizer"] = optimizer
            try:
                validate_settings(self.settings)
            except ValueError:
                self.settings["optimizer"] = previous
                raise
            self._optimizer_class = None
        elif isinstance(optimizer, type):
            self._optimizer_class = optimizer
        else:
            raise TypeError(
                f"optimizer must be a registered name or an optimizer class, got {optimizer!r}."
            )
        if parameters is not None and not hasattr(parameters, "items"):
            raise TypeError(
                f"parameters must be a dict or ParameterList, got {type(parameters).__name__}."
            )
        self._optimizer_parameters = parameters.copy() if parameters is not None else None

    # ------------------------------------------------------------------ helpers
    def _initial_vector(self, w_0):
        """``w_0`` as a flat vector of length ``dimension`` (or None); raises ValueError."""
        if w_0 is None:
            return None
        problem = self.problem
        if isinstance(w_0, (list, tuple)) and not all(np.ndim(v) == 0 for v in w_0):
            flat = problem._weights_from_keras_list(w_0)
        else:
            flat = np.asarray(w_0)
            if flat.ndim != 1:
                raise ValueError(
                    f"w_0 must be a flat vector of length {problem.dimension} or a Keras weight "
                    f"list of {len(problem.shapes)} arrays, got an array of shape {flat.shape}."
                )
        return problem._check_flat(flat, "w_0")  # casts to the problem's dtype into a fresh copy

    def _layer_assignments(self):
        """Checked ``(variable, value)`` pairs from ``settings['layer_weights']``."""
        pairs = []
        for name, values in self.settings["layer_weights"].items():
            try:
                layer = self.problem.NN.get_layer(name)
            except ValueError:
                names = [layer.name for layer in self.problem.NN.layers]
                raise ValueError(
                    f"settings['layer_weights'] names layer {name!r}, which the network does not "
                    f"have; its layers are {names}."
                ) from None
            variables = layer.weights
            if len(values) != len(variables):
                raise ValueError(
                    f"settings['layer_weights'][{name!r}] must hold {len(variables)} arrays "
                    f"(one per weight of the layer), got {len(values)}."
                )
            for variable, value in zip(variables, values):
                value = np.asarray(value)
                shape = tuple(variable.shape.as_list())
                if value.shape != shape:
                    raise ValueError(
                        f"settings['layer_weights'][{name!r}]: weight {variable.name} has shape "
                        f"{shape}, got {value.shape}."
                    )
                pairs.append((variable, value))
        return pairs

    def _open_session(self):
        self.close()
        graph = self.problem._graph
        config = tf.ConfigProto(intra_op_parallelism_threads=self.settings["intra_threads"],
                                inter_op_parallelism_threads=self.settings["inter_threads"])
        graph_rewrite_config(config)
        device_config(config, self.settings["device"])
        with graph.as_default():
            # one initializer per set of variables, shared by every model of the problem
            variables = tuple(tf.global_variables())
            cache = self.problem._graph_cache("initializers")
            if variables not in cache:
                cache[variables] = tf.variables_initializer(list(variables))
            self._initializer = cache[variables]
        self.sess = tf.Session(graph=graph, config=config)
        # A new session restarts the seeded random kernels: the same graph seed gives
        # the same initial weights in every fit.
        self.sess.run(self._initializer)
        return self.sess

    def close(self):
        """Close the session of the last fit (if open)."""
        if self.sess is not None:
            self.sess.close()
            self.sess = None

    def _merge(self, feed, extra_iterator):
        if extra_iterator is None:
            return feed
        merged = dict(feed)
        merged.update(next(extra_iterator))
        return merged

    def _validation_feed(self):
        feed = dict(self.data.validation)
        if self.derivative_data is not None:
            feed.update(self.derivative_data.validation)
        return feed

    def _validation_fetches(self):
        problem = self.problem
        fetches = {"val_loss": problem.loss}
        if _is_tensor(getattr(problem, "accuracy", None)):
            fetches["val_acc"] = problem.accuracy
        for key, attribute in VALIDATION_EXTRAS.items():
            if _is_tensor(getattr(problem, attribute, None)):
                fetches[key] = getattr(problem, attribute)
        for name, tensor in (getattr(problem, "metric_dict", None) or {}).items():
            if _is_tensor(tensor):
                fetches.setdefault(f"val_{name}", tensor)
        return fetches

    def _logger_name(self, optimizer_label, alpha=None):
        s = self.settings
        alpha = s["alpha"] if alpha is None else alpha
        if s["logger_outname"] is not None:
            return str(s["logger_outname"])
        name = f"{optimizer_label}-dW={self.problem.dimension}"
        if s["globalization"] is not None and optimizer_label in ("lrsfn", "incg", "ingmres", "inminres"):
            name += f"-{s['globalization']}"
        else:
            name += f"-alpha={alpha:g}" if alpha is not None else ""
        if optimizer_label == "lrsfn":
            name += f"-rank={s['hessian_low_rank']}" if s["range_finding"] is None \
                else f"-{s['range_finding']}"
        return name

    def _full_training_feed(self):
        """The full training set (first ``rq_data_size`` samples) as one feed dict."""
        arrays = getattr(self.data, "_train_arrays", None)
        if arrays is None:
            raise ValueError("record_spectrum needs a Data object holding the full training set.")
        size = self.settings["rq_data_size"]
        return {key: value[:size] if size is not None else value for key, value in arrays.items()}

    def _checked_inputs(self, w_0):
        validate_settings(self.settings, dimension=self.problem.dimension)
        return self._initial_vector(w_0), self._layer_assignments()

    # ------------------------------------------------------------------ fit
    def fit(self, w_0=None, resume=False):
        """Train until ``settings['max_sweeps']`` sweeps; return the logger.

        Parameters
        ----------
        w_0 : array of shape (dimension,) or list of arrays, optional
            Initial weights: a flat vector, or a Keras weight list (shapes of
            ``problem.NN.trainable_weights``). Default: the network's
            initializers, re-run in a new session (seeded by the graph's
            random seed, so the same seed gives the same run), then
            ``settings['layer_weights']``.
        resume : bool
            Continue from the newest readable checkpoint of this run (same
            logger name in ``<problem_name>_logging/checkpoints/``, written
            with ``settings['checkpoint_frequency']``): weights, optimizer
            state, data positions, counters, logger, best weights and the
            printed rows so far are restored, and the fit goes on as the
            interrupted one would have, so the logger (up to its timings), the
            weights and the printed table equal an uninterrupted run's
            (bitwise on the same machine; in-graph random ops such as dropout
            restart their streams and are the exception). Not with ``w_0``.

        Returns
        -------
        dict
            The logger (also ``self.logger``). Per-iteration series are dicts
            keyed, as in the original hessianlearn, by the iteration ``i = 0, 1,
            ...`` of the iterate ``w_i`` (the weights before step ``i``; ``w_0``
            the initial weights, ``w_n`` after the last of ``n`` steps):
            ``sweeps`` (work done to reach ``w_i``; ``sweeps[0] = 0``),
            ``total_time`` (seconds of steps to reach ``w_i``, validations
            excluded) and ``time`` (of the step that produced ``w_i``; 0 at
            ``i = 0``), ``alpha`` and ``hessian_low_rank`` (the optimizer's step
            length and rank after producing ``w_i``: at ``i = 0`` its initial
            values), keys ``0 .. n``; ``train_loss`` (loss plus regularization
            on batch ``i`` at ``w_i``, from step ``i``'s own evaluation),
            ``train_data_loss`` (not in the original: without the regularization), ``||g||``,
            ``train_acc`` and ``train_eigenvalues`` (LRSFN: the eigenvalues step
            ``i`` computed at ``w_i``), keys ``0 .. n-1``; at the validations,
            including ``i = 0`` (before the first step) and the last iterate:
            ``val_loss``, ``val_acc``, ``max_val_acc`` and the problem's extras
            (``val_variance_reduction``, ``val_h1_loss``, ...);
            with ``record_spectrum``: ``full_train_eigenvalues`` and ``rq_std``, and
            the curvature diagnostics of
            :mod:`~hessianlearn.model.curvature_recorder` (``full_train_trace``,
            ``full_train_trace_std_error``, ``full_train_top_eigenvalues``, with
            ``record_density`` ``full_train_spectral_density``, with
            ``record_layer_traces`` ``full_train_layer_traces``);
            with ``record_last_rq_std``: ``last_rq_std``. Run entries:
            ``optimizer``, ``status`` ('max_sweeps', 'data_exhausted',
            'non_finite', 'interrupted'), ``stop_reason``, ``best_iteration`` (the key of the
            best validated iterate), ``best_weights`` (flat, when
            ``save_weights``), ``initial_val_loss``/``initial_val_acc`` (not in the original:
            the same values as ``val_loss[0]``/``val_acc[0]``). The spectrum
            series (``full_train_eigenvalues``, ``rq_std``, ``last_rq_std`` and
            the diagnostics) are keyed ``i`` when recorded after step ``i``,
            as in the original.

        Raises
        ------
        ValueError
            Invalid settings (e.g. ``hessian_low_rank > dimension``), ``w_0`` of
            the wrong length or shapes, bad ``layer_weights``; with ``resume``, a
            checkpoint of a run that differs (settings, optimizer parameters,
            network, data sizes; the message lists what differs), or ``w_0`` given.
        FileNotFoundError
            ``resume`` and no readable checkpoint of the run (unreadable ones are
            skipped with a ``RuntimeWarning`` naming them).
        KeyboardInterrupt
            Re-raised after an interrupted run was wrapped up (see Notes).

        Notes
        -----
        The loop ends by returning its stop reason: ``max_sweeps`` reached, the
        training data exhausted, a non-finite value, or an interrupt.

        Settings the user changed from their defaults that the chosen optimizer
        does not read (e.g. ``alpha`` with a line search, which starts at
        ``line_search_alpha``) each get a ``UserWarning`` naming the key and the
        optimizer.

        A step whose loss or gradient is NaN or inf ends the run: a
        ``RuntimeWarning`` is issued, the best weights are restored and the
        logger (status ``'non_finite'``) is saved and returned.

        Ctrl-C (SIGINT, on the main thread) ends the run after the current step:
        the best weights are restored (session and Keras model), the logger is
        saved with status ``'interrupted'``, a checkpoint is written when
        checkpoints are on, and ``KeyboardInterrupt`` is re-raised. A second
        Ctrl-C interrupts at once (mid-step: no checkpoint).

        Best weights: the highest validation accuracy (problems with an
        ``accuracy``), else the lowest validation loss; a GAN keeps the weights
        of its last validation (the discriminator's accuracy and the summed
        losses do not rank a game's iterates), which the table header states.

        With ``settings['checkpoint_frequency'] = c`` a checkpoint is written
        after the step that crosses every multiple of ``c`` sweeps (rank 0
        writes; the newest two are kept); a fit without ``resume`` first
        removes the run's old checkpoints.
        """
        if not isinstance(resume, (bool, np.bool_)):
            raise TypeError(f"resume must be True or False, got {resume!r}.")
        if resume and w_0 is not None:
            raise ValueError("fit(resume=True) continues from a checkpoint's weights; do not pass "
                             "w_0 as well.")
        settings = self.settings
        # MPI: agree on the settings first, so a bad or differing setting raises on every rank.
        check_agreement(self.comm, {k: repr(v) for k, v in settings.items() if k != "layer_weights"},
                        "HessianlearnModel settings")
        w_init, assignments = run_collectively(self.comm, self._checked_inputs, w_0)
        sess = self._open_session()
        for variable, value in assignments:
            variable.load(value, sess)
        if w_init is not None:
            self.problem.set_weights(sess, w_init)
        if self.comm is not None:  # identical starting weights even if initializers were unseeded
            self.problem.set_weights(sess, self.comm.bcast(self.problem.get_weights(sess), root=0))

        optimizer_choice = self._optimizer_class or settings["optimizer"]
        self.optimizer = optimizer = make_optimizer(
            settings, self.problem, self.regularization, sess, comm=self.comm,
            optimizer=optimizer_choice, parameters=self._optimizer_parameters,
            changed=changed_settings(settings))
        label = optimizer_choice if isinstance(optimizer_choice, str) else optimizer_choice.__name__

        data = self.data
        self.logger = logger = new_logger(
            problem_name=settings["problem_name"], title=settings["title"], optimizer=label,
            optimizer_parameters=dict(optimizer.parameters.items())
            if hasattr(getattr(optimizer, "parameters", None), "items") else None,
            settings={k: v for k, v in settings.items() if k != "layer_weights"},
            dimension=self.problem.dimension, train_data_size=data.train_data_size,
            batch_size=data.batch_size, hessian_batch_size=getattr(data, "hessian_batch_size", 0),
            best_iteration=None)
        if settings["record_spectrum"]:
            logger["full_train_eigenvalues"] = {}
            logger["rq_std"] = {}
            self._curvature_recorder = CurvatureRecorder(self.problem, self.regularization, sess,
                                                         settings, comm=self.comm)
            logger.update({key: {} for key in CurvatureRecorder.logger_keys(settings)})
        if settings["record_last_rq_std"]:
            logger["last_rq_std"] = {}
            if not hasattr(optimizer, "eigenvectors"):
                warnings.warn(
                    f"settings['record_last_rq_std'] needs an optimizer that exposes its low-rank "
                    f"'eigenvectors' (LRSFN); {label} does not, so logger['last_rq_std'] stays empty.",
                    RuntimeWarning, stacklevel=2)
        for key in self._validation_fetches():
            logger.setdefault(key, {})
        self._logger_directory = f"{settings['problem_name']}_logging"
        parameters = getattr(optimizer, "parameters", None)
        self._logger_file = self._logger_name(
            label, parameters["alpha"] if hasattr(parameters, "keys") and "alpha" in parameters else None)
        self.logger_path = None
        writer = self.rank == 0
        printer = Printer(settings["printing_items"], enabled=settings["verbose"] and writer)
        title = settings["title"] or (
            f"{label}: dW={self.problem.dimension}, N={data.train_data_size}, "
            f"batch={data.batch_size}, Hessian batch={logger['hessian_batch_size']}")
        if self._keeps_last_weights:
            title += " (GAN: best weights = last validation)"
        printer.header(title)
        note = getattr(optimizer, "fast_path_note", None)
        if note:
            printer.message(note)

        # The bar replaces the table: drawn only when the table is off (rank 0).
        progress = ProgressBar(settings["max_sweeps"], description=label,
                               enabled=settings["progress_bar"] and not settings["verbose"] and writer)

        data.reset()
        if self.derivative_data is not None:
            self.derivative_data.reset()
        self._best = {"score": -np.inf, "weights": None}
        self._fingerprint = self._run_fingerprint(label)
        # Loop state between steps (what a checkpoint stores besides the logger and best weights).
        loop = {"iteration": 0, "sweeps": 0.0, "counts": np.array(optimizer.sweeps, dtype=float),
                "last_validation": 0, "elapsed": 0.0, "rows": []}
        if resume:
            logger, loop = self._resume(sess, optimizer, printer, progress)
            self.logger = logger
        else:
            if settings["checkpoint_frequency"] is not None and self.rank == 0:
                remove_checkpoints(self._checkpoint_directory, self._logger_file)
            self._log_state(logger, optimizer, 0, 0.0, 0.0, 0.0)
            self._validate(sess, logger, 0)
        stop, boundary = None, True
        with _deferred_interrupt() as pending:
            try:
                # numpy's BLAS threads would compete with the session's own threads for the cores
                # (tall-skinny products in the eigensolvers become up to 100x slower).
                with threadpool_limits(limits=settings["blas_threads"], user_api="blas"):
                    stop = self._loop(sess, optimizer, logger, printer, progress, loop, pending)
            except KeyboardInterrupt:  # not deferred (second Ctrl-C, other thread): mid-step
                stop, boundary = ("interrupted", "Training interrupted (KeyboardInterrupt) during a "
                                                 "step; the best weights were restored."), False
            finally:
                progress.close()
                if stop is None:  # an error escaped the loop
                    logger["status"] = "interrupted"
                    self._finish(sess, logger)
            status, message = stop
            logger["status"], logger["stop_reason"] = status, message
            if status == "non_finite":
                warnings.warn(message, RuntimeWarning, stacklevel=2)
                printer.message(message)
            elif status == "interrupted":
                printer.message(message)
                if boundary and settings["checkpoint_frequency"] is not None:
                    self._write_checkpoint(sess, optimizer, logger, loop)
            self._finish(sess, logger)
            # Ctrl-C during the last step: the run completed, but the caller asked to stop
            late_interrupt = pending is not None and pending["requested"] > 0
        if status == "interrupted" or late_interrupt:
            raise KeyboardInterrupt(message)
        return logger

    def _group_size(self, optimizer, i, sweeps, gradient_factor):
        """Iterations of the next session call: 1, or for optimizers running several steps
        per call (each costing one gradient pass, ``gradient_factor`` sweeps) up to
        ``steps_per_run``, ending at the first iteration that validates, prints, writes a
        checkpoint or stops, so those happen where they would with one step per call."""
        settings = self.settings
        limit = int(settings["steps_per_run"])
        if limit < 2 or i == 0 or not getattr(optimizer, "supports_step_sequences", False) or settings["debug"] \
                or settings["record_spectrum"] or settings["record_last_rq_std"]:
            return 1
        keys = ["validate_frequency", "printing_sweep_frequency"]
        if settings["checkpoint_frequency"] is not None:
            keys.append("checkpoint_frequency")
        for k in range(1, limit):
            after = sweeps + k * gradient_factor
            previous = after - gradient_factor
            if after >= settings["max_sweeps"] or any(_crossed(previous, after, settings[key])
                                                      for key in keys):
                return k
        return limit

    def _next_batches(self, train, hess_iterator, derivative_iterator, count):
        """Up to ``count`` (training batch, Hessian batch) pairs; fewer when the data run out."""
        pairs = []
        for _ in range(count):
            try:
                batch = self._merge(next(train), derivative_iterator)
            except StopIteration:
                break
            pairs.append((batch, next(hess_iterator) if hess_iterator is not None else None))
        return pairs

    def _loop(self, sess, optimizer, logger, printer, progress, loop, pending=None):
        """Run the steps from ``loop['iteration']``; return ``(status, message)`` of the stop.

        Step ``i`` logs its own evaluation at ``w_i`` under key ``i``, then the
        state of ``w_{i+1}`` (sweeps, times, step length, rank) under ``i + 1``,
        which is validated when a ``validate_frequency`` boundary was crossed or
        the run ends (key 0, the initial state and validation, is logged before
        the loop). Rows are printed for ``w_i`` at ``i = 0``, at the
        ``printing_sweep_frequency`` boundaries and for the last iterate.
        Optimizers with step sequences run a group of iterations per session call
        (:meth:`_group_size`); checkpoints and interrupts act between groups.
        """
        settings, data = self.settings, self.data
        # first-order methods read no Hessian batch: none is drawn for them
        hess_iterator = data.hess_train if getattr(optimizer, "uses_hessian_batch", True) else None
        derivative_iterator = None if self.derivative_data is None else self.derivative_data.train
        train = iter(data.train)
        counts = loop["counts"]
        sweeps = logger["sweeps"]  # sweeps[i]: work done to reach w_i
        elapsed = loop["elapsed"]
        last_validation = loop["last_validation"]
        checkpoint_frequency = settings["checkpoint_frequency"]
        i = loop["iteration"]
        while True:
            size = self._group_size(optimizer, i, sweeps[i], data.batch_factor[0])
            pairs = self._next_batches(train, hess_iterator, derivative_iterator, size)
            if not pairs:
                break
            gradient_factor, hessian_factor = data.batch_factor
            if hess_iterator is None:
                hessian_factor = gradient_factor
            step_start = time.perf_counter()
            failure = None
            try:
                if len(pairs) == 1:
                    optimizer.minimize(pairs[0][0], hessian_feed_dict=pairs[0][1])
                    evaluations = [None]
                else:
                    optimizer.minimize_steps([batch for batch, _ in pairs])
                    evaluations = optimizer.evaluations
            except FloatingPointError as error:
                failure = error
                evaluations = list(getattr(optimizer, "evaluations", [])) if len(pairs) > 1 else []
            step_time = (time.perf_counter() - step_start) / max(len(evaluations), 1)
            new_counts = np.array(optimizer.sweeps, dtype=float)
            per_step = (new_counts - counts) / max(len(evaluations), 1)
            counts = new_counts
            for evaluation in evaluations:
                elapsed += step_time
                sweeps[i + 1] = sweeps[i] + float(np.dot([gradient_factor, hessian_factor], per_step))
                self._log_evaluation(logger, optimizer, i, evaluation)
                if i == 0 or _crossed(sweeps[i - 1], sweeps[i], settings["printing_sweep_frequency"]):
                    loop["rows"].append(printer.row(logger, iteration=i))
                if settings["debug"]:
                    check_identical(self.comm, self.problem.get_weights(sess), f"weights after step {i}")
                if not (np.isfinite(logger["train_loss"][i]) and np.isfinite(logger["||g||"][i])):
                    return "non_finite", (f"Training stopped at iteration {i}: the training loss or "
                                          "gradient norm is NaN or inf. The best weights were restored.")
                self._log_state(logger, optimizer, i + 1, sweeps[i + 1], step_time, elapsed)
                done = sweeps[i + 1] >= settings["max_sweeps"]
                if done or _crossed(sweeps[i], sweeps[i + 1], settings["validate_frequency"]):
                    stop = self._validate(sess, logger, i + 1)
                    if stop is not None:
                        return stop
                    last_validation = i + 1
                    self._save(logger)
                if settings["record_spectrum"] and (i == 0 or _crossed(sweeps[i], sweeps[i + 1],
                                                                        settings["spec_frequency"])):
                    self._record_spectrum(sess, optimizer, logger, i)
                if settings["record_last_rq_std"]:
                    self._record_last_rq_std(optimizer, logger, i)
                progress.update(sweeps[i + 1], logger)
                if done:
                    loop["rows"].append(printer.row(logger, iteration=i + 1))
                    return "max_sweeps", (f"Reached max_sweeps = {settings['max_sweeps']} "
                                          f"after {i + 1} iterations.")
                i += 1
            if failure is not None:
                return "non_finite", (f"Training stopped at iteration {i} (sweeps {sweeps[i]:.3f}): "
                                      f"{failure} The best weights were restored.")
            loop.update(iteration=i, sweeps=sweeps[i], counts=counts, last_validation=last_validation,
                        elapsed=elapsed)
            if checkpoint_frequency is not None and _crossed(sweeps[i - 1], sweeps[i],
                                                             checkpoint_frequency):
                self._write_checkpoint(sess, optimizer, logger, loop)
            if self._interrupt_requested(pending):
                return "interrupted", (f"Training interrupted (KeyboardInterrupt) after iteration "
                                       f"{i - 1} (sweeps {sweeps[i]:.3f}); the best weights were "
                                       "restored.")
        last = max(sweeps)
        stop = None
        if last_validation != last:
            stop = self._validate(sess, logger, last)
        if last > 0:
            loop["rows"].append(printer.row(logger, iteration=last))
        if stop is not None:
            return stop
        return "data_exhausted", "The training data iterator ran out before max_sweeps."

    def _interrupt_requested(self, pending):
        """Whether Ctrl-C was pressed (on any rank: the ranks stop at the same step)."""
        requested = pending is not None and pending["requested"] > 0
        if self.comm is not None:
            requested = any(self.comm.allgather(requested))
        return requested

    # ------------------------------------------------------------------ checkpoints
    @property
    def _checkpoint_directory(self):
        return os.path.join(self._logger_directory, CHECKPOINT_FOLDER)

    @property
    def _keeps_last_weights(self):
        """GANs keep the last validated weights instead of ranking validations."""
        return bool(getattr(self.problem, "is_gan", False))

    def _run_fingerprint(self, label):
        """What a checkpoint must share with the fit resuming from it (repr strings)."""
        problem, data, optimizer = self.problem, self.data, self.optimizer
        facts = {f"settings[{key!r}]": repr(value) for key, value in self.settings.items()
                 if key not in RESUMABLE_SETTINGS}
        parameters = getattr(optimizer, "parameters", None)
        if hasattr(parameters, "items"):
            facts.update({f"optimizer parameter {key!r}": repr(value) for key, value in parameters.items()})
        regularization = self.regularization
        facts.update({
            "optimizer": repr(label),
            "problem": type(problem).__name__,
            "network weight shapes": repr([tuple(int(n) for n in shape) for shape in problem.shapes]),
            "regularization gamma": repr(getattr(regularization, "gamma", None)),
            "train_data_size": repr(data.train_data_size),
            "validation_data_size": repr(getattr(data, "validation_data_size", None)),
            "batch_size": repr(data.batch_size),
            "hessian_batch_size": repr(getattr(data, "hessian_batch_size", None)),
            "data seed": repr(getattr(data, "seed", None)),
            "derivative_data train_data_size": repr(getattr(self.derivative_data, "train_data_size", None)),
        })
        return facts

    def _write_checkpoint(self, sess, optimizer, logger, loop):
        """Rank 0 writes the state between two steps (see :mod:`~hessianlearn.model.checkpoint`).

        Every rank calls it: the optimizer's rank-local state is gathered to rank 0 first.
        """
        local = optimizer.rank_local_state()
        local = [local] if self.comm is None else self.comm.gather(local, root=0)
        if self.rank != 0:
            return None
        state = {
            "fingerprint": self._fingerprint,
            "weights": self.problem.get_weights(sess),
            "optimizer": optimizer.state_dict(),
            "optimizer_rank_local": local,  # one entry per rank
            "data": self.data.state_dict(),
            "derivative_data": None if self.derivative_data is None else self.derivative_data.state_dict(),
            "loop": loop,
            "logger": logger,
            "best": self._best,
        }
        return write_checkpoint(state, self._checkpoint_directory, self._logger_file, loop["iteration"])

    def _resume(self, sess, optimizer, printer, progress):
        """Load the newest readable checkpoint of this run; return its logger and loop state."""
        directory, name = self._checkpoint_directory, self._logger_file
        if self.comm is None:
            path, state = newest_checkpoint(directory, name)
        else:  # rank 0 chooses the file, every rank reads it
            found = None
            if self.rank == 0:
                try:
                    found = newest_checkpoint(directory, name)[0]
                except FileNotFoundError as error:
                    found = str(error)
            found = self.comm.bcast(found, root=0)
            if not os.path.isfile(found):
                raise FileNotFoundError(found)
            path, state = found, read_checkpoint(found)
        differences = fingerprint_differences(state["fingerprint"], self._fingerprint)
        if differences:
            raise ValueError(
                f"Cannot resume from checkpoint {path}: it was written by a different run. "
                "Differences: " + "; ".join(differences)
                + ". Resume with the same settings, network and data, or fit without resume=True."
            )
        self.problem.set_weights(sess, state["weights"])
        optimizer.load_state_dict(state["optimizer"])
        local = state.get("optimizer_rank_local")
        if local is not None and len(local) == size_of(self.comm):
            optimizer.load_rank_local_state(local[self.rank])
        self.data.load_state_dict(state["data"])
        if self.derivative_data is not None:
            self.derivative_data.load_state_dict(state["derivative_data"])
        self._best = state["best"]
        logger, loop = state["logger"], state["loop"]
        logger["status"], logger["stop_reason"] = "running", None
        for row in loop["rows"]:  # the table so far, as the interrupted run printed it
            printer.message(row)
        progress.update(loop["sweeps"], logger)
        return logger, loop

    def _log_evaluation(self, logger, optimizer, i, evaluation=None):
        """Step ``i``'s own evaluation at ``w_i`` (and LRSFN's eigenvalues there) under key ``i``;
        ``evaluation`` is one step's of a group, else the optimizer's ``last_evaluation``."""
        if evaluation is None:
            evaluation = getattr(optimizer, "last_evaluation", None) or {}
        logger["train_loss"][i] = float(evaluation.get("loss", np.nan))
        logger["train_data_loss"][i] = float(evaluation.get("data_loss", evaluation.get("loss", np.nan)))
        logger["||g||"][i] = float(evaluation.get("norm_g", np.nan))
        if "accuracy" in evaluation:
            logger["train_acc"][i] = float(evaluation["accuracy"])
        eigenvalues = getattr(optimizer, "eigenvalues", None)
        if eigenvalues is not None:
            logger.setdefault("train_eigenvalues", {})[i] = np.array(eigenvalues, copy=True)

    def _log_state(self, logger, optimizer, i, sweeps, step_time, total_time):
        """The work, times, step length and rank that reached ``w_i``, under key ``i``."""
        logger["sweeps"][i] = sweeps
        logger["time"][i] = step_time
        logger["total_time"][i] = total_time
        logger["alpha"][i] = float(getattr(optimizer, "alpha", np.nan))
        rank = getattr(optimizer, "rank", None)
        if rank is not None:
            logger["hessian_low_rank"][i] = int(rank)

    def _validate(self, sess, logger, i):
        """Evaluate the validation set at ``w_i`` into key ``i``; track the best weights.

        At ``i = 0`` the values are also kept as ``initial_<key>``. Returns
        ``('non_finite', message)`` when a later validation loss is NaN or inf, else None.
        """
        values = evaluate(sess, self._validation_fetches(), self._validation_feed(), self.comm)
        values = {key: float(np.asarray(value)) for key, value in values.items()}
        for key, value in values.items():
            logger[key][i] = value
            if i == 0:
                logger[f"initial_{key}"] = value
        loss = values["val_loss"]
        score = values.get("val_acc", -loss)
        if self._keeps_last_weights:  # every later validation supersedes the earlier ones
            score = float(i)
        if np.isfinite(loss) and np.isfinite(score) and score > self._best["score"]:
            self._best = {"score": score, "weights": self.problem.get_weights(sess), "iteration": i}
            logger["best_iteration"] = i
            if self.settings["save_weights"]:
                logger["best_weights"] = self._best["weights"].copy()
        if "val_acc" in values:
            logger["max_val_acc"][i] = max(logger["val_acc"].values())
        if i > 0 and not np.isfinite(loss):
            return "non_finite", (f"Training stopped at iteration {i}: the validation loss is "
                                  "NaN or inf. The best weights were restored.")
        return None

    def _save(self, logger):
        if self.rank != 0 or not self.settings["save_logger"]:
            return
        self.logger_path = save_logger(logger, self._logger_directory, self._logger_file)

    def _finish(self, sess, logger):
        """Restore the best weights (session and Keras model) and save the logger."""
        best = self._best.get("weights")
        if self.settings["save_weights"] and best is not None:
            self.problem.set_weights(sess, best)
            parts = np.split(best, [stop for _, stop in self.problem.indices[:-1]])
            keras_weights = [part.reshape(shape) for part, shape in zip(parts, self.problem.shapes)]
            with self.problem._graph.as_default():
                self._set_keras_weights(keras_weights)
        self._save(logger)

    def _set_keras_weights(self, weights):
        """Write the trainable weights into the Keras model (its own backend session)."""
        network = self.problem.NN
        values = {id(v): w for v, w in zip(network.trainable_weights, weights)}
        if len(values) == len(network.weights):  # no other weights to keep: nothing to read
            network.set_weights([values[id(v)] for v in network.weights])
            return
        current = network.get_weights()
        network.set_weights([values.get(id(v), c) for v, c in zip(network.weights, current)])

    # ------------------------------------------------------------------ spectra
    def _hessian_operator(self, optimizer):
        operator = getattr(optimizer, "H", None)
        if operator is None:
            from ..problem.hessian import Hessian

            operator = Hessian(self.problem, self.sess, self.regularization, comm=self.comm)
        return operator

    def _rayleigh_quotient_std(self, optimizer, U, feed):
        parts = self.problem._partition_dictionaries(feed, self.settings["rq_samps"])
        operator = self._hessian_operator(optimizer)
        quotients = np.array([operator.quadratics(U, part) for part in parts])
        norms = np.einsum("ij,ij->j", U, U)
        return np.std(quotients / norms, axis=0)

    def _record_spectrum(self, sess, optimizer, logger, i):
        from ..algorithms import low_rank_hessian

        feed = self._full_training_feed()
        # Diagnostics are not training work: keep the optimizer's sweep count and
        # random stream as they were, so recording never changes the run.
        counts = np.array(optimizer.sweeps, copy=True)
        rng_state = optimizer.rng.bit_generator.state
        try:
            eigenvalues, U = low_rank_hessian(optimizer, feed, self.settings["target_rank"],
                                              self.settings["oversample"])
        finally:
            optimizer.sweeps[:] = counts
            optimizer.rng.bit_generator.state = rng_state
        logger["full_train_eigenvalues"][i] = np.array(eigenvalues, copy=True)
        self._curvature_recorder.record(feed, logger, i)  # own operator and probes: run unchanged
        if self.settings["rayleigh_quotients"]:
            logger["rq_std"][i] = self._rayleigh_quotient_std(optimizer, np.asarray(U), feed)

    def _record_last_rq_std(self, optimizer, logger, i):
        U = getattr(optimizer, "eigenvectors", None)
        if U is None or np.ndim(U) != 2 or np.shape(U)[1] == 0:
            return
        feed = self._full_training_feed()
        logger["last_rq_std"][i] = float(self._rayleigh_quotient_std(optimizer, np.asarray(U)[:, -1:],
                                                                     feed)[0])
