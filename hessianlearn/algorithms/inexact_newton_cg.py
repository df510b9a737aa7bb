"""Inexact Newton-CG (O'Leary-Roseberry, Alger, Ghattas, arXiv:1905.06738)."""
import numpy as np

from ..problem.fused_steps import CG_REASONS, fused_step
from ..utilities.parameter_list import ParameterList
from ..utilities.reduction import evaluate
from .cg_solver import CGSolver, ParametersCGSolver, SolverInfo
from .optimizer import (NonFiniteError, Optimizer, _check_choice, _check_count, _check_positive,
                        at_point_parameters, line_search_parameters)
from .trust_region import TrustRegion

__all__ = ["InexactNewtonCG", "ParametersInexactNewtonCG"]


def ParametersInexactNewtonCG():
    """A fresh ``ParameterList`` of :class:`InexactNewtonCG` settings."""
    entries = {
        "alpha": [1.0, "Fixed step length (globalization None); line searches start at line_search_alpha"],
        "globalization": [None, "None (fixed step alpha), 'line_search' (Armijo) or "
                                "'trust_region' (Steihaug CG)"],
        "cg_coarse_tolerance": [0.5, "CG relative tolerance (eta_mode 0) and first forcing term"],
        "cg_abs_tolerance": [1e-12, "CG absolute residual floor"],
        "cg_max_iter": [10, "Maximum CG iterations (Hessian-vector products) per step"],
        "eta_mode": [2, "Forcing term: 0 fixed cg_coarse_tolerance, 1 or 2 Eisenstat-Walker"],
        "trust_region_initial_radius": [1.0, "Initial trust-region radius (trust_region)"],
        "trust_region_max_radius": [1e3, "Largest trust-region radius (trust_region)"],
        "hessian_type": ["hessian", "Curvature operator: 'hessian' or 'gauss_newton' (generalized Gauss-Newton J^T H_L J)"],
        **at_point_parameters(),
        "cg_in_graph": [False, "Run CG in the graph (one session run per solve, fixed step or "
                               "line search, single process); on CPU at Tutorial 0's size the host "
                               "CG at a captured point is faster (bench/newton_cg_paths.py)"],
        "seed": [0, "Seed of the optimizer's random generator"],
    }
    entries.update(line_search_parameters())
    return ParameterList(entries)


