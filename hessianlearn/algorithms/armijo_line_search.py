"""Armijo backtracking line search: a search object, and the original function form.

:class:`ArmijoLineSearch` called with keywords ``c1``, ``backtracking_factor``,
``max_backtrack`` (or nothing) builds a search object whose
:meth:`~ArmijoLineSearch.search` the optimizers use. Called with the original
hessianlearn arguments ``(w_dir, w_dir_inner_g, cost_at_candidate,
initial_cost, c_armijo=1e-4, alpha=1.0, max_backtracking_iter=10, comm=None)``
it runs the original search and returns ``(alpha, line_search,
iterations)`` as the original function did.
"""
import numbers
from collections import namedtuple

import numpy as np

__all__ = ["ArmijoLineSearch", "ArmijoResult"]

#: Argument names of the original function form (any of them selects that form).
_FUNCTION_ARGUMENTS = ("w_dir", "w_dir_inner_g", "cost_at_candidate", "initial_cost", "c_armijo",
                       "alpha", "max_backtracking_iter", "comm")
_SEARCH_ARGUMENTS = ("c1", "backtracking_factor", "max_backtrack")


class ArmijoResult(namedtuple("ArmijoResult", ["alpha", "line_search", "iterations"])):
    """``(alpha, line_search, iterations)`` of the function form of the Armijo search.

    Attributes
    ----------
    alpha : float
        The accepted step length; when no trial was accepted, the last trial
        halved once more (the original returns that value and its callers apply it).
    line_search : bool
        The original's flag: ``True`` while the search had not succeeded, so
        ``True`` here means that no trial met the Armijo condition.
    iterations : int
        Number of trials (calls of ``cost_at_candidate``).
    success : bool
        ``not line_search``: a trial met the Armijo condition.
    """

    __slots__ = ()

    @property
    def success(self):
        return not self.line_search


def _real(value, argument):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.floating)) \
            and not (isinstance(value, np.ndarray) and value.ndim == 0):
        raise TypeError(f"{argument} must be a real number, got {type(value).__name__}.")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{argument} must be finite, got {value}.")
    return value


def _function_form(w_dir, w_dir_inner_g, cost_at_candidate, initial_cost, c_armijo=1e-4,
                       alpha=1.0, max_backtracking_iter=10, comm=None):
    r"""The original hessianlearn Armijo search, as a function.

    Trials ``alpha, alpha/2, alpha/4, ...`` (at most ``max_backtracking_iter``
    of them) until

    .. math::  c(\alpha\, d) < c_0 + c_{\mathrm{armijo}}\, \alpha\, d^T g ,

    with ``c = cost_at_candidate`` (the cost at the current weights plus the
    given step), ``c_0 = initial_cost``, ``d = w_dir`` and ``d^T g =
    w_dir_inner_g``.

    Parameters
    ----------
    w_dir : array_like, shape (dimension,)
        Search direction ``d`` (not modified).
    w_dir_inner_g : float
        ``d^T g``; negative for a descent direction.
    cost_at_candidate : callable
        ``cost_at_candidate(step) -> float`` for a step vector ``alpha d``.
    initial_cost : float
        The cost at the current weights.
    c_armijo : float
        Sufficient-decrease constant in (0, 1).
    alpha : float
        First trial step, > 0.
    max_backtracking_iter : int
        Maximum number of trials, >= 0.
    comm : optional
        Accepted for the original's signature; reductions over MPI ranks are
        the business of ``cost_at_candidate``.

    Returns
    -------
    ArmijoResult
        ``(alpha, line_search, iterations)``; see :class:`ArmijoResult`
        (``line_search`` is ``True`` when no trial was accepted).

    Raises
    ------
    TypeError
        ``cost_at_candidate`` not callable, ``w_dir`` not a numeric vector, a
        number argument of the wrong type.
    ValueError
        ``c_armijo`` outside (0, 1), ``alpha <= 0``, ``max_backtracking_iter < 0``.
    """
    del comm
    if not callable(cost_at_candidate):
        raise TypeError(
            f"cost_at_candidate must be callable (step vector -> cost), got "
            f"{type(cost_at_candidate).__name__}."
        )
    direction = np.asarray(w_dir)
    if direction.ndim != 1 or not np.issubdtype(direction.dtype, np.number):
        raise TypeError(
            f"w_dir must be a numeric vector of shape (dimension,), got "
            f"{type(w_dir).__name__} of shape {np.shape(w_dir)}."
        )
    slope = _real(w_dir_inner_g, "w_dir_inner_g")
    cost0 = _real(initial_cost, "initial_cost")
    c_armijo = _real(c_armijo, "c_armijo")
    if not 0.0 < c_armijo < 1.0:
        raise ValueError(f"c_armijo must be in (0, 1), got {c_armijo}.")
    alpha = _real(alpha, "alpha")
    if alpha <= 0.0:
        raise ValueError(f"alpha (the first trial step) must be > 0, got {alpha}.")
    if isinstance(max_backtracking_iter, bool) or not isinstance(max_backtracking_iter, numbers.Integral):
        raise TypeError(
            f"max_backtracking_iter must be an int, got {type(max_backtracking_iter).__name__}."
        )
    if max_backtracking_iter < 0:
        raise ValueError(f"max_backtracking_iter must be >= 0, got {max_backtracking_iter}.")
    searching, iterations = True, 0
    while searching and iterations < max_backtracking_iter:
        iterations += 1
        cost = float(cost_at_candidate(alpha * direction))
        if np.isfinite(cost) and cost < cost0 + alpha * c_armijo * slope:
            searching = False
        else:
            alpha *= 0.5
    return ArmijoResult(alpha, searching, iterations)


