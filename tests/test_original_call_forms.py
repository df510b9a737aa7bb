"""The original hessianlearn's call forms and names, next to today's forms.

Each function is called as the original code called it (positional arguments,
keyword names, return values) and compared with today's form on the same inputs;
eigenvalues are checked against numpy.linalg.eigh.
"""
import numpy as np
import pytest

import hessianlearn as hl
from cases import explicit_hessian, make_case, make_session
from hessianlearn.algorithms.gradient_descent import GradientDescent
from hessianlearn.algorithms.low_rank_hessian import low_rank_hessian
from hessianlearn.algorithms.randomized_eigensolver import (
    eigensolver_from_range,
    randomized_double_pass_eigensolver,
    randomized_eigensolver,
)
from hessianlearn.algorithms.range_finders import block_range_finder, noise_aware_adaptive_range_finder
from hessianlearn.algorithms.variance_based_nystrom import (
    compute_rayleigh_statistics,
    compute_Theta,
    finish_computing_eigenvalue_decomposition,
    get_random_range_vectors,
    update_Theta,
    variance_based_nystrom,
)
from hessianlearn.problem.hessian import Hessian, HessianWrapper
from hessianlearn.utilities.finite_difference_check import finite_difference_check
from linalg_cases import symmetric_matrix


# ----------------------------------------------------------------------------- finite sums
def finite_sum(n=60, m=8, power=7, noise=0.1, seed=0):
    """``m`` symmetric terms ``A0 + noise * E_k`` (spectra ``randn**power``, as the original test)."""
    rng = np.random.default_rng(seed)
    draw = lambda: symmetric_matrix(rng.standard_normal(n) ** power, seed=rng)  # noqa: E731
    A0 = draw()
    terms = [A0 + noise * draw() for _ in range(m)]
    return terms, sum(terms) / m


def as_callables(terms):
    return [lambda x, Ak=Ak: np.dot(Ak, x) for Ak in terms]


def theta_slow(Q, terms):
    return np.array([[[Q[:, i] @ Ak @ Q[:, j] for Ak in terms] for j in range(Q.shape[1])]
                     for i in range(Q.shape[1])])


def rayleigh_slow(U, terms):
    C = np.array([[U[:, i] @ Ak @ U[:, i] for Ak in terms] for i in range(U.shape[1])])
    return C.mean(axis=1), C.std(axis=1)


def test_nystrom_helpers_match_explicit_sums():
    terms, A = finite_sum()
    apply_AA = as_callables(terms)
    Y = get_random_range_vectors(apply_AA, 60, 10)
    assert Y.shape == (60, 10)
    omega = np.random.default_rng(0).standard_normal((60, 10))
    np.testing.assert_allclose(Y, A @ omega, rtol=1e-12, atol=1e-12 * np.abs(A @ omega).max())
    Q = np.linalg.qr(Y)[0]
    Theta = compute_Theta(Q, apply_AA)
    reference = theta_slow(Q, terms)
    assert Theta.shape == (10, 10, 8)
    assert np.linalg.norm(Theta - reference) / np.linalg.norm(reference) < 1e-12

    dd, U, V = finish_computing_eigenvalue_decomposition(Q, Theta)
    assert np.all(np.diff(np.abs(dd)) <= 0)
    np.testing.assert_allclose(U, Q @ V, atol=1e-12)
    ritz = np.linalg.eigvalsh(Q.T @ A @ Q)
    np.testing.assert_allclose(np.sort(dd), ritz, rtol=1e-10, atol=1e-12 * np.abs(ritz).max())
    mu, std = compute_rayleigh_statistics(Theta, V)
    mu_ref, std_ref = rayleigh_slow(U, terms)
    np.testing.assert_allclose(mu, mu_ref, rtol=1e-10, atol=1e-12 * np.abs(mu_ref).max())
    np.testing.assert_allclose(std, std_ref, rtol=1e-8, atol=1e-12 * std_ref.max())

    # growing the basis: update_Theta equals the tensor of [Q, Q2] and the error falls
    Y2 = get_random_range_vectors(apply_AA, 60, 10, seed=1)
    Q2 = np.linalg.qr(Y2 - Q @ (Q.T @ Y2))[0]
    Q_new = np.hstack([Q, Q2])
    Theta_new = update_Theta(Q, Q2, Theta, apply_AA)
    reference_new = theta_slow(Q_new, terms)
    assert np.linalg.norm(Theta_new - reference_new) / np.linalg.norm(reference_new) < 1e-12
    dd_new, U_new, _ = finish_computing_eigenvalue_decomposition(Q_new, Theta_new)
    error = lambda d, W: np.linalg.norm(A - (W * d) @ W.T) / np.linalg.norm(A)  # noqa: E731
    assert error(dd_new, U_new) < error(dd, U)


