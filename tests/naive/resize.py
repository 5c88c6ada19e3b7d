"""RESIZE_BILINEAR pixel by pixel, as TFLite's reference_ops::ResizeBilinear
(float arithmetic: float32 and uint8) and ResizeBilinearInteger (int8)
compute it, recomputing the source position of every pixel."""

import math

import numpy as np

from .fixedpoint import c_div


def _float_position(v, in_size, out_size, align_corners, half_pixel):
    f = np.float32
    scale = f(in_size) / f(out_size)
    if align_corners and out_size > 1:
        scale = f(in_size - 1) / f(out_size - 1)
    pos = (f(v) + f(0.5)) * scale - f(0.5) if half_pixel else f(v) * scale
    lower = max(int(math.floor(pos)), 0)
    upper = min(int(math.ceil(pos)), in_size - 1)
    return pos, lower, upper


def resize_bilinear_float(x, out_h, out_w, align_corners, half_pixel):
    """Per output element the four corners weighted in float32, summed left
    to right plus 0.5 (integer types, then truncated) or 0.0 (float32). Where
    two summands are NaN the reference keeps the top-left one in the first
    addition and the later one after that."""
    x = np.asarray(x)
    n, in_h, in_w, depth = x.shape
    integer = x.dtype.kind in "iu"
    out = np.zeros((n, out_h, out_w, depth), x.dtype)
    f = np.float32
    for b in range(n):
        for y in range(out_h):
            py, y0, y1 = _float_position(y, in_h, out_h, align_corners, half_pixel)
            for xx in range(out_w):
                px, x0, x1 = _float_position(xx, in_w, out_w, align_corners, half_pixel)
                fy, fx = f(py - f(y0)), f(px - f(x0))
                gy, gx = f(f(1) - fy), f(f(1) - fx)
                for c in range(depth):
                    with np.errstate(invalid="ignore", over="ignore"):
                        t = [f(x[b, y0, x0, c]) * gy * gx, f(x[b, y1, x0, c]) * fy * gx,
                             f(x[b, y0, x1, c]) * gy * fx, f(x[b, y1, x1, c]) * fy * fx]
                        s = t[0] + t[1]
                        if t[0] != t[0] and t[1] != t[1]:
                            s = t[0]
                        for term in t[2:]:
                            s2 = s + term
                            s = term if (s != s and term != term) else s2
                        s = s + (f(0.5) if integer else f(0.0))
                    out[b, y, xx, c] = int(s) if integer else s
    return out


def _integer_position(v, in_size, out_size, align_corners, half_pixel):
    if align_corners and out_size > 1:
        scale = c_div(1024 * (in_size - 1) + (out_size - 1) // 2, out_size - 1)
    else:
        scale = c_div(1024 * in_size + out_size // 2, out_size)
    pos = v * scale + (scale // 2 - 512 if half_pixel else 0)
    return pos, max(c_div(pos, 1024), 0), min(c_div(pos + 1023, 1024), in_size - 1)


def resize_bilinear_integer(x, out_h, out_w, align_corners, half_pixel):
    """Weights in 1/1024; the four products summed in 2**-20 and divided by
    2**20, rounding half away from zero."""
    x = np.asarray(x)
    n, in_h, in_w, depth = x.shape
    out = np.zeros((n, out_h, out_w, depth), x.dtype)
    for b in range(n):
        for y in range(out_h):
            py, y0, y1 = _integer_position(y, in_h, out_h, align_corners, half_pixel)
            for xx in range(out_w):
                px, x0, x1 = _integer_position(xx, in_w, out_w, align_corners, half_pixel)
                dy, dx = py - 1024 * y0, px - 1024 * x0
                for c in range(depth):
                    total = (int(x[b, y0, x0, c]) * (1024 - dy) * (1024 - dx)
                             + int(x[b, y1, x0, c]) * dy * (1024 - dx)
                             + int(x[b, y0, x1, c]) * (1024 - dy) * dx
                             + int(x[b, y1, x1, c]) * dy * dx)
                    total += 2**19 if total > 0 else -(2**19)
                    out[b, y, xx, c] = c_div(total, 2**20)
    return out
