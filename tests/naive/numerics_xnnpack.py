"""What ai-edge-litert's default interpreter computes on this x86-64 machine:
the XNNPACK delegate for the operators it takes (qs8/qu8 operators, fp32
requantization), TFLite's optimized builtin kernels (numerics_builtin) for the
others. One function per operator, Python integers and explicit float32;
each docstring names the XNNPACK operator and microkernel family followed.
docs/numerics.md has the whole story."""

from __future__ import annotations

import math

import numpy as np

from . import numerics_builtin as builtin
from . import numerics_common as nc
from . import pool as pool_naive
from . import reduce as reduce_naive
from .numerics_common import f32


def quantize_bound(value: float, scale: float, zero_point: int, out_type: str = "INT8") -> int:
    """``xnn_qs8_quantize`` / ``xnn_qu8_quantize``: an activation bound
    (float) in the output's quantization: lrintf(clamp(value / scale + zp))
    in float32, ties to even (the reference rounds value / scale half away
    from zero and adds the zero point as an integer)."""
    qmin, qmax = nc.type_range(out_type)
    v = f32(f32(value) / f32(scale)) if math.isfinite(value) else value
    v = f32(v + f32(zero_point)) if math.isfinite(v) else v
    v = min(max(float(v), float(qmin)), float(qmax))
    return nc.round_half_even(v)


def output_bounds(activation: str, scale: float, zero_point: int, out_type: str = "INT8"):
    lo, hi = nc.float_activation_bounds(activation)
    return (quantize_bound(lo, scale, zero_point, out_type),
            quantize_bound(hi, scale, zero_point, out_type))


def requantize_fp32(acc, scale: np.float32, zero_point: int, lo: int, hi: int):
    """The fp32 requantization of XNNPACK's qs8/qu8 GEMM, IGEMM and DWCONV
    microkernels (``*-minmax-fp32-*``): the int32 accumulators (an int64
    array) converted to float32, times the float32 scale (NumPy float32
    arithmetic rounds each result as the CPU does), rounded to nearest even
    (cvtps2dq; INT32_MIN beyond the int32 range), plus the output zero point,
    clamped to [lo, hi]."""
    v = np.asarray(acc, np.int64).astype(np.float32) * np.float32(scale)
    r = np.rint(v).astype(np.float64)
    r = np.where((r >= -(2.0**31)) & (r < 2.0**31), r, float(nc.INT32_MIN)).astype(np.int64)
    return np.clip(r + zero_point, lo, hi)


def conv_2d(x, weights, bias, *, in_scale, in_zp, w_scales, out_scale, out_zp,
            stride=(1, 1), dilation=(1, 1), padding="SAME", activation="NONE",
            out_type="INT8"):
    """CONV_2D: ``xnn_create_convolution2d_nhwc_qs8_qc8w`` (per-channel) or
    ``..._qs8`` (per-tensor): exact int32 sums, then :func:`requantize_fp32`
    with scale = in_scale * w_scale / out_scale in float32 (left to right) and
    the bounds of :func:`output_bounds`. A scale of 256 or more makes XNNPACK
    fail and the default interpreter refuse the model (:class:`Refused`)."""
    acc = nc.conv_accumulators(x, weights, bias, in_zp, stride, dilation, padding)
    return _requantize_channels(acc, in_scale, w_scales, out_scale, out_zp, activation,
                                out_type)


def _requantize_channels(acc, in_scale, w_scales, out_scale, out_zp, activation, out_type):
    lo, hi = output_bounds(activation, out_scale, out_zp, out_type)
    channels = acc.shape[-1]
    w_scales = np.broadcast_to(np.asarray(w_scales, np.float32).reshape(-1), (channels,))
    scales = [f32(f32(f32(in_scale) * f32(s)) / f32(out_scale)) for s in w_scales]
    if any(float(s) >= 256.0 for s in scales):
        # xnn_create_convolution2d_nhwc_* / fully_connected_nc_* fail, and with
        # them the whole XNNPACK runtime: the interpreter cannot be created
        raise nc.Refused("a requantization scale in_scale * w_scale / out_scale >= 256")
    out = np.empty(acc.shape, np.int64)
    for c, scale in enumerate(scales):
        out[..., c] = requantize_fp32(acc[..., c], scale, out_zp, lo, hi)
    return out.astype(np.int8 if out_type == "INT8" else np.uint8)


