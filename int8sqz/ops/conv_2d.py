"""CONV_2D: int8 input and output, int8 filter (OHWI) quantized per channel
or per tensor, int32 bias, any window, stride, dilation, SAME/VALID padding,
fused activation, batch size, and grouped convolution (filter input
channels dividing the input channels), as TFLite's reference kernel
``reference_integer_ops::ConvPerChannel`` computes it.

Prepare follows TFLite's ``conv.cc`` Prepare and ``kernel_util.cc``
``PopulateConvolutionQuantizationParams``: per output channel the effective
scale is ``double(input_scale) * double(filter_scale) / double(output_scale)``
(each float32 scale widened to double, the products in double) and
``QuantizeMultiplier`` turns it into a multiplier and shift; a per-tensor
filter scale is broadcast to every channel.

The bias is required, as TFLite's ``conv.cc`` Prepare requires it (a node
with two inputs, or with input 2 omitted as -1, fails there), although the
reference kernel itself and TFLite Micro would treat a missing bias as zero.
"""

import math

import numpy as np

from ..kernels import conv as k
from ._common import check_scale, check_zero_point, quantize_multiplier
from ._common import fused_activation_range
from ._padding import padding_height_width, padding_option, positive_option

#: the gathered rows and the filter rows are padded to a multiple of this many
#: int16 (64 bytes), so that the kernel's inner loop has no remainder
_K_ALIGN = 32
#: MODE_AXPY for windows of at most this many values and groups of at least
#: this many output channels (measured on the seed models' layers)
_AXPY_MAX_K = 48
_AXPY_MIN_OUT = 16


