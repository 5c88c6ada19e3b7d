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
from ..kernels import gemm
from ._common import check_left_shift, check_scale, check_zero_point, quantize_multiplier
from ._common import fused_activation_range
from ._window import padding_height_width, padding_option, positive_option, row_window
from .unit import OperatorUnit, Sharing, def_type

#: output pixels per block (whole rows, at least one): the block's windows
#: and accumulators stay in the cache (measured on the seed models' layers)
_BLOCK_PIXELS = 256
INT16_MAX = 32767


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

    # TFLite's conv.cc Prepare refuses empty inputs and filters
    for what, value in (("input height", in_h), ("input width", in_w), ("input channels", in_c),
                        ("filter height", filt_h), ("filter width", filt_w),
                        ("filter output channels", out_c)):
        if value <= 0:
            raise ctx.error(
                op, f"{what} is {value} (input {list(in_shape)}, filter {list(f_shape)}), "
                f"expected at least 1: TFLite's CONV_2D refuses empty inputs and filters"
            )

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
    for key, value in (("stride_h", stride_h), ("stride_w", stride_w),
                       ("dilation_hfactor", dil_h), ("dilation_wfactor", dil_w)):
        if value > INT16_MAX:
            raise ctx.error(
                op, f"option {key} is {value}, expected at most {INT16_MAX} (TFLite keeps "
                f"strides and dilations in an int16)"
            )

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
        check_left_shift(ctx, op, int(shift[oc]), effective,
                         f"output channel {oc}: the effective scale")
    act_min, act_max = fused_activation_range(op, ctx, out_scale, out_zp, in_type)

    win = padding_height_width(stride_h, stride_w, dil_h, dil_w, in_h, in_w, filt_h, filt_w,
                               padding)
    if win.out_height <= 0 or win.out_width <= 0:
        raise ctx.error(
            op, f"the {filt_h}x{filt_w} window (dilation {dil_h}x{dil_w}) does not fit the "
            f"{in_h}x{in_w} input with {padding} padding: the output would be "
            f"{win.out_height}x{win.out_width}, and TFLite refuses an empty output"
        )
    ctx.set_output_shape(op, dst, (batches, win.out_height, win.out_width, out_c))

    weights = ctx.constant(op, flt, "filter")
    per_group = out_c // groups
    k_len = filt_h * filt_w * filt_c
    w2 = weights.reshape(groups, per_group, k_len)
    packed = [gemm.pack_weights(w2[g]) for g in range(groups)]
    wp = np.ascontiguousarray(np.stack([p[0] for p in packed]))
    kp, n_tiles = packed[0][1], packed[0][2]
    # the kernel's windows hold x + 128 for every tap (the padding too: zero
    # point + 128), so each output channel gets (128 + zero point) * sum(w)
    # more than the reference; the bias takes it back (wrapped to int32)
    w_sums = weights.reshape(out_c, k_len).astype(np.int64).sum(axis=1)
    folded = bias.astype(np.int64) - (128 + in_zp) * w_sums
    bias = (((folded + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)).astype(np.int32)

    out_h, out_w = win.out_height, win.out_width
    block_rows = max(1, min(out_h, _BLOCK_PIXELS // max(out_w, 1)))
    rows = gemm.padded_rows(block_rows * out_w)
    # the padded image: every tap of every window inside it
    padded_h = max(in_h + win.pad_height,
                   (out_h - 1) * stride_h + (filt_h - 1) * dil_h + 1) if out_h else 0
    padded_w = max(in_w + win.pad_width,
                   (out_w - 1) * stride_w + (filt_w - 1) * dil_w + 1) if out_w else 0
    # a 1x1 filter with stride 1 (so no padding) reads its windows in place
    direct = (filt_h == 1 and filt_w == 1 and stride_h == 1 and stride_w == 1
              and groups == 1 and in_c == kp)
    # spare rows: a tile's rows past the image (direct), 64-byte copies past a window
    spare = gemm.MR + -(-64 // max(in_c, 1))
    xpad = np.full((padded_h * padded_w + spare, in_c), 128 + in_zp, np.uint8)
    a = np.zeros((0 if direct else rows + -(-64 // kp), kp), np.uint8)
    acc = np.zeros((rows, n_tiles * gemm.NR), np.int32)
    # an empty output (no column or no row): nothing to run, nothing to read
    blocks = batches * (-(-out_h // block_rows)) if out_w else 0
    # per-channel values as int32, 16 past the last channel for the vector loads
    def channels(v):
        padded = np.zeros(out_c + 16, np.int32)
        padded[:out_c] = v
        return padded

    left = channels(np.maximum(shift, 0))
    right = channels(np.maximum(-shift, 0))
    mult = channels(multiplier)
    bias = channels(bias)
    params = np.zeros(k.N_PARAMS, np.int64)
    params[k.P_STRIDE_H], params[k.P_STRIDE_W] = stride_h, stride_w
    params[k.P_DILATION_H], params[k.P_DILATION_W] = dil_h, dil_w
    params[k.P_PAD_H], params[k.P_PAD_W] = win.pad_height, win.pad_width
    params[k.P_FILTER_H], params[k.P_FILTER_W] = filt_h, filt_w
    params[k.P_INPUT_OFFSET] = -in_zp
    params[k.P_OUTPUT_OFFSET] = out_zp
    params[k.P_ACT_MIN], params[k.P_ACT_MAX] = act_min, act_max
    params[k.P_K] = k_len
    params[k.P_BLOCK_ROWS] = block_rows
    params[k.P_PADDED_W] = padded_w
    params[k.P_DIRECT] = direct
    kernel = k.conv_2d

    def run(t):
        kernel(t[src], t[dst], wp, bias, mult, left, right, params, xpad, a, acc, 0, blocks)

    return run


def version(op, tensors) -> int:
    """``op_version.cc``: 3 for int8 input, filter and output, else 1."""
    kinds = (def_type(op, tensors, 0), def_type(op, tensors, 1), def_type(op, tensors, 0, True))
    return 3 if kinds == ("INT8", "INT8", "INT8") else 1


def per_image(op, model, shapes) -> bool:
    return True  # image b of the output reads image b of the input only


def macs(op, shapes) -> int:
    """Output elements x filter height x width x input channels per group."""
    f = shapes[op.inputs[1]] if len(op.inputs) > 1 and op.inputs[1] >= 0 else ()
    return math.prod(shapes[op.outputs[0]]) * math.prod(f[1:]) if len(f) == 4 else 0


def rows(op, shapes):
    """The input rows each output row reads (the optimized planner's rule)."""
    if len(op.inputs) < 2 or op.inputs[1] < 0 or len(shapes[op.inputs[1]]) != 4 \
            or len(shapes[op.inputs[0]]) != 4:
        return None
    return row_window(op.options.get("padding"), shapes[op.inputs[0]][1],
                      shapes[op.inputs[1]][1], int(op.options.get("stride_h", 1)),
                      int(op.options.get("dilation_hfactor", 1)))


UNIT = OperatorUnit(
    "CONV_2D", prepare, options="Conv2DOptions",
    defaults={"fused_activation_function": "NONE", "dilation_wfactor": 1,
              "dilation_hfactor": 1, "stride_w": 1, "stride_h": 1},
    version=version, per_image=per_image, macs=macs,
    # kernels/conv.py, the aliasing rule of its docstring: row blocks in
    # order, each block's input rows read before any of its output is written,
    # the output written through its strides
    sharing=Sharing(kernel="kernels/conv.py", strided_output=True, rows=rows,
                    rows_read_first=True),
)
