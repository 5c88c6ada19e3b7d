"""FULLY_CONNECTED: int8 input, weights and output (weights per tensor or
per output channel) or uint8 throughout (per tensor), optional int32 bias,
``keep_num_dims``, any number of rows, as TFLite's reference kernels
compute it (``kReference``: ``reference_integer_ops::FullyConnected`` /
``FullyConnectedPerChannel``, ``reference_ops::FullyConnected`` for uint8).

The reference kernels of the installed ai-edge-litert rescale each
accumulator in double precision, ``round(double(acc) * double(input_scale)
* double(filter_scale) / double(output_scale))``, not with
``MultiplyByQuantizedMultiplier``: the two differ by one now and then
(measured), and int8sqz follows the reference (kernels/fully_connected.py).
TFLite Micro's kernel uses the fixed-point multiplier, so its outputs can
differ from the reference by one.

Prepare follows TFLite's ``fully_connected.cc`` (measured against the
installed ai-edge-litert where the sources differ):

* ``weights_format`` DEFAULT only (the shuffled format is uint8 x uint8 ->
  int16, a type int8sqz does not run);
* fused activation NONE, RELU, RELU_N1_TO_1 or RELU6 (TFLite refuses the
  others here);
* 2 inputs, or 3 with the bias omitted (-1) or an int32 bias with one
  value per output unit (any shape);
* the weights [units, K]; the input is flattened and cut into
  ``input elements // K`` rows of K (elements past the last whole row are
  not read); with ``keep_num_dims`` the input's last dimension must be K
  and the output keeps the input's other dimensions, else the output is
  [rows, units]; weights with K = 0 give an output of zeros (TFLite then
  prepares nothing else, its activation range stays [0, 0]);
* per-channel weights (more than one scale) only for int8 input; their
  zero points are not read. Per-tensor weights keep their zero point, and
  with a bias TFLite requires ``|float(input_scale * filter_scale) -
  bias_scale| / output_scale <= 0.02``;
* ``asymmetric_quantize_inputs`` concerns float inputs only (measured: no
  effect on int8).
"""

import functools
import math

import numpy as np

from ..kernels import fully_connected as k
from ._common import check_scale, check_zero_point, flat, fused_activation_range
from ._numerics import sums_requantization
from ._quant import per_channel_quantization
from ._tflm import temp_inputs, temp_output, usable
from .unit import (
    NO_SHARING, AccessTrace, CStruct, Node, Numerics, OperatorUnit, PersistentBuffer,
    TflmAllocations, constant_second_input, def_type,
)

#: the activations TFLite's quantized FULLY_CONNECTED accepts
ACTIVATIONS = ("NONE", "RELU", "RELU_N1_TO_1", "RELU6")
_TYPES = {"INT8": (128, 0), "UINT8": (0, -128)}  # type -> (input shift, weight shift)


#: the ``sums`` argument of the rescaling kernel: nothing to store
NO_SUMS = np.zeros((0, 0), np.int32)


def prepare(op, ctx, numerics: str = "reference"):
    """The reference's FULLY_CONNECTED, or (``numerics``, int8 with
    symmetric weights) the sums requantized as the optimized builtin kernel
    ("builtin") or XNNPACK ("xnnpack") does."""
    src, flt, bias_index, dst, type_name = _check_tensors(op, ctx)
    units, depth = ctx.shape(flt)
    in_shape = ctx.shape(src)
    keep = bool(op.options.get("keep_num_dims", False))
    if keep and len(in_shape) == 0:
        raise ctx.unsupported(op, "keep_num_dims with a scalar input (TFLite reads "
                                  "the dimension before the first)")
    if depth == 0:
        # TFLite's Prepare returns before anything else: the activation range
        # stays [0, 0] and every output is 0
        rows = math.prod(in_shape[:-1]) if len(in_shape) > 0 else 1
        out_shape = tuple(in_shape[:-1]) + (units,) if keep else (rows, units)
        ctx.set_output_shape(op, dst, out_shape)

        def run_zero(t):
            flat(t[dst])[:] = 0
        return Node(op, run_zero, dict(kernel="fill 0 (K = 0)"))

    rows = math.prod(in_shape) // depth
    if keep:
        if in_shape[-1] != depth:
            raise ctx.error(
                op, f"input {ctx.label(src)} has shape {list(in_shape)}; with keep_num_dims "
                f"its last dimension must be the weights' depth {depth}"
            )
        out_shape = tuple(in_shape[:-1]) + (units,)
    else:
        out_shape = (rows, units)
    bias = _bias(op, ctx, bias_index, units) if bias_index is not None else None
    scale, weight_zp, in_zp, out_zp, act_min, act_max = _quantization(
        op, ctx, src, flt, bias_index, dst, type_name, units)
    ctx.set_output_shape(op, dst, out_shape)

    input_shift, weight_shift = _TYPES[type_name]
    c = k.constants(np.asarray(ctx.constant(op, flt, "weights")), bias, input_shift, in_zp,
                    weight_shift, weight_zp)
    layout = k.layout(rows, depth, units, input_shift, c.row_weight, out_zp, act_min, act_max)
    info = dict(kernel="fully_connected", rows=rows, depth=depth, units=units,
                effective_scale=scale, input_zero_point=in_zp, weight_zero_point=weight_zp,
                output_zero_point=out_zp, act_min=act_min, act_max=act_max,
                folded_bias=c.bias, params=layout.params)
    if rows * units == 0:
        return Node(op, lambda t: None, info)
    a, acc, rowsum = layout.scratch()
    fields = tuple(layout.params)
    wp, folded = c.wp, c.bias
    used = rows * depth
    kernel = k.fully_connected
    requantize, sums = None, NO_SUMS
    if numerics != "reference":
        if type_name != "INT8" or weight_zp != 0:
            raise ctx.unsupported(
                op, f"a {type_name} FULLY_CONNECTED with weight zero point {weight_zp} under "
                f"numerics {numerics!r}: what that runtime computes for it is not modelled")
        if numerics == "xnnpack" and math.prod(in_shape) % depth:
            raise ctx.error(
                op, f"under numerics 'xnnpack': the input's {math.prod(in_shape)} elements are "
                f"not rows of {depth}; XNNPACK fails to reshape the operator and TFLite's "
                f"default interpreter refuses the model (measured)")
        # ruy, the custom GEMV and XNNPACK requantize with the multipliers of
        # the convolutions (kernel_util.cc), not the reference's double scale
        q = per_channel_quantization(ctx, op, src, flt, dst, units, type_name)
        requantize, extra = sums_requantization(op, ctx, numerics, q, src, flt, dst, units,
                                                type_name)
        info.update(extra)
        sums = np.zeros((rows, units), np.int32)

    def run(t):
        x = flat(t[src])[:used].reshape(rows, depth)
        out = flat(t[dst]).reshape(rows, units)
        kernel(x, out, wp, folded, scale, fields, a, acc, rowsum, sums)
        if requantize is not None:
            requantize(sums, out)

    return Node(op, run, info)


