"""MAX_POOL_2D and AVERAGE_POOL_2D: the operators (prepare + kernel) against the
naive oracles on random windows, strides, paddings, activations, int8 and
uint8, on strided views and overlapping buffers (the aliasing rule); against
TFLite's reference kernels on generated models and on every MAX_POOL_2D node
of the seed models; and the prepare-time rejections.

The oracle tests also run with the JIT off (the kernels as plain Python)::

    NUMBA_DISABLE_JIT=1 pytest -q tests/kernels/test_pool.py -k oracle
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from int8sqz.errors import ModelError, UnsupportedError
from int8sqz.model import load_model
from int8sqz.ops._common import activation_range
from int8sqz.testing.reference import run_reference
from int8sqz.testing.writer import GraphBuilder
from naive import pool as naive
from naive.conv import out_size
from single_op import check_seed_nodes, prepare_op, run_single, run_single_bands, seed_inputs

OPS = ["MAX_POOL_2D", "AVERAGE_POOL_2D"]
TYPES = {"INT8": (np.int8, -128, 127), "UINT8": (np.uint8, 0, 255)}
ACTIVATIONS = ["NONE", "RELU", "RELU6", "RELU_N1_TO_1"]


def pool_model(name, x_shape, filt, stride, padding, type_name="INT8", q=(0.1, 3),
               out_q=None, activation="NONE", out_shape=None, options=None):
    n, h, w, c = x_shape
    if out_shape is None:
        out_shape = (n, out_size(h, filt[0], stride[0], 1, padding),
                     out_size(w, filt[1], stride[1], 1, padding), c)
    out_q = out_q or q
    g = GraphBuilder()
    x = g.input("x", x_shape, type_name, scale=q[0], zero_point=q[1])
    y = g.tensor("y", out_shape, type_name, scale=out_q[0], zero_point=out_q[1])
    opts = dict(padding=padding, stride_h=stride[0], stride_w=stride[1],
                filter_height=filt[0], filter_width=filt[1],
                fused_activation_function=activation)
    opts.update(options or {})
    g.operator(name, [x], y, **opts)
    g.output(y)
    return g.build()


def oracle(name, x, filt, stride, padding, type_name, q, activation):
    lo, hi = activation_range(activation, float(np.float32(q[0])), q[1], type_name)
    f = naive.max_pool if name == "MAX_POOL_2D" else naive.average_pool
    return f(x, filt, stride, padding, lo, hi)


# -- against the naive oracles --------------------------------------------------------------

@st.composite
def pool_cases(draw):
    name = draw(st.sampled_from(OPS))
    type_name = draw(st.sampled_from(sorted(TYPES)))
    dtype, lo, hi = TYPES[type_name]
    fh, fw = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = draw(st.sampled_from(["SAME", "VALID"]))
    h = draw(st.integers(fh if padding == "VALID" else 1, 12))
    w = draw(st.integers(fw if padding == "VALID" else 1, 12))
    # up to 9 channels, or 64 and more (max pool's 64-byte blocks, the last
    # one overlapping the block before unless 64 divides the count)
    channels = draw(st.integers(1, 9) | st.sampled_from([64, 65, 96, 128, 130]))
    shape = (draw(st.integers(1, 2)), h, w, channels)
    q = (float(np.float32(10.0 ** draw(st.floats(-3, 0.5)))), draw(st.integers(lo, hi)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    mode = draw(st.sampled_from(["uniform", "extremes", "zero_point"]))
    if mode == "uniform":
        x = rng.integers(lo, hi + 1, shape)
    elif mode == "extremes":
        x = rng.choice([lo, hi], shape)
    else:
        x = np.clip(q[1] + rng.integers(-2, 3, shape), lo, hi)
    return dict(name=name, x=x.astype(dtype), filt=(fh, fw), stride=stride, padding=padding,
                type_name=type_name, q=q, activation=draw(st.sampled_from(ACTIVATIONS)))


@given(pool_cases(), st.booleans())
def test_pool_matches_oracle(case, strided):
    x = case["x"]
    content = pool_model(case["name"], x.shape, case["filt"], case["stride"], case["padding"],
                         case["type_name"], case["q"], activation=case["activation"])
    want = oracle(**case)
    if not strided:
        got = run_single(content, x)
    else:
        # input and output as channel slices of larger buffers
        xb = np.zeros(x.shape[:3] + (x.shape[3] + 5,), x.dtype)
        xb[..., 2:2 + x.shape[3]] = x
        ob = np.full(want.shape[:3] + (want.shape[3] + 3,), 77, x.dtype)
        got = run_single(content, xb[..., 2:2 + x.shape[3]], out=ob[..., 1:1 + want.shape[3]])
        assert np.all(ob[..., 0] == 77) and np.all(ob[..., 1 + want.shape[3]:] == 77)
    assert got.shape == want.shape
    assert np.array_equal(got, want)


@given(pool_cases(), st.lists(st.integers(1, 4), min_size=1, max_size=3))
def test_bands_of_rows_match_oracle(case, heights):
    """Streaming: the output made a band of rows at a time (max_pool_rows,
    average_pool_rows: each band given only the input rows its window
    reads, windows clamped to the whole image) equals the oracle's."""
    case = dict(case, x=case["x"][:1])
    content = pool_model(case["name"], case["x"].shape, case["filt"], case["stride"],
                         case["padding"], case["type_name"], case["q"],
                         activation=case["activation"])
    assert np.array_equal(run_single_bands(content, case["x"], heights), oracle(**case))


