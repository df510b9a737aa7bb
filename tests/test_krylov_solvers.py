"""Tests of the CG, GMRES and MINRES solvers (numpy references, all operator forms)."""
import warnings

import numpy as np
import pytest

from hessianlearn.algorithms.cg_solver import (
    CGSolver,
    ParametersCGSolver,
    SolverInfo,
    eisenstat_walker_forcing_term,
)
from hessianlearn.algorithms.gmres_solver import GMRESSolver, ParametersGMRESSolver
from hessianlearn.algorithms.minres_solver import MINRESSolver, ParametersMINRESSolver
from linalg_cases import FORMS, symmetric_matrix


@pytest.fixture
def spd_system():
    A = symmetric_matrix(np.linspace(1.0, 100.0, 40))
    b = np.random.default_rng(1).standard_normal(40)
    return A, b


def cg(**settings):
    parameters = ParametersCGSolver()
    parameters.update(settings)
    return CGSolver(parameters)


@pytest.mark.parametrize("form", FORMS)
def test_cg_solves_spd_system_to_tolerance(spd_system, form):
    A, b = spd_system
    A_before, b_before = A.copy(), b.copy()
    x, info = cg(rel_tolerance=1e-10).solve(FORMS[form](A), b)
    assert isinstance(info, SolverInfo)
    assert info.converged and info.reason == "tolerance"
    residual = np.linalg.norm(b - A @ x)
    assert residual <= 1e-10 * np.linalg.norm(b) * 1.01
    assert info.residual_norm == pytest.approx(residual, rel=1e-3, abs=1e-12)
    exact = np.linalg.solve(A, b)
    np.testing.assert_allclose(x, exact, rtol=1e-7, atol=1e-9 * np.linalg.norm(exact))
    np.testing.assert_array_equal(A, A_before)
    np.testing.assert_array_equal(b, b_before)


def test_cg_loose_tolerance_stops_early_and_meets_it(spd_system):
    A, b = spd_system
    loose_x, loose = cg(rel_tolerance=1e-2).solve(A, b)
    _, tight = cg(rel_tolerance=1e-10).solve(A, b)
    assert loose.iterations < tight.iterations
    assert np.linalg.norm(b - A @ loose_x) <= 1e-2 * np.linalg.norm(b)


def test_cg_initial_guess_and_callback(spd_system):
    A, b = spd_system
    exact = np.linalg.solve(A, b)
    x0 = exact + 1e-3
    x0_before = x0.copy()
    seen = []
    x, info = cg(rel_tolerance=1e-10).solve(A, b, x0=x0, callback=seen.append)
    np.testing.assert_array_equal(x0, x0_before)
    assert len(seen) == info.iterations
    np.testing.assert_allclose(x, exact, rtol=1e-7)
    x, info = cg().solve(A, b, x0=exact)
    assert info.iterations == 0 and info.converged


def test_cg_max_iterations_reason(spd_system):
    A, b = spd_system
    _, info = cg(max_iterations=3, rel_tolerance=1e-12).solve(A, b)
    assert info.reason == "max_iterations" and not info.converged
    assert info.iterations == 3


@pytest.mark.parametrize("mode", [1, 2])
def test_cg_eisenstat_walker_modes_run_and_converge(spd_system, mode):
    A, b = spd_system
    solver = cg(eta_mode=mode, rel_tolerance=0.5)
    # First Newton iteration: no forcing state yet, rel_tolerance is used.
    x, info = solver.solve(A, b)
    assert info.relative_tolerance == 0.5 and info.converged
    # Gradient norm fell by 100: the forcing term shrinks and CG meets it.
    solver.set_forcing_state(np.linalg.norm(b) / 100, np.linalg.norm(b),
                             info.residual_norm)
    eta = solver.relative_tolerance()
    assert 0.0 <= eta < 0.5
    small_b = b / 100
    x, info = solver.solve(A, small_b)
    assert info.converged and info.relative_tolerance == pytest.approx(eta)
    assert np.linalg.norm(small_b - A @ x) <= max(eta * np.linalg.norm(small_b),
                                                  1e-12) * 1.01


