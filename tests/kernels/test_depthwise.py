"""DEPTHWISE_CONV_2D: the operator (prepare + kernel) against the naive
oracle on random shapes, windows, strides, dilations, paddings, depth
multipliers, quantizations and activations, on strided output views and on
an output overlapping its input (the aliasing rule); against TFLite's
reference kernels on every DEPTHWISE_CONV_2D node of the zoo models; the
portable build (no VNNI); prepare-time facts and rejections.

The oracle tests also run with the JIT off (the kernels as plain Python)::

    NUMBA_DISABLE_JIT=1 pytest -q tests/kernels/test_depthwise.py -k oracle
"""

import json
import os
import subprocess
import sys
import textwrap

import numba
import numpy as np
import pytest
from conftest import MODELS_DIR
from hypothesis import given
from hypothesis import strategies as st

from int8sqz.errors import ModelError, UnsupportedError
from int8sqz.model import load_model
from int8sqz.ops import depthwise_conv_2d as unit
from int8sqz.ops._common import activation_range, quantize_multiplier
from int8sqz.testing.reference import registered_versions
from int8sqz.testing.writer import GraphBuilder
from naive import conv as naive
from single_op import check_seed_nodes, prepare_op, run_single, run_single_bands

ACTIVATIONS = ["NONE", "RELU", "RELU6", "RELU_N1_TO_1"]
ZOO = ["mobilenet_v2_0.35_128_int8_flowers", "mobilenet_v2_0.35_128_int8_person",
       "fdmobilenet_0.25_128_int8_flowers", "yamnet_256_64x96_int8_esc10",
       "ssd_mobilenet_v1_0.25_192_int8_person"]


def depthwise_model(x_shape, weights, bias, in_q, w_scales, out_q, *, stride=(1, 1),
                    dilation=(1, 1), padding="SAME", activation="NONE", out_shape=None,
                    options=None):
    """A one-DEPTHWISE_CONV_2D model; ``in_q``/``out_q`` are (scale, zero point)."""
    n, h, w, _ = x_shape
    _, kh, kw, co = weights.shape
    if out_shape is None:
        out_shape = (n, naive.out_size(h, kh, stride[0], dilation[0], padding),
                     naive.out_size(w, kw, stride[1], dilation[1], padding), co)
    g = GraphBuilder()
    x = g.input("x", x_shape, "INT8", scale=in_q[0], zero_point=in_q[1])
    w_scales = np.atleast_1d(np.asarray(w_scales, np.float32))
    f = g.constant("w", np.asarray(weights, np.int8), scale=w_scales,
                   zero_point=[0] * w_scales.size, quantized_dimension=3)
    ins = [x, f]
    if bias is not None:
        ins.append(g.constant("b", np.asarray(bias, np.int32)))
    y = g.tensor("y", out_shape, "INT8", scale=out_q[0], zero_point=out_q[1])
    opts = dict(padding=padding, stride_h=stride[0], stride_w=stride[1],
                dilation_hfactor=dilation[0], dilation_wfactor=dilation[1],
                fused_activation_function=activation)
    opts.update(options or {})
    g.operator("DEPTHWISE_CONV_2D", ins, y, **opts)
    g.output(y)
    return g.build()


def oracle(x, weights, bias, in_q, w_scales, out_q, *, stride=(1, 1), dilation=(1, 1),
           padding="SAME", activation="NONE"):
    co = weights.shape[3]
    in_s, out_s = float(np.float32(in_q[0])), float(np.float32(out_q[0]))
    scales = np.broadcast_to(np.asarray(w_scales, np.float32), (co,))
    ms = [quantize_multiplier(in_s * float(s) / out_s) for s in scales]
    lo, hi = activation_range(activation, out_s, out_q[1], "INT8")
    return naive.depthwise_conv(x, weights, bias, stride=stride, dilation=dilation,
                                padding=padding, input_offset=-in_q[1],
                                multipliers=[m for m, _ in ms], shifts=[s for _, s in ms],
                                output_offset=out_q[1], act_min=lo, act_max=hi)