def _check_tensors(op, ctx):
    """``(input, weights, bias or None, output, type name)``."""
    fmt = op.options.get("weights_format", 0)
    if fmt not in (0, "DEFAULT"):
        raise ctx.unsupported(
            op, f"weights_format {fmt!r} (shuffled weights, uint8 x uint8 -> int16), expected "
            f"DEFAULT"
        )
    ctx.check_arity(op, (2, 3))
    src, flt, dst = op.inputs[0], op.inputs[1], op.outputs[0]
    bias_index = op.inputs[2] if len(op.inputs) == 3 and op.inputs[2] >= 0 else None
    activation = op.options.get("fused_activation_function", "NONE")
    if activation not in ACTIVATIONS:
        raise ctx.error(
            op, f"fused activation {activation}, expected one of {', '.join(ACTIVATIONS)} "
            f"(TFLite's quantized FULLY_CONNECTED refuses the others)"
        )
    type_name = ctx.check_type(op, src, tuple(_TYPES), "input")
    ctx.check_type(op, flt, (type_name,), "weights")
    ctx.check_type(op, dst, (type_name,), "output")
    if bias_index is not None:
        ctx.check_type(op, bias_index, ("INT32",), "bias")
    ctx.check_rank(op, flt, (2,), "weights")
    return src, flt, bias_index, dst, type_name


def _bias(op, ctx, index: int, units: int):
    n = math.prod(ctx.shape(index))
    if n != units:
        raise ctx.error(
            op, f"bias {ctx.label(index)} has {n} elements, expected one per output unit "
            f"({units})"
        )
    return np.asarray(ctx.constant(op, index, "bias"), np.int64).reshape(-1)


def _legacy_scale(tensor) -> float:
    """TFLite's per-tensor ``params.scale``: the scale when there is exactly
    one (and one zero point), else 0."""
    q = tensor.quantization
    return float(q.scales[0]) if q.scales.size == 1 and q.zero_points.size == 1 else 0.0


