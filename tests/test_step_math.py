"""The step formulas of utilities/step_math.py: the numpy and the TensorFlow evaluation agree
(float64), and each equals its defining formula."""
import numpy as np
import pytest

from hessianlearn import tf
from hessianlearn.utilities.step_math import (
    adam_kernel_epsilon,
    adam_update,
    saddle_free_woodbury_direction,
    spectral_step_length,
)


def _in_tf(function, *arrays, **keywords):
    with tf.Graph().as_default(), tf.Session() as sess:
        tensors = [tf.constant(a, tf.float64) if a is not None else None for a in arrays]
        return sess.run(function(*tensors, xp=tf, **keywords))


def test_woodbury_direction_is_the_damped_saddle_free_solve_in_both_namespaces():
    rng = np.random.default_rng(0)
    n, k, gamma = 30, 4, 1e-2
    U, _ = np.linalg.qr(rng.standard_normal((n, k)))
    lam = np.array([5.0, -3.0, 0.5, -1e-3])
    g = rng.standard_normal(n)
    expected = -np.linalg.solve(U @ np.diag(np.abs(lam)) @ U.T + gamma * np.eye(n), g)
    numpy = saddle_free_woodbury_direction(g, U.T @ g, lambda a: U @ a, np.abs(lam), gamma)
    np.testing.assert_allclose(numpy, expected, rtol=1e-10)
    with tf.Graph().as_default(), tf.Session() as sess:
        U_t = tf.constant(U)
        graph = sess.run(saddle_free_woodbury_direction(
            tf.constant(g), tf.linalg.matvec(U_t, tf.constant(g), transpose_a=True),
            lambda a: tf.linalg.matvec(U_t, a), tf.constant(np.abs(lam)), tf.constant(gamma, tf.float64)))
    np.testing.assert_allclose(graph, numpy, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("lam, expected", [(40.0, 0.1 / 40.0), (-2.0, 0.05), (0.05, 0.05), (0.0, 0.05)])
def test_spectral_step_length_in_both_namespaces(lam, expected):
    assert float(spectral_step_length(0.05, lam)) == pytest.approx(expected, rel=1e-15)
    assert float(_in_tf(spectral_step_length, 0.05, lam)) == pytest.approx(expected, rel=1e-15)


def test_adam_update_in_both_namespaces_and_the_kernel_epsilon():
    rng = np.random.default_rng(1)
    m, v, g = rng.standard_normal(7), rng.uniform(0, 1, 7), rng.standard_normal(7)
    beta_1, beta_2, epsilon, t = 0.9, 0.99, 1e-7, 3
    m1, v1, p = adam_update(m, v, g, t, beta_1, beta_2, epsilon)
    np.testing.assert_allclose(m1, beta_1 * m + (1 - beta_1) * g, rtol=1e-15)
    np.testing.assert_allclose(v1, beta_2 * v + (1 - beta_2) * g ** 2, rtol=1e-15)
    m_hat, v_hat = m1 / (1 - beta_1 ** t), v1 / (1 - beta_2 ** t)
    np.testing.assert_allclose(p, -m_hat / (np.sqrt(v_hat) + epsilon), rtol=1e-15)
    graph = _in_tf(lambda m, v, g, xp: adam_update(m, v, g, t, beta_1, beta_2, epsilon, xp=xp), m, v, g)
    for a, b in zip(graph, (m1, v1, p)):
        np.testing.assert_allclose(a, b, rtol=1e-14)
    first = adam_update(None, None, g, 1, beta_1, beta_2, epsilon)
    np.testing.assert_allclose(first[0], (1 - beta_1) * g, rtol=1e-15)
    # the kernel's form lr sqrt(1-b2^t)/(1-b1^t) m / (sqrt(v) + eps') is alpha p
    alpha, eps_kernel = 0.01, adam_kernel_epsilon(epsilon, beta_2 ** t)
    kernel = -alpha * np.sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t) * m1 / (np.sqrt(v1) + eps_kernel)
    np.testing.assert_allclose(kernel, alpha * p, rtol=1e-13)
