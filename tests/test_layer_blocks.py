"""Per-layer curvature blocks (layer_name=) against sub-blocks of explicit float64 matrices."""
import numpy as np
import pytest
import scipy.sparse.linalg as spla

from hessianlearn import tf
from hessianlearn.problem import Hessian, L2Regularization, layer_slice
from hessianlearn.problem.gauss_newton_operator import GaussNewton

from cases import make_case, make_session

TOL = 1e-10


def explicit_hessian(problem, sess, feed):
    """``H`` with one tf.gradients per gradient entry (independent of Hdw)."""
    ids = list(range(len(problem._weights)))
    with problem._graph.as_default():
        rows = [tf.concat([tf.reshape(g, [-1]) for g in problem._gradients(problem.gradient[a], ids)], 0)
                for a in range(problem.dimension)]
        H = tf.stack(rows)
    return sess.run(H, feed)


def explicit_ggn(problem, sess, feed):
    """``J^T H_L J`` with J and H_L built entry by entry."""
    ids = list(range(len(problem._weights)))
    outputs = problem.NN.outputs
    with problem._graph.as_default():
        z = tf.concat([tf.reshape(t, [-1]) for t in outputs], 0)
        gz = tf.concat([tf.reshape(g, [-1]) for g in tf.gradients(problem.loss, outputs)], 0)
        m = sess.run(tf.size(z), feed)
        J = tf.stack([tf.concat([tf.reshape(g, [-1]) for g in problem._gradients(z[a], ids)], 0)
                      for a in range(m)])
        HL = tf.stack([tf.concat([tf.reshape(h, [-1]) for h in tf.gradients(gz[a], outputs)], 0)
                       for a in range(m)])
    J, HL = sess.run([J, HL], feed)
    return J.T @ HL @ J


@pytest.fixture(params=[("regression", "mlp"), ("classification_cross_entropy", "cnn")], ids="-".join)
def case(request):
    kind, arch = request.param
    problem, feed = make_case(kind, arch)
    feed = {key: value[:3] for key, value in feed.items()}
    sess = make_session(problem)
    yield problem, sess, feed
    sess.close()


def _layer_names(problem):
    return sorted({key.rsplit("/", 1)[0] for key in problem.layer_descriptors})


@pytest.mark.parametrize("operator,reference", [(Hessian, explicit_hessian), (GaussNewton, explicit_ggn)],
                         ids=["hessian", "gauss_newton"])
def test_blocks_equal_sub_blocks_of_explicit_matrix(case, operator, reference):
    problem, sess, feed = case
    A = reference(problem, sess, feed)
    atol = TOL * max(1.0, np.abs(A).max())
    names = list(problem.layer_descriptors) + _layer_names(problem)
    assert len(names) >= 6  # kernel and bias of two layers, and the two layers
    for name in names:
        s = layer_slice(problem, name)
        op = operator(problem, sess, block_size=4, layer_name=name)
        n = s.stop - s.start
        assert op.dimension == n and op.shape == (n, n)
        block = op(np.eye(n), feed)
        np.testing.assert_allclose(block, A[s, s], rtol=0, atol=atol, err_msg=name)
        v = np.linspace(-1.0, 1.0, n)
        np.testing.assert_allclose(op(v, feed), A[s, s] @ v, rtol=0, atol=atol, err_msg=name)
        np.testing.assert_allclose(op.quadratics(v, feed), v @ A[s, s] @ v, rtol=0, atol=atol * n)


def test_layer_blocks_tile_the_diagonal_and_traces_add_up(case):
    problem, sess, feed = case
    full = Hessian(problem, sess, block_size=8)(np.eye(problem.dimension), feed)
    total = 0.0
    for name, descriptor in problem.layer_descriptors.items():
        s = descriptor["slice"]
        n = s.stop - s.start
        block = Hessian(problem, sess, block_size=8, layer_name=name)(np.eye(n), feed)
        np.testing.assert_allclose(block, full[s, s], rtol=0, atol=TOL * max(1.0, np.abs(full).max()))
        total += np.trace(block)
    np.testing.assert_allclose(total, np.trace(full), rtol=1e-12)


def test_layer_name_spellings(case):
    problem, _, _ = case
    key = next(iter(problem.layer_descriptors))
    assert layer_slice(problem, key) == problem.layer_descriptors[key]["slice"]
    assert layer_slice(problem, key[:-2]) == problem.layer_descriptors[key]["slice"]  # without ':0'
    layer = key.rsplit("/", 1)[0]
    members = [d["slice"] for k, d in problem.layer_descriptors.items() if k.startswith(layer + "/")]
    assert layer_slice(problem, layer) == slice(members[0].start, members[-1].stop)


def test_block_with_regularization_and_eigsh():
    problem, feed = make_case("regression", "mlp")
    sess = make_session(problem)
    reg = L2Regularization(problem, gamma=0.25)
    name = _layer_names(problem)[0]
    s = layer_slice(problem, name)
    n = s.stop - s.start
    H = explicit_hessian(problem, sess, feed)[s, s] + 0.25 * np.eye(n)
    op = Hessian(problem, sess, regularization=reg, block_size=n, layer_name=name)
    np.testing.assert_allclose(op(np.eye(n), feed), H, rtol=0, atol=TOL * max(1.0, np.abs(H).max()))
    A = op.as_linear_operator(feed)
    assert A.shape == (n, n)
    top = np.sort(spla.eigsh(A, k=2, which="LA", tol=1e-12, v0=np.ones(n))[0])
    np.testing.assert_allclose(top, np.sort(np.linalg.eigvalsh(H))[-2:], rtol=1e-9)


def test_unknown_layer_name_lists_the_names():
    problem, _ = make_case("regression", "mlp")
    sess = make_session(problem)
    with pytest.raises(ValueError) as info:
        Hessian(problem, sess, layer_name="no_such_layer")
    message = str(info.value)
    assert "no_such_layer" in message
    for key in problem.layer_descriptors:
        assert key in message
    for layer in _layer_names(problem):
        assert repr(layer) in message
    with pytest.raises(ValueError, match="Valid layer names"):
        GaussNewton(problem, sess, layer_name="dense_999")


def test_layer_name_must_be_a_string():
    problem, _ = make_case("regression", "mlp")
    sess = make_session(problem)
    with pytest.raises(TypeError, match="layer_name must be a string"):
        Hessian(problem, sess, layer_name=0)


def test_block_rejects_full_length_vectors():
    problem, feed = make_case("regression", "mlp")
    sess = make_session(problem)
    name = next(iter(problem.layer_descriptors))
    op = Hessian(problem, sess, layer_name=name)
    with pytest.raises(ValueError, match="operator's dimension"):
        op(np.ones(problem.dimension), feed)
