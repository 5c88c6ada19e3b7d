"""CONCATENATION with NumPy copies and, for uint8 inputs quantized unlike the
output, TFLite's float32 rescaling spelled out one element at a time."""

import numpy as np

from . import fixedpoint as fx


def rescale_uint8(x, in_scale, in_zp, out_scale, out_zp):
    """ConcatenationWithScaling's float path, one float32 operation at a time."""
    with np.errstate(all="ignore"):
        inverse = np.float32(1.0) / np.float32(out_scale)
        scale = np.float32(np.float32(in_scale) * inverse)
        bias = np.float32(np.float32(-in_zp) * scale)
        out = []
        for v in np.asarray(x).reshape(-1).tolist():
            f = np.float32(np.float32(v) * scale)
            f = np.float32(f + bias)
            if np.isnan(f):
                q = fx.INT32_MIN
            else:
                r = fx.round_half_away(float(f)) if np.isfinite(f) else None
                q = r if r is not None and fx.INT32_MIN <= r <= fx.INT32_MAX else fx.INT32_MIN
            out.append(min(max(q + out_zp, 0), 255))
    return np.array(out, np.uint8).reshape(np.shape(x))


def concatenate(arrays, axis, params=None, out_params=None):
    """``params``: (scale, zero_point) per input and ``out_params`` for the
    output, used for uint8 only (an input whose pair equals the output's is
    copied)."""
    parts = []
    for k, a in enumerate(arrays):
        a = np.asarray(a)
        if a.dtype == np.uint8 and params is not None and \
                (params[k][1] != out_params[1] or np.float32(params[k][0]) != np.float32(out_params[0])):
            a = rescale_uint8(a, params[k][0], params[k][1], out_params[0], out_params[1])
        parts.append(a)
    return np.concatenate(parts, axis=axis)


def round_unfused(value, in_scale, in_zp, out_scale):
    """``round(value * scale + bias)`` with a float32 rounding after each
    operation (before the cast to int32 and the output zero point)."""
    inverse = np.float32(1.0) / np.float32(out_scale)
    scale = np.float32(np.float32(in_scale) * inverse)
    bias = np.float32(np.float32(-in_zp) * scale)
    return fx.round_half_away(float(np.float32(np.float32(np.float32(value) * scale) + bias)))


def round_fused(value, in_scale, in_zp, out_scale):
    """The same with a fused multiply-add: one rounding of the exact
    ``value * scale + bias`` to float32."""
    from fractions import Fraction

    inverse = np.float32(1.0) / np.float32(out_scale)
    scale = np.float32(np.float32(in_scale) * inverse)
    bias = np.float32(np.float32(-in_zp) * scale)
    exact = Fraction(int(value)) * Fraction(float(scale)) + Fraction(float(bias))
    guess = np.float32(float(exact))
    candidates = [np.nextafter(guess, np.float32(-np.inf)), guess, np.nextafter(guess, np.float32(np.inf))]
    # nearest float32, ties to the even significand
    best = min(candidates, key=lambda c: (abs(Fraction(float(c)) - exact),
                                          int(np.array(c, np.float32).view(np.uint32)) & 1))
    return fx.round_half_away(float(best))