def test_eisenstat_walker_formulas():
    eta1 = eisenstat_walker_forcing_term(1, 1.0, 4.0, previous_linear_residual=0.5)
    assert eta1 == pytest.approx(0.5 / 4.0)
    eta2 = eisenstat_walker_forcing_term(2, 1.0, 4.0, gamma=0.9, alpha=2.0)
    assert eta2 == pytest.approx(0.9 / 16.0)
    # Safeguard: a large previous forcing term keeps the new one from collapsing.
    guarded = eisenstat_walker_forcing_term(2, 1.0, 4.0, previous_eta=0.8,
                                            gamma=0.9, alpha=2.0)
    assert guarded == pytest.approx(0.9 * 0.8 ** 2)
    assert eisenstat_walker_forcing_term(2, 100.0, 1.0) == 0.9  # eta_max
    with warnings.catch_warnings():  # a ratio whose power overflows: eta_max, quietly
        warnings.simplefilter("error")
        assert eisenstat_walker_forcing_term(2, 1e200, 1.0) == 0.9
        assert eisenstat_walker_forcing_term(1, 1e200, 1.0, previous_linear_residual=0.0) == 0.9
    with pytest.raises(ValueError, match="previous_linear_residual"):
        eisenstat_walker_forcing_term(1, 1.0, 2.0)
    with pytest.raises(ValueError, match="eta_mode"):
        eisenstat_walker_forcing_term(3, 1.0, 2.0)
    with pytest.raises(ValueError, match="previous_grad_norm"):
        eisenstat_walker_forcing_term(2, 1.0, 0.0)


@pytest.mark.parametrize("mode", [0, 1, 2])
def test_the_forcing_law_in_a_graph_is_the_solvers_forcing_term(mode):
    """``CGSolver.forcing_law`` evaluated by ``step_math.forcing_term`` on TensorFlow
    tensors gives ``relative_tolerance`` after ``set_forcing_state``, with the safeguard
    active and not, before any state and with one."""
    from hessianlearn import tf
    from hessianlearn.utilities.step_math import forcing_term
    solver = cg(eta_mode=mode, rel_tolerance=0.3)
    graph = tf.Graph()
    with graph.as_default():
        norm = tf.placeholder(tf.float64, [])
        law = {key: tf.placeholder(tf.bool if key in ("fixed", "choice_1") else tf.float64, [])
               for key in solver.forcing_law()}
        eta = tf.where(law["fixed"], law["fixed_eta"], forcing_term(
            norm, law["previous_grad_norm"], law["previous_residual"], law["choice_1"],
            law["floor"], law["gamma"], law["alpha"], law["eta_max"], xp=tf))
    checked = 0
    with tf.Session(graph=graph) as sess:
        for previous_eta in (None, 0.05, 0.9):
            for grad_norm, previous, residual in [(1.0, 4.0, 0.5), (3.0, 2.0, 0.1), (0.2, 0.25, 0.3)]:
                solver._previous_eta = previous_eta
                values = solver.forcing_law(previous, residual)
                solver.set_forcing_state(grad_norm, previous, residual)
                expected = solver.relative_tolerance()
                got = sess.run(eta, {norm: grad_norm, **{law[k]: v for k, v in values.items()}})
                assert got == pytest.approx(expected, rel=1e-14, abs=0.0)
                assert values["fixed"] == (mode == 0)
                checked += 1
    assert checked == 9
    with pytest.raises(ValueError, match="previous_linear_residual"):
        cg(eta_mode=1).forcing_law(2.0)


def indefinite_matrix():
    return symmetric_matrix(np.concatenate([np.linspace(1.0, 10.0, 20),
                                            [-5.0, -1.0]]), seed=3)


def test_cg_negative_curvature_exit_returns_descent_direction():
    A = indefinite_matrix()
    b = np.random.default_rng(2).standard_normal(A.shape[0])
    x, info = cg(rel_tolerance=1e-12).solve(A, b)
    assert info.reason == "negative_curvature" and not info.converged
    # The returned step is a descent direction for the model m(x) = x.Ax/2 - b.x
    assert np.dot(b, x) > 0
    assert info.residual_norm == pytest.approx(np.linalg.norm(b - A @ x), rel=1e-6)


def test_cg_negative_curvature_at_first_iteration_returns_b():
    A = -np.eye(5)
    b = np.arange(1.0, 6.0)
    x, info = CGSolver().solve(A, b)
    assert info.reason == "negative_curvature" and info.iterations == 1
    np.testing.assert_array_equal(x, b)
    assert x is not b


def test_steihaug_boundary_under_negative_curvature():
    A = indefinite_matrix()
    b = np.random.default_rng(2).standard_normal(A.shape[0])
    radius = 50.0
    x, info = cg(trust_region_radius=radius, rel_tolerance=1e-12).solve(A, b)
    assert info.reason == "negative_curvature"
    assert np.linalg.norm(x) == pytest.approx(radius, rel=1e-12)
    model = 0.5 * x @ A @ x - b @ x
    assert model < 0