def decaying_finite_sum(n=60, m=8, noise=1e-3, seed=0):
    """Terms ``A0 + noise * E_k``: ``A0`` with indefinite spectrum ``+-10 * 0.7**i``, so the
    pairs above ``noise`` are signal and the rest is noise."""
    rng = np.random.default_rng(seed)
    spectrum = 10 * 0.7 ** np.arange(n) * np.where(np.arange(n) % 3 == 1, -1.0, 1.0)
    A0 = symmetric_matrix(spectrum, seed=rng)
    terms = [A0 + noise * symmetric_matrix(rng.standard_normal(n), seed=rng) for _ in range(m)]
    return terms, sum(terms) / m


def test_nystrom_finite_sum_form_against_eigh_and_partition_form(capsys):
    terms, A = decaying_finite_sum()
    before = [Ak.copy() for Ak in terms]
    exact = np.linalg.eigh(A)[0]
    exact = exact[np.argsort(-np.abs(exact))]

    good, everything = variance_based_nystrom(as_callables(terms), 60, verbose=False)
    assert capsys.readouterr().out == ""
    d, U, std = good
    d_all, U_all, std_all = everything
    assert 10 <= d.size < d_all.size and U.shape == (60, d.size) and U_all.shape == (60, d_all.size)
    assert set(d).issubset(set(d_all))
    assert np.all(std / np.abs(d) <= 0.5)
    # std is the spread of the Rayleigh quotients of U's columns over the terms
    np.testing.assert_allclose(std, rayleigh_slow(U, terms)[1], rtol=1e-8)
    np.testing.assert_allclose(U.T @ U, np.eye(d.size), atol=1e-10)
    np.testing.assert_allclose(d[:8], exact[:8], rtol=1e-6)
    assert np.linalg.norm(A - (U * d) @ U.T) / np.linalg.norm(A) < 1e-3
    assert all(np.array_equal(a, b) for a, b in zip(terms, before))

    # arrays instead of callables: blockwise products, the same numbers to round-off
    good_arrays, _ = variance_based_nystrom(terms, 60, verbose=False)
    np.testing.assert_allclose(good_arrays[0], d, rtol=1e-10)
    # today's form on the same terms: the same leading eigenvalues
    values, _ = variance_based_nystrom(A, terms, 60, block_size=10, std_tolerance=0.5,
                                       max_vectors=30, max_bad_vectors=5)
    np.testing.assert_allclose(values[:8], exact[:8], rtol=1e-6)
    # the same seed gives the same numbers; the original's default verbose prints the progress
    again, _ = variance_based_nystrom(terms, 60)
    assert "current_rank=" in capsys.readouterr().out
    np.testing.assert_array_equal(again[0], good_arrays[0])


def test_nystrom_bad_input_in_both_forms():
    terms, A = finite_sum(n=12, m=3)
    with pytest.raises(TypeError, match="unexpected keyword argument 'foo'"):
        variance_based_nystrom(terms, 12, foo=1)
    with pytest.raises(TypeError, match="too many positional"):
        variance_based_nystrom(terms, 12, 5, 10, 0.5, 5, 100, False, 0, "extra")
    with pytest.raises(TypeError, match="partition-operator form.*unexpected keyword argument 'bogus'"):
        variance_based_nystrom(A, terms, 12, bogus=1)
    with pytest.raises(TypeError, match="too many positional"):
        variance_based_nystrom(A, terms, 12, 2, 0.5, 4, 1, 0, False, "extra")
    with pytest.raises(TypeError, match="apply_AA"):
        variance_based_nystrom(apply_AA=A, num_cols_A=12)
    with pytest.raises(ValueError, match=r"apply_AA\[1\]"):
        variance_based_nystrom([terms[0], np.eye(5)], 12, verbose=False)
    with pytest.raises(ValueError, match=r"apply_AA\[0\]"):
        variance_based_nystrom([lambda x: x[:3]], 12, verbose=False)
    with pytest.raises(ValueError, match="num_cols_A"):
        variance_based_nystrom(terms, 0, verbose=False)
    with pytest.raises(ValueError, match="oversampling_parameter"):
        variance_based_nystrom(terms, 12, -1, verbose=False)
    with pytest.raises(ValueError, match="std_tol"):
        variance_based_nystrom(terms, 12, std_tol=0.0, verbose=False)
    Q = np.linalg.qr(np.random.default_rng(0).standard_normal((12, 3)))[0]
    with pytest.raises(ValueError, match="'Q'"):
        compute_Theta(Q[:5], terms)
    Theta = compute_Theta(Q, terms)
    with pytest.raises(ValueError, match="Theta11"):
        update_Theta(Q, Q, Theta[:2, :2], terms)
    with pytest.raises(ValueError, match="'V'"):
        compute_rayleigh_statistics(Theta, np.eye(4))
    with pytest.raises(ValueError, match="Theta"):
        finish_computing_eigenvalue_decomposition(Q, Theta[:, :, 0])
    with pytest.raises(ValueError, match="block_size_r"):
        get_random_range_vectors(terms, 12, 0)


