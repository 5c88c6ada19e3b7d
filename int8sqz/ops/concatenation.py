"""CONCATENATION of 1..N tensors along one axis (negative axes count from
the end).

Follows TFLite's ``concatenation.cc`` (``Prepare``, then
``reference_ops::Concatenation`` or, for uint8, ``ConcatenationWithScaling``):

- int8: ``Prepare`` rejects the model unless every input has exactly the
  output's scale and zero point (float32 equality); the kernel copies.
- uint8: an input with the output's scale and zero point is copied; any
  other is rescaled element by element *in float32 at run time*:
  ``scale = in_scale * (1.0f / out_scale)``, ``bias = -in_zero_point * scale``
  (both float32, computed here), then ``round(x * scale + bias) + out_zp``
  clamped to 0..255 (``kernels.concat.rescale_uint8``).
- int32 and float32: copied.
- A fused activation other than NONE is rejected, as TFLite does.
- Rank-0 inputs are accepted only when all are constants and the axis is 0:
  the output is their values side by side, copied raw (no rescaling, no
  quantization check), as TFLite's constant-scalar path does.

Aliasing rule (for a memory planner): an input may share memory with the
output only if it is exactly its own slot of the output (same address and
strides); that input is then not copied. The output may be a strided view.
"""

import math

import numpy as np

from ..kernels import concat as k
from ._broadcast import c_strides, flat, loop_nest
from ._common import check_same_quantization, check_scale, check_zero_point
from ._common import legacy_quantization
from ._tflm import temp_inputs, temp_output, usable
from .unit import (
    AccessTrace, Bands, CStruct, Node, OperatorUnit, Sharing, TflmAllocations, int8_version,
    no_macs, row_band_windows, same_as_reference,
)

_TYPES = ("INT8", "UINT8", "INT32", "FLOAT32")


