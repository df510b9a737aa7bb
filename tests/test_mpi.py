"""Data-parallel (MPI) properties, run as ``mpiexec -n 2`` subprocesses.

Each script in ``tests/mpi_cases/`` checks its properties on every rank (the
single-process reference is computed on each rank on the whole global batch) and
exits non-zero on the first failure. A hang would hit the timeout. Skipped, with
the reason, when mpi4py or ``mpiexec`` is unavailable.

Override the launcher with ``HESSIANLEARN_MPIEXEC`` (e.g. ``"mpiexec -launcher fork"``).
"""
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.mpi

CASES = Path(__file__).parent / "mpi_cases"
RANKS = 2
TIMEOUT = 300
#: Scripts that take longer than ~20 s (marked slow).
SLOW = {"case_fit.py"}


def _launcher():
    override = os.environ.get("HESSIANLEARN_MPIEXEC")
    if override:
        return shlex.split(override), None
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return None, "mpi4py is not installed (pip install mpi4py mpich)"
    beside = Path(sys.executable).parent / "mpiexec"
    found = str(beside) if beside.exists() else shutil.which("mpiexec")
    if found is None:
        return None, "no mpiexec next to the Python executable or on PATH"
    return [found], None


def _cases():
    params = []
    for path in sorted(CASES.glob("case_*.py")):
        marks = [pytest.mark.slow] if path.name in SLOW else []
        params.append(pytest.param(path, id=path.stem, marks=marks))
    return params


@pytest.mark.parametrize("script", _cases())
def test_mpi_case(script):
    launcher, reason = _launcher()
    if launcher is None:
        pytest.fail(f"MPI tests need mpiexec (scripts/setup_env.sh installs MPICH): {reason}")
    env = dict(os.environ, OMP_NUM_THREADS="1", TF_NUM_INTRAOP_THREADS="1",
               TF_NUM_INTEROP_THREADS="1", TF_CPP_MIN_LOG_LEVEL="3")
    command = launcher + ["-n", str(RANKS), sys.executable, str(script)]
    try:
        run = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT,
                             cwd=str(CASES), env=env)
    except subprocess.TimeoutExpired as err:
        pytest.fail(f"{script.name} did not finish in {TIMEOUT} s under mpiexec -n {RANKS} "
                    f"(a rank waiting in a collective?):\n{err.stdout}")
    output = run.stdout + run.stderr
    failures = [line for line in output.splitlines() if "FAIL" in line]
    assert run.returncode == 0 and not failures, (
        f"{script.name} failed (exit {run.returncode}):\n" + "\n".join(failures) + "\n" + output[-4000:])
    # ranks write concurrently, so lines may interleave: look for each rank's PASS anywhere
    passed = set(re.findall(r"\[rank (\d+)\] PASS", run.stdout))
    assert passed == {str(r) for r in range(RANKS)}, f"expected PASS from {RANKS} ranks:\n{run.stdout[-3000:]}"

