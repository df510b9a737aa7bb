"""finite_difference_check: second-order convergence, restored weights, games, regularization."""
import numpy as np
import pytest

from cases import make_case, make_session
from hessianlearn.problem.regularization import L2Regularization
from hessianlearn.utilities.finite_difference_check import finite_difference_check

KINDS = ["regression", "classification_cross_entropy", "autoencoder", "vae_cross_entropy",
         "gan_cross_entropy", "h1", "keras_model"]


@pytest.mark.parametrize("kind", KINDS)
def test_errors_are_small_and_fall_like_eps_squared(kind):
    case = make_case(kind, "mlp")
    p, feed = case.problem, case.feed_dict
    sess = make_session(p)
    w_before = p.get_weights(sess)
    feed_before = {k: v.copy() for k, v in feed.items()}
    out = finite_difference_check(sess, p, feed, epsilons=[1e-2, 1e-3, 1e-4, 1e-5])
    assert np.array_equal(p.get_weights(sess), w_before)
    assert set(feed) == set(feed_before) and all(np.array_equal(feed[k], feed_before[k]) for k in feed)
    g_err, h_err = out["gradient_errors"], out["hessian_errors"]
    assert out["epsilons"].shape == g_err.shape == h_err.shape == (4,)
    assert min(g_err) < 1e-8 and min(h_err) < 1e-7
    # truncation error O(eps^2): a factor 10 in eps gives ~100 in error (until round-off)
    assert h_err[0] / h_err[1] > 30 and g_err[0] / g_err[1] > 30


def test_given_point_and_direction_and_regularization(rng):
    case = make_case("regression", "mlp")
    p, feed = case.problem, case.feed_dict
    sess = make_session(p)
    w_before = p.get_weights(sess)
    w = w_before + 0.1 * rng.standard_normal(p.dimension)
    dw = rng.standard_normal(p.dimension)
    reg = L2Regularization(p, gamma=0.5)
    out = finite_difference_check(sess, p, feed, w=w, dw=dw, epsilons=[1e-4], regularization=reg)
    assert np.array_equal(p.get_weights(sess), w_before)
    assert out["gradient_errors"][0] < 1e-8 and out["hessian_errors"][0] < 1e-7
    # the reference values include the regularization and are taken at w
    p.set_weights(sess, w)
    g, hdw = sess.run([p.gradient, p.Hdw], {**feed, p.dw: dw})
    p.set_weights(sess, w_before)
    assert out["g_dw"] == pytest.approx((g + 0.5 * w) @ dw, rel=1e-12)
    assert np.allclose(out["Hdw"], hdw + 0.5 * dw, rtol=1e-12, atol=0)


def test_a_wrong_hessian_is_detected():
    case = make_case("regression", "mlp")
    p, feed = case.problem, case.feed_dict
    sess = make_session(p)
    true_hdw = p.Hdw
    p.Hdw = 1.01 * true_hdw  # a deliberately wrong Hessian action
    try:
        out = finite_difference_check(sess, p, feed, epsilons=[1e-4])
    finally:
        p.Hdw = true_hdw
    assert out["hessian_errors"][0] > 5e-3


def test_weights_are_restored_after_an_error():
    case = make_case("regression", "mlp")
    p, feed = case.problem, case.feed_dict
    sess = make_session(p)
    w_before = p.get_weights(sess)
    with pytest.raises(Exception):
        finite_difference_check(sess, p, {p.x: feed[p.x]}, w=w_before + 1.0)  # y_true missing
    assert np.array_equal(p.get_weights(sess), w_before)


def test_bad_input():
    case = make_case("regression", "mlp")
    p, feed = case.problem, case.feed_dict
    sess = make_session(p)
    with pytest.raises(ValueError, match="epsilons"):
        finite_difference_check(sess, p, feed, epsilons=[1e-3, 0.0])
    with pytest.raises(ValueError, match="dw must be a flat vector"):
        finite_difference_check(sess, p, feed, dw=np.ones(p.dimension + 1))
    with pytest.raises(TypeError, match="feed_dict"):
        finite_difference_check(sess, p, [feed])
