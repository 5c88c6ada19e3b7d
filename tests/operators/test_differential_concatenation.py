"""CONCATENATION of 2-4 inputs on every axis: int8sqz against TFLite's reference."""

import pytest
from hypothesis import given

from int8sqz.testing import strategies as S

#: the operators this module tests against the reference (tests/operators/test_conformance.py)
OPERATORS = ("CONCATENATION",)


@pytest.fixture(autouse=True, scope="module")
def _count_report(pytestconfig):
    S.register_count_report(pytestconfig)


@S.more_examples(3)
@given(S.concatenation_cases("INT8", same_quantization=True))
def test_int8_concatenation(case):
    S.check_case(case)


@S.more_examples(3)
@given(S.concatenation_cases("UINT8", same_quantization=False))
def test_uint8_concatenation_with_different_scales(case):
    """uint8 inputs may each have their own scale and zero point (TFLite rescales)."""
    S.check_case(case)


@given(S.concatenation_cases("INT8", same_quantization=False))
def test_int8_inputs_with_other_quantization_are_refused_as_by_the_reference(case):
    """TFLite's int8 kernel requires every input quantized as the output;
    whatever int8sqz does, it must refuse what the reference refuses."""
    S.check_agreement(case, allow_unsupported=False)