def test_steihaug_boundary_when_newton_step_is_outside(spd_system):
    A, b = spd_system
    newton = np.linalg.solve(A, b)
    radius = 0.3 * np.linalg.norm(newton)
    x, info = cg(trust_region_radius=radius).solve(A, b)
    assert info.reason == "trust_region_boundary"
    assert np.linalg.norm(x) == pytest.approx(radius, rel=1e-12)
    assert 0.5 * x @ A @ x - b @ x < 0
    # Inside: the region does not bind and CG converges to the Newton step.
    x, info = cg(trust_region_radius=2 * np.linalg.norm(newton),
                 rel_tolerance=1e-10).solve(A, b)
    assert info.reason == "tolerance"
    np.testing.assert_allclose(x, newton, rtol=1e-7)


def test_steihaug_first_iteration_negative_curvature_goes_to_boundary_along_b():
    b = np.array([3.0, 4.0])
    x, info = cg(trust_region_radius=2.0).solve(-np.eye(2), b)
    np.testing.assert_allclose(x, 2.0 * b / 5.0)


def test_cg_rejects_bad_inputs(spd_system):
    A, b = spd_system
    with pytest.raises(ValueError, match="'b'"):
        CGSolver().solve(A, b[:-1])
    with pytest.raises(ValueError, match="'b'"):
        CGSolver().solve(A, b.reshape(-1, 1))
    with pytest.raises(ValueError, match="'x0'"):
        CGSolver().solve(A, b, x0=np.ones(3))
    with pytest.raises(ValueError, match="trust region"):
        cg(trust_region_radius=1e-3).solve(A, b, x0=np.ones(40))
    with pytest.raises(TypeError, match="parameters"):
        CGSolver({"rel_tolerance": 1e-3})
    with pytest.raises(ValueError, match="eta_mode"):
        cg(eta_mode=7).solve(A, b)
    with pytest.raises(KeyError, match="rel_tolerance"):
        ParametersCGSolver()["rel_tolerence"]


def test_solver_copies_parameters():
    parameters = ParametersCGSolver()
    solver = CGSolver(parameters)
    parameters["rel_tolerance"] = 0.5
    assert solver.parameters["rel_tolerance"] != 0.5


@pytest.mark.parametrize("solver_class, parameters", [
    (GMRESSolver, ParametersGMRESSolver), (MINRESSolver, ParametersMINRESSolver)])
@pytest.mark.parametrize("form", FORMS)
def test_gmres_and_minres_agree_with_cg_on_spd(spd_system, solver_class,
                                               parameters, form):
    A, b = spd_system
    b_before = b.copy()
    settings = parameters()
    settings["rel_tolerance"] = 1e-10
    x, info = solver_class(settings).solve(FORMS[form](A), b)
    x_cg, _ = cg(rel_tolerance=1e-10).solve(A, b)
    assert info.converged and info.reason == "tolerance"
    assert info.iterations > 0
    np.testing.assert_allclose(x, x_cg, rtol=1e-6)
    assert info.residual_norm == pytest.approx(np.linalg.norm(b - A @ x))
    np.testing.assert_array_equal(b, b_before)


def test_minres_solves_indefinite_system_that_cg_cannot():
    A = indefinite_matrix()
    b = np.random.default_rng(4).standard_normal(A.shape[0])
    settings = ParametersMINRESSolver()
    settings["rel_tolerance"] = 1e-10
    x, info = MINRESSolver(settings).solve(A, b)
    assert info.converged
    np.testing.assert_allclose(x, np.linalg.solve(A, b), rtol=1e-6, atol=1e-8)


def test_gmres_solves_nonsymmetric_system_and_reports_max_iterations():
    rng = np.random.default_rng(5)
    A = np.eye(30) * 5 + rng.standard_normal((30, 30))
    b = rng.standard_normal(30)
    settings = ParametersGMRESSolver()
    settings["rel_tolerance"] = 1e-10
    x, info = GMRESSolver(settings).solve(A, b, x0=np.zeros(30))
    assert info.converged
    np.testing.assert_allclose(x, np.linalg.solve(A, b), rtol=1e-7, atol=1e-9)
    settings["max_iterations"] = 2
    _, info = GMRESSolver(settings).solve(A, b)
    assert info.reason == "max_iterations" and not info.converged
    assert info.iterations <= 2


@pytest.mark.parametrize("solver_class", [GMRESSolver, MINRESSolver])
def test_scipy_based_solvers_reject_bad_inputs(solver_class):
    with pytest.raises(ValueError, match="'b'"):
        solver_class().solve(np.eye(3), np.ones(4))
    with pytest.raises(TypeError, match="'A'"):
        solver_class().solve("eye", np.ones(3))
