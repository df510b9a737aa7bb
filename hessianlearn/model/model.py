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
"""
import math
import numbers
import os
import time
import warnings

import numpy as np
from threadpoolctl import threadpool_limits

from .._tf import tf
from ..utilities.mpi import check_agreement, check_identical, run_collectively
from ..utilities.reduction import evaluate
from .curvature_recorder import CurvatureRecorder
from .device import device_config
from .logger import last_value, new_logger, save_logger
from .optimizer_registry import make_optimizer
from .printer import Printer, ProgressBar
from .settings import HessianlearnModelSettings, validate_settings

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


def _crossed(previous, current, frequency):
    """Whether a multiple of ``frequency`` lies in ``(previous, current]``."""
    return math.floor(current / frequency + 1e-12) > math.floor(previous / frequency + 1e-12)


def _is_tensor(value):
    return isinstance(value, (tf.Tensor, tf.Variable))


class _Stop(Exception):
    """Internal: ends the loop with a status and a message."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


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
        device_config(config, self.settings["device"])
        with graph.as_default():
            if self._initializer is None:
                self._initializer = tf.global_variables_initializer()
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

    def _logger_name(self, optimizer_label):
        s = self.settings
        if s["logger_outname"] is not None:
            return str(s["logger_outname"])
        name = f"{optimizer_label}-dW={self.problem.dimension}"
        if s["globalization"] is not None and optimizer_label in ("lrsfn", "incg", "ingmres", "inminres"):
            name += f"-{s['globalization']}"
        else:
            name += f"-alpha={s['alpha']:g}"
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
    def fit(self, w_0=None):
        """Train until ``settings['max_sweeps']`` sweeps; return the logger.

        Parameters
        ----------
        w_0 : array of shape (dimension,) or list of arrays, optional
            Initial weights: a flat vector, or a Keras weight list (shapes of
            ``problem.NN.trainable_weights``). Default: the network's
            initializers, re-run in a new session (seeded by the graph's
            random seed, so the same seed gives the same run), then
            ``settings['layer_weights']``.

        Returns
        -------
        dict
            The logger (also ``self.logger``). Per-iteration series keyed by the
            iteration ``i = 0, 1, ...``: ``train_loss`` (loss plus regularization
            on batch ``i`` before step ``i``, from the step's own evaluation),
            ``train_data_loss``, ``||g||``, ``train_acc``, ``sweeps`` (after step
            ``i``), ``time`` (of step ``i``), ``total_time``, ``alpha``,
            ``hessian_low_rank`` and ``train_eigenvalues`` (LRSFN); at the
            validations: ``val_loss``, ``val_acc``, ``max_val_acc`` and the
            problem's extras (``val_variance_reduction``, ``val_h1_loss``, ...);
            with ``record_spectrum``: ``full_train_eigenvalues`` and ``rq_std``, and
            the curvature diagnostics of
            :mod:`~hessianlearn.model.curvature_recorder` (``full_train_trace``,
            ``full_train_trace_std_error``, ``full_train_top_eigenvalues``, with
            ``record_density`` ``full_train_spectral_density``, with
            ``record_layer_traces`` ``full_train_layer_traces``);
            with ``record_last_rq_std``: ``last_rq_std``. Run entries:
            ``optimizer``, ``status`` ('max_sweeps', 'data_exhausted',
            'non_finite'), ``stop_reason``, ``best_iteration``, ``best_weights``
            (flat, when ``save_weights``), ``initial_val_loss``/``initial_val_acc``.

        Raises
        ------
        ValueError
            Invalid settings (e.g. ``hessian_low_rank > dimension``), ``w_0`` of
            the wrong length or shapes, bad ``layer_weights``.

        Notes
        -----
        A step whose loss or gradient is NaN or inf ends the run: a
        ``RuntimeWarning`` is issued, the best weights are restored and the
        logger (status ``'non_finite'``) is saved and returned.
        """
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
            optimizer=optimizer_choice, parameters=self._optimizer_parameters)
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
        self._logger_file = self._logger_name(label)
        self.logger_path = None
        writer = self.rank == 0
        printer = Printer(settings["printing_items"], enabled=settings["verbose"] and writer)
        printer.header(settings["title"] or
                       f"{label}: dW={self.problem.dimension}, N={data.train_data_size}, "
                       f"batch={data.batch_size}, Hessian batch={logger['hessian_batch_size']}")

        # The bar replaces the table: drawn only when the table is off (rank 0).
        progress = ProgressBar(settings["max_sweeps"], description=label,
                               enabled=settings["progress_bar"] and not settings["verbose"] and writer)

        data.reset()
        if self.derivative_data is not None:
            self.derivative_data.reset()
        self._best = {"score": -np.inf, "weights": None}
        self._validate(sess, logger, None)
        try:
            # numpy's BLAS threads would compete with the session's own threads for the cores
            # (tall-skinny products in the eigensolvers become up to 100x slower).
            with threadpool_limits(limits=settings["blas_threads"], user_api="blas"):
                self._loop(sess, optimizer, logger, printer, progress)
        except _Stop as stop:
            logger["status"], logger["stop_reason"] = stop.status, str(stop)
            if stop.status == "non_finite":
                warnings.warn(str(stop), RuntimeWarning, stacklevel=2)
                printer.message(str(stop))
        finally:
            progress.close()
            if logger["status"] == "running":
                logger["status"] = "interrupted"
            self._finish(sess, logger)
        return logger

    def _loop(self, sess, optimizer, logger, printer, progress):
        settings, data = self.settings, self.data
        hess_iterator = data.hess_train
        derivative_iterator = None if self.derivative_data is None else self.derivative_data.train
        counts = np.array(optimizer.sweeps, dtype=float)
        sweeps = 0.0
        start = time.perf_counter()
        last_validation = None
        for i, batch in enumerate(data.train):
            try:
                batch = self._merge(batch, derivative_iterator)
            except StopIteration:
                break
            hess_batch = next(hess_iterator) if hess_iterator is not None else None
            gradient_factor, hessian_factor = data.batch_factor
            if hess_iterator is None:
                hessian_factor = gradient_factor
            step_start = time.perf_counter()
            try:
                optimizer.minimize(batch, hessian_feed_dict=hess_batch)
            except FloatingPointError as error:
                raise _Stop("non_finite", f"Training stopped at iteration {i} (sweeps {sweeps:.3f}): "
                                          f"{error} The best weights were restored.") from None
            now = time.perf_counter()
            new_counts = np.array(optimizer.sweeps, dtype=float)
            previous, sweeps = sweeps, sweeps + float(
                np.dot([gradient_factor, hessian_factor], new_counts - counts))
            counts = new_counts
            self._log_iteration(logger, optimizer, i, sweeps, now - step_start, now - start)
            if settings["debug"]:
                check_identical(self.comm, self.problem.get_weights(sess), f"weights after step {i}")
            if not (np.isfinite(logger["train_loss"][i]) and np.isfinite(logger["||g||"][i])):
                raise _Stop("non_finite", f"Training stopped at iteration {i}: the training loss or "
                                          "gradient norm is NaN or inf. The best weights were restored.")
            done = sweeps >= settings["max_sweeps"]
            if done or _crossed(previous, sweeps, settings["validate_frequency"]):
                self._validate(sess, logger, i)
                last_validation = i
                self._save(logger)
            if settings["record_spectrum"] and (i == 0 or _crossed(previous, sweeps,
                                                                    settings["spec_frequency"])):
                self._record_spectrum(sess, optimizer, logger, i)
            if settings["record_last_rq_std"]:
                self._record_last_rq_std(optimizer, logger, i)
            progress.update(sweeps, logger)
            if i == 0 or done or _crossed(previous, sweeps, settings["printing_sweep_frequency"]):
                printer.row(logger)
            if done:
                raise _Stop("max_sweeps", f"Reached max_sweeps = {settings['max_sweeps']} "
                                          f"after {i + 1} iterations.")
        if logger["sweeps"] and last_validation != max(logger["sweeps"]):
            self._validate(sess, logger, max(logger["sweeps"]))
            printer.row(logger)
        raise _Stop("data_exhausted", "The training data iterator ran out before max_sweeps.")

    def _log_iteration(self, logger, optimizer, i, sweeps, step_time, total_time):
        evaluation = getattr(optimizer, "last_evaluation", None) or {}
        logger["train_loss"][i] = float(evaluation.get("loss", np.nan))
        logger["train_data_loss"][i] = float(evaluation.get("data_loss", evaluation.get("loss", np.nan)))
        logger["||g||"][i] = float(evaluation.get("norm_g", np.nan))
        if "accuracy" in evaluation:
            logger["train_acc"][i] = float(evaluation["accuracy"])
        logger["sweeps"][i] = sweeps
        logger["time"][i] = step_time
        logger["total_time"][i] = total_time
        logger["alpha"][i] = float(getattr(optimizer, "alpha", np.nan))
        rank = getattr(optimizer, "rank", None)
        if rank is not None:
            logger["hessian_low_rank"][i] = int(rank)
        eigenvalues = getattr(optimizer, "eigenvalues", None)
        if eigenvalues is not None:
            logger.setdefault("train_eigenvalues", {})[i] = np.array(eigenvalues, copy=True)

    def _validate(self, sess, logger, i):
        """Evaluate the validation set; track the best weights. ``i=None``: initial state."""
        values = evaluate(sess, self._validation_fetches(), self._validation_feed(), self.comm)
        values = {key: float(np.asarray(value)) for key, value in values.items()}
        if i is None:
            for key, value in values.items():
                logger[f"initial_{key}"] = value
        else:
            for key, value in values.items():
                logger[key][i] = value
        loss = values["val_loss"]
        score = values.get("val_acc", -loss)
        if np.isfinite(loss) and np.isfinite(score) and score > self._best["score"]:
            self._best = {"score": score, "weights": self.problem.get_weights(sess), "iteration": i}
            logger["best_iteration"] = i
            if self.settings["save_weights"]:
                logger["best_weights"] = self._best["weights"].copy()
        if i is not None and "val_acc" in values:
            logger["max_val_acc"][i] = max(
                [values["val_acc"]] + list(logger["val_acc"].values())
                + [logger.get("initial_val_acc", -np.inf)])
        if i is not None and not np.isfinite(loss):
            raise _Stop("non_finite", f"Training stopped at iteration {i}: the validation loss is "
                                      "NaN or inf. The best weights were restored.")

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
