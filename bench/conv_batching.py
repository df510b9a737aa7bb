"""Would batching the columns of a Hessian block through each convolution pay? (P3 shapes)

An exact Hessian column of the P3 CNN (``hessian_actions.py``: conv 3x3x16,
pool, conv 3x3x32, pool, dense 10; batch 256) calls TensorFlow's convolution
kernels eight times, at the shared point's activations ``x``, ``p1`` and
back-propagated errors ``dz1``, ``dz2`` (forward-over-reverse count; the
reverse-over-reverse block calls the same eight)::

    conv1(x, V1)          conv2(R p1, W2)       conv2(p1, V2)
    filter2(R p1, dz2)    filter2(p1, R dz2)    input2(R dz2, W2)
    input2(dz2, V2)       filter1(x, R dz1)

(``convN`` the forward convolution, ``filterN`` / ``inputN`` its backprops to the
filter / input; ``V`` a direction, ``R`` a tangent). A block of ``k`` columns can
instead make each of the eight one wide call: the ``k`` directions ``V``
stacked along the output channels of the filter, the ``k`` tangents stacked
along the batch (or the channels) of the activations. This prints, per kernel
and summed, the time of one call per column against the wide call divided by
``k``, each measured in the same alternating rounds, and the eight single
calls against the network's own gradient (``timing.rounds``). The wide calls only pay if their
per-column time is clearly below the single calls'.

Run: ``python bench/conv_batching.py [--columns 20] [--repeats 15]``.
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from timing import rounds  # noqa: E402

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _parse():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--columns", type=int, default=20, help="k, columns per wide call")
    parser.add_argument("--repeats", type=int, default=15, help="timed calls per kernel (median)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if args.columns < 2 or args.repeats < 3 or args.threads < 1:
        parser.error("--columns must be >= 2, --repeats >= 3, --threads >= 1")
    return args


def _kernels(tf, k, rng):
    """(name, single call, wide call) for the eight kernels of a column, on variables."""
    def var(*shape):
        return tf.Variable(rng.standard_normal(shape).astype(np.float32))

    b = 256
    x, p1 = var(b, 28, 28, 1), var(b, 13, 13, 16)
    dz1, dz2 = var(b, 26, 26, 16), var(b, 11, 11, 32)
    w2 = var(3, 3, 16, 32)
    v1, v1k = var(3, 3, 1, 16), var(3, 3, 1, 16 * k)
    v2, v2k_out, v2k_in = var(3, 3, 16, 32), var(3, 3, 16, 32 * k), var(3, 3, 16 * k, 32)
    rp1, rp1k_batch, rp1k_chan = var(b, 13, 13, 16), var(k * b, 13, 13, 16), var(b, 13, 13, 16 * k)
    rdz2, rdz2k_batch, rdz2k_chan = var(b, 11, 11, 32), var(k * b, 11, 11, 32), var(b, 11, 11, 32 * k)
    rdz1, rdz1k_chan = var(b, 26, 26, 16), var(b, 26, 26, 16 * k)
    strides, pad = [1, 1, 1, 1], "VALID"

    def conv(a, f):
        return tf.nn.conv2d(a, f, strides, pad)

    def filt(a, dy, channels_in, channels_out):
        return tf.compat.v1.nn.conv2d_backprop_filter(a, [3, 3, channels_in, channels_out], dy, strides, pad)

    def inp(dy, f, shape):
        return tf.compat.v1.nn.conv2d_backprop_input(shape, f, dy, strides, pad)

    return [
        ("conv1(x, V1)", conv(x, v1), conv(x, v1k)),
        ("conv2(R p1, W2)", conv(rp1, w2), conv(rp1k_batch, w2)),
        ("conv2(p1, V2)", conv(p1, v2), conv(p1, v2k_out)),
        ("filter2(R p1, dz2)", filt(rp1, dz2, 16, 32), filt(rp1k_chan, dz2, 16 * k, 32)),
        ("filter2(p1, R dz2)", filt(p1, rdz2, 16, 32), filt(p1, rdz2k_chan, 16, 32 * k)),
        ("input2(R dz2, W2)", inp(rdz2, w2, [b, 13, 13, 16]), inp(rdz2k_batch, w2, [k * b, 13, 13, 16])),
        ("input2(dz2, V2)", inp(dz2, v2, [b, 13, 13, 16]), inp(dz2, v2k_in, [b, 13, 13, 16 * k])),
        ("filter1(x, R dz1)", filt(x, rdz1, 1, 16), filt(x, rdz1k_chan, 1, 16 * k)),
    ]


def main():
    args = _parse()
    import hessianlearn as hl
    from hessian_actions import _build, _session
    tf = hl.tf
    k = args.columns
    problem, feed = _build("P3", hl)
    with problem._graph.as_default():
        kernels = _kernels(tf, k, np.random.default_rng(0))
        # Fetching a whole output would time its copy to numpy: fetch the op, so the kernel runs
        calls = {"gradient": lambda: sess.run(problem.gradient.op, feed)}
        for name, single, wide in kernels:
            calls[name] = (lambda t=single: sess.run(t.op))
            calls[name + " wide"] = (lambda t=wide: sess.run(t.op))
    sess = _session(tf, args.threads, False)
    sess.run(tf.global_variables_initializer())
    t, _ = rounds(calls, args.repeats)
    print(f"conv_batching: P3 shapes, k = {k} columns per wide call, threads {args.threads}, "
          f"load average {os.getloadavg()[0]:.1f}, {args.repeats} calls per kernel (median)")
    print(f"  P3 gradient (loss + gradient, one run)   {1e3 * t['gradient']:8.2f} ms")
    print(f"  {'kernel':24s} {'one column':>12s} {'wide / k':>12s} {'wide / single':>14s}")
    single = wide = 0.0
    for name, _, _ in kernels:
        single += t[name]
        wide += t[name + " wide"] / k
        print(f"  {name:24s} {1e3 * t[name]:9.3f} ms {1e3 * t[name + ' wide'] / k:9.3f} ms "
              f"{t[name + ' wide'] / k / t[name]:14.2f}")
    print(f"  {'sum of the eight':24s} {1e3 * single:9.3f} ms {1e3 * wide:9.3f} ms {wide / single:14.2f}")
    print(f"  one column's convolutions alone = {single / t['gradient']:.2f} gradients (single calls), "
          f"{wide / t['gradient']:.2f} gradients (wide calls); wide / single {wide / single:.2f}")


if __name__ == "__main__":
    main()