# -- QUANTIZE and DEQUANTIZE -------------------------------------------------------------------

_NP = {"INT8": np.int8, "UINT8": np.uint8}


def _sat(v: int, lo: int, hi: int) -> int:
    return min(max(v, lo), hi)


def quantize_float(x, *, scale, zero_point, out_type="INT8"):
    """QUANTIZE float32 -> int8/uint8: ``xnn_f32_qs8_vcvt_ukernel__avx512skx``
    (qu8 alike): x * s in float32 with s = 1.0f / scale (a float32 division),
    min with 32767.0 (a NaN becomes 32767), rounded half to even (cvtps2dq,
    INT32_MIN below range), saturated to int16, + zero point saturating in
    int16, saturated to the output type. The reference divides in double and
    rounds half away from zero."""
    qmin, qmax = nc.type_range(out_type)
    s = f32(f32(1.0) / f32(scale))
    out = []
    for v in np.asarray(x, np.float32).reshape(-1):
        p = f32(v * s)
        p = f32(32767.0) if np.isnan(p) else min(p, f32(32767.0))
        i = _sat(nc.cvt_f32_to_i32(p), -32768, 32767)
        out.append(_sat(_sat(i + zero_point, -32768, 32767), qmin, qmax))
    return np.array(out, np.int64).reshape(np.shape(x)).astype(_NP[out_type])


def requantize_supported(in_scale, out_scale) -> bool:
    """The delegate takes an int8 -> int8 (uint8 -> uint8) QUANTIZE only for
    in_scale / out_scale (float32) in [1/256, 128]; int8 <-> uint8 never."""
    r = f32(f32(in_scale) / f32(out_scale))
    return 1.0 / 256.0 <= float(r) <= 128.0


def requantize(x, *, in_scale, in_zp, out_scale, out_zp, out_type):
    """QUANTIZE int8 -> int8 (uint8 -> uint8): ``xnn_qs8_vcvt_ukernel__avx2``:
    a multiplier of 8 fractional bits, m = lrintf(256 * (in_scale / out_scale))
    in float32; (x - in_zp) * m / 256 rounded half up (mulhrs of
    (in_zp - x) << 7 by -m), + out_zp saturating in int16, saturated to the
    output type. Coarser than the reference's 31-bit multiplier."""
    qmin, qmax = nc.type_range(out_type)
    m = nc.round_half_even(f32(256.0) * f32(f32(in_scale) / f32(out_scale)))
    out = []
    for v in np.asarray(x).reshape(-1).tolist():
        a = (in_zp - v) * 128
        r = (a * -m + 2**14) >> 15
        out.append(_sat(_sat(r + out_zp, -32768, 32767), qmin, qmax))
    return np.array(out, np.int64).reshape(np.shape(x)).astype(_NP[out_type])


def dequantize(x, *, scale, zero_point):
    """DEQUANTIZE int8/uint8 -> float32: ``xnn_qs8_f32_vcvt_ukernel__avx512skx``:
    float32(q - zp) * float32(scale), one rounding: the reference's value."""
    flat = [f32(f32(q - zero_point) * f32(scale)) for q in np.asarray(x).reshape(-1).tolist()]
    return np.array(flat, np.float32).reshape(np.shape(x))