def prepare(op, ctx):
    inputs = tuple(op.inputs)
    dst = op.outputs[0] if len(op.outputs) == 1 else None
    if not inputs or dst is None:
        raise ctx.error(
            op, f"has {len(inputs)} inputs and {len(op.outputs)} outputs, expected at least "
            f"1 input and exactly 1 output"
        )
    for i, t in enumerate(inputs):
        if t < 0:
            raise ctx.error(op, f"input {i} is omitted, but it is required")
    first = inputs[0]
    type_name = ctx.check_type(op, first, _TYPES, "input 0")
    for i, t in enumerate(inputs[1:], 1):
        if ctx.tensor(t).type_name != type_name:
            raise ctx.error(
                op, f"input {i} {ctx.label(t)} has type {ctx.tensor(t).type_name}, expected "
                f"{type_name} like input 0"
            )
    if ctx.tensor(dst).type_name != type_name:
        raise ctx.error(
            op, f"output {ctx.label(dst)} has type {ctx.tensor(dst).type_name}, expected "
            f"{type_name} like the inputs"
        )
    activation = op.options.get("fused_activation_function", "NONE")
    if activation != "NONE":
        raise ctx.error(
            op, f"has fused activation {activation}; TFLite's CONCATENATION accepts only NONE"
        )
    shapes = [tuple(ctx.shape(t)) for t in inputs]
    rank = len(shapes[0])
    axis = int(op.options.get("axis", 0))
    given_axis = axis
    if axis < 0:
        axis += rank
    if not (axis >= 0 and (axis < rank or (rank == 0 and axis == 0))):
        raise ctx.error(
            op, f"axis {given_axis} is out of range for inputs of rank {rank}"
        )
    for i, (t, s) in enumerate(zip(inputs, shapes)):
        if len(s) != rank:
            raise ctx.error(
                op, f"input {i} {ctx.label(t)} has shape {list(s)}, expected rank {rank} "
                f"like input 0"
            )

    if rank == 0:
        if not all(ctx.tensor(t).is_constant for t in inputs):
            raise ctx.error(
                op, "its inputs are scalars (rank 0); TFLite concatenates scalars only when "
                "all of them are constants"
            )
        return _prepare_constant_scalars(op, ctx, inputs, dst)

    for i, (t, s) in enumerate(zip(inputs, shapes)):
        for d in range(rank):
            if d != axis and s[d] != shapes[0][d]:
                raise ctx.error(
                    op, f"input {i} {ctx.label(t)} has shape {list(s)}, expected "
                    f"{list(shapes[0])} in every dimension but axis {axis}"
                )
    out_shape = list(shapes[0])
    out_shape[axis] = sum(s[axis] for s in shapes)
    out_shape = tuple(out_shape)
    ctx.set_output_shape(op, dst, out_shape)

    if type_name in ("INT8", "UINT8"):
        # found by fuzzing: an output zero point of 2**31 (TFLite wraps it to
        # int32) gave 255 where TFLite gives 0; quantization parameters must
        # be valid wherever a tensor has them
        for role, t in [(f"input {i}", t) for i, t in enumerate(inputs)] + [("output", dst)]:
            if ctx.tensor(t).quantization.scales.size == 1:
                check_scale(ctx, op, t, role)
                check_zero_point(ctx, op, t, role)
    out_scale, out_zp = legacy_quantization(ctx.tensor(dst))
    if type_name == "INT8":
        for i, t in enumerate(inputs):
            check_same_quantization(ctx, op, t, f"input {i}", dst,
                                    "TFLite's int8 CONCATENATION does not rescale and rejects "
                                    "this")

    # one step per input: a slot of the output, and how to fill it
    steps = []
    offset = 0
    out_strides = c_strides(out_shape)
    with np.errstate(all="ignore"):
        inverse_out_scale = np.float32(1.0) / out_scale
    for t, s in zip(inputs, shapes):
        slot = (slice(None),) * axis + (slice(offset, offset + s[axis]),)
        start = offset * out_strides[axis]
        offset += s[axis]
        rescale = None
        if type_name == "UINT8":
            scale, zp = legacy_quantization(ctx.tensor(t))
            if not (zp == out_zp and scale == out_scale):
                with np.errstate(all="ignore"):
                    f_scale = np.float32(scale * inverse_out_scale)
                    f_bias = np.float32(np.float32(-zp) * f_scale)
                nest = loop_nest(s, [(s, out_strides), (s, c_strides(s))])
                rescale = (f_scale, f_bias, start, nest)
        steps.append((t, slot, rescale))

    def run(tensors):
        o = tensors[dst]
        for t, slot, rescale in steps:
            src = tensors[t]
            if rescale is None:
                view = o[slot]
                if not _same_memory(view, src):
                    view[...] = src
                continue
            f_scale, f_bias, start, (shape, strides) = rescale
            if o.flags.c_contiguous and src.flags.c_contiguous and o.shape == out_shape:
                k.rescale_uint8(o.reshape(-1)[start:], src.reshape(-1), shape, strides,
                                f_scale, f_bias, out_zp)
            else:
                (of, os), (sf, ss) = flat(o[slot]), flat(src)
                shape, strides = loop_nest(src.shape, [(src.shape, os), (src.shape, ss)])
                k.rescale_uint8(of, sf, shape, strides, f_scale, f_bias, out_zp)

    return Node(op, run, dict(kernel="copy / rescale_uint8", axis=axis, output_zero_point=out_zp,
                              rescaled=[(t, r[:2]) for t, _, r in steps if r is not None]))


def _same_memory(a, b) -> bool:
    return (a.strides == b.strides and a.shape == b.shape
            and a.__array_interface__["data"][0] == b.__array_interface__["data"][0])


def _prepare_constant_scalars(op, ctx, inputs, dst):
    """TFLite's path for constant scalars: the output is ``[len(inputs)]``,
    each value copied as it is."""
    ctx.set_output_shape(op, dst, (len(inputs),))
    values = np.array([ctx.tensor(t).data.reshape(()) for t in inputs],
                      dtype=ctx.tensor(dst).dtype)

    def run(tensors):
        tensors[dst][...] = values

    return Node(op, run, dict(kernel="copy", values=values))


def delegated(op, ctx) -> bool:
    """XNNPACK takes a CONCATENATION of 2 to 5 float32, int8 or uint8
    tensors, uint8 ones only when every input has the output's scale and
    zero point (``VisitConcatenationNode``; the uint8 rule measured)."""
    t = ctx.model.tensors
    ins = [t[i] for i in op.inputs]
    out = t[op.outputs[0]]
    if not 2 <= len(ins) <= 5 or any(x.type_name not in ("FLOAT32", "INT8", "UINT8")
                                      for x in ins + [out]):
        return False
    q = out.quantization
    return out.type_name != "UINT8" or all(
        x.quantization.scale == q.scale and x.quantization.zero_point == q.zero_point
        for x in ins)


