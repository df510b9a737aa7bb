"""Curvature recording during training: logger values equal direct computations; the run is unchanged."""
import numpy as np
import pytest

from hessianlearn import keras, tf
from hessianlearn.algorithms.lanczos import lanczos, spectral_density
from hessianlearn.algorithms.trace_estimators import hutchinson_trace
from hessianlearn.data.data import Data
from hessianlearn.model.curvature_recorder import (CURVATURE_LOGGER_KEYS, CurvatureRecorder,
                                                   network_layer_names, probe_generators)
from hessianlearn.model.model import HessianlearnModel
from hessianlearn.model.settings import HessianlearnModelSettings
from hessianlearn.problem.classification_problem import ClassificationProblem
from hessianlearn.problem.gauss_newton_operator import GaussNewton
from hessianlearn.problem.hessian import Hessian
from hessianlearn.problem.regularization import L2Regularization

QUIET = {"verbose": False, "save_logger": False}
RECORD = {"record_spectrum": True, "target_rank": 3, "rayleigh_quotients": False, "trace_probes": 12,
          "top_eigenvalues": 4, "lanczos_max_iterations": 43, "record_density": True,
          "density_probes": 3, "density_lanczos_steps": 10, "record_layer_traces": True}
OPERATORS = {"hessian": Hessian, "gauss_newton": GaussNewton}


def classifier(gamma=0.0):
    """4-5-3 tanh classifier (dW = 43), N = 120 training, 30 validation samples."""
    tf.set_random_seed(0)
    x_in = keras.Input((4,))
    hidden = keras.layers.Dense(5, activation="tanh", name="hidden")(x_in)
    network = keras.Model(x_in, keras.layers.Dense(3, name="logits")(hidden))
    problem = ClassificationProblem(network, hessian_block_size=5)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((150, 4))
    y = np.eye(3)[np.argmax(x[:, :3] + 0.3 * x[:, 3:], axis=1)]
    data = Data({problem.x: x, problem.y_true: y}, 20, validation_data_size=30, hessian_batch_size=10)
    regularization = L2Regularization(problem, gamma) if gamma else None
    return problem, regularization, data


def explicit(operator, feed):
    matrix = operator(np.eye(operator.dimension), feed)
    return 0.5 * (matrix + matrix.T)


def fit(settings, gamma=0.0):
    problem, regularization, data = classifier(gamma)
    model = HessianlearnModel(problem, regularization, data, settings={**QUIET, **settings})
    return problem, regularization, model, model.fit()


@pytest.mark.parametrize("hessian_type", ["hessian", "gauss_newton"])
def test_recorded_values_equal_direct_computation(float64, hessian_type):
    # Newton-CG for one sweep; recordings after step 0 and whenever a multiple of 0.25 sweeps is crossed.
    # With save_weights off the session keeps the weights of the last step, where the last
    # recording was taken, so a direct computation there must give the same numbers.
    settings = {**RECORD, "optimizer": "incg", "alpha": 0.5, "max_sweeps": 1.0, "spec_frequency": 0.25,
                "hessian_type": hessian_type, "save_weights": False, "seed": 3}
    problem, regularization, model, logger = fit(settings, gamma=1e-2)
    # logger["sweeps"][i]: work done before step i; recordings are keyed by the step after which
    # they were taken (as in the original), so the last one is the last step's.
    sweeps = logger["sweeps"]
    steps = sorted(i for i in sweeps if i + 1 in sweeps)
    last = max(steps)
    expected = [i for i in steps if i == 0 or int(sweeps[i + 1] / 0.25 + 1e-12)
                > int(sweeps[i] / 0.25 + 1e-12)]
    assert len(expected) >= 2 and expected[-1] == last
    for key in CURVATURE_LOGGER_KEYS:
        assert sorted(logger[key]) == expected == sorted(logger["full_train_eigenvalues"]), key

    feed = model._full_training_feed()
    A = OPERATORS[hessian_type](problem, model.sess, regularization)
    n = A.dimension
    rngs = probe_generators(3, last)
    trace, error = hutchinson_trace(A.as_linear_operator(feed), n, 12, seed=rngs["trace"])
    assert logger["full_train_trace"][last] == pytest.approx(trace, rel=1e-12)
    assert logger["full_train_trace_std_error"][last] == pytest.approx(error, rel=1e-12)
    values, _ = lanczos(A.as_linear_operator(feed), n, 4, max_iterations=43, seed=rngs["lanczos"],
                        tolerance=1e-6, symmetry_tolerance=1e-8)
    np.testing.assert_allclose(logger["full_train_top_eigenvalues"][last], values[::-1], rtol=1e-12)
    grid, density = spectral_density(A.as_linear_operator(feed), n, probes=3, lanczos_steps=10,
                                     seed=rngs["density"])
    recorded_grid, recorded_density = logger["full_train_spectral_density"][last]
    np.testing.assert_allclose(recorded_grid, grid, rtol=1e-12)
    np.testing.assert_allclose(recorded_density, density, rtol=1e-10, atol=1e-14)
    assert np.trapezoid(recorded_density, recorded_grid) == pytest.approx(1.0, abs=1e-12)

    # ... and they estimate the explicit matrix's spectrum (regularization gamma I included)
    M = explicit(A, feed)
    exact = np.linalg.eigvalsh(M)
    np.testing.assert_allclose(logger["full_train_top_eigenvalues"][last], exact[::-1][:4],
                               rtol=1e-8, atol=1e-10)
    assert abs(logger["full_train_trace"][last] - np.trace(M)) <= 4 * error
    assert exact[0] >= 1e-2 - 1e-10 or hessian_type == "hessian"  # GGN + gamma I is >= gamma I

    layer_traces = logger["full_train_layer_traces"][last]
    assert list(layer_traces) == ["hidden", "logits"]
    layer_rng = rngs["layer_traces"]
    for name, (estimate, standard_error) in layer_traces.items():
        block = OPERATORS[hessian_type](problem, model.sess, regularization, layer_name=name)
        direct = hutchinson_trace(block.as_linear_operator(feed), block.dimension, 12, seed=layer_rng)
        assert (estimate, standard_error) == pytest.approx(direct, rel=1e-12)
        s = problem.layer_descriptors[f"{name}/kernel:0"]["slice"].start
        stop = problem.layer_descriptors[f"{name}/bias:0"]["slice"].stop
        assert abs(estimate - np.trace(M[s:stop, s:stop])) <= 5 * standard_error


