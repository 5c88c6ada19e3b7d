"""RESIZE_BILINEAR: the operator (prepare + kernels) against the oracles
that recompute every pixel's source position, and the refusals where
TFLite's reference would read outside the input."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from int8sqz.errors import ModelError, UnsupportedError
from int8sqz.testing.strategies import resize_reads_outside
from int8sqz.testing.writer import GraphBuilder
from naive import resize as naive
from single_op import prepare_op, run_single

DTYPES = {"INT8": np.int8, "UINT8": np.uint8, "FLOAT32": np.float32}
OPTIONS = [(False, False), (True, False), (False, True)]


def resize_model(in_shape, size, type_name, align_corners=False, half_pixel=False,
                 out_shape=None):
    g = GraphBuilder()
    x = g.input("x", in_shape, type_name)
    s = g.constant("size", np.array(size, np.int32))
    out = out_shape or (in_shape[0], size[0], size[1], in_shape[3])
    y = g.tensor("y", out, type_name)
    g.operator("RESIZE_BILINEAR", [x, s], y, align_corners=align_corners,
               half_pixel_centers=half_pixel)
    g.output(y)
    return g.build()


def data(rng, shape, type_name):
    if type_name == "FLOAT32":
        v = np.asarray(rng.normal(0, 50, shape))
        mask = rng.random(shape) < 0.1
        v[mask] = rng.choice([np.nan, -np.nan, np.inf, -np.inf, -0.0], mask.sum())
        return np.asarray(v, np.float32)
    info = np.iinfo(DTYPES[type_name])
    return rng.integers(info.min, info.max, shape, endpoint=True).astype(info.dtype)


@given(st.sampled_from(list(DTYPES)), st.sampled_from(OPTIONS),
       st.tuples(st.integers(1, 2), st.integers(1, 6), st.integers(1, 6), st.integers(1, 3)),
       st.tuples(st.integers(1, 13), st.integers(1, 13)), st.integers(0, 2**32 - 1))
def test_resize_matches_oracle(type_name, options, in_shape, size, seed):
    align_corners, half_pixel = options
    if type_name == "INT8" and any(resize_reads_outside(i, o, *options)
                                   for i, o in zip(in_shape[1:3], size)):
        return  # refused: see test_sizes_where_tflite_reads_outside_the_input
    x = data(np.random.default_rng(seed), in_shape, type_name)
    content = resize_model(in_shape, size, type_name, align_corners, half_pixel)
    oracle = naive.resize_bilinear_integer if type_name == "INT8" else \
        naive.resize_bilinear_float
    want = oracle(x, *size, align_corners, half_pixel)
    assert run_single(content, x).tobytes() == want.tobytes()


def test_sizes_where_tflite_reads_outside_the_input():
    """int8's scale in 1/1024 is rounded to nearest: resizing 1 row to 62
    puts the last output row's lower source row at 1, past the input (the
    reference then returns whatever memory follows, differently from run to
    run). int8sqz refuses every size where this happens and accepts the rest;
    uint8 and float32 (float arithmetic) do not have the problem."""
    refused = 0
    for in_size in range(1, 5):
        for out_size in range(1, 200):
            for options in OPTIONS:
                content = resize_model((1, in_size, 1, 1), (out_size, 1), "INT8", *options)
                if resize_reads_outside(in_size, out_size, *options):
                    refused += 1
                    with pytest.raises(UnsupportedError, match="reads outside the input"):
                        prepare_op(content)
                else:
                    prepare_op(content)
    assert refused > 100
    for type_name in ("UINT8", "FLOAT32"):
        prepare_op(resize_model((1, 1, 1, 1), (62, 1), type_name))


@pytest.mark.parametrize("kwargs, error, text", [
    (dict(size=(0, 3)), ModelError, "two positive numbers"),
    (dict(align_corners=True, half_pixel=True), ModelError, "align_corners and half_pixel"),
    (dict(in_shape=(1, 2, 3), out_shape=(1, 4, 5, 3)), ModelError, "expected rank 4"),
    (dict(size=(3, 3), out_shape=(1, 3, 4, 1)), ModelError, "expected \\[1, 3, 3, 1\\]"),
    (dict(in_shape=(1, 3000000, 1, 1), size=(1, 1)), UnsupportedError, "overflows an int32"),
])
def test_refusals_name_the_operator(kwargs, error, text):
    args = dict(in_shape=(1, 2, 3, 1), size=(4, 5), type_name="INT8")
    args.update(kwargs)
    with pytest.raises(error, match=text) as info:
        prepare_op(resize_model(**args))
    assert "operator 0 (RESIZE_BILINEAR" in str(info.value)


def test_size_must_be_a_constant_pair():
    for size_shape, text in (((2,), "expected a constant"), ((3,), "expected \\[2\\]")):
        g = GraphBuilder()
        x = g.input("x", (1, 2, 2, 1), "INT8")
        s = g.input("size", size_shape, "INT32") if text.startswith("expected a") else \
            g.constant("size", np.array([2, 2, 2], np.int32))
        y = g.tensor("y", (1, 2, 2, 1), "INT8")
        g.operator("RESIZE_BILINEAR", [x, s], y)
        g.output(y)
        with pytest.raises((ModelError, UnsupportedError), match=text):
            prepare_op(g.build())
