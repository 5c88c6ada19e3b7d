"""Quantized softmax as TFLite's reference computes it: gemmlowp fixed point
spelled out with Python integers (raw int32 values; "Qm" = m integer bits)."""

import numpy as np

from naive.fixedpoint import INT32_MAX, INT32_MIN, c_div, rdbpot, srdhm, to_int32


def shift_left_saturating(x, e):
    """``SaturatingRoundingMultiplyByPOT<e>`` for e > 0."""
    return max(INT32_MIN, min(INT32_MAX, x * 2**e))


def exp_quarter(a):
    """exp(a) for Q0 a in [-1/4, 0): Taylor series around -1/8."""
    c = 1895147668  # exp(-1/8) in Q0
    x = a + 2**28
    x2 = srdhm(x, x)
    x3 = srdhm(x2, x)
    x4 = srdhm(x2, x2)
    tail = rdbpot(srdhm(rdbpot(x4, 2) + x3, 715827883) + x2, 1)
    return c + srdhm(c, x + tail)


# exp(-1/4), exp(-1/2), exp(-1), exp(-2), exp(-4), exp(-8), exp(-16) in Q0
EXP_OF_MINUS_POWERS = [(-2, 1672461947), (-1, 1302514674), (0, 790015084), (1, 290630308),
                       (2, 39332535), (3, 720401), (4, 242)]


def exp_negative(a, integer_bits=5):
    """exp(a) for a Q``integer_bits`` a <= 0, as Q0."""
    if a == 0:
        return INT32_MAX
    frac = 31 - integer_bits
    quarter = 2 ** (frac - 2)
    r = (a % quarter) - quarter  # a mod 1/4, moved into [-1/4, 0)
    result = exp_quarter(shift_left_saturating(r, integer_bits))
    remainder = r - a
    for e, m in EXP_OF_MINUS_POWERS:
        if integer_bits > e and (remainder >> (frac + e)) & 1:
            result = srdhm(result, m)
    return result


def one_over_one_plus_x(a):
    """1 / (1 + a) for Q0 a in [0, 1): Newton-Raphson in Q2."""
    half_den = c_div(a + INT32_MAX + (1 if a + INT32_MAX >= 0 else -1), 2)
    x = 1515870810 + srdhm(half_den, -1010580540)  # 48/17 - 32/17 * d
    for _ in range(3):
        err = 2**29 - srdhm(half_den, x)
        x = x + shift_left_saturating(srdhm(x, err), 2)
    return shift_left_saturating(x, 1)


def reciprocal(total, integer_bits):
    """``GetReciprocal``: (Q0 scale, num_bits_over_unit)."""
    u = total % 2**32
    headroom = 32 - u.bit_length()
    shifted = to_int32(((u << headroom) % 2**32) - 2**31)
    return one_over_one_plus_x(shifted), integer_bits - headroom


def softmax(x, multiplier, left_shift, diff_min, out_min, out_max):
    """Rows along the last axis. Returns (output, rows where TFLite aborts)."""
    x = np.asarray(x)
    depth = x.shape[-1]
    rows = x.reshape(-1, depth) if depth else x.reshape(0, 0)
    out = np.zeros(rows.shape, np.int64)
    aborted = 0
    for i, row in enumerate(rows):
        row = [int(v) for v in row]
        top = max(row)
        exps = []
        for v in row:
            d = v - top
            if d >= diff_min:
                exps.append(exp_negative(srdhm(to_int32(d * 2**left_shift), multiplier)))
            else:
                exps.append(None)
        total = 0
        for e in exps:
            if e is not None:
                total = to_int32(total + rdbpot(e, 12))
        scale, bits = reciprocal(total, 12)
        exponent = bits + 31 - 8
        if not 0 <= exponent <= 31:
            aborted += 1
            continue
        for c, e in enumerate(exps):
            if e is None:
                out[i, c] = out_min
            else:
                out[i, c] = min(max(rdbpot(srdhm(scale, e), exponent) + out_min, out_min), out_max)
    return out.reshape(x.shape), aborted
