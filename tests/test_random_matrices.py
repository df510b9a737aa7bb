"""Random test matrices (utilities/random_matrices.py): layout, statistics, seeding, eigensolver use."""
import numpy as np
import pytest

from hessianlearn.algorithms.randomized_eigensolver import randomized_eigensolver
from hessianlearn.utilities.random_matrices import (draw_test_matrix, rademacher_bits,
                                                  rademacher_from_bits)


def test_rademacher_bit_layout_is_column_major():
    n, m = 3, 5
    signs = np.arange(n * m) % 3 == 0  # entry e of Omega in column-major order is +1 iff e % 3 == 0
    bits = np.packbits(signs, bitorder="little")
    omega = rademacher_from_bits(bits, n, m, np.float32)
    assert omega.dtype == np.float32 and omega.flags.c_contiguous and omega.shape == (n, m)
    expected = np.where(signs, 1.0, -1.0).reshape(m, n).T
    np.testing.assert_array_equal(omega, expected)


@pytest.mark.parametrize("kind", ["gaussian", "rademacher"])
def test_draws_have_unit_variance_and_follow_the_seed(kind):
    a = draw_test_matrix(np.random.default_rng(5), 4000, 25, kind)
    b = draw_test_matrix(np.random.default_rng(5), 4000, 25, kind)
    np.testing.assert_array_equal(a, b)
    assert abs(a.mean()) < 0.01 and abs(a.var() - 1.0) < 0.01  # 1e5 entries: SE ~0.003
    if kind == "rademacher":
        assert set(np.unique(a)) == {-1.0, 1.0}
    rng = np.random.default_rng(5)
    draw_test_matrix(rng, 10, 2, kind)
    assert not np.array_equal(draw_test_matrix(rng, 10, 2, kind), a[:10, :2])  # the stream advances


def test_rademacher_bits_size():
    bits = rademacher_bits(np.random.default_rng(0), 7, 3)
    assert bits.dtype == np.uint8 and bits.shape == (3,)  # ceil(21 / 8)


@pytest.mark.parametrize("bad", ["normal", None, 1])
def test_unknown_kind_is_refused(bad):
    with pytest.raises(ValueError, match="test_matrix.*gaussian.*rademacher"):
        draw_test_matrix(np.random.default_rng(0), 4, 2, bad)
    with pytest.raises(ValueError, match="test_matrix"):
        randomized_eigensolver(np.eye(4), 4, 2, test_matrix=bad)


def test_randomized_eigensolver_with_rademacher_matches_eigh():
    rng = np.random.default_rng(1)
    n = 120
    U, _ = np.linalg.qr(rng.standard_normal((n, n)))
    spectrum = 10.0 * 0.5 ** np.arange(n) * np.where(np.arange(n) % 3 == 1, -1, 1)  # indefinite
    A = (U * spectrum) @ U.T
    values, vectors = randomized_eigensolver(A, n, 8, p=10, seed=2, test_matrix="rademacher")
    np.testing.assert_allclose(values, spectrum[:8], rtol=1e-6)
    np.testing.assert_allclose(np.abs(np.sum(vectors * U[:, :8], axis=0)), 1.0, atol=1e-6)


def test_in_graph_gaussian_is_standard_normal_and_seeded():
    """The fused LRSFN step's Box-Muller draw: shape (odd rows too), moments of N(0, 1), same seed same matrix."""
    from hessianlearn import tf
    from hessianlearn.utilities.stateless_draws import stateless_gaussian
    graph = tf.Graph()
    with graph.as_default():
        seed = tf.placeholder(tf.int64, [2])
        z = stateless_gaussian([41, 3000], seed, tf.float64)
    with tf.Session(graph=graph) as sess:
        a, b, c = (sess.run(z, {seed: s}) for s in ([1, 2], [1, 2], [1, 3]))
    assert a.shape == (41, 3000)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert abs(a.mean()) < 0.01 and abs(a.std() - 1.0) < 0.01
    assert abs(np.mean(a ** 4) / a.var() ** 2 - 3.0) < 0.1
