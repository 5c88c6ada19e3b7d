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
from ._broadcast import (binary_output_shape, binary_run, check_binary_types,
                         constant_lut_run)
from ._common import check_scale, check_zero_point, fused_activation_range, quantize_multiplier

#: larger left shifts make TFLite's ``x * (1 << shift)`` undefined behaviour
MAX_LEFT_SHIFT = 30


def prepare(op, ctx):
    type_name = check_binary_types(op, ctx)
    a, b = op.inputs
    dst = op.outputs[0]
    out_shape = binary_output_shape(op, ctx)
    s1 = check_scale(ctx, op, a, "input 1")
    s2 = check_scale(ctx, op, b, "input 2")
    so = check_scale(ctx, op, dst, "output")
    z1 = check_zero_point(ctx, op, a, "input 1")
    z2 = check_zero_point(ctx, op, b, "input 2")
    zo = check_zero_point(ctx, op, dst, "output")
    act_min, act_max = fused_activation_range(op, ctx, so, zo, type_name)

    with np.errstate(over="ignore", under="ignore"):
        real = float(np.float32(np.float32(s1) * np.float32(s2)) / np.float32(so))
    if not math.isfinite(real):
        raise ctx.error(op, f"the output multiplier {s1!r} * {s2!r} / {so!r} is not finite in float32")
    multiplier, shift = quantize_multiplier(real)
    if shift > MAX_LEFT_SHIFT:
        raise ctx.unsupported(
            op, f"the output multiplier {real!r} needs a left shift of {shift}; TFLite's "
            f"result is undefined beyond {MAX_LEFT_SHIFT}"
        )

    def call(o, x, y, shape, strides):
        k.mul(o, x, y, shape, strides, -z1, -z2, multiplier, shift, zo, act_min, act_max)

    return (constant_lut_run(op, ctx, out_shape, call)
            or binary_run(op, ctx, out_shape, call))
