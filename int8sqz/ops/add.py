"""ADD of two int8 or two uint8 tensors, with NumPy-style broadcasting.

Follows TFLite's ``add.cc``: ``Prepare`` computes the multipliers of the
8-bit path (left shift 20), and the reference kernels (``reference_integer_ops``
``Add`` / ``BroadcastAdd6DSlow`` for int8, ``reference_ops`` for uint8) apply
``AddFunc`` to every element; the broadcast and same-shape paths compute the
same integers.

Prepare's float arithmetic, as the C++ has it: the scales are float32;
``2 * max(scale1, scale2)`` is a float32 product; each input's multiplier is
``scale / twice_max`` in double; the output's is
``twice_max / float32((1 << 20) * output_scale)`` in double. All three must
lie in (0, 1) (TFLite aborts otherwise: ``QuantizeMultiplierSmallerThanOneExp``).
"""

import math

import numpy as np

from ..kernels import elementwise as k
from ._binary import (
    BINARY_BANDS, binary_run, constant_lut_run, elementwise_per_image, prepare_binary,
)
from ._common import fused_activation_range, quantize_multiplier
from ._tflm import elementwise_trace, temp_inputs, temp_output, usable
from .unit import CStruct, OperatorUnit, Sharing, TflmAllocations, int8_version, no_macs

LEFT_SHIFT = 20


def _smaller_than_one(ctx, op, real: float, what: str, name: str = "ADD"):
    """TFLite ``QuantizeMultiplierSmallerThanOneExp``, whose checks abort."""
    if not (math.isfinite(real) and 0.0 < real < 1.0):
        raise ctx.error(
            op, f"the {what} multiplier is {real!r}, outside (0, 1): the scales are out of "
            f"the range TFLite's {name} accepts (it aborts on them)"
        )
    multiplier, shift = quantize_multiplier(real)
    if shift > 0:
        raise ctx.error(
            op, f"the {what} multiplier {real!r} rounds to 1.0; TFLite's {name} aborts on it"
        )
    return multiplier, shift


def prepare_add_or_sub(op, ctx, name: str, kernel, check_output=None):
    """ADD's or SUB's prepare (``add.cc`` / ``sub.cc``, the 8-bit path):
    ``kernel`` is ``kernels/elementwise.py``'s ``add`` or ``sub``;
    ``check_output(real_output_multiplier, scales)`` may refuse a real
    output multiplier before it is quantized."""
    type_name, out_shape, ((s1, z1), (s2, z2), (so, zo)) = prepare_binary(op, ctx)

    with np.errstate(over="ignore"):
        twice_max = float(np.float32(2) * np.float32(max(s1, s2)))
        out_denominator = float(np.float32(1 << LEFT_SHIFT) * np.float32(so))
    m1, shift1 = _smaller_than_one(ctx, op, s1 / twice_max, "input 1", name)
    m2, shift2 = _smaller_than_one(ctx, op, s2 / twice_max, "input 2", name)
    real_out = twice_max / out_denominator
    if check_output is not None:
        check_output(real_out, (s1, s2, so))
    mo, shift_o = _smaller_than_one(ctx, op, real_out, "output", name)
    act_min, act_max = fused_activation_range(op, ctx, so, zo, type_name)

    def call(o, x, y, shape, strides):
        kernel(o, x, y, shape, strides, -z1, m1, shift1, -z2, m2, shift2, mo, shift_o, zo,
               act_min, act_max)

    params = dict(kernel=name.lower(), input1_offset=-z1, input1_multiplier=m1,
                  input1_shift=shift1, input2_offset=-z2, input2_multiplier=m2,
                  input2_shift=shift2, output_multiplier=mo, output_shift=shift_o,
                  output_offset=zo, left_shift=LEFT_SHIFT, act_min=act_min, act_max=act_max)

    return (constant_lut_run(op, ctx, out_shape, call, params)
            or binary_run(op, ctx, out_shape, call, params))


def prepare(op, ctx):
    return prepare_add_or_sub(op, ctx, "ADD", k.add)


#: TfLiteAddParams (builtin_op_data.h): activation, pot_scale_int16
TFLM_PARAMS = CStruct("TfLiteAddParams", ("enum", "bool"), "builtin_op_data.h")
#: OpDataAdd (micro/kernels/add.h): requires_broadcast, twelve shifts,
#: multipliers, offsets and the activation range, the float range
TFLM_OP_DATA = CStruct("OpDataAdd", ("bool",) + ("int32",) * 12 + ("float", "float"),
                       "micro/kernels/add.h")


def tflm_persistent(op, model, shapes):
    """micro/kernels/add.cc (AddInit: OpDataAdd) and add_common.cc
    (AddPrepare: both inputs and the output as temporary tensors)."""
    return TflmAllocations("micro/kernels/add.cc AddInit, add_common.cc AddPrepare",
                           TFLM_PARAMS, TFLM_OP_DATA, temp_inputs(op, 0, 1) + temp_output(op))


def tflm_sharing(op, k, model, shapes):
    """ADD int8 (add.cc -> reference_integer_ops::Add, ElementWise or
    BroadcastBinaryOpSimple): element i of each operand read, then element i
    written, i increasing; an operand with the output's shape is read at the
    output's own index on both paths: it may be overwritten in place."""
    if not usable(op, k, model, shapes) or model.tensors[op.inputs[k]].type_name != "INT8":
        return None
    return elementwise_trace(model, op, k, shapes, "ADD: element i read, then element i written")


UNIT = OperatorUnit(
    "ADD", prepare, options="AddOptions", defaults={"fused_activation_function": "NONE"},
    version=int8_version, per_image=elementwise_per_image, macs=no_macs,
    # kernels/elementwise.py: each output element from the input elements
    # at its own position (a broadcast constant read in its own place)
    sharing=Sharing(kernel="kernels/elementwise.py", inplace=True),
    tflm_persistent=tflm_persistent, tflm_sharing=tflm_sharing,
    bands=BINARY_BANDS,
)
