"""HessianlearnModelSettings: keys, defaults, overrides, validation."""
import numpy as np
import pytest

from hessianlearn.model.optimizer_registry import OPTIMIZERS, optimizer_names
from hessianlearn.model.settings import HessianlearnModelSettings, validate_settings
from hessianlearn.utilities.parameter_list import ParameterList

ISSUE_KEYS = (
    "problem_name title logger_outname printing_items printing_sweep_frequency validate_frequency "
    "save_weights verbose intra_threads inter_threads optimizer alpha hessian_low_rank globalization "
    "max_backtrack spectral_step_alpha default_damping range_finding range_rel_error_tolerance "
    "range_abs_error_tolerance range_block_size max_sweeps max_bad_vectors_nystrom max_vectors_nystrom "
    "nystrom_std_tolerance layer_weights record_spectrum record_last_rq_std spec_frequency "
    "rayleigh_quotients rq_data_size rq_samps target_rank oversample seed progress_bar hessian_type"
).split()


def test_every_key_and_the_paper_defaults():
    s = HessianlearnModelSettings()
    assert isinstance(s, ParameterList)
    assert set(ISSUE_KEYS) <= set(s.keys())
    assert s["optimizer"] == "lrsfn"
    assert s["alpha"] == 1e-3
    assert s["hessian_low_rank"] == 20
    assert s["default_damping"] == 1e-3
    assert s["max_sweeps"] == 10
    assert s["globalization"] is None
    assert s["range_finding"] is None
    assert s["progress_bar"] is False
    assert s["hessian_type"] == "hessian"
    assert s["seed"] == 0


def test_overrides_copy_and_never_share_state():
    weights = [np.ones((2, 3)), np.zeros(3)]
    overrides = {"optimizer": "adam", "alpha": 1e-2, "layer_weights": {"enc": weights}}
    snapshot = {"optimizer": "adam", "alpha": 1e-2}
    a = HessianlearnModelSettings(overrides)
    assert a["optimizer"] == "adam" and a["alpha"] == 1e-2
    assert {k: overrides[k] for k in snapshot} == snapshot and set(overrides) == {"optimizer", "alpha",
                                                                                 "layer_weights"}
    a["layer_weights"]["enc"][0][0, 0] = 5.0
    assert weights[0][0, 0] == 1.0  # the caller's arrays are copied
    b = HessianlearnModelSettings()
    c = HessianlearnModelSettings()
    b["printing_items"]["extra"] = "val_loss"
    b["layer_weights"]["x"] = []
    assert "extra" not in c["printing_items"] and c["layer_weights"] == {}
    assert HessianlearnModelSettings(a)["optimizer"] == "adam"  # a ParameterList works too


def test_unknown_key_suggests_the_close_match():
    with pytest.raises(KeyError, match="alpha"):
        HessianlearnModelSettings({"alpa": 1e-2})
    s = HessianlearnModelSettings()
    with pytest.raises(KeyError, match="max_sweeps"):
        s["max_sweep"] = 3


@pytest.mark.parametrize("key, value, match", [
    ("alpha", 0.0, "alpha"),
    ("alpha", -1e-3, "alpha"),
    ("max_sweeps", 0, "max_sweeps"),
    ("max_sweeps", -2.0, "max_sweeps"),
    ("hessian_low_rank", 0, "hessian_low_rank"),
    ("hessian_low_rank", 2.5, "hessian_low_rank"),
    ("validate_frequency", 0, "validate_frequency"),
    ("rq_samps", 0, "rq_samps"),
    ("seed", -1, "seed"),
])
def test_bad_values_raise_value_error(key, value, match):
    with pytest.raises(ValueError, match=match):
        HessianlearnModelSettings({key: value})


@pytest.mark.parametrize("key, value, listed", [
    ("optimizer", "newton", "'incg'"),
    ("globalization", "linesearch", "'line_search'"),
    ("range_finding", "random", "'naarf'"),
    ("hessian_type", "ggn", "'hessian'"),
])
def test_unknown_choices_list_the_valid_ones(key, value, listed):
    with pytest.raises(ValueError, match=listed):
        HessianlearnModelSettings({key: value})


def test_type_errors():
    with pytest.raises(TypeError, match="settings"):
        HessianlearnModelSettings(["optimizer", "adam"])
    with pytest.raises(TypeError, match="printing_items"):
        HessianlearnModelSettings({"printing_items": ["train_loss"]})


def test_rank_checked_against_the_dimension():
    s = HessianlearnModelSettings({"hessian_low_rank": 30})
    validate_settings(s, dimension=30)
    with pytest.raises(ValueError, match="hessian_low_rank.*30.*12"):
        validate_settings(s, dimension=12)
    s["optimizer"] = "adam"  # the rank is LRSFN's: other optimizers ignore it
    validate_settings(s, dimension=12)
    s["record_spectrum"] = True
    with pytest.raises(ValueError, match="target_rank"):
        validate_settings(s, dimension=12)


#: The optimizer lab's names (issue 16), after the original's in the table.
LAB_OPTIMIZERS = ("adahessian", "sophia", "lbfgs", "hessian_free", "kfac")


def test_registry_is_one_table_with_the_issue_names():
    assert set(optimizer_names()) == {"lrsfn", "incg", "ingmres", "inminres", "adam", "gd", "sgd",
                                      *LAB_OPTIMIZERS}
    assert OPTIMIZERS["sgd"].class_name == OPTIMIZERS["gd"].class_name == "GradientDescent"
    assert OPTIMIZERS["sgd"].overrides["globalization"] is None
    assert OPTIMIZERS["gd"].overrides["globalization"] == "line_search"
    with pytest.raises(TypeError):
        OPTIMIZERS["new"] = OPTIMIZERS["sgd"]
