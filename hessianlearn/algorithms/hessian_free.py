"""Hessian-free optimization (Martens, ICML 2010): Gauss-Newton CG with Levenberg-Marquardt damping."""
import math

import numpy as np

from ..utilities.parameter_list import ParameterList
from .armijo_line_search import ArmijoLineSearch
from .lbfgs import line_search_start
from .optimizer import Optimizer, _check_count, _check_positive, line_search_parameters

__all__ = ["HessianFree", "ParametersHessianFree"]


def ParametersHessianFree():
    """A fresh ``ParameterList`` of :class:`HessianFree` settings (Martens 2010's choices)."""
    entries = {
        "alpha": [1.0, "Not a step length here: the CG step is globalized by an Armijo line "
                       "search from line_search_alpha"],
        "damping": [1.0, "Initial Levenberg-Marquardt damping lambda of G + lambda I"],
        "damping_min": [1e-8, "Smallest damping the reduction-ratio rule may reach"],
        "cg_max_iter": [50, "Maximum CG iterations (Gauss-Newton products) per step"],
        "cg_progress_tolerance": [5e-4, "Stop CG when the quadratic model's relative decrease over "
                                        "the last max(10, i/10) iterations is below that many times "
                                        "this"],
        "cg_warm_start": [0.95, "CG starts from this multiple of the previous step's last CG "
                                "iterate (0: from zero)"],
        "cg_iterate_ratio": [1.3, "Keep the CG iterates at iterations ceil(r^j) for backtracking"],
        "hessian_type": ["gauss_newton", "Curvature operator: 'gauss_newton' (Martens' choice) "
                                         "or 'hessian'"],
        "seed": [0, "Seed of the optimizer's random generator (HF draws no random numbers)"],
    }
    entries.update(line_search_parameters())
    return ParameterList(entries)


