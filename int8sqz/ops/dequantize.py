"""DEQUANTIZE: int8/uint8 -> float32, as TFLite's ``reference_ops::Dequantize``."""

import functools

from ..kernels import builtin as kb
from ..kernels import quantize as k
from ._common import check_scale, check_zero_point, flat
from ._numerics import f32
from .quantize import per_image
from ._tflm import elementwise_trace, temp_input_output, usable
from .unit import (
    NO_SHARING, Bands, CStruct, Node, Numerics, OperatorUnit, TflmAllocations, always,
    def_type, no_macs, row_band_windows, same_as_reference,
)


def prepare(op, ctx, numerics: str = "reference"):
    ctx.check_arity(op, 1)
    src, dst = op.inputs[0], op.outputs[0]
    ctx.check_type(op, src, ("INT8", "UINT8"), "input")
    ctx.check_type(op, dst, ("FLOAT32",), "output")
    scale = check_scale(ctx, op, src, "input")  # float32 widened to double, as in C++
    zp = check_zero_point(ctx, op, src, "input")
    ctx.set_output_shape(op, dst, ctx.shape(src))
    if numerics == "builtin":
        s32 = f32(scale)
        offset = f32(-zp * float(s32))

        def run_builtin(t):
            kb.dequantize(flat(t[src]), zp, s32, offset, flat(t[dst]))
        return Node(op, run_builtin, dict(kernel="builtin.dequantize", zero_point=zp,
                                          scale=s32, offset=offset))

    def run(t):
        k.dequantize(flat(t[src]), zp, scale, flat(t[dst]))
    return Node(op, run, dict(kernel="dequantize", zero_point=zp, scale=scale))


def version(op, tensors) -> int:
    """``op_version.cc``: int8 input 2 (5 when per-channel), else 1."""
    if def_type(op, tensors, 0) != "INT8":
        return 1
    src = tensors[op.inputs[0]]
    return 5 if src.scales is not None and len(src.scales) > 1 else 2


#: DequantizeOpData (micro/kernels/dequantize.h): DequantizationParams
#: (types.h: double scale, int32 zero point), multiplier, shift, zero point
TFLM_OP_DATA = CStruct("DequantizeOpData", (CStruct("DequantizationParams",
                                                    ("double", "int32")),) + ("int32",) * 3,
                       "micro/kernels/dequantize.h")


def tflm_persistent(op, model, shapes):
    """micro/kernels/dequantize.cc (DequantizeInit: DequantizeOpData) and
    dequantize_common.cc (DequantizePrepare: input and output as temporary
    tensors); ParseDequantize allocates nothing."""
    return TflmAllocations(
        "micro/kernels/dequantize.cc DequantizeInit, dequantize_common.cc DequantizePrepare",
        None, TFLM_OP_DATA, temp_input_output(op))


def tflm_sharing(op, k, model, shapes):
    """DEQUANTIZE (dequantize.cc -> reference_ops::Dequantize): element i
    read, then element i written. int8 -> float32 over n elements: the
    output may end just past its input (bound -3 (n - 1)); per-channel
    dequantization walks by channel: no rule."""
    if k != 0 or not usable(op, k, model, shapes) or \
            model.tensors[op.inputs[0]].quantization.scales.size > 1:
        return None
    return elementwise_trace(model, op, k, shapes,
                             "DEQUANTIZE: element i read, then element i written")


UNIT = OperatorUnit(
    "DEQUANTIZE", prepare, options="DequantizeOptions", defaults={}, version=version,
    per_image=per_image, macs=no_macs, sharing=NO_SHARING,
    numerics={
        "builtin": Numerics(
            "the NEON loop through NEON_2_SSE: the first 8 * (n // 8) values "
            "float32(q) * scale + float32(-zp * scale), two float32 roundings (the rest as "
            "the reference, one rounding)",
            functools.partial(prepare, numerics="builtin")),
        "xnnpack": same_as_reference(
            "xnn_qs8_f32_vcvt: float32(q - zp) * scale, one rounding of an exact product: "
            "the reference's value", delegated=always),
    },
    tflm_persistent=tflm_persistent, tflm_sharing=tflm_sharing,
    # kernels/quantize.py: element by element, so a band of rows from the same rows
    bands=Bands(kernel="kernels/quantize.py", windows=row_band_windows, views=True),
)
