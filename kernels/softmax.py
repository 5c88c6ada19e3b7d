"""Quantized SOFTMAX and the gemmlowp fixed-point functions it needs.

A fixed-point value is its raw int32 held in an int64 variable; "Qm" below
means m integer bits and 31 - m fractional bits (gemmlowp's
``FixedPoint<int32_t, m>``). Each helper returns what the int32 C++ code
returns; gemmlowp's plain additions cannot overflow on the ranges the
softmax feeds them, except the sum of exponentials, which wraps as the
hardware does.
"""

import numpy as np

from ._jit import kernel
from .fixedpoint import (
    INT32_MAX, INT32_MIN, multiply_by_quantized_multiplier_greater_than_one,
    rounding_divide_by_pot, saturating_rounding_doubling_high_mul, wrap_int32,
)

_Q0_ONE = INT32_MAX  # gemmlowp's One() in Q0 saturates to the largest raw value


@kernel
def saturating_rounding_multiply_by_pot(x, exponent):
    """gemmlowp ``SaturatingRoundingMultiplyByPOT<exponent>`` on an int32."""
    if exponent == 0:
        return x
    if exponent < 0:
        return rounding_divide_by_pot(x, -exponent)
    threshold = (1 << (31 - exponent)) - 1
    if x > threshold:
        return INT32_MAX
    if x < -threshold:
        return INT32_MIN
    return x << exponent


@kernel
def rounding_half_sum(a, b):
    """gemmlowp ``RoundingHalfSum``: (a + b) / 2, ties away from zero."""
    s = a + b
    s += 1 if s >= 0 else -1
    # C division truncates toward zero
    return s // 2 if s >= 0 else -((-s) // 2)


@kernel
def exp_on_interval_between_negative_one_quarter_and_0_excl(a):
    """gemmlowp: exp(a) for a Q0 value a in [-1/4, 0), as Q0."""
    constant_term = 1895147668  # exp(-1/8)
    constant_1_over_3 = 715827883
    # Taylor expansion around -1/8: x = a + 1/8
    x = a + (1 << 28)
    x2 = saturating_rounding_doubling_high_mul(x, x)
    x3 = saturating_rounding_doubling_high_mul(x2, x)
    x4 = saturating_rounding_doubling_high_mul(x2, x2)
    x4_over_4 = rounding_divide_by_pot(x4, 2)
    poly = rounding_divide_by_pot(
        saturating_rounding_doubling_high_mul(x4_over_4 + x3, constant_1_over_3) + x2, 1)
    return constant_term + saturating_rounding_doubling_high_mul(constant_term, x + poly)


@kernel
def exp_on_negative_values(a, integer_bits):
    """gemmlowp ``exp_on_negative_values`` of a Q``integer_bits`` value a <= 0,
    as Q0 (``integer_bits`` <= 5, as the softmax uses it)."""
    fractional_bits = 31 - integer_bits
    one_quarter = 1 << (fractional_bits - 2)
    mask = one_quarter - 1
    a_mod_quarter_minus_one_quarter = (a & mask) - one_quarter
    result = exp_on_interval_between_negative_one_quarter_and_0_excl(
        saturating_rounding_multiply_by_pot(a_mod_quarter_minus_one_quarter, integer_bits))
    remainder = a_mod_quarter_minus_one_quarter - a
    # barrel shifter: multiply by exp(-2**e) for each bit of the remainder
    e = -2
    for multiplier in (1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242):
        if integer_bits > e and (remainder & (1 << (fractional_bits + e))) != 0:
            result = saturating_rounding_doubling_high_mul(result, multiplier)
        e += 1
    if a == 0:
        return _Q0_ONE
    return result


