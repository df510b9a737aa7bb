"""Settings of a :class:`~hessianlearn.model.model.HessianlearnModel` run.

:func:`HessianlearnModelSettings` returns a fresh
:class:`~hessianlearn.utilities.parameter_list.ParameterList` with every key of
a training run (output, optimizer, sweeps budget, spectrum recording); the
defaults are those of the original hessianlearn (optimizer ``'lrsfn'``, rank 20,
damping ``1e-3``, 10 sweeps). Keys an optimizer reads take their default from
that optimizer's own parameters (``alpha = None`` means the chosen optimizer's
``Parameters<Name>()['alpha']``), so a model with default settings and the
optimizer built directly take the same steps.
:func:`validate_settings` checks the values; the fit loop calls it at the
start of every ``fit`` (so changing ``model.settings['alpha']`` between fits
is checked too).
"""
import copy
import numbers

from ..algorithms.low_rank_saddle_free_newton import (LowRankSaddleFreeNewton,
                                                      ParametersLowRankSaddleFreeNewton)
from ..algorithms.optimizer import CURVATURE_OPERATORS, check_fused_step, line_search_parameters
from ..utilities.parameter_list import ParameterList
from .optimizer_registry import GLOBALIZATIONS, optimizer_names
from .device import check_device

__all__ = ["HessianlearnModelSettings", "validate_settings", "changed_settings", "RANGE_FINDING",
           "HESSIAN_TYPES"]

#: Valid values of ``settings['range_finding']`` (LRSFN rank selection).
RANGE_FINDING = LowRankSaddleFreeNewton.range_findings
#: Valid values of ``settings['hessian_type']``: the optimizers' operator table.
HESSIAN_TYPES = tuple(CURVATURE_OPERATORS)

_DEFAULT_PRINTING_ITEMS = {
    "sweeps": "sweeps",
    "Loss": "train_loss",
    "acc": "train_acc",
    "||g||": "||g||",
    "Loss_val": "val_loss",
    "acc_val": "val_acc",
    "max_acc": "max_val_acc",
    "alpha": "alpha",
    "rank": "hessian_low_rank",
}


