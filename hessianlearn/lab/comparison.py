"""Run several optimizers over several seeds on one workload and record every curve.

:func:`compare_optimizers` trains every (optimizer, seed) pair through
:class:`~hessianlearn.model.model.HessianlearnModel`, each in a fresh graph
seeded by the run's seed, keeps every logger and builds one JSON-ready record
of all validation curves. With ``output`` it writes ``comparison.json``, the
figure and the markdown table of :mod:`~hessianlearn.lab.comparison_report`,
and each logger (``loggers/<label>_seed<s>.pkl``).

Wall-clock quantities are the only entries of the record that change between
two runs with the same seeds; their keys are :data:`WALL_TIME_KEYS`.
"""
import ast
import json
import os
import re
import warnings
from dataclasses import dataclass, field

import numpy as np

from .._tf import keras, tf
from ..model.logger import save_logger
from ..model.model import HessianlearnModel
from ..model.optimizer_registry import (NONE_MEANS_OPTIMIZER_DEFAULT, OPTIMIZERS, optimizer_names,
                                        resolve_optimizer, unused_settings)
from ..model.settings import HessianlearnModelSettings
from .comparison_report import comparison_table, plot_comparison
from .workloads import build_workload, workload_names

__all__ = ["OptimizerSpec", "Comparison", "WALL_TIME_KEYS", "split_settings", "parse_optimizer_specs", "run_curves",
           "compare_optimizers", "write_comparison_json", "strip_wall_times"]

#: Keys of the record holding wall-clock measurements (removed by :func:`strip_wall_times`).
WALL_TIME_KEYS = ("seconds", "seconds_per_sweep", "total_seconds")

#: Settings the harness owns in every run (the budget, the seed and the output).
_HARNESS_KEYS = ("optimizer", "max_sweeps", "seed", "verbose", "progress_bar", "save_logger", "problem_name",
                 "validate_frequency")


@dataclass(frozen=True)
class OptimizerSpec:
    """One optimizer of a comparison: a registered name, settings over the workload's, a legend label,
    and workload options of its own (e.g. Adam's mini-batch size) over the comparison's."""

    name: str
    settings: dict = field(default_factory=dict)
    label: str = ""
    workload_options: dict = field(default_factory=dict)


def _format_value(value):
    return f"{value:g}" if isinstance(value, float) else str(value)


def _parse_text(text):
    """``'name'`` or ``'name:key=value,key=value'`` (values read as Python literals when they parse)."""
    name, _, rest = text.partition(":")
    settings = {}
    for item in filter(None, (part.strip() for part in rest.split(","))):
        key, equals, value = item.partition("=")
        if not equals or not key.strip():
            raise ValueError(f"optimizer {text!r}: settings are written key=value, got {item!r}.")
        try:
            settings[key.strip()] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            settings[key.strip()] = value.strip()
    return name.strip(), settings


def read_suggestions(name, suggested, given):
    """The workload's ``suggested`` settings that optimizer ``name`` reads.

    A workload suggests one set of settings for all optimizers (a rank, a
    globalization, ...); the keys the chosen optimizer would not read (the
    model warns about those) are dropped here. Settings the user ``given``
    are kept whatever they are, and take precedence.
    """
    entry = OPTIMIZERS[name]
    cls, parameters_function = resolve_optimizer(name)
    parameters = parameters_function()
    merged = {**suggested, **given}
    for key, value in merged.items():
        if key in parameters and not (value is None and key in NONE_MEANS_OPTIMIZER_DEFAULT):
            parameters[key] = value
    for key, value in entry.overrides.items():
        parameters[key] = value
    candidates = [key for key in suggested if key not in given]
    unused = set(unused_settings(merged, candidates, cls, parameters, entry))
    return {key: value for key, value in suggested.items() if key not in unused}


def split_settings(name, settings):
    """Split an optimizer's settings into model settings and optimizer parameters.

    Keys of :func:`~hessianlearn.model.settings.HessianlearnModelSettings` stay
    settings; keys that only the optimizer's ``Parameters<Name>()`` has (e.g.
    K-FAC's ``inverse_frequency``) become parameter overrides, passed with
    :meth:`~hessianlearn.model.model.HessianlearnModel.set_optimizer`.

    Returns
    -------
    settings, parameters : dict, dict

    Raises
    ------
    KeyError
        A key neither list has (the message names both).
    """
    model_keys = set(HessianlearnModelSettings().keys())
    parameter_keys = set(resolve_optimizer(name)[1]().keys())
    unknown = sorted(set(settings) - model_keys - parameter_keys)
    if unknown:
        raise KeyError(f"optimizer {name!r}: {unknown} are neither model settings nor parameters of "
                       f"{name!r} (its parameters: {', '.join(sorted(parameter_keys))}).")
    return ({k: v for k, v in settings.items() if k in model_keys},
            {k: v for k, v in settings.items() if k not in model_keys})


