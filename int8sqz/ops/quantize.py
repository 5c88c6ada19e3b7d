"""QUANTIZE: float -> int8/uint8, and requantization between int8 and uint8.

Follows TFLite's ``quantize.cc``: ``AffineQuantize`` for float input,
``Requantize`` with a multiplier of double(input scale) / double(output
scale) for integer input. The desktop runtimes' numerics: ``UNIT.numerics``
(kernels/builtin.py, kernels/xnnpack.py).
"""

import functools

import numpy as np

from ..kernels import builtin as kb
from ..kernels import quantize as k
from ..kernels import xnnpack as kx
from ._common import (
    INT_RANGES, check_left_shift, check_scale, check_zero_point, flat, quantize_multiplier,
)
from ._numerics import f32
from ._tflm import elementwise_trace, temp_input_output, usable
from .unit import (
    Bands, CStruct, Node, Numerics, OperatorUnit, Sharing, TflmAllocations, no_macs,
    row_band_windows,
)

_INTEGER = ("INT8", "UINT8")


def prepare(op, ctx, numerics: str = "reference"):
    """The reference's QUANTIZE, or (``numerics``) the optimized builtin
    kernel's ("builtin") or XNNPACK's ("xnnpack": only for what
    :func:`delegated` takes)."""
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
        if numerics == "builtin":
            reciprocal = f32(1.0 / float(scale))

            def run_builtin(t):
                kb.affine_quantize(flat(t[src]), float(scale), reciprocal, out_zp, qmin, qmax,
                                   flat(t[dst]))
            return Node(op, run_builtin, dict(kernel="builtin.affine_quantize", scale=scale,
                                              reciprocal=reciprocal, zero_point=out_zp))
        if numerics == "xnnpack":
            reciprocal = f32(f32(1.0) / scale)

            def run_xnnpack(t):
                kx.quantize_float(flat(t[src]), reciprocal, out_zp, qmin, qmax, flat(t[dst]))
            return Node(op, run_xnnpack, dict(kernel="xnnpack.quantize_float",
                                              reciprocal=reciprocal, zero_point=out_zp))

        def run(t):
            k.affine_quantize(flat(t[src]), scale, out_zp, qmin, qmax, flat(t[dst]))
        return Node(op, run, dict(kernel="affine_quantize", scale=scale, zero_point=out_zp,
                                  qmin=qmin, qmax=qmax))

    in_scale = check_scale(ctx, op, src, "input")
    in_zp = check_zero_point(ctx, op, src, "input")
    multiplier, shift = quantize_multiplier(in_scale / out_scale)
    # found by fuzzing: an output scale of 1e-12 gave other integers than TFLite
    check_left_shift(ctx, op, shift, in_scale / out_scale, "input scale / output scale")
    if numerics == "builtin":
        def run_builtin(t):
            kb.requantize(flat(t[src]), in_zp, multiplier, shift, out_zp, qmin, qmax,
                          flat(t[dst]))
        return Node(op, run_builtin, dict(kernel="builtin.requantize", input_zero_point=in_zp,
                                          multiplier=multiplier, shift=shift,
                                          output_zero_point=out_zp))
    if numerics == "xnnpack":
        m8 = int(round(float(f32(256.0) * _ratio(in_scale, out_scale))))

        def run_xnnpack(t):
            kx.requantize(flat(t[src]), in_zp, m8, out_zp, qmin, qmax, flat(t[dst]))
        return Node(op, run_xnnpack, dict(kernel="xnnpack.requantize", input_zero_point=in_zp,
                                          multiplier_q8=m8, output_zero_point=out_zp))

    def run(t):
        k.requantize(flat(t[src]), in_zp, multiplier, shift, out_zp, qmin, qmax, flat(t[dst]))
    return Node(op, run, dict(kernel="requantize", input_zero_point=in_zp,
                              multiplier=multiplier, shift=shift, output_zero_point=out_zp,
                              qmin=qmin, qmax=qmax))


def _ratio(in_scale: float, out_scale: float) -> np.float32:
    return f32(f32(in_scale) / f32(out_scale))


