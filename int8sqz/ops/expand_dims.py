"""EXPAND_DIMS: the input with a dimension of size 1 inserted.

Follows TFLite's ``expand_dims.cc``: the axis tensor holds one int32 or
int64 value; a negative axis counts from the end of the output (``axis +
rank + 1``); it must then lie in 0..rank. The input and output must have
the same per-tensor scale and zero point (TFLite's legacy ``params``). The
axis may be computed by earlier operators (known when int8sqz prepares).
TFLite gives the output the input's type; int8sqz requires the file to say
so. The copy does nothing when the output is the input's bytes
(``Sharing.alias``).
"""

import numpy as np

from ._common import check_same_quantization
from ._movement import (
    RESHAPING_NUMERICS, RESHAPING_SHARING, check_same_type, copy_node, int_values,
)
from ._tflm import temp_inputs, temp_output
from .unit import OperatorUnit, TflmAllocations, no_macs, no_tflm_sharing, version_1


def resolve_axis(axis: int, rank: int) -> int:
    return axis + rank + 1 if axis < 0 else axis


def prepare(op, ctx):
    ctx.check_arity(op, 2)
    src, axis_t, dst = op.inputs[0], op.inputs[1], op.outputs[0]
    check_same_type(ctx, op, src, dst)
    check_same_quantization(ctx, op, src, "input", dst, "TFLite requires them equal")
    ctx.check_type(op, axis_t, ("INT32", "INT64"), "axis")
    n = int(np.prod(ctx.shape(axis_t), dtype=np.int64))
    if n != 1:
        raise ctx.error(op, f"axis {ctx.label(axis_t)} has {n} elements, expected 1")
    shape = tuple(ctx.shape(src))
    rank = len(shape)
    given = int_values(ctx, op, axis_t, "axis")[0]
    axis = resolve_axis(given, rank)
    if not 0 <= axis <= rank:
        raise ctx.error(op, f"axis {given} is out of range for input of rank {rank}, "
                        f"expected a value in {-rank - 1}..{rank}")
    ctx.set_output_shape(op, dst, shape[:axis] + (1,) + shape[axis:])
    return ctx.fold(copy_node(op, src, dst, dict(axis=axis)))


def per_image(op, model, shapes) -> bool:
    """Image by image unless the new dimension goes before the batch."""
    data = model.tensors[op.inputs[1]].data if op.inputs[1] >= 0 else None
    if data is None or data.size != 1:
        return False
    return resolve_axis(int(data.reshape(-1)[0]), len(shapes[op.inputs[0]])) > 0


def tflm_persistent(op, model, shapes):
    """micro/kernels/expand_dims.cc: no Init; ExpandDimsPrepare takes input,
    axis and output as temporary tensors; ParseExpandDims allocates
    nothing."""
    return TflmAllocations("micro/kernels/expand_dims.cc ExpandDimsPrepare", None, None,
                           temp_inputs(op, 0, 1) + temp_output(op))


UNIT = OperatorUnit(
    "EXPAND_DIMS", prepare, options="ExpandDimsOptions", defaults={}, version=version_1,
    per_image=per_image, macs=no_macs,
    sharing=RESHAPING_SHARING, numerics=RESHAPING_NUMERICS,
    tflm_persistent=tflm_persistent, tflm_sharing=no_tflm_sharing,
)