def parse_optimizer_specs(optimizers):
    """Normalize the ``optimizers`` argument of :func:`compare_optimizers` to :class:`OptimizerSpec` s.

    Parameters
    ----------
    optimizers : str, sequence or dict
        Each item a registered name (``'lrsfn'``), a ``'name:key=value,...'``
        string, a ``(name, settings)`` pair, a ``(name, settings, workload_options)``
        triple or an :class:`OptimizerSpec`; a dict maps names to settings.

    Returns
    -------
    list of OptimizerSpec
        With labels ``name`` or ``name (key=value, ...)``, unique.

    Raises
    ------
    ValueError
        Empty list, an unknown name (the message lists the registered ones),
        a repeated label or a settings key the harness sets itself.
    KeyError, TypeError
        An unknown settings key or a bad value (from the settings' own checks).
    """
    if isinstance(optimizers, str):
        optimizers = [optimizers]
    if isinstance(optimizers, dict):
        optimizers = list(optimizers.items())
    specs = []
    for item in optimizers:
        options = {}
        if isinstance(item, OptimizerSpec):
            name, settings, label, options = item.name, dict(item.settings), item.label, dict(item.workload_options)
        elif isinstance(item, str):
            (name, settings), label = _parse_text(item), ""
        elif isinstance(item, (tuple, list)) and len(item) in (2, 3) and isinstance(item[0], str):
            name, settings, label = item[0], dict(item[1] or {}), ""
            options = dict(item[2] or {}) if len(item) == 3 else {}
        else:
            raise TypeError(f"optimizers: each item must be a name, 'name:key=value,...', (name, settings), "
                            f"(name, settings, workload_options) or an OptimizerSpec, got {item!r}.")
        if name not in optimizer_names():
            raise ValueError(f"Unknown optimizer {name!r}; choose one of "
                             f"{', '.join(repr(n) for n in optimizer_names())}.")
        owned = sorted(set(settings) & set(_HARNESS_KEYS))
        if owned:
            raise ValueError(f"optimizer {name!r}: settings {owned} are set by the harness for every run "
                             "(use max_sweeps=, seeds=, validations=); remove them.")
        model_settings, _ = split_settings(name, settings)  # unknown keys raise here
        HessianlearnModelSettings({**model_settings, "optimizer": name})  # and bad values here
        shown = {**settings, **options}
        label = label or (name if not shown else
                          f"{name} ({', '.join(f'{k}={_format_value(v)}' for k, v in shown.items())})")
        specs.append(OptimizerSpec(name, settings, label, options))
    if not specs:
        raise ValueError(f"optimizers: give at least one of {', '.join(repr(n) for n in optimizer_names())}.")
    labels = [spec.label for spec in specs]
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:
        raise ValueError(f"optimizers: {repeated} appear twice; give each optimizer different settings.")
    return specs


def _seeds(seeds):
    if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
        if seeds < 1:
            raise ValueError(f"seeds must be a positive count or a list of seeds, got {seeds}.")
        return list(range(int(seeds)))
    seeds = list(seeds)
    if not seeds or any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 0 for s in seeds):
        raise ValueError(f"seeds must be a positive count or a non-empty list of ints >= 0, got {seeds!r}.")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds lists a seed twice: {seeds!r}.")
    return [int(s) for s in seeds]


def _float(value):
    value = float(value)
    return value if np.isfinite(value) else None


