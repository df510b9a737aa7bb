import io

import numpy as np
import pytest

from hessianlearn.utilities import ParameterList


def make():
    return ParameterList(
        {
            "alpha": [1e-3, "Learning rate"],
            "beta_1": [0.9, "First moment decay"],
            "sizes": [[1, 2], "A mutable list value"],
        }
    )


def test_get_set_and_mapping_methods():
    p = make()
    assert p["alpha"] == 1e-3
    p["alpha"] = 0.5
    assert p["alpha"] == 0.5
    assert list(p.keys()) == ["alpha", "beta_1", "sizes"]
    assert p.items() == [("alpha", 0.5), ("beta_1", 0.9), ("sizes", [1, 2])]
    assert "beta_1" in p and "beta" not in p
    assert p.description("beta_1") == "First moment decay"
    assert p.as_dict() == {"alpha": 0.5, "beta_1": 0.9, "sizes": [1, 2]}
    assert len(p) == 3


def test_input_is_copied_not_shared():
    data = {"alpha": [1.0, "a"], "arr": [np.zeros(2), "b"], "l": [[1], "c"]}
    p = ParameterList(data)
    p["alpha"] = 2.0
    p["l"].append(5)
    p["arr"][0] = 7.0
    assert data["alpha"][0] == 1.0
    assert data["l"][0] == [1]
    assert data["arr"][0][0] == 0.0


def test_copy_is_independent():
    p = make()
    q = p.copy()
    q["alpha"] = 9.0
    q["sizes"].append(3)
    assert p["alpha"] == 1e-3
    assert p["sizes"] == [1, 2]
    assert q["sizes"] == [1, 2, 3]
    assert q.description("alpha") == p.description("alpha")
    assert q != p
    q["alpha"], q["sizes"] = p["alpha"], [1, 2]
    assert q == p


def test_factory_instances_are_independent():
    def ParametersToy():
        return ParameterList({"alpha": [1.0, "step"]})

    a, b = ParametersToy(), ParametersToy()
    a["alpha"] = 3.0
    assert b["alpha"] == 1.0


@pytest.mark.parametrize("action", ["get", "set", "description"])
def test_unknown_key_suggests_close_match(action):
    p = make()
    with pytest.raises(KeyError) as info:
        if action == "get":
            p["alpah"]
        elif action == "set":
            p["alpah"] = 1.0
        else:
            p.description("alpah")
    message = str(info.value)
    assert "Did you mean 'alpha'" in message
    assert "'beta_1'" in message and "'sizes'" in message
    assert "alpah" not in p


def test_unknown_key_without_close_match_lists_keys():
    with pytest.raises(KeyError, match="Valid keys") as info:
        make()["zzzzzz"]
    assert "Did you mean" not in str(info.value)


def test_update_is_validated_and_atomic():
    p = make()
    p.update({"alpha": 0.1, "beta_1": 0.5})
    assert p["alpha"] == 0.1 and p["beta_1"] == 0.5
    with pytest.raises(KeyError, match="beta_1"):
        p.update({"alpha": 0.2, "beta1": 0.3})
    assert p["alpha"] == 0.1  # nothing written
    with pytest.raises(TypeError, match="mapping"):
        p.update([("alpha", 1.0)])


@pytest.mark.parametrize(
    "bad", [[("a", 1)], {"a": 1}, {"a": [1]}, {"a": [1, 2]}, {"a": [1, "d", 3]}]
)
def test_bad_construction_raises_typeerror(bad):
    with pytest.raises(TypeError, match="ParameterList"):
        ParameterList(bad)


def test_showMe_prints_aligned_table(capsys):
    p = make()
    p.showMe()
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split() == ["Parameter", "Value", "Description"]
    assert set(lines[1].replace(" ", "")) == {"-"}
    assert len(lines) == 2 + 3
    for name, line in zip(["alpha", "beta_1", "sizes"], lines[2:]):
        assert line.startswith(name)
    # description column starts at the same position on every row
    starts = {line.index(d) for line, d in zip(lines[2:], ["Learning", "First", "A mutable"])}
    assert len(starts) == 1
    buffer = io.StringIO()
    p.showMe(file=buffer)
    assert buffer.getvalue() == out
