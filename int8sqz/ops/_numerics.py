"""Prepare-time arithmetic of the desktop runtimes' numerics (``"builtin"``:
TFLite's optimized kernels; ``"xnnpack"``: the XNNPACK delegate), shared by
the operator units that compute them: XNNPACK's float32 scales and its
quantized activation bounds, and the requantization of int32 sums that the
convolution-like operators share. The units say which operator computes
what (``OperatorUnit.numerics``); docs/numerics.md has the measurements.
"""

from __future__ import annotations

import math

import numpy as np

from ..kernels import builtin as kb
from ..kernels import xnnpack as kx
from ._common import INT_RANGES, flat

f32 = np.float32

#: the real-valued range of each fused activation the XNNPACK delegate
#: takes (``ConvertActivationToOutputRange``); it leaves operators with any
#: other activation (TANH, SIGN_BIT) to the builtin kernels
XNNPACK_ACTIVATIONS = {
    "NONE": (-math.inf, math.inf), "RELU": (0.0, math.inf), "RELU6": (0.0, 6.0),
    "RELU_N1_TO_1": (-1.0, 1.0),
}


def activation(op) -> str:
    return op.options.get("fused_activation_function", "NONE")


def xnnpack_activation(op) -> bool:
    """Whether the delegate takes the operator's fused activation."""
    return activation(op) in XNNPACK_ACTIVATIONS


def quantize_bound(value: float, scale: float, zero_point: int, type_name: str) -> int:
    """``xnn_qs8_quantize`` / ``xnn_qu8_quantize`` of an activation bound:
    value / scale + zero point in float32, clamped to the type, rounded half
    to even (``lrintf``). TFLite rounds value / scale half away from zero
    and adds the zero point as an integer."""
    qmin, qmax = INT_RANGES[type_name]
    v = value
    with np.errstate(over="ignore"):
        if math.isfinite(v):
            v = float(f32(f32(v) / f32(scale)))
        if math.isfinite(v):
            v = float(f32(f32(v) + f32(zero_point)))
    return int(round(min(max(v, float(qmin)), float(qmax))))


def xnnpack_bounds(op, scale: float, zero_point: int, type_name: str) -> tuple:
    """The [lo, hi] XNNPACK clamps the output to for the operator's fused
    activation (one of :data:`XNNPACK_ACTIVATIONS`)."""
    lo, hi = XNNPACK_ACTIVATIONS[activation(op)]
    return (quantize_bound(lo, scale, zero_point, type_name),
            quantize_bound(hi, scale, zero_point, type_name))


def xnnpack_channel_scales(ctx, op, in_scale: float, filter_scales, out_scale: float,
                           channels: int) -> np.ndarray:
    """The float32 requantization scale of each output channel of a
    convolution-like operator under XNNPACK: (in_scale * w_scale) /
    out_scale, float32 from left to right. A scale of 256 or more makes
    XNNPACK fail to create the operator, and TFLite's default interpreter
    then refuses the whole model (it does not fall back to the builtin
    kernels): refused here the same way (measured)."""
    ws = np.broadcast_to(np.asarray(filter_scales, np.float32).reshape(-1), (channels,))
    with np.errstate(over="ignore", invalid="ignore"):
        scales = (f32(in_scale) * ws) / f32(out_scale)
    scales = np.ascontiguousarray(scales, np.float32)
    big = np.nonzero(~(scales < 256.0))[0]
    if big.size:
        c = int(big[0])
        raise ctx.error(
            op, f"under numerics 'xnnpack': output channel {c}'s requantization scale "
            f"in_scale * filter_scale / out_scale is {float(scales[c])!r}, at least 256: "
            f"XNNPACK cannot create the operator, and TFLite's default interpreter refuses "
            f"the model (it does not fall back to the builtin kernels)")
    return scales


def sums_requantization(op, ctx, numerics: str, q, src: int, flt: int, dst: int,
                        channels: int, type_name: str, half_up=None):
    """``requantize(sums, out)``: the output stage of a convolution-like
    operator (int32 accumulator plus bias, ``channels`` innermost) under
    ``numerics``, with ``q`` the reference's per-channel quantization
    (int8sqz.ops._quant.ChannelQuantization); and its parameters.

    "builtin": ruy's / the custom GEMV's half-up requantization with the
    reference's multipliers, on the channels where ``half_up`` (a bool per
    channel; default all) is set, the reference's elsewhere; the
    reference's activation range. "xnnpack": float32 scales and XNNPACK's
    bounds (:func:`xnnpack_channel_scales`, :func:`xnnpack_bounds`)."""
    zp = q.output_zero_point
    if numerics == "builtin":
        flags = np.ones(channels, np.uint8) if half_up is None else \
            np.ascontiguousarray(half_up, np.uint8)
        mult = np.ascontiguousarray(q.multiplier, np.int64)
        shift = np.asarray(q.shift, np.int64)
        left, right = np.maximum(shift, 0), np.maximum(-shift, 0)
        lo, hi = q.act_min, q.act_max

        def requantize(sums, out):
            kb.requantize_sums(flat(sums), channels, mult, left, right, flags, zp, lo, hi,
                               flat(out))

        return requantize, dict(requantize="half up", half_up_channels=int(flags.sum()),
                                act_min=lo, act_max=hi)
    t = ctx.model.tensors
    scales = xnnpack_channel_scales(ctx, op, float(t[src].quantization.scale),
                                    t[flt].quantization.scales,
                                    float(t[dst].quantization.scale), channels)
    lo, hi = xnnpack_bounds(op, float(t[dst].quantization.scale), zp, type_name)

    def requantize(sums, out):
        kx.requantize_sums(flat(sums), channels, scales, zp, lo, hi, flat(out))

    return requantize, dict(requantize="fp32", scales=scales, act_min=lo, act_max=hi)
