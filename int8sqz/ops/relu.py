"""RELU of int8, uint8 (requantizing) or float32 tensors.

Follows TFLite's ``activations.cc``, whose ``Register_RELU`` is also the
reference registration (BUILTIN_REF has no other): ``ReluPrepare`` computes
the requantization multiplier from ``input_scale / output_scale``, a float32
quotient widened to double (``QuantizeMultiplier``); ``ReluEval`` calls
``QuantizedReluX`` for int8 and uint8, which clamps below at
``max(type min, output_zero_point + (int) roundf(0.0f / output_scale))`` and
above at the type's maximum (RELU6 at ``6.0f / output_scale`` the same way)
and runs ``reference_ops::ReluX``; float32 goes through Eigen's
``cwiseMax(0.0f)``.

TFLite Micro's int8 RELU6 only clamps (it does not requantize), so it
differs from the reference wherever the two quantizations differ (measured);
int8sqz follows the reference.

TFLite checks no scale here. A scale that is zero, negative, not finite or
per-channel is refused (ModelError), and so are quantizations whose
arithmetic C++ leaves undefined (UnsupportedError): a multiplier needing a
left shift beyond 30, or a RELU6 bound that does not fit an int32.
"""

from __future__ import annotations

import math

import numpy as np

from ..kernels import activation as k
from ._common import (
    INT_RANGES, check_left_shift, check_scale, check_zero_point, flat, quantize_multiplier,
    tflite_round,
)
from ._tflm import temp_input_output
from .unit import (
    Bands, CStruct, Node, OperatorUnit, Sharing, TflmAllocations, def_type, float_operands,
    no_macs, no_tflm_sharing, row_band_windows, same_as_reference,
)

TYPES = ("INT8", "UINT8", "FLOAT32")
INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1


def _bound(ctx, op, name: str, f: float, scale: float, zero_point: int) -> int:
    """``output_zero_point + (int32) roundf(f / output_scale)``, refused
    where the C++ conversion or sum is undefined."""
    with np.errstate(all="ignore"):
        q = np.float32(f) / np.float32(scale)
    r = tflite_round(float(q)) if math.isfinite(q) else None
    if r is None or not INT32_MIN <= r <= INT32_MAX or not \
            INT32_MIN <= r + zero_point <= INT32_MAX:
        raise ctx.unsupported(
            op, f"{name}: {f} / output scale {scale!r} plus the zero point {zero_point} does "
            f"not fit an int32; TFLite's result is undefined"
        )
    return r + zero_point


def prepare_relu(op, ctx, name: str, upper: float):
    """RELU (``upper`` = inf) or RELU6 (``upper`` = 6)."""
    ctx.check_arity(op, 1)
    src, dst = op.inputs[0], op.outputs[0]
    type_name = ctx.check_type(op, src, TYPES, "input")
    ctx.check_type(op, dst, (type_name,), "output")
    ctx.set_output_shape(op, dst, ctx.shape(src))

    if type_name == "FLOAT32":
        bound = np.float32(upper)

        def run_float(t):
            k.relu_float(flat(t[src]), flat(t[dst]), bound)
        return Node(op, run_float, dict(kernel="relu_float", upper=float(bound)))

    in_scale = check_scale(ctx, op, src, "input")
    in_zp = check_zero_point(ctx, op, src, "input")
    out_scale = check_scale(ctx, op, dst, "output")
    out_zp = check_zero_point(ctx, op, dst, "output")
    with np.errstate(all="ignore"):
        real = float(np.float32(in_scale) / np.float32(out_scale))
    if not math.isfinite(real):
        raise ctx.unsupported(
            op, f"input scale {in_scale!r} / output scale {out_scale!r} overflows float32; "
            f"TFLite's multiplier is then undefined"
        )
    multiplier, shift = quantize_multiplier(real)
    check_left_shift(ctx, op, shift, real, "input scale / output scale")
    qmin, qmax = INT_RANGES[type_name]
    act_min = max(qmin, _bound(ctx, op, name, 0.0, out_scale, out_zp))
    act_max = qmax if math.isinf(upper) else min(qmax, _bound(ctx, op, name, upper, out_scale,
                                                              out_zp))

    def run(t):
        k.relu_quantized(flat(t[src]), flat(t[dst]), in_zp, multiplier, shift, out_zp, act_min,
                         act_max)
    return Node(op, run, dict(kernel="relu_quantized", input_zero_point=in_zp,
                              multiplier=multiplier, shift=shift, output_zero_point=out_zp,
                              act_min=act_min, act_max=act_max))


def prepare(op, ctx):
    return prepare_relu(op, ctx, "RELU", math.inf)


def version(op, tensors) -> int:
    """``op_version.cc``: 2 for int8 and uint8, else 1."""
    return 2 if def_type(op, tensors, 0) in ("INT8", "UINT8") else 1


def per_image(op, model, shapes) -> bool:
    return True  # element by element


#: kernels/activation.py: x[i] is read before out[i] is written
SHARING = Sharing(kernel="kernels/activation.py", inplace=True)
#: kernels/activation.py: element by element, so a band of rows from the same rows
BANDS = Bands(kernel="kernels/activation.py", windows=row_band_windows, views=True)


#: ReluOpData (micro/kernels/activations.h): ReluParams (types.h: a uint8
#: activation type, the activation range, offsets, multiplier, shift)
TFLM_OP_DATA = CStruct("ReluOpData", ("uint8",) + ("int32",) * 6, "micro/kernels/activations.h")


def tflm_persistent(op, model, shapes):
    """micro/kernels/activations.cc (ReluInit: ReluOpData) and
    activations_common.cc (ReluPrepare: input and output as temporary
    tensors); ParseRelu allocates nothing."""
    return TflmAllocations(
        "micro/kernels/activations.cc ReluInit, activations_common.cc ReluPrepare",
        None, TFLM_OP_DATA, temp_input_output(op))


UNIT = OperatorUnit(
    "RELU", prepare, options=None, defaults={},
    version=version, per_image=per_image, macs=no_macs, sharing=SHARING,
    numerics={
        "builtin": same_as_reference("reference_ops::ReluX in every resolver; float32 as the "
                                     "reference (measured, NaNs included)"),
        "xnnpack": same_as_reference(
            "quantized RELU is not delegated (the builtin kernel, the reference's); float32 "
            "is, with the reference's values (measured, NaNs included)",
            delegated=float_operands),
    },
    tflm_persistent=tflm_persistent, tflm_sharing=no_tflm_sharing,
    bands=BANDS,
)
