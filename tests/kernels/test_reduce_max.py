"""REDUCE_MAX: the operator (prepare + kernel) against the oracle for every
type and axis set, and the prepare-time refusals."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from int8sqz.errors import ModelError, UnsupportedError
from int8sqz.testing.writer import GraphBuilder
from naive import reduce as naive
from single_op import prepare_op, run_single

DTYPES = {"INT8": np.int8, "UINT8": np.uint8, "INT32": np.int32, "FLOAT32": np.float32}


def reduce_max_model(shape, axes, keep_dims, type_name, out_shape=None, in_q=(0.5, 1),
                     out_q=(0.5, 1)):
    g = GraphBuilder()
    quant = (lambda q: dict(scale=q[0], zero_point=q[1])) if type_name in ("INT8", "UINT8") \
        else (lambda q: {})
    x = g.input("x", shape, type_name, **quant(in_q))
    a = g.constant("axes", np.array(axes, np.int32).reshape(-1))
    if out_shape is None:
        red = naive.resolve_axes(axes, len(shape))
        out_shape = tuple(1 if d in red else n for d, n in enumerate(shape)) if keep_dims \
            else tuple(n for d, n in enumerate(shape) if d not in red)
    y = g.tensor("y", out_shape, type_name, **quant(out_q))
    g.operator("REDUCE_MAX", [x, a], y, keep_dims=keep_dims)
    g.output(y)
    return g.build()


@st.composite
def cases(draw):
    type_name = draw(st.sampled_from(list(DTYPES)))
    rank = draw(st.integers(0, 5))
    shape = tuple(draw(st.lists(st.integers(0 if draw(st.integers(0, 9)) == 0 else 1, 4),
                                min_size=rank, max_size=rank)))
    axes = draw(st.lists(st.integers(-rank, rank - 1), min_size=1, max_size=6)) if rank else \
        [draw(st.integers(-3, 3))]
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if type_name == "FLOAT32":
        x = np.asarray(rng.normal(0, 3, shape).round(1))
        mask = rng.random(shape) < 0.2
        x[mask] = rng.choice([np.nan, -np.nan, np.inf, -np.inf, 0.0, -0.0], mask.sum())
        x = np.asarray(x, np.float32)
    else:
        info = np.iinfo(DTYPES[type_name])
        x = rng.integers(info.min, info.max, shape, endpoint=True).astype(info.dtype)
    return type_name, x, axes, draw(st.booleans())


@given(cases())
def test_reduce_max_matches_oracle(case):
    type_name, x, axes, keep_dims = case
    got = run_single(reduce_max_model(x.shape, axes, keep_dims, type_name), x)
    want = naive.reduce_max(x, axes, keep_dims)
    assert got.shape == want.shape and got.tobytes() == want.tobytes()


@pytest.mark.parametrize("kwargs, error, text", [
    (dict(out_q=(0.25, 1)), ModelError, "requires them equal"),
    (dict(out_q=(0.5, 2)), ModelError, "requires them equal"),
    (dict(axes=[2], out_shape=(2,)), ModelError, "axis 2 is out of range"),
    (dict(out_shape=(3,)), ModelError, "expected \\[2\\]"),
])
def test_refusals_name_the_operator(kwargs, error, text):
    args = dict(shape=(2, 2), axes=[1], keep_dims=False, type_name="INT8")
    args.update(kwargs)
    with pytest.raises(error, match=text) as info:
        prepare_op(reduce_max_model(**args))
    assert "operator 0 (REDUCE_MAX" in str(info.value)


def test_axes_must_be_a_constant():
    g = GraphBuilder()
    x = g.input("x", (2, 2), "INT8", scale=0.5, zero_point=0)
    a = g.input("axes", (1,), "INT32")
    y = g.tensor("y", (2,), "INT8", scale=0.5, zero_point=0)
    g.operator("REDUCE_MAX", [x, a], y)
    g.output(y)
    with pytest.raises(UnsupportedError, match="expected a constant"):
        prepare_op(g.build())