def _defaults():
    """Key -> [default, description]; a new dict (and new containers) per call."""
    lrsfn = ParametersLowRankSaddleFreeNewton()
    armijo = line_search_parameters()
    return {
        # output
        "problem_name": ["problem", "Name used in file names (logger folder <problem_name>_logging/)"],
        "title": [None, "Title used in plots and printed headers"],
        "logger_outname": [None, "Logger file name (without extension); None builds one from the settings"],
        "printing_items": [dict(_DEFAULT_PRINTING_ITEMS),
                           "Printed columns: header label -> logger key"],
        "printing_sweep_frequency": [1.0, "Print a table row every this many sweeps"],
        "validate_frequency": [1.0, "Evaluate the validation set every this many sweeps"],
        "save_weights": [True, "Keep the best weights (by validation accuracy, else loss) and restore them"],
        "save_logger": [True, "Write the logger to <problem_name>_logging/ at every validation"],
        "verbose": [True, "Print the progress table (rank 0 only)"],
        "progress_bar": [False, "Show a progress bar over sweeps (tqdm, when installed)"],
        "intra_threads": [2, "TensorFlow intra-op parallelism threads (TensorFlow sizes this pool "
                             "once per process, at its first session; 1 is faster for small "
                             "networks on two cores, bench/README.md)"],
        "inter_threads": [2, "TensorFlow inter-op parallelism threads"],
        "blas_threads": [1, "numpy/scipy BLAS threads during fit (None: leave them as they are); the "
                            "session's threads already use the cores"],
        "seed": [0, "Seed of the optimizer's random generator (randomized eigensolvers, ...)"],
        "debug": [False, "MPI: check after every step that the weights are identical on all ranks"],
        # optimizer
        "optimizer": ["lrsfn", "Optimizer name: " + ", ".join(repr(n) for n in optimizer_names())],
        "alpha": [None, "Fixed step length or learning rate; None: the chosen optimizer's own "
                        "default. Not used by line searches (see line_search_alpha)"],
        "fused_step": ["auto", "'auto': the whole step in one graph run wherever the optimizer has that "
                               "fast path (same step as the numpy path to round-off; single process), "
                               "else the numpy reference path; True: raise where there is none; "
                               "False: the numpy reference path"],
        "hessian_type": ["hessian", "Curvature operator of the optimizer and of the recorded spectra: "
                                    "'hessian' or 'gauss_newton' (generalized Gauss-Newton J^T H_L J)"],
        "hessian_at_point": [False, "Inexact Newton (incg, ingmres, inminres): capture the Hessian batch's "
                                    "direction-free work once per step, cheaper Krylov products (Hessian.at_point)"],
        "hessian_low_rank": [20, "Rank of the low-rank Hessian of LRSFN (fixed rank when range_finding is None)"],
        "globalization": [None, "None (fixed alpha), 'line_search', 'spectral_step' (LRSFN), 'trust_region' (INCG)"],
        "max_backtrack": [armijo["max_backtrack"][0], "Maximum backtracking steps of the Armijo line search"],
        "spectral_step_alpha": [lrsfn["spectral_step_alpha"],
                                "Upper bound of the LRSFN spectral step alpha = min(this, 0.1/|lambda_1|)"],
        "default_damping": [1e-3, "LRSFN damping gamma when the Tikhonov gamma is below 1e-4"],
        "range_finding": [None, "LRSFN rank selection: None (fixed rank), 'arf', 'naarf', 'vn'"],
        "range_rel_error_tolerance": [0.1, "Relative error tolerance of the adaptive range finders"],
        "range_abs_error_tolerance": [lrsfn["range_abs_error_tolerance"],
                                      "Absolute error tolerance of the adaptive range finders"],
        "range_block_size": [lrsfn["range_block_size"], "Block size of the adaptive range finders"],
        "max_bad_vectors_nystrom": [5, "Variance-based Nystrom: noisy vectors tolerated before stopping"],
        "max_vectors_nystrom": [40, "Variance-based Nystrom: maximum number of vectors"],
        "nystrom_std_tolerance": [0.5, "Variance-based Nystrom: std / eigenvalue ratio that marks noise"],
        "max_sweeps": [10.0, "Stop after this many sweeps (epoch equivalents of work)"],
        # initial weights
        "layer_weights": [{}, "Layer name -> list of weight arrays, set after initialization"],
        # spectrum recording
        "record_spectrum": [False, "Record the full-training-data Hessian spectrum every spec_frequency sweeps"],
        "record_last_rq_std": [False, "Record the Rayleigh-quotient std of LRSFN's last eigenvector"],
        "spec_frequency": [1.0, "Record the spectrum every this many sweeps"],
        "rayleigh_quotients": [True, "With record_spectrum: also record the Rayleigh-quotient std"],
        "rq_data_size": [None, "Training samples used for spectra and Rayleigh quotients (None: all)"],
        "rq_samps": [lrsfn["rq_samps"], "Number of data partitions for the Rayleigh-quotient std "
                                        "(and of LRSFN's 'naarf'/'vn' partitions)"],
        "target_rank": [100, "Rank of the recorded spectrum"],
        "test_matrix": ["gaussian", "Test matrix of LRSFN's fixed-rank eigensolver: 'gaussian' (as the "
                                    "original code) or 'rademacher' (random signs, far cheaper to draw)"],
        "oversample": [0, "Oversampling p of the LRSFN randomized eigensolver (cost 2(r+p) Hessian columns per iteration; 0 as in the original code)"],
        # curvature diagnostics recorded with record_spectrum (hessianlearn.model.curvature_recorder)
        "trace_probes": [20, "With record_spectrum: Rademacher probes of the Hutchinson trace (and layer traces)"],
        "top_eigenvalues": [5, "With record_spectrum: number of largest eigenvalues computed by Lanczos"],
        "lanczos_max_iterations": [100, "With record_spectrum: maximum Lanczos steps for the top eigenvalues"],
        "record_density": [False, "With record_spectrum: also record the SLQ spectral density"],
        "density_probes": [5, "Probes of the stochastic Lanczos quadrature density"],
        "density_lanczos_steps": [40, "Lanczos steps per probe of the SLQ density"],
        "record_layer_traces": [False, "With record_spectrum: also record Hutchinson traces of each layer's block"],
        # checkpoints (hessianlearn.model.checkpoint; fit(resume=True) continues from the newest)
        "checkpoint_frequency": [None, "Write a checkpoint into <problem_name>_logging/checkpoints/ every "
                                       "this many sweeps (None: no checkpoints); the last two are kept"],
        # Armijo line search's first trial step (every optimizer's line search starts here)
        "line_search_alpha": [armijo["line_search_alpha"][0],
                              "First trial step of every Armijo line search (alpha is the fixed step only)"],
        # several first-order steps per session run on the fast path (hessianlearn.problem.fused_steps)
        "steps_per_run": [16, "Adam and SGD on the fused path: up to this many iterations per session "
                              "call (a tf.while_loop over the stacked batches; every iteration is "
                              "logged; 1: one per call)"],
        # device placement (hessianlearn.model.device)
        "device": [None, "Device the session runs on: None (TensorFlow's placement) or a name such as "
                         "'/cpu:0' or '/gpu:1'"],
    }


