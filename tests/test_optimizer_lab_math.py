"""The lab optimizers' updates over several steps, against numpy references on a tiny
non-quadratic float64 problem (the 2-4-1 tanh network of test_optimizers, 17 weights).

AdaHessian: bias corrections at ``t >= 2`` and a Hessian power ``k < 1``;
Hessian-free: the step is a CG iterate of ``(G + lambda I) p = -g`` (explicit ``G``)
chosen by backtracking, ``rho`` is the undamped model's reduction ratio and the
damping follows Martens' rule; L-BFGS: the direction is ``-H_k g`` with ``H_k`` the
explicit BFGS inverse built from the accepted steps' pairs.
"""
import math

import numpy as np
import pytest

from cases import explicit_hessian
from hessianlearn.algorithms.adahessian import AdaHessian
from hessianlearn.algorithms.hessian_free import HessianFree
from hessianlearn.algorithms.lbfgs import LBFGS
from test_optimizer_lab import _explicit_gauss_newton
from test_optimizers import tanh_mlp


def _gradient(case):
    return np.asarray(case.sess.run(case.problem.gradient, case.feed), dtype=np.float64)


def _loss_at(case, w):
    case.problem.set_weights(case.sess, w.copy())
    return float(case.sess.run(case.problem.loss, case.feed))


def test_adahessian_three_steps_with_bias_corrections_and_hessian_power(float64):
    case = tanh_mlp()
    n = case.problem.dimension
    beta_1, beta_2, power, alpha, eps = 0.7, 0.8, 0.5, 0.05, 1e-4
    opt = AdaHessian(case.problem, sess=case.sess, parameters={
        "alpha": alpha, "beta_1": beta_1, "beta_2": beta_2, "hessian_power": power,
        "hessian_probes": 3, "seed": 6})
    rng = np.random.default_rng(6)
    w, m, v = case.w0.copy(), np.zeros(n), np.zeros(n)
    for t in range(1, 4):
        g = _gradient(case)
        H = explicit_hessian(case.problem, case.sess, case.feed)
        Z = rng.choice(np.array([-1.0, 1.0]), size=(n, 3))
        D = np.mean(np.abs(Z * (H @ Z)), axis=1)
        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * D * D
        m_hat, v_hat = m / (1 - beta_1 ** t), v / (1 - beta_2 ** t)
        w = w - alpha * m_hat / (np.sqrt(v_hat) ** power + eps)
        opt.minimize(case.feed)
        np.testing.assert_allclose(opt.diagonal, D, rtol=1e-10)
        np.testing.assert_allclose(case.problem.get_weights(case.sess), w, rtol=1e-10, atol=1e-14)
    np.testing.assert_array_equal(opt.sweeps, [3.0, 9.0])


def _cg_iterates(A, g, iterations):
    """Plain CG on ``A x = -g`` from 0: the iterates ``x_1, ..., x_iterations``."""
    x, r = np.zeros_like(g), -g.copy()
    d, iterates = r.copy(), []
    for _ in range(iterations):
        Ad = A @ d
        step = (r @ r) / (d @ Ad)
        x = x + step * d
        r_new = r - step * Ad
        d = r_new + (r_new @ r_new) / (r @ r) * d
        r = r_new
        iterates.append(x)
    return iterates