class InexactNewtonCG(Optimizer):
    """Newton step ``H p = -g`` solved inexactly by CG, with a globalization.

    The CG relative tolerance is the Eisenstat-Walker forcing term ``eta_k``
    (``eta_mode`` 1 or 2, from ``||g_k||``, ``||g_{k-1}||`` and the previous
    linear residual; the first step uses ``cg_coarse_tolerance``), or fixed
    (``eta_mode`` 0). On mini-batches consecutive gradients come from different
    batches, so the forcing term is a heuristic there. CG stops at non-positive
    curvature ``d^T H d <= 0`` with the last iterate (``-g`` at the first CG
    iteration), which is a descent direction.

    Globalizations: ``None`` (``w += alpha p``), ``'line_search'`` (Armijo from
    ``line_search_alpha``), ``'trust_region'`` (Steihaug CG in the radius of a
    :class:`~hessianlearn.algorithms.trust_region.TrustRegion`; the trial point
    ``w + p`` is accepted or rejected from ``rho = actual / predicted
    reduction``, which costs one loss evaluation and one extra Hessian-vector
    product for ``p^T H p``).

    Attributes
    ----------
    solver : CGSolver
    trust_region : TrustRegion or None
    last_solver_info : SolverInfo or None
    first_step_in_gradient_run : bool
        Class attribute, ``True``: on the fast path with a fixed step and a Hessian batch
        of its own, CG's first iteration and the update run in the gradient's session run
        (:class:`~hessianlearn.problem.fused_steps.PrimedNewtonCGStep`) at the first step
        and after a step whose solve ended at its first iteration, and finish the step
        whenever that iteration ends the solve; ``False`` keeps them on the host (the same
        steps to round-off, one session run more per step).
    """

    globalizations = (None, "line_search", "trust_region")
    primes_first_product = True  # CG from zero: its first product is on b = -g
    first_step_in_gradient_run = True  # see the class docstring
    state_attributes = Optimizer.state_attributes + (
        "last_solver_info", "_previous_norm_g", "solver._forcing_state", "solver._previous_eta",
        "trust_region.radius")

    @classmethod
    def default_parameters(cls):
        return ParametersInexactNewtonCG()

    def __init__(self, problem, regularization=None, sess=None, parameters=None, comm=None):
        super().__init__(problem, regularization, sess, parameters, comm)
        self.solver = CGSolver(ParametersCGSolver())
        self.trust_region = TrustRegion(radius=float(self.parameters["trust_region_initial_radius"]),
                                        max_radius=float(self.parameters["trust_region_max_radius"]))
        self.last_solver_info = None
        self._previous_norm_g = None

    @classmethod
    def inactive_parameters(cls, parameters):
        """The base rule (:meth:`Optimizer.inactive_parameters`); the trust-region radii act
        only with ``'trust_region'``."""
        inactive = super().inactive_parameters(parameters)
        if _check_choice(parameters["globalization"], cls.globalizations, "globalization") \
                != "trust_region":
            inactive |= {"trust_region_initial_radius", "trust_region_max_radius"}
        return inactive

    def _check_parameters(self):
        super()._check_parameters()
        p = self.parameters
        _check_positive(p["cg_coarse_tolerance"], "cg_coarse_tolerance")
        _check_positive(p["cg_abs_tolerance"], "cg_abs_tolerance", allow_zero=True)
        _check_count(p["cg_max_iter"], "cg_max_iter")
        if p["eta_mode"] not in (0, 1, 2):
            raise ValueError(f"Parameter 'eta_mode' must be 0, 1 or 2, got {p['eta_mode']!r}.")
        _check_positive(p["trust_region_initial_radius"], "trust_region_initial_radius")
        _check_positive(p["trust_region_max_radius"], "trust_region_max_radius")
        if not isinstance(p["cg_in_graph"], (bool, np.bool_)):
            raise ValueError(f"Parameter 'cg_in_graph' must be True or False, got {p['cg_in_graph']!r}.")
        if p["cg_in_graph"]:
            blocker = ("globalization 'trust_region'" if p["globalization"] == "trust_region" else
                       "MPI (the solve cannot be reduced over ranks inside one run)"
                       if self.comm is not None else
                       "fused_step False" if p["fused_step"] is False else None)
            if blocker:
                raise ValueError(f"Parameter 'cg_in_graph' = True does not work with {blocker}; "
                                 "set cg_in_graph False.")

    def _configure_solver(self, norm_g, radius):
        """The solver's settings for this step, and its forcing state from ``norm_g``
        (``||g_k||``; ``None``: not yet known) when :meth:`_forcing_inputs` gives one."""
        sp = self.solver.parameters
        sp["rel_tolerance"] = float(self.parameters["cg_coarse_tolerance"])
        sp["abs_tolerance"] = float(self.parameters["cg_abs_tolerance"])
        sp["max_iterations"] = int(self.parameters["cg_max_iter"])
        sp["eta_mode"] = int(self.parameters["eta_mode"])
        sp["trust_region_radius"] = radius
        inputs = None if norm_g is None else self._forcing_inputs()
        if inputs is not None:
            self.solver.set_forcing_state(norm_g, *inputs)

    def _forcing_inputs(self):
        """``(||g_{k-1}||, previous residual or None)`` for the Eisenstat-Walker term of
        this step, or ``None`` while it does not apply (``eta_mode`` 0, no previous
        gradient, or choice 1 before a first solve)."""
        previous, mode = self._previous_norm_g, int(self.parameters["eta_mode"])
        if mode == 0 or previous is None or previous <= 0.0:
            return None
        residual = None if self.last_solver_info is None else self.last_solver_info.residual_norm
        return (previous, residual) if mode == 2 or residual is not None else None

    def _gradient_run_step(self, primed):
        """With a fixed step and a primed first product (fast path, single process, a
        Hessian batch of its own), CG's first iteration and the update run with the
        gradient (:class:`~hessianlearn.problem.fused_steps.PrimedNewtonCGStep`); when that
        iteration ends the solve (on Tutorial 0 at the default forcing, 92 % of the steps) the
        step costs that one session run, otherwise :meth:`_step` solves on the host from the
        primed product and the in-graph iteration was spent for nothing (about 0.1 ms at
        Tutorial 0's size). So it is tried only while it pays: at the first step and after
        a step whose solve ended at its first iteration."""
        last = self.last_solver_info
        if (primed is None or not self.first_step_in_gradient_run
                or self.globalization is not None or self._in_graph_cg()
                or last is not None and last.iterations > 1):
            return None
        self._configure_solver(None, None)  # the settings; the forcing state follows ||g||
        step = fused_step("primed_newton_cg", self.problem,
                          self.regularization if self._regularized else None, primed=primed[0])
        inputs = self._forcing_inputs()
        law = self.solver.forcing_law(*(inputs or ()))
        max_iterations = int(self.parameters["cg_max_iter"])
        return step.fetches, step.feed(law, max_iterations == 1, float(self.parameters["alpha"]))

    def _finish_in_run(self, out, g, norm_g):
        """Book a step that :class:`PrimedNewtonCGStep` applied in the gradient's run: the
        solver's state and ``last_solver_info`` as :meth:`CGSolver.solve` leaves them."""
        self._configure_solver(norm_g, None)
        eta, tolerance = self.solver.start_solve(None, norm_b=norm_g)  # b = -g
        iterations, reason = int(out["iterations"]), CG_REASONS[int(out["reason"])]
        self.sweeps[1] += iterations
        self.last_solver_info = SolverInfo(iterations, reason == "tolerance", reason,
                                           float(out["residual_norm"]), tolerance, eta)
        self._previous_norm_g = norm_g
        self.alpha = float(self.parameters["alpha"])
        self._captured_feed, self._primed = None, None  # the step is done: no operator uses them
        return {"cg_iterations": iterations, "cg_reason": reason}

    def _in_graph_cg(self):
        """Whether the step runs CG in the graph (:class:`~hessianlearn.problem.fused_steps.FusedNewtonCGStep`):
        ``cg_in_graph`` with a fixed step or line search, single process and ``fused_step``
        not False. Otherwise the fast path is the host CG with products at a captured point."""
        return (bool(self.parameters["cg_in_graph"]) and self.globalization != "trust_region"
                and self.comm is None and self.parameters["fused_step"] is not False)

    def _hessian_at_point(self):
        return False if self._in_graph_cg() else super()._hessian_at_point()

    def _fused_step(self, feed_dict, hessian_feed_dict, loss, g):
        """CG and (fixed step) the update in one session run; with ``'line_search'`` the
        run gives the direction and the Armijo search is the reference one."""
        regularization = self.regularization if self._regularized else None
        step = fused_step("newton_cg", self.problem, regularization,
                          curvature=self.parameters["hessian_type"])
        eta, tolerance = self.solver.start_solve(-g)
        line_search = self.globalization == "line_search"
        fetches = dict(step.fetches)
        if line_search:
            del fetches["update"]
            fetches["direction"] = step.direction
        out = evaluate(self.sess, fetches, step.feed(
            hessian_feed_dict, g, tolerance, int(self.parameters["cg_max_iter"]),
            float(self.parameters["alpha"])))
        iterations, reason = int(out["iterations"]), CG_REASONS[int(out["reason"])]
        self.sweeps[1] += iterations
        self.last_solver_info = SolverInfo(iterations, reason == "tolerance", reason,
                                           float(out["residual_norm"]), tolerance, eta)
        if not out["finite"]:
            raise NonFiniteError(
                f"iteration {self.iter}: the step direction is NaN or inf (the curvature on this "
                "batch is not finite); the weights were not changed."
            )
        info = {"cg_iterations": iterations, "cg_reason": reason}
        if line_search:
            info.update(self._globalize(feed_dict, loss, g, np.asarray(out["direction"])))
        else:
            self.alpha = float(self.parameters["alpha"])
        return info

    def _step(self, feed_dict, hessian_feed_dict, loss, g):
        norm_g = self.last_evaluation["norm_g"]
        in_run, self._in_run_step = self._in_run_step, None
        if in_run is not None and in_run["applied"]:
            return self._finish_in_run(in_run, g, norm_g)
        trust_region = self.globalization == "trust_region"
        self._configure_solver(norm_g, self.trust_region.radius if trust_region else None)
        if self._in_graph_cg():
            info = self._fused_step(feed_dict, hessian_feed_dict, loss, g)
            self._previous_norm_g = norm_g
            return info
        A = self.hessian_operator(hessian_feed_dict)
        p, solver_info = self.solver.solve(A, -g)
        self.last_solver_info = solver_info
        self._previous_norm_g = norm_g
        info = {"cg_iterations": solver_info.iterations, "cg_reason": solver_info.reason}
        if trust_region:
            info.update(self._trust_region_step(feed_dict, loss, g, p, A))
        else:
            info.update(self._globalize(feed_dict, loss, g, p))
        return info

    def _trust_region_step(self, feed_dict, loss, g, p, A):
        self._check_step(p)
        predicted = -(float(g @ p) + 0.5 * float(p @ A.matvec(p)))
        w0 = self.problem.get_weights(self.sess)
        self.problem.set_weights(self.sess, w0 + p)
        actual = loss - self._loss(feed_dict)
        radius = self.trust_region.radius
        accepted, rho = self.trust_region.update(actual, predicted, float(np.linalg.norm(p)))
        if not accepted:
            self.problem.set_weights(self.sess, w0)
        self.alpha = 1.0 if accepted else 0.0
        return {"accepted": accepted, "rho": rho, "radius": radius,
                "new_radius": self.trust_region.radius}