def quantize(x, *, in_type, in_scale, in_zp, out_type, out_scale, out_zp):
    """QUANTIZE: float32 input -> :func:`quantize_float`; int8 -> int8 and
    uint8 -> uint8 within :func:`requantize_supported` -> :func:`requantize`;
    anything else stays with the builtin kernel."""
    if in_type == "FLOAT32":
        return quantize_float(x, scale=out_scale, zero_point=out_zp, out_type=out_type)
    if in_type == out_type and requantize_supported(in_scale, out_scale):
        return requantize(x, in_scale=in_scale, in_zp=in_zp, out_scale=out_scale,
                          out_zp=out_zp, out_type=out_type)
    return builtin.quantize(x, in_type=in_type, in_scale=in_scale, in_zp=in_zp,
                            out_type=out_type, out_scale=out_scale, out_zp=out_zp)


# -- MEAN --------------------------------------------------------------------------------------

def mean(x, axes, keep_dims, *, in_scale, in_zp, out_scale, out_zp, out_type="INT8",
         num_threads=1):
    """MEAN, int8/uint8: ``xnn_define_static_reduce_v2`` (mean): the raw sum
    over the reduced axes in int32 (qs8/qu8 rsum/rdsum microkernels), then
    XNNPACK's reference int32 -> quantized convert: float32(sum) * k + z,
    rounded half to even and saturated, with k = (in_scale / out_scale) *
    (1.0f / count) and z = out_zp - (count * in_zp) * k, all in float32. The
    delegate takes every MEAN with a non-empty constant axes list."""
    x = np.asarray(x)
    resolved = reduce_naive.resolve_axes(axes, x.ndim)
    if not len(axes):
        return builtin.mean(x, axes, keep_dims, in_scale=in_scale, in_zp=in_zp,
                            out_scale=out_scale, out_zp=out_zp, out_type=out_type,
                            num_threads=num_threads)
    qmin, qmax = nc.type_range(out_type)
    count = 1
    for a in resolved:
        count *= x.shape[a]
    k = f32(f32(f32(in_scale) / f32(out_scale)) * f32(f32(1.0) / f32(count)))
    z = f32(f32(out_zp) - f32(f32(f32(count) * f32(in_zp)) * k))
    sums = x.astype(np.int64).sum(axis=tuple(resolved), keepdims=keep_dims)
    out = np.empty(sums.shape, np.int64)
    for idx in np.ndindex(sums.shape):
        v = f32(f32(f32(nc.to_int32(int(sums[idx]))) * k) + z)
        out[idx] = min(max(nc.round_half_even(v), qmin), qmax)
    return out.astype(_NP[out_type])


# -- ADD and MUL -------------------------------------------------------------------------------

def add_supported(a_q, b_q, out_q) -> bool:
    """The delegate takes a quantized ADD when each input's scale over the
    output's (float32) lies in [1/1024, 256)."""
    so = f32(out_q[0])
    return all(1.0 / 1024.0 <= float(f32(f32(s) / so)) < 256.0 for s, _ in (a_q, b_q))


def mul_supported(a_q, b_q, out_q) -> bool:
    """... and a quantized MUL when a_scale * b_scale / out_scale (float32)
    lies in [1/65536, 256)."""
    r = f32(f32(f32(a_q[0]) * f32(b_q[0])) / f32(out_q[0]))
    return 1.0 / 65536.0 <= float(r) < 256.0


def add_params(a_q, b_q, out_q):
    """``xnn_init_qs8_add_minmax_scalar_params``: (bias, a_multiplier,
    b_multiplier, shift). The larger of the ratios a_scale / out_scale and
    b_scale / out_scale (float32) fixes shift = 20 - its binary exponent;
    each multiplier is its ratio * 2**shift rounded to nearest even; the bias
    holds the rounding 2**(shift - 1) and the zero points."""
    ra = f32(f32(a_q[0]) / f32(out_q[0]))
    rb = f32(f32(b_q[0]) / f32(out_q[0]))
    exponent = math.frexp(float(max(abs(ra), abs(rb))))[1] - 1
    shift = 20 - exponent
    ma = nc.round_half_even(float(ra) * 2.0**shift)
    mb = nc.round_half_even(float(rb) * 2.0**shift)
    bias = nc.to_int32(2 ** (shift - 1) - ma * a_q[1] - mb * b_q[1])
    return bias, ma, mb, shift


