"""The benchmark scripts still run and print their ratios (tiny settings; no timing is asserted)."""
import os
import re
import subprocess
import sys

import pytest


BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench")


def _run(script, *arguments):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONUNBUFFERED="1")
    result = subprocess.run([sys.executable, os.path.join(BENCH, script), *arguments], env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return result.stdout


def _numbers_after(label, text):
    return [float(x) for x in re.findall(re.escape(label) + r"\s+([0-9.]+)", text)]


@pytest.mark.slow
def test_iteration_cost_prints_ratios_for_every_path_and_a_fit():
    out = _run("iteration_cost.py", "--repeats", "3", "--shapes", "tutorial", "--train-size", "2000",
               "--fit-sweeps", "0.5", "--baseline-fit-sweeps", "0")
    ratios = _numbers_after("ratio to ideal", out)
    assert len(ratios) == 4 and all(0 < r < 1e3 for r in ratios), out
    floor = _numbers_after("(ideal + algebra) / ideal", out)  # the step's algebra alone, identity H
    assert len(floor) == 1 and floor[0] > 1.0, out
    with_algebra = _numbers_after("/ (ideal + algebra)", out)  # the two fused iterations
    assert len(with_algebra) == 2 and all(r > 0 for r in with_algebra), out
    draw = _numbers_after("the Gaussian draw alone", out)  # the default test matrix's in-graph draw
    with_draw = _numbers_after("/ (ideal + algebra + draw)", out)
    assert len(draw) == 1 and draw[0] > 0 and len(with_draw) == 1 and 0 < with_draw[0] < with_algebra[0], out
    assert "[fit]" in out and "lrsfn fused rademacher" in out and "s per sweep" in out, out


@pytest.mark.slow
def test_default_fit_prints_each_test_matrix_and_their_ratio():
    out = _run("default_fit.py", "--optimizers", "lrsfn", "--test-matrices", "gaussian", "rademacher",
               "--sweeps", "0.1", "--train-size", "4000")
    assert "lrsfn gaussian" in out and "lrsfn rademacher" in out, out
    ratio = _numbers_after("gaussian / rademacher:", out)
    assert len(ratio) == 1 and ratio[0] > 0, out


@pytest.mark.slow
def test_hessian_actions_prints_ratios_and_memory():
    out = _run("hessian_actions.py", "--problem", "P1", "--repeats", "3")
    # fresh and at a captured point
    assert len(_numbers_after("Hdw / gradient", out)) == 2, out
    assert len(_numbers_after("per column / gradient", out)) == 2, out
    assert len(_numbers_after("capture with the gradient", out)) == 1, out
    assert "Hessian operator, first product of 100 columns" in out and "peak RSS" in out, out


@pytest.mark.slow
def test_conv_batching_prints_per_kernel_ratios():
    out = _run("conv_batching.py", "--columns", "2", "--repeats", "3")
    ratios = _numbers_after("wide / single", out)
    assert len(ratios) == 1 and ratios[0] > 0, out
    assert out.count(" ms ") >= 8 and "gradients (single calls)" in out, out


@pytest.mark.slow
def test_block_forms_prints_each_form_against_the_default():
    out = _run("block_forms.py", "--repeats", "3", "--shapes", "tutorial", "--train-size", "200")
    ratios = _numbers_after("over the default", out)
    assert len(ratios) == 3 and ratios[0] == 1.0 and all(r > 0 for r in ratios), out
    sums = [float(x) for x in re.findall(r"sum ([-0-9.e+]+)\)", out)]  # the same block, three forms
    assert len(sums) == 3 and max(sums) - min(sums) <= 1e-5 * abs(sums[0]), out
    assert len(_numbers_after("gram batch of one / tf.matmul", out)) == 1, out


@pytest.mark.slow
def test_newton_cg_paths_prints_each_path_against_the_default():
    out = _run("newton_cg_paths.py", "--repeats", "3", "--cg-max-iter", "3")
    ratios = [float(x) for x in re.findall(r"([0-9.]+) x the default", out)]
    assert len(ratios) == 8 and ratios[0] == ratios[4] == 1.0, out
    assert out.count("(3.0 products)") == 4, out  # Gauss-Newton at a 1e-12 tolerance: every product


@pytest.mark.slow
def test_adam_forms_prints_both_forms_and_their_ratio():
    out = _run("adam_forms.py", "--intra", "1", "--groups", "2", "--repeats", "3")
    per_iteration = [float(x) for x in re.findall(r"([0-9.]+) ms per iteration", out)]
    assert len(per_iteration) == 2 and all(x > 0 for x in per_iteration), out
    assert len(_numbers_after("flat / kernel", out)) == 1, out


@pytest.mark.slow
def test_checkpoint_cost_prints_size_write_time_and_overhead_on_the_default_path():
    out = _run("checkpoint_cost.py", "--sweeps", "2", "--pairs", "1", "--train-size", "2000")
    assert "lrsfn, N = 2000" in out and "reference" not in out, out
    size = float(re.search(r"checkpoint size ([0-9.]+) MB", out).group(1))
    assert 0.2 < size < 2.0, out  # 50 992 float32 weights plus the optimizer's and logger's state
    assert "1 writes" in out and re.search(r"ratio with / without [0-9.]+", out), out
