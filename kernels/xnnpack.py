"""What XNNPACK's microkernels compute for the operators its TFLite delegate
takes, as ai-edge-litert's default interpreter runs them on x86-64: the
arithmetic of ``Interpreter(numerics="xnnpack")`` where it differs from the
reference (docs/numerics.md names each microkernel).

XNNPACK requantizes in float32 (its ``fp32`` microkernels): an int32 value
converted to float32, times a float32 scale, rounded half to even
(``cvtps2dq``); where TFLite adds a fused activation, XNNPACK clamps to
bounds its prepare step quantized (also half to even). Its elementwise
ADD/SUB uses 20-bit fixed-point multipliers and one rounding; its int8
QUANTIZE between scales an 8-bit one.

Every function works on flat C-contiguous arrays, or on the loop nests of
kernels/elementwise.py (operand 0 the output, 1 and 2 the inputs); the
operator's prepare checks shapes, types and every index. Values read from
arrays are widened to int64 before any arithmetic.
"""

import numpy as np

from ._jit import kernel
from .elementwise import num_rows, row_offset
from .fixedpoint import clamp, float_to_int32, wrap_int32
from .reduce import next_offset
from .resize import corners


@kernel
def round_saturate(v, qmin, qmax):
    """A float rounded half to even and saturated to [qmin, qmax] (the
    float is clamped first, so values beyond int32 saturate too)."""
    if v < qmin:
        return qmin
    if v > qmax:
        return qmax
    return np.int64(np.rint(v))


@kernel
def pack_int8(v, zero_point, lo, hi):
    """The end of XNNPACK's int8 elementwise microkernels: to int16
    (saturating, ``packs_epi32``), + the output zero point (saturating,
    ``adds_epi16``), to int8 (saturating, ``packs_epi16``), then the bounds
    of the activation's clamp node."""
    v = clamp(clamp(v, -32768, 32767) + zero_point, -32768, 32767)
    return clamp(clamp(v, -128, 127), lo, hi)


@kernel
def requantize_sums(sums, channels, scales, zero_point, lo, hi, out):
    """The ``fp32`` output stage of the qs8/qc8w GEMM, IGEMM and DWCONV
    microkernels over int32 sums (accumulator plus bias, ``sums`` and
    ``out`` flat, ``channels`` the innermost axis): float32(sum) times the
    channel's float32 scale (in_scale * w_scale / out_scale), rounded half to
    even (INT32_MIN beyond the int32 range, as ``cvtps2dq``), + zero point,
    clamped to [lo, hi]."""
    rows = sums.size // channels if channels > 0 else 0
    for r in range(rows):
        s_row = sums[r * channels:(r + 1) * channels]
        o_row = out[r * channels:(r + 1) * channels]
        for c in range(channels):
            v = np.rint(np.float32(np.float32(s_row[c]) * scales[c]))
            q = np.int64(v) if -2147483648.0 <= v < 2147483648.0 else np.int64(-2147483648)
            o_row[c] = min(max(q + zero_point, lo), hi)


@kernel
def quantize_float(x, reciprocal, zero_point, qmin, qmax, out):
    """``xnn_f32_qs8_vcvt_ukernel__avx512skx`` (qu8 alike): x * reciprocal in
    float32 (``reciprocal`` = 1.0f / scale, a float32 division), capped at
    32767 (a NaN becomes 32767), rounded half to even (INT32_MIN below
    range), saturated to int16, + zero point saturating in int16, saturated
    to the output type."""
    cap = np.float32(32767.0)
    for i in range(x.size):
        p = np.float32(np.float32(x[i]) * reciprocal)
        if p != p or p > cap:
            p = cap
        q = clamp(float_to_int32(np.rint(p)), -32768, 32767)
        out[i] = clamp(clamp(q + zero_point, -32768, 32767), qmin, qmax)


@kernel
def requantize(x, in_zero_point, multiplier, out_zero_point, qmin, qmax, out):
    """``xnn_qs8_vcvt_ukernel__avx2`` (int8 -> int8; qu8 alike): a multiplier
    of 8 fractional bits (``multiplier`` = lrintf(256 * in_scale / out_scale)),
    ((in_zp - x) << 7) times -multiplier, + 2**14, arithmetic shift right
    by 15 (``mulhrs``: half up), + the output zero point saturating in
    int16, saturated to the output type."""
    for i in range(x.size):
        a = (in_zero_point - np.int64(x[i])) * 128
        r = (a * -multiplier + (1 << 14)) >> 15
        out[i] = clamp(clamp(r + out_zero_point, -32768, 32767), qmin, qmax)