def _pack(v: int, zero_point: int, lo: int, hi: int) -> int:
    """packs_epi32 (to int16), adds_epi16 of the zero point, packs_epi16 (to
    int8): saturating steps, then the clamp node's bounds."""
    v = _sat(_sat(v, -32768, 32767) + zero_point, -32768, 32767)
    return _sat(_sat(v, -128, 127), lo, hi)


def add(x, y, *, a_q, b_q, out_q, activation="NONE", out_type="INT8", _checked=False):
    """ADD, int8: ``xnn_qs8_vadd_minmax_ukernel__avx512skx_mul32_ld128``
    (vaddc for a constant operand, the same arithmetic): acc = bias +
    a * a_multiplier + b * b_multiplier in int32, arithmetic shift right by
    shift (ties half up, one rounding), + output zero point (saturating), then
    the fused activation as a separate clamp node with :func:`output_bounds`.
    Outside :func:`add_supported` the builtin kernel runs."""
    if out_type != "INT8":
        raise NotImplementedError("uint8 ADD (qu8 vadd)")
    if not _checked and not add_supported(a_q, b_q, out_q):
        return builtin.add(x, y, a_q=a_q, b_q=b_q, out_q=out_q, activation=activation)
    bias, ma, mb, shift = add_params(a_q, b_q, out_q)
    lo, hi = output_bounds(activation, out_q[0], out_q[1])
    bx, by = np.broadcast_arrays(np.asarray(x), np.asarray(y))
    out = [_pack(nc.to_int32(bias + u * ma + v * mb) >> shift, out_q[1], lo, hi)
           for u, v in zip(bx.reshape(-1).tolist(), by.reshape(-1).tolist())]
    return np.array(out, np.int64).reshape(bx.shape).astype(np.int8)


def mul(x, y, *, a_q, b_q, out_q, activation="NONE", out_type="INT8"):
    """MUL, int8: ``xnn_qs8_vmul_minmax_fp32_ukernel__avx_mul16_ld64`` (vmulc
    alike): (a - a_zp) * (b - b_zp) in int32, to float32, times
    scale = (a_scale * b_scale) / out_scale (float32), rounded half to even,
    + output zero point (saturating), then the clamp node. Outside
    :func:`mul_supported` the builtin kernel runs."""
    if out_type != "INT8":
        raise NotImplementedError("uint8 MUL (qu8 vmul)")
    if not mul_supported(a_q, b_q, out_q):
        return builtin.mul(x, y, a_q=a_q, b_q=b_q, out_q=out_q, activation=activation)
    scale = f32(f32(f32(a_q[0]) * f32(b_q[0])) / f32(out_q[0]))
    lo, hi = output_bounds(activation, out_q[0], out_q[1])
    bx, by = np.broadcast_arrays(np.asarray(x), np.asarray(y))
    out = []
    for u, v in zip(bx.reshape(-1).tolist(), by.reshape(-1).tolist()):
        p = f32(f32((u - a_q[1]) * (v - b_q[1])) * scale)
        out.append(_pack(nc.cvt_f32_to_i32(p), out_q[1], lo, hi))
    return np.array(out, np.int64).reshape(bx.shape).astype(np.int8)


def fused_lut_shape(x_shape, y_shape, x_constant, y_constant, activation):
    """XNNPACK fuses a chain of two or more quantized elementwise nodes into
    one lookup table (``xnn_subgraph_fuse_unary_quantized_into_lut``); an ADD
    or MUL with a one-element constant operand and a fused activation is such
    a chain (the binary node and its clamp node). The table's values are the
    kernels' own, but the fused node is unary: the output takes the shape of
    the non-constant input, not the broadcast shape (a (1,) output of a
    scalar input comes back as ()). Returns that shape, or None when no
    fusion happens."""
    if activation == "NONE" or x_constant == y_constant:
        return None
    const_shape, other = (y_shape, x_shape) if y_constant else (x_shape, y_shape)
    if int(np.prod(const_shape, dtype=np.int64)) != 1:
        return None
    return tuple(other)