@st.composite
def depthwise_cases(draw):
    kh, kw = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    dh, dw = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    padding = draw(st.sampled_from(["SAME", "VALID"]))
    lo_h = (kh - 1) * dh + 1 if padding == "VALID" else 1
    lo_w = (kw - 1) * dw + 1 if padding == "VALID" else 1
    h = draw(st.integers(lo_h, lo_h + 7))
    w = draw(st.integers(lo_w, lo_w + 10))
    n = draw(st.integers(1, 2))
    c = draw(st.sampled_from([draw(st.integers(1, 6)), draw(st.integers(15, 40))]))
    mult = draw(st.sampled_from([1, 1, 2, 3]))
    co = c * mult
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    w_scales = np.float32(10.0 ** rng.uniform(-5, 0, co if draw(st.booleans()) else 1))
    in_q = (float(np.float32(10.0 ** rng.uniform(-3, 0))),
            draw(st.one_of(st.sampled_from([-128, 0, 127, -1]), st.integers(-128, 127))))
    spread = 127.0 * 64.0 * np.sqrt(kh * kw) * float(np.median(w_scales)) * in_q[0]
    out_q = (float(np.float32(spread / 64.0 * 2.0 ** draw(st.floats(-4, 4)))),
             draw(st.integers(-128, 127)))
    weights = rng.integers(-128 if draw(st.booleans()) else -127, 128,
                           (1, kh, kw, co)).astype(np.int8)
    bias = None if draw(st.integers(0, 3)) == 0 else \
        np.round(rng.normal(0, 2.0 ** draw(st.integers(0, 20)), co)).astype(np.int32)
    mode = draw(st.sampled_from(["uniform", "extremes", "zero_point"]))
    if mode == "uniform":
        x = rng.integers(-128, 128, (n, h, w, c))
    elif mode == "extremes":
        x = rng.choice([-128, 127], (n, h, w, c))
    else:
        x = np.clip(in_q[1] + rng.integers(-3, 4, (n, h, w, c)), -128, 127)
    return dict(x=x.astype(np.int8), weights=weights, bias=bias, in_q=in_q,
                w_scales=w_scales, out_q=out_q, stride=(sh, sw), dilation=(dh, dw),
                padding=padding, activation=draw(st.sampled_from(ACTIVATIONS)))


def _model(case, x):
    return depthwise_model(x.shape, case["weights"], case["bias"], case["in_q"],
                           case["w_scales"], case["out_q"], stride=case["stride"],
                           dilation=case["dilation"], padding=case["padding"],
                           activation=case["activation"])


@given(depthwise_cases(), st.booleans())
def test_depthwise_matches_oracle(case, strided):
    x = case.pop("x")
    want = oracle(x, **case)
    content = _model(case, x)
    if not strided:
        got = run_single(content, x)
    else:
        # the output a view inside a larger buffer of sentinels
        rng = np.random.default_rng(want.size)
        extra = [int(v) for v in rng.integers(0, 3, 4)]
        buf = np.full([d + 2 * e for d, e in zip(want.shape, extra)], 77, np.int8)
        sl = tuple(slice(e, e + d) for d, e in zip(want.shape, extra))
        got = run_single(content, x, out=buf[sl])
        outside = np.ones(buf.shape, bool)
        outside[sl] = False
        assert np.all(buf[outside] == 77), "wrote outside the output view"
    assert got.shape == want.shape
    assert np.array_equal(got, want)


@given(depthwise_cases(), st.lists(st.integers(1, 4), min_size=1, max_size=3))
def test_bands_of_rows_match_oracle(case, heights):
    """Streaming: the output made a band of rows at a time
    (depthwise_conv_2d_rows, each band given only the input rows its window
    reads, its padding rows made in the band's own padded image) equals the
    oracle's, whatever the window, stride, dilation, padding, depth
    multiplier and band heights."""
    x = case.pop("x")[:1]
    assert np.array_equal(run_single_bands(_model(case, x), x, heights), oracle(x, **case))