def _check_unit_interval(value, argument):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 < value < 1.0:
        raise ValueError(f"{argument} must be a real number in (0, 1), got {value!r}.")
    return float(value)


class ArmijoLineSearch:
    """Backtracking until the Armijo sufficient-decrease condition holds.

    Two call forms. Keywords ``c1``, ``backtracking_factor``, ``max_backtrack``
    (or no argument) give a search object (below). Positional arguments, or
    any keyword of the original function (``w_dir``, ``w_dir_inner_g``,
    ``cost_at_candidate``, ``initial_cost``, ``c_armijo``, ``alpha``,
    ``max_backtracking_iter``, ``comm``), run the original search (:func:`_function_form`) and
    return its :class:`ArmijoResult` ``(alpha, line_search, iterations)``.

    For ``phi(alpha) = f(w + alpha p)`` with ``phi(0) = f0`` and slope
    ``phi'(0) = g^T p <= 0``, a step ``alpha`` is accepted when

    .. math::  \\phi(\\alpha) \\le f_0 + c_1 \\alpha\\, g^T p .

    Trials are ``alpha_0, beta alpha_0, beta^2 alpha_0, ...`` with ``beta =
    backtracking_factor``; at most ``max_backtrack`` reductions are made.

    Parameters
    ----------
    c1 : float
        Sufficient-decrease constant in (0, 1); default 1e-4.
    backtracking_factor : float
        Reduction factor ``beta`` in (0, 1); default 0.5.
    max_backtrack : int
        Maximum number of reductions (>= 0); default 10.

    Examples
    --------
    >>> ls = ArmijoLineSearch(c1=1e-4, backtracking_factor=0.5, max_backtrack=10)
    >>> phi = lambda a: (1.0 - 4.0 * a) ** 2          # f(w - a g) for f = w^2, w = 1
    >>> ls.search(phi, 1.0, -4.0, 1.0)                # 1, 0.5 fail; 0.25 is exact
    (0.25, 2)
    >>> import numpy as np                            # the original function form
    >>> g = np.array([2.0]); cost = lambda step: float(((1.0 + step) ** 2).sum())
    >>> ArmijoLineSearch(-g, float(-g @ g), cost, 1.0)
    ArmijoResult(alpha=0.5, line_search=False, iterations=2)
    """

    def __new__(cls, *args, **kwargs):
        function_form = bool(args) or any(key in kwargs for key in _FUNCTION_ARGUMENTS)
        if function_form:
            mixed = [key for key in kwargs if key in _SEARCH_ARGUMENTS]
            if mixed:
                raise TypeError(
                    f"ArmijoLineSearch: {', '.join(mixed)} belong(s) to the search-object form "
                    "(keywords c1, backtracking_factor, max_backtrack); the function form takes "
                    "c_armijo and max_backtracking_iter."
                )
            unknown = [key for key in kwargs if key not in _FUNCTION_ARGUMENTS]
            if unknown:
                raise TypeError(
                    f"ArmijoLineSearch() got an unexpected keyword argument {unknown[0]!r}; the "
                    f"function form takes {', '.join(_FUNCTION_ARGUMENTS)}."
                )
            if len(args) > len(_FUNCTION_ARGUMENTS):
                raise TypeError(
                    f"ArmijoLineSearch() takes at most {len(_FUNCTION_ARGUMENTS)} positional "
                    f"arguments ({', '.join(_FUNCTION_ARGUMENTS)}), got {len(args)}."
                )
            given = set(_FUNCTION_ARGUMENTS[:len(args)]) | set(kwargs)
            twice = [key for key in _FUNCTION_ARGUMENTS[:len(args)] if key in kwargs]
            missing = [key for key in _FUNCTION_ARGUMENTS[:4] if key not in given]
            if twice or missing:
                raise TypeError(
                    f"ArmijoLineSearch() got multiple values for argument {twice[0]!r}." if twice
                    else f"ArmijoLineSearch() missing required argument(s): {', '.join(missing)} "
                         "(w_dir, w_dir_inner_g, cost_at_candidate, initial_cost)."
                )
            return _function_form(*args, **kwargs)
        return super().__new__(cls)

    def __init__(self, c1=1e-4, backtracking_factor=0.5, max_backtrack=10):
        self.c1 = _check_unit_interval(c1, "c1 (c_armijo)")
        self.backtracking_factor = _check_unit_interval(backtracking_factor, "backtracking_factor")
        if isinstance(max_backtrack, bool) or not isinstance(max_backtrack, numbers.Integral) \
                or max_backtrack < 0:
            raise ValueError(f"max_backtrack must be an int >= 0, got {max_backtrack!r}.")
        self.max_backtrack = int(max_backtrack)

    def search(self, phi, f0, slope, alpha0=1.0):
        """Find an Armijo step length.

        Parameters
        ----------
        phi : callable
            ``phi(alpha) -> float``, the objective at ``w + alpha p``. Called once
            per trial: ``backtracks + 1`` times. NaN or inf values count as failures.
        f0 : float
            ``phi(0)``.
        slope : float
            Directional derivative ``g^T p``; must be <= 0 (a descent direction).
        alpha0 : float
            First trial step, > 0.

        Returns
        -------
        alpha : float
            The accepted step, or ``0.0`` if no trial satisfied the condition
            within ``max_backtrack`` reductions (the step is rejected).
        backtracks : int
            Number of reductions made (the number of ``phi`` calls is one more).

        Raises
        ------
        ValueError
            If ``slope > 0``, ``alpha0 <= 0`` or ``f0`` is not finite.
        """
        f0 = float(f0)
        slope = float(slope)
        if not np.isfinite(f0):
            raise ValueError(f"f0 must be finite, got {f0}.")
        if not np.isfinite(slope) or slope > 0.0:
            raise ValueError(
                f"slope g^T p = {slope} must be <= 0: p is not a descent direction; "
                "use -g (or a positive definite preconditioner) as the direction."
            )
        if isinstance(alpha0, bool) or not isinstance(alpha0, numbers.Real) or not alpha0 > 0:
            raise ValueError(f"alpha0 must be a real number > 0, got {alpha0!r}.")
        alpha = float(alpha0)
        for backtracks in range(self.max_backtrack + 1):
            value = float(phi(alpha))
            if np.isfinite(value) and value <= f0 + self.c1 * alpha * slope:
                return alpha, backtracks
            if backtracks < self.max_backtrack:
                alpha *= self.backtracking_factor
        return 0.0, self.max_backtrack