# ----------------------------------------------------------------------------- range finders
def original_range_case():
    state = np.random.RandomState(seed=0)
    Q, _ = np.linalg.qr(state.randn(100, 100))
    d = np.concatenate((np.ones(10), np.exp(-np.arange(90))))
    return state, (lambda x: Q @ np.diag(d) @ (Q.T @ x))


def test_block_range_finder_original_form(capsys):
    state, Aop = original_range_case()
    Q_range = block_range_finder(Aop, 100, 1e-5, 10)      # the original test
    assert Q_range.shape[-1] <= 40
    action = Aop(state.randn(100, 1))
    assert np.linalg.norm(action - Q_range @ (Q_range.T @ action)) < 1e-5
    assert capsys.readouterr().out == ""
    for Q in (block_range_finder(Aop, 100, 1e-5, 10, False, 0),
              block_range_finder(A_op=Aop, n=100, epsilon=1e-5, block_size=10),
              block_range_finder(Aop, 100, 1e-5, 10, seed=0, verbose=False)):
        np.testing.assert_array_equal(Q, Q_range)
    assert capsys.readouterr().out == ""
    np.testing.assert_array_equal(block_range_finder(Aop, 100, 1e-5, 10, True, 0), Q_range)
    assert "error estimate" in capsys.readouterr().out
    with pytest.raises(TypeError, match="unexpected keyword argument 'foo'"):
        block_range_finder(Aop, 100, 1e-5, 10, foo=1)
    with pytest.raises(TypeError, match="too many positional"):
        block_range_finder(Aop, 100, 1e-5, 10, True, 0, 1)
    with pytest.raises(TypeError, match="max_vectors"):
        block_range_finder(A_op=Aop, n=100, epsilon=1e-5, block_size=10, max_vectors=3)
    with pytest.raises(ValueError, match="block_size"):
        block_range_finder(Aop, 100, 1e-5, 0, False)


@pytest.fixture
def regression():
    case = make_case("regression", "mlp")
    sess = make_session(case.problem)
    yield case.problem, case.feed_dict, sess
    sess.close()


