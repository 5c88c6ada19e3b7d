"""FULLY_CONNECTED: the operator (prepare + kernel) against the naive oracle
(int8 and uint8, per-tensor and per-channel weights, weight zero points,
with and without bias, any rows and depths, the double-precision rescale
and its int32 overflow); against TFLite's reference kernels on every
FULLY_CONNECTED node of the zoo models; facts and prepare-time rejections.

The oracle tests also run with the JIT off::

    NUMBA_DISABLE_JIT=1 pytest -q tests/kernels/test_fully_connected.py -k oracle
"""

import math

import numpy as np
import pytest
from conftest import MODELS_DIR
from hypothesis import given
from hypothesis import strategies as st

from int8sqz.errors import UnsupportedError
from int8sqz.model import load_model
from int8sqz.ops import fully_connected as unit
from int8sqz.ops._common import activation_range
from int8sqz.testing.writer import GraphBuilder
from naive import dense as naive
from single_op import check_seed_nodes, prepare_op, run_single

TYPES = {"INT8": np.int8, "UINT8": np.uint8}
ZOO = ["mobilenet_v2_0.35_128_int8_flowers", "resnet_v1_8_32_int8_cifar10",
       "yamnet_256_64x96_int8_esc10", "miniresnet_1stacks_64x50_int8_esc10",
       "gmp_wl_24_int8_wisdm", "ign_wl_24_int8_wisdm"]


def fc_model(x_shape, weights, bias, type_name, in_q, w_scales, w_zp, out_q, *,
             keep=False, activation="NONE", out_shape=None, bias_omitted=False):
    units, depth = weights.shape
    if out_shape is None:
        rows = math.prod(x_shape) // depth
        out_shape = tuple(x_shape[:-1]) + (units,) if keep else (rows, units)
    g = GraphBuilder()
    x = g.input("x", x_shape, type_name, scale=in_q[0], zero_point=in_q[1])
    w_scales = np.atleast_1d(np.asarray(w_scales, np.float32))
    w = g.constant("w", weights, scale=w_scales, zero_point=[w_zp] * w_scales.size)
    ins = [x, w]
    if bias is not None:
        bs = (np.float64(np.float32(in_q[0])) * w_scales.astype(np.float64)).astype(np.float32)
        ins.append(g.constant("b", np.asarray(bias, np.int32), scale=bs[:1], zero_point=[0]))
    elif bias_omitted:
        ins.append(-1)
    y = g.tensor("y", out_shape, type_name, scale=out_q[0], zero_point=out_q[1])
    g.operator("FULLY_CONNECTED", ins, y, keep_num_dims=keep,
               fused_activation_function=activation)
    g.output(y)
    return g.build()


def oracle(x, weights, bias, type_name, in_q, w_scales, w_zp, out_q, activation="NONE"):
    units = weights.shape[0]
    in_s, out_s = float(np.float32(in_q[0])), float(np.float32(out_q[0]))
    per_channel = np.size(w_scales) > 1
    scales = [in_s * float(s) / out_s
              for s in np.broadcast_to(np.asarray(w_scales, np.float32), (units,))]
    lo, hi = activation_range(activation, out_s, out_q[1], type_name)
    return naive.fully_connected(x, weights, bias, scales=scales, input_offset=-in_q[1],
                                 weights_offset=0 if per_channel else -w_zp,
                                 output_offset=out_q[1], act_min=lo, act_max=hi,
                                 out_dtype=TYPES[type_name])


@st.composite
def fc_cases(draw):
    t = draw(st.sampled_from(["INT8", "INT8", "UINT8"]))
    dtype = TYPES[t]
    info = np.iinfo(dtype)
    depth = draw(st.sampled_from([draw(st.integers(1, 12)), draw(st.integers(13, 200))]))
    units = draw(st.sampled_from([draw(st.integers(1, 20)), draw(st.integers(21, 80))]))
    rows = draw(st.sampled_from([draw(st.integers(1, 4)), draw(st.integers(60, 140))]))
    extra = draw(st.integers(0, depth - 1)) if draw(st.booleans()) else 0
    x_shape = (rows * depth + extra,) if extra else (rows, depth)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    per_channel = t == "INT8" and draw(st.booleans())
    w_scales = np.float32(10.0 ** rng.uniform(-4, 0, units if per_channel else 1))
    w_zp = 0 if draw(st.booleans()) else int(rng.integers(info.min, info.max + 1))
    weights = rng.integers(info.min, info.max + 1, (units, depth)).astype(dtype)
    in_q = (float(np.float32(10.0 ** rng.uniform(-3, 0))),
            int(rng.integers(info.min, info.max + 1)))
    spread = 127.0 * 64.0 * np.sqrt(depth) * float(np.median(w_scales)) * in_q[0]
    out_q = (float(np.float32(spread / 64.0 * 2.0 ** draw(st.floats(-4, 4)))),
             int(rng.integers(info.min, info.max + 1)))
    bias = None if draw(st.booleans()) else \
        np.round(rng.normal(0, 2.0 ** draw(st.integers(0, 20)), units)).astype(np.int32)
    x = rng.integers(info.min, info.max + 1, x_shape).astype(dtype)
    return dict(x=x, weights=weights, bias=bias, type_name=t, in_q=in_q, w_scales=w_scales,
                w_zp=w_zp, out_q=out_q,
                activation=draw(st.sampled_from(["NONE", "RELU", "RELU6", "RELU_N1_TO_1"])))


