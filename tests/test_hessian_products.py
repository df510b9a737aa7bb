"""Hdw and HdW (hessian_products) against independent float64 references.

References: the explicit Hessian assembled row by row as ``d g_i / dw`` (one
``tf.gradients`` per gradient entry, not the ``g^T v`` construction under test),
and central finite differences of the gradient.
"""
import numpy as np
import pytest

from hessianlearn import keras, tf
from hessianlearn._internals import public_fallbacks
from hessianlearn.problem import (AutoencoderProblem, ClassificationProblem, Hessian,
                                  RegressionProblem)
from hessianlearn.problem.second_order_gradients import forward_overrides, second_order_overrides
from hessianlearn.problem.hessian_products import (_producer, folded_sensitivities,
                                                   hessian_block_product, hessian_row_block_parts,
                                                   hessian_row_block_product,
                                                   vectorized_row_block_parts)


def _dense_regression(rng):
    model = keras.Sequential([
        keras.layers.Dense(4, activation="tanh", input_shape=(3,)),
        keras.layers.Dense(3, activation="softplus"),
        keras.layers.Dense(2),
    ])
    p = RegressionProblem(model)
    return p, {p.x: rng.standard_normal((7, 3)), p.y_true: rng.standard_normal((7, 2))}


def _dense_autoencoder(rng):
    model = keras.Sequential([
        keras.layers.Dense(3, activation="softplus", input_shape=(5,)),
        keras.layers.Dense(5, activation="sigmoid"),
    ])
    p = AutoencoderProblem(model)
    return p, {p.x: rng.uniform(size=(6, 5))}


def _conv_classifier(rng):
    model = keras.Sequential([
        keras.layers.Conv2D(2, 3, activation="tanh", input_shape=(6, 6, 1)),
        keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(2, 2, activation="softplus"),
        keras.layers.Flatten(),
        keras.layers.Dense(3),
    ])
    p = ClassificationProblem(model, loss_type="cross_entropy")
    labels = rng.integers(0, 3, size=5)
    return p, {p.x: rng.standard_normal((5, 6, 6, 1)), p.y_true: np.eye(3)[labels]}


def _relu_pool_classifier(rng):
    """ReLU-family activations and max pools (VALID with a dropped row, SAME): the kernels
    whose second-order gradients :mod:`hessianlearn.problem.second_order_gradients` replaces."""
    model = keras.Sequential([
        keras.layers.Conv2D(3, 3, activation="relu", input_shape=(7, 7, 1)),
        keras.layers.MaxPooling2D(2, padding="same"),
        keras.layers.Conv2D(3, 2),
        keras.layers.ReLU(max_value=6.0),
        keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(4),
        keras.layers.LeakyReLU(0.2),
        keras.layers.Dense(3),
    ])
    p = ClassificationProblem(model, loss_type="cross_entropy")
    labels = rng.integers(0, 3, size=6)
    return p, {p.x: rng.standard_normal((6, 7, 7, 1)), p.y_true: np.eye(3)[labels]}


