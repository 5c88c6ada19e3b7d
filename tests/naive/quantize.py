"""QUANTIZE / DEQUANTIZE element by element with Python numbers."""

import numpy as np

from . import fixedpoint as fx


def affine_quantize(x, scale, zero_point, qmin, qmax):
    out = []
    for v in np.asarray(x, np.float32).reshape(-1):
        q = np.float32(v) / np.float32(scale)  # float32 division, as C++
        if np.isnan(q) or not -(2.0**31) <= float(q) < 2.0**31:
            r = fx.INT32_MIN
        else:
            r = fx.round_half_away(float(q))
            if not -(2**31) <= r < 2**31:
                r = fx.INT32_MIN
        out.append(min(max(fx.to_int32(r + zero_point), qmin), qmax))
    return np.array(out).reshape(np.shape(x))


def requantize(x, in_zp, multiplier, shift, out_zp, qmin, qmax):
    flat = [min(max(fx.mbqm(int(v) - in_zp, multiplier, shift) + out_zp, qmin), qmax)
            for v in np.asarray(x).reshape(-1)]
    return np.array(flat).reshape(np.shape(x))


def dequantize(x, zero_point, scale):
    flat = [np.float32(float(scale) * (int(v) - zero_point)) for v in np.asarray(x).reshape(-1)]
    return np.array(flat, np.float32).reshape(np.shape(x))
