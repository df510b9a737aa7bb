"""The step formulas of utilities/step_math.py: the numpy and the TensorFlow evaluation agree
(float64), and each equals its defining formula."""
import numpy as np
import pytest

from hessianlearn import tf
from hessianlearn.utilities.step_math import (
    adam_kernel_epsilon,
    adam_kernel_update,
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
    # the kernel's form: the same moments, and w - delta is w + alpha p
    alpha = 0.01
    m2, v2, delta = adam_kernel_update(m, v, g, t, alpha, beta_1, beta_2, epsilon)
    np.testing.assert_allclose(m2, m1, rtol=1e-14)
    np.testing.assert_allclose(v2, v1, rtol=1e-14)
    np.testing.assert_allclose(-delta, alpha * p, rtol=1e-13)
    graph = _in_tf(lambda m, v, g, *scalars, xp: adam_kernel_update(m, v, g, t, *scalars, xp=xp),
                   m, v, g, alpha, beta_1, beta_2, epsilon)  # scalars as float64 tensors
    for a, b in zip(graph, (m2, v2, delta)):
        np.testing.assert_allclose(a, b, rtol=1e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adam_kernel_update_is_tensorflows_adam_kernel_bit_for_bit(dtype):
    """The fused Adam step's claim: on the CPU its ops give ResourceApplyAdam's bits."""
    rng = np.random.default_rng(2)
    n, beta_1, beta_2, epsilon, alpha = 1003, 0.9, 0.999, 1e-7, 1e-3
    w0, g = rng.standard_normal(n).astype(dtype), rng.standard_normal((4, n)).astype(dtype)
    with tf.Graph().as_default(), tf.Session() as sess:
        def variable(value):
            return tf.Variable(value, use_resource=True)

        kernel_w, kernel_m, kernel_v = variable(w0), variable(np.zeros(n, dtype)), variable(np.zeros(n, dtype))
        ours_w, ours_m, ours_v = variable(w0), variable(np.zeros(n, dtype)), variable(np.zeros(n, dtype))
        grad, t = tf.placeholder(dtype, [n]), tf.placeholder(dtype, [])
        scalars = [tf.constant(x, dtype) for x in (alpha, beta_1, beta_2, epsilon)]
        a, b1, b2, eps = scalars
        kernel = tf.raw_ops.ResourceApplyAdam(
            var=kernel_w.handle, m=kernel_m.handle, v=kernel_v.handle, beta1_power=b1 ** t,
            beta2_power=b2 ** t, lr=a, beta1=b1, beta2=b2,
            epsilon=adam_kernel_epsilon(eps, b2 ** t, xp=tf), grad=grad)
        m, v, delta = adam_kernel_update(ours_m.read_value(), ours_v.read_value(), grad, t, a, b1, b2,
                                         eps, xp=tf)
        ours = tf.group(ours_m.assign(m), ours_v.assign(v), ours_w.assign_sub(delta))
        sess.run(tf.global_variables_initializer())
        for step, gradient in enumerate(g, start=1):
            sess.run([kernel, ours], {grad: gradient, t: step})
        for x, y in zip(sess.run([kernel_w, kernel_m, kernel_v]), sess.run([ours_w, ours_m, ours_v])):
            assert x.tobytes() == y.tobytes()
