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

The desktop runtimes (``numerics``) compute the same int32 sums and
requantize them their own way: the kernel hands them over
(``conv_2d(..., sums)``) to int8sqz.ops._numerics.sums_requantization.
"""

import functools
import math

import numpy as np

from ..kernels import conv as k
from ._numerics import sums_requantization, xnnpack_activation
from ._quant import per_channel_quantization
from ._tflm import OP_DATA_CONV, temp_inputs, temp_output, usable, window_trace
from ._window import filter_bands, filter_rows, padding_height_width, window_options
from .unit import (
    Bands, CStruct, Node, Numerics, OperatorUnit, PersistentBuffer, RowWindow, Sharing,
    TflmAllocations, check_band, def_type,
)


def prepare(op, ctx, numerics: str = "reference"):
    """The reference's CONV_2D, or (``numerics``) the sums requantized as
    the optimized builtin kernels ("builtin") or XNNPACK ("xnnpack") do."""
    src, flt, bias_index, dst, type_name, groups = _check_tensors(op, ctx)
    stride, dilation, padding = window_options(op, ctx)
    out_c = ctx.shape(flt)[0]
    bias = _bias(op, ctx, bias_index, out_c)
    q = per_channel_quantization(ctx, op, src, flt, dst, out_c, type_name)
    pad = _output_window(op, ctx, src, flt, dst, stride, dilation, padding)

    weights = ctx.constant(op, flt, "filter")
    wp, bias, mult, left, right = k.constants(weights, groups, bias, q.multiplier, q.shift,
                                              q.input_zero_point)
    layout = k.layout(ctx.shape(src), ctx.shape(dst), ctx.shape(flt), stride, dilation, pad,
                      q.output_zero_point, q.act_min, q.act_max)
    params, blocks = tuple(layout.params), layout.blocks
    kernel = k.conv_2d
    info = dict(kernel="conv_2d", groups=groups, geometry=layout.params,
                multiplier=q.multiplier, shift=q.shift, input_zero_point=q.input_zero_point,
                output_zero_point=q.output_zero_point, act_min=q.act_min, act_max=q.act_max,
                folded_bias=bias, blocks=blocks, scratch_bytes=layout.scratch_bytes)
    if numerics == "xnnpack" and groups != 1:
        raise ctx.unsupported(
            op, f"a grouped convolution ({groups} groups) under numerics 'xnnpack': what "
            f"XNNPACK computes for it is not modelled")
    # the optimized builtin kernels run grouped convolutions with the
    # reference kernel (conv.cc: effective_kernel_type = kReference)
    raw = numerics != "reference" and groups == 1
    sums = np.zeros(ctx.shape(dst), np.int32) if raw else k.NO_SUMS
    scratch = []  # (xpad, a, acc), made on the first whole run (never, when streamed)

    def run(t):
        if not scratch:
            scratch.extend(layout.scratch(q.input_zero_point))
        xpad, a, acc = scratch
        kernel(t[src], t[dst], wp, bias, mult, left, right, params, xpad, a, acc, 0, blocks,
               sums)

    if raw:
        requantize, extra = sums_requantization(op, ctx, numerics, q, src, flt, dst,
                                                q.multiplier.size, type_name)

        def run_sums(t):
            run(t)
            requantize(sums, t[dst])

        return Node(op, run_sums, dict(info, **extra))

    def fused(out=dst, table=None, pool=None):
        """run(t) of this convolution writing tensor ``out`` through the
        per-channel ``table`` and followed, block by block, by ``pool``
        ``(input tensor, output tensor, fields, row)`` (kernels/conv.py
        conv_2d_fused; int8sqz/fusion.py decides when this is exact)."""
        px, po, pf, prow = pool if pool is not None else (None, None, None, None)

        def run_fused(t):
            if not scratch:
                scratch.extend(layout.scratch(q.input_zero_point))
            xpad, a, acc = scratch
            k.conv_2d_fused(t[src], t[out], wp, bias, mult, left, right, params, xpad, a, acc,
                            0, blocks, sums, table, None if px is None else t[px],
                            None if po is None else t[po], pf, prow)
        return run_fused

    in_shape, out_shape = tuple(ctx.shape(src)), tuple(ctx.shape(dst))
    in_h = in_shape[1]
    pad_value = 128 + q.input_zero_point
    window = RowWindow(layout.params.filter_h, stride[0], dilation[0], pad[0])

    def rows(max_rows):
        band = layout.band(max_rows)
        band_params = tuple(band.params)
        xpad, a, acc = band.scratch(q.input_zero_point)

        def run_rows(t, origins, first, last):
            x, y = t[src], t[dst]
            x0, y0 = origins.get(src, 0), origins.get(dst, 0)
            check_band(op, window, in_shape, x, x0, out_shape, y, y0, first, last, max_rows)
            k.conv_2d_rows(x, x0, in_h, y, y0, first, last, wp, bias, mult, left, right,
                           band_params, xpad, a, acc, pad_value)
        run_rows.scratch_bytes = xpad.nbytes + a.nbytes + acc.nbytes
        return run_rows

    return Node(op, run, info, rows, fuse={"conv_2d": fused})


def _check_tensors(op, ctx):
    """The tensors' count, types, shapes and the filter's quantization:
    ``(input, filter, bias, output, type name, groups)``."""
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
    _, in_h, in_w, in_c = in_shape
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
    return src, flt, bias_index, dst, in_type, groups


def _bias(op, ctx, index: int, out_c: int):
    """The int32 bias, one value per output channel."""
    ctx.check_type(op, index, ("INT32",), "bias")
    bq = ctx.tensor(index).quantization
    if bq.zero_points.size == 1 and int(bq.zero_points[0]) != 0:
        raise ctx.error(
            op, f"bias {ctx.label(index)} has zero point {int(bq.zero_points[0])}, "
            f"expected 0"
        )
    data = ctx.constant(op, index, "bias")
    if data.size != out_c:
        raise ctx.error(
            op, f"bias {ctx.label(index)} has {data.size} elements, expected one "
            f"per output channel ({out_c})"
        )
    return np.ascontiguousarray(data.reshape(-1), dtype=np.int32)


def _output_window(op, ctx, src, flt, dst, stride, dilation, padding):
    """Sets the output's shape; returns the padding (top, left)."""
    batches, in_h, in_w, _ = ctx.shape(src)
    out_c, filt_h, filt_w, _ = ctx.shape(flt)
    win = padding_height_width(stride[0], stride[1], dilation[0], dilation[1], in_h, in_w,
                               filt_h, filt_w, padding)
    if win.out_height <= 0 or win.out_width <= 0:
        raise ctx.error(
            op, f"the {filt_h}x{filt_w} window (dilation {dilation[0]}x{dilation[1]}) does "
            f"not fit the {in_h}x{in_w} input with {padding} padding: the output would be "
            f"{win.out_height}x{win.out_width}, and TFLite refuses an empty output"
        )
    ctx.set_output_shape(op, dst, (batches, win.out_height, win.out_width, out_c))
    return win.pad_height, win.pad_width


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


