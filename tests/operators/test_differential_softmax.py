"""SOFTMAX with different betas and input scales: int8sqz against TFLite's reference."""

import numpy as np
import pytest
from hypothesis import given

from int8sqz.testing import strategies as S
from int8sqz.testing.writer import GraphBuilder

#: the operators this module tests against the reference (tests/operators/test_conformance.py)
OPERATORS = ("SOFTMAX",)


@pytest.fixture(autouse=True, scope="module")
def _count_report(pytestconfig):
    S.register_count_report(pytestconfig)


@S.more_examples(3)
@given(S.softmax_cases())
def test_softmax(case):
    S.check_case(case)


@given(S.softmax_cases(realistic=True))
def test_softmax_of_logits(case):
    S.check_case(case)


@given(S.st.data())
def test_uint8_softmax(data):
    realistic = data.draw(S.st.booleans(), label="realistic")
    S.check_case(data.draw(S.softmax_cases(realistic, type_name="UINT8"), label="case"))


@pytest.mark.parametrize("out_q, outcome", [
    ((1 / 256, -128), "equal"),
    ((1 / 255, -128), "refused"),  # int8 output must be scale 1/256 ...
    ((1 / 256, 0), "refused"),  # ... and zero point -128
])
def test_softmax_prepare_agrees_with_reference(out_q, outcome):
    g = GraphBuilder()
    x = g.input("x", (1, 10), "INT8", scale=0.1, zero_point=4)
    y = g.tensor("y", (1, 10), "INT8", scale=out_q[0], zero_point=out_q[1])
    g.operator("SOFTMAX", [x], y)
    g.output(y)
    data = np.arange(-50, 50, 10, dtype=np.int8).reshape(1, 10)
    assert S.check_agreement(S.Case("SOFTMAX", g.build(), [data], {})) == outcome


@S.more_examples(6)
@given(S.softmax_cases(many_rows=True))
def test_softmax_many_rows(case):
    S.check_case(case)
