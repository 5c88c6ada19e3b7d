"""Facts about TFLite builtins int8sqz does not run, for ``int8sqz memplan``
(which plans any valid model) and for the model writer (which writes any
builtin): their options table, their multiply-accumulates, the scratch
buffers TFLite Micro's kernels request, what those kernels allocate in the
arena (``tflm_persistent``) and the order in which they read and write
(``tflm_sharing``), as int8sqz.ops.unit describes them. An operator that
gains a unit (int8sqz/ops/<op>.py) leaves this module with its facts."""

from __future__ import annotations

import math

import numpy as np

from ._tflm import OP_DATA_CONV, temp_inputs, temp_output, usable, window_trace
from .mean import tflm_persistent as _mean_persistent
from .mean import tflm_scratch as _mean_scratch
from .reduce_max import tflm_persistent as _max_persistent
from .reduce_max import tflm_scratch as _max_scratch
from .unit import AccessTrace, CStruct, PersistentBuffer, TflmAllocations

#: options tables whose name does not follow from the operator's name
#: (``FULLY_CONNECTED`` -> ``FullyConnectedOptions`` does)
OPTIONS = {
    "SUM": "ReducerOptions",
    "REDUCE_MIN": "ReducerOptions",
    "REDUCE_PROD": "ReducerOptions",
    "REDUCE_ANY": "ReducerOptions",
    "L2_POOL_2D": "Pool2DOptions",
    "DEPTHWISE_CONV_2D": "DepthwiseConv2DOptions",
}


def macs(op, shapes) -> int:
    """DEPTHWISE_CONV_2D: output elements x filter height x width;
    TRANSPOSE_CONV: input elements x filter height x width x output channels;
    FULLY_CONNECTED: output elements x input depth; BATCH_MATMUL: output
    elements x reduced depth; every other operator 0."""
    def n(i):
        return math.prod(shapes[i]) if i >= 0 else 0

    out = op.outputs[0] if op.outputs else -1
    try:
        if op.name == "DEPTHWISE_CONV_2D":
            f = shapes[op.inputs[1]]
            return n(out) * f[1] * f[2]
        if op.name == "TRANSPOSE_CONV":
            f = shapes[op.inputs[1]]
            return n(op.inputs[2]) * f[0] * f[1] * f[2]
        if op.name == "FULLY_CONNECTED":
            return n(out) * shapes[op.inputs[1]][-1]
        if op.name == "BATCH_MATMUL":
            a = shapes[op.inputs[0]]
            depth = a[-2] if op.options.get("adj_x") else a[-1]
            return n(out) * depth
    except (IndexError, TypeError):
        return 0
    return 0


def tflm_scratch(op, model, shapes) -> list:
    """TFLite Micro's ``reduce_common.cc``: SUM asks what MEAN asks,
    REDUCE_MIN what REDUCE_MAX asks. The kernels of the other operators ask
    for none."""
    if op.name == "SUM":
        return _mean_scratch(op, model, shapes)
    if op.name == "REDUCE_MIN":
        return _max_scratch(op, model, shapes)
    return []


# -- TFLite Micro's kernels -------------------------------------------------------------

#: TfLiteDepthwiseConvParams (builtin_op_data.h): padding, strides,
#: depth_multiplier, activation, dilations
DEPTHWISE_PARAMS = CStruct("TfLiteDepthwiseConvParams", ("enum", "int32", "int32", "int32",
                                                         "enum", "int32", "int32"),
                           "builtin_op_data.h")
#: TfLiteFullyConnectedParams (builtin_op_data.h at 90b983c2: activation,
#: weights_format, keep_num_dims, asymmetric_quantize_inputs,
#: quantized_bias_type: 16 bytes). The installed tflite_micro package
#: allocates 32 bytes at 8-byte alignment for it: its sources are newer than
#: the ones read and the struct has grown (measured in
#: tests/engine/test_tflm_arena.py: chains of 1 to 6 FULLY_CONNECTED need
#: exactly 32-byte structs, and one after a CONV_2D's 28-byte struct is
#: 8-aligned)
FULLY_CONNECTED_PARAMS = CStruct("TfLiteFullyConnectedParams",
                                 ("enum", "enum", "bool", "bool", "enum"),
                                 "builtin_op_data.h", measured=(32, 8))
