"""RELU, RELU6 and LOGISTIC: int8sqz against TFLite's reference, every type;
LOGISTIC on each of the 256 input values for many input quantizations."""

import numpy as np
import pytest
from hypothesis import given

from int8sqz.testing import strategies as S
from int8sqz.testing.writer import GraphBuilder

#: the operators this module tests against the reference (tests/operators/test_conformance.py)
OPERATORS = ("RELU", "RELU6", "LOGISTIC")


@pytest.fixture(autouse=True, scope="module")
def _count_report(pytestconfig):
    S.register_count_report(pytestconfig)


@S.more_examples(2)
@pytest.mark.parametrize("op", ["RELU", "RELU6"])
@pytest.mark.parametrize("type_name", ["INT8", "UINT8", "FLOAT32"])
@given(data=S.st.data())
def test_relu(op, type_name, data):
    S.check_case(data.draw(S.relu_cases(op, type_name), label="case"))


@S.more_examples(2)
@pytest.mark.parametrize("type_name", ["INT8", "UINT8"])
@given(data=S.st.data())
def test_logistic_every_input_value(type_name, data):
    S.check_case(data.draw(S.logistic_cases(type_name, every_value=True), label="case"))


@given(S.logistic_cases())
def test_logistic_any_shape(case):
    S.check_case(case)


def _logistic(type_name, in_q, out_q):
    g = GraphBuilder()
    x = g.input("x", (256,), type_name, scale=in_q[0], zero_point=in_q[1])
    y = g.tensor("y", (256,), type_name, scale=out_q[0], zero_point=out_q[1])
    g.operator("LOGISTIC", [x], y)
    g.output(y)
    lo = -128 if type_name == "INT8" else 0
    data = np.arange(lo, lo + 256).astype(np.int8 if type_name == "INT8" else np.uint8)
    return S.Case("LOGISTIC", g.build(), [data], {})


@pytest.mark.parametrize("type_name", ["INT8", "UINT8"])
@pytest.mark.parametrize("out_q, outcome", [
    ((1.0 / 256, -128), "equal"),
    ((1.0 / 256, 37), "equal"),  # the zero point is only added (checked by TFLite's
                                 # fixed-point kernel alone)
    ((1.0 / 255, -128), "refused"),
    ((float(np.nextafter(np.float32(1 / 256), np.float32(1))), -128), "refused"),
])
def test_logistic_output_quantization_agrees_with_reference(type_name, out_q, outcome):
    zp = out_q[1] if type_name == "INT8" else out_q[1] + 128
    case = _logistic(type_name, (0.05, 3), (out_q[0], zp))
    assert S.check_agreement(case) == outcome


def test_logistic_scales_that_saturate():
    """Input scales so large that the table holds only 0 and the top value
    (expf overflows to inf for the most negative inputs), and so small that
    every entry is the middle one."""
    for scale in (1e30, 3.0e38, 1e-30, 1e-45):
        for type_name in ("INT8", "UINT8"):
            S.check_case(_logistic(type_name, (scale, 5), (1.0 / 256, -128 if type_name ==
                                                           "INT8" else 0)))
