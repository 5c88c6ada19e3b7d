"""MEAN: the kernel (through the operator) against the Python-integer oracle,
the operator against TFLite's reference kernels on generated models and on
the seed models' own MEAN nodes, and prepare-time rejections."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from int8sqz.errors import ModelError, UnsupportedError
from int8sqz.kernels import reduce as kr
from int8sqz.ops._common import quantize_multiplier
from int8sqz.ops.mean import mean_multiplier, reduced_blocks
from int8sqz.testing.reference import run_reference
from int8sqz.testing.writer import GraphBuilder
from single_op import check_seed_nodes, prepare_op, run_single, seed_inputs
from naive import reduce as naive

TYPES = {"INT8": (np.int8, -128, 127), "UINT8": (np.uint8, 0, 255)}
scales = st.floats(9.999999747378752e-06, 10.0, allow_nan=False, allow_infinity=False, width=32)


def out_shape_of(shape, axes, keep_dims):
    red = naive.resolve_axes(axes, len(shape))
    if keep_dims:
        return tuple(1 if d in red else n for d, n in enumerate(shape))
    return tuple(n for d, n in enumerate(shape) if d not in red)


def mean_model(shape, axes, keep_dims, type_name, in_q, out_q, out_shape=None, axis_const=True):
    g = GraphBuilder()
    x = g.input("x", shape, type_name, scale=in_q[0], zero_point=in_q[1])
    axes = np.array(axes, np.int32).reshape(-1)
    a = g.constant("axes", axes) if axis_const else g.input("axes", axes.shape, "INT32")
    if out_shape is None:
        out_shape = out_shape_of(shape, axes, keep_dims)
    y = g.tensor("y", out_shape, type_name, scale=out_q[0], zero_point=out_q[1])
    g.operator("MEAN", [x, a], y, keep_dims=keep_dims)
    g.output(y)
    return g.build()


run_op = run_single


@st.composite
def mean_cases(draw):
    type_name = draw(st.sampled_from(sorted(TYPES)))
    dtype, lo, hi = TYPES[type_name]
    rank = draw(st.integers(0, 5))
    shape = tuple(draw(st.lists(st.integers(1, 5), min_size=rank, max_size=rank)))
    # at least one axis: a zero-length constant has no buffer data, and the loader
    # then takes it for a tensor no operator produces
    axes = draw(st.lists(st.integers(-rank, rank - 1), min_size=1, max_size=6)) if rank else \
        draw(st.lists(st.integers(-3, 3), min_size=1, max_size=2))
    keep_dims = draw(st.booleans())
    in_scale = draw(scales)
    in_zp = draw(st.integers(lo, hi))
    if draw(st.booleans()):
        out_scale, out_zp = in_scale, in_zp
    else:
        out_scale, out_zp = draw(scales), draw(st.integers(lo, hi))
    data = draw(st.integers(0, 2**32 - 1))
    x = np.random.default_rng(data).integers(lo, hi + 1, shape).astype(dtype)
    return type_name, x, axes, keep_dims, (in_scale, in_zp), (out_scale, out_zp)


@given(mean_cases())
def test_mean_matches_oracle(case):
    type_name, x, axes, keep_dims, in_q, out_q = case
    _, lo, hi = TYPES[type_name]
    got = run_op(mean_model(x.shape, axes, keep_dims, type_name, in_q, out_q), x)
    m, s = quantize_multiplier(float(np.float32(in_q[0])) / float(np.float32(out_q[0])))
    want = naive.mean(x, axes, keep_dims, in_q[1], m, s, out_q[1], lo, hi)
    assert got.shape == want.shape
    assert np.array_equal(got, want)


@given(mean_cases())
def test_blocked_kernel_equals_the_general_kernel(case):
    """Where the reduced axes are one run of dimensions, the blocked kernel the
    operator picks gives the general kernel's integers (the fast path checked
    against the plain one directly, not only through the operator)."""
    type_name, x, axes, keep_dims, in_q, out_q = case
    _, lo, hi = TYPES[type_name]
    red = naive.resolve_axes(axes, x.ndim)
    blocks = reduced_blocks(x.shape, red)
    if blocks is None:
        return
    outer, rows, inner = blocks
    strides = np.zeros(x.ndim, np.int64)
    step = 1
    for d in reversed(range(x.ndim)):
        if d not in red:
            strides[d] = step
            step *= x.shape[d]
    m, s = mean_multiplier(*quantize_multiplier(in_q[0] / out_q[0]), rows)
    args = (in_q[1], rows, m, s, out_q[1], lo, hi)
    want = np.empty(outer * inner, x.dtype)
    got = np.empty(outer * inner, x.dtype)
    kr.mean_quantized(x.reshape(-1), np.array(x.shape, np.int64), strides, *args, want)
    kr.mean_quantized_blocks(x.reshape(-1), outer, rows, inner, *args, got)
    assert np.array_equal(got, want)


@given(st.sampled_from(sorted(TYPES)), st.integers(1, 3), st.integers(1, 20), st.integers(1, 80),
       scales, scales, st.data())
def test_blocked_kernel_wide_rows(type_name, outer, rows, inner, in_scale, out_scale, data):
    """Rows of up to 80 outputs (MobileNet's [1, 4, 4, 1280] over 16 rows is
    one such case): the 16-lane requantization and its scalar tail against
    the general kernel and the oracle."""
    dtype, lo, hi = TYPES[type_name]
    x = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1))).integers(
        lo, hi + 1, (outer, rows, inner)).astype(dtype)
    in_zp, out_zp = data.draw(st.integers(lo, hi)), data.draw(st.integers(lo, hi))
    m, s = mean_multiplier(*quantize_multiplier(in_scale / out_scale), rows)
    args = (in_zp, rows, m, s, out_zp, lo, hi)
    want = np.empty(outer * inner, x.dtype)
    got = np.empty(outer * inner, x.dtype)
    kr.mean_quantized(x.reshape(-1), np.array(x.shape, np.int64), np.array([inner, 0, 1]),
                      *args, want)
    kr.mean_quantized_blocks(x.reshape(-1), outer, rows, inner, *args, got)
    assert np.array_equal(got, want)
    # (the scales are float32 values: the oracle takes the same multiplier)
    oracle = naive.mean(x, [1], False, in_zp, *quantize_multiplier(in_scale / out_scale),
                        out_zp, lo, hi)
    assert np.array_equal(got.reshape(outer, inner), oracle)


@pytest.mark.parametrize("shape,axes,want", [
    ((1, 4, 4, 1280), [1, 2], (1, 16, 1280)), ((2, 3, 4), [0], (1, 2, 12)),
    ((2, 1, 3, 4), [0, 2], (1, 6, 4)), ((2, 3, 4), [0, 2], None), ((1, 5), [0], None),
    ((2, 3, 4, 5), [3, 2], (6, 20, 1)),
])
def test_reduced_blocks(shape, axes, want):
    assert reduced_blocks(shape, axes) == want


def _reference_cases():
    """Axes sets, keep_dims, equal and different quantization, both types."""
    rng = np.random.default_rng(2024)
    cases = [
        # the seed models' global average pool, and its keep_dims twin (once a special path)
        ((1, 6, 6, 5), [1, 2], False, "INT8", (0.0562, -100), (0.0302, -76)),
        ((1, 6, 6, 5), [1, 2], True, "INT8", (0.0562, -100), (0.0302, -76)),
        ((2, 3, 5, 4), [2, 1], True, "INT8", (0.5, 3), (0.5, 3)),
        ((2, 3, 5, 4), [1, 2], True, "UINT8", (0.02, 128), (0.05, 10)),
        ((1, 7, 9, 3), [-3, -2], False, "INT8", (0.1, 0), (0.1, 0)),
        ((3, 4), [1, 1, -1], False, "INT8", (1.0, 0), (1.0, 0)),
        ((2, 3, 4), [0, 1, 2], True, "UINT8", (0.3, 7), (0.01, 200)),
        ((2, 3, 4, 5, 2), [4, 0, 2], False, "INT8", (0.05, -3), (0.02, 4)),
        ((2, 2, 2, 2), [0, 1, 2, 3, 0, 1], True, "INT8", (0.05, -3), (0.05, -3)),
        ((), [0], False, "INT8", (1.0, 5), (0.5, 0)),  # a scalar ignores its axes
        ((1, 40, 40, 2), [1, 2], False, "INT8", (1e-5, 0), (10.0, 0)),  # multiplier flushed
        ((1, 33, 31, 2), [1, 2], False, "INT8", (2.0, 0), (1e-4, 0)),  # large left shift
        ((1, 3, 3, 2), [1, 2], False, "UINT8", (3.0, 0), (1e-5, 128)),
    ]
    for _ in range(24):
        rank = int(rng.integers(1, 5))
        shape = tuple(int(d) for d in rng.integers(1, 6, rank))
        axes = [int(a) for a in rng.integers(-rank, rank, int(rng.integers(1, 5)))]
        type_name = ["INT8", "UINT8"][int(rng.integers(2))]
        _, lo, hi = TYPES[type_name]
        in_q = (float(10 ** rng.uniform(-3, 0)), int(rng.integers(lo, hi + 1)))
        out_q = in_q if rng.random() < 0.3 else \
            (in_q[0] * float(10 ** rng.uniform(-1.5, 1.5)), int(rng.integers(lo, hi + 1)))
        cases.append((shape, axes, bool(rng.integers(2)), type_name, in_q, out_q))
    return cases


@pytest.mark.parametrize("shape,axes,keep_dims,type_name,in_q,out_q", _reference_cases())
def test_mean_matches_reference(shape, axes, keep_dims, type_name, in_q, out_q):
    dtype, lo, hi = TYPES[type_name]
    content = mean_model(shape, axes, keep_dims, type_name, in_q, out_q)
    rng = np.random.default_rng(abs(hash((shape, tuple(axes)))) % 2**32)
    inputs = [rng.integers(lo, hi + 1, shape).astype(dtype),
              np.full(shape, lo, dtype), np.full(shape, hi, dtype)]
    for x in inputs:
        want = run_reference(content, [x])[0]
        got = run_op(content, x)
        assert got.shape == want.shape
        assert np.array_equal(got, want)


@pytest.mark.parametrize("shape,axes", [((0, 3), [1]), ((2, 0), [1]), ((2, 0, 3), [0])])
def test_mean_of_empty_input_matches_reference(shape, axes):
    content = mean_model(shape, axes, False, "INT8", (1.0, 5), (0.5, 3))
    x = np.zeros(shape, np.int8)
    want = run_reference(content, [x])[0]
    got = run_op(content, x)
    assert got.shape == want.shape
    assert np.array_equal(got, want)


@pytest.mark.parametrize("name", ["flowers", "food-101", "plant-village"])
def test_seed_model_mean_nodes_match_reference(seed_models, name):
    path = seed_models[name]
    assert check_seed_nodes(path, ('MEAN',), seed_inputs(path, 11, 200)) == 2


def _prepare(content):
    return prepare_op(content)[3]


@pytest.mark.parametrize("axes", [[2], [-3], [0, 5]])
def test_axis_out_of_range_is_rejected(axes):
    content = mean_model((2, 3), axes, False, "INT8", (1.0, 0), (1.0, 0), out_shape=(2,))
    with pytest.raises(RuntimeError):  # the reference refuses it too
        run_reference(content, [np.zeros((2, 3), np.int8)])
    with pytest.raises(ModelError, match=r"operator 0 \(MEAN\).*axis"):
        _prepare(content)


def test_axis_computed_at_run_time_is_unsupported():
    content = mean_model((2, 3), [1], False, "INT8", (1.0, 0), (1.0, 0), axis_const=False)
    with pytest.raises(UnsupportedError, match=r"\(MEAN\).*axis.*constant"):
        _prepare(content)


def test_output_type_must_match_input():
    g = GraphBuilder()
    x = g.input("x", (2, 3), "INT8", scale=1.0, zero_point=0)
    a = g.constant("axes", np.array([1], np.int32))
    y = g.tensor("y", (2,), "UINT8", scale=1.0, zero_point=0)
    g.operator("MEAN", [x, a], y, keep_dims=False)
    g.output(y)
    with pytest.raises(UnsupportedError, match=r"\(MEAN\).*output"):
        _prepare(g.build())


def test_declared_output_shape_must_agree():
    content = mean_model((2, 3), [1], True, "INT8", (1.0, 0), (1.0, 0), out_shape=(2,))
    with pytest.raises(ModelError, match=r"\(MEAN\).*shape"):
        _prepare(content)


def test_unquantized_input_is_rejected():
    g = GraphBuilder()
    x = g.input("x", (2, 3), "INT8")
    a = g.constant("axes", np.array([1], np.int32))
    y = g.tensor("y", (2,), "INT8", scale=1.0, zero_point=0)
    g.operator("MEAN", [x, a], y, keep_dims=False)
    g.output(y)
    with pytest.raises(ModelError, match=r"\(MEAN\).*input"):
        _prepare(g.build())