class HessianFree(Optimizer):
    """Truncated CG on ``(G + lambda I) p = -g``, CG-iterate backtracking, LM damping, Armijo.

    One step:

    1. CG on the damped Gauss-Newton system ``A p = -g``, ``A = G + lambda I``
       (``G`` the curvature operator on the Hessian batch: the generalized
       Gauss-Newton matrix ``J^T H_L J`` plus the regularization's ``gamma I``),
       started from ``0.95`` times the previous step's last CG iterate
       (``cg_warm_start``; from 0 when that start has ``phi >= 0``), stopped after ``cg_max_iter`` iterations or when
       the model ``phi(x) = g^T x + x^T A x / 2`` decreases by less than a
       relative ``k * cg_progress_tolerance`` over the last ``k = max(10, i/10)``
       iterations (Martens' rule);
    2. backtracking over the kept iterates ``x_i``, ``i = ceil(1.3^j)`` and the
       last: starting from the last, step back while the loss on the gradient
       batch at ``w + x_i`` decreases; the best one is ``p``;
    3. ``rho = (f(w + p) - f(w)) / (g^T p + p^T G p / 2)`` (reduction over the
       undamped model, ``p^T G p`` from the CG residual, no extra product);
       ``lambda <- 3/2 lambda`` if ``rho < 1/4``, ``lambda <- 2/3 lambda`` if
       ``rho > 3/4`` (never below ``damping_min``);
    4. Armijo line search on ``p`` from ``line_search_alpha`` (its unit-step
       trial reuses ``f(w + p)``).

    Problems without a Gauss-Newton form (games, VAEs, H1) raise the Gauss-Newton
    operator's ``NotImplementedError`` when the optimizer is built.

    Sweeps per step: ``sweeps[1]`` counts every Gauss-Newton product like a
    Hessian column: the CG iterations plus one for the warm start's residual;
    ``sweeps[0]`` gets 1 for the gradient and 0.5 per loss evaluation (each
    backtracking iterate, and each Armijo trial other than the unit step).

    Attributes
    ----------
    damping : float
        The current ``lambda``.
    last_rho : float or None
        The last reduction ratio.
    """

    @classmethod
    def default_parameters(cls):
        return ParametersHessianFree()

    def __init__(self, problem, regularization=None, sess=None, parameters=None, comm=None):
        super().__init__(problem, regularization, sess, parameters, comm)
        self.damping = float(self.parameters["damping"])
        self.last_rho = None
        self._previous = None

    def _check_parameters(self):
        super()._check_parameters()
        p = self.parameters
        _check_positive(p["damping"], "damping")
        _check_positive(p["damping_min"], "damping_min", allow_zero=True)
        _check_count(p["cg_max_iter"], "cg_max_iter")
        _check_positive(p["cg_progress_tolerance"], "cg_progress_tolerance")
        if not 0.0 <= _check_positive(p["cg_warm_start"], "cg_warm_start", allow_zero=True) <= 1.0:
            raise ValueError(f"Parameter 'cg_warm_start' must be in [0, 1], got {p['cg_warm_start']!r}.")
        if _check_positive(p["cg_iterate_ratio"], "cg_iterate_ratio") <= 1.0:
            raise ValueError(f"Parameter 'cg_iterate_ratio' must be > 1, got {p['cg_iterate_ratio']!r}.")

    def _cg(self, G, g):
        """CG on ``(G + lambda I) x = -g``.

        Returns the kept ``(x, r)`` pairs (the last iterate last), the number of CG
        iterations and whether a warm-start residual was computed (one product).
        """
        p = self.parameters
        lam = self.damping
        apply = lambda v: G.matvec(v) + lam * v  # noqa: E731
        x = np.zeros_like(g)
        r = -g.copy()
        warm = self._previous is not None and float(p["cg_warm_start"]) > 0.0
        if warm:
            x0 = float(p["cg_warm_start"]) * self._previous
            r0 = -g - apply(x0)
            if 0.5 * float(g @ x0) - 0.5 * float(x0 @ r0) < 0.0:  # phi(x0) < 0 = phi(0)
                x, r = x0, r0
        max_iter = int(p["cg_max_iter"])
        ratio = float(p["cg_iterate_ratio"])
        keep = {math.ceil(ratio ** j) for j in range(int(math.log(max_iter, ratio)) + 2)}
        kept, phis = [], []
        d = r.copy()
        rr = float(r @ r)
        iterations = 0
        for i in range(1, max_iter + 1):
            if rr == 0.0:
                break
            iterations = i
            Ad = apply(d)
            curvature = float(d @ Ad)
            if curvature <= 0.0:
                break
            step = rr / curvature
            x = x + step * d
            r = r - step * Ad
            rr_new = float(r @ r)
            d = r + (rr_new / rr) * d
            rr = rr_new
            phis.append(0.5 * float(g @ x) - 0.5 * float(x @ r))
            if i in keep:
                kept.append((x, r))
            k = max(10, i // 10)
            if i > k and phis[-1] < 0.0 and (phis[-1] - phis[-1 - k]) / phis[-1] < k * float(
                    p["cg_progress_tolerance"]):
                break
        if not kept or kept[-1][0] is not x:
            kept.append((x, r))
        return kept, iterations, warm

    def _step(self, feed_dict, hessian_feed_dict, loss, g):
        G = self.hessian_operator(hessian_feed_dict)
        kept, iterations, warm = self._cg(G, g)
        self._check_step(kept[-1][0])
        w0 = self.problem.get_weights(self.sess)

        def value(x):
            self.problem.set_weights(self.sess, w0 + x)
            return self._loss(feed_dict)

        index = len(kept) - 1
        best = value(kept[index][0])
        while index > 0:
            previous = value(kept[index - 1][0])
            if not previous < best:
                break
            index, best = index - 1, previous
        x, r = kept[index]
        self._previous = kept[-1][0]
        # undamped model: x^T A x = -x^T (g + r), x^T G x = x^T A x - lambda ||x||^2
        xGx = -float(x @ (g + r)) - self.damping * float(x @ x)
        predicted = float(g @ x) + 0.5 * xGx
        rho = (best - loss) / predicted if predicted < 0.0 else -np.inf
        rho = rho if np.isfinite(best) else -np.inf
        damping = self.damping
        if rho < 0.25:
            self.damping = 1.5 * self.damping
        elif rho > 0.75:
            self.damping = max(2.0 / 3.0 * self.damping, float(self.parameters["damping_min"]))
        self.last_rho = float(rho)
        info = {"cg_iterations": iterations, "cg_warm_start_product": warm,
                "cg_kept_iterates": len(kept), "cg_iterate": index, "rho": float(rho),
                "damping": damping, **self._armijo(feed_dict, loss, g, x, w0, best)}
        return info

    def _armijo(self, feed_dict, loss, g, p, w0, unit_value):
        slope = float(g @ p)
        fallback = not slope < 0.0
        if fallback:  # not a descent direction (a stopped CG): steepest descent
            p, slope = -g, -float(g @ g)

        def phi(alpha):
            if alpha == 1.0 and not fallback:
                return unit_value
            self.problem.set_weights(self.sess, w0 + alpha * p)
            return self._loss(feed_dict)

        search = ArmijoLineSearch(c1=self.parameters["c_armijo"],
                                  backtracking_factor=self.parameters["backtracking_factor"],
                                  max_backtrack=self.parameters["max_backtrack"])
        alpha, backtracks = search.search(phi, loss, slope, line_search_start(self.parameters))
        self.problem.set_weights(self.sess, w0 + alpha * p)
        self.alpha = alpha
        return {"backtracks": backtracks, "accepted": alpha > 0.0,
                "steepest_descent_fallback": bool(fallback)}
