"""QUANTIZE and DEQUANTIZE kernels over flat arrays."""

import numpy as np

from ._jit import kernel
from .fixedpoint import (
    clamp, float_to_int32, multiply_by_quantized_multiplier, round_half_away, vector_rescale,
    wrap_int32,
)
from .simd import vrequantize, vsplat, vstore_bytes, vwiden


@kernel
def affine_quantize(x, scale_f32, zero_point, qmin, qmax, out):
    """Follows ``reference_ops::AffineQuantize``: float -> integer."""
    scale = np.float32(scale_f32)
    for i in range(x.size):
        # float32 division, std::round, then a C cast to int32 and an int32 add
        q = float_to_int32(round_half_away(np.float32(x[i]) / scale))
        out[i] = clamp(wrap_int32(q + zero_point), qmin, qmax)


@kernel
def requantize(x, in_zero_point, multiplier, shift, out_zero_point, qmin, qmax, out):
    """Follows ``reference_ops::Requantize``: integer -> integer (one-byte
    types, flat arrays).

    16 elements at a time where ``vrequantize`` computes the same integers:
    the input zero point as a negative bias (x - zero point, at most 510 in
    magnitude, in int32 as in the reference), a multiplier in [0, 2**31),
    a left shift of at most 20 (so the product stays below 2**29 and the
    output zero point adds without the int32 wrap the scalar path, in int64,
    does not make) and a right shift of at most 31; the rest, and any
    other case, one by one."""
    small = -255 <= in_zero_point <= 255 and -255 <= out_zero_point <= 255
    if small and multiplier == 1 << 30 and shift == 1:
        # a ratio of exactly 1 (the uint8 -> int8 QUANTIZE of image models):
        # SaturatingRoundingDoublingHighMul(2v, 2**30) = floor(v + 1/2) = v
        # for every int32 v = x - zero point (no left-shift wrap at |v| <= 510),
        # and the right shift is 0, so the output is clamp(v + zero point)
        # (zero points of at most 255 in magnitude: no int32 sum wraps)
        step = out_zero_point - in_zero_point
        if qmin <= np.iinfo(x.dtype).min + step and np.iinfo(x.dtype).max + step <= qmax:
            # no value reaches a bound (uint8 -> int8 with zero points 128
            # apart: x - 128): the clamp changes nothing, and the sum, kept
            # in range, is its low byte
            for i in range(x.size):
                out[i] = np.int64(x[i]) + step
        else:
            for i in range(x.size):
                out[i] = clamp(np.int64(x[i]) + step, qmin, qmax)
        return
    done = 0
    if (x.strides[0] == 1 and out.strides[0] == 1 and vector_rescale(multiplier, shift, 0)
            and shift <= 20 and small):
        bias, m = vsplat(-in_zero_point), vsplat(multiplier)
        left, right = vsplat(max(shift, 0)), vsplat(max(-shift, 0))
        offset, lo, hi = vsplat(out_zero_point), vsplat(qmin), vsplat(qmax)
        done = x.size - x.size % 16
        for i in range(0, done, 16):
            v = vrequantize(vwiden(x, i), bias, m, left, right, offset, lo, hi)
            vstore_bytes(out, i, v, 16)
    for i in range(done, x.size):
        v = multiply_by_quantized_multiplier(np.int64(x[i]) - in_zero_point, multiplier, shift)
        out[i] = clamp(v + out_zero_point, qmin, qmax)


@kernel
def dequantize(x, zero_point, scale_f64, out):
    """Follows ``reference_ops::Dequantize``: the product is taken in double,
    then rounded once to float32."""
    for i in range(x.size):
        out[i] = np.float32(scale_f64 * float(np.int64(x[i]) - zero_point))