@kernel
def mean(x, dims, out_strides, k, z, qmin, qmax, out):
    """``xnn_define_static_reduce_v2`` (mean) on int8/uint8: the raw int32
    sum over the reduced axes (the rsum/rdsum microkernels), then XNNPACK's
    int32 -> quantized convert: float32(sum) * k + z in float32 (``k`` =
    (in_scale / out_scale) * (1 / count), ``z`` = out_zp - (count * in_zp) *
    k), rounded half to even and saturated. ``dims`` / ``out_strides`` as
    kernels/reduce.py's ``mean_quantized``."""
    acc = np.zeros(out.size, np.int64)
    index = np.zeros(dims.size, np.int64)
    offset = 0
    for i in range(x.size):
        acc[offset] += np.int64(x[i])
        offset = next_offset(index, dims, out_strides, offset)
    for j in range(out.size):
        v = np.float32(np.float32(np.float32(wrap_int32(acc[j])) * k) + z)
        out[j] = round_saturate(v, qmin, qmax)


@kernel
def _add_one(u, v, p, scale):
    """``xnn_qs8_vadd_minmax_ukernel__avx512skx_mul32_ld128`` (``vaddc`` for a
    constant operand: the same arithmetic) on one element, ``p`` = (bias,
    multiplier_a, multiplier_b, shift, zero point, lo, hi): bias + u *
    multiplier_a + v * multiplier_b in int32, arithmetic shift right by
    ``shift`` (one rounding, half up: ``bias`` holds 2**(shift - 1) and the
    zero points' terms), then :func:`pack_int8`. SUB is this with a negative
    multiplier_b."""
    acc = wrap_int32(p[0] + u * p[1] + v * p[2])
    return pack_int8(acc >> p[3], p[4], p[5], p[6])


@kernel
def _mul_one(u, v, p, scale):
    """``xnn_qs8_vmul_minmax_fp32_ukernel__avx_mul16_ld64`` (``vmulc``
    alike) on one element, ``p`` = (a_zp, b_zp, -, -, zero point, lo, hi):
    (u - a_zp) * (v - b_zp) in int32, to float32, times the float32
    ``scale`` (a_scale * b_scale / out_scale), rounded half to even, then
    :func:`pack_int8`."""
    prod = np.float32(np.float32((u - p[0]) * (v - p[1])) * scale)
    return pack_int8(float_to_int32(np.rint(prod)), p[4], p[5], p[6])


@kernel
def binary(out, a, b, shape, strides, is_mul, p, scale):
    """XNNPACK's int8 ADD/SUB (:func:`_add_one`) or MUL (``is_mul``,
    :func:`_mul_one`) over a loop nest (kernels/elementwise.py's: operand 0
    the output, 1 and 2 the inputs); ``p`` the seven integers of the one,
    ``scale`` MUL's float32 scale."""
    last = shape.size - 1
    n = shape[last]
    so, sa, sb = strides[0, last], strides[1, last], strides[2, last]
    for r in range(num_rows(shape)):
        o0 = row_offset(r, shape, strides, 0)
        x0 = row_offset(r, shape, strides, 1)
        y0 = row_offset(r, shape, strides, 2)
        for j in range(n):
            u = np.int64(a[x0 + j * sa])
            v = np.int64(b[y0 + j * sb])
            out[o0 + j * so] = _mul_one(u, v, p, scale) if is_mul else _add_one(u, v, p, scale)


@kernel
def resize_bilinear(x, out, batches, in_h, in_w, depth, y0, y1, wy, x0, x1, wx):
    """``xnn_s8_ibilinear_ukernel__sse41`` (u8 alike) over the indirection of
    ``xnn_indirection_init_resize_bilinear2d_hwc_q11``: for output row y the
    rows y0[y] and y1[y] with weight wy[y] of the lower one in 1/2048 (11
    bits; likewise per column), top = (top_left << 11) + (top_right -
    top_left) * wx, bottom alike, out = ((top << 11) + (bottom - top) * wy
    + 2**21) >> 22 (half up). ``x`` and ``out`` flat NHWC."""
    for b in range(batches):
        for y in range(y0.size):
            for xx in range(x0.size):
                o, p00, p10, p01, p11 = corners(b, y, xx, in_h, in_w, depth, y0, y1, x0, x1)
                for c in range(depth):
                    tl = np.int64(x[p00 + c])
                    bl = np.int64(x[p10 + c])
                    top = tl * 2048 + (np.int64(x[p01 + c]) - tl) * wx[xx]
                    bottom = bl * 2048 + (np.int64(x[p11 + c]) - bl) * wx[xx]
                    out[o + c] = (top * 2048 + (bottom - top) * wy[y] + (1 << 21)) >> 22

