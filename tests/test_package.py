"""Package-level behavior: public names, HESSIANLEARN_PATH imports, graph mode after TF-first imports."""
import os
import subprocess
import sys
import textwrap

import hessianlearn

REPO = os.path.dirname(os.path.dirname(os.path.abspath(hessianlearn.__file__)))

PUBLIC = ["Problem", "RegressionProblem", "ClassificationProblem", "AutoencoderProblem",
          "VariationalAutoencoderProblem", "GenerativeAdversarialNetworkProblem", "H1RegressionProblem",
          "KerasModelProblem", "L2Regularization", "Hessian", "HessianWrapper", "CurvatureOperator",
          "finite_difference_check", "ParameterList", "tf", "keras"]


def _run(code, cwd, env=None):
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_star_import_gives_public_names():
    namespace = {}
    exec("from hessianlearn import *", namespace)
    missing = [name for name in PUBLIC if name not in namespace]
    assert not missing, f"missing from 'from hessianlearn import *': {missing}"
    assert all(name in hessianlearn.__all__ for name in PUBLIC)
    assert len(set(hessianlearn.__all__)) == len(hessianlearn.__all__)
    assert all(hasattr(hessianlearn, name) for name in hessianlearn.__all__)


def test_tensorflow_imported_first_still_gives_graph_mode_and_tf_keras(tmp_path):
    result = _run("""
        import tensorflow as tf
        import hessianlearn
        import tf_keras
        assert not tf.executing_eagerly(), "eager mode after importing hessianlearn"
        assert tf.keras.Model is tf_keras.Model, tf.keras.Model
        assert hessianlearn.keras is tf_keras
        print("ok")
    """, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("ok")


def test_import_through_hessianlearn_path(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["HESSIANLEARN_PATH"] = REPO
    result = _run("""
        import importlib.util, os, sys
        # hide the editable install so the package can only come from HESSIANLEARN_PATH
        sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in getattr(f, "__module__", "")]
        assert importlib.util.find_spec("hessianlearn") is None
        sys.path.append(os.environ["HESSIANLEARN_PATH"])
        from hessianlearn import *
        import hessianlearn
        assert hessianlearn.__file__.startswith(os.environ["HESSIANLEARN_PATH"])
        assert Hessian and RegressionProblem and finite_difference_check
        print("ok")
    """, cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("ok")
