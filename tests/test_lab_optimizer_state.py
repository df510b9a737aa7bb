"""The lab optimizers' state (issue 18 for issue 16's optimizers): saved, pickled, restored.

Each case fits a tiny model of ``tests/checkpoint_cases.py`` for half a sweep,
takes the optimizer's :meth:`state_dict` through a pickle (as a checkpoint
does) and checks that a new optimizer loading it on the same weights takes
bitwise the same next steps as the original. Every declared attribute that
steers the steps is then reset in turn to a new optimizer's value: the steps
must change, so each one is needed (and the comparison can fail). The
SIGKILL-and-resume runs of the same cases are in ``tests/test_checkpoints.py``.
"""
import pickle

import numpy as np
import pytest

import checkpoint_cases as cases

#: Declared attributes that change the next steps (in the cases' configuration).
STEERING = {
    "adahessian": ("m", "v"),
    "sophia": ("m", "h"),
    "lbfgs": ("pairs", "pending_step"),
    "hessian_free": ("damping", "_previous"),
    "kfac": ("factors", "damping", "_eigen"),
}
#: Declared attributes a user reads after a step (restored, but not used by the next step).
REPORTED = {
    "adahessian": ("diagonal",),
    "lbfgs": ("skipped_pairs",),
    "hessian_free": ("last_rho",),
}
STEPS = 4


def _same(a, b):
    """Bitwise equality of nested state values (arrays, tuples, deques, dicts, floats)."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(a, b)
    if isinstance(a, (list, tuple)) or hasattr(a, "maxlen"):
        return type(a) is type(b) and len(a) == len(b) and all(map(_same, a, b))
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("case", sorted(STEERING))
def test_a_restored_lab_optimizer_takes_the_same_steps(case, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model = cases.build(case, verbose=False, max_sweeps=0.5, checkpoint_frequency=None,
                        save_logger=False)
    model.fit()
    problem, sess, optimizer = model.problem, model.sess, model.optimizer
    batches = [(next(model.data.train), next(model.data.hess_train)) for _ in range(STEPS + 1)]
    if optimizer.iter % 2 == 0:  # K-FAC (inverse_frequency 2) then reuses its eigendecompositions
        optimizer.minimize(*batches.pop())
    state = pickle.loads(pickle.dumps(optimizer.state_dict()))
    w0 = problem.get_weights(sess)

    def rebuild():
        return type(optimizer)(problem, model.regularization, sess, optimizer.parameters)

    def steps(opt):
        problem.set_weights(sess, w0)
        losses = [opt.minimize(feed, hessian_feed)["loss"] for feed, hessian_feed in batches]
        return problem.get_weights(sess), losses

    reference, reference_losses = steps(optimizer)
    restored = rebuild()
    restored.load_state_dict(state)
    weights, losses = steps(restored)
    assert np.array_equal(weights, reference) and losses == reference_losses
    for name in STEERING[case] + REPORTED.get(case, ()):
        assert _same(getattr(restored, name), getattr(optimizer, name)), name

    blank = rebuild().state_dict()
    for name in STEERING[case]:
        incomplete = rebuild()
        incomplete.load_state_dict({**state, name: blank[name]})
        assert not np.array_equal(steps(incomplete)[0], reference), \
            f"{case}: resetting {name!r} left the steps unchanged"


def test_lbfgs_pending_step_is_keyed_by_tensor_names_and_maps_back(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model = cases.build("lbfgs", verbose=False, max_sweeps=0.25, checkpoint_frequency=None,
                        save_logger=False)
    model.fit()
    optimizer = model.optimizer
    s, g, feed = optimizer._pending
    saved = optimizer.state_dict()["pending_step"]
    assert set(saved[2]) == {(model.problem.x.name, True)} and saved[3] == 1
    restored = type(optimizer)(model.problem, model.regularization, model.sess, optimizer.parameters)
    restored.pending_step = pickle.loads(pickle.dumps(saved))
    s2, g2, feed2 = restored._pending
    assert list(feed2) == [model.problem.x]  # the graph's own placeholder object
    assert np.array_equal(s2, s) and np.array_equal(g2, g)
    assert np.array_equal(feed2[model.problem.x], feed[model.problem.x])
    restored.pending_step = None
    assert restored._pending is None

    # saved on another number of ranks: the batch is dropped, with a warning
    with pytest.warns(RuntimeWarning, match=r"saved on 2 rank\(s\) and is restored on 1"):
        restored.pending_step = saved[:3] + (2,)
    assert restored._pending is None
    restored.comm = _TwoRanks()
    with pytest.warns(RuntimeWarning, match=r"saved on 1 rank\(s\) and is restored on 2"):
        restored.pending_step = saved
    assert restored._pending is None

    # under MPI the batch is rank-local: state_dict leaves it out, rank_local_state holds it
    restored.pending_step = saved[:2] + (None, 2)
    assert restored._pending[2] is None
    restored.load_rank_local_state(pickle.loads(pickle.dumps(saved[2])))
    _, _, feed3 = restored._pending
    assert list(feed3) == [model.problem.x]
    assert np.array_equal(feed3[model.problem.x], feed[model.problem.x])
    assert restored.pending_step[2:] == (None, 2)
    assert restored.rank_local_state().keys() == saved[2].keys()
    optimizer.comm = None
    assert optimizer.rank_local_state() is None  # one process: all in state_dict
    restored.pending_step = saved[:2] + (None, 2)  # restored without its rank-local part
    assert restored.rank_local_state() is None
    with pytest.warns(RuntimeWarning, match="holds one rank's batch"):
        restored.pending_step = saved[:3] + (2,)  # the format before rank-local state
    assert restored._pending is None


class _TwoRanks:
    """Stands in for an MPI communicator of two ranks (only its size is asked)."""

    @staticmethod
    def Get_size():
        return 2