@pytest.mark.parametrize("shape,filt,mult,stride,dilation,padding", [
    ((1, 9, 19, 16), (3, 3), 1, (1, 1), (1, 1), "SAME"),  # 8 pixels at a time + 3 left
    ((2, 5, 8, 150), (3, 3), 1, (2, 1), (1, 1), "VALID"),  # 10 channel blocks, partial
    ((1, 4, 4, 70), (3, 3), 1, (1, 1), (1, 1), "SAME"),  # under 8 pixels: 4 blocks at once
    ((1, 3, 2, 33), (5, 7), 2, (1, 1), (2, 2), "SAME"),  # two groups of 4 filter columns
    ((1, 8, 9, 5), (2, 9), 3, (3, 2), (1, 3), "SAME"),  # three groups, dilated
    ((1, 7, 7, 16), (7, 1), 1, (1, 1), (1, 1), "VALID"),
])
def test_depthwise_paths_match_oracle(shape, filt, mult, stride, dilation, padding):
    rng = np.random.default_rng(sum(shape) + mult)
    co = shape[3] * mult
    w = rng.integers(-128, 128, (1, filt[0], filt[1], co)).astype(np.int8)
    x = rng.integers(-128, 128, shape).astype(np.int8)
    b = rng.integers(-5000, 5000, co).astype(np.int32)
    q = dict(in_q=(0.05, -7), w_scales=np.float32(rng.uniform(0.001, 0.02, co)),
             out_q=(0.3, 3), stride=stride, dilation=dilation, padding=padding)
    content = depthwise_model(x.shape, w, b, q["in_q"], q["w_scales"], q["out_q"],
                              stride=stride, dilation=dilation, padding=padding)
    assert np.array_equal(run_single(content, x), oracle(x, w, b, **q))


def test_output_with_channel_stride_matches_oracle():
    """An output whose channels are not adjacent: requantized one channel at a time."""
    rng = np.random.default_rng(11)
    x = rng.integers(-128, 128, (2, 5, 6, 20)).astype(np.int8)
    w = rng.integers(-128, 128, (1, 3, 3, 20)).astype(np.int8)
    q = dict(in_q=(0.05, 9), w_scales=np.float32(rng.uniform(0.001, 0.01, 20)),
             out_q=(0.2, -3))
    content = depthwise_model(x.shape, w, None, q["in_q"], q["w_scales"], q["out_q"])
    buf = np.full((2, 5, 6, 40), 77, np.int8)
    got = run_single(content, x, out=buf[..., ::2])
    assert np.array_equal(got, oracle(x, w, None, **q))
    assert np.all(buf[..., 1::2] == 77), "wrote between the output's channels"


# -- the aliasing rule ------------------------------------------------------------------------

@pytest.mark.parametrize("filt,stride,padding,mult,rows", [
    ((3, 3), (1, 1), "SAME", 1, -1),  # output row y may overwrite input row y - 1
    ((1, 1), (1, 1), "VALID", 1, 0),  # a 1x1 depthwise may run in place
    ((3, 3), (2, 2), "VALID", 1, None),  # stride 2: output row y reads input rows 2y..2y+2
    ((3, 3), (1, 1), "VALID", 2, None),  # output rows twice as wide as the input's
    ((2, 3), (1, 2), "SAME", 3, None),
])
def test_output_may_overlap_consumed_input_rows(filt, stride, padding, mult, rows):
    """Output and input in one buffer, the output starting as far into the
    input as the optimized planner's overlap_shift allows under
    kernels/depthwise.py's rule (``rows``: that distance in input rows, where
    checked): every image bit-exact."""
    from int8sqz.planner import overlap_shift

    rng = np.random.default_rng(5)
    n, h, w, c = 2, 9, 8, 6
    co = c * mult
    x = rng.integers(-128, 128, (n, h, w, c)).astype(np.int8)
    weights = rng.integers(-127, 128, (1, filt[0], filt[1], co)).astype(np.int8)
    content = depthwise_model((1, h, w, c), weights, rng.integers(-300, 300, co),
                              (0.05, 2), np.full(co, 0.01), (0.5, -4), stride=stride,
                              padding=padding)
    model = load_model(content)
    d = overlap_shift(model, model.operators[0], [t.shape for t in model.tensors])
    assert d is not None
    d = 0 if d == float("inf") else int(d)
    if rows is not None:
        assert d == rows * w * c
    for b in range(n):
        want = run_single(content, x[b:b + 1])
        out_bytes = want.size
        x_at = max(0, -d)
        out_at = x_at + d
        buf = np.zeros(max(x_at + x[b].size, out_at + out_bytes), np.int8)
        xin = buf[x_at:x_at + x[b].size].reshape(1, h, w, c)
        xin[...] = x[b:b + 1]
        out = buf[out_at:out_at + out_bytes].reshape(want.shape)
        assert np.shares_memory(xin, out)
        got = run_single(content, xin, out=out)
        assert np.array_equal(got, want), f"image {b}"