def binary_delegated(name, a_q, b_q, out_q) -> bool:
    return {"ADD": add_supported, "SUB": add_supported, "MUL": mul_supported}[name](
        a_q, b_q, out_q)


# -- pooling, concatenation, SOFTMAX -----------------------------------------------------------

def max_pool_2d(x, *, filter_size, stride, padding, activation, scale, zero_point,
                out_type="INT8"):
    """MAX_POOL_2D: the delegate takes it when neither stride exceeds the
    filter (a 1x1 filter becomes a clamp node): the window's maximum
    (``xnn_s8_maxpool_minmax_ukernel_9p__sse41``), clamped to
    :func:`output_bounds` (ties to even where the reference rounds half away,
    so RELU_N1_TO_1 at scale 2 clamps to [zp, zp], not [zp - 1, zp + 1])."""
    if stride[0] > filter_size[0] or stride[1] > filter_size[1]:
        return builtin.max_pool_2d(x, filter_size=filter_size, stride=stride, padding=padding,
                                   activation=activation, scale=scale,
                                   zero_point=zero_point, out_type=out_type)
    lo, hi = output_bounds(activation, scale, zero_point, out_type)
    return pool_naive.max_pool(x, filter_size, stride, padding, lo, hi)


def average_pool_2d(x, **kw):
    """AVERAGE_POOL_2D: quantized average pooling is not delegated (XNNPACK
    keeps only an f32 one): the builtin kernel runs."""
    return builtin.average_pool_2d(x, **kw)


def concatenation(arrays, axis, *, in_qs, out_q):
    """CONCATENATION: copies, delegated or not."""
    return builtin.concatenation(arrays, axis, in_qs=in_qs, out_q=out_q)


def softmax(x, **kw):
    """SOFTMAX: quantized softmax is not delegated: the builtin kernel runs."""
    return builtin.softmax(x, **kw)


# -- DEPTHWISE_CONV_2D, FULLY_CONNECTED -----------------------------------------------------

def depthwise_conv_2d(x, weights, bias, *, in_scale, in_zp, w_scales, out_scale, out_zp,
                      depth_multiplier=1, stride=(1, 1), dilation=(1, 1), padding="SAME",
                      activation="NONE", out_type="INT8"):
    """DEPTHWISE_CONV_2D: XNNPACK's qs8/qs8_qc8w depthwise convolution
    (``xnn_qs8_qc8w_dwconv_minmax_fp32_ukernel_*``): exact sums, then the fp32
    requantization of :func:`conv_2d`."""
    acc = nc.depthwise_accumulators(x, weights, bias, in_zp, depth_multiplier, stride,
                                    dilation, padding)
    return _requantize_channels(acc, in_scale, w_scales, out_scale, out_zp, activation,
                                out_type)


def fully_connected(x, weights, bias, *, in_scale, in_zp, w_scales, out_scale, out_zp,
                    activation="NONE", keep_num_dims=False, out_type="INT8"):
    """FULLY_CONNECTED with constant int8 weights: ``xnn_create_fully_connected_nc_qs8
    (_qc8w)``, the qs8 GEMM microkernels' fp32 requantization (as
    :func:`conv_2d`)."""
    acc = builtin.fully_connected_accumulators(x, weights, bias, in_zp, keep_num_dims)
    return _requantize_channels(acc, in_scale, w_scales, out_scale, out_zp, activation,
                                out_type)


# -- SUB, LOGISTIC, RESIZE_BILINEAR -----------------------------------------------------------