def test_average_rounds_half_away_from_zero():
    """2x2 windows of sums -6, -5, -2, 2, 5, 6: averages -1.5, -1.25, -0.5, 0.5, 1.25, 1.5."""
    x = np.array([[-2, -1, -2, -1, -1, -1, 1, 1, 2, 1, 2, 1],
                  [-1, -2, -1, -1, 0, 0, 0, 0, 1, 1, 1, 2]], np.int8).reshape(1, 2, 12, 1)
    content = pool_model("AVERAGE_POOL_2D", x.shape, (2, 2), (2, 2), "VALID", q=(1.0, 0))
    got = run_single(content, x).reshape(-1)
    assert got.tolist() == [-2, -1, -1, 1, 1, 2]
    assert np.array_equal(run_reference(content, [x])[0].reshape(-1), got)


# -- the aliasing rule ------------------------------------------------------------------------

@pytest.mark.parametrize("name", OPS)
@pytest.mark.parametrize("filt,stride,padding", [((3, 3), (2, 2), "VALID"),
                                                 ((2, 2), (2, 2), "SAME"),
                                                 ((3, 3), (1, 1), "VALID")])
@pytest.mark.parametrize("c", [5, 96])
def test_pool_may_run_in_place(name, filt, stride, padding, c):
    """Output over the input's first bytes: output row y overwrites only input
    rows that no later output row reads."""
    rng = np.random.default_rng(9)
    n, h, w = 1, 11, 9
    x = rng.integers(-128, 128, (n, h, w, c)).astype(np.int8)
    content = pool_model(name, x.shape, filt, stride, padding, activation="RELU")
    want = run_single(content, x)
    buf = x.copy().reshape(-1)
    _, oh, ow, _ = want.shape
    out = buf[:oh * ow * c].reshape(1, oh, ow, c)
    got = run_single(content, buf.reshape(x.shape), out=out)
    assert np.array_equal(got, want)


# -- against TFLite's reference kernels -------------------------------------------------------

@pytest.mark.parametrize("name", OPS)
@pytest.mark.parametrize("type_name", sorted(TYPES))
@pytest.mark.parametrize("x_shape,filt,stride,padding,activation", [
    ((1, 7, 9, 5), (3, 3), (2, 2), "SAME", "NONE"),
    ((2, 6, 6, 3), (4, 2), (1, 3), "SAME", "RELU"),
    ((1, 8, 5, 4), (2, 5), (3, 1), "VALID", "RELU6"),
    ((1, 3, 4, 2), (7, 7), (1, 1), "SAME", "RELU_N1_TO_1"),  # window larger than the image
    ((1, 9, 8, 96), (3, 3), (2, 2), "VALID", "RELU"),  # SqueezeNet's channels
])
def test_pool_matches_reference(name, type_name, x_shape, filt, stride, padding, activation):
    dtype, lo, hi = TYPES[type_name]
    zp = -3 if type_name == "INT8" else 131
    content = pool_model(name, x_shape, filt, stride, padding, type_name, (0.02, zp),
                         activation=activation)
    rng = np.random.default_rng(sum(x_shape) + sum(filt))
    for x in (rng.integers(lo, hi + 1, x_shape).astype(dtype), np.full(x_shape, lo, dtype),
              np.full(x_shape, hi, dtype)):
        want = run_reference(content, [x])[0]
        assert np.array_equal(run_single(content, x), want)


