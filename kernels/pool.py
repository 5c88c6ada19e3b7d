"""MAX_POOL_2D and AVERAGE_POOL_2D on int8 and uint8.

One output row at a time: the row's results are accumulated over the
windows (clamped to the image, as the reference clamps them) into the
scratch ``row`` [OW, C] (the maxima in the input's type, the averages' sums
in int32), then clamped to the activation range and written. The channel
axis is the inner loop, so it vectorizes when the arrays are contiguous.

Aliasing rule (both kernels): outputs are produced in row-major order
(batch, then output row y, then x); every input row that output row y needs
is read before any element of output row y is written, and nothing outside
output row y is written while it is produced. ``x`` and ``out`` may be
strided views; both are indexed 4-D, never reshaped.
"""

from typing import NamedTuple

import numpy as np

from ._jit import kernel
from .simd import vload, vmax8, vmaxu8, vsplat, vstore


class PoolParams(NamedTuple):
    """The integers both kernels read (every field a Python int, so that numba
    sees one type, a tuple of int64). The kernels take ``tuple(params)`` (or
    a PoolParams: numba types a plain tuple of ints in C when it dispatches
    a call, a named one in Python, a microsecond a call)."""

    stride_h: int
    stride_w: int
    filter_h: int
    filter_w: int
    pad_h: int  # rows of padding above the image
    pad_w: int  # columns of padding left of it
    act_min: int
    act_max: int
    lowest: int  # the type's lowest value, where a maximum starts


@kernel
def _write_row(row, out, b, oy, act_min, act_max):
    orow = out[b, oy]
    for ox in range(out.shape[2]):
        r = row[ox]
        o = orow[ox]
        for c in range(out.shape[3]):
            o[c] = min(max(r[c], act_min), act_max)


@kernel
def max_pool_rows(x, x_row0, in_h, out, out_row0, b, first, last, fields, row):
    """Output rows ``first..last - 1`` of image b of :func:`max_pool_2d`:
    ``x``'s row 0 is the input's row ``x_row0`` (it holds every row those
    windows read), ``out``'s row 0 the output's row ``out_row0``; windows are
    clamped to the image of ``in_h`` rows (streaming runs a band this way)."""
    params = PoolParams(*fields)
    in_w = x.shape[2]
    channels = x.shape[3]
    stride_h = params.stride_h
    stride_w = params.stride_w
    filt_h = params.filter_h
    filt_w = params.filter_w
    lowest = params.lowest
    # 64 or more one-byte channels: each block of 64 channels of an output
    # pixel's maximum held in a register over the whole window, the last
    # block ending at the last channel (it may cover channels the block
    # before did: the same maxima, stored again)
    wide = (row.itemsize == 1 and channels >= 64 and row.strides[1] == 1
            and row.strides[0] == channels)
    if wide:
        # the image's bytes (a copy only when x is a strided view)
        image = np.ascontiguousarray(x[b]).reshape(-1)
        flat_row = row.reshape(-1)
        start = vsplat((lowest & 0xFF) * 0x01010101)
        last_block = channels - 64
    for oy in range(first, last):
        y0 = oy * stride_h - params.pad_h
        fy0 = max(0, -y0)
        fy1 = min(filt_h, in_h - y0)
        if wide:
            for ox in range(out.shape[2]):
                x0 = ox * stride_w - params.pad_w
                fx0 = max(0, -x0)
                fx1 = min(filt_w, in_w - x0)
                c = 0
                while True:
                    m = start
                    for fy in range(fy0, fy1):
                        p = ((y0 + fy - x_row0) * in_w + x0) * channels + c
                        for fx in range(fx0, fx1):
                            if lowest < 0:
                                m = vmax8(m, vload(image, p + fx * channels))
                            else:
                                m = vmaxu8(m, vload(image, p + fx * channels))
                    vstore(flat_row, ox * channels + c, m)
                    if c == last_block:
                        break
                    c = min(c + 64, last_block)
            _write_row(row, out, b, oy - out_row0, params.act_min, params.act_max)
            continue
        for ox in range(out.shape[2]):
            x0 = ox * stride_w - params.pad_w
            fx0 = max(0, -x0)
            fx1 = min(filt_w, in_w - x0)
            r = row[ox]
            for c in range(channels):
                r[c] = lowest
            for fy in range(fy0, fy1):
                src = x[b, y0 + fy - x_row0]
                for fx in range(fx0, fx1):
                    s = src[x0 + fx]
                    for c in range(channels):
                        r[c] = max(r[c], s[c])
        _write_row(row, out, b, oy - out_row0, params.act_min, params.act_max)


@kernel
def max_pool_2d(x, out, fields, row):
    """Follows ``reference_integer_ops::MaxPool`` (int8) and
    ``reference_ops::MaxPool`` (uint8): the maximum over the window's pixels
    inside the image, starting from the type's lowest value
    (``params.lowest``), then the activation clamp."""
    for b in range(out.shape[0]):
        max_pool_rows(x, 0, x.shape[1], out, 0, b, 0, out.shape[1], fields, row)


@kernel
def average_pool_rows(x, x_row0, in_h, out, out_row0, b, first, last, fields, row):
    """Output rows ``first..last - 1`` of image b of :func:`average_pool_2d`,
    the arrays' rows counted from ``x_row0`` and ``out_row0`` as in
    :func:`max_pool_rows`."""
    params = PoolParams(*fields)
    in_w = x.shape[2]
    channels = x.shape[3]
    stride_h = params.stride_h
    stride_w = params.stride_w
    filt_h = params.filter_h
    filt_w = params.filter_w
    for oy in range(first, last):
        y0 = oy * stride_h - params.pad_h
        fy0 = max(0, -y0)
        fy1 = min(filt_h, in_h - y0)
        for ox in range(out.shape[2]):
            x0 = ox * stride_w - params.pad_w
            fx0 = max(0, -x0)
            fx1 = min(filt_w, in_w - x0)
            r = row[ox]
            for c in range(channels):
                r[c] = 0
            for fy in range(fy0, fy1):
                src = x[b, y0 + fy - x_row0]
                for fx in range(fx0, fx1):
                    s = src[x0 + fx]
                    for c in range(channels):
                        # the int32 sum wraps: added in int64 (as numba
                        # does), cast back (so that NumPy wraps too)
                        r[c] = np.int32(np.int64(r[c]) + s[c])
            count = max(fy1 - fy0, 0) * max(fx1 - fx0, 0)
            if count == 0:
                continue
            half = count // 2
            for c in range(channels):
                acc = np.int64(r[c])
                # the reference's C division truncates toward zero
                if acc > 0:
                    r[c] = (acc + half) // count
                else:
                    r[c] = -((half - acc) // count)
        _write_row(row, out, b, oy - out_row0, params.act_min, params.act_max)


@kernel
def average_pool_2d(x, out, fields, row):
    """Follows ``reference_integer_ops::AveragePool`` (int8) and
    ``reference_ops::AveragePool`` (uint8): the sum over the window's pixels
    inside the image divided by their count, rounded half away from zero,
    then the activation clamp. Prepare guarantees every window holds a pixel
    (the reference fails at run time otherwise)."""
    for b in range(out.shape[0]):
        average_pool_rows(x, 0, x.shape[1], out, 0, b, 0, out.shape[1], fields, row)
