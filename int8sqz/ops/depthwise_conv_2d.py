"""DEPTHWISE_CONV_2D: int8 input and output, int8 filter [1, H, W, C * M]
quantized per channel or per tensor, optional int32 bias, any depth
multiplier M, window, stride, dilation, SAME/VALID padding, fused
activation and batch size, as TFLite's reference kernel
``reference_integer_ops::DepthwiseConvPerChannel`` computes it.

Prepare follows TFLite's ``depthwise_conv.cc`` Prepare (the kernel type
``kReference``, measured against the installed ai-edge-litert):

* 2 inputs (no bias) or 3; a third input omitted as -1 is refused;
* strides and dilations in 1..32767; the filter's first dimension 1;
* the depth multiplier is the filter's channels over the input's (which
  must divide them, and be at least 1); the ``depth_multiplier`` option is
  not read (TFLite Micro reads it: a model whose option disagrees with its
  shapes runs there differently);
* the output size and padding of the checked ``ComputePaddingHeightWidth``:
  a window that gives a negative output size is refused, and so is a
  padding beyond 32767 (TFLite keeps it in an int16); an empty output
  (a window larger than a VALID input, a batch of 0) is accepted;
* the bias (when present): int32, zero point 0 (the per-tensor zero point
  TFLite reads), rank 1, one value per output channel;
* the multipliers of ``PopulateConvolutionQuantizationParams``
  (int8sqz.ops._quant); the filter's zero points are not read (the kernel's
  weight offset is 0).

The desktop runtimes (``numerics``) compute the same int32 sums and
requantize them their own way: the kernel hands them over (``sums``) to
int8sqz.ops._numerics.sums_requantization.
"""

import functools
import math

import numpy as np

from ..kernels import conv as kconv
from ..kernels import depthwise as k
from ._common import flat
from ._numerics import sums_requantization, xnnpack_activation
from ._quant import per_channel_quantization
from ._window import (
    INT16_MAX, filter_bands, filter_rows, out_size, padding_with_offset, window_options,
)
from ._tflm import OP_DATA_CONV, temp_inputs, temp_output, usable, window_trace
from .unit import (
    Bands, CStruct, Node, Numerics, OperatorUnit, PersistentBuffer, RowWindow, Sharing,
    TflmAllocations, check_band, def_type,
)


