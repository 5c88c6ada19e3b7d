"""PACK: ``values_count`` tensors of one shape stacked along a new axis.

Follows TFLite's ``pack.cc`` and ``reference_ops::Pack``: the operator has
exactly ``values_count`` inputs (at least one) and one output; the axis
counts from the end of the output when negative and lies in 0..rank; every
input has input 0's shape and type, the output that type, and every input
the output's per-tensor scale and zero point (TFLite's legacy ``params``:
for int8 and uint8 the quantization must be equal; unquantized int32 and
float32 tensors have 0 and 0). Inputs may be scalars (the int32 shape
arithmetic of converted models: SHAPE -> STRIDED_SLICE -> PACK). When every
input is known at prepare time, so is the output (recorded for RESHAPE and
the like).
"""

import math

from ._broadcast import c_strides
from ._common import check_same_quantization
from ._movement import CopyPlan, check_same_type
from .unit import (
    NO_SHARING, CStruct, Node, OperatorUnit, TflmAllocations, int8_version, no_macs,
    no_tflm_sharing, not_delegated, same_as_reference,
)


def prepare(op, ctx):
    count = int(op.options.get("values_count", 0))
    if len(op.inputs) != count or count < 1:
        raise ctx.error(op, f"has {len(op.inputs)} inputs and values_count {count}, expected "
                        f"values_count inputs, at least 1")
    ctx.check_arity(op, count)
    src0, dst = op.inputs[0], op.outputs[0]
    type_name = check_same_type(ctx, op, src0, dst, "input 0")
    shape = tuple(ctx.shape(src0))
    rank = len(shape)
    given = int(op.options.get("axis", 0))
    axis = given + rank + 1 if given < 0 else given
    if not 0 <= axis <= rank:
        raise ctx.error(op, f"axis {given} is out of range for inputs of rank {rank}, expected "
                        f"a value in {-rank - 1}..{rank}")
    for k, i in enumerate(op.inputs):
        if tuple(ctx.shape(i)) != shape:
            raise ctx.error(op, f"input {k} {ctx.label(i)} has shape {list(ctx.shape(i))}, "
                            f"expected {list(shape)} like input 0")
        ctx.check_type(op, i, (type_name,), f"input {k}")
        check_same_quantization(ctx, op, i, f"input {k}", dst, "TFLite requires them equal")
    out_shape = shape[:axis] + (count,) + shape[axis:]
    ctx.set_output_shape(op, dst, out_shape)

    # input k fills out[..., k, ...]: its own C order, the output's strides
    # without the new axis, from k times the new axis's stride
    out_strides = c_strides(out_shape)
    strides = out_strides[:axis] + out_strides[axis + 1:]
    size = math.prod(out_shape)
    plans = [(i, CopyPlan(shape, strides, c_strides(shape), k * out_strides[axis], 0, size,
                          math.prod(shape)))
             for k, i in enumerate(op.inputs)]

    def run(t):
        out = t[dst]
        for i, plan in plans:
            plan.run(out, t[i])

    return ctx.fold(Node(op, run, dict(kernel="strided_copy", axis=axis, count=count)))


def per_image(op, model, shapes) -> bool:
    """Image by image when the new axis is not the batch and every input is
    an activation (a constant is the whole batch's)."""
    rank = len(shapes[op.inputs[0]])
    axis = int(op.options.get("axis", 0))
    axis = axis + rank + 1 if axis < 0 else axis
    return axis > 0 and all(not model.tensors[i].is_constant for i in op.inputs)


#: TfLitePackParams (builtin_op_data.h): values_count, axis
TFLM_PARAMS = CStruct("TfLitePackParams", ("int32", "int32"), "builtin_op_data.h")


def tflm_persistent(op, model, shapes):
    """micro/kernels/pack.cc: no Init, no Prepare; ParsePack allocates
    TfLitePackParams."""
    return TflmAllocations("micro/kernels/pack.cc (Eval only)", TFLM_PARAMS)


UNIT = OperatorUnit(
    "PACK", prepare, options="PackOptions", defaults={"axis": 0}, version=int8_version,
    per_image=per_image, macs=no_macs, sharing=NO_SHARING,
    numerics={
        "builtin": same_as_reference("copies"),
        "xnnpack": not_delegated("not delegated: copies"),
    },
    tflm_persistent=tflm_persistent, tflm_sharing=no_tflm_sharing,
)