@pytest.mark.parametrize("optimizer, hessian_type", [("lrsfn", "hessian"), ("incg", "gauss_newton"),
                                                      ("adam", "hessian")])
def test_recording_does_not_change_the_run(float64, optimizer, hessian_type):
    base = {"optimizer": optimizer, "alpha": 0.1 if optimizer != "adam" else 0.02, "max_sweeps": 3.0,
            "hessian_type": hessian_type, "hessian_low_rank": 3, "oversample": 2,
            "default_damping": 0.1, "save_weights": False, "seed": 5}
    problem, regularization, data = classifier(gamma=1e-3)  # one graph: same initial weights
    plain_model = HessianlearnModel(problem, regularization, data, settings={**QUIET, **base})
    plain = plain_model.fit()
    plain_weights = problem.get_weights(plain_model.sess)
    recorded_model = HessianlearnModel(problem, regularization, data, settings={
        **QUIET, **base, **RECORD, "spec_frequency": 0.25})
    recorded = recorded_model.fit()
    assert len(recorded["full_train_trace"]) >= 3
    for key in ("sweeps", "train_loss", "||g||", "val_loss", "alpha"):
        assert recorded[key] == plain[key], key
    np.testing.assert_array_equal(problem.get_weights(recorded_model.sess), plain_weights)
    if optimizer == "lrsfn":
        for i in plain["train_eigenvalues"]:
            np.testing.assert_array_equal(recorded["train_eigenvalues"][i], plain["train_eigenvalues"][i])


def test_without_record_spectrum_no_curvature_keys(float64):
    _, _, _, logger = fit({"optimizer": "sgd", "alpha": 0.1, "max_sweeps": 0.5})
    assert not any(key in logger for key in CURVATURE_LOGGER_KEYS)


def test_density_and_layer_traces_only_when_asked(float64):
    settings = {**RECORD, "record_density": False, "record_layer_traces": False, "optimizer": "sgd",
                "alpha": 0.1, "max_sweeps": 0.5}
    _, _, _, logger = fit(settings)
    assert "full_train_spectral_density" not in logger and "full_train_layer_traces" not in logger
    assert list(logger["full_train_trace"]) == [0]
    assert logger["full_train_top_eigenvalues"][0].shape == (4,)
    assert np.all(np.diff(logger["full_train_top_eigenvalues"][0]) <= 0)  # largest first


def test_top_eigenvalues_capped_by_dimension(float64):
    problem, regularization, data = classifier()
    settings = HessianlearnModelSettings({**RECORD, "top_eigenvalues": 50})
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    logger = {}
    CurvatureRecorder(problem, regularization, sess, settings).record(
        {problem.x: data._train_arrays[problem.x], problem.y_true: data._train_arrays[problem.y_true]},
        logger, 0)
    exact = np.linalg.eigvalsh(explicit(Hessian(problem, sess), {
        problem.x: data._train_arrays[problem.x], problem.y_true: data._train_arrays[problem.y_true]}))
    np.testing.assert_allclose(logger["full_train_top_eigenvalues"][0], exact[::-1], rtol=1e-7, atol=1e-9)
    sess.close()


def test_probe_generators_are_reproducible_and_independent():
    a, b = probe_generators(7, 3), probe_generators(7, 3)
    assert sorted(a) == ["density", "lanczos", "layer_traces", "trace"]
    draws = {name: a[name].standard_normal(4) for name in a}
    for name in b:
        np.testing.assert_array_equal(b[name].standard_normal(4), draws[name])
    assert not np.allclose(draws["trace"], draws["lanczos"])
    assert not np.allclose(probe_generators(7, 4)["trace"].standard_normal(4), draws["trace"])
    np.testing.assert_array_equal(probe_generators(None, 3)["trace"].standard_normal(4),
                                  probe_generators(0, 3)["trace"].standard_normal(4))


def test_network_layer_names(float64):
    problem, _, _ = classifier()
    assert network_layer_names(problem) == ["hidden", "logits"]


@pytest.mark.parametrize("key, value", [("trace_probes", 0), ("top_eigenvalues", -1),
                                        ("lanczos_max_iterations", 2.5), ("density_probes", None),
                                        ("density_lanczos_steps", True)])
def test_bad_recording_settings(key, value):
    with pytest.raises(ValueError, match=key):
        HessianlearnModelSettings({key: value})


def test_unknown_hessian_type_lists_the_choices():
    with pytest.raises(ValueError, match="gauss_newton"):
        HessianlearnModelSettings({"hessian_type": "fisher"})
