"""Every problem family on tiny float64 MLPs and CNNs: Hdw against finite differences of the
gradient, symmetry, quadratics, float32 agreement, family-specific values, and bad input."""
import numpy as np
import pytest

from cases import (PROBLEM_KINDS, cnn, explicit_hessian, finite_difference_hessian, make_case,
                   make_session, mlp)
from hessianlearn import keras, tf
from hessianlearn.problem.autoencoder_problem import AutoencoderProblem
from hessianlearn.problem.classification_problem import ClassificationProblem
from hessianlearn.problem.generative_adversarial_network_problem import GenerativeAdversarialNetworkProblem
from hessianlearn.problem.h1_regression_problem import H1RegressionProblem
from hessianlearn.problem.keras_model_problem import KerasModelProblem
from hessianlearn.problem.regression_problem import RegressionProblem
from hessianlearn.problem.variational_autoencoder_problem import VariationalAutoencoderProblem

CASES = [(kind, arch) for kind in PROBLEM_KINDS for arch in ("mlp", "cnn")]


def _rel(a, b):
    return np.linalg.norm(np.asarray(a) - np.asarray(b)) / np.linalg.norm(np.asarray(b))


@pytest.mark.parametrize("kind,arch", CASES)
def test_hessian_equals_finite_differences_and_is_symmetric(kind, arch):
    case = make_case(kind, arch)
    p, feed = case.problem, case.feed_dict
    sess = make_session(p)
    H = explicit_hessian(p, sess, feed)
    H_fd = finite_difference_hessian(p, sess, feed)
    assert np.linalg.norm(H) > 1e-3  # a real, non-trivial Hessian
    assert _rel(H, H_fd) < 1e-6
    assert np.max(np.abs(H - H.T)) < 1e-10
    # H_quadratic = dw . Hdw
    dw = np.random.default_rng(1).standard_normal(p.dimension)
    quad, hdw = sess.run([p.H_quadratic, p.Hdw], {**feed, p.dw: dw})
    assert quad == pytest.approx(dw @ hdw, rel=1e-12)
    assert quad == pytest.approx(dw @ H @ dw, rel=1e-10)


@pytest.mark.parametrize("kind,arch", CASES)
def test_float32_agrees_with_float64(kind, arch):
    c64 = make_case(kind, arch, "float64")
    c32 = make_case(kind, arch, "float32")
    sess = make_session(c64.problem)
    sess.run(tf.variables_initializer(c32.problem._weights))
    w = c64.problem.get_weights(sess)
    c32.problem.set_weights(sess, w.astype(np.float32))
    dw = np.random.default_rng(2).standard_normal(w.size)
    out = []
    for c, dtype in ((c64, np.float64), (c32, np.float32)):
        p = c.problem
        out.append(sess.run([p.loss, p.gradient, p.Hdw], {**c.feed_dict, p.dw: dw.astype(dtype)}))
    for a64, a32 in zip(*out):
        assert np.asarray(a32).dtype == np.float32
        assert _rel(a32, a64) < 1e-4


# ---------------------------------------------------------------- family-specific values
def test_vae_losses_match_numpy():
    case = make_case("vae_cross_entropy", "mlp")
    p, feed = case.problem, case.feed_dict
    sess = make_session(p)
    rec, kl, loss, xhat, mu, s = sess.run(
        [p.reconstruction_loss, p.kl_loss, p.loss, p.y_prediction, p.z_mean, p.z_log_var], feed)
    x = feed[p.x]
    rec_np = np.mean(-np.sum(x * np.log(xhat) + (1 - x) * np.log(1 - xhat), axis=1))
    kl_np = np.mean(-0.5 * np.sum(1 + s - mu ** 2 - np.exp(s), axis=1))
    assert rec == pytest.approx(rec_np, rel=1e-12)
    assert kl == pytest.approx(kl_np, rel=1e-12)
    assert loss == pytest.approx(rec_np + kl_np, rel=1e-12)
    assert p.is_vae and p.is_autoencoder and p.y_true is p.x
    # the loss is a deterministic function of (x, epsilon)
    assert sess.run(p.loss, feed) == loss
    assert sess.run(p.loss, {**feed, p.epsilon: feed[p.epsilon] + 1.0}) != loss


