"""Tutorial 0's data and network, shared by the benchmark scripts.

784-32-784 autoencoder (softplus code, sigmoid output, MSE) on MNIST pixels / 255 in
float32: the 60 000 training images (or the first ``train_size``) and the 10 000 test
images as validation.
"""
import numpy as np


def tutorial_images(train_size=60000):
    """``(x_train, x_test)``, ``(N, 784)`` and ``(10000, 784)`` float32 in [0, 1]."""
    import hessianlearn as hl
    (x_train, _), (x_test, _) = hl.load_mnist()
    x_train = x_train[:train_size].reshape(-1, 784).astype(np.float32) / 255.0
    return x_train, x_test.reshape(-1, 784).astype(np.float32) / 255.0


def tutorial_problem(seed=0):
    """A new default graph holding Tutorial 0's ``AutoencoderProblem`` (graph seed ``seed``)."""
    import hessianlearn as hl
    from hessianlearn import tf
    tf.reset_default_graph()
    tf.set_random_seed(seed)
    inputs = hl.keras.Input(shape=(784,))
    code = hl.keras.layers.Dense(32, activation="softplus", name="encoder")(inputs)
    outputs = hl.keras.layers.Dense(784, activation="sigmoid", name="decoder")(code)
    return hl.AutoencoderProblem(hl.keras.Model(inputs, outputs), dtype=tf.float32)
