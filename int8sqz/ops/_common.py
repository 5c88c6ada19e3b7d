"""Helpers every operator's prepare step shares: quantized multipliers,
activation ranges, and the validation vocabulary.

All float arithmetic of int8sqz happens here and in the prepare steps, done
the way TFLite does it when it prepares a node (``quantization_util.cc``,
``kernel_util.cc``), so the integers handed to the kernels are TFLite's.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import InternalError, ModelError, UnsupportedError

INT_RANGES = {
    "INT8": (-128, 127),
    "UINT8": (0, 255),
    "INT16": (-32768, 32767),
    "INT32": (-(1 << 31), (1 << 31) - 1),
}


def tflite_round(x: float) -> int:
    """``std::round``: half away from zero."""
    return int(math.copysign(math.floor(abs(x) + 0.5), x))


def to_int32(x: int) -> int:
    """A Python integer wrapped to int32, as C++ int32 arithmetic wraps it."""
    return ((int(x) + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def quantize_multiplier(real: float) -> tuple[int, int]:
    """TFLite ``QuantizeMultiplier``: real = multiplier * 2**(shift - 31)."""
    real = float(real)
    if real == 0.0:
        return 0, 0
    if not math.isfinite(real):
        raise ValueError(f"multiplier {real} is not finite")
    q, shift = math.frexp(real)
    q_fixed = tflite_round(q * (1 << 31))
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift < -31:
        shift = 0
        q_fixed = 0
    return int(q_fixed), int(shift)


def activation_range(activation: str, scale: float, zero_point: int, type_name: str):
    """TFLite ``CalculateActivationRangeQuantized`` for a fused activation."""
    qmin, qmax = INT_RANGES[type_name]
    scale32 = np.float32(scale)

    def quantize(f):
        # float32 division and std::round, as the C++ lambda does
        return zero_point + tflite_round(float(np.float32(f) / scale32))

    if activation == "NONE":
        return qmin, qmax
    if activation == "RELU":
        return max(qmin, quantize(0.0)), qmax
    if activation == "RELU6":
        return max(qmin, quantize(0.0)), min(qmax, quantize(6.0))
    if activation == "RELU_N1_TO_1":
        return max(qmin, quantize(-1.0)), min(qmax, quantize(1.0))
    raise UnsupportedError(
        f"fused activation {activation}, expected one of NONE, RELU, RELU6, RELU_N1_TO_1"
    )


def check_scale(ctx, op, index: int, role: str) -> float:
    """A per-tensor scale that is finite and positive."""
    t = ctx.model.tensors[index]
    q = t.quantization
    if q.scales.size != 1:
        raise ctx.error(
            op, f"{role} {ctx.label(index)} has {q.scales.size} quantization scales, "
            f"expected exactly one (per-tensor quantization)"
        )
    s = float(q.scales[0])
    if not (math.isfinite(s) and s > 0):
        raise ctx.error(op, f"{role} {ctx.label(index)} has scale {s}, expected a finite positive number")
    return s


def check_zero_point(ctx, op, index: int, role: str) -> int:
    t = ctx.model.tensors[index]
    zp = int(t.quantization.zero_points[0]) if t.quantization.zero_points.size else 0
    lo, hi = INT_RANGES.get(t.type_name, (None, None))
    if lo is not None and not lo <= zp <= hi:
        raise ctx.error(
            op, f"{role} {ctx.label(index)} has zero point {zp}, expected a value in "
            f"{lo}..{hi} for {t.type_name}"
        )
    return zp


#: TFLite's MultiplyByQuantizedMultiplier computes ``x * (1 << shift)`` in
#: int32: beyond this left shift its result is undefined (it differs by
#: compiler and platform), so no reference exists
MAX_LEFT_SHIFT = 30


def check_left_shift(ctx, op, shift: int, real: float, what: str = "the multiplier") -> None:
    """Refuse a requantization whose left shift TFLite leaves undefined."""
    if shift > MAX_LEFT_SHIFT:
        raise ctx.unsupported(
            op, f"{what} {real!r} needs a left shift of {shift}; TFLite's result is "
            f"undefined beyond {MAX_LEFT_SHIFT}"
        )


_ACTIVATION_POINTS = {"RELU": (0.0,), "RELU6": (0.0, 6.0), "RELU_N1_TO_1": (-1.0, 1.0)}


def fused_activation_range(op, ctx, scale: float, zero_point: int, type_name: str):
    """The quantized range of the operator's fused activation
    (``CalculateActivationRangeQuantized``), with TFLite's check that each
    bound, ``round(f / scale)`` in float32, lies in [-2**31, 2**31] (it
    refuses to prepare otherwise). 2**31 itself passes that check and is then
    cast to int32, which C leaves undefined: refused here too.

    Any other fused activation (TANH, SIGN_BIT) gets the type's full range:
    TFLite's quantized kernels ignore it (checked against the reference
    runtime), and so does int8sqz."""
    activation = op.options.get("fused_activation_function", "NONE")
    if activation not in _ACTIVATION_POINTS:
        return INT_RANGES[type_name]
    for f in _ACTIVATION_POINTS[activation]:
        with np.errstate(all="ignore"):
            q = float(np.float32(f) / np.float32(scale))
        r = math.copysign(math.floor(abs(q) + 0.5), q) if math.isfinite(q) else q
        if not -(2.0**31) <= r <= 2.0**31:
            raise ctx.error(
                op, f"fused activation {activation}: {f} / output scale {scale!r} does not fit "
                f"an int32; TFLite refuses this"
            )
        if r == 2.0**31:
            raise ctx.unsupported(
                op, f"fused activation {activation}: {f} / output scale {scale!r} rounds to "
                f"2**31, whose conversion to int32 TFLite leaves undefined"
            )
    return activation_range(activation, scale, zero_point, type_name)


def legacy_quantization(tensor):
    """TFLite's per-tensor ``params`` (``GetLegacyQuantization``): the scale
    (float32) and zero point when the tensor has exactly one scale, else
    (0, 0)."""
    q = tensor.quantization
    if q.scales.size == 1 and q.zero_points.size == 1:
        return np.float32(q.scales[0]), int(q.zero_points[0])
    return np.float32(0.0), 0


def check_same_quantization(ctx, op, index: int, role: str, other: int, why: str) -> None:
    """Refuse a tensor whose legacy scale and zero point differ from
    ``other``'s (the output's), as TFLite's ``TF_LITE_ENSURE_EQ`` on
    ``params`` does; ``why`` ends the message."""
    (scale, zp), (o_scale, o_zp) = legacy_quantization(ctx.tensor(index)), \
        legacy_quantization(ctx.tensor(other))
    if scale != o_scale or zp != o_zp:
        raise ctx.error(
            op, f"{role} {ctx.label(index)} has scale {float(scale)!r} and zero point {zp}, "
            f"but the output {ctx.label(other)} has {float(o_scale)!r} and {o_zp}; {why}"
        )


def flat(array: np.ndarray) -> np.ndarray:
    """A 1-D view of a C-contiguous array, never a copy: a kernel writing
    through it writes the array itself. A strided array (a memory plan's
    view) would make ``reshape`` copy silently, so it is refused here; the
    operators that accept strided views walk them with a loop nest
    (int8sqz.ops._broadcast)."""
    if not array.flags.c_contiguous:
        raise InternalError(
            f"an array of shape {array.shape} and strides {array.strides} is not "
            f"C-contiguous, expected a contiguous one"
        )
    return array.reshape(-1)


__all__ = [
    "ModelError", "UnsupportedError", "INT_RANGES", "tflite_round", "to_int32",
    "quantize_multiplier",
    "activation_range", "fused_activation_range", "check_scale", "check_zero_point",
    "MAX_LEFT_SHIFT", "check_left_shift", "legacy_quantization", "check_same_quantization",
    "flat",
]
