"""RELU, RELU6 and LOGISTIC element by element with Python numbers, as
TFLite's activations.cc computes them."""

import ctypes
import ctypes.util
import math

import numpy as np

from . import fixedpoint as fx
from .elementwise import quantize_multiplier

RANGES = {"INT8": (-128, 127), "UINT8": (0, 255)}


def relu_quantized(x, in_q, out_q, type_name, upper):
    """``QuantizedReluX``: bounds from the output quantization (``upper``
    None: RELU's open top), the multiplier from the float32 ratio of scales."""
    (s_in, z_in), (s_out, z_out) = in_q, out_q
    qmin, qmax = RANGES[type_name]
    m, e = quantize_multiplier(float(np.float32(s_in) / np.float32(s_out)))
    lo = max(qmin, z_out + fx.round_half_away(float(np.float32(0.0) / np.float32(s_out))))
    hi = qmax if upper is None else \
        min(qmax, z_out + fx.round_half_away(float(np.float32(upper) / np.float32(s_out))))
    out = []
    for v in np.asarray(x).reshape(-1).tolist():
        r = fx.to_int32(z_out + fx.mbqm(v - z_in, m, e))
        out.append(min(max(r, lo), hi))
    return np.array(out, np.int64).reshape(np.shape(x))


def relu_float(x, upper):
    """float32 RELU (``upper`` None) and RELU6: NaN and -0.0 pass through,
    anything below zero becomes +0.0."""
    out = np.array(x, np.float32, copy=True).reshape(-1)
    for i, v in enumerate(out.tolist()):
        if upper is not None and v > upper:
            out[i] = np.float32(upper)
        elif v < 0.0:
            out[i] = np.float32(0.0)
    return out.reshape(np.shape(x))


def _libm_expf():
    lib = ctypes.CDLL(ctypes.util.find_library("m"))
    f = lib.expf
    f.restype, f.argtypes = ctypes.c_float, [ctypes.c_float]
    return f


def logistic(x, in_q, out_zero_point, type_name):
    """TFLite's sigmoid table, entry by entry in float32 (the C library's
    expf), then looked up."""
    expf = _libm_expf()
    s_in, z_in = in_q
    qmin, qmax = RANGES[type_name]
    entries = {}
    for q in range(qmin, qmax + 1):
        with np.errstate(over="ignore"):
            d = np.float32(s_in) * np.float32(q - z_in)
            s = np.float32(1.0) / (np.float32(1.0) + np.float32(expf(-float(d))))
        r = math.floor(abs(float(s) * 256.0) + 0.5)  # s * 256 is exact; round half away
        entries[q] = min(max(int(np.float32(r) + np.float32(out_zero_point)), qmin), qmax)
    return np.array([entries[int(v)] for v in np.asarray(x).reshape(-1)],
                    np.int64).reshape(np.shape(x))
