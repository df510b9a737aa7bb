"""Low-rank saddle-free Newton (O'Leary-Roseberry, Alger, Ghattas, arXiv:2002.02881)."""
import numpy as np

from ..problem.curvature_operator import DEFAULT_BLOCK_SIZE
from ..problem.fused_steps import fused_step
from ..utilities.parameter_list import ParameterList
from ..utilities.reduction import evaluate, global_sample_count, partition_feed
from ..utilities.random_matrices import TEST_MATRICES, rademacher_bits
from ..utilities.step_math import saddle_free_woodbury_direction, spectral_step_length
from .low_rank_hessian import low_rank_hessian
from .optimizer import (
    NonFiniteError,
    Optimizer,
    _check_choice,
    _check_count,
    _check_positive,
    fused_step_parameters,
    line_search_parameters,
)
from .randomized_eigensolver import eigensolver_from_range
from .range_finders import block_range_finder, noise_aware_adaptive_range_finder
from .variance_based_nystrom import variance_based_nystrom

__all__ = ["LowRankSaddleFreeNewton", "ParametersLowRankSaddleFreeNewton"]

#: Below this Tikhonov weight the regularization is too weak to damp the step and
#: ``default_damping`` is used instead.
MIN_REGULARIZATION_DAMPING = 1e-4
#: Largest k + p for which the fixed-rank eigensolver runs H on all columns in one block.
MAX_AUTOMATIC_BLOCK_SIZE = 64


def ParametersLowRankSaddleFreeNewton():
    """A fresh ``ParameterList`` of :class:`LowRankSaddleFreeNewton` settings."""
    entries = {
        "alpha": [5e-2, "Fixed step length (globalization None); line searches start at line_search_alpha"],
        "globalization": [None, "None (fixed step alpha), 'line_search' (Armijo) or "
                                "'spectral_step' (alpha = min(spectral_step_alpha, 0.1/|lambda_1|))"],
        "spectral_step_alpha": [1e-2, "Largest step length of the spectral step"],
        "hessian_low_rank": [20, "Rank r (range_finding None); the maximum rank for 'arf'/'naarf'"],
        "oversample": [0, "Oversampling p of the fixed-rank randomized eigensolver (0 as in the original LRSFN code, so an iteration costs 2r Hessian columns)"],
        "default_damping": [1e-3, "Damping gamma when the regularization's gamma is below 1e-4"],
        "range_finding": [None, "None (fixed rank), 'arf' (adaptive range finder), 'naarf' "
                                "(noise-aware adaptive range finder) or 'vn' (variance-based Nystrom)"],
        "range_rel_error_tolerance": [0.1, "arf/naarf: target ||(I-QQ^T)H|| relative to the "
                                           "previous |lambda_1|"],
        "range_abs_error_tolerance": [50, "arf/naarf: absolute floor of the range error target"],
        "range_block_size": [20, "Probe vectors per block of the adaptive methods"],
        "max_vectors_nystrom": [40, "vn: maximum basis size"],
        "max_bad_vectors_nystrom": [5, "vn: stop once this many Ritz pairs are noise-dominated"],
        "nystrom_std_tolerance": [0.5, "naarf/vn: noise tolerance (spread over partitions / |mean|)"],
        "rq_samps": [100, "naarf/vn: number of partitions of the Hessian batch (capped at its size)"],
        "hessian_type": ["hessian", "Curvature operator: 'hessian' or 'gauss_newton' (generalized Gauss-Newton J^T H_L J)"],
        "seed": [0, "Seed of the random test matrices (the generator advances every iteration)"],
        "test_matrix": ["gaussian", "Fixed-rank eigensolver's test matrix: 'gaussian' (as the original "
                                    "code) or 'rademacher' (random signs: far cheaper to draw and feed)"],
    }
    entries.update(line_search_parameters())
    entries.update(fused_step_parameters(
        "Fused: the fixed-rank step (test matrix, H Omega, QR, eigenpairs, Woodbury, update) in "
        "one session run on the Hessian batch; range_finding None (with 'line_search' the run "
        "gives the direction and the Armijo search is the reference one)"))
    return ParameterList(entries)