class _FrozenKernelDense(keras.layers.Layer):
    """``x K + b`` with a frozen kernel ``K``: a bias gradient with no kernel gradient to fold into."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        shape = (int(input_shape[-1]), self.units)  # fixed values: the references rebuild the model
        fixed = np.linspace(-1.0, 1.0, shape[0] * shape[1]).reshape(shape)
        self.kernel = self.add_weight("kernel", shape, trainable=False,
                                      initializer=lambda shape, dtype=None: tf.constant(fixed, dtype))
        self.bias = self.add_weight("bias", (self.units,), initializer="zeros")

    def call(self, x):
        return tf.nn.bias_add(tf.matmul(x, self.kernel), self.bias)


def _unpaired_biases(rng):
    """A bias alone (frozen kernel) and a kernel alone (no bias): nothing is folded there."""
    model = keras.Sequential([
        keras.layers.Dense(4, activation="tanh", use_bias=False, input_shape=(3,)),
        _FrozenKernelDense(3),
        keras.layers.Activation("softplus"),
        keras.layers.Dense(2),
    ])
    p = RegressionProblem(model)
    return p, {p.x: rng.standard_normal((7, 3)), p.y_true: rng.standard_normal((7, 2))}


CASES = {"dense_regression": _dense_regression, "dense_autoencoder": _dense_autoencoder,
         "conv_classifier": _conv_classifier, "relu_pool_classifier": _relu_pool_classifier,
         "unpaired_biases": _unpaired_biases}


def _explicit_hessian(problem, sess, feed):
    """Row ``i`` is ``d g_i / dw``: an independent dense reference (TensorFlow's own
    gradients, differentiated twice, not the problem's gradient graph)."""
    g = tf.concat([tf.reshape(t, [-1]) for t in tf.gradients(problem.loss, problem._weights)], 0)
    i = tf.placeholder(tf.int32, [])  # one graph for every row, run once per entry
    row = tf.concat([tf.reshape(t, [-1]) for t in tf.gradients(g[i], problem._weights)], 0)
    return np.stack([sess.run(row, {**feed, i: j}) for j in range(problem.dimension)])


@pytest.fixture(scope="module")
def references():
    """Per case, in a private graph: weights off the initialization, data, explicit H."""
    out = {}
    floatx = keras.backend.floatx()
    keras.backend.set_floatx("float64")
    try:
        for name, build in CASES.items():
            with tf.Graph().as_default():
                tf.set_random_seed(3)  # the same initial weights in every run (no kink near them)
                rng = np.random.default_rng(3)
                problem, feed = build(rng)
                with tf.Session() as sess:
                    sess.run(tf.global_variables_initializer())
                    w = problem.get_weights(sess) + 0.1 * rng.standard_normal(problem.dimension)
                    problem.set_weights(sess, w)
                    H = _explicit_hessian(problem, sess, feed)
                out[name] = (w, list(feed.values()), H)
    finally:
        keras.backend.set_floatx(floatx)
    return out


@pytest.fixture(params=sorted(CASES))
def case(request, float64, references):
    """``(problem, feed, sess, rng, H)`` with the reference weights set and ``H`` explicit."""
    w, arrays, H = references[request.param]
    problem, feed = CASES[request.param](np.random.default_rng(3))
    feed = dict(zip(feed, arrays))
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    problem.set_weights(sess, w)
    yield problem, feed, sess, np.random.default_rng(7), H
    sess.close()


def _relative(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(b)


def test_bias_gradients_fold_into_their_kernels(case):
    """Every bias whose layer has a trainable kernel enters through the kernel's local step."""
    problem = case[0]
    parts = [tf.convert_to_tensor(g) for g in problem._gradient_parts]
    ys, grad_ys = folded_sensitivities(parts, problem._split(problem.dw))
    biases = [y for y in ys if _producer(y).type == "BiasAddGrad"]
    unpaired = sum(isinstance(layer, _FrozenKernelDense) for layer in problem.NN.layers)
    assert len(biases) == unpaired
    assert len(ys) == len(grad_ys) and all(s is not None for s in grad_ys)


def test_hdw_equals_explicit_hessian_and_is_symmetric(case):
    problem, feed, sess, rng, H = case
    assert _relative(H, H.T) < 1e-12
    V = rng.standard_normal((problem.dimension, 4))
    for j in range(V.shape[1]):
        hv = sess.run(problem.Hdw, {**feed, problem.dw: V[:, j]})
        assert _relative(hv, H @ V[:, j]) < 1e-12
        quad = sess.run(problem.H_quadratic, {**feed, problem.dw: V[:, j]})
        assert abs(quad - V[:, j] @ H @ V[:, j]) <= 1e-12 * abs(V[:, j]) @ abs(H) @ abs(V[:, j])


def test_hdw_matches_central_finite_differences(case):
    problem, feed, sess, rng, _ = case
    w0 = problem.get_weights(sess)
    v = rng.standard_normal(problem.dimension)
    v /= np.linalg.norm(v)
    hv = sess.run(problem.Hdw, {**feed, problem.dw: v})
    eps = 1e-4  # central differences: O(eps^2) truncation, O(1e-16/eps) round-off
    problem.set_weights(sess, w0 + eps * v)
    g_plus = sess.run(problem.gradient, feed)
    problem.set_weights(sess, w0 - eps * v)
    g_minus = sess.run(problem.gradient, feed)
    problem.set_weights(sess, w0)
    assert _relative((g_plus - g_minus) / (2 * eps), hv) < 1e-6


# the smooth cases: ReLU and max pooling are piecewise linear (differences may cross a kink)
@pytest.mark.parametrize("case", ["dense_autoencoder", "dense_regression", "unpaired_biases"],
                         indirect=True)
def test_products_stay_differentiable_to_third_order(case):
    """The second-order gradients (shared factors, folded biases) keep ``Hdw`` a smooth
    function of ``w``: ``d/dt u^T H(w + t s) v`` from the graph equals central differences."""
    problem, feed, sess, rng, _ = case
    u, v, s = (x / np.linalg.norm(x) for x in rng.standard_normal((3, problem.dimension)))
    with problem._graph.as_default():
        third = tf.gradients(tf.reduce_sum(tf.constant(u) * problem.Hdw), problem._weights)
        third = tf.concat([tf.reshape(t, [-1]) for t in third], axis=0)
    exact = s @ sess.run(third, {**feed, problem.dw: v})
    w0 = problem.get_weights(sess)
    eps = 1e-4
    values = []
    for sign in (1, -1):
        problem.set_weights(sess, w0 + sign * eps * s)
        values.append(u @ sess.run(problem.Hdw, {**feed, problem.dw: v}))
    problem.set_weights(sess, w0)
    assert abs((values[0] - values[1]) / (2 * eps) - exact) < 1e-6 * max(abs(exact), 1e-3)


@pytest.mark.parametrize("k", [1, 2, 3, 7])
def test_block_placeholder_equals_explicit_hessian(case, k):
    problem, feed, sess, rng, H = case
    dW, HdW = problem._hessian_block(k)
    assert dW.shape.as_list() == [problem.dimension, k]
    assert HdW.shape.as_list() == [problem.dimension, k]
    X = rng.standard_normal((problem.dimension, k))
    out = sess.run(HdW, {**feed, dW: X})
    assert _relative(out, H @ X) < 1e-12
    for j in range(k):  # each column equals Hdw of that column to round-off
        hv = sess.run(problem.Hdw, {**feed, problem.dw: X[:, j]})
        np.testing.assert_allclose(out[:, j], hv, rtol=0, atol=1e-13 * np.abs(hv).max())


@pytest.mark.parametrize("block_size", [1, 3, 7])
@pytest.mark.parametrize("ncols", [1, 5, 11])
def test_operator_blocks_every_remainder(case, block_size, ncols):
    problem, feed, sess, rng, H = case
    X = rng.standard_normal((problem.dimension, ncols))
    X_copy = X.copy()
    out = Hessian(problem, sess, block_size=block_size)(X, feed)
    assert out.shape == X.shape
    assert _relative(out, H @ X) < 1e-12
    np.testing.assert_array_equal(X, X_copy)


def test_block_is_cached_per_column_count(case):
    problem = case[0]
    assert problem._hessian_block(3) is problem._hessian_block(3)
    assert problem._hessian_block(3)[0] is not problem._hessian_block(4)[0]


@pytest.mark.parametrize("k", [1, 4])
def test_row_block_equals_explicit_hessian(case, k):
    """The row layout (used by the fused LRSFN step): (H V)^T from V^T, MLP and CNN cases."""
    problem, feed, sess, rng, H = case
    VT = tf.placeholder(problem.dtype, [k, problem.dimension])
    HVT = hessian_row_block_product(problem, VT)
    assert HVT.shape.as_list() == [k, problem.dimension]
    X = rng.standard_normal((problem.dimension, k))
    out = sess.run(HVT, {**feed, VT: X.T})
    assert _relative(out, (H @ X).T) < 1e-12
    with pytest.raises(ValueError, match="static"):
        hessian_row_block_product(problem, tf.placeholder(problem.dtype, [None, problem.dimension]))
    # per weight tensor in and out (the fused LRSFN step's layout)
    parts = [tf.placeholder(problem.dtype, [k, b - a]) for a, b in problem.indices]
    out_parts = sess.run(hessian_row_block_parts(problem, parts),
                         {**feed, **{p: X[a:b].T for p, (a, b) in zip(parts, problem.indices)}})
    assert [o.shape for o in out_parts] == [(k, b - a) for a, b in problem.indices]
    assert _relative(np.concatenate(out_parts, axis=1), (H @ X).T) < 1e-12


def test_dynamic_column_count_block(case):
    """One ``(dimension, None)`` placeholder serves every column count exactly."""
    problem, feed, sess, rng, H = case
    V = tf.placeholder(problem.dtype, [problem.dimension, None])
    HV = hessian_block_product(problem, V)
    for ncols in (1, 2, 5, 11):
        X = rng.standard_normal((problem.dimension, ncols))
        out = sess.run(HV, {**feed, V: X})
        assert out.shape == X.shape
        assert _relative(out, H @ X) < 1e-12


def test_float32_block_agrees_with_float64():
    """The same network in float32 gives H V within float32 round-off of float64."""
    rng = np.random.default_rng(5)
    results = {}
    weights = None
    for floatx in ("float64", "float32"):
        tf.reset_default_graph()
        keras.backend.clear_session()
        keras.backend.set_floatx(floatx)
        problem, feed = _dense_regression(np.random.default_rng(3))
        feed = {key: value.astype(floatx) for key, value in feed.items()}
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            if weights is None:
                weights = problem.get_weights(sess) + 0.1 * rng.standard_normal(problem.dimension)
                X = rng.standard_normal((problem.dimension, 3))
            problem.set_weights(sess, weights.astype(floatx))
            dW, HdW = problem._hessian_block(3)
            results[floatx] = sess.run(HdW, {**feed, dW: X.astype(floatx)})
    assert _relative(results["float32"], results["float64"]) < 1e-5


def _branched_relu(rng):
    """A ReLU feeding a max pool and, besides, the head directly: the pooled mask must not apply."""
    x = keras.Input((6, 6, 1))
    a = keras.layers.Conv2D(2, 3, activation="relu")(x)
    pooled = keras.layers.Flatten()(keras.layers.MaxPooling2D(2)(a))
    out = keras.layers.Dense(3)(keras.layers.Concatenate()([pooled, keras.layers.Flatten()(a)]))
    p = ClassificationProblem(keras.Model(x, out), loss_type="cross_entropy")
    labels = rng.integers(0, 3, size=5)
    return p, {p.x: rng.standard_normal((5, 6, 6, 1)), p.y_true: np.eye(3)[labels]}


@pytest.mark.parametrize("build", [_relu_pool_classifier, _branched_relu])
def test_relu_feeding_a_max_pool_is_masked_at_the_pooled_size(float64, build):
    """``ReluGrad(MaxPoolGrad(a, p, dp), a) = MaxPoolGrad(a, p, ReluGrad(dp, p))``: the gradient
    and the Hessian products use the pooled mask where the pool is the ReLU's only use, with
    the same values (bitwise for the gradient); TensorFlow's own gradient is left alone."""
    rng = np.random.default_rng(3)
    problem, feed = build(rng)
    overridden = problem._graph_cache("forward_overrides")
    relus = [op for op in overridden if op.type == "Relu"]
    assert sorted(op.type for op in overridden) == ["Relu", "SoftmaxCrossEntropyWithLogits"]
    activation = relus[0].outputs[0]
    dW, HdW = problem._hessian_block(2)
    full_masks = lambda: [op for op in problem._graph.get_operations()  # noqa: E731
                          if op.type == "ReluGrad" and op.inputs[1] is activation]
    branched = build is _branched_relu
    assert bool(full_masks()) == branched
    standard = tf.gradients(problem.loss, problem._weights)  # outside the problem: TF's gradient
    assert full_masks() and relus[0]._gradient_function is None
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        g, g_tf = sess.run([problem.gradient, standard], feed)
        np.testing.assert_array_equal(g, np.concatenate([t.ravel() for t in g_tf]))
        H = _explicit_hessian(problem, sess, feed)
        X = rng.standard_normal((problem.dimension, 2))
        assert _relative(sess.run(HdW, {**feed, dW: X}), H @ X) < 1e-12
        assert _relative(sess.run(problem.Hdw, {**feed, problem.dw: X[:, 0]}), H @ X[:, 0]) < 1e-12


def test_softmax_cross_entropy_second_derivative_is_a_row_sum(float64):
    """``(r - <r, s>) s`` with ``s`` once per point: no batched matrix product or softmax per
    column (TensorFlow's own gradient has both); equal to the explicit Hessian."""
    rng = np.random.default_rng(3)
    problem, feed = _relu_pool_classifier(rng)
    dW, HdW = problem._hessian_block(3)
    types = [op.type for op in problem._graph.get_operations()]
    assert "BatchMatMulV2" not in types and types.count("Softmax") == 1
    with problem._graph.as_default():  # TF's gradient of the problem's gradient has them
        tf.gradients(problem.gradient, problem._weights, grad_ys=problem.dw)
    assert "BatchMatMulV2" in [op.type for op in problem._graph.get_operations()]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        H = _explicit_hessian(problem, sess, feed)
        X = rng.standard_normal((problem.dimension, 3))
        assert _relative(sess.run(HdW, {**feed, dW: X}), H @ X) < 1e-12


def test_softmax_cross_entropy_gradients_equal_tensorflows(float64):
    """First derivatives (logits and labels) and the second derivative in the logits of the
    rewritten gradient against TensorFlow's own, on the same op."""
    rng = np.random.default_rng(0)
    logits = tf.constant(rng.standard_normal((4, 3)))
    labels = tf.constant(rng.dirichlet(np.ones(3), size=4))
    loss = tf.reduce_sum(tf.constant(rng.uniform(size=4)) *
                         tf.nn.softmax_cross_entropy_with_logits_v2(labels=labels, logits=logits))
    r = tf.constant(rng.standard_normal((4, 3)))

    def derivatives():
        g_logits, g_labels = tf.gradients(loss, [logits, labels])
        return [g_logits, g_labels, tf.gradients(g_logits, logits, grad_ys=r)[0]]

    with second_order_overrides(forward=forward_overrides([loss])):
        ours = derivatives()
    theirs = derivatives()
    with tf.Session() as sess:
        for a, b in zip(*sess.run([ours, theirs])):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("build", [_dense_autoencoder, _dense_regression])
def test_least_squares_loss_enters_a_column_as_one_product(float64, build):
    """``squared_error``: a Hessian column passes the loss as one ``Mul`` by ``2 g``, with no
    ``Neg`` or ``Square`` (``tf.square(y - yhat)`` took two of each); against the explicit Hessian."""
    rng = np.random.default_rng(3)
    problem, feed = build(rng)
    before = set(problem._graph.get_operations())
    v = tf.placeholder(problem.dtype, [problem.dimension])
    hv = problem._hessian_vector_product(v)
    live, stack = set(), [hv.op]  # the ops a run of hv executes (dead branches are pruned)
    while stack:
        op = stack.pop()
        if op not in live and op not in before:
            live.add(op)
            stack.extend(t.op for t in op.inputs)
    types = [op.type for op in live]
    assert "Neg" not in types and "Square" not in types
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        H = _explicit_hessian(problem, sess, feed)
        x = rng.standard_normal(problem.dimension)
        assert _relative(sess.run(hv, {**feed, v: x}), H @ x) < 1e-12


@pytest.mark.parametrize("k", [2, 4])
def test_vectorized_row_block_equals_explicit_hessian(case, k):
    """The fused LRSFN step's block vectorized over its rows (``tf.vectorized_map``): the same
    ``(H V)^T`` per weight tensor to round-off, a graph that does not grow with ``k``; None
    (the caller unrolls) where an op has no rule: a convolution with a direction-dependent
    filter (TensorFlow 2.16-2.21)."""
    problem, feed, sess, rng, H = case
    convolutional = any(op.type == "Conv2D" for op in problem._graph.get_operations())

    def build(rows):
        parts = [tf.placeholder(problem.dtype, [rows, b - a]) for a, b in problem.indices]
        before = len(problem._graph.get_operations())
        return parts, vectorized_row_block_parts(problem, parts), len(problem._graph.get_operations()) - before

    parts, out, ops = build(k)
    if convolutional:
        assert out is None
        return
    assert out is not None
    X = rng.standard_normal((problem.dimension, k))
    values = sess.run(out, {**feed, **{p: X[a:b].T for p, (a, b) in zip(parts, problem.indices)}})
    assert [v.shape for v in values] == [(k, b - a) for a, b in problem.indices]
    assert _relative(np.concatenate(values, axis=1), (H @ X).T) < 1e-12
    assert build(3 * k)[2] == ops  # the graph does not grow with the row count
    with pytest.raises(ValueError, match="static"):
        vectorized_row_block_parts(problem, [tf.placeholder(problem.dtype, [None, b - a])
                                             for a, b in problem.indices])


def test_vectorized_block_takes_matmuls_as_broadcast_batch_products(case):
    """With ``broadcast_matmul_rule`` (the default) the vectorized block of a dense network has
    no transposes of its direction-dependent blocks: each ``MatMul`` on a stacked direction is
    one ``BatchMatMulV2``. It equals the block built with TensorFlow's own rule (the
    ``pfor_matmul`` fallback, which does transpose) to round-off, and the rule is put back
    afterwards: ``tf.vectorized_map`` elsewhere keeps TensorFlow's."""
    from tensorflow.python.ops.parallel_for import pfor
    problem, feed, sess, rng, H = case
    if any(op.type == "Conv2D" for op in problem._graph.get_operations()):
        return  # no vectorized block (test above)
    stock = pfor._pfor_converter_registry["MatMul"]
    k = 3

    def build():
        parts = [tf.placeholder(problem.dtype, [k, b - a]) for a, b in problem.indices]
        before = set(problem._graph.get_operations())
        out = vectorized_row_block_parts(problem, parts)
        types = [op.type for op in problem._graph.get_operations() if op not in before]
        return parts, out, types

    parts, fast, fast_types = build()
    assert pfor._pfor_converter_registry["MatMul"] is stock
    with public_fallbacks("pfor_matmul"):
        slow_parts, slow, slow_types = build()
    assert "BatchMatMulV2" in fast_types and "BatchMatMulV2" not in slow_types
    assert fast_types.count("Transpose") < slow_types.count("Transpose")
    X = rng.standard_normal((problem.dimension, k))
    values = [sess.run(out, {**feed, **{p: X[a:b].T for p, (a, b) in zip(ps, problem.indices)}})
              for ps, out in ((parts, fast), (slow_parts, slow))]
    reference = (H @ X).T
    for value in values:
        assert _relative(np.concatenate(value, axis=1), reference) < 1e-12