def HessianlearnModelSettings(settings=None):
    """A fresh settings list for :class:`~hessianlearn.model.model.HessianlearnModel`.

    Parameters
    ----------
    settings : dict or ParameterList, optional
        ``key -> value`` overrides of the defaults. Keys are checked (an
        unknown key raises ``KeyError`` with a close-match suggestion) and
        values are validated; ``settings`` itself is not modified and mutable
        values are copied.

    Returns
    -------
    ParameterList
        A new list each call; instances never share state.

    Raises
    ------
    KeyError
        Unknown key.
    TypeError, ValueError
        Invalid value (see :func:`validate_settings`).

    Examples
    --------
    >>> s = HessianlearnModelSettings({'optimizer': 'adam', 'alpha': 1e-2})
    >>> s['optimizer'], s['max_sweeps']
    ('adam', 10.0)
    """
    parameters = ParameterList(_defaults())
    if settings is not None:
        if isinstance(settings, ParameterList):
            settings = settings.as_dict()
        if not hasattr(settings, "items"):
            raise TypeError(
                "settings must be a dict of key -> value (or a ParameterList), "
                f"got {type(settings).__name__}."
            )
        parameters.update({key: _copy_value(value) for key, value in settings.items()})
    validate_settings(parameters)
    return parameters


def _copy_value(value):
    """Copy mutable containers (lists of weight arrays, dicts) so the caller's stay untouched."""
    return copy.deepcopy(value) if isinstance(value, (dict, list, set)) else value


def _positive_number(settings, key, allow_inf=False):
    value = settings[key]
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0 \
            or (value == float("inf") and not allow_inf):
        raise ValueError(f"settings['{key}'] must be a positive number, got {value!r}.")


def _positive_int(settings, key, allow_none=False):
    value = settings[key]
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        extra = " or None" if allow_none else ""
        raise ValueError(f"settings['{key}'] must be a positive int{extra}, got {value!r}.")


def _choice(settings, key, valid):
    value = settings[key]
    if value not in valid:
        raise ValueError(
            f"settings['{key}'] = {value!r} is not valid; choose one of "
            f"{', '.join(repr(v) for v in valid)}."
        )


