"""SUB of two int8 or two uint8 tensors, with NumPy-style broadcasting.

Follows TFLite's ``sub.cc`` as registered by ``Register_SUB_REF``:
``PrepareGeneralSubOp`` computes ADD's multipliers (left shift 20, the
float32 ``2 * max(scale1, scale2)`` widened to double, each input's
multiplier ``scale / twice_max`` and the output's
``twice_max / ((1 << 20) * output_scale)`` in double), and the reference
kernels (``reference_ops::Sub`` for both 8-bit types, or
``BroadcastQuantSubSlow`` when the shapes differ after padding) apply the
same per-element arithmetic on both paths.

Unlike ADD's, SUB's prepare lets the output multiplier exceed 1 (it then
calls ``QuantizeMultiplierGreaterThanOne``), but the kernels apply it with
``MultiplyByQuantizedMultiplierSmallerThanOneExp``, whose rounding divide
by a negative power of two is undefined in C++ (the reference runtime gives
+-1 for every element): such a model is refused as unsupported. A
multiplier of exactly 1 makes TFLite abort; so do input scales that are not
finite and positive.
"""

import functools

from ..kernels import elementwise as k
from ._binary import BINARY_BANDS, elementwise_per_image
from .add import add_delegated, prepare_add_or_sub
from ._tflm import temp_inputs, temp_output
from .unit import (
    CStruct, Numerics, OperatorUnit, Sharing, TflmAllocations, def_type, no_macs,
    no_tflm_sharing, same_as_reference,
)


def prepare(op, ctx, numerics: str = "reference"):
    def refuse_above_one(real_out, scales):
        if real_out > 1.0:
            raise ctx.unsupported(
                op, f"the output multiplier is {real_out!r}, more than 1 (input scales "
                f"{scales[0]!r} and {scales[1]!r}, output scale {scales[2]!r}): TFLite's SUB "
                f"then divides by a negative power of two, which C++ leaves undefined"
            )

    return prepare_add_or_sub(op, ctx, "SUB", k.sub, refuse_above_one, numerics)


def broadcast_version(op, tensors) -> int:
    """``op_version.cc`` for SUB, MAXIMUM and MINIMUM on the types int8sqz
    runs: 3 when the inputs' shapes differ and one has more than 4
    dimensions, else 2 for int8 and 1 for the rest."""
    first = def_type(op, tensors, 0)
    if len(op.inputs) >= 2 and min(op.inputs[:2]) >= 0:
        a, b = (tuple(tensors[i].shape) for i in op.inputs[:2])
        if a != b and max(len(a), len(b)) > 4:
            return 3
    return 2 if first == "INT8" else 1


#: TfLiteSubParams (builtin_op_data.h): activation, pot_scale_int16
TFLM_PARAMS = CStruct("TfLiteSubParams", ("enum", "bool"), "builtin_op_data.h")
#: OpDataSub (micro/kernels/sub.h): requires_broadcast, twelve shifts,
#: multipliers, offsets and the activation range
TFLM_OP_DATA = CStruct("OpDataSub", ("bool",) + ("int32",) * 12, "micro/kernels/sub.h")


def tflm_persistent(op, model, shapes):
    """micro/kernels/sub.cc (SubInit: OpDataSub) and sub_common.cc
    (SubPrepare: both inputs and the output as temporary tensors)."""
    return TflmAllocations("micro/kernels/sub.cc SubInit, sub_common.cc SubPrepare",
                           TFLM_PARAMS, TFLM_OP_DATA, temp_inputs(op, 0, 1) + temp_output(op))


UNIT = OperatorUnit(
    "SUB", prepare, options="SubOptions", defaults={"fused_activation_function": "NONE"},
    version=broadcast_version, per_image=elementwise_per_image, macs=no_macs,
    # kernels/elementwise.py (add_or_sub): each output element from the
    # input elements at its own position (a broadcast constant read in its
    # own place)
    sharing=Sharing(kernel="kernels/elementwise.py", inplace=True),
    numerics={
        "builtin": same_as_reference(
            "sub.cc calls reference_ops::Sub / BroadcastQuantSubSlow for int8 in every "
            "resolver"),
        "xnnpack": Numerics(
            "as ADD (xnn_qs8_vadd, the second input's multiplier negated), for input/output "
            "scale ratios in [1/1024, 256)",
            functools.partial(prepare, numerics="xnnpack"), delegated=add_delegated),
    },
    tflm_persistent=tflm_persistent, tflm_sharing=no_tflm_sharing,
    bands=BINARY_BANDS,
)