@given(fc_cases())
def test_fully_connected_matches_oracle(case):
    x = case.pop("x")
    content = fc_model(x.shape, case["weights"], case["bias"], case["type_name"],
                       case["in_q"], case["w_scales"], case["w_zp"], case["out_q"],
                       activation=case["activation"])
    got = run_single(content, x)
    want = oracle(x, **case)
    assert got.dtype == want.dtype and np.array_equal(got, want)


def test_rescale_beyond_int32_matches_oracle():
    """Effective scales of 2**20 to 2**40: rescaled values past int32 become
    INT32_MIN, then the output offset wraps (oracle: Python integers)."""
    rng = np.random.default_rng(4)
    x = rng.integers(-128, 128, (9, 5)).astype(np.int8)
    w = rng.integers(-128, 128, (7, 5)).astype(np.int8)
    for e in (20, 25, 40):
        for zp in (-100, 0, 100):
            q = dict(in_q=(1.0, -3), w_scales=np.float32([1.0]), w_zp=0,
                     out_q=(2.0 ** -e, zp))
            content = fc_model(x.shape, w, None, "INT8", q["in_q"], q["w_scales"], 0,
                               q["out_q"])
            assert np.array_equal(run_single(content, x), oracle(x, w, None, "INT8", **q))


def test_no_depth_gives_zeros():
    content = fc_model((3, 0), np.zeros((4, 0), np.int8), None, "INT8", (0.1, 2), [0.1], 0,
                       (0.2, 7), out_shape=(3, 4))
    assert np.array_equal(run_single(content, np.zeros((3, 0), np.int8)),
                          np.zeros((3, 4), np.int8))


@pytest.mark.parametrize("name", ZOO)
def test_zoo_model_fully_connected_nodes_match_reference(name):
    """Every FULLY_CONNECTED node of the zoo models, fed the reference's own
    inputs (a random input and a constant one)."""
    path = MODELS_DIR / "zoo" / f"{name}.tflite"
    model = load_model(path)
    t = model.tensors[model.inputs[0]]
    rng = np.random.default_rng(len(name))
    if t.dtype == np.float32:
        inputs = [rng.standard_normal(t.shape).astype(np.float32),
                  np.full(t.shape, 0.5, np.float32)]
    else:
        info = np.iinfo(t.dtype)
        inputs = [rng.integers(info.min, info.max + 1, t.shape).astype(t.dtype),
                  np.full(t.shape, info.max - 3, t.dtype)]
    nodes = sum(op.name == "FULLY_CONNECTED" for op in model.operators)
    assert nodes > 0
    assert check_seed_nodes(path, ("FULLY_CONNECTED",), inputs) == 2 * nodes


# -- facts and prepare-time rejections ------------------------------------------------------

W = np.ones((3, 6), np.int8)


@pytest.mark.parametrize("x_shape,keep,per_image", [
    ((4, 6), False, True),  # one row an image
    ((4, 2, 3), False, True),  # an image flattened into one row
    ((4, 2, 6), True, True),  # rows kept per image
    ((4, 12), False, False),  # two rows an image: the output's rows are not images
    ((6,), False, False),  # no batch dimension
])
def test_facts(x_shape, keep, per_image):
    content = fc_model(x_shape, W, None, "INT8", (0.1, 0), [0.01], 0, (0.2, 0), keep=keep)
    model = load_model(content)
    op = model.operators[0]
    shapes = [t.shape for t in model.tensors]
    assert unit.macs(op, shapes) == math.prod(shapes[op.outputs[0]]) * 6
    assert unit.per_image(op, model, shapes) is per_image
    assert unit.UNIT.tflm_scratch(op, model, shapes) == []


def _rejected(content, error, match):
    with pytest.raises(error, match=r"operator 0 \(FULLY_CONNECTED\).*" + match):
        prepare_op(content)


def test_per_channel_scales_along_the_depth_are_unsupported():
    g = GraphBuilder()
    x = g.input("x", (2, 6), "INT8", scale=0.1, zero_point=0)
    w = g.constant("w", np.ones((3, 6), np.int8), scale=np.full(6, 0.01, np.float32),
                   zero_point=[0] * 6, quantized_dimension=1)
    y = g.tensor("y", (2, 3), "INT8", scale=0.2, zero_point=0)
    g.operator("FULLY_CONNECTED", [x, w], y)
    g.output(y)
    _rejected(g.build(), UnsupportedError, "dimension 1")


def test_weights_computed_at_run_time_are_unsupported():
    g = GraphBuilder()
    x = g.input("x", (2, 6), "INT8", scale=0.1, zero_point=0)
    w = g.input("w", (3, 6), "INT8", scale=0.01, zero_point=0)
    y = g.tensor("y", (2, 3), "INT8", scale=0.2, zero_point=0)
    g.operator("FULLY_CONNECTED", [x, w], y)
    g.output(y)
    _rejected(g.build(), UnsupportedError, "constant")


def test_keep_num_dims_with_a_scalar_input_is_unsupported():
    content = fc_model((), np.ones((3, 1), np.int8), None, "INT8", (0.1, 0), [0.01], 0,
                       (0.2, 0), keep=True, out_shape=(3,))
    _rejected(content, UnsupportedError, "scalar input")
