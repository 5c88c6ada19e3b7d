"""MAX_POOL_2D and AVERAGE_POOL_2D on int8/uint8, as
``reference_integer_ops::MaxPool``/``AveragePool`` (and ``reference_ops`` for
uint8) do them: the window clamped to the image, the maximum starting from
the type's lowest value, the average rounded half away from zero by the
count of the window's pixels inside the image, then the activation clamp."""

import numpy as np

from .conv import out_size, pad_before
from .fixedpoint import c_div


def _windows(h, w, fh, fw, stride, padding):
    oh = out_size(h, fh, stride[0], 1, padding)
    ow = out_size(w, fw, stride[1], 1, padding)
    ph = pad_before(h, fh, stride[0], 1, oh)
    pw = pad_before(w, fw, stride[1], 1, ow)
    for oy in range(oh):
        y0 = oy * stride[0] - ph
        ys = range(max(0, y0), min(h, y0 + fh))
        for ox in range(ow):
            x0 = ox * stride[1] - pw
            xs = range(max(0, x0), min(w, x0 + fw))
            yield oy, ox, ys, xs


def _out(x, fh, fw, stride, padding):
    n, h, w, c = x.shape
    oh = out_size(h, fh, stride[0], 1, padding)
    ow = out_size(w, fw, stride[1], 1, padding)
    return np.zeros((n, oh, ow, c), x.dtype)


def max_pool(x, filt, stride, padding, act_min, act_max):
    x = np.asarray(x)
    out = _out(x, filt[0], filt[1], stride, padding)
    lowest = int(np.iinfo(x.dtype).min)
    for b in range(x.shape[0]):
        for oy, ox, ys, xs in _windows(x.shape[1], x.shape[2], filt[0], filt[1], stride, padding):
            for ch in range(x.shape[3]):
                m = lowest
                for iy in ys:
                    for ix in xs:
                        m = max(m, int(x[b, iy, ix, ch]))
                out[b, oy, ox, ch] = min(max(m, act_min), act_max)
    return out


def average_pool(x, filt, stride, padding, act_min, act_max):
    x = np.asarray(x)
    out = _out(x, filt[0], filt[1], stride, padding)
    for b in range(x.shape[0]):
        for oy, ox, ys, xs in _windows(x.shape[1], x.shape[2], filt[0], filt[1], stride, padding):
            count = len(ys) * len(xs)
            for ch in range(x.shape[3]):
                acc = sum(int(x[b, iy, ix, ch]) for iy in ys for ix in xs)
                # half away from zero, then C's truncating division
                acc = c_div(acc + count // 2, count) if acc > 0 else c_div(acc - count // 2, count)
                out[b, oy, ox, ch] = min(max(acc, act_min), act_max)
    return out