def sub(x, y, *, a_q, b_q, out_q, activation="NONE", out_type="INT8"):
    """SUB, int8: XNNPACK's qs8 vadd with the second input's scale negated
    (``init_binary_elementwise_nd``, sign_b = -1): :func:`add` with a
    negative b multiplier. Outside :func:`add_supported` the builtin (=
    reference) kernel runs."""
    if not add_supported(a_q, b_q, out_q):
        return builtin.sub(x, y, a_q=a_q, b_q=b_q, out_q=out_q, activation=activation)
    return add(x, y, a_q=a_q, b_q=(-f32(b_q[0]), b_q[1]), out_q=out_q, activation=activation,
               _checked=True)


def logistic(x, *, in_q, out_q, out_type="INT8"):
    """LOGISTIC, int8/uint8: XNNPACK has no quantized sigmoid microkernel; the
    operator is a 256-entry table computed with its reference kernel
    (``init_lut_op_with_config``): v = (float32(q) - float32(in_zp)) *
    in_scale in float32; y = 1 if v > 100, 0 if v < -100, else
    float32(e / (1 + e)) with e = exp(double(v)); then
    nearbyint(y * float32(1 / out_scale) + float32(out_zp)) in float32 (ties to
    even), saturated. TFLite's table uses expf in float32 and rounds half away
    from zero."""
    (si, zi), (so, zo) = in_q, out_q
    qmin, qmax = nc.type_range(out_type)
    inverse = f32(f32(1.0) / f32(so))
    table = {}
    for q in range(qmin, qmax + 1):
        v = f32(f32(f32(q) - f32(zi)) * f32(si))
        if v > 100:
            y = f32(1.0)
        elif v < -100:
            y = f32(0.0)
        else:
            e = math.exp(float(v))
            y = f32(e / (1.0 + e))
        r = nc.round_half_even(f32(f32(y * inverse) + f32(zo)))
        table[q] = min(max(r, qmin), qmax)
    flat = [table[v] for v in np.asarray(x).reshape(-1).tolist()]
    return np.array(flat, np.int64).reshape(np.shape(x)).astype(_NP[out_type])


def resize_bilinear(x, size, *, align_corners=False, half_pixel_centers=False):
    """RESIZE_BILINEAR, int8 with a constant size: ``xnn_s8_ibilinear_ukernel__sse41``
    over ``xnn_indirection_init_resize_bilinear2d_hwc_q11``. Source
    coordinates in float32 (legacy / align-corners: y * scale, clamped to
    H - 1; half-pixel: y * scale + (0.5 * scale - 0.5), clamped to [0, H - 1]),
    the corner below by truncation, weights lrintf(alpha * 2048) (11 bits);
    top = (tl << 11) + (tr - tl) * ax, likewise bottom, out = ((top << 11) +
    (bottom - top) * ay + 2**21) >> 22. The reference uses 10-bit weights and
    rounds half away from zero."""
    x = np.asarray(x)
    n, h, w, c = x.shape
    oh, ow = int(size[0]), int(size[1])

    def axis(out_size, in_size):
        adjust = 1 if align_corners and out_size != 1 else 0
        scale = f32(f32(in_size - adjust) / f32(out_size - adjust))
        result = []
        for o in range(out_size):
            if align_corners or not half_pixel_centers:
                v = min(f32(f32(o) * scale), f32(in_size - 1))
            else:
                offset = f32(f32(f32(0.5) * scale) - f32(0.5))
                v = f32(f32(f32(o) * scale) + offset)
                v = min(max(v, f32(0.0)), f32(in_size - 1))
            lo = int(v)
            hi = min(lo + 1, in_size - 1)
            result.append((lo, hi, nc.round_half_even(f32(f32(v - f32(lo)) * f32(2048.0)))))
        return result

    ys, xs = axis(oh, h), axis(ow, w)
    xi = x.astype(np.int64)
    out = np.zeros((n, oh, ow, c), np.int64)
    for oy, (y0, y1, ay) in enumerate(ys):
        for ox, (x0, x1, ax) in enumerate(xs):
            top = xi[:, y0, x0] * 2048 + (xi[:, y0, x1] - xi[:, y0, x0]) * ax
            bottom = xi[:, y1, x0] * 2048 + (xi[:, y1, x1] - xi[:, y1, x0]) * ax
            out[:, oy, ox] = (top * 2048 + (bottom - top) * ay + 2**21) >> 22
    return out.astype(x.dtype)