#: OpDataFullyConnected (micro/kernels/fully_connected.h): multiplier,
#: shift, activation range, quantized input index, three zero points, the
#: filter buffer index, the per-channel arrays' pointers, is_per_channel, the
#: two compression scratch indices
FULLY_CONNECTED_OP_DATA = CStruct("OpDataFullyConnected", ("int32",) * 9 + ("ptr", "ptr", "bool")
                                  + ("int32", "int32"), "micro/kernels/fully_connected.h")


def _depthwise_persistent(op, model, shapes):
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


def _fully_connected_persistent(op, model, shapes):
    """micro/kernels/fully_connected.cc: FullyConnectedInit allocates
    OpDataFullyConnected; FullyConnectedPrepare takes input, filter, bias
    and output as temporary tensors, and CalculateOpDataFullyConnected
    (fully_connected_common.cc) allocates per-channel multipliers and
    shifts (int32, one per filter scale) when the input is quantized and
    the filter has several scales."""
    extra = ()
    if len(op.inputs) > 1 and op.inputs[0] >= 0 and op.inputs[1] >= 0 and \
            model.tensors[op.inputs[0]].type_name != "FLOAT32":
        scales = model.tensors[op.inputs[1]].quantization.scales.size
        if scales > 1:
            extra = (PersistentBuffer(4 * scales), PersistentBuffer(4 * scales))
    return TflmAllocations(
        "micro/kernels/fully_connected.cc FullyConnectedInit, FullyConnectedPrepare, "
        "fully_connected_common.cc CalculateOpDataFullyConnected",
        FULLY_CONNECTED_PARAMS, FULLY_CONNECTED_OP_DATA,
        temp_inputs(op, 0, 1, 2) + temp_output(op) + extra)


def tflm_persistent(op, model, shapes):
    """TFLite Micro's allocations for DEPTHWISE_CONV_2D and FULLY_CONNECTED;
    SUM is prepared as MEAN, REDUCE_MIN as REDUCE_MAX (reduce.cc). None for
    every other operator: not known."""
    if op.name == "DEPTHWISE_CONV_2D":
        return _depthwise_persistent(op, model, shapes)
    if op.name == "FULLY_CONNECTED":
        return _fully_connected_persistent(op, model, shapes)
    if op.name == "SUM":
        return _mean_persistent(op, model, shapes)
    if op.name == "REDUCE_MIN":
        return _max_persistent(op, model, shapes)
    return None


def _depthwise_sharing(op, k, model, shapes):
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


def _fully_connected_sharing(op, k, model, shapes):
    """FULLY_CONNECTED int8 (fully_connected.cc ->
    reference_integer_ops::FullyConnected[PerChannel]): for batch row b,
    for output channel: the whole input row b read, then one element
    written. With one batch row only the last output element may overlap
    the input."""
    if k != 0 or len(op.inputs) < 2 or op.inputs[1] < 0 or not usable(op, k, model, shapes) or \
            model.tensors[op.inputs[0]].type_name != "INT8":
        return None
    src, dst = op.inputs[0], op.outputs[0]
    depth = shapes[op.inputs[1]][-1] if shapes[op.inputs[1]] else 0
    count = math.prod(shapes[src])
    out_depth = shapes[dst][-1] if shapes[dst] else 1
    if depth <= 0 or count % depth or math.prod(shapes[dst]) != (count // depth) * out_depth:
        return None
    batches = count // depth
    b = np.repeat(np.arange(batches), out_depth)
    read = (b * depth * model.tensors[src].dtype.itemsize).astype(np.float64)
    write = (np.arange(batches * out_depth) + 1) * model.tensors[dst].dtype.itemsize
    return AccessTrace(read, write, True,
                       "FULLY_CONNECTED: input row read, then one element written")


def tflm_sharing(op, k, model, shapes):
    """The TFLite Micro sharing rules of DEPTHWISE_CONV_2D and
    FULLY_CONNECTED; None (no overlap) for every other operator."""
    if op.name == "DEPTHWISE_CONV_2D":
        return _depthwise_sharing(op, k, model, shapes)
    if op.name == "FULLY_CONNECTED":
        return _fully_connected_sharing(op, k, model, shapes)
    return None
