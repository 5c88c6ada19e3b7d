"""ADD and MUL element by element with Python integers, from the scales and
zero points up, as TFLite's add.cc / mul.cc and their reference kernels do."""

import math

import numpy as np

from . import fixedpoint as fx


def quantize_multiplier(real: float):
    """real = m * 2**(shift - 31), m in [2**30, 2**31) (TFLite QuantizeMultiplier)."""
    if real == 0.0:
        return 0, 0
    frac, shift = math.frexp(real)
    m = fx.round_half_away(frac * 2.0**31)
    if m == 2**31:
        m //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return m, shift


def activation_range(activation, scale, zero_point, qmin, qmax):
    def q(f):
        return zero_point + fx.round_half_away(float(np.float32(f) / np.float32(scale)))

    lo, hi = {"NONE": (None, None), "RELU": (0.0, None), "RELU6": (0.0, 6.0),
              "RELU_N1_TO_1": (-1.0, 1.0)}[activation]
    return (qmin if lo is None else max(qmin, q(lo)), qmax if hi is None else min(qmax, q(hi)))


def add_multipliers(s1, s2, so):
    """(m1, shift1, m2, shift2, mo, shift_o) of ADD's 8-bit path."""
    s1, s2, so = np.float32(s1), np.float32(s2), np.float32(so)
    twice_max = float(np.float32(2.0) * max(s1, s2))  # float arithmetic, then widened
    r1 = float(s1) / twice_max
    r2 = float(s2) / twice_max
    ro = twice_max / float(np.float32(2.0**20) * so)
    return (*quantize_multiplier(r1), *quantize_multiplier(r2), *quantize_multiplier(ro))


def mul_multiplier(s1, s2, so):
    real = np.float32(np.float32(s1) * np.float32(s2)) / np.float32(so)  # all in float32
    return quantize_multiplier(float(real))


def _broadcast(x, y):
    return np.broadcast_arrays(np.asarray(x), np.asarray(y))


def _add_or_sub(x, y, s1, z1, s2, z2, so, zo, activation, qmin, qmax, sign):
    m1, e1, m2, e2, mo, eo = add_multipliers(s1, s2, so)
    lo, hi = activation_range(activation, so, zo, qmin, qmax)
    bx, by = _broadcast(x, y)
    out = []
    for u, v in zip(bx.reshape(-1).tolist(), by.reshape(-1).tolist()):
        a = fx.mbqm((u - z1) * 2**20, m1, e1)
        b = fx.mbqm((v - z2) * 2**20, m2, e2)
        out.append(min(max(fx.mbqm(a + sign * b, mo, eo) + zo, lo), hi))
    return np.array(out, np.int64).reshape(bx.shape)


def add(x, y, s1, z1, s2, z2, so, zo, activation, qmin, qmax):
    return _add_or_sub(x, y, s1, z1, s2, z2, so, zo, activation, qmin, qmax, 1)


def sub(x, y, s1, z1, s2, z2, so, zo, activation, qmin, qmax):
    """SUB: ADD's multipliers, the second rescaled input subtracted."""
    return _add_or_sub(x, y, s1, z1, s2, z2, so, zo, activation, qmin, qmax, -1)


def mul(x, y, s1, z1, s2, z2, so, zo, activation, qmin, qmax):
    m, e = mul_multiplier(s1, s2, so)
    lo, hi = activation_range(activation, so, zo, qmin, qmax)
    bx, by = _broadcast(x, y)
    out = [min(max(fx.mbqm((u - z1) * (v - z2), m, e) + zo, lo), hi)
           for u, v in zip(bx.reshape(-1).tolist(), by.reshape(-1).tolist())]
    return np.array(out, np.int64).reshape(bx.shape)


def _extremum(x, y, greater):
    bx, by = _broadcast(x, y)
    out = np.empty(bx.shape, bx.dtype)
    for idx in np.ndindex(bx.shape):
        u, v = bx[idx], by[idx]
        # the first value when the comparison holds, else the second (a NaN
        # compares false either way)
        out[idx] = u if (u > v if greater else u < v) else v
    return out


def maximum(x, y):
    """MAXIMUM of the stored values: ``x > y ? x : y``."""
    return _extremum(x, y, True)


def minimum(x, y):
    """MINIMUM of the stored values: ``x < y ? x : y``."""
    return _extremum(x, y, False)
