"""Packaging: pyproject.toml builds a wheel and an sdist without deprecation warnings, both
install, and ``import hessianlearn`` works from each (offline: no build isolation, no deps), with the
compiled draw kernel's C source in the package."""
import os
import shutil
import subprocess
import sys
import textwrap
import tomllib

import pytest

import hessianlearn

REPO = os.path.dirname(os.path.dirname(os.path.abspath(hessianlearn.__file__)))
SOURCES = ("pyproject.toml", "setup.py", "README.md", "LICENSE.md", "hessianlearn")


def _metadata():
    with open(os.path.join(REPO, "pyproject.toml"), "rb") as f:
        return tomllib.load(f)


def test_metadata_has_spdx_license_bounded_tensorflow_and_the_extras():
    project = _metadata()["project"]
    assert project["license"] == "LGPL-3.0-or-later"
    assert not any(c.startswith("License ::") for c in project.get("classifiers", []))
    assert project["dynamic"] == ["version"] and "version" not in project
    for package in ("tensorflow", "tf-keras"):
        spec = next(d for d in project["dependencies"] if d.startswith(package + ">"))
        assert ">=2.16" in spec and "<" in spec.replace(">=", ""), spec
    assert {"test", "tutorial", "mpi", "docs"} <= set(project["optional-dependencies"])
    assert any(d.startswith("sphinx") for d in project["optional-dependencies"]["docs"])


def _run(args, cwd, env=None):
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, (result.stdout[-3000:], result.stderr[-3000:])
    return result


def _import_from(target, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    env["HESSIANLEARN_CACHE"] = str(target / "kernel_cache")
    code = textwrap.dedent(f"""
        import sys
        # hide the editable install and the repository so the package can only come from the target
        sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in getattr(f, "__module__", "")]
        sys.path[:] = [p for p in sys.path if p not in ("", {REPO!r})]
        sys.path.insert(0, {str(target)!r})
        import hessianlearn
        namespace = {{}}
        exec("from hessianlearn import *", namespace)
        assert hessianlearn.__file__.startswith({str(target)!r}), hessianlearn.__file__
        from hessianlearn.utilities import stateless_draws  # its C source ships and builds
        assert stateless_draws.native_status().startswith("on: "), stateless_draws.native_status()
        print(hessianlearn.__version__, len(namespace) - 1)
    """)
    return _run([sys.executable, "-c", code], cwd=tmp_path, env=env).stdout.strip().splitlines()[-1]


@pytest.mark.slow
def test_wheel_and_sdist_build_without_deprecations_and_import(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    for name in SOURCES:
        path = os.path.join(REPO, name)
        if os.path.isdir(path):
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(path, source / name)
    output = _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(tmp_path / "dist"),
                   str(source)], cwd=tmp_path)
    output = output.stdout + output.stderr
    assert "deprecat" not in output.lower(), [line for line in output.splitlines() if "eprecat" in line]
    wheel, = (tmp_path / "dist").glob("*.whl")
    sdist, = (tmp_path / "dist").glob("*.tar.gz")
    expected = f"{hessianlearn.__version__} {len(hessianlearn.__all__)}"
    for name, artifact, extra in (("wheel", wheel, []), ("sdist", sdist, ["--no-build-isolation"])):
        target = tmp_path / f"from_{name}"
        output = _run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
                       *extra, "--target", str(target), str(artifact)], cwd=tmp_path)
        assert "deprecat" not in (output.stdout + output.stderr).lower(), output.stderr
        assert _import_from(target, tmp_path) == expected, name