# -- operators whose values are the builtin kernels' (copies, or not delegated) -------------

def _same_as_builtin(name, why):
    def oracle(*args, **kwargs):
        return getattr(builtin, name)(*args, **kwargs)
    oracle.__name__ = name
    oracle.__doc__ = f"{name.upper()}: {why}"
    return oracle


pad = _same_as_builtin("pad", "``xnn_define_static_constant_pad`` with padding value 0.0 "
                       "quantized to the output zero point (PAD), or not delegated (PADV2): "
                       "the same copy and border.")
reshape = _same_as_builtin("reshape", "a copy in any runtime.")
shape_of = _same_as_builtin("shape_of", "not delegated.")


def strided_slice_delegated(type_name, strides, *, ellipsis_mask=0, new_axis_mask=0,
                            shrink_axis_mask=0, **_):
    """The delegate takes a STRIDED_SLICE of float32, int8 or uint8 with
    constant begin/end/strides, all strides 1 and no ellipsis, new-axis or
    shrink-axis mask."""
    return (type_name in ("FLOAT32", "INT8", "UINT8") and all(int(s) == 1 for s in strides)
            and not (ellipsis_mask or new_axis_mask or shrink_axis_mask))


def strided_slice(x, begin, end, strides, *, begin_mask=0, end_mask=0, ellipsis_mask=0,
                  new_axis_mask=0, shrink_axis_mask=0, offset=False, delegated=True):
    """STRIDED_SLICE: delegated (:func:`strided_slice_delegated`), the
    delegate passes begin (0 under begin_mask) and end (0 under end_mask,
    begin + end with ``offset``) to ``xnn_define_static_slice_v3``, which
    reads an end <= 0 as counted from the dimension's end: an unmasked end of
    0 takes the rest of the axis where TFLite takes nothing (x[0:0] of a
    length-3 axis gives all 3 values). Begin and end below -size clamp to 0,
    as in TFLite. The output tensor takes XNNPACK's shape. Otherwise the
    builtin kernel runs."""
    if not delegated:
        return builtin.strided_slice(x, begin, end, strides, begin_mask=begin_mask,
                                     end_mask=end_mask, ellipsis_mask=ellipsis_mask,
                                     new_axis_mask=new_axis_mask,
                                     shrink_axis_mask=shrink_axis_mask, offset=offset)
    x = np.asarray(x)
    index = []
    for i, dim in enumerate(x.shape):
        b = 0 if begin_mask >> i & 1 else int(begin[i])
        e = 0 if end_mask >> i & 1 else int(end[i]) + (b if offset else 0)
        start = max(dim + b, 0) if b < 0 else b
        size = max(max(dim + e, 0) - start, 0) if e <= 0 else max(e - start, 0)
        start = min(max(start, 0), dim)
        size = min(max(size, 0), dim - start)
        index.append(slice(start, start + size))
    return np.array(x[tuple(index)])


pack = _same_as_builtin("pack", "not delegated.")
transpose = _same_as_builtin("transpose", "``xnn_define_static_transpose``: a copy.")
tile = _same_as_builtin("tile", "not delegated.")
reduce_max = _same_as_builtin("reduce_max", "``xnn_define_static_reduce_v2`` (max) with the "
                              "s8 rmax/rdmax microkernels: the maximum, as the builtin kernel.")
maximum = _same_as_builtin("maximum", "the delegate takes only float MAXIMUM: builtin.")
minimum = _same_as_builtin("minimum", "the delegate takes only float MINIMUM: builtin.")
relu = _same_as_builtin("relu", "the delegate takes only float RELU/RELU6: builtin "
                        "(= reference).")