def per_image(op, model, shapes) -> bool:
    """Image b of the output is image b of each input unless the inputs are
    joined along the batch axis."""
    out_rank = len(shapes[op.outputs[0]])
    return out_rank > 0 and int(op.options.get("axis", 0)) % out_rank != 0


def bands(op, model, shapes):
    """Streaming along the width or the channels (4-D, batch 1): output row
    y is row y of every input."""
    out = shapes[op.outputs[0]] if len(op.outputs) == 1 else ()
    if len(out) != 4 or int(op.options.get("axis", 0)) % 4 not in (2, 3):
        return None
    return row_band_windows(op, model, shapes)


#: TfLiteConcatenationParams (builtin_op_data.h): axis, activation
TFLM_PARAMS = CStruct("TfLiteConcatenationParams", ("int32", "enum"), "builtin_op_data.h")
#: OpData (micro/kernels/concatenation.cc): ConcatenationParams (types.h:
#: axis, zero point and scale pointers, count, output zero point and scale)
#: and the compression scratch indices of up to kMaxInputNum = 10 inputs
TFLM_OP_DATA = CStruct("OpData", (CStruct("ConcatenationParams", (
    "int32", "ptr", "ptr", "int32", "int32", "float")), ("int32", 10)),
    "micro/kernels/concatenation.cc, kernels/internal/types.h")


def tflm_persistent(op, model, shapes):
    """micro/kernels/concatenation.cc (ConcatenationInit: OpData;
    ConcatenationPrepare: input 0 and the output as temporary tensors, then
    every input again, one by one)."""
    return TflmAllocations(
        "micro/kernels/concatenation.cc ConcatenationInit, ConcatenationPrepare",
        TFLM_PARAMS, TFLM_OP_DATA,
        temp_inputs(op, 0) + temp_output(op) + temp_inputs(op, *range(len(op.inputs))))


def tflm_sharing(op, k, model, shapes):
    """CONCATENATION (concatenation.cc -> reference_ops::Concatenation): for
    each outer index, for each input in order, one memcpy of that input's
    block to the output's next bytes. So an input may lie in the part of
    the output that is written after its last block is read (input j of a
    channel concatenation in the output's tail)."""
    if not usable(op, k, model, shapes):
        return None
    dst = op.outputs[0]
    rank = len(shapes[dst])
    axis = int(op.options.get("axis", 0))
    axis = axis + rank if axis < 0 else axis
    ins = list(op.inputs)
    if not 0 <= axis < rank or any(i < 0 or len(shapes[i]) != rank for i in ins):
        return None
    outer = math.prod(shapes[dst][:axis])
    inner = math.prod(shapes[dst][axis + 1:])
    blocks = [shapes[i][axis] * inner for i in ins]
    size = model.tensors[dst].dtype.itemsize
    total = sum(blocks)
    if total != shapes[dst][axis] * inner or any(
            model.tensors[i].dtype is None or model.tensors[i].dtype.itemsize != size
            for i in ins):
        return None
    starts = np.cumsum([0] + blocks[:-1])
    o = np.arange(outer).reshape(outer, 1)
    write = ((o * total + starts + np.array(blocks)) * size).reshape(-1)
    read = np.full((outer, len(ins)), math.inf)
    read[:, k] = np.arange(outer) * blocks[k] * size
    return AccessTrace(read.reshape(-1), write, False,
                       "CONCATENATION: one memcpy per input block, inputs in order")


UNIT = OperatorUnit(
    "CONCATENATION", prepare, options="ConcatenationOptions",
    defaults={"fused_activation_function": "NONE"}, version=int8_version,
    per_image=per_image, macs=no_macs,
    # the module docstring: an input that is exactly its own slot of the
    # output is not copied
    sharing=Sharing(kernel="int8sqz/ops/concatenation.py", output_slices=True),
    numerics={
        "builtin": same_as_reference("optimized_ops::Concatenation: copies (uint8 inputs "
                                     "quantized unlike the output rescaled as the reference)"),
        "xnnpack": same_as_reference("copies, delegated or not", delegated=delegated),
    },
    tflm_persistent=tflm_persistent, tflm_sharing=tflm_sharing,
    # run() on views of a band's rows: each input's slot of those rows
    bands=Bands(kernel="int8sqz/ops/concatenation.py", windows=bands, views=True),
)