def test_noise_aware_range_finder_feed_form(regression, capsys):
    problem, feed, sess = regression
    n = problem.dimension
    H = Hessian(problem, sess)
    bound = HessianWrapper(H, feed)
    # identical feed dicts: no spread, never noise; the same basis as the block range finder
    Q = noise_aware_adaptive_range_finder(H, feed, [feed, feed], block_size=4, epsilon=1e-9,
                                          max_vectors=n)
    Q_block = block_range_finder(bound, n, 1e-9, 4, max_vectors=n, seed=0)
    np.testing.assert_allclose(Q, Q_block, atol=1e-12)
    assert capsys.readouterr().out == ""
    # with the whole range the Rayleigh-Ritz values are the Hessian's eigenvalues
    values, _ = eigensolver_from_range(bound, Q)
    exact = np.linalg.eigvalsh(explicit_hessian(problem, sess, feed))
    np.testing.assert_allclose(np.sort(values), exact, atol=1e-8 * np.abs(exact).max())
    # real partitions and a demanding signal-to-noise ratio: stops after the first block, kept
    parts = problem._partition_dictionaries(feed, 2)
    Q_noisy = noise_aware_adaptive_range_finder(H, feed, parts, 3, 1e12, 1e-9, n, True, 0)
    assert Q_noisy.shape == (n, 3)
    assert "snr" in capsys.readouterr().out
    # the default block size is max(1, int(0.01 n)); max_vectors 20 as in the original
    assert noise_aware_adaptive_range_finder(H, feed, [feed, feed], epsilon=0.0).shape == (n, 20)

    with pytest.raises(TypeError, match="unexpected keyword argument 'foo'"):
        noise_aware_adaptive_range_finder(H, feed, parts, foo=1)
    with pytest.raises(TypeError, match="too many positional"):
        noise_aware_adaptive_range_finder(H, feed, parts, 3, 1.0, 0.1, 20, False, 0, 1)
    with pytest.raises(TypeError, match="hessian_feed_dict"):
        noise_aware_adaptive_range_finder(Hessian=H, hessian_feed_dict=[feed],
                                          rq_estimator_dict_list=parts)
    with pytest.raises(ValueError, match="rq_estimator_dict_list"):
        noise_aware_adaptive_range_finder(H, feed, [feed])
    with pytest.raises(TypeError, match=r"rq_estimator_dict_list\[1\]"):
        noise_aware_adaptive_range_finder(H, feed, [feed, 3])
    with pytest.raises(TypeError, match="'Hessian'"):
        noise_aware_adaptive_range_finder(np.eye(n), feed, parts)


# ----------------------------------------------------------------------------- eigensolvers
def test_randomized_eigensolver_original_forms(capsys):
    state = np.random.RandomState(seed=0)
    Q, _ = np.linalg.qr(state.randn(100, 100))
    d = np.concatenate((np.ones(10), np.exp(-np.arange(90))))
    Aop = lambda x: Q @ np.diag(d) @ Q.T @ x  # noqa: E731
    d_hl, U_hl = randomized_eigensolver(Aop, 100, 100)   # the original test
    assert np.linalg.norm(d[:50] - d_hl[:50]) < 1e-10
    assert capsys.readouterr().out == ""
    d_v, U_v = randomized_eigensolver(Aop, 100, 100, None, 0, True)
    assert "Computing eigenvalue decomposition" in capsys.readouterr().out
    np.testing.assert_array_equal(d_v, d_hl)
    np.testing.assert_array_equal(randomized_eigensolver(Aop, 100, 5, verbose=True)[0],
                                  randomized_eigensolver(Aop, 100, 5)[0])
    basis = np.linalg.qr(state.randn(100, 12))[0]
    values, _ = eigensolver_from_range(Aop, basis, verbose=True)
    assert "Forming small square matrix" in capsys.readouterr().out
    np.testing.assert_array_equal(values, eigensolver_from_range(Aop, basis)[0])
    assert capsys.readouterr().out == ""
    with pytest.raises(TypeError, match="verbose"):
        randomized_eigensolver(Aop, 100, 5, verbose="yes")
    with pytest.raises(TypeError, match="unexpected keyword argument 'foo'"):
        randomized_eigensolver(Aop, 100, 5, foo=1)


def test_randomized_double_pass_eigensolver():
    n, m, k = 40, 9, 4
    spectrum = np.zeros(n)
    spectrum[:6] = [6.0, -4.0, 2.5, 1.5, -0.75, 0.25]
    A = symmetric_matrix(spectrum, seed=3)
    A_before = A.copy()
    omega = np.random.default_rng(1).standard_normal((n, m))
    Y = (A @ omega).T
    Y_before = Y.copy()
    lmbda, Ut = randomized_double_pass_eigensolver(lambda X: X @ A, Y, k)  # rows, as the original
    assert lmbda.shape == (k,) and Ut.shape == (k, n)
    exact = spectrum[np.argsort(-np.abs(spectrum))][:k]
    np.testing.assert_allclose(lmbda, exact, rtol=1e-10)
    np.testing.assert_allclose(Ut @ Ut.T, np.eye(k), atol=1e-10)
    np.testing.assert_allclose(A @ Ut.T, Ut.T * lmbda, atol=1e-9)
    # an array operator, and today's eigensolver_from_range on the same range: the same pairs
    lmbda_array, Ut_array = randomized_double_pass_eigensolver(A, Y, k)
    np.testing.assert_allclose(lmbda_array, lmbda, rtol=1e-12)
    values, vectors = eigensolver_from_range(A, np.linalg.qr(Y.T)[0])
    np.testing.assert_allclose(values[:k], lmbda, rtol=1e-12)
    np.testing.assert_allclose(np.abs(np.sum(vectors[:, :k] * Ut.T, axis=0)), 1.0, atol=1e-10)
    assert np.array_equal(A, A_before) and np.array_equal(Y, Y_before)

    with pytest.raises(ValueError, match="'Y'"):
        randomized_double_pass_eigensolver(A, Y[0], k)
    with pytest.raises(ValueError, match="n >= m"):
        randomized_double_pass_eigensolver(A, Y.T, k)
    with pytest.raises(ValueError, match="'k'"):
        randomized_double_pass_eigensolver(A, Y, m + 1)
    with pytest.raises(ValueError, match="'Aop'"):
        randomized_double_pass_eigensolver(lambda X: X[:, :3], Y, k)
    with pytest.raises(TypeError):
        randomized_double_pass_eigensolver(A, Y, k, p=3)