def test_vae_least_squares_sums_features_and_averages_samples():
    case = make_case("vae_least_squares", "mlp")
    p, feed = case.problem, case.feed_dict
    sess = make_session(p)
    rec, xhat = sess.run([p.reconstruction_loss, p.y_prediction], feed)
    assert rec == pytest.approx(np.mean(np.sum((feed[p.x] - xhat) ** 2, axis=1)), rel=1e-12)


@pytest.mark.parametrize("loss_type", ["cross_entropy", "least_squares"])
def test_gan_losses_match_numpy_and_hessian_is_block_diagonal(loss_type):
    case = make_case(f"gan_{loss_type}", "mlp")
    p, feed = case.problem, case.feed_dict
    sess = make_session(p)
    d_loss, g_loss, loss, a, b = sess.run(
        [p.discriminator_loss, p.generator_loss, p.loss, p.real_logits, p.fake_logits], feed)
    if loss_type == "cross_entropy":
        log_sig = lambda t: -np.logaddexp(0.0, -t)  # noqa: E731
        d_np = -np.mean(log_sig(a)) - np.mean(log_sig(-b))
        g_np = -np.mean(log_sig(b))
    else:
        d_np = np.mean((a - 1) ** 2) + np.mean(b ** 2)
        g_np = np.mean((b - 1) ** 2)
    assert d_loss == pytest.approx(d_np, rel=1e-12)
    assert g_loss == pytest.approx(g_np, rel=1e-12)
    assert loss == pytest.approx(d_np + g_np, rel=1e-12)
    n_d = sum(int(np.prod(v.shape)) for v in p.discriminator.trainable_weights)
    H = explicit_hessian(p, sess, feed)
    assert np.all(H[:n_d, n_d:] == 0) and np.all(H[n_d:, :n_d] == 0)
    # the gradient is the simultaneous gradient: each player's own loss, own weights
    g = sess.run(p.gradient, feed)
    d_grads = sess.run(tf.gradients(p.discriminator_loss, p.discriminator.trainable_weights), feed)
    g_grads = sess.run(tf.gradients(p.generator_loss, p.generator.trainable_weights), feed)
    assert np.allclose(g, np.concatenate([t.ravel() for t in d_grads + g_grads]), rtol=0, atol=1e-14)
    assert p.is_gan


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
def test_h1_jacobian_basis_product_matches_finite_differences_in_x(arch):
    case = make_case("h1", arch)
    p, feed = case.problem, case.feed_dict
    sess = make_session(p)
    x = feed[p.x]
    jv, l2, h1, loss, y = sess.run(
        [p.jacobian_basis_product, p.l2_loss, p.h1_loss, p.loss, p.y_prediction], feed)
    assert jv.shape == (x.shape[0], 2, p.basis.shape[1])
    h = 1e-6
    for k in range(p.basis.shape[1]):
        v = p.basis[:, k].reshape(x.shape[1:])
        fd = (sess.run(p.y_prediction, {p.x: x + h * v}) - sess.run(p.y_prediction, {p.x: x - h * v})) / (2 * h)
        assert np.max(np.abs(fd - jv[:, :, k])) < 1e-8
    assert l2 == pytest.approx(np.mean((feed[p.y_true] - y) ** 2), rel=1e-12)
    assert h1 == pytest.approx(np.mean((jv - feed[p.dy_true]) ** 2), rel=1e-12)
    assert loss == pytest.approx(l2 + 0.7 * h1, rel=1e-12)
    assert p.has_derivative_loss


def test_h1_does_not_keep_or_mutate_the_callers_basis(float64):
    basis = np.eye(3)[:, :2]
    p = H1RegressionProblem(mlp(), basis)
    basis[0, 0] = 5.0
    assert p.basis[0, 0] == 1.0