# -- against TFLite's reference kernels -----------------------------------------------------

@pytest.mark.parametrize("name", ZOO)
def test_zoo_model_depthwise_nodes_match_reference(name, tmp_path):
    """Every DEPTHWISE_CONV_2D node of the zoo models, fed the reference's own
    inputs (a random input and a constant one; the SSD detector's reference
    runs on a copy with TILE version 3 set to 1, the same kernel)."""
    source = MODELS_DIR / "zoo" / f"{name}.tflite"
    path = tmp_path / source.name
    path.write_bytes(registered_versions(source.read_bytes()))
    model = load_model(path)
    t = model.tensors[model.inputs[0]]
    rng = np.random.default_rng(len(name))
    info = np.iinfo(t.dtype)
    inputs = [rng.integers(info.min, info.max + 1, t.shape).astype(t.dtype),
              np.full(t.shape, info.min + 3, t.dtype)]
    nodes = sum(op.name == "DEPTHWISE_CONV_2D" for op in model.operators)
    assert nodes > 0
    assert check_seed_nodes(path, ("DEPTHWISE_CONV_2D",), inputs) == 2 * nodes


# -- the portable build --------------------------------------------------------------------

_CHILD = textwrap.dedent("""
    import json, sys
    import numpy as np
    sys.path[:0] = [{tests!r}]
    from int8sqz.kernels.simd import target_has_vnni
    from single_op import run_single
    assert not target_has_vnni()
    cases = json.loads(sys.argv[1])
    out = []
    for path, x in cases:
        out.append(run_single(open(path, "rb").read(), np.array(x, np.int8)).tolist())
    print(json.dumps(out))
""")


@pytest.mark.skipif(not sys.platform.startswith("linux") or os.uname().machine != "x86_64",
                    reason="the CPU names below are x86-64 ones")
