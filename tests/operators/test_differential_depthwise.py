"""DEPTHWISE_CONV_2D: generated models run in int8sqz and in TFLite's
reference kernels, and the models TFLite's Prepare refuses."""

import numpy as np
import pytest
from hypothesis import given

from int8sqz.testing import strategies as S
from int8sqz.testing.writer import GraphBuilder

#: the operators this module tests against the reference (tests/operators/test_conformance.py)
OPERATORS = ("DEPTHWISE_CONV_2D",)


@pytest.fixture(autouse=True, scope="module")
def _count_report(pytestconfig):
    S.register_count_report(pytestconfig)


@S.more_examples(3)
@given(S.depthwise_conv_2d_cases(per_channel=True))
def test_depthwise_per_channel(case):
    S.check_case(case)


@S.more_examples(2)
@given(S.depthwise_conv_2d_cases(per_channel=False))
def test_depthwise_per_tensor(case):
    S.check_case(case)


@S.more_examples(2)
@given(S.depthwise_conv_2d_cases(small_accumulators=True))
def test_depthwise_short_rounding_shifts(case):
    """Small accumulators and multipliers near 1: the requantization's ties
    and negative values show up in the output."""
    S.check_case(case)


def _depthwise(x_shape=(1, 6, 6, 4), f_shape=(1, 3, 3, 4), bias=True, inputs=None,
               out_shape=None, bias_zp=0, bias_shape=None, stride=1, dilation=1,
               padding="SAME", activation="RELU", out_type="INT8", filter_type="INT8"):
    rng = np.random.default_rng(3)
    co = f_shape[3]
    g = GraphBuilder()
    x = g.input("x", x_shape, "INT8", scale=0.05, zero_point=-3)
    ws = np.float32(rng.uniform(0.005, 0.02, co))
    data = rng.integers(-127, 128, f_shape)
    w = g.constant("w", data.astype(np.int8 if filter_type == "INT8" else np.uint8),
                   scale=ws, zero_point=[0] * co, quantized_dimension=3)
    ins = [x, w]
    if bias:
        bs = (np.float64(np.float32(0.05)) * ws.astype(np.float64)).astype(np.float32)
        b = rng.integers(-500, 500, bias_shape or (co,)).astype(np.int32)
        ins.append(g.constant("b", b, scale=bs[:1], zero_point=[bias_zp]))
    if inputs is not None:
        ins = [ins[i] if i >= 0 else -1 for i in inputs]
    if out_shape is None:
        oh = S._conv_out(x_shape[1], f_shape[1], stride, dilation, padding)
        ow = S._conv_out(x_shape[2], f_shape[2], stride, dilation, padding)
        out_shape = (x_shape[0], max(oh, 0), max(ow, 0), co)
    y = g.tensor("y", out_shape, out_type, scale=0.1, zero_point=5)
    g.operator("DEPTHWISE_CONV_2D", ins, y, padding=padding, stride_h=stride, stride_w=stride,
               dilation_hfactor=dilation, dilation_wfactor=dilation,
               fused_activation_function=activation)
    g.output(y)
    x_data = rng.integers(-128, 128, x_shape).astype(np.int8)
    return S.Case("DEPTHWISE_CONV_2D", g.build(), [x_data], {})


@pytest.mark.parametrize("kwargs, outcome", [
    (dict(), "equal"),
    (dict(bias=False), "equal"),  # two inputs: no bias
    (dict(f_shape=(1, 3, 3, 8)), "equal"),  # depth multiplier 2
    (dict(activation="TANH"), "equal"),  # not applied, as TFLite does
    (dict(x_shape=(1, 2, 2, 4), padding="VALID", out_shape=(1, 0, 0, 4)), "equal"),  # empty
    (dict(x_shape=(0, 6, 6, 4)), "equal"),  # a batch of none
    # the reference refuses these in Prepare
    (dict(inputs=[0, 1, -1]), "refused"),  # the bias omitted as -1
    (dict(f_shape=(1, 3, 3, 6)), "refused"),  # 6 filter channels over 4 input channels
    (dict(f_shape=(2, 3, 3, 4), out_shape=(1, 6, 6, 4)), "refused"),  # filter dim 0 not 1
    (dict(bias_zp=1), "refused"),
    (dict(bias_shape=(2, 2)), "refused"),  # bias of rank 2
    (dict(bias_shape=(5,)), "refused"),  # one bias too many
    (dict(stride=40000, out_shape=(1, 1, 1, 4)), "refused"),  # stride beyond int16
    (dict(dilation=40000), "refused"),
    (dict(x_shape=(1, 1, 1, 4), padding="VALID", out_shape=(1, 0, 0, 4)), "refused"),  # size < 0
    (dict(x_shape=(1, 1, 1, 1), f_shape=(1, 65537, 1, 1), out_shape=(1, 1, 1, 1)), "refused"),
    (dict(x_shape=(1, 6, 6, 0), out_shape=(1, 6, 6, 4)), "refused"),  # no input channel
    (dict(out_type="UINT8"), "refused"),  # output type differs
])
def test_depthwise_prepare_agrees_with_reference(kwargs, outcome):
    assert S.check_agreement(_depthwise(**kwargs)) == outcome


@pytest.mark.parametrize("op", ["CONV_2D", "DEPTHWISE_CONV_2D"])
def test_output_offset_wraps_as_int32(op):
    """Scales whose multiplier is 2**31 - 85 with a left shift of 28: the
    bias 8 shifted wraps to INT32_MIN, the rescaled value is near INT32_MIN,
    and the reference adds the output offset -128 in int32, wrapping to a
    large positive value: it clamps to 127 (found by
    tests/kernels/test_conv.py's requantization test, measured here)."""
    g = GraphBuilder()
    x = g.input("x", (1, 1, 1, 1), "INT8", scale=1.6369617, zero_point=0)
    w = g.constant("w", np.ones((1, 1, 1, 1), np.int8), scale=[1.2697867], zero_point=[0],
                   quantized_dimension=3 if op == "DEPTHWISE_CONV_2D" else 0)
    b = g.constant("b", np.array([8], np.int32), scale=[1.6369617 * 1.2697867], zero_point=[0])
    y = g.tensor("y", (1, 1, 1, 1), "INT8", scale=7.74336e-09, zero_point=-128)
    g.operator(op, [x, w, b], y, padding="VALID")
    g.output(y)
    case = S.Case(op, g.build(), [np.zeros((1, 1, 1, 1), np.int8)], {})
    S.check_case(case)
    assert S.run_int8sqz(case.content, case.inputs)[0].ravel().tolist() == [127]
