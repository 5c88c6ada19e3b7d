"""RESIZE_BILINEAR up and down, with each option TFLite accepts, of int8
(integer arithmetic), uint8 and float32 (float arithmetic): int8sqz against
TFLite's reference."""

import numpy as np
import pytest
from hypothesis import given

from int8sqz.testing import strategies as S
from int8sqz.testing.writer import GraphBuilder

#: the operators this module tests against the reference (tests/operators/test_conformance.py)
OPERATORS = ("RESIZE_BILINEAR",)


@pytest.fixture(autouse=True, scope="module")
def _count_report(pytestconfig):
    S.register_count_report(pytestconfig)


@S.more_examples(2)
@pytest.mark.parametrize("type_name", ["INT8", "UINT8", "FLOAT32"])
@given(data=S.st.data())
def test_resize_bilinear(type_name, data):
    S.check_case(data.draw(S.resize_bilinear_cases(type_name), label="case"))


def _resize(type_name, in_shape, size, **options):
    g = GraphBuilder()
    x = g.input("x", in_shape, type_name, scale=0.1, zero_point=3)
    s = g.constant("size", np.array(size, np.int32))
    out = (in_shape[0], max(size[0], 1), max(size[1], 1), in_shape[3])
    y = g.tensor("y", out, type_name, scale=0.1, zero_point=3)
    g.operator("RESIZE_BILINEAR", [x, s], y, **options)
    g.output(y)
    data = np.arange(np.prod(in_shape)).reshape(in_shape).astype(np.int8)
    return S.Case("RESIZE_BILINEAR", g.build(), [data], {})


@pytest.mark.parametrize("size, options, outcome", [
    ((4, 4), {}, "equal"),
    ((4, 4), dict(align_corners=True, half_pixel_centers=True), "refused"),
    ((0, 4), {}, "refused"),
    ((4, -1), {}, "refused"),
])
def test_prepare_agrees_with_reference(size, options, outcome):
    case = _resize("INT8", (1, 2, 3, 1), size, **options)
    assert S.check_agreement(case, allow_stricter=True) == outcome