def test_keras_model_problem_losses_weights_and_metrics():
    case = make_case("keras_model", "mlp")
    p, feed = case.problem, case.feed_dict
    assert isinstance(p.x, list) and len(p.x) == 2 and isinstance(p.y_true, list) and len(p.y_true) == 2
    sess = make_session(p)
    loss, (z1, z2), metrics = sess.run([p.loss, p.y_prediction, p.metric_dict], feed)
    y1, y2 = feed[p.y_true[0]], feed[p.y_true[1]]
    mse = np.mean((y1 - z1) ** 2)
    logp = z2 - np.log(np.sum(np.exp(z2), axis=1, keepdims=True))
    cce = np.mean(-np.sum(y2 * logp, axis=1))
    assert loss == pytest.approx(mse + 0.5 * cce, rel=1e-12)
    assert set(metrics) == {"o1_mae", "o2_accuracy"}
    assert metrics["o1_mae"] == pytest.approx(np.mean(np.abs(y1 - z1)), rel=1e-12)
    assert metrics["o2_accuracy"] == pytest.approx(np.mean(z2.argmax(1) == y2.argmax(1)))
    assert sess.run(p.accuracy, feed) == metrics["o2_accuracy"]


def test_keras_model_problem_single_output_with_loss_function_and_list(float64, rng):
    model = mlp()
    model.compile(loss=[keras.losses.mean_absolute_error], metrics=["mse"])
    p = KerasModelProblem(model)
    assert p.y_true is not None and not isinstance(p.y_true, list) and p.accuracy is None
    sess = make_session(p)
    x, y = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    loss, yhat, m = sess.run([p.loss, p.y_prediction, p.metric_dict], {p.x: x, p.y_true: y})
    assert loss == pytest.approx(np.mean(np.abs(y - yhat)), rel=1e-12)
    assert m["mse"] == pytest.approx(np.mean((y - yhat) ** 2), rel=1e-12)


def test_classification_accuracy_and_regression_loss(float64, rng):
    p = ClassificationProblem(mlp(output_shape=(3,)))
    sess = make_session(p)
    x, y = rng.standard_normal((6, 3)), np.eye(3)[[0, 1, 2, 0, 1, 2]]
    acc, z = sess.run([p.accuracy, p.y_prediction], {p.x: x, p.y_true: y})
    assert acc == pytest.approx(np.mean(z.argmax(1) == y.argmax(1)))


# ---------------------------------------------------------------- bad input
def test_keras3_model_is_rejected_with_a_pointer_to_tf_keras():
    import keras as keras3

    if not keras3.__version__.startswith("3"):
        pytest.skip("keras 3 is not installed")
    model = keras3.Sequential([keras3.Input((3,)), keras3.layers.Dense(2)])
    with pytest.raises(TypeError, match="tf-keras"):
        RegressionProblem(model)


def test_model_without_trainable_weights_is_rejected(float64):
    model = mlp()
    for layer in model.layers:
        layer.trainable = False
    with pytest.raises(ValueError, match="no trainable weights"):
        RegressionProblem(model)


def test_regression_with_several_inputs_points_to_keras_model_problem(float64):
    a, b = keras.Input((2,)), keras.Input((1,))
    model = keras.Model([a, b], keras.layers.Dense(1)(keras.layers.Concatenate()([a, b])))
    with pytest.raises(ValueError, match="KerasModelProblem"):
        RegressionProblem(model)
    x = keras.Input((2,))
    h = keras.layers.Dense(2)(x)
    two_out = keras.Model(x, [keras.layers.Dense(1)(h), keras.layers.Dense(1)(h)])
    with pytest.raises(ValueError, match="KerasModelProblem"):
        RegressionProblem(two_out)


def test_uncompiled_model_is_rejected_by_keras_model_problem(float64):
    with pytest.raises(ValueError, match=r"call model.compile\(loss=...\) first"):
        KerasModelProblem(mlp())


@pytest.mark.parametrize("make", [
    lambda: ClassificationProblem(mlp(), loss_type="hinge"),
    lambda: VariationalAutoencoderProblem(mlp(), None, None, loss_type="kl"),
    lambda: GenerativeAdversarialNetworkProblem(mlp(), mlp(), loss_type="wasserstein"),
])
def test_unknown_loss_type(float64, make):
    with pytest.raises(ValueError, match="loss_type must be one of"):
        make()


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_bad_hessian_block_size(float64, bad):
    with pytest.raises(ValueError, match="hessian_block_size must be a positive int"):
        RegressionProblem(mlp(), hessian_block_size=bad)