def delegated(op, ctx) -> bool:
    """The XNNPACK delegate takes a QUANTIZE from float32, and one between
    two int8 (or two uint8) tensors whose scale ratio in_scale / out_scale
    (float32) lies in [1/256, 128]; int8 <-> uint8 and other ratios stay
    with the builtin kernel."""
    t = ctx.model.tensors
    src, dst = t[op.inputs[0]], t[op.outputs[0]]
    if src.type_name == "FLOAT32":
        return dst.type_name in _INTEGER
    return (src.type_name == dst.type_name in _INTEGER
            and 1.0 / 256.0 <= float(_ratio(src.quantization.scale, dst.quantization.scale))
            <= 128.0)


def version(op, tensors) -> int:
    """``op_version.cc``: 3 for per-channel output, 2 for int16 output, else 1."""
    if not op.outputs or op.outputs[0] < 0:
        return 1
    out = tensors[op.outputs[0]]
    if out.scales is not None and len(out.scales) > 1:
        return 3
    return 2 if out.type == "INT16" else 1


def per_image(op, model, shapes) -> bool:
    return True  # elementwise


#: QuantizationParams (types.h: int32 zero point, double scale), in the
#: OpData of QUANTIZE; DEQUANTIZE's DequantizationParams has the same members
QUANTIZATION_PARAMS = CStruct("QuantizationParams", ("int32", "double"),
                              "kernels/internal/types.h")
#: OpDataQuantizeReference (micro/kernels/quantize.h): QuantizationParams,
#: requantization multiplier and shift, input zero point
TFLM_OP_DATA = CStruct("OpDataQuantizeReference", (QUANTIZATION_PARAMS,) + ("int32",) * 3,
                       "micro/kernels/quantize.h")


def tflm_persistent(op, model, shapes):
    """micro/kernels/quantize.cc (InitQuantizeReference:
    OpDataQuantizeReference) and quantize_common.cc
    (PrepareQuantizeReference: input and output as temporary tensors);
    ParseQuantize allocates nothing."""
    return TflmAllocations(
        "micro/kernels/quantize.cc InitQuantizeReference, "
        "quantize_common.cc PrepareQuantizeReference",
        None, TFLM_OP_DATA, temp_input_output(op))


def tflm_sharing(op, k, model, shapes):
    """QUANTIZE (quantize_common.cc -> reference_ops::AffineQuantize,
    Requantize): element i read, then element i written; in place between
    types of one size. Per-channel quantization walks by channel: no rule."""
    if k != 0 or not usable(op, k, model, shapes) or \
            model.tensors[op.outputs[0]].quantization.scales.size > 1:
        return None
    return elementwise_trace(model, op, k, shapes,
                             "QUANTIZE: element i read, then element i written")


UNIT = OperatorUnit(
    "QUANTIZE", prepare, options="QuantizeOptions", defaults={}, version=version,
    per_image=per_image, macs=no_macs,
    # kernels/quantize.py: each output element from the input element at its
    # own position, read before it is written (between types of one size)
    sharing=Sharing(kernel="kernels/quantize.py", inplace=True),
    numerics={
        "builtin": Numerics(
            "NEON loops through NEON_2_SSE: from float, the first 8 * (n // 8) values "
            "x * float32(1 / scale) in float32 rounded half to even (the rest as the "
            "reference); between integer types, the first 16 * (n // 16) requantized half "
            "up (the rest as the reference)",
            functools.partial(prepare, numerics="builtin")),
        "xnnpack": Numerics(
            "from float: xnn_f32_qs8_vcvt (x * (1.0f / scale) in float32, half to even, "
            "int16 saturation); int8 -> int8 / uint8 -> uint8: xnn_qs8_vcvt with an 8-bit "
            "multiplier lrintf(256 * in_scale / out_scale)",
            functools.partial(prepare, numerics="xnnpack"), delegated=delegated),
    },
    tflm_persistent=tflm_persistent, tflm_sharing=tflm_sharing,
    # element by element, so a band of rows from the same rows
    bands=Bands(kernel="kernels/quantize.py", windows=row_band_windows, views=True),
)