def _quantization(op, ctx, src, flt, bias_index, dst, type_name, units):
    """``(effective scale per unit (float64), weights zero point that counts,
    input zero point, output zero point, act_min, act_max)``."""
    in_scale = check_scale(ctx, op, src, "input")
    in_zp = check_zero_point(ctx, op, src, "input")
    out_scale = check_scale(ctx, op, dst, "output")
    out_zp = check_zero_point(ctx, op, dst, "output")
    fq = ctx.tensor(flt).quantization
    if fq.scales.size == 0:
        raise ctx.error(op, f"weights {ctx.label(flt)} are not quantized, expected scales")
    per_channel = fq.scales.size > 1
    if per_channel:
        if type_name != "INT8":
            raise ctx.error(
                op, f"weights {ctx.label(flt)} have {fq.scales.size} scales (per channel), "
                f"which TFLite allows for int8 input only, not {type_name}"
            )
        if fq.quantized_dimension != 0 or fq.scales.size != units:
            raise ctx.unsupported(
                op, f"weights {ctx.label(flt)} quantized along dimension "
                f"{fq.quantized_dimension} ({fq.scales.size} scales), expected one scale per "
                f"output unit (dimension 0)"
            )
        weight_zp = 0  # the per-channel kernel does not read them
    else:
        weight_zp = check_zero_point(ctx, op, flt, "weights")
    f_scales = np.broadcast_to(fq.scales, (units,))
    for c, fs in enumerate(f_scales.tolist()):
        if not (math.isfinite(fs) and fs >= 0):
            raise ctx.error(
                op, f"weights {ctx.label(flt)} have scale {fs} for output unit {c}, expected "
                f"a finite non-negative number"
            )
    if not per_channel and bias_index is not None:
        # GetQuantizedConvolutionMultipler: the product in float32, then double
        product = float(np.float32(in_scale) * np.float32(fq.scales[0]))
        diff = abs(product - _legacy_scale(ctx.tensor(bias_index)))
        if not diff / out_scale <= 0.02:
            raise ctx.error(
                op, f"bias {ctx.label(bias_index)} has scale "
                f"{_legacy_scale(ctx.tensor(bias_index))!r}, expected input scale x weights "
                f"scale ({product!r}) within 0.02 output scales ({out_scale!r}); TFLite "
                f"refuses it"
            )
    # double(float) * double(float) / double(float), as the reference kernel
    scale = np.array([in_scale * fs / out_scale for fs in f_scales.tolist()], np.float64)
    act_min, act_max = fused_activation_range(op, ctx, out_scale, out_zp, type_name)
    return scale, weight_zp, in_zp, out_zp, act_min, act_max


def version(op, tensors) -> int:
    """``op_version.cc``, FULLY_CONNECTED (sparse weights, version 8, are
    not described by the writer)."""
    kinds = (def_type(op, tensors, 0), def_type(op, tensors, 1), def_type(op, tensors, 0, True))
    opts = op.options
    per_channel = (op.inputs[1] >= 0 and tensors[op.inputs[1]].scales is not None
                   and len(tensors[op.inputs[1]].scales) > 1)
    if kinds == ("INT16", "INT4", "INT16"):
        return 13
    if kinds == ("FLOAT32", "INT8", "FLOAT32") and per_channel:
        return 12
    if kinds == ("INT16", "INT8", "INT16") and opts.get("quantized_bias_type"):
        return 11
    if kinds == ("INT16", "INT16", "INT16"):
        return 7
    if len(op.inputs) == 2:
        return 6
    if opts.get("keep_num_dims"):
        return 5
    if kinds == ("INT8", "INT8", "INT8"):
        return 4
    if kinds == ("INT8", "INT4", "INT8"):
        return 10
    if kinds == ("FLOAT32", "INT8", "FLOAT32"):
        return 9 if opts.get("asymmetric_quantize_inputs") else 3
    if opts.get("weights_format") in (1, "SHUFFLED4x16INT8"):
        return 2
    return 1


def per_image(op, model, shapes) -> bool:
    """Image b of the output is computed from image b of the input when the
    rows do not cross images: with keep_num_dims, or when one image is one
    row of K."""
    if len(op.inputs) < 2 or op.inputs[1] < 0 or len(shapes[op.inputs[1]]) != 2:
        return False
    x = shapes[op.inputs[0]]
    depth = shapes[op.inputs[1]][1]
    if len(x) < 2 or depth == 0:
        return False
    return bool(op.options.get("keep_num_dims", False)) or math.prod(x[1:]) == depth


def macs(op, shapes) -> int:
    """Output elements x the weights' depth K."""
    if len(op.inputs) < 2 or op.inputs[1] < 0 or len(shapes[op.inputs[1]]) < 1:
        return 0
    return math.prod(shapes[op.outputs[0]]) * shapes[op.inputs[1]][-1]


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



def tflm_persistent(op, model, shapes):
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


def tflm_sharing(op, k, model, shapes):
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


UNIT = OperatorUnit(
    "FULLY_CONNECTED", prepare, options="FullyConnectedOptions",
    defaults={"fused_activation_function": "NONE", "keep_num_dims": False,
              "weights_format": 0, "asymmetric_quantize_inputs": False},
    version=version, per_image=per_image, macs=macs,
    # the kernel reads the input a block of rows at a time, after writing the
    # previous block's outputs: no sharing is stated
    sharing=NO_SHARING, tflm_persistent=tflm_persistent, tflm_sharing=tflm_sharing,
    numerics={
        "builtin": Numerics(
            "int8: the same int32 sums (ruy, or the custom GEMV for one row), every unit "
            "requantized half up with the convolutions' multipliers (the reference rescales "
            "in double precision); uint8 and weights with a zero point are not modelled",
            functools.partial(prepare, numerics="builtin")),
        "xnnpack": Numerics(
            "int8 with constant weights: the same int32 sums requantized in float32 as "
            "CONV_2D (xnn_create_fully_connected_nc_qs8/qc8w), XNNPACK's bounds; a scale >= "
            "256 makes the default interpreter refuse the model",
            functools.partial(prepare, numerics="xnnpack"),
            delegated=constant_second_input),
    },
)
