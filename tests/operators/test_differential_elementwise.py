"""MUL, ADD and SUB with every broadcast pattern, and MAXIMUM and MINIMUM of
every type: int8sqz against TFLite's reference."""

import numpy as np
import pytest
from hypothesis import given

from int8sqz.testing import strategies as S
from int8sqz.testing.writer import GraphBuilder

#: the operators this module tests against the reference (tests/operators/test_conformance.py)
OPERATORS = ("ADD", "MUL", "SUB", "MAXIMUM", "MINIMUM")


@pytest.fixture(autouse=True, scope="module")
def _count_report(pytestconfig):
    S.register_count_report(pytestconfig)


@S.more_examples(3)
@pytest.mark.parametrize("op", ["MUL", "ADD", "SUB"])
@given(data=S.st.data())
def test_any_broadcast(op, data):
    S.check_case(data.draw(S.binary_cases(op, max_rank=4), label="case"))


@pytest.mark.parametrize("op", ["MUL", "ADD", "SUB"])
@given(data=S.st.data())
def test_rank_5_and_6_broadcast(op, data):
    S.check_case(data.draw(S.binary_cases(op, max_rank=6), label="case"))


@S.more_examples(3)
@pytest.mark.parametrize("op", ["MUL", "ADD", "SUB"])
@given(data=S.st.data())
def test_feature_maps(op, data):
    S.check_case(data.draw(S.binary_cases(op, realistic=True), label="case"))


@pytest.mark.parametrize("op", ["MUL", "ADD", "SUB"])
@given(data=S.st.data())
def test_uint8(op, data):
    realistic = data.draw(S.st.booleans(), label="realistic")
    S.check_case(data.draw(S.binary_cases(op, realistic=realistic, type_name="UINT8"),
                           label="case"))


def _binary(op, s1, s2, so, out_scale=0.05):
    g = GraphBuilder()
    a = g.input("a", s1, "INT8", scale=0.1, zero_point=2)
    b = g.input("b", s2, "INT8", scale=0.2, zero_point=-5)
    y = g.tensor("y", so, "INT8", scale=out_scale, zero_point=1)
    g.operator(op, [a, b], y)
    g.output(y)
    rng = np.random.default_rng(5)
    datas = [rng.integers(-128, 128, s).astype(np.int8) for s in (s1, s2)]
    return S.Case(op, g.build(), datas, {})


@pytest.mark.parametrize("op", ["MUL", "ADD", "SUB"])
@pytest.mark.parametrize("shapes, outcome", [
    (((2, 3), (3,), (2, 3)), "equal"),
    (((2, 3), (1, 3), (2, 3)), "equal"),
    (((2, 3), (2,), (2, 3)), "refused"),  # incompatible dimensions
    # TFLite resizes the output to the broadcast shape whatever the file says;
    # int8sqz refuses a file whose output shape contradicts its inputs
    (((2, 3), (4, 2, 3), (2, 3)), "stricter"),
])
def test_broadcast_prepare_agrees_with_reference(op, shapes, outcome):
    assert S.check_agreement(_binary(op, *shapes), allow_stricter=True) == outcome


@pytest.mark.parametrize("op", ["SUB"])
@pytest.mark.parametrize("shapes, outcome", [
    (((2, 3), (3,), (2, 3)), "equal"),
    (((2, 3), (2,), (2, 3)), "refused"),
])
def test_sub_broadcast_prepare_agrees_with_reference(op, shapes, outcome):
    assert S.check_agreement(_binary(op, *shapes), allow_stricter=True) == outcome


@S.more_examples(2)
@pytest.mark.parametrize("op", ["MAXIMUM", "MINIMUM"])
@pytest.mark.parametrize("type_name", ["INT8", "UINT8", "INT32", "FLOAT32"])
@given(data=S.st.data())
def test_maximum_minimum(op, type_name, data):
    S.check_case(data.draw(S.extremum_cases(op, type_name), label="case"))


@pytest.mark.parametrize("op", ["MAXIMUM", "MINIMUM"])
@given(data=S.st.data())
def test_maximum_minimum_rank_5_to_8(op, data):
    S.check_case(data.draw(S.extremum_cases(op, max_rank=8), label="case"))
