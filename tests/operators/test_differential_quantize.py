"""QUANTIZE and DEQUANTIZE between every supported type pair: int8sqz against TFLite."""

import pytest
from hypothesis import given

from int8sqz.testing import strategies as S

#: the operators this module tests against the reference (tests/operators/test_conformance.py)
OPERATORS = ("QUANTIZE", "DEQUANTIZE")


@pytest.fixture(autouse=True, scope="module")
def _count_report(pytestconfig):
    S.register_count_report(pytestconfig)


@S.more_examples(3)
@pytest.mark.parametrize("pair", S.QUANTIZE_PAIRS, ids=lambda p: f"{p[0]}-{p[1]}")
@given(data=S.st.data())
def test_quantize(pair, data):
    S.check_case(data.draw(S.quantize_cases(pair), label="case"))


@pytest.mark.parametrize("src", ["INT8", "UINT8"])
@given(data=S.st.data())
def test_dequantize(src, data):
    S.check_case(data.draw(S.dequantize_cases(src), label="case"))
