"""REDUCE_MAX over every axis set, keep_dims both ways, every type (float32
with NaN, infinities and signed zeros): int8sqz against TFLite's reference."""

import numpy as np
import pytest
from hypothesis import given

from int8sqz.testing import strategies as S
from int8sqz.testing.writer import GraphBuilder

#: the operators this module tests against the reference (tests/operators/test_conformance.py)
OPERATORS = ("REDUCE_MAX",)


@pytest.fixture(autouse=True, scope="module")
def _count_report(pytestconfig):
    S.register_count_report(pytestconfig)


@S.more_examples(2)
@pytest.mark.parametrize("type_name", ["INT8", "UINT8", "INT32", "FLOAT32"])
@given(data=S.st.data())
def test_reduce_max_any_axes(type_name, data):
    S.check_case(data.draw(S.reduce_max_cases(type_name), label="case"))


def _reduce_max(shape, axes, keep_dims, data, in_q=(0.1, 0), out_q=(0.1, 0), out_shape=None):
    t = {np.dtype(np.int8): "INT8", np.dtype(np.float32): "FLOAT32"}[data.dtype]
    quant = (lambda q: dict(scale=q[0], zero_point=q[1])) if t == "INT8" else (lambda q: {})
    g = GraphBuilder()
    x = g.input("x", shape, t, **quant(in_q))
    a = g.constant("axes", np.array(axes, np.int32))
    y = g.tensor("y", out_shape, t, **quant(out_q))
    g.operator("REDUCE_MAX", [x, a], y, keep_dims=keep_dims)
    g.output(y)
    return S.Case("REDUCE_MAX", g.build(), [data], {})


@pytest.mark.parametrize("axes, out_shape", [([0, 1], ()), ([1], (2,)), ([], (2, 3))])
def test_nan_and_minus_infinity_on_both_paths(axes, out_shape):
    """Every axis reduced: the running maximum starts from the first element
    (NaN there stays, a row of -inf gives -inf); otherwise from the lowest
    float (NaN is passed over, -inf gives the lowest float)."""
    for first in (np.nan, -np.inf, 1.0):
        x = np.array([[first, 1.0, 2.0], [-np.inf, -np.inf, -np.inf]], np.float32)
        S.check_case(_reduce_max((2, 3), axes, False, x, out_shape=out_shape))


@pytest.mark.parametrize("in_q, out_q, outcome", [
    ((0.1, 0), (0.1, 0), "equal"),
    ((0.1, 0), (0.2, 0), "refused"),  # TFLite refuses when it runs (reduce.cc Eval)
    ((0.1, 0), (0.1, 1), "refused"),
])
def test_quantization_must_match_as_in_tflite(in_q, out_q, outcome):
    x = np.arange(6, dtype=np.int8).reshape(2, 3)
    case = _reduce_max((2, 3), [1], True, x, in_q, out_q, out_shape=(2, 1))
    assert S.check_agreement(case) == outcome
