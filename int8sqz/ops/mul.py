"""MUL of two int8 or two uint8 tensors, with NumPy-style broadcasting.

Follows TFLite's ``mul.cc``: ``Prepare`` computes one output multiplier,
``scale1 * scale2 / output_scale`` evaluated in float32 (the three scales
are floats, so both the product and the quotient are rounded to float32)
and only then widened to double for ``QuantizeMultiplier``. The reference
kernels (``reference_integer_ops::Mul`` / ``BroadcastMul6DSlow`` for int8,
``reference_ops`` for uint8) compute the same integers on both paths.
"""

import math

import numpy as np

from ..kernels import elementwise as k
from ._binary import binary_run, constant_lut_run, prepare_binary
from ._common import check_left_shift, fused_activation_range, quantize_multiplier


def prepare(op, ctx):
    type_name, out_shape, ((s1, z1), (s2, z2), (so, zo)) = prepare_binary(op, ctx)
    act_min, act_max = fused_activation_range(op, ctx, so, zo, type_name)

    with np.errstate(over="ignore", under="ignore"):
        real = float(np.float32(np.float32(s1) * np.float32(s2)) / np.float32(so))
    if not math.isfinite(real):
        raise ctx.error(op, f"the output multiplier {s1!r} * {s2!r} / {so!r} is not finite in float32")
    multiplier, shift = quantize_multiplier(real)
    check_left_shift(ctx, op, shift, real, "the output multiplier")

    def call(o, x, y, shape, strides):
        k.mul(o, x, y, shape, strides, -z1, -z2, multiplier, shift, zo, act_min, act_max)

    return (constant_lut_run(op, ctx, out_shape, call)
            or binary_run(op, ctx, out_shape, call))
