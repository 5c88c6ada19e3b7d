"""Fixed-point requantization arithmetic, as in TFLite's ``common.h``.

Values are int32 quantities held in int64 variables; every function returns
what the int32 C++ code returns, with TFLite's default double rounding
(not ``TFLITE_SINGLE_ROUNDING``).
"""

from ._jit import kernel

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1


@kernel
def wrap_int32(x):
    """Two's complement wrap-around of an integer to int32."""
    return ((x + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


@kernel
def saturating_rounding_doubling_high_mul(a, b):
    """gemmlowp ``SaturatingRoundingDoublingHighMul`` on int32 a and b."""
    # the only product that overflows int32 after doubling saturates
    if a == INT32_MIN and b == INT32_MIN:
        return INT32_MAX
    ab = a * b
    # round half away from zero, then divide truncating toward zero as C does
    if ab >= 0:
        return (ab + (1 << 30)) >> 31
    return -((-(ab + 1 - (1 << 30))) >> 31)


@kernel
def rounding_divide_by_pot(x, exponent):
    """gemmlowp ``RoundingDivideByPOT``: x / 2**exponent, ties away from zero."""
    mask = (1 << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    # arithmetic shift floors; the remainder test turns it into round-half-away
    return (x >> exponent) + (1 if remainder > threshold else 0)


@kernel
def multiply_by_quantized_multiplier(x, multiplier, shift):
    """TFLite ``MultiplyByQuantizedMultiplier`` (double rounding)."""
    left = shift if shift > 0 else 0
    right = -shift if shift < 0 else 0
    # the left shift is done in int32 in C++; wrap as the hardware does
    v = wrap_int32(x * (1 << left))
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(v, multiplier), right)


@kernel
def multiply_by_quantized_multiplier_greater_than_one(x, multiplier, left_shift):
    """TFLite ``MultiplyByQuantizedMultiplierGreaterThanOne`` (left_shift >= 0)."""
    return saturating_rounding_doubling_high_mul(wrap_int32(x * (1 << left_shift)), multiplier)


@kernel
def vector_rescale(multiplier, shift, left_shift):
    """Whether kernels/simd.py's ``vrequantize`` computes
    ``MultiplyByQuantizedMultiplier(v << left_shift, multiplier, shift)``
    (the shift left by ``left_shift`` first, as ADD's inputs are): a
    multiplier in [0, 2**31) and shifts it takes (0..31 each way)."""
    return (0 <= multiplier < (1 << 31) and left_shift + max(shift, 0) <= 31
            and -shift <= 31)


@kernel
def clamp(x, lo, hi):
    if x < lo:
        return lo
    if x > hi:
        return hi
    return x


@kernel
def round_half_away(x):
    """``std::round`` of a float32 or float64 value, returned as float64."""
    # float64(x) + 0.5 is exact for every float32 x that is not already whole
    a = abs(float(x))
    r = float(int(a + 0.5)) if a < 4503599627370496.0 else a
    return r if x >= 0 else -r


@kernel
def float_to_int32(x):
    """``static_cast<int32_t>`` of a whole float value as x86 does it: NaN and
    values outside int32 become INT32_MIN (the "integer indefinite")."""
    if x != x or x < -2147483648.0 or x >= 2147483648.0:
        return INT32_MIN
    return int(x)
