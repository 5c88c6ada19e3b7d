"""DEQUANTIZE: int8/uint8 -> float32, as TFLite's ``reference_ops::Dequantize``."""

from ..kernels import quantize as k
from ._common import check_scale, check_zero_point


def prepare(op, ctx):
    ctx.check_arity(op, 1)
    src, dst = op.inputs[0], op.outputs[0]
    ctx.check_type(op, src, ("INT8", "UINT8"), "input")
    ctx.check_type(op, dst, ("FLOAT32",), "output")
    scale = check_scale(ctx, op, src, "input")  # float32 widened to double, as in C++
    zp = check_zero_point(ctx, op, src, "input")
    ctx.set_output_shape(op, dst, ctx.shape(src))

    def run(t):
        k.dequantize(t[src].reshape(-1), zp, scale, t[dst].reshape(-1))
    return run
