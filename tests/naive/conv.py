"""CONV_2D and DEPTHWISE_CONV_2D on int8, spelled out as
``reference_integer_ops::ConvPerChannel`` and ``DepthwiseConvPerChannel``
do it: the window origin, taps outside the image skipped, the sum of
filter * (input + input_offset) over each tap (and, for CONV_2D, its
channels of the group), the bias, then the per-channel requantization with
Python integers (the output offset added in int32, wrapping, as the
reference adds it)."""

import numpy as np

from .fixedpoint import mbqm, to_int32


def out_size(size, filt, stride, dilation, padding):
    eff = (filt - 1) * dilation + 1
    if padding == "SAME":
        return (size + stride - 1) // stride
    return max((size - eff + stride) // stride, 0)


def pad_before(size, filt, stride, dilation, out):
    total = (out - 1) * stride + (filt - 1) * dilation + 1 - size
    return max(total, 0) // 2


def conv(x, weights, bias, *, stride=(1, 1), dilation=(1, 1), padding="SAME",
         input_offset, multipliers, shifts, output_offset, act_min, act_max):
    """x: [N, H, W, C] int8; weights: [O, KH, KW, C / groups] int8; bias: [O]
    int32 or None; multipliers/shifts: one per output channel."""
    x = np.asarray(x)
    n, h, w, c = x.shape
    o, kh, kw, cg = weights.shape
    groups = c // cg
    per_group = o // groups
    oh = out_size(h, kh, stride[0], dilation[0], padding)
    ow = out_size(w, kw, stride[1], dilation[1], padding)
    ph = pad_before(h, kh, stride[0], dilation[0], oh)
    pw = pad_before(w, kw, stride[1], dilation[1], ow)
    xs = x.astype(np.int64) + input_offset
    ws = weights.astype(np.int64)
    out = np.zeros((n, oh, ow, o), np.int64)
    for b in range(n):
        for oy in range(oh):
            for ox in range(ow):
                for oc in range(o):
                    g = oc // per_group
                    acc = 0
                    for ky in range(kh):
                        iy = oy * stride[0] - ph + ky * dilation[0]
                        for kx in range(kw):
                            ix = ox * stride[1] - pw + kx * dilation[1]
                            if not (0 <= iy < h and 0 <= ix < w):
                                continue
                            acc += int(np.dot(xs[b, iy, ix, g * cg:(g + 1) * cg], ws[oc, ky, kx]))
                    acc = to_int32(acc)  # the C++ accumulator is int32
                    if bias is not None:
                        acc = to_int32(acc + int(bias[oc]))
                    v = to_int32(mbqm(acc, int(multipliers[oc]), int(shifts[oc])) + output_offset)
                    out[b, oy, ox, oc] = min(max(v, act_min), act_max)
    return out.astype(np.int8)


def depthwise_conv(x, weights, bias, *, stride=(1, 1), dilation=(1, 1), padding="SAME",
                   input_offset, multipliers, shifts, output_offset, act_min, act_max):
    """x: [N, H, W, C] int8; weights: [1, KH, KW, C * M] int8; bias: [C * M]
    int32 or None; output channel o = c * M + m reads input channel c."""
    x = np.asarray(x)
    n, h, w, c = x.shape
    _, kh, kw, co = weights.shape
    mult = co // c
    oh = out_size(h, kh, stride[0], dilation[0], padding)
    ow = out_size(w, kw, stride[1], dilation[1], padding)
    ph = pad_before(h, kh, stride[0], dilation[0], oh)
    pw = pad_before(w, kw, stride[1], dilation[1], ow)
    out = np.zeros((n, oh, ow, co), np.int64)
    for b in range(n):
        for oy in range(oh):
            for ox in range(ow):
                for o in range(co):
                    ic = o // mult
                    acc = 0
                    for ky in range(kh):
                        iy = oy * stride[0] - ph + ky * dilation[0]
                        for kx in range(kw):
                            ix = ox * stride[1] - pw + kx * dilation[1]
                            if 0 <= iy < h and 0 <= ix < w:
                                acc += (int(x[b, iy, ix, ic]) + input_offset) * int(
                                    weights[0, ky, kx, o])
                    acc = to_int32(acc)
                    if bias is not None:
                        acc = to_int32(acc + int(bias[o]))
                    v = to_int32(mbqm(acc, int(multipliers[o]), int(shifts[o])) + output_offset)
                    out[b, oy, ox, o] = min(max(v, act_min), act_max)
    return out.astype(np.int8)
