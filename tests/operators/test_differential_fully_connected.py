"""FULLY_CONNECTED: generated models run in int8sqz and in TFLite's
reference kernels, and the models TFLite's Prepare refuses."""

import numpy as np
import pytest
from hypothesis import given

from int8sqz.testing import strategies as S
from int8sqz.testing.writer import GraphBuilder

#: the operators this module tests against the reference (tests/operators/test_conformance.py)
OPERATORS = ("FULLY_CONNECTED",)


@pytest.fixture(autouse=True, scope="module")
def _count_report(pytestconfig):
    S.register_count_report(pytestconfig)


@S.more_examples(3)
@given(S.fully_connected_cases(type_name="INT8"))
def test_fully_connected_int8(case):
    S.check_case(case)


@S.more_examples(2)
@given(S.fully_connected_cases(type_name="UINT8"))
def test_fully_connected_uint8(case):
    S.check_case(case)


def _fc(x_shape=(2, 6), units=3, depth=6, bias="bias", bias_scale=None, per_channel=False,
        activation="NONE", keep=False, out_shape=None, out_s=0.1, weights_format=0,
        bias_type=np.int32, t="INT8", w_type=None, out_type=None, filter_zp=0,
        asymmetric=False, x=None):
    rng = np.random.default_rng(5)
    g = GraphBuilder()
    xt = g.input("x", x_shape, t, scale=0.05, zero_point=-3 if t == "INT8" else 120)
    n = units if per_channel else 1
    w_type = w_type or t
    wd = rng.integers(-127, 128, (units, depth)) + (128 if w_type == "UINT8" else 0)
    w = g.constant("w", wd.astype(np.int8 if w_type == "INT8" else np.uint8),
                   scale=np.full(n, 0.01, np.float32), zero_point=[filter_zp] * n)
    ins = [xt, w]
    if bias == "bias":
        bs = np.float32(0.05) * np.float32(0.01) if bias_scale is None else bias_scale
        ins.append(g.constant("b", rng.integers(-300, 300, units).astype(bias_type),
                              scale=np.full(1, bs, np.float32), zero_point=[0]))
    elif bias == "omitted":
        ins.append(-1)
    if out_shape is None:
        rows = int(np.prod(x_shape)) // depth if depth else 1
        out_shape = tuple(x_shape[:-1]) + (units,) if keep else (rows, units)
    y = g.tensor("y", out_shape, out_type or t, scale=out_s, zero_point=2)
    g.operator("FULLY_CONNECTED", ins, y, fused_activation_function=activation,
               keep_num_dims=keep, weights_format=weights_format,
               asymmetric_quantize_inputs=asymmetric)
    g.output(y)
    info = np.iinfo(np.int8 if t == "INT8" else np.uint8)
    data = rng.integers(info.min, info.max + 1, x_shape).astype(info.dtype) if x is None else x
    return S.Case("FULLY_CONNECTED", g.build(), [data], {})


@pytest.mark.parametrize("kwargs, outcome", [
    (dict(), "equal"),
    (dict(bias="none"), "equal"),
    (dict(bias="omitted"), "equal"),
    (dict(per_channel=True, bias_scale=0.01), "equal"),  # per channel: no bias scale check
    (dict(bias_scale=0.0025), "equal"),  # (0.0025 - 0.0005) / 0.1 = 0.02: accepted
    (dict(x_shape=(2, 5), depth=4), "equal"),  # 10 elements: 2 rows of 4, 2 left unread
    (dict(x_shape=(2, 0), depth=0, out_shape=(2, 3)), "equal"),  # no depth: zeros
    (dict(x_shape=(2, 3, 6), keep=True), "equal"),
    (dict(asymmetric=True), "equal"),  # for float inputs only
    (dict(filter_zp=7), "equal"),  # per tensor: the zero point counts
    (dict(per_channel=True, filter_zp=7), "equal"),  # per channel: it does not
    (dict(out_s=1e-6), "equal"),  # rescaled values beyond int32: INT32_MIN, clamped
    (dict(t="UINT8", filter_zp=128), "equal"),
    # the reference refuses these in Prepare
    (dict(bias_scale=0.01), "refused"),  # per tensor: bias scale off by more than 0.02
    (dict(activation="TANH"), "refused"),
    (dict(x_shape=(2, 3, 6), keep=True, depth=9, out_shape=(2, 3, 3)), "refused"),
    (dict(weights_format=1), "refused"),  # shuffled: two outputs expected
    (dict(t="UINT8", per_channel=True), "refused"),
    # the reference runs these by reading other types' bytes: int8sqz refuses them
    (dict(bias_type=np.int64), "unsupported"),
    (dict(out_type="UINT8"), "unsupported"),
    (dict(w_type="UINT8"), "unsupported"),
])
def test_fully_connected_prepare_agrees_with_reference(kwargs, outcome):
    assert S.check_agreement(_fc(**kwargs)) == outcome


def test_rescaled_values_beyond_int32_become_int32_min():
    """acc * scale = 130 * 2**25 > 2**31: x86 converts it to INT32_MIN; plus a
    negative output zero point that wraps to INT32_MAX - 4 (clamped to 127)."""
    for zp in (0, -5):
        g = GraphBuilder()
        x = g.input("x", (4, 1), "INT8", scale=1.0, zero_point=-128)
        w = g.constant("w", np.ones((1, 1), np.int8), scale=np.ones(1, np.float32),
                       zero_point=[0])
        y = g.tensor("y", (4, 1), "INT8", scale=2.0 ** -25, zero_point=zp)
        g.operator("FULLY_CONNECTED", [x, w], y)
        g.output(y)
        data = (np.array([130, 100, 0, 1]) - 128).astype(np.int8).reshape(4, 1)
        case = S.Case("FULLY_CONNECTED", g.build(), [data], dict(zero_point=zp))
        S.check_case(case)
        got = S.run_int8sqz(case.content, case.inputs)[0].ravel().tolist()
        assert got == ([-128, -128, 0, 127] if zp == 0 else [127, 127, -5, 127])