def prepare(op, ctx):
    ctx.check_arity(op, (2, 3))
    src, flt = op.inputs[0], op.inputs[1]
    if len(op.inputs) < 3 or op.inputs[2] < 0:
        raise ctx.error(
            op, "has no bias (input 2), but TFLite's CONV_2D requires one (an int32 tensor "
            "with one value per output channel)"
        )
    bias_index = op.inputs[2]
    dst = op.outputs[0]

    in_type = ctx.check_type(op, src, ("INT8",), "input")
    ctx.check_type(op, dst, (in_type,), "output")
    ctx.check_type(op, flt, ("INT8",), "filter")
    in_shape = ctx.check_rank(op, src, (4,), "input")
    f_shape = ctx.check_rank(op, flt, (4,), "filter")
    batches, in_h, in_w, in_c = in_shape
    out_c, filt_h, filt_w, filt_c = f_shape

    # grouped convolution: the filter sees in_c / groups channels per group
    if filt_c <= 0 or in_c % filt_c != 0:
        raise ctx.error(
            op, f"input {ctx.label(src)} has {in_c} channels, expected a multiple of the "
            f"{filt_c} input channels of filter {ctx.label(flt)} (shape {list(f_shape)})"
        )
    groups = in_c // filt_c
    if out_c % groups != 0:
        raise ctx.error(
            op, f"filter {ctx.label(flt)} has {out_c} output channels, expected a multiple "
            f"of the {groups} groups (input channels {in_c} / filter input channels {filt_c})"
        )

    # the filter is symmetric: every zero point must be 0
    fq = ctx.tensor(flt).quantization
    if fq.scales.size == 0:
        raise ctx.error(op, f"filter {ctx.label(flt)} is not quantized, expected int8 scales")
    if np.any(fq.zero_points != 0):
        raise ctx.error(
            op, f"filter {ctx.label(flt)} has zero points "
            f"{sorted(set(int(z) for z in fq.zero_points))}, expected 0 (symmetric int8 weights)"
        )

    stride_h = positive_option(op, ctx, "stride_h")
    stride_w = positive_option(op, ctx, "stride_w")
    dil_h = positive_option(op, ctx, "dilation_hfactor")
    dil_w = positive_option(op, ctx, "dilation_wfactor")
    padding = padding_option(op, ctx)

    ctx.check_type(op, bias_index, ("INT32",), "bias")
    bq = ctx.tensor(bias_index).quantization
    if bq.zero_points.size == 1 and int(bq.zero_points[0]) != 0:
        raise ctx.error(
            op, f"bias {ctx.label(bias_index)} has zero point {int(bq.zero_points[0])}, "
            f"expected 0"
        )
    data = ctx.constant(op, bias_index, "bias")
    if data.size != out_c:
        raise ctx.error(
            op, f"bias {ctx.label(bias_index)} has {data.size} elements, expected one "
            f"per output channel ({out_c})"
        )
    bias = np.ascontiguousarray(data.reshape(-1), dtype=np.int32)

    if fq.scales.size not in (1, out_c):
        raise ctx.error(
            op, f"filter {ctx.label(flt)} has {fq.scales.size} scales, expected 1 or one per "
            f"output channel ({out_c})"
        )
    in_scale = check_scale(ctx, op, src, "input")
    in_zp = check_zero_point(ctx, op, src, "input")
    out_scale = check_scale(ctx, op, dst, "output")
    out_zp = check_zero_point(ctx, op, dst, "output")
    f_scales = np.broadcast_to(fq.scales, (out_c,))
    multiplier = np.zeros(out_c, np.int32)
    shift = np.zeros(out_c, np.int32)
    for oc in range(out_c):
        fs = float(f_scales[oc])
        if not (math.isfinite(fs) and fs >= 0):
            raise ctx.error(
                op, f"filter {ctx.label(flt)} has scale {fs} for output channel {oc}, "
                f"expected a finite non-negative number"
            )
        # double(float) * double(float) / double(float), as kernel_util.cc
        effective = in_scale * fs / out_scale
        try:
            multiplier[oc], shift[oc] = quantize_multiplier(effective)
        except ValueError:
            raise ctx.error(
                op, f"output channel {oc}: effective scale {effective} is not finite"
            ) from None
    act_min, act_max = fused_activation_range(op, ctx, out_scale, out_zp, in_type)

    win = padding_height_width(stride_h, stride_w, dil_h, dil_w, in_h, in_w, filt_h, filt_w,
                               padding)
    ctx.set_output_shape(op, dst, (batches, win.out_height, win.out_width, out_c))

    weights = ctx.constant(op, flt, "filter")
    per_group = out_c // groups
    k_len = filt_h * filt_w * filt_c
    k_pad = max(_K_ALIGN, -(-k_len // _K_ALIGN) * _K_ALIGN)
    mode = _mode(k_len, per_group)
    wk = np.zeros((out_c, k_pad), np.int16)
    wk[:, :k_len] = weights.reshape(out_c, k_len)
    if mode == k.MODE_AXPY:
        wt = np.ascontiguousarray(weights.reshape(out_c, k_len).T)
    else:
        wt = np.zeros((0, out_c), np.int8)
    # the kernels work on blocks of PIXEL_BLOCK pixels: the last block of a row
    # may compute up to PIXEL_BLOCK - 1 windows past its end, which the
    # scratch buffers hold (and whose results are dropped)
    out_w = win.out_width
    blocked_w = -(-out_w // k.PIXEL_BLOCK) * k.PIXEL_BLOCK
    acc = np.zeros((blocked_w, out_c), np.int32)
    left = np.maximum(shift, 0).astype(np.int64)
    right = np.maximum(-shift, 0).astype(np.int64)
    mult = multiplier.astype(np.int64)
    # padded input rows: the columns the windows reach, then room for a 1x1
    # filter's windows past the row's end (read against zero weights, or dropped)
    span = (out_w - 1) * stride_w + (filt_w - 1) * dil_w + 1 if out_w else 0
    one_by_one = filt_h == 1 and filt_w == 1
    row_len = max(span * filt_c, blocked_w * stride_w * filt_c) + k_pad
    rows = np.zeros((groups, filt_h, row_len), np.int16)
    cols = np.zeros((groups, 0 if one_by_one else blocked_w * k_pad), np.int16)
    params = np.zeros(k.N_PARAMS, np.int64)
    params[k.P_STRIDE_H], params[k.P_STRIDE_W] = stride_h, stride_w
    params[k.P_DILATION_H], params[k.P_DILATION_W] = dil_h, dil_w
    params[k.P_PAD_H], params[k.P_PAD_W] = win.pad_height, win.pad_width
    params[k.P_FILTER_H], params[k.P_FILTER_W] = filt_h, filt_w
    params[k.P_INPUT_OFFSET] = -in_zp
    params[k.P_OUTPUT_OFFSET] = out_zp
    params[k.P_ACT_MIN], params[k.P_ACT_MAX] = act_min, act_max
    params[k.P_K] = k_len
    params[k.P_MODE] = mode
    kernel = k.conv_2d

    def run(t):
        kernel(t[src], t[dst], wk, wt, bias, mult, left, right, params, rows, cols, acc)

    return run


def _mode(k_len: int, per_group: int) -> int:
    """Short windows: update all of a group's outputs per input value."""
    if k_len <= _AXPY_MAX_K and per_group >= _AXPY_MIN_OUT:
        return k.MODE_AXPY
    return k.MODE_DOT