def prepare(op, ctx, numerics: str = "reference"):
    """The reference's DEPTHWISE_CONV_2D, or (``numerics``) the sums
    requantized as the optimized builtin kernel ("builtin") or XNNPACK
    ("xnnpack") does."""
    src, flt, bias_index, dst = _check_tensors(op, ctx)
    stride, dilation, padding = window_options(op, ctx)
    batches, in_h, in_w, in_c = ctx.shape(src)
    _, filt_h, filt_w, co = ctx.shape(flt)
    bias = _bias(op, ctx, bias_index, co) if bias_index is not None else None
    out_h, out_w, pad = _window(op, ctx, src, flt, stride, dilation, padding)
    q = per_channel_quantization(ctx, op, src, flt, dst, co, "INT8")
    ctx.set_output_shape(op, dst, (batches, out_h, out_w, co))

    weights = np.asarray(ctx.constant(op, flt, "filter"))
    w = k.pack_weights(weights)
    # the sum of each output channel's weights over the window
    w_sums = weights.astype(np.int64).reshape(-1, co).sum(axis=0)
    bias_lanes, mult, left, right = kconv.requantization_lanes(
        w_sums, bias, q.multiplier, q.shift, q.input_zero_point)
    layout = k.layout(ctx.shape(src), ctx.shape(dst), ctx.shape(flt), stride, dilation, pad,
                      q.output_zero_point, q.act_min, q.act_max)
    info = dict(kernel="depthwise_conv_2d", depth_multiplier=co // in_c,
                geometry=layout.params, multiplier=q.multiplier, shift=q.shift,
                input_zero_point=q.input_zero_point, output_zero_point=q.output_zero_point,
                act_min=q.act_min, act_max=q.act_max, folded_bias=bias_lanes[:co])
    if batches * out_h * out_w == 0:
        # an empty output: nothing to compute, nothing to read
        return Node(op, lambda t: None, info)
    # the padded image holds M bytes per input byte, and a dilated window's
    # ring as many rows as it spans: bounded as the activations are, before
    # anything of that size exists
    scratch = layout.xpad_size + layout.ring_size
    limit = ctx.max_activation_bytes
    if limit is not None and scratch > limit:
        raise ctx.error(
            op, f"the kernel needs {scratch} bytes of scratch (the padded input and the "
            f"interleaved rows of the window), more than the limit of {limit} bytes "
            f"(max_activation_bytes)"
        )
    fields = np.array(layout.params, np.int64)
    kernel = k.depthwise_conv_2d
    # the input's bytes, flat: made again only when the input is another array
    seen = [None, None]
    info["scratch_bytes"] = layout.scratch_bytes
    requantize, sums = None, kconv.NO_SUMS
    if numerics != "reference":
        _check_desktop(op, ctx, numerics, bias_index, co // in_c)
        # the optimized per-channel Quantize rounds whole groups of 8
        # channels from channel 0 half up, the last co % 8 half away from zero
        half_up = np.arange(co) < co - co % 8
        requantize, extra = sums_requantization(op, ctx, numerics, q, src, flt, dst, co, "INT8",
                                                half_up)
        info.update(extra)
        sums = np.zeros((batches, out_h, out_w, co), np.int32)
    scratch = []  # (xpad, ring, acc, slots), made on the first whole run (never, when streamed)

    def run(t):
        x = t[src]
        if x is not seen[0]:
            seen[:] = x, flat(x).view(np.uint8)
        if not scratch:
            scratch.extend(layout.scratch(q.input_zero_point))
        xpad, ring, acc, slots = scratch
        kernel(seen[1], t[dst], w, bias_lanes, mult, left, right, fields, xpad, ring, acc,
               slots, sums)

    if requantize is not None:
        def run_sums(t):
            run(t)
            requantize(sums, t[dst])

        return Node(op, run_sums, info)

    in_shape, out_shape = tuple(ctx.shape(src)), tuple(ctx.shape(dst))
    window = RowWindow(filt_h, stride[0], dilation[0], pad[0])
    pad_value = 128 + q.input_zero_point

    def rows(max_rows):
        band = layout.band(max_rows)
        b_xpad, b_ring, b_acc, b_slots = band.scratch(q.input_zero_point)
        band_kernel = k.depthwise_conv_2d_rows

        def run_rows(t, origins, first, last):
            x, y = t[src], t[dst]
            x0, y0 = origins.get(src, 0), origins.get(dst, 0)
            check_band(op, window, in_shape, x, x0, out_shape, y, y0, first, last, max_rows)
            band_kernel(flat(x).view(np.uint8), x0, y, y0, first, last, w, bias_lanes, mult,
                        left, right, fields, b_xpad, b_ring, b_acc, b_slots, pad_value)
        run_rows.scratch_bytes = band.scratch_bytes
        return run_rows

    return Node(op, run, info, rows)


def _check_desktop(op, ctx, numerics: str, bias_index, multiplier: int) -> None:
    """What int8sqz does not compute for the desktop runtimes (measured on
    generated models): without a bias TFLite's optimized depthwise kernels
    and XNNPACK's crash (a segmentation fault in ai-edge-litert); XNNPACK
    reads the ``depth_multiplier`` option and the filter's zero points, and
    where the option contradicts the shapes or a zero point is not 0 the
    default interpreter refuses the model or leaves the operator to the
    builtin kernel, depending on the case (an option of 0: the builtin
    kernel, :func:`delegated`)."""
    def refuse(what):
        raise ctx.unsupported(op, f"{what} under numerics {numerics!r}: what that runtime "
                                  f"computes for it is not modelled")

    if bias_index is None:
        refuse("a DEPTHWISE_CONV_2D without a bias (the runtime's optimized kernels crash "
               "on it)")
    if numerics == "xnnpack":
        option = op.options.get("depth_multiplier", 0)
        if option != multiplier:
            refuse(f"a depth_multiplier option of {option} where the shapes say {multiplier}")
        zps = ctx.tensor(op.inputs[1]).quantization.zero_points
        if np.any(zps != 0):
            refuse("a filter with zero points other than 0")


def delegated(op, ctx) -> bool:
    """XNNPACK takes a DEPTHWISE_CONV_2D with an activation it supports and
    a depth_multiplier option other than 0 (measured: with 0 the builtin
    kernel runs it)."""
    return xnnpack_activation(op) and op.options.get("depth_multiplier", 0) != 0


def _check_tensors(op, ctx):
    """``(input, filter, bias or None, output)``, their types and shapes checked."""
    ctx.check_arity(op, (2, 3))
    src, flt, dst = op.inputs[0], op.inputs[1], op.outputs[0]
    bias_index = None
    if len(op.inputs) == 3:
        if op.inputs[2] < 0:
            raise ctx.error(
                op, "input 2 (the bias) is omitted (-1); TFLite's DEPTHWISE_CONV_2D takes "
                "a model without a bias only as 2 inputs"
            )
        bias_index = op.inputs[2]
    ctx.check_type(op, src, ("INT8",), "input")
    ctx.check_type(op, dst, ("INT8",), "output")
    ctx.check_type(op, flt, ("INT8",), "filter")
    in_shape = ctx.check_rank(op, src, (4,), "input")
    f_shape = ctx.check_rank(op, flt, (4,), "filter")
    if f_shape[0] != 1:
        raise ctx.error(
            op, f"filter {ctx.label(flt)} has shape {list(f_shape)}, expected [1, height, "
            f"width, channels]"
        )
    in_c, co = in_shape[3], f_shape[3]
    if in_c <= 0 or co % in_c != 0:
        raise ctx.error(
            op, f"filter {ctx.label(flt)} has {co} channels, expected a multiple of the "
            f"{in_c} channels of input {ctx.label(src)} (and at least one input channel): the "
            f"depth multiplier is their ratio"
        )
    if co // in_c > INT16_MAX:
        raise ctx.unsupported(
            op, f"depth multiplier {co // in_c} (filter channels {co} / input channels "
            f"{in_c}); TFLite keeps it in an int16, at most {INT16_MAX}"
        )
    if ctx.tensor(flt).quantization.scales.size == 0:
        raise ctx.error(op, f"filter {ctx.label(flt)} is not quantized, expected int8 scales")
    return src, flt, bias_index, dst


def _bias(op, ctx, index: int, channels: int):
    """The int32 bias: rank 1, one value per output channel, zero point 0."""
    ctx.check_type(op, index, ("INT32",), "bias")
    q = ctx.tensor(index).quantization
    zp = int(q.zero_points[0]) if q.scales.size == 1 and q.zero_points.size == 1 else 0
    if zp != 0:
        raise ctx.error(op, f"bias {ctx.label(index)} has zero point {zp}, expected 0")
    shape = ctx.shape(index)
    if len(shape) != 1 or shape[0] != channels:
        raise ctx.error(
            op, f"bias {ctx.label(index)} has shape {list(shape)}, expected [{channels}] "
            f"(one value per output channel)"
        )
    data = ctx.constant(op, index, "bias")
    return np.asarray(data, np.int64).reshape(-1)


def _window(op, ctx, src, flt, stride, dilation, padding):
    """``(out_h, out_w, (pad_top, pad_left))`` as the checked
    ``ComputePaddingHeightWidth`` gives them, or the refusal TFLite's
    depthwise Prepare makes of a failed check or of a padding beyond int16."""
    _, in_h, in_w, _ = ctx.shape(src)
    _, filt_h, filt_w, _ = ctx.shape(flt)
    window = (f"the {filt_h}x{filt_w} window (stride {stride[0]}x{stride[1]}, dilation "
              f"{dilation[0]}x{dilation[1]}, {padding} padding) over the {in_h}x{in_w} input")
    out_h = out_size(padding, in_h, filt_h, stride[0], dilation[0])
    out_w = out_size(padding, in_w, filt_w, stride[1], dilation[1])
    if out_h is None or out_w is None:
        raise ctx.error(op, f"{window} gives a negative output size; TFLite refuses it")
    pads = (padding_with_offset(stride[0], dilation[0], in_h, filt_h, out_h),
            padding_with_offset(stride[1], dilation[1], in_w, filt_w, out_w))
    for axis, pad in zip(("rows", "columns"), pads):
        if pad is None or pad[0] > INT16_MAX:
            raise ctx.error(
                op, f"{window} needs more than {INT16_MAX} {axis} of padding; TFLite keeps "
                f"the padding in an int16 and refuses it"
            )
    return out_h, out_w, (pads[0][0], pads[1][0])


def version(op, tensors) -> int:
    """``op_version.cc``: 3 for int8 input, filter and output; 7 for an int4
    filter; 4 (6 per channel) for float input and output with an int8
    filter; else 2 with a dilation, 1 without."""
    kinds = (def_type(op, tensors, 0), def_type(op, tensors, 1), def_type(op, tensors, 0, True))
    if kinds == ("INT8", "INT8", "INT8"):
        return 3
    if kinds == ("INT8", "INT4", "INT8"):
        return 7
    if kinds == ("FLOAT32", "INT8", "FLOAT32"):
        scales = tensors[op.inputs[1]].scales
        return 6 if scales is not None and len(scales) > 1 else 4
    if op.options.get("dilation_wfactor", 1) != 1 or op.options.get("dilation_hfactor", 1) != 1:
        return 2
    return 1


def per_image(op, model, shapes) -> bool:
    return True  # image b of the output reads image b of the input only


def macs(op, shapes) -> int:
    """Output elements x filter height x width."""
    f = shapes[op.inputs[1]] if len(op.inputs) > 1 and op.inputs[1] >= 0 else ()
    return math.prod(shapes[op.outputs[0]]) * f[1] * f[2] if len(f) == 4 else 0


#: TfLiteDepthwiseConvParams (builtin_op_data.h): padding, strides,
#: depth_multiplier, activation, dilations
DEPTHWISE_PARAMS = CStruct("TfLiteDepthwiseConvParams", ("enum", "int32", "int32", "int32",
                                                         "enum", "int32", "int32"),
                           "builtin_op_data.h")

def tflm_persistent(op, model, shapes):
    """micro/kernels/depthwise_conv.cc (DepthwiseConvInit: OpDataConv) and
    depthwise_conv_common.cc: DepthwiseConvPrepare takes output, input and
    filter as temporary tensors, allocates the per-channel multipliers and
    shifts (int32, one per filter dimension 3), and
    CalculateOpDataDepthwiseConv takes input, filter, bias and output
    again."""
    filt = shapes[op.inputs[1]] if len(op.inputs) > 1 and op.inputs[1] >= 0 else ()
    channels = int(filt[3]) if len(filt) == 4 else 0
    return TflmAllocations(
        "micro/kernels/depthwise_conv.cc DepthwiseConvInit, depthwise_conv_common.cc "
        "DepthwiseConvPrepare, CalculateOpDataDepthwiseConv", DEPTHWISE_PARAMS, OP_DATA_CONV,
        temp_output(op) + temp_inputs(op, 0, 1)
        + (PersistentBuffer(4 * channels), PersistentBuffer(4 * channels))
        + temp_inputs(op, 0, 1, 2) + temp_output(op))


def tflm_sharing(op, k, model, shapes):
    """DEPTHWISE_CONV_2D int8/int16 (depthwise_conv.cc ->
    reference_integer_ops::DepthwiseConvPerChannel): for batch, out_y,
    out_x, in_channel, m: in_channel's window read, then output channel
    in_channel * multiplier + m written. A 3x3 stride-1 depthwise needs
    only about one input row and a pixel of distance."""
    if k != 0 or len(op.inputs) < 2 or not usable(op, k, model, shapes, rank4=True) or \
            model.tensors[op.inputs[0]].type_name not in ("INT8", "INT16"):
        return None
    f = shapes[op.inputs[1]]
    ic, oc = shapes[op.inputs[0]][3], shapes[op.outputs[0]][3]
    if len(f) != 4 or ic <= 0 or oc % ic:
        return None
    mult = oc // ic
    return window_trace(model, op, shapes, lambda c: c // mult, f[1], f[2],
                        int(op.options.get("dilation_hfactor", 1)),
                        int(op.options.get("dilation_wfactor", 1)),
                        "DEPTHWISE_CONV_2D: one channel's window read, then one element written")


UNIT = OperatorUnit(
    "DEPTHWISE_CONV_2D", prepare, options="DepthwiseConv2DOptions",
    defaults={"fused_activation_function": "NONE", "dilation_wfactor": 1,
              "dilation_hfactor": 1, "stride_w": 1, "stride_h": 1, "depth_multiplier": 1},
    version=version, per_image=per_image, macs=macs,
    # kernels/depthwise.py, the aliasing rule of its docstring: output rows in
    # order, each row's input rows read before any of it is written, the
    # output written through its strides
    sharing=Sharing(kernel="kernels/depthwise.py", strided_output=True, rows=filter_rows,
                    rows_read_first=True),
    tflm_persistent=tflm_persistent, tflm_sharing=tflm_sharing,
    numerics={
        "builtin": Numerics(
            "the same int32 sums (DepthwiseConvGeneral on x86), then the per-channel "
            "optimized_ops::Quantize: channels in whole groups of 8 from channel 0 "
            "requantized half up, the last C % 8 as the reference (half away from zero)",
            functools.partial(prepare, numerics="builtin")),
        "xnnpack": Numerics(
            "the same int32 sums, requantized in float32 as CONV_2D (xnn_qs8_qc8w_dwconv "
            "fp32), clamped to XNNPACK's bounds; a channel scale >= 256 makes the default "
            "interpreter refuse the model",
            functools.partial(prepare, numerics="xnnpack"), delegated=delegated),
    },
    # kernels/depthwise.py depthwise_conv_2d_rows: any band of output rows,
    # its padding rows made in a band-sized padded image
    bands=Bands(kernel="kernels/depthwise.py", windows=filter_bands),
)