def test_vae_bad_latent_tensors(float64):
    model = mlp(output_shape=(3,))
    with pytest.raises(TypeError, match="z_mean must be the encoder's graph tensor"):
        VariationalAutoencoderProblem(model, np.zeros((1, 2)), np.zeros((1, 2)))
    h = model.layers[1].output
    with pytest.raises(ValueError, match="same shape"):
        VariationalAutoencoderProblem(model, h, model.output)


def test_gan_shape_mismatch_and_autoencoder_shape(float64):
    gen = mlp(input_shape=(2,), output_shape=(4,))
    disc = mlp(input_shape=(3,), output_shape=(1,), seed=5)
    with pytest.raises(ValueError, match="generator's output shape"):
        GenerativeAdversarialNetworkProblem(gen, disc)
    with pytest.raises(ValueError, match="input's shape"):
        AutoencoderProblem(mlp())


def test_h1_bad_basis_and_weight(float64):
    with pytest.raises(ValueError, match="d_in = 3"):
        H1RegressionProblem(mlp(), np.ones((4, 2)))
    with pytest.raises(ValueError, match=r"shape \(d_in, r\)"):
        H1RegressionProblem(mlp(), np.ones(3))
    with pytest.raises(ValueError, match="h1_weight"):
        H1RegressionProblem(mlp(), np.ones((3, 1)), h1_weight=-1.0)


def test_cnn_factory_builds_conv_layers():
    model = cnn("float32")
    assert any(isinstance(layer, keras.layers.Conv2D) for layer in model.layers)
    assert model.trainable_weights[0].dtype.base_dtype == tf.float32


def test_keras_model_problem_sparse_labels_regularizer_and_list_weights(float64, rng):
    x = keras.Input((3,))
    h = keras.layers.Dense(4, activation="tanh", kernel_regularizer=keras.regularizers.l2(0.1))(x)
    o1, o2 = keras.layers.Dense(3, name="c")(h), keras.layers.Dense(1, name="r")(h)
    model = keras.Model(x, [o1, o2])
    model.compile(loss=[keras.losses.SparseCategoricalCrossentropy(from_logits=True), "mse"],
                  loss_weights=[2.0, 0.25], metrics=[["accuracy"], []])
    p = KerasModelProblem(model)
    assert p.y_true[0].shape.as_list() == [None]
    sess = make_session(p)
    xb, labels, yr = rng.standard_normal((6, 3)), np.array([0, 1, 2, 2, 1, 0.]), rng.standard_normal((6, 1))
    loss, (z, r), acc = sess.run([p.loss, p.y_prediction, p.accuracy],
                                 {p.x: xb, p.y_true[0]: labels, p.y_true[1]: yr})
    logp = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    sce = -np.mean(logp[np.arange(6), labels.astype(int)])
    kernel = sess.run(model.layers[1].kernel)
    assert loss == pytest.approx(2.0 * sce + 0.25 * np.mean((yr - r) ** 2) + 0.1 * np.sum(kernel ** 2), rel=1e-12)
    assert acc == pytest.approx(np.mean(z.argmax(1) == labels))


def test_vae_with_noise_sampled_in_the_graph_has_no_epsilon(float64):
    x = keras.Input((4,))
    h = keras.layers.Dense(3, activation="tanh")(x)
    z_mean, z_log_var = keras.layers.Dense(2)(h), keras.layers.Dense(2)(h)
    z = keras.layers.Lambda(
        lambda t: t[0] + tf.exp(0.5 * t[1]) * tf.random.normal(tf.shape(t[0]), dtype=t[0].dtype))(
        [z_mean, z_log_var])
    model = keras.Model(x, keras.layers.Dense(4)(z))
    p = VariationalAutoencoderProblem(model, z_mean, z_log_var)
    assert p.epsilon is None and p.x is model.inputs[0]