def run_curves(logger):
    """The validation curves of one logger, JSON-ready.

    Returns
    -------
    dict
        ``sweeps``, ``seconds`` (the fit loop's ``total_time``), ``val_loss`` and,
        when recorded, ``val_acc``: one entry per validation, starting with the
        validation before training (sweeps 0, 0 s) when the logger holds it;
        non-finite values are ``None``.
    """
    iterations = sorted(logger["val_loss"])
    curves = {"sweeps": [], "seconds": [], "val_loss": []}
    accuracy = bool(logger.get("val_acc"))
    if accuracy:
        curves["val_acc"] = []
    if "initial_val_loss" in logger and 0 not in logger["val_loss"]:  # loggers without key 0
        curves["sweeps"].append(0.0)
        curves["seconds"].append(0.0)
        curves["val_loss"].append(_float(logger["initial_val_loss"]))
        if accuracy:
            curves["val_acc"].append(_float(logger.get("initial_val_acc", np.nan)))
    for i in iterations:
        curves["sweeps"].append(float(logger["sweeps"][i]))
        curves["seconds"].append(float(logger["total_time"][i]))
        curves["val_loss"].append(_float(logger["val_loss"][i]))
        if accuracy:
            curves["val_acc"].append(_float(logger["val_acc"].get(i, np.nan)))
    return curves


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (bool, str)) or value is None:
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return _float(value)
    return repr(value)


def strip_wall_times(record):
    """A copy of ``record`` without the :data:`WALL_TIME_KEYS` entries (at any depth)."""
    if isinstance(record, dict):
        return {k: strip_wall_times(v) for k, v in record.items() if k not in WALL_TIME_KEYS}
    if isinstance(record, list):
        return [strip_wall_times(v) for v in record]
    return record


def write_comparison_json(record, path):
    """Write ``record`` as indented, key-sorted JSON to ``path``; return ``path``."""
    with open(path, "w") as f:
        json.dump(record, f, indent=1, sort_keys=True)
        f.write("\n")
    return path


@dataclass
class Comparison:
    """What :func:`compare_optimizers` returns.

    Attributes
    ----------
    record : dict
        JSON-ready: the workload, budget, seeds, optimizers and every run's curves.
    loggers : dict
        ``(label, seed) -> logger`` of every run.
    table : str
        The markdown table (:func:`~hessianlearn.lab.comparison_report.comparison_table`).
    paths : dict
        Files written (``json``, ``figure``, ``table``, ``loggers``); empty without ``output``.
    """

    record: dict
    loggers: dict
    table: str
    paths: dict = field(default_factory=dict)


def _file_label(label):
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", label).strip("_")