@kernel
def one_over_one_plus_x_for_x_in_0_1(a):
    """gemmlowp: 1 / (1 + a) for a Q0 value a in [0, 1), as Q0 (three
    Newton-Raphson steps in Q2)."""
    half_denominator = rounding_half_sum(a, _Q0_ONE)
    constant_48_over_17 = 1515870810
    constant_neg_32_over_17 = -1010580540
    x = constant_48_over_17 + saturating_rounding_doubling_high_mul(
        half_denominator, constant_neg_32_over_17)
    q2_one = 1 << 29
    for _ in range(3):
        half_denominator_times_x = saturating_rounding_doubling_high_mul(half_denominator, x)
        one_minus_half_denominator_times_x = q2_one - half_denominator_times_x
        # Q4 product rescaled to Q2
        x = x + saturating_rounding_multiply_by_pot(
            saturating_rounding_doubling_high_mul(x, one_minus_half_denominator_times_x), 2)
    # x / 2 reinterpreted as Q1, then rescaled to Q0
    return saturating_rounding_multiply_by_pot(x, 1)


@kernel
def count_leading_zeros32(x):
    """Leading zero bits of x as a uint32 (32 for 0)."""
    u = x & 0xFFFFFFFF
    n = 0
    bit = 1 << 31
    while n < 32 and (u & bit) == 0:
        n += 1
        bit >>= 1
    return n


@kernel
def get_reciprocal(x, x_integer_digits):
    """TFLite ``GetReciprocal``: returns (raw Q0 of 2**-num_bits_over_unit / x
    scaled into [1/2, 1], num_bits_over_unit) for a positive Q``x_integer_digits`` x."""
    headroom_plus_one = count_leading_zeros32(x)
    num_bits_over_unit = x_integer_digits - headroom_plus_one
    # uint32 shift and subtraction, reinterpreted as int32
    shifted_sum_minus_one = wrap_int32(((x & 0xFFFFFFFF) << headroom_plus_one) - (1 << 31))
    return one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one), num_bits_over_unit


@kernel
def row_max(x, base, depth):
    """The largest of ``x[base:base + depth]`` (``depth`` >= 1), as int64."""
    top = np.int64(x[base])
    for c in range(1, depth):
        v = np.int64(x[base + c])
        if v > top:
            top = v
    return top


@kernel
def softmax_quantized(x, depth, input_multiplier, input_left_shift, diff_min, out_min, out_max,
                      out):
    """Follows ``reference_ops::Softmax`` (the quantized template, int8/uint8
    in and out) over rows of ``depth`` elements of the flat arrays x and out.

    Differences are rescaled to Q5.26, their exponentials summed in Q12.19.
    The output is in units of 1/256 offset by ``out_min`` whatever the
    output tensor's quantization (TFLite's prepare requires 1/256, -128 for
    int8). Returns the number of rows where TFLite's ``TFLITE_CHECK`` on the
    output exponent fails (the reference aborts there); those rows are left
    unwritten.
    """
    score_integer_bits = 5
    accumulation_integer_bits = 12
    out_bits = 8
    failed = 0
    rows = x.size // depth if depth > 0 else 0
    for i in range(rows):
        base = i * depth
        max_in_row = row_max(x, base, depth)

        sum_of_exps = 0
        for c in range(depth):
            input_diff = np.int64(x[base + c]) - max_in_row
            if input_diff >= diff_min:
                scaled = multiply_by_quantized_multiplier_greater_than_one(
                    input_diff, input_multiplier, input_left_shift)
                e = exp_on_negative_values(scaled, score_integer_bits)
                # Q0 -> Q12 rescale; the int32 accumulation wraps
                sum_of_exps = wrap_int32(
                    sum_of_exps + rounding_divide_by_pot(e, accumulation_integer_bits))

        shifted_scale, num_bits_over_unit = get_reciprocal(sum_of_exps, accumulation_integer_bits)
        exponent = num_bits_over_unit + 31 - out_bits
        if exponent < 0 or exponent > 31:
            failed += 1
            continue

        for c in range(depth):
            input_diff = np.int64(x[base + c]) - max_in_row
            if input_diff >= diff_min:
                scaled = multiply_by_quantized_multiplier_greater_than_one(
                    input_diff, input_multiplier, input_left_shift)
                e = exp_on_negative_values(scaled, score_integer_bits)
                unsat = rounding_divide_by_pot(
                    saturating_rounding_doubling_high_mul(shifted_scale, e), exponent)
                v = unsat + out_min
                if v > out_max:
                    v = out_max
                if v < out_min:
                    v = out_min
                out[base + c] = v
            else:
                out[base + c] = out_min
    return failed
