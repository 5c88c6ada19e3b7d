"""REDUCE_MAX of int8, uint8, int32 or float32 over a constant set of axes.

Follows TFLite's ``reduce.cc`` as registered by ``Register_REDUCE_MAX_REF``
(``PrepareSimple`` + ``EvalGeneric<kReference, kMax>``): the axes resolve
as MEAN's (negative from the end, repeats dropped, a scalar ignores them),
the output shape drops or keeps (``keep_dims``) the reduced dimensions, and
the stored values are compared, no requantization: an 8-bit input must have
the output's scale and zero point exactly (TFLite checks this when it runs;
int8sqz when it prepares). The two evaluation paths of the reference (every
axis reduced, or not) are kept apart for float32: see
``kernels/reduce.py`` ``reduce_max``.
"""

import math

import numpy as np

from ..kernels import reduce as k
from ._common import flat
from ._tflm import temp_inputs, temp_output
from .mean import OP_DATA_REDUCE, REDUCER_PARAMS, per_image, prepare_simple_temps, reduction
from .unit import (
    NO_SHARING, Node, OperatorUnit, TflmAllocations, always, int8_version, no_macs,
    no_tflm_sharing, same_as_reference,
)

TYPES = ("INT8", "UINT8", "INT32", "FLOAT32")
_LOWEST = {"INT8": np.int8(-128), "UINT8": np.uint8(0),
           "INT32": np.int32(-(1 << 31)), "FLOAT32": np.float32(np.finfo(np.float32).min)}


def prepare(op, ctx):
    ctx.check_arity(op, 2)
    src, axis, dst = op.inputs[0], op.inputs[1], op.outputs[0]
    type_name = ctx.check_type(op, src, TYPES, "input")
    ctx.check_type(op, dst, (type_name,), "output")
    ctx.check_type(op, axis, ("INT32",), "axis")
    axes = np.asarray(ctx.constant(op, axis, "axis")).reshape(-1)
    if type_name in ("INT8", "UINT8"):
        # TF_LITE_ENSURE_EQ on the per-tensor params: float and int equality
        qi, qo = ctx.tensor(src).quantization, ctx.tensor(dst).quantization
        if not (qi.scale == qo.scale and qi.zero_point == qo.zero_point):
            raise ctx.error(
                op, f"input {ctx.label(src)} has scale {qi.scale!r} and zero point "
                f"{qi.zero_point}, output {ctx.label(dst)} has scale {qo.scale!r} and zero "
                f"point {qo.zero_point}; TFLite's REDUCE_MAX requires them equal"
            )

    reduced, dims, out_strides = reduction(op, ctx, axes)
    all_axes = len(reduced) == dims.size
    lowest = _LOWEST[type_name]

    def run(t):
        k.reduce_max(flat(t[src]), dims, out_strides, lowest, all_axes, flat(t[dst]))
    return Node(op, run, dict(kernel="reduce_max", axes=reduced, all_axes=all_axes,
                              lowest=lowest.item()))


def tflm_scratch(op, model, shapes) -> list:
    """TFLite Micro's ``reduce_common.cc`` ``PrepareMinMaxHelper``: one int
    per input dimension, then one int per axis element."""
    if len(op.inputs) < 2 or op.inputs[0] < 0 or op.inputs[1] < 0 or not op.outputs:
        return []
    return [4 * len(shapes[op.inputs[0]]), 4 * math.prod(shapes[op.inputs[1]])]


def tflm_persistent(op, model, shapes):
    """micro/kernels/reduce.cc (InitReduce: OpDataReduce) and
    reduce_common.cc: PrepareMinMaxHelper first runs PrepareSimple
    (mean.prepare_simple_temps), then takes input, output and axis as
    temporary tensors again. ParseReducer allocates TfLiteReducerParams.
    (REDUCE_MIN is prepared the same way.)"""
    return TflmAllocations(
        "micro/kernels/reduce.cc InitReduce, reduce_common.cc PrepareMinMaxHelper, "
        "PrepareSimple", REDUCER_PARAMS, OP_DATA_REDUCE,
        prepare_simple_temps(op, model) + temp_inputs(op, 0) + temp_output(op)
        + temp_inputs(op, 1))


UNIT = OperatorUnit(
    "REDUCE_MAX", prepare, options="ReducerOptions", defaults={"keep_dims": False},
    version=int8_version, per_image=per_image, macs=no_macs, sharing=NO_SHARING,
    tflm_scratch=tflm_scratch,
    numerics={
        "builtin": same_as_reference("the maximum of the stored values, as the reference"),
        "xnnpack": same_as_reference(
            "xnn_define_static_reduce_v2 (max): the maximum, as the reference",
            delegated=always),
    },
    tflm_persistent=tflm_persistent, tflm_sharing=no_tflm_sharing,
)
