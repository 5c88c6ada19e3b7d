"""SHAPE: the input's dimensions as an int32 or int64 vector.

Follows TFLite's ``shape.cc``: ``out_type`` (ShapeOptions) must be INT32 or
INT64, else TFLite refuses the model (also when the options are missing);
TFLite sets the output's type from it, int8sqz requires the file to agree.
The input may be of any supported type; only its shape is read. The value
is known when the model is prepared (TFLite too computes it in Prepare): it
is recorded for the operators that compute shapes from it, and written into
the output when the model runs.
"""

import numpy as np

from ..model import TENSOR_TYPES
from .unit import (
    NO_SHARING, CStruct, Node, OperatorUnit, TflmAllocations, never_per_image, no_macs,
    no_tflm_sharing, not_delegated, same_as_reference, version_1,
)

_OUT_TYPES = {2: "INT32", 4: "INT64"}  # TensorType codes


def prepare(op, ctx):
    ctx.check_arity(op, 1)
    src, dst = op.inputs[0], op.outputs[0]
    code = op.options.get("out_type")
    out_type = _OUT_TYPES.get(code)
    if out_type is None:
        found = ("missing (no ShapeOptions)" if code is None
                 else TENSOR_TYPES.get(code, f"type code {code}"))
        raise ctx.error(op, f"out_type is {found}; TFLite's SHAPE gives INT32 or INT64 only")
    ctx.check_type(op, dst, (out_type,), "output")
    shape = tuple(ctx.shape(src))
    ctx.set_output_shape(op, dst, (len(shape),))
    value = np.array(shape, dtype=ctx.tensor(dst).dtype)
    ctx.set_value(dst, value)

    def run(t):
        t[dst][...] = value

    return Node(op, run, dict(kernel="copy of the input's shape", shape=shape))


#: TfLiteShapeParams (builtin_op_data.h): out_type
TFLM_PARAMS = CStruct("TfLiteShapeParams", ("enum",), "builtin_op_data.h")


def tflm_persistent(op, model, shapes):
    """micro/kernels/shape.cc: no Init; ShapePrepare only counts inputs and
    outputs; ParseShape allocates TfLiteShapeParams."""
    return TflmAllocations("micro/kernels/shape.cc ShapePrepare", TFLM_PARAMS)


UNIT = OperatorUnit(
    "SHAPE", prepare, options="ShapeOptions", defaults={"out_type": 2}, version=version_1,
    # the output is the shape of the whole batch
    per_image=never_per_image, macs=no_macs, sharing=NO_SHARING,
    numerics={
        "builtin": same_as_reference("the input's dimensions"),
        "xnnpack": not_delegated("not delegated: the input's dimensions"),
    },
    tflm_persistent=tflm_persistent, tflm_sharing=no_tflm_sharing,
)
