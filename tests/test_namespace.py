"""``from hessianlearn import *`` gives the public API of hessianlearn/_public.py and nothing else."""
import inspect

import hessianlearn
from hessianlearn import _public

#: The original hessianlearn's public names (its package and subpackage ``__init__`` files)
#: that this package defines under the same name.
ORIGINAL = [
    "Problem", "RegressionProblem", "ClassificationProblem", "AutoencoderProblem",
    "VariationalAutoencoderProblem", "Hessian", "L2Regularization",
    "Optimizer", "CGSolver", "ParametersCGSolver", "GMRESSolver", "ParametersGMRESSolver",
    "MINRESSolver", "ParametersMINRESSolver", "Adam", "ParametersAdam",
    "GradientDescent", "ParametersGradientDescent", "InexactNewtonCG", "ParametersInexactNewtonCG",
    "InexactNewtonGMRES", "ParametersInexactNewtonGMRES", "InexactNewtonMINRES",
    "ParametersInexactNewtonMINRES", "LowRankSaddleFreeNewton", "ParametersLowRankSaddleFreeNewton",
    "low_rank_hessian", "randomized_eigensolver", "noise_aware_adaptive_range_finder",
    "variance_based_nystrom", "HessianlearnModel", "HessianlearnModelSettings", "KerasModelWrapper",
    "Data", "load_mnist", "ParameterList", "finite_difference_check",
]

#: Helpers: reachable by their module paths, never by the star import.
HELPERS = {
    "run": "hessianlearn.utilities.session_callables", "is_root": "hessianlearn.utilities.mpi",
    "rank_of": "hessianlearn.utilities.mpi", "size_of": "hessianlearn.utilities.mpi",
    "world_communicator": "hessianlearn.utilities.mpi", "check_identical": "hessianlearn.utilities.mpi",
    "one_hot": "hessianlearn.data.mnist", "partition_dictionary": "hessianlearn.data.data",
    "FusedAdamStep": "hessianlearn.problem.fused_steps", "fused_step": "hessianlearn.problem.fused_steps",
    "squared_error": "hessianlearn.problem.problem", "layer_slice": "hessianlearn.problem.curvature_operator",
    "validate_settings": "hessianlearn.model.settings", "make_optimizer": "hessianlearn.model.optimizer_registry",
    "OPTIMIZERS": "hessianlearn.model.optimizer_registry", "new_logger": "hessianlearn.model.logger",
    "Printer": "hessianlearn.model.printer", "require_matplotlib": "hessianlearn.utilities.plotting",
    "draw_test_matrix": "hessianlearn.utilities.random_matrices", "as_generator": "hessianlearn.algorithms.operators",
    "eisenstat_walker_forcing_term": "hessianlearn.algorithms.cg_solver",
    "check_device": "hessianlearn.model.device",
}


def _star():
    namespace = {}
    exec("from hessianlearn import *", namespace)
    namespace.pop("__builtins__")
    return namespace


def test_star_import_is_exactly_the_sectioned_list():
    names = _public.PUBLIC_NAMES
    assert len(set(names)) == len(names), "a name is listed twice in hessianlearn/_public.py"
    assert hessianlearn.__all__ == names
    assert set(_star()) == set(names)


def test_the_original_public_names_are_there():
    missing = [name for name in ORIGINAL if name not in hessianlearn.__all__]
    assert not missing, missing


def test_helpers_stay_out_and_are_reachable_by_module_path():
    import importlib

    namespace = _star()
    for name, module in HELPERS.items():
        assert name not in namespace, f"{name} is a helper; keep it out of hessianlearn/_public.py"
        assert not hasattr(hessianlearn, name), name
        assert hasattr(importlib.import_module(module), name), (name, module)


def test_every_public_name_is_documented_hessianlearn_code():
    for name, value in _star().items():
        if name in ("tf", "keras"):
            continue
        assert (inspect.getmodule(value) or value).__name__.startswith("hessianlearn."), name
        assert inspect.getdoc(value), f"{name} has no docstring"
    assert _star()["tf"] is hessianlearn.tf and _star()["keras"] is hessianlearn.keras


def test_every_section_is_nonempty_and_names_are_unique_across_sections():
    seen = {}
    for section, names in _public.PUBLIC.items():
        assert names, section
        for name in names:
            assert name not in seen, (name, section, seen.get(name))
            seen[name] = section
