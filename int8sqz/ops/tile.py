"""TILE: the input repeated ``multiples[i]`` times along each dimension i.

Follows TFLite's ``tile.cc`` (``MultiplyShapeDims``, ``TileOneDimension``):
the output has the input's type (quantization is not checked); the
multiples tensor is int32 or int64 with one element per input dimension
(any shape); each multiple is >= 0 and each output dimension at most
INT32_MAX, else TFLite refuses the model; a scalar input is copied. The
multiples may be computed by earlier operators (known when int8sqz
prepares; in the SSD model of the zoo they come from a PACK). A huge output
is refused before anything is allocated (the interpreter's activation
limit).

The converter writes version 3 for int8 (``op_version.cc``), which neither
TFLite's reference registration nor TFLite Micro registers (they take 1 and
2, the same kernel); int8sqz runs every version.
"""

import math

from ._broadcast import c_strides
from ._movement import INT32_MAX, CopyPlan, check_same_type, int_values
from .unit import (
    NO_SHARING, Node, OperatorUnit, TflmAllocations, def_type, no_macs, no_tflm_sharing,
    not_delegated, same_as_reference,
)


def prepare(op, ctx):
    ctx.check_arity(op, 2)
    src, mult_t, dst = op.inputs[0], op.inputs[1], op.outputs[0]
    check_same_type(ctx, op, src, dst)
    ctx.check_type(op, mult_t, ("INT32", "INT64"), "multiples")
    shape = tuple(ctx.shape(src))
    rank = len(shape)
    n = math.prod(ctx.shape(mult_t))
    if n != rank:
        raise ctx.error(op, f"multiples {ctx.label(mult_t)} has {n} elements, expected one "
                        f"per input dimension ({rank})")
    multiples = int_values(ctx, op, mult_t, "multiples")
    for d, m in zip(shape, multiples):
        if m < 0:
            raise ctx.error(op, f"multiples {multiples}: {m} is negative; TFLite requires "
                            f"multiples >= 0")
        if d * m > INT32_MAX:
            raise ctx.error(op, f"multiples {multiples}: {d} x {m} is beyond INT32_MAX; TFLite "
                            f"refuses output dimensions beyond it")
    out_shape = tuple(d * m for d, m in zip(shape, multiples))
    ctx.set_output_shape(op, dst, out_shape)

    # output dimension i split in (multiple, input dimension): the input is
    # walked with stride 0 along the multiple
    out_strides = c_strides(out_shape)
    in_strides = c_strides(shape)
    nest, dst_strides, src_strides = [], [], []
    for d, m, so, si in zip(shape, multiples, out_strides, in_strides):
        nest += [m, d]
        dst_strides += [d * so, so]
        src_strides += [0, si]
    plan = CopyPlan(nest, dst_strides, src_strides, 0, 0, math.prod(out_shape),
                    math.prod(shape))

    def run(t):
        plan.run(t[dst], t[src])

    return ctx.fold(Node(op, run, dict(kernel="strided_copy", multiples=multiples)))


def version(op, tensors) -> int:
    """``op_version.cc`` for the types int8sqz runs: 3 for int8, else 1."""
    return 3 if def_type(op, tensors, 0) == "INT8" else 1


def per_image(op, model, shapes) -> bool:
    """Image by image when the batch is not repeated (a constant multiple
    of 1 for dimension 0)."""
    data = model.tensors[op.inputs[1]].data if op.inputs[1] >= 0 else None
    return (data is not None and data.size == len(shapes[op.inputs[0]]) > 0
            and int(data.reshape(-1)[0]) == 1)


def tflm_persistent(op, model, shapes):
    """tflite-micro has no TILE kernel (micro_mutable_op_resolver.h has no
    AddTile; python_ops_resolver.cc registers none): it refuses the model."""
    return TflmAllocations("no TILE kernel in tflite-micro", registered=False)


UNIT = OperatorUnit(
    "TILE", prepare, options="TileOptions", defaults={}, version=version,
    per_image=per_image, macs=no_macs, sharing=NO_SHARING,
    numerics={
        "builtin": same_as_reference("copies"),
        "xnnpack": not_delegated("not delegated: copies"),
    },
    tflm_persistent=tflm_persistent, tflm_sharing=no_tflm_sharing,
)
