"""RELU, RELU6 and LOGISTIC: the operators (prepare + kernel) against the
Python oracle, in place, and the prepare-time refusals."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from int8sqz.errors import ModelError, UnsupportedError
from int8sqz.ops import logistic
from int8sqz.testing.writer import GraphBuilder
from naive import activation as naive
from single_op import prepare_op, run_single

TYPES = {"INT8": (np.int8, -128, 127), "UINT8": (np.uint8, 0, 255)}
UPPER = {"RELU": None, "RELU6": 6.0}


def unary_model(op, shape, type_name, in_q=None, out_q=None):
    g = GraphBuilder()
    kw_in = {} if in_q is None else dict(scale=in_q[0], zero_point=in_q[1])
    kw_out = {} if out_q is None else dict(scale=out_q[0], zero_point=out_q[1])
    x = g.input("x", shape, type_name, **kw_in)
    y = g.tensor("y", shape, type_name, **kw_out)
    g.operator(op, [x], y)
    g.output(y)
    return g.build()


def run_in_place(content, x):
    model, op, ctx, run = prepare_op(content)
    tensors = [t.data for t in model.tensors]
    buf = np.ascontiguousarray(x).copy()
    tensors[op.inputs[0]] = tensors[op.outputs[0]] = buf
    run(tensors)
    return buf


scales = st.floats(2.0**-14, 4.0).map(lambda v: float(np.float32(v)))


@given(st.sampled_from(["RELU", "RELU6"]), st.sampled_from(list(TYPES)), scales, scales,
       st.data())
def test_quantized_relu_matches_oracle_on_every_value(op, type_name, s_in, s_out, data):
    dtype, lo, hi = TYPES[type_name]
    in_q = (s_in, data.draw(st.integers(lo, hi)))
    out_q = (s_out, data.draw(st.integers(lo, hi)))
    x = np.arange(lo, hi + 1).astype(dtype)
    content = unary_model(op, x.shape, type_name, in_q, out_q)
    want = naive.relu_quantized(x, in_q, out_q, type_name, UPPER[op])
    assert np.array_equal(run_single(content, x), want)
    assert np.array_equal(run_in_place(content, x), want)


@pytest.mark.parametrize("op", ["RELU", "RELU6"])
def test_float_relu_matches_oracle_bytes(op):
    x = np.array([np.nan, -np.nan, -0.0, 0.0, -1.0, 1.0, 5.5, 6.0, 7.0, np.inf, -np.inf,
                  -1e-45, 3.4e38], np.float32)
    content = unary_model(op, x.shape, "FLOAT32")
    want = naive.relu_float(x, UPPER[op]).tobytes()
    assert run_single(content, x).tobytes() == want
    assert run_in_place(content, x).tobytes() == want


@given(st.sampled_from(list(TYPES)), st.floats(2.0**-16, 2.0**16), st.data())
def test_logistic_table_matches_oracle(type_name, s_in, data):
    dtype, lo, hi = TYPES[type_name]
    in_q = (float(np.float32(s_in)), data.draw(st.integers(lo, hi)))
    out_zp = data.draw(st.sampled_from([lo, lo + 1, 0, hi]))
    x = np.arange(lo, hi + 1).astype(dtype)
    content = unary_model("LOGISTIC", x.shape, type_name, in_q, (1.0 / 256, out_zp))
    want = naive.logistic(x, in_q, out_zp, type_name)
    assert np.array_equal(run_single(content, x), want)
    assert np.array_equal(run_in_place(content, x[::-1]), want[::-1])


def test_logistic_expf_fallback_gives_the_same_tables(monkeypatch):
    """Without the C library's expf, float32(exp(double)) fills the table;
    over these scales it gives the same entries."""
    if logistic.c_expf() is None:
        pytest.skip("no C math library here: the fallback is in use")
    cases = [(float(scale), type_name, zp)
             for scale in np.geomspace(2.0**-10, 2.0**6, 60).astype(np.float32)
             for type_name, zp in (("INT8", -3), ("UINT8", 140))]
    want = [logistic.logistic_table(s, zp, zp, t) for s, t, zp in cases]
    monkeypatch.setattr(logistic, "c_expf", lambda: None)
    for (s, t, zp), table in zip(cases, want):
        assert np.array_equal(logistic.logistic_table(s, zp, zp, t), table), (s, t)


@pytest.mark.parametrize("op, type_name, in_q, out_q, error, text", [
    ("RELU", "INT8", (0.1, 0), (0.0, 0), ModelError, "scale 0.0"),
    ("RELU", "INT8", (float("nan"), 0), (0.1, 0), ModelError, "scale nan"),
    ("RELU6", "UINT8", (0.1, 0), (float("inf"), 0), ModelError, "scale inf"),
    ("RELU", "INT8", (2.0**10, 0), (2.0**-25, 0), UnsupportedError, "left shift of 36"),
    ("RELU", "INT8", (3e38, 0), (1e-30, 0), UnsupportedError, "overflows float32"),
    ("RELU6", "INT8", (1e-9, 0), (1e-9, 0), UnsupportedError, "does not fit an int32"),
    ("RELU", "INT8", (0.1, 300), (0.1, 0), ModelError, "zero point 300"),
    ("LOGISTIC", "INT8", (0.1, 0), (1.0 / 255, -128), ModelError, "exactly 1/256"),
    ("LOGISTIC", "UINT8", (0.0, 0), (1.0 / 256, 0), ModelError, "scale 0.0"),
])
def test_refusals_name_the_operator(op, type_name, in_q, out_q, error, text):
    content = unary_model(op, (4,), type_name, in_q, out_q)
    with pytest.raises(error, match=text) as info:
        prepare_op(content)
    assert f"operator 0 ({op}" in str(info.value)


@pytest.mark.parametrize("op", ["RELU", "RELU6", "LOGISTIC"])
def test_types_must_agree(op):
    g = GraphBuilder()
    x = g.input("x", (4,), "INT8", scale=0.1, zero_point=0)
    y = g.tensor("y", (4,), "UINT8", scale=1.0 / 256, zero_point=0)
    g.operator(op, [x], y)
    g.output(y)
    with pytest.raises(UnsupportedError, match="expected INT8"):
        prepare_op(g.build())