class LowRankSaddleFreeNewton(Optimizer):
    """Saddle-free Newton step with a low-rank eigendecomposition of the curvature.

    With ``H ~ U diag(lambda) U^T`` (``U`` orthonormal, ``(dimension, r)``) from
    the Hessian batch, ``mu = lambda - gamma_R`` the eigenvalues of the data
    Hessian (``gamma_R`` the regularization's weight, which ``H`` includes) and
    the damping ``gamma = gamma_R`` if ``gamma_R >= 1e-4`` else
    ``default_damping``, the direction is

    .. math::

        p = -(U |M| U^T + \\gamma I)^{-1} g
          = -\\frac{1}{\\gamma}\\Big(g - U \\operatorname{diag}
            \\big(\\tfrac{|\\mu_i|}{|\\mu_i| + \\gamma}\\big) U^T g\\Big)

    (Woodbury), a descent direction on nonconvex losses: negative curvature is
    followed with its absolute value, saddle points repel.

    ``range_finding``: ``None`` double-pass randomized eigensolver with rank
    ``hessian_low_rank`` and ``oversample`` (cost ``2 (r + p)`` columns);
    ``'arf'`` adaptive block range finder up to rank ``hessian_low_rank`` with
    target ``max(range_abs_error_tolerance, range_rel_error_tolerance
    |lambda_1^{previous}|)``, then Rayleigh-Ritz; ``'naarf'`` the noise-aware
    finder over ``rq_samps`` partitions of the Hessian batch; ``'vn'``
    variance-based Nystrom over those partitions. Globalization: ``None``
    (fixed ``alpha``), ``'line_search'`` (Armijo), ``'spectral_step'``
    (``alpha = min(spectral_step_alpha, 0.1 / |lambda_1|)``).

    ``test_matrix``: the fixed-rank eigensolver's test matrix, ``'gaussian'``
    (default, as the original code) or ``'rademacher'`` (random signs: much
    cheaper to draw, fed to the fused step as packed bits).

    ``fused_step`` (default ``'auto'``: used with fixed rank, single process;
    ``False`` forces the numpy path): the whole step after the gradient
    evaluation is one session run on the Hessian batch (with ``'line_search'``
    the run gives the direction, and the Armijo search is the reference one). The test matrix comes from ``rng``: Rademacher bits (the
    numpy path's draw), or a seed from which the graph draws the Gaussian
    matrix (so the two paths draw different Gaussian matrices; for the same
    matrix the steps agree to round-off, see ``bench/README.md`` for the cost).

    Attributes
    ----------
    eigenvalues : ndarray, shape (rank,)
        The last iteration's eigenvalues of ``H`` (including the
        regularization), sorted by magnitude; empty before the first step.
    eigenvectors : ndarray, shape (dimension, rank)
        The matching orthonormal eigenvectors (``None`` before the first step
        and with ``fused_step``, which keeps them in the graph).
    rank : int
        Number of eigenpairs used in the last step.
    """

    globalizations = (None, "line_search", "spectral_step")
    range_findings = (None, "arf", "naarf", "vn")
    #: the eigenvalues set the next adaptive range finder's target (``_range_epsilon``); the
    #: eigenvectors (``dimension x rank``) are recomputed by every step before any use, so a
    #: checkpoint leaves them out (``None`` after :meth:`load_state_dict` until the next step)
    state_attributes = Optimizer.state_attributes + ("eigenvalues", "rank")

    @classmethod
    def default_parameters(cls):
        return ParametersLowRankSaddleFreeNewton()

    def __init__(self, problem, regularization=None, sess=None, parameters=None, comm=None):
        super().__init__(problem, regularization, sess, parameters, comm)
        self.eigenvalues = np.zeros(0)
        self.eigenvectors = None
        self.rank = 0

    def _check_parameters(self):
        super()._check_parameters()
        p = self.parameters
        n = self.problem.dimension
        _check_choice(p["range_finding"], self.range_findings, "range_finding")
        rank = p["hessian_low_rank"]
        uses_rank = self.range_finding != "vn"  # vn is bounded by max_vectors_nystrom instead
        if isinstance(rank, bool) or not isinstance(rank, (int, np.integer)) or rank < 1 \
                or (uses_rank and rank > n):
            raise ValueError(
                f"Parameter 'hessian_low_rank' must be an int in [1, {n}] (the number of "
                f"weights), got {rank!r}."
            )
        _check_count(p["oversample"], "oversample", minimum=0)
        _check_positive(p["spectral_step_alpha"], "spectral_step_alpha")
        _check_positive(p["default_damping"], "default_damping")
        _check_positive(p["range_rel_error_tolerance"], "range_rel_error_tolerance", allow_zero=True)
        _check_positive(p["range_abs_error_tolerance"], "range_abs_error_tolerance", allow_zero=True)
        _check_count(p["range_block_size"], "range_block_size")
        _check_count(p["max_vectors_nystrom"], "max_vectors_nystrom")
        _check_count(p["max_bad_vectors_nystrom"], "max_bad_vectors_nystrom")
        _check_positive(p["nystrom_std_tolerance"], "nystrom_std_tolerance")
        _check_count(p["rq_samps"], "rq_samps", minimum=2)
        _check_choice(p["test_matrix"], TEST_MATRICES, "test_matrix")

    def _fast_path_unsupported(self):
        if self.range_finding is not None:
            return (f"range_finding {self.parameters['range_finding']!r} (the fused step is "
                    "the fixed-rank eigensolver's: it needs range_finding None)")
        return None

    @classmethod
    def inactive_parameters(cls, parameters):
        """The base rule (:meth:`Optimizer.inactive_parameters`) plus the keys of the
        rank selections and globalizations not chosen: ``spectral_step_alpha`` acts
        only with ``'spectral_step'``; ``oversample`` and ``test_matrix`` only with
        fixed rank; the range-error keys only with ``'arf'``/``'naarf'``; the
        partition and noise keys only with ``'naarf'``/``'vn'``; the Nystrom limits
        only with ``'vn'`` (which does not read ``hessian_low_rank``)."""
        inactive = super().inactive_parameters(parameters)
        if _check_choice(parameters["globalization"], cls.globalizations, "globalization") \
                != "spectral_step":
            inactive.add("spectral_step_alpha")
        method = _check_choice(parameters["range_finding"], cls.range_findings, "range_finding")
        if method is not None:
            inactive |= {"oversample", "test_matrix"}
        if method not in ("arf", "naarf"):
            inactive |= {"range_rel_error_tolerance", "range_abs_error_tolerance"}
        if method is None:
            inactive.add("range_block_size")
        if method not in ("naarf", "vn"):
            inactive |= {"rq_samps", "nystrom_std_tolerance"}
        if method != "vn":
            inactive |= {"max_vectors_nystrom", "max_bad_vectors_nystrom"}
        else:
            inactive.add("hessian_low_rank")
        return inactive

    @property
    def range_finding(self):
        """The validated ``parameters['range_finding']``."""
        return _check_choice(self.parameters["range_finding"], self.range_findings, "range_finding")

    @property
    def damping(self):
        """``gamma``: the regularization's weight if >= 1e-4, else ``default_damping``."""
        gamma_r = self.regularization.gamma if self._regularized else 0.0
        if gamma_r >= MIN_REGULARIZATION_DAMPING:
            return gamma_r
        return float(self.parameters["default_damping"])

    # ------------------------------------------------------------------ eigenpairs
    def _partition_operators(self, feed_dict):
        # Parts of the global Hessian batch (under MPI each rank holds its piece of every part).
        total = global_sample_count(feed_dict, self.comm)
        parts = min(int(self.parameters["rq_samps"]), total)
        if parts < 2:
            raise ValueError(
                f"range_finding {self.range_finding!r} needs at least 2 samples in the Hessian "
                f"batch to form partitions, got {total}."
            )
        feeds, fractions = partition_feed(feed_dict, parts, self.comm)
        return [self.hessian_operator(f, weight=w) for f, w in zip(feeds, fractions)]

    def _fit_block_size(self, columns):
        """One session run per pass: ``H``'s block is the ``k + p`` columns (up to 64).

        Only when the problem fixes no ``hessian_block_size``; the block graph is
        built once per size and cached by the problem.  Two 20-column runs cost
        ~25% more than one 40-column run at the Tutorial 0 shape.
        """
        if self.problem.hessian_block_size is None and self.H is not None:
            self.H.block_size = columns if 1 < columns <= MAX_AUTOMATIC_BLOCK_SIZE else DEFAULT_BLOCK_SIZE

    def _range_epsilon(self):
        previous = abs(float(self.eigenvalues[0])) if self.eigenvalues.size else 0.0
        return max(float(self.parameters["range_abs_error_tolerance"]),
                   float(self.parameters["range_rel_error_tolerance"]) * previous)

    def _eigenpairs(self, feed_dict):
        p = self.parameters
        n = self.problem.dimension
        method = self.range_finding
        if method is None:
            k = int(p["hessian_low_rank"])
            self._fit_block_size(min(k + int(p["oversample"]), n))
            return low_rank_hessian(self, feed_dict, k, p=int(p["oversample"]),
                                    test_matrix=p["test_matrix"])
        A = self.hessian_operator(feed_dict)
        block = int(p["range_block_size"])
        if method == "arf":
            Q = block_range_finder(A, n, self._range_epsilon(), block,
                                   max_vectors=int(p["hessian_low_rank"]), seed=self.rng)
            return eigensolver_from_range(A, Q)
        partitions = self._partition_operators(feed_dict)
        if method == "naarf":
            Q = noise_aware_adaptive_range_finder(
                A, partitions, block, float(p["nystrom_std_tolerance"]), self._range_epsilon(),
                max_vectors=int(p["hessian_low_rank"]), seed=self.rng)
            return eigensolver_from_range(A, Q)
        return variance_based_nystrom(
            A, partitions, n, block_size=block, std_tolerance=float(p["nystrom_std_tolerance"]),
            max_vectors=int(p["max_vectors_nystrom"]),
            max_bad_vectors=int(p["max_bad_vectors_nystrom"]), seed=self.rng)

    # ------------------------------------------------------------------ the step
    def direction(self, g, eigenvalues, eigenvectors):
        """``p = -(U |mu| U^T + gamma I)^{-1} g`` by Woodbury (``mu = lambda - gamma_R``)."""
        gamma = self.damping
        gamma_r = self.regularization.gamma if self._regularized else 0.0
        mu = np.abs(np.asarray(eigenvalues, dtype=np.float64) - gamma_r)
        U = np.asarray(eigenvectors)
        if U.dtype != np.float32:
            U = U.astype(np.float64, copy=False)
        if U.shape[1] == 0:
            return -g / gamma
        # Woodbury, split into the range of U and its complement (same value, no
        # cancellation in 1 - mu/(mu + gamma)): U diag(1/(mu+gamma)) U^T g + (I - UU^T) g / gamma.
        # Float32 U (float32 operators): the tall products in float32, the sums in float64.
        g = np.asarray(g, dtype=np.float64)
        Utg = np.asarray(U.T @ g.astype(U.dtype, copy=False), dtype=np.float64)

        def apply_U(a):
            return np.asarray(U @ a.astype(U.dtype, copy=False), dtype=np.float64)

        return saddle_free_woodbury_direction(g, Utg, apply_U, mu, gamma)

    def _fused_test_matrix(self, m):
        """What the fused step is fed as its ``m``-column test matrix, from ``rng``: the
        Rademacher matrix's packed bits (the numpy path's draw, unpacked in the graph), or
        for Gaussian a seed pair from which the graph draws the matrix (the same seed gives
        the same matrix; it is not the matrix the numpy path would draw)."""
        if self.parameters["test_matrix"] == "rademacher":
            return rademacher_bits(self.rng, self.problem.dimension, m)
        return self.rng.integers(0, 2 ** 62, size=2, dtype=np.int64)

    def _fused_step(self, feed_dict, hessian_feed_dict, loss, g):
        """The fixed-rank step in one session run (:class:`~hessianlearn.problem.fused_steps.FusedLowRankSaddleFreeNewtonStep`).

        With ``'line_search'`` the run computes the direction only (no update) and the
        Armijo search on the gradient batch is the reference path's (:meth:`_globalize`).
        """
        p = self.parameters
        regularization = self.regularization if self._regularized else None
        step = fused_step("lrsfn", self.problem, regularization, rank=int(p["hessian_low_rank"]),
                          oversample=int(p["oversample"]), test_matrix=p["test_matrix"],
                          curvature=p["hessian_type"])
        omega = self._fused_test_matrix(step.rank + step.oversample)
        feed = step.feed(hessian_feed_dict, g, omega, alpha=float(p["alpha"]), gamma=self.damping,
                         gamma_r=regularization.gamma if regularization is not None else 0.0,
                         spectral_alpha=float(p["spectral_step_alpha"]),
                         spectral=self.globalization == "spectral_step")
        line_search = self.globalization == "line_search"
        fetches = dict(step.fetches)
        if line_search:  # the direction, not the fixed-step update
            fetches = {"eigenvalues": fetches["eigenvalues"], "finite": fetches["finite"],
                       "direction": step.direction}
        out = evaluate(self.sess, fetches, feed)
        self.fast_path_iterations += 1
        self.sweeps[1] += step.columns
        if not out["finite"]:
            raise NonFiniteError(
                f"iteration {self.iter}: the low-rank eigenvalues or the step are NaN or inf (the "
                "curvature on this batch is not finite); the weights were not changed."
            )
        self.eigenvalues = np.asarray(out["eigenvalues"], dtype=np.float64)
        self.eigenvectors = None
        self.rank = int(self.eigenvalues.size)
        info = {"rank": self.rank, "damping": self.damping}
        if line_search:
            info.update(self._globalize(feed_dict, loss, g, np.asarray(out["direction"])))
        else:
            self.alpha = float(out["alpha"])
        return info

    def _step(self, feed_dict, hessian_feed_dict, loss, g):
        if self.uses_fast_path:
            return self._fused_step(feed_dict, hessian_feed_dict, loss, g)
        eigenvalues, eigenvectors = self._eigenpairs(hessian_feed_dict)
        self.eigenvalues = np.asarray(eigenvalues, dtype=np.float64)
        self.eigenvectors = eigenvectors
        self.rank = int(self.eigenvalues.size)
        p = self.direction(g, self.eigenvalues, eigenvectors)
        alpha = None
        if self.globalization == "spectral_step":
            alpha = float(self.parameters["spectral_step_alpha"])
            if self.rank:
                alpha = float(spectral_step_length(alpha, float(self.eigenvalues[0])))
        info = {"rank": self.rank, "damping": self.damping}
        info.update(self._globalize(feed_dict, loss, g, p, alpha))
        return info