def test_low_rank_hessian_and_finite_difference_check_verbose(regression, capsys):
    problem, feed, sess = regression
    optimizer = GradientDescent(problem, sess=sess)
    full = problem.dimension - 3  # oversampling to the whole space: exact pairs
    values, _ = low_rank_hessian(optimizer, feed, 3, full, False)
    assert capsys.readouterr().out == ""
    exact = np.linalg.eigvalsh(explicit_hessian(problem, sess, feed))
    exact = exact[np.argsort(-np.abs(exact))]
    np.testing.assert_allclose(values, exact[:3], rtol=1e-6)
    verbose_values, _ = low_rank_hessian(GradientDescent(problem, sess=sess), feed, 3, full, True)
    assert "Applying Hessian" in capsys.readouterr().out
    np.testing.assert_array_equal(verbose_values, values)

    ones = [np.ones(shape) for shape in problem.shapes]
    out = finite_difference_check(sess, problem, feed, None, ones, False)
    assert capsys.readouterr().out == ""
    today = finite_difference_check(sess, problem, feed, dw=np.ones(problem.dimension))
    for key in ("epsilons", "gradient_errors", "hessian_errors"):
        np.testing.assert_array_equal(out[key], today[key])
    np.testing.assert_array_equal(out["epsilon"], out["epsilons"])
    np.testing.assert_allclose(out["error_g"], out["gradient_errors"] * abs(out["g_dw"]), rtol=1e-12)
    np.testing.assert_allclose(out["error_H"], out["hessian_errors"] * np.linalg.norm(out["Hdw"]),
                               rtol=1e-12)
    assert min(out["error_H"]) < 1e-6 * np.linalg.norm(out["Hdw"])
    loud = finite_difference_check(sess, problem, feed, w_hat=ones, verbose=True)
    printed = capsys.readouterr().out
    assert "error_g" in printed and len(printed.splitlines()) == 2 + len(loud["epsilon"])
    np.testing.assert_array_equal(loud["error_H"], out["error_H"])
    with pytest.raises(TypeError, match="w_hat"):
        finite_difference_check(sess, problem, feed, dw=ones, w_hat=ones)
    with pytest.raises(ValueError, match=r"w_hat\[0\]"):
        finite_difference_check(sess, problem, feed, w_hat=[np.ones(2)] * len(ones))
    with pytest.raises(TypeError, match="verbose"):
        finite_difference_check(sess, problem, feed, verbose="yes")


# ----------------------------------------------------------------------------- names
def test_regularization_and_preconditioner_names(regression):
    problem, feed, sess = regression
    assert issubclass(hl.L2Regularization, hl.Regularization)
    with pytest.raises(TypeError):
        hl.Regularization()
    assert hl.ParametersRegularization()["gamma"] == 0.1
    reg = hl.L2Regularization(problem, None, hl.ParametersRegularization())
    assert reg.gamma == 0.1 and reg.is_active
    custom = hl.L2Regularization(problem, parameters=hl.ParametersRegularization({"gamma": [0.3, "g"]}))
    assert custom.gamma == 0.3
    assert hl.L2Regularization(problem, 0.2, hl.ParametersRegularization()).gamma == 0.2
    w = problem.get_weights(sess)
    v = np.random.default_rng(0).standard_normal(problem.dimension)
    cost, hv = sess.run([reg.cost, reg.H_w_hat], {problem.dw: v})
    np.testing.assert_allclose(cost, 0.05 * w @ w, rtol=1e-12)
    np.testing.assert_allclose(hv, 0.1 * v, rtol=1e-12)
    with pytest.raises(ValueError, match="dtype"):
        hl.L2Regularization(problem, 0.1, dtype=hl.tf.float32)

    M = hl.IdentityPreconditioner(problem)
    assert isinstance(M, hl.Preconditioner)
    np.testing.assert_array_equal(sess.run(M(), {M.x: v}), v)
    with pytest.raises(ValueError, match="dtype"):
        hl.IdentityPreconditioner(problem, dtype=hl.tf.float32)


