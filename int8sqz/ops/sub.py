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

from ..kernels import elementwise as k
from ._binary import binary_run, constant_lut_run, elementwise_per_image, prepare_binary
from ._common import fused_activation_range
from .add import LEFT_SHIFT, input_multipliers, smaller_than_one
from .unit import OperatorUnit, Sharing, def_type, no_macs


def prepare(op, ctx):
    type_name, out_shape, ((s1, z1), (s2, z2), (so, zo)) = prepare_binary(op, ctx)

    (m1, shift1), (m2, shift2), real_out = input_multipliers(ctx, op, s1, s2, so, "SUB")
    if real_out > 1.0:
        raise ctx.unsupported(
            op, f"the output multiplier is {real_out!r}, more than 1 (output scale {so!r} "
            f"against input scales {s1!r} and {s2!r}): TFLite's SUB then divides by a "
            f"negative power of two, which C++ leaves undefined"
        )
    mo, shift_o = smaller_than_one(ctx, op, real_out, "output", "SUB")
    act_min, act_max = fused_activation_range(op, ctx, so, zo, type_name)

    def call(o, x, y, shape, strides):
        k.sub(o, x, y, shape, strides, -z1, m1, shift1, -z2, m2, shift2, mo, shift_o, zo,
              act_min, act_max)

    params = dict(kernel="sub", input1_offset=-z1, input1_multiplier=m1, input1_shift=shift1,
                  input2_offset=-z2, input2_multiplier=m2, input2_shift=shift2,
                  output_multiplier=mo, output_shift=shift_o, output_offset=zo,
                  left_shift=LEFT_SHIFT, act_min=act_min, act_max=act_max)

    return (constant_lut_run(op, ctx, out_shape, call, params)
            or binary_run(op, ctx, out_shape, call, params))


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


UNIT = OperatorUnit(
    "SUB", prepare, options="SubOptions", defaults={"fused_activation_function": "NONE"},
    version=broadcast_version, per_image=elementwise_per_image, macs=no_macs,
    # kernels/elementwise.py (add_or_sub): each output element from the
    # input elements at its own position (a broadcast constant read in its
    # own place)
    sharing=Sharing(kernel="kernels/elementwise.py", inplace=True),
)
