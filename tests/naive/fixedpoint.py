"""TFLite's requantization arithmetic, spelled out with Python integers."""

import math

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def c_div(a: int, b: int) -> int:
    """Integer division truncating toward zero, as C does."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def srdhm(a: int, b: int) -> int:
    if a == b == INT32_MIN:
        return INT32_MAX
    ab = a * b
    nudge = 2**30 if ab >= 0 else 1 - 2**30
    return c_div(ab + nudge, 2**31)


def rdbpot(x: int, exponent: int) -> int:
    """x / 2**exponent rounded to nearest, ties away from zero."""
    if exponent == 0:
        return x
    lo, rem = divmod(abs(x), 2**exponent)
    r = lo + (1 if 2 * rem >= 2**exponent else 0)
    return r if x >= 0 else -r


def to_int32(x: int) -> int:
    return (x + 2**31) % 2**32 - 2**31


def mbqm(x: int, multiplier: int, shift: int) -> int:
    left = max(shift, 0)
    right = max(-shift, 0)
    return rdbpot(srdhm(to_int32(x * 2**left), multiplier), right)


def round_half_away(x: float) -> int:
    return int(math.copysign(math.floor(abs(x) + 0.5), x))