@pytest.mark.skipif(numba.config.DISABLE_JIT, reason="nothing is compiled")
def test_portable_build_without_vnni(tmp_path):
    """Compiled for a Haswell (no AVX-512), the taps go through vdot4's
    portable IR: the same outputs as the oracle."""
    rng = np.random.default_rng(9)
    cases, wants = [], []
    for k, (shape, filt, mult) in enumerate([((1, 6, 11, 20), (3, 3), 1),
                                             ((2, 4, 4, 3), (5, 2), 2)]):
        co = shape[3] * mult
        w = rng.integers(-128, 128, (1,) + filt + (co,)).astype(np.int8)
        x = rng.integers(-128, 128, shape).astype(np.int8)
        q = dict(in_q=(0.05, -7), w_scales=np.float32(rng.uniform(0.001, 0.02, co)),
                 out_q=(0.3, 3))
        path = tmp_path / f"m{k}.tflite"
        path.write_bytes(depthwise_model(x.shape, w, None, q["in_q"], q["w_scales"],
                                         q["out_q"]))
        cases.append((str(path), x.tolist()))
        wants.append(oracle(x, w, None, **q).tolist())
    env = dict(os.environ, NUMBA_CPU_NAME="haswell",
               NUMBA_CPU_FEATURES="+avx,+avx2,+fma,+sse4.2,+popcnt,+bmi,+bmi2,+f16c",
               NUMBA_CACHE_DIR=str(tmp_path))
    tests = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    r = subprocess.run([sys.executable, "-c", _CHILD.format(tests=tests), json.dumps(cases)],
                       env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert json.loads(r.stdout.strip().splitlines()[-1]) == wants


# -- facts and prepare-time rejections ------------------------------------------------------

W = np.ones((1, 3, 3, 4), np.int8)
Q = ((0.05, 0), np.full(4, 0.01), (0.1, 0))


def test_facts():
    content = depthwise_model((2, 8, 8, 4), np.ones((1, 3, 3, 8), np.int8), None, (0.05, 0),
                              np.full(8, 0.01), (0.1, 0), stride=(2, 2))
    model = load_model(content)
    op = model.operators[0]
    shapes = [t.shape for t in model.tensors]
    assert unit.macs(op, shapes) == 2 * 4 * 4 * 8 * 9
    assert unit.per_image(op, model, shapes)
    assert unit.UNIT.sharing.rows(op, shapes).stride == 2
    assert unit.UNIT.tflm_scratch(op, model, shapes) == []
    # the kernel rebuilds its parameters from the int64 array it is given
    from int8sqz.kernels import depthwise as kd

    params = kd.layout((2, 8, 8, 4), (2, 4, 4, 8), (1, 3, 3, 8), (2, 2), (1, 1), (0, 0), 3,
                       -128, 127).params
    assert kd._params(np.array(params, np.int64)) == params


def _rejected(content, error, match):
    with pytest.raises(error, match=r"operator 0 \(DEPTHWISE_CONV_2D\).*" + match):
        prepare_op(content)


def test_filter_channels_must_be_a_multiple_of_the_input_channels():
    _rejected(depthwise_model((1, 5, 5, 4), np.ones((1, 3, 3, 6), np.int8), None, (0.05, 0),
                              np.full(6, 0.01), (0.1, 0)), ModelError, "multiple of the 4")


def test_filter_must_have_one_leading_dimension():
    _rejected(depthwise_model((1, 5, 5, 4), np.ones((2, 3, 3, 4), np.int8), None, *Q,
                              out_shape=(1, 5, 5, 4)), ModelError, r"expected \[1, height")


@pytest.mark.parametrize("key", ["stride_h", "dilation_wfactor"])
def test_strides_and_dilations_must_fit_int16(key):
    _rejected(depthwise_model((1, 5, 5, 4), W, None, *Q, out_shape=(1, 5, 5, 4),
                              options={key: 32768}), ModelError, key)


def test_negative_output_size_is_refused():
    _rejected(depthwise_model((1, 1, 1, 4), W, None, *Q, padding="VALID",
                              out_shape=(1, 0, 0, 4)), ModelError, "negative output size")


def test_padding_beyond_int16_is_refused():
    w = np.ones((1, 65537, 1, 1), np.int8)
    _rejected(depthwise_model((1, 1, 1, 1), w, None, (0.05, 0), [0.01], (0.1, 0),
                              out_shape=(1, 1, 1, 1)), ModelError, "32767 rows of padding")


def test_uint8_depthwise_is_unsupported():
    g = GraphBuilder()
    x = g.input("x", (1, 5, 5, 4), "UINT8", scale=0.05, zero_point=128)
    f = g.constant("w", np.ones((1, 3, 3, 4), np.uint8), scale=[0.01], zero_point=[128])
    y = g.tensor("y", (1, 5, 5, 4), "UINT8", scale=0.1, zero_point=128)
    g.operator("DEPTHWISE_CONV_2D", [x, f], y, padding="SAME")
    g.output(y)
    _rejected(g.build(), UnsupportedError, "UINT8")


def test_empty_output_runs_nothing():
    content = depthwise_model((1, 2, 2, 4), W, None, *Q, padding="VALID",
                              out_shape=(1, 0, 0, 4))
    assert run_single(content, np.zeros((1, 2, 2, 4), np.int8)).shape == (1, 0, 0, 4)


def test_scratch_beyond_the_activation_limit_is_refused():
    """A dilation of 30000 over a wide row: the ring of interleaved rows the
    window spans would take gigabytes; refused before any array exists."""
    from int8sqz import Interpreter

    content = depthwise_model((1, 1, 600, 16), np.ones((1, 2, 1, 16), np.int8), None,
                              (0.05, 0), np.full(16, 0.01), (0.1, 0), dilation=(30000, 1))
    with pytest.raises(ModelError, match=r"DEPTHWISE_CONV_2D.*bytes of scratch"):
        Interpreter(model_content=content, max_activation_bytes=1 << 28).allocate_tensors()
