"""QUANTIZE: float -> int8/uint8, and requantization between int8 and uint8.

Follows TFLite's ``quantize.cc``: ``AffineQuantize`` for float input,
``Requantize`` with a multiplier of double(input scale) / double(output
scale) for integer input.
"""

import numpy as np

from ..kernels import quantize as k
from ._common import (
    INT_RANGES, check_left_shift, check_scale, check_zero_point, quantize_multiplier,
)

_INTEGER = ("INT8", "UINT8")


def prepare(op, ctx):
    ctx.check_arity(op, 1)
    src, dst = op.inputs[0], op.outputs[0]
    in_type = ctx.check_type(op, src, ("FLOAT32",) + _INTEGER, "input")
    out_type = ctx.check_type(op, dst, _INTEGER, "output")
    out_scale = check_scale(ctx, op, dst, "output")
    out_zp = check_zero_point(ctx, op, dst, "output")
    qmin, qmax = INT_RANGES[out_type]
    ctx.set_output_shape(op, dst, ctx.shape(src))

    if in_type == "FLOAT32":
        scale = np.float32(out_scale)

        def run(t):
            k.affine_quantize(t[src].reshape(-1), scale, out_zp, qmin, qmax, t[dst].reshape(-1))
        return run

    in_scale = check_scale(ctx, op, src, "input")
    in_zp = check_zero_point(ctx, op, src, "input")
    multiplier, shift = quantize_multiplier(in_scale / out_scale)
    # found by fuzzing: an output scale of 1e-12 gave other integers than TFLite
    check_left_shift(ctx, op, shift, in_scale / out_scale, "input scale / output scale")

    def run(t):
        k.requantize(t[src].reshape(-1), in_zp, multiplier, shift, out_zp, qmin, qmax,
                     t[dst].reshape(-1))
    return run
