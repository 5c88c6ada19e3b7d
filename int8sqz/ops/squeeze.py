"""SQUEEZE: the input without some (or all) of its dimensions of size 1.

Follows TFLite's ``squeeze.cc``: the input has at most 8 dimensions; without
``squeeze_dims`` every dimension of size 1 goes; otherwise each listed
dimension (negative ones count from the end, repeats allowed) must be in
range and of size 1. The option holds at most 8 entries (TFLite refuses the
model when it is parsed). Types and quantization are not checked by TFLite;
int8sqz requires the output's type to be the input's. The copy does nothing
when the output is the input's bytes (``Sharing.alias``).
"""

from ._movement import (
    RESHAPING_NUMERICS, RESHAPING_SHARING, check_max_rank, check_same_type, copy_node,
)
from ._tflm import temp_input_output
from .unit import CStruct, OperatorUnit, TflmAllocations, no_macs, no_tflm_sharing, version_1

MAX_DIMS = 8


def squeezed(shape, dims) -> list:
    """The squeezed dimensions, in order (no checks)."""
    rank = len(shape)
    if not dims:
        return [d for d in range(rank) if shape[d] == 1]
    return sorted({d + rank if d < 0 else d for d in dims})


def prepare(op, ctx):
    ctx.check_arity(op, 1)
    src, dst = op.inputs[0], op.outputs[0]
    check_same_type(ctx, op, src, dst)
    dims = [int(d) for d in op.options.get("squeeze_dims") or []]
    if len(dims) > MAX_DIMS:
        raise ctx.error(op, f"option squeeze_dims has {len(dims)} entries; TFLite reads at "
                        f"most {MAX_DIMS}")
    shape = check_max_rank(ctx, op, src, MAX_DIMS, "SQUEEZE")
    rank = len(shape)
    for d in dims:
        r = d + rank if d < 0 else d
        if not (0 <= r < rank and shape[r] == 1):
            raise ctx.error(
                op, f"squeeze_dims {dims}: dimension {d} of input shape {list(shape)} is not "
                f"a dimension of size 1"
            )
    gone = squeezed(shape, dims)
    ctx.set_output_shape(op, dst, tuple(n for d, n in enumerate(shape) if d not in gone))
    return ctx.fold(copy_node(op, src, dst, dict(squeezed=gone)))


def per_image(op, model, shapes) -> bool:
    """Image by image when the batch dimension stays; the dimensions must be
    listed (without them, an image alone would lose its batch dimension of
    1)."""
    shape = shapes[op.inputs[0]]
    dims = [int(d) for d in op.options.get("squeeze_dims") or []]
    return bool(shape) and bool(dims) and 0 not in squeezed(shape, dims)


#: TfLiteSqueezeParams (builtin_op_data.h): squeeze_dims[8], num_squeeze_dims
TFLM_PARAMS = CStruct("TfLiteSqueezeParams", (("int32", 8), "int32"), "builtin_op_data.h")


def tflm_persistent(op, model, shapes):
    """micro/kernels/squeeze.cc: no Init; SqueezePrepare's SqueezeContext
    takes input and output as temporary tensors; ParseSqueeze allocates
    TfLiteSqueezeParams."""
    return TflmAllocations("micro/kernels/squeeze.cc SqueezePrepare", TFLM_PARAMS, None,
                           temp_input_output(op))


UNIT = OperatorUnit(
    "SQUEEZE", prepare, options="SqueezeOptions", defaults={}, version=version_1,
    per_image=per_image, macs=no_macs,
    sharing=RESHAPING_SHARING, numerics=RESHAPING_NUMERICS,
    tflm_persistent=tflm_persistent, tflm_sharing=no_tflm_sharing,
)
