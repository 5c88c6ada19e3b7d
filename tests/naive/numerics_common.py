"""Pieces the builtin and XNNPACK oracles share: float32 and rounding helpers,
the integer sums of the convolutions, the operators' options read from a
model, and the window geometry. Slow and obvious: Python integers and
explicit float32 (np.float32) wherever the runtime computes in float."""

from __future__ import annotations

import math

import numpy as np

from .conv import out_size, pad_before
from .elementwise import activation_range, quantize_multiplier
from .fixedpoint import INT32_MAX, INT32_MIN, round_half_away, to_int32

__all__ = [
    "INT32_MAX", "INT32_MIN", "Refused", "f32", "round_half_even", "cvt_f32_to_i32", "type_range", "activation_range",
    "quantize_multiplier", "conv_accumulators", "depthwise_accumulators", "out_size",
    "pad_before", "round_half_away", "to_int32", "float_activation_bounds",
]

class Refused(Exception):
    """The runtime refuses the model (its interpreter cannot be created)."""


_RANGES = {"INT8": (-128, 127), "UINT8": (0, 255), "INT16": (-32768, 32767),
           "INT32": (-(2**31), 2**31 - 1)}


def f32(x) -> np.float32:
    """A Python number rounded to float32 (C's float)."""
    return np.float32(x)


def type_range(type_name: str):
    return _RANGES[type_name]


def round_half_even(x: float) -> int:
    """x rounded to the nearest integer, ties to even (rint, lrintf, x86 cvtps2dq
    under the default rounding mode, Arm's fcvtns)."""
    return int(round(float(x)))


def cvt_f32_to_i32(x) -> int:
    """x86 cvtps2dq / cvtsd2si of one value: round half to even; NaN and values
    outside the int32 range give INT32_MIN (the "integer indefinite")."""
    v = float(x)
    if math.isnan(v):
        return INT32_MIN
    r = round_half_even(v)
    return r if -(2**31) <= r < 2**31 else INT32_MIN


def float_activation_bounds(activation: str):
    """The real-valued range of a fused activation (the XNNPACK delegate's
    ConvertActivationToOutputRange)."""
    return {"NONE": (-math.inf, math.inf), "RELU": (0.0, math.inf), "RELU6": (0.0, 6.0),
            "RELU_N1_TO_1": (-1.0, 1.0)}[activation]


def _geometry(h, w, kh, kw, stride, dilation, padding):
    oh = out_size(h, kh, stride[0], dilation[0], padding)
    ow = out_size(w, kw, stride[1], dilation[1], padding)
    ph = pad_before(h, kh, stride[0], dilation[0], oh)
    pw = pad_before(w, kw, stride[1], dilation[1], ow)
    return oh, ow, ph, pw


def _window_sums(x, in_zp, bias, kh, kw, channels, stride, dilation, padding, tap):
    """int32 sums over the taps of each output pixel that fall inside the
    image: acc[n, oy, ox, :] += tap(x[n, iy, ix, :] - in_zp, ky, kx), plus the
    bias, wrapped to int32. Every runtime computes these same integers
    (padding taps contribute zero in all of them)."""
    x = np.asarray(x).astype(np.int64) - int(in_zp)
    n, h, w, _ = x.shape
    oh, ow, ph, pw = _geometry(h, w, kh, kw, stride, dilation, padding)
    acc = np.zeros((n, oh, ow, channels), np.int64)
    for oy in range(oh):
        for ox in range(ow):
            for ky in range(kh):
                iy = oy * stride[0] - ph + ky * dilation[0]
                for kx in range(kw):
                    ix = ox * stride[1] - pw + kx * dilation[1]
                    if 0 <= iy < h and 0 <= ix < w:
                        acc[:, oy, ox, :] += tap(x[:, iy, ix, :], ky, kx)
    if bias is not None:
        acc += np.asarray(bias).astype(np.int64)
    return np.vectorize(to_int32, otypes=[np.int64])(acc) if acc.size else acc


def conv_accumulators(x, weights, bias, in_zp, stride, dilation, padding):
    """int32 sums of CONV_2D: x [N, H, W, C]; weights [O, KH, KW, C]."""
    w = np.asarray(weights).astype(np.int64)
    o, kh, kw, _ = w.shape
    return _window_sums(x, in_zp, bias, kh, kw, o, stride, dilation, padding,
                        lambda v, ky, kx: v @ w[:, ky, kx, :].T)


def depthwise_accumulators(x, weights, bias, in_zp, depth_multiplier, stride, dilation,
                           padding):
    """int32 sums of DEPTHWISE_CONV_2D: output channel k reads input channel
    k // depth_multiplier. weights [1, KH, KW, C * depth_multiplier]."""
    w = np.asarray(weights).astype(np.int64)[0]
    kh, kw, o = w.shape
    src = np.arange(o) // depth_multiplier
    return _window_sums(x, in_zp, bias, kh, kw, o, stride, dilation, padding,
                        lambda v, ky, kx: v[:, src] * w[ky, kx, :])
