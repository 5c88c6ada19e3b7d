"""CONV_2D: generated models run in int8sqz and in TFLite's reference kernels."""

import numpy as np
import pytest
from hypothesis import given

from int8sqz.testing import strategies as S
from int8sqz.testing.writer import GraphBuilder

#: the operators this module tests against the reference (tests/operators/test_conformance.py)
OPERATORS = ("CONV_2D",)


@pytest.fixture(autouse=True, scope="module")
def _count_report(pytestconfig):
    S.register_count_report(pytestconfig)


@S.more_examples(3)
@given(S.conv_2d_cases(per_channel=True))
def test_conv_2d_per_channel(case):
    S.check_case(case)


@S.more_examples(3)
@given(S.conv_2d_cases(per_channel=False))
def test_conv_2d_per_tensor(case):
    S.check_case(case)


def _conv(cin_input, cin_filter, cout=4, bias_scale_factor=1.0, filter_zp=0, bias=True):
    rng = np.random.default_rng(3)
    g = GraphBuilder()
    x = g.input("x", (1, 6, 6, cin_input), "INT8", scale=0.05, zero_point=-3)
    ws = np.float32([0.01, 0.02, 0.03, 0.04][:cout])
    w = g.constant("w", rng.integers(-127, 128, (cout, 3, 3, cin_filter)).astype(np.int8),
                   scale=ws, zero_point=[filter_zp] + [0] * (cout - 1))
    ins = [x, w]
    if bias:
        bs = (np.float64(np.float32(0.05)) * ws.astype(np.float64)).astype(np.float32)
        bs[0] *= bias_scale_factor
        ins.append(g.constant("b", rng.integers(-500, 500, cout).astype(np.int32), scale=bs))
    y = g.tensor("y", (1, 4, 4, cout), "INT8", scale=0.1, zero_point=5)
    g.operator("CONV_2D", ins, y, padding="VALID", fused_activation_function="RELU")
    g.output(y)
    x_data = rng.integers(-128, 128, (1, 6, 6, cin_input)).astype(np.int8)
    return S.Case("CONV_2D", g.build(), [x_data], {})


@pytest.mark.parametrize("kwargs, outcome", [
    (dict(cin_input=4, cin_filter=4), "equal"),
    # the reference refuses these in Prepare
    (dict(cin_input=4, cin_filter=3), "refused"),  # channels that do not divide
    (dict(cin_input=4, cin_filter=4, filter_zp=1), "refused"),  # int8 filter zero point
    (dict(cin_input=4, cin_filter=4, bias=False), "refused"),  # TFLite requires the bias
    # the reference accepts these; int8sqz must agree or refuse as unsupported
    (dict(cin_input=4, cin_filter=2), None),  # grouped convolution
    (dict(cin_input=4, cin_filter=4, bias_scale_factor=1.5), None),  # bias scale off
])
def test_conv_2d_prepare_agrees_with_reference(kwargs, outcome):
    result = S.check_agreement(_conv(**kwargs))
    if outcome is not None:
        assert result == outcome


@S.more_examples(3)
@given(S.conv_2d_cases(small_accumulators=True))
def test_conv_2d_short_rounding_shifts(case):
    """Small accumulators and multipliers near 1: the requantization's ties
    and negative values show up in the output."""
    S.check_case(case)
