"""FULLY_CONNECTED, spelled out as TFLite's reference kernels with scales
compute it (``reference_integer_ops::FullyConnected`` /
``FullyConnectedPerChannel``, ``reference_ops::FullyConnected``): the
flattened input cut into rows of K, the int32 sum of (w + weights_offset)
* (x + input_offset), the bias, then ``round(acc * scale)`` with Python
floats (IEEE doubles, as C's), a value outside int32 becoming INT32_MIN
(x86's conversion), the output offset added with int32 wrapping."""

import math

import numpy as np

from naive.fixedpoint import INT32_MIN, to_int32


def round_half_away(v: float) -> float:
    """std::round on a double."""
    if math.isnan(v) or math.isinf(v):
        return v
    t = float(math.trunc(v))
    if abs(v - t) >= 0.5:
        t += math.copysign(1.0, v)
    return t


def fully_connected(x, weights, bias, *, scales, input_offset, weights_offset,
                    output_offset, act_min, act_max, out_dtype=np.int8):
    """x: any shape, flattened (elements past the last whole row of K are
    not read); weights [units, K]; bias [units] or None; ``scales`` one
    effective scale (input * weights / output, as Python floats) per unit.
    Returns [rows, units]."""
    w = np.asarray(weights).astype(np.int64)
    units, depth = w.shape
    flat = np.asarray(x).reshape(-1).astype(np.int64)
    rows = flat.size // depth
    out = np.zeros((rows, units), np.int64)
    for r in range(rows):
        row = flat[r * depth:(r + 1) * depth]
        for u in range(units):
            acc = 0
            for d in range(depth):
                acc += (int(w[u, d]) + weights_offset) * (int(row[d]) + input_offset)
            acc = to_int32(acc)
            if bias is not None:
                acc = to_int32(acc + int(bias[u]))
            v = round_half_away(float(acc) * float(scales[u]))
            q = int(v) if -(2.0**31) <= v < 2.0**31 else INT32_MIN
            q = to_int32(q + output_offset)
            out[r, u] = min(max(q, act_min), act_max)
    return out.astype(out_dtype)