#: TfLiteConvParams (builtin_op_data.h): padding, strides, activation,
#: dilations, quantized_bias_type
TFLM_PARAMS = CStruct("TfLiteConvParams", ("enum", "int32", "int32", "enum", "int32", "int32",
                                           "enum"), "builtin_op_data.h")


def tflm_persistent(op, model, shapes):
    """micro/kernels/conv_common.cc: ConvInit allocates OpDataConv;
    ConvPrepare takes the output, input and filter as temporary tensors,
    allocates the per-channel multipliers and shifts (int32, one per filter
    dimension 0), and CalculateOpDataConv takes input, filter, bias and
    output again."""
    filt = shapes[op.inputs[1]] if len(op.inputs) > 1 and op.inputs[1] >= 0 else ()
    channels = int(filt[0]) if filt else 0
    return TflmAllocations(
        "micro/kernels/conv_common.cc ConvInit, ConvPrepare, CalculateOpDataConv",
        TFLM_PARAMS, OP_DATA_CONV,
        temp_output(op) + temp_inputs(op, 0, 1)
        + (PersistentBuffer(4 * channels), PersistentBuffer(4 * channels))
        + temp_inputs(op, 0, 1, 2) + temp_output(op))


def tflm_sharing(op, k, model, shapes):
    """CONV_2D int8/int16 (conv.cc -> reference_integer_ops::ConvPerChannel):
    for batch, out_y, out_x, out_channel: the window read (taps inside the
    image, the channels of the output channel's group), then that one
    element written. Every output channel re-reads its pixel's window."""
    if k != 0 or len(op.inputs) < 2 or not usable(op, k, model, shapes, rank4=True) or \
            model.tensors[op.inputs[0]].type_name not in ("INT8", "INT16"):
        return None
    f = shapes[op.inputs[1]]
    ic, oc = shapes[op.inputs[0]][3], shapes[op.outputs[0]][3]
    if len(f) != 4 or f[3] <= 0 or ic % f[3] or oc % (ic // f[3]):
        return None
    per_group = oc // (ic // f[3])
    return window_trace(model, op, shapes, lambda c: (c // per_group) * f[3], f[1], f[2],
                        int(op.options.get("dilation_hfactor", 1)),
                        int(op.options.get("dilation_wfactor", 1)),
                        "CONV_2D: window read, then one output element written")


UNIT = OperatorUnit(
    "CONV_2D", prepare, options="Conv2DOptions",
    defaults={"fused_activation_function": "NONE", "dilation_wfactor": 1,
              "dilation_hfactor": 1, "stride_w": 1, "stride_h": 1},
    version=version, per_image=per_image, macs=macs,
    # kernels/conv.py, the aliasing rule of its docstring: row blocks in
    # order, each block's input rows read before any of its output is written,
    # the output written through its strides
    sharing=Sharing(kernel="kernels/conv.py", strided_output=True, rows=filter_rows,
                    rows_read_first=True),
    numerics={
        "builtin": Numerics(
            "the same int32 sums; every channel requantized half up (ruy's and the custom "
            "GEMV's output stage) with the reference's multipliers, where the reference "
            "rounds half away from zero; grouped convolutions run the reference kernel",
            functools.partial(prepare, numerics="builtin")),
        "xnnpack": Numerics(
            "the same int32 sums, requantized in float32 (round(float32(sum) * "
            "float32(in_scale * w_scale / out_scale)), half to even) and clamped to "
            "XNNPACK's bounds (half to even); a channel scale >= 256 makes the default "
            "interpreter refuse the model. Delegated with a NONE/RELU/RELU6/RELU_N1_TO_1 "
            "activation",
            functools.partial(prepare, numerics="xnnpack"),
            delegated=lambda op, ctx: xnnpack_activation(op)),
    },
    tflm_persistent=tflm_persistent, tflm_sharing=tflm_sharing,
    # kernels/conv.py conv_2d_rows: any band of output rows, its padding
    # rows made in a band-sized padded image
    bands=Bands(kernel="kernels/conv.py", windows=filter_bands),
)