def compare_optimizers(workload, optimizers, seeds=3, max_sweeps=1.0, workload_options=None, output=None,
                       target_loss=None, validations=20, settings=None, comm=None, progress_bar=True,
                       verbose=False):
    """Train every (optimizer, seed) pair on a workload and compare the validation curves.

    Parameters
    ----------
    workload : str
        A name of :data:`~hessianlearn.lab.workloads.WORKLOADS`.
    optimizers : str, sequence or dict
        See :func:`parse_optimizer_specs`; each optimizer's settings go over the
        workload's suggested ones.
    seeds : int or sequence of int
        A count ``n`` (seeds ``0 .. n-1``, default 3) or the seeds. A run's seed
        seeds the graph, the workload's weights and batches and the optimizer.
    max_sweeps : float
        The budget of every run, in sweeps (epoch equivalents of gradient and
        Hessian work).
    workload_options : dict, optional
        Keyword arguments of the workload function (``train_size``, paths, ...).
    output : str, optional
        Folder for ``comparison.json``, ``comparison.png``, ``comparison.md``
        and ``loggers/``; nothing is written when None. Rank 0 writes under MPI.
    target_loss : float, optional
        The loss of the table's "sweeps to target" column; default: the
        largest median best validation loss over the optimizers.
    validations : int
        Validations per run (``validate_frequency = max_sweeps / validations``).
    settings : dict, optional
        Model settings for every run (threads, ...), over the workload's suggestions
        and under each optimizer's own settings.
    comm : MPI communicator, optional
        Data-parallel runs (every rank runs every pair).
    progress_bar : bool
        A tqdm bar over the runs (rank 0; a ``RuntimeWarning`` and no bar when tqdm
        is not installed).
    verbose : bool
        Print each run's table.

    Returns
    -------
    Comparison

    Raises
    ------
    ValueError
        Unknown workload or optimizer (the message lists the valid ones),
        bad seeds, budget or validations; raised before any run starts.
    """
    if workload not in workload_names():
        raise ValueError(f"Unknown workload {workload!r}; choose one of "
                         f"{', '.join(repr(n) for n in workload_names())}.")
    specs = parse_optimizer_specs(optimizers)
    seeds = _seeds(seeds)
    if isinstance(max_sweeps, bool) or not isinstance(max_sweeps, (int, float)) or not 0 < max_sweeps < np.inf:
        raise ValueError(f"max_sweeps must be a positive finite number, got {max_sweeps!r}.")
    if isinstance(validations, bool) or not isinstance(validations, (int, np.integer)) or validations < 1:
        raise ValueError(f"validations must be a positive int, got {validations!r}.")
    if target_loss is not None and not (isinstance(target_loss, (int, float)) and target_loss > 0):
        raise ValueError(f"target_loss must be a positive number or None, got {target_loss!r}.")
    workload_options = dict(workload_options or {})
    common = dict(settings or {})
    owned = sorted(set(common) & set(_HARNESS_KEYS))
    if owned:
        raise ValueError(f"settings {owned} are set by the harness for every run; remove them.")
    HessianlearnModelSettings(common)  # unknown keys and bad values raise before any run
    rank = 0 if comm is None else int(comm.Get_rank())
    writer = rank == 0

    pairs = [(spec, seed) for spec in specs for seed in seeds]
    bar = None
    if progress_bar and writer:
        try:
            from tqdm.auto import tqdm
        except ImportError:
            warnings.warn("compare_optimizers: the progress bar needs tqdm (pip install tqdm); running without it.",
                          RuntimeWarning, stacklevel=2)
        else:
            bar = tqdm(total=len(pairs), desc=f"{workload} runs", unit="run")
    runs, loggers, has_accuracy = [], {}, False
    try:
        for spec, seed in pairs:
            if bar is not None:
                bar.set_postfix_str(f"{spec.label}, seed {seed}")
            tf.reset_default_graph()
            keras.backend.clear_session()
            tf.set_random_seed(seed)
            built = build_workload(workload, seed=seed, comm=comm, **{**workload_options, **spec.workload_options})
            has_accuracy = has_accuracy or built.has_accuracy
            suggested = read_suggestions(spec.name, built.settings_for(spec.name),
                                         {**common, **spec.settings})
            run_settings = {"title": f"{built.name}: {spec.label}, seed {seed}",
                            **suggested, **common, **spec.settings,
                            "optimizer": spec.name, "max_sweeps": float(max_sweeps), "seed": seed,
                            "verbose": verbose, "progress_bar": False, "save_logger": False,
                            "problem_name": built.name, "validate_frequency": float(max_sweeps) / validations}
            run_settings.setdefault("printing_sweep_frequency", float(max_sweeps) / validations)
            run_settings, parameters = split_settings(spec.name, run_settings)
            model = HessianlearnModel(built.problem, built.regularization, built.data, settings=run_settings,
                                      comm=comm)
            model.set_optimizer(spec.name, parameters=parameters or None)
            logger = model.fit()
            model.close()
            loggers[(spec.label, seed)] = logger
            last = max(logger["sweeps"]) if logger["sweeps"] else None
            sweeps = float(logger["sweeps"][last]) if last is not None else 0.0
            seconds = float(logger["total_time"][last]) if last is not None else 0.0
            runs.append({"label": spec.label, "optimizer": spec.name, "seed": seed,
                         "settings": _jsonable(run_settings), "parameters": _jsonable(parameters),
                         "status": logger["status"],
                         "iterations": len(logger["sweeps"]), "dimension": int(built.problem.dimension),
                         "sweeps": sweeps, "total_seconds": seconds,
                         "seconds_per_sweep": seconds / sweeps if sweeps > 0 else None,
                         "curves": run_curves(logger)})
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()

    record = {"workload": workload, "workload_options": _jsonable(workload_options),
              "max_sweeps": float(max_sweeps), "seeds": seeds, "validations": int(validations),
              "has_accuracy": bool(has_accuracy), "target_loss": target_loss,
              "optimizers": [{"label": s.label, "optimizer": s.name, "settings": _jsonable(s.settings),
                              "workload_options": _jsonable(s.workload_options)} for s in specs],
              "runs": runs}
    table = comparison_table(record, target_loss=target_loss)
    paths = {}
    if output is not None and writer:
        os.makedirs(output, exist_ok=True)
        paths["json"] = write_comparison_json(record, os.path.join(output, "comparison.json"))
        paths["figure"] = plot_comparison(record, path=os.path.join(output, "comparison.png"))
        paths["table"] = os.path.join(output, "comparison.md")
        with open(paths["table"], "w") as f:
            f.write(table + "\n")
        folder = os.path.join(output, "loggers")
        paths["loggers"] = [save_logger(logger, folder, f"{_file_label(label)}_seed{seed}")
                            for (label, seed), logger in loggers.items()]
    return Comparison(record, loggers, table, paths)