@pytest.mark.parametrize("name", ["flowers", "food-101", "plant-village"])
def test_seed_model_max_pool_nodes_match_reference(seed_models, name):
    """Every MAX_POOL_2D node, fed the reference's own inputs."""
    path = seed_models[name]
    inputs = seed_inputs(path, len(name), 200)
    assert check_seed_nodes(path, ("MAX_POOL_2D",), inputs) == 2 * 3


# -- prepare-time rejections ------------------------------------------------------------------

def _rejected(content, error, match, reference_refuses=True, x=None):
    model, op = load_model(content), None
    if reference_refuses:
        t = model.tensors[model.inputs[0]]
        with pytest.raises((RuntimeError, ValueError)):
            run_reference(content, [np.zeros(t.shape, t.dtype) if x is None else x])
    name = model.operators[0].name
    with pytest.raises(error, match=rf"operator 0 \({name}\).*" + match):
        prepare_op(content)


@pytest.mark.parametrize("name", OPS)
def test_input_must_be_4d(name):
    g = GraphBuilder()
    x = g.input("x", (5, 5, 2), "INT8", scale=0.1, zero_point=0)
    y = g.tensor("y", (2, 2, 2), "INT8", scale=0.1, zero_point=0)
    g.operator(name, [x], y, padding="VALID", stride_h=2, stride_w=2, filter_height=2,
               filter_width=2)
    g.output(y)
    _rejected(g.build(), ModelError, "expected rank 4")


@pytest.mark.parametrize("name", OPS)
@pytest.mark.parametrize("key", ["stride_h", "stride_w"])
def test_strides_must_be_positive(name, key):
    _rejected(pool_model(name, (1, 5, 5, 2), (2, 2), (2, 2), "VALID", out_shape=(1, 2, 2, 2),
                         options={key: 0}), ModelError, key)


@pytest.mark.parametrize("name", OPS)
@pytest.mark.parametrize("out_q", [(0.2, 3), (0.1, -7)])
def test_output_quantization_must_equal_input(name, out_q):
    # TFLite only asserts this in debug builds: unsupported rather than invalid
    _rejected(pool_model(name, (1, 5, 5, 2), (2, 2), (2, 2), "VALID", out_q=out_q),
              UnsupportedError, "does not requantize", reference_refuses=False)


@pytest.mark.parametrize("name", OPS)
def test_output_type_must_equal_input(name):
    g = GraphBuilder()
    x = g.input("x", (1, 4, 4, 2), "INT8", scale=0.1, zero_point=0)
    y = g.tensor("y", (1, 2, 2, 2), "UINT8", scale=0.1, zero_point=0)
    g.operator(name, [x], y, padding="VALID", stride_h=2, stride_w=2, filter_height=2,
               filter_width=2)
    g.output(y)
    _rejected(g.build(), UnsupportedError, "output.*UINT8")


@pytest.mark.parametrize("name", OPS)
def test_float_pool_is_unsupported(name):
    g = GraphBuilder()
    x = g.input("x", (1, 4, 4, 2), "FLOAT32")
    y = g.tensor("y", (1, 2, 2, 2), "FLOAT32")
    g.operator(name, [x], y, padding="VALID", stride_h=2, stride_w=2, filter_height=2,
               filter_width=2)
    g.output(y)
    _rejected(g.build(), UnsupportedError, "FLOAT32", reference_refuses=False)


@pytest.mark.parametrize("name", OPS)
def test_declared_output_shape_must_match(name):
    _rejected(pool_model(name, (1, 5, 5, 2), (2, 2), (2, 2), "SAME", out_shape=(1, 2, 2, 2)),
              ModelError, r"\[1, 3, 3, 2\]", reference_refuses=False)
