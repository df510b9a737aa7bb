"""Shared fixtures: every test starts from a fresh TF graph and float32 Keras default."""
import numpy as np
import pytest

from hessianlearn import keras, tf


@pytest.fixture(autouse=True)
def fresh_graph():
    """A new default graph and Keras state per test; restores floatx afterwards."""
    tf.reset_default_graph()
    keras.backend.clear_session()
    tf.set_random_seed(1234)
    yield
    keras.backend.set_floatx("float32")
    tf.reset_default_graph()
    keras.backend.clear_session()


@pytest.fixture
def float64():
    """Build Keras layers in float64 for the duration of a test."""
    keras.backend.set_floatx("float64")
    yield "float64"


@pytest.fixture
def rng():
    return np.random.default_rng(0)
