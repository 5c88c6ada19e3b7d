"""MEAN over every axis set, keep_dims both ways: int8sqz against TFLite's reference."""

import pytest
from hypothesis import given

from int8sqz.testing import strategies as S

#: the operators this module tests against the reference (tests/operators/test_conformance.py)
OPERATORS = ("MEAN",)


@pytest.fixture(autouse=True, scope="module")
def _count_report(pytestconfig):
    S.register_count_report(pytestconfig)


@S.more_examples(3)
@given(S.mean_cases())
def test_mean_any_axes(case):
    S.check_case(case)


@S.more_examples(3)
@given(S.mean_cases(realistic=True))
def test_mean_global_average_pool(case):
    S.check_case(case)


@given(S.mean_cases(type_name="UINT8"))
def test_uint8_mean(case):
    S.check_case(case)