@pytest.mark.parametrize("damping", [1e-3, 1.0])
def test_hessian_free_steps_are_backtracked_cg_iterates_with_martens_damping(float64, damping):
    case = tanh_mlp()
    ratio = 1.3
    opt = HessianFree(case.problem, sess=case.sess, parameters={
        "damping": damping, "cg_warm_start": 0.0, "cg_max_iter": 30, "cg_iterate_ratio": ratio})
    kept_indices = {math.ceil(ratio ** j) for j in range(20)}
    chose_earlier = False
    lam = damping
    for _ in range(3):
        w0 = case.problem.get_weights(case.sess)
        g = _gradient(case)
        G = _explicit_gauss_newton(case.problem, case.sess, case.feed)
        f0 = float(case.sess.run(case.problem.loss, case.feed))
        info = opt.minimize(case.feed)
        w1 = case.problem.get_weights(case.sess)
        assert info["damping"] == pytest.approx(lam, rel=1e-12)
        assert info["accepted"] and not info["steepest_descent_fallback"]
        x = (w1 - w0) / info["alpha"]
        # x is one of the kept iterates of CG on the damped Gauss-Newton system
        iterates = _cg_iterates(G + lam * np.eye(len(g)), g, info["cg_iterations"])
        last = len(iterates)
        candidates = sorted(i for i in kept_indices if i < last) + [last]
        errors = [np.linalg.norm(iterates[i - 1] - x) / np.linalg.norm(x) for i in candidates]
        chosen = info["cg_iterate"]
        # the chosen iterate is the nearest kept one; two float64 CGs on this system
        # (condition number 4e3-8e3 at damping 1e-3) drift apart by up to ~3e-7 relative
        assert errors[chosen] < 1e-6 and errors[chosen] <= 10 * min(errors), errors
        # backtracking from the last iterate: the losses rise from the chosen one to the
        # last, and the kept iterate before the chosen one is not better (to the round-off
        # of these numpy iterates, which differ from the optimizer's by ~1e-10 relative)
        losses = [_loss_at(case, w0 + iterates[i - 1]) for i in candidates[chosen:]]
        tolerance = 1e-8 * abs(f0)
        assert np.all(np.diff(losses) > -tolerance), losses
        if chosen > 0:
            before = _loss_at(case, w0 + iterates[candidates[chosen - 1] - 1])
            assert before >= losses[0] - tolerance
            chose_earlier = True
        # rho over the undamped model, and Martens' rule for the next damping
        predicted = g @ x + 0.5 * x @ G @ x
        rho = (losses[0] - f0) / predicted
        assert info["rho"] == pytest.approx(rho, rel=1e-7)
        lam = 1.5 * lam if rho < 0.25 else (2.0 / 3.0 * lam if rho > 0.75 else lam)
        assert opt.damping == pytest.approx(lam, rel=1e-12)
        case.problem.set_weights(case.sess, w1.copy())
    if damping < 0.01:  # a small damping lets CG overshoot: backtracking picks an earlier iterate
        assert chose_earlier


def _bfgs_inverse(pairs, n):
    """The BFGS inverse update applied to ``H_0 = (s^T y / y^T y) I`` of the newest pair."""
    s, y = pairs[-1]
    H = (s @ y) / (y @ y) * np.eye(n)
    for s, y in pairs:
        rho = 1.0 / (y @ s)
        V = np.eye(n) - rho * np.outer(y, s)
        H = V.T @ H @ V + rho * np.outer(s, s)
    return H


def test_lbfgs_direction_is_the_explicit_bfgs_inverse_of_its_pairs(float64):
    case = tanh_mlp()
    n = case.problem.dimension
    opt = LBFGS(case.problem, sess=case.sess, parameters={"memory": 3})
    pairs = []
    w_prev = g_prev = None
    for k in range(6):
        w = case.problem.get_weights(case.sess)
        g = _gradient(case)
        if w_prev is not None:
            s, y = w - w_prev, g - g_prev
            if s @ y > 0:
                pairs = (pairs + [(s, y)])[-3:]
        info = opt.minimize(case.feed)
        assert info["accepted"] and not info["steepest_descent_fallback"]
        if pairs:
            expected = -_bfgs_inverse(pairs, n) @ g
        else:
            expected = -g / max(1.0, np.linalg.norm(g))
        step = case.problem.get_weights(case.sess) - w
        np.testing.assert_allclose(step, info["alpha"] * expected, rtol=1e-8,
                                   atol=1e-12 * np.linalg.norm(step))
        assert info["memory_used"] == len(pairs)
        w_prev, g_prev = w, g
    assert len(pairs) == 3