def validate_settings(settings, dimension=None):
    """Check the values of a settings list; raise on the first bad one.

    Parameters
    ----------
    settings : ParameterList
        As returned by :func:`HessianlearnModelSettings`.
    dimension : int, optional
        Number of trainable weights; when given, ``hessian_low_rank <= dimension``
        (for the ``'lrsfn'`` optimizer, which uses it) and, with ``record_spectrum``,
        ``target_rank <= dimension`` are checked as well.

    Raises
    ------
    ValueError
        ``alpha <= 0`` (``None`` is valid), ``line_search_alpha <= 0``, ``max_sweeps <= 0``, frequencies ``<= 0``,
        ``hessian_low_rank < 1`` (or ``> dimension``), an unknown optimizer,
        globalization, range_finding or hessian_type (the message lists the
        valid ones), non-positive counts, a ``device`` TensorFlow does not
        have (the message lists the available ones).
    TypeError
        ``printing_items`` or ``layer_weights`` not a dict, ``device`` neither
        None nor a string.
    """
    _choice(settings, "optimizer", optimizer_names())
    _choice(settings, "globalization", GLOBALIZATIONS)
    _choice(settings, "range_finding", RANGE_FINDING)
    _choice(settings, "hessian_type", HESSIAN_TYPES)
    if settings["alpha"] is not None:
        _positive_number(settings, "alpha")
    for key in ("spectral_step_alpha", "default_damping", "range_rel_error_tolerance",
                "range_abs_error_tolerance", "nystrom_std_tolerance", "printing_sweep_frequency",
                "validate_frequency", "spec_frequency"):
        _positive_number(settings, key)
    _positive_number(settings, "max_sweeps", allow_inf=True)
    for key in ("hessian_low_rank", "max_backtrack", "range_block_size", "max_bad_vectors_nystrom",
                "max_vectors_nystrom", "rq_samps", "target_rank", "intra_threads", "inter_threads",
                "trace_probes", "top_eigenvalues", "lanczos_max_iterations", "density_probes",
                "density_lanczos_steps"):
        _positive_int(settings, key)
    _positive_int(settings, "rq_data_size", allow_none=True)
    _positive_int(settings, "blas_threads", allow_none=True)
    oversample = settings["oversample"]
    if isinstance(oversample, bool) or not isinstance(oversample, numbers.Integral) or oversample < 0:
        raise ValueError(f"settings['oversample'] must be an int >= 0, got {oversample!r}.")
    seed = settings["seed"]
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0):
        raise ValueError(f"settings['seed'] must be a non-negative int or None, got {seed!r}.")
    for key in ("printing_items", "layer_weights"):
        if not isinstance(settings[key], dict):
            raise TypeError(f"settings['{key}'] must be a dict, got {type(settings[key]).__name__}.")
    if not isinstance(settings["problem_name"], str) or not settings["problem_name"]:
        raise ValueError(
            f"settings['problem_name'] must be a non-empty string, got {settings['problem_name']!r}."
        )
    if dimension is not None:
        rank = settings["hessian_low_rank"]
        if settings["optimizer"] == "lrsfn" and rank > dimension:
            raise ValueError(
                f"settings['hessian_low_rank'] = {rank} exceeds the number of trainable "
                f"weights ({dimension}); use a rank between 1 and {dimension}."
            )
        if settings["record_spectrum"] and settings["target_rank"] > dimension:
            raise ValueError(
                f"settings['target_rank'] = {settings['target_rank']} exceeds the number of "
                f"trainable weights ({dimension}); use at most {dimension}."
            )
    frequency = settings["checkpoint_frequency"]
    if frequency is not None and (isinstance(frequency, bool) or not isinstance(frequency, numbers.Real)
                                  or not 0 < frequency < float("inf")):
        raise ValueError(
            f"settings['checkpoint_frequency'] must be a positive number of sweeps or None (no "
            f"checkpoints), got {frequency!r}."
        )
    _positive_number(settings, "line_search_alpha")
    check_fused_step(settings["fused_step"], "settings['fused_step']")
    _positive_int(settings, "steps_per_run")
    check_device(settings["device"])
    return settings


def changed_settings(settings):
    """Keys whose value differs from the default of :func:`HessianlearnModelSettings`.

    Parameters
    ----------
    settings : ParameterList or dict

    Returns
    -------
    list of str
        In the order of ``settings``.
    """
    defaults = _defaults()
    changed = []
    for key, value in settings.items():
        if key not in defaults:
            continue
        default = defaults[key][0]
        try:
            same = bool(value == default) and isinstance(value, bool) == isinstance(default, bool) \
                and (value is None) == (default is None)
        except (TypeError, ValueError):  # arrays and other values without a plain ==
            same = False
        if not same:
            changed.append(key)
    return changed