def test_parameter_and_settings_names():
    p = hl.ParametersOptimizer()
    assert p.items() == [("alpha", 1.0), ("rel_tolerance", 1e-3), ("abs_tolerance", 1e-4),
                         ("globalization", None)]
    extra = {"beta": [0.5, "an extra entry"], "alpha": [0.1, "step"]}
    q = hl.ParametersOptimizer(extra)
    assert q["beta"] == 0.5 and q["alpha"] == 0.1 and extra == {"beta": [0.5, "an extra entry"],
                                                                "alpha": [0.1, "step"]}
    with pytest.raises(TypeError):
        hl.ParametersOptimizer({"alpha": 0.1})        # entries are [value, description]
    settings = hl.KerasModelWrapperSettings({})
    assert settings == hl.HessianlearnModelSettings()
    for key in ("problem_name", "title", "logger_outname", "printing_items", "printing_sweep_frequency",
                "validate_frequency", "save_weights", "max_sweeps", "verbose", "intra_threads",
                "inter_threads", "layer_weights", "record_spectrum", "target_rank", "oversample"):
        assert key in settings
    settings["max_sweeps"] = 3
    assert hl.KerasModelWrapperSettings({"max_sweeps": 3}) == settings
    with pytest.raises(KeyError, match="max_sweeps"):
        hl.KerasModelWrapperSettings({"max_sweep": 3})


def test_dict_data_and_iterators(capsys):
    x = np.arange(14.0).reshape(7, 2)
    y = np.arange(7)
    x_before, y_before = x.copy(), y.copy()
    data = hl.DictData({"x": x, "y": y})
    assert data.size == 7 and set(data.keys()) == {"x", "y"} and data["y"] is not None
    iterator = hl.BatchIterator(data, 3, max_epochs=3, seed=5)
    batches = list(iterator)
    assert capsys.readouterr().out == ""
    served = np.concatenate([b["y"] for b in batches])
    assert all(b["x"].shape == (3, 2) and np.array_equal(b["x"][:, 0], 2 * b["y"]) for b in batches)
    np.testing.assert_array_equal(served[:7], np.arange(7))          # the first epoch in order
    np.testing.assert_array_equal(np.sort(served[7:14]), np.arange(7))   # then permutations
    assert iterator.epoch == 3 and len(served) >= 3 * 7 - 3
    again = [b["y"] for b in hl.BatchIterator({"x": x, "y": y}, 3, max_epochs=3, seed=5)]
    np.testing.assert_array_equal(np.concatenate(again), served)
    other = np.concatenate([b["y"] for b in hl.BatchIterator(data, 3, max_epochs=3, seed=6)])
    assert not np.array_equal(other, served)
    assert np.array_equal(x, x_before) and np.array_equal(y, y_before)
    list(hl.BatchIterator(data, 7, max_epochs=1, verbose=True))
    assert "Maximum epochs reached" in capsys.readouterr().out

    static = hl.StaticIterator(data)
    first, second = next(static), next(iter(static))
    assert isinstance(first, dict) and static.index == 2
    np.testing.assert_array_equal(first["x"], x)
    np.testing.assert_array_equal(second["y"], y)

    with pytest.raises(ValueError, match="first dimension"):
        hl.DictData({"x": x, "y": y[:5]})
    with pytest.raises(TypeError, match="dict"):
        hl.DictData([x, y])
    with pytest.raises(ValueError, match="empty"):
        hl.DictData({})
    with pytest.raises(ValueError, match="batch_size"):
        hl.BatchIterator(data, 8)
    with pytest.raises(ValueError, match="max_epochs"):
        hl.BatchIterator(data, 2, max_epochs=0)
