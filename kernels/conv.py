"""CONV_2D on int8 (per-channel or per-tensor filter scales, groups), as an
integer matrix product (kernels/gemm.py).

The output is made in blocks of whole output rows (``params.block_rows``
rows, the last block of an image may have fewer), one group of channels
at a time, in three steps:

1. pack: each output pixel of the block gets a row of ``a`` (uint8), its
   window in the filter's (ky, kx, channel) order: ``x + 128`` for a tap in
   the image, ``128 - input_offset`` (the input zero point + 128) for a tap
   in the padding;
2. ``acc = a x filter`` in wrapping int32 (:func:`gemm.gemm_u8s8`);
3. requantize: ``acc + bias`` to int8 with the channel's multiplier and
   shift, clamped, written to the output pixel.

Why this is the reference's sum: with ``zp`` the input zero point, a tap in
the image contributes ``(x + 128) * w = (x - zp) * w + (128 + zp) * w`` and a
tap in the padding ``(zp + 128) * w = 0 + (128 + zp) * w``, while the
reference adds ``(x - zp) * w`` for taps in the image and nothing for the
others. The difference, ``(128 + zp) * sum(w)`` over the channel's whole
filter, is the same for every pixel: :func:`constants` folds it into ``bias``
(``bias - (128 + zp) * sum(w)``, wrapped to int32). Every product is an exact
integer and int32 addition is associative modulo 2**32, so ``acc + bias``
is the reference's wrapped int32 accumulator plus bias, bit for bit.

Aliasing rule: outputs are produced in row-major order (batch, then output
row y, then x) in blocks of whole rows; every input row that a block's
output rows need is read (packed into ``a``) before any element of the
block is written, and nothing outside the block's rows is written while
it is produced. So, for each output row y, every input row that row needs
is read before any element of output row y is written. A planner may
overlap ``out`` with ``x`` as long as writing output rows 0..y never
clobbers an input row that a later output row reads. This holds only when
the blocks run one after the other (one thread): the operator runs an
overlapping input and output on one thread.
"""

import math
from typing import NamedTuple

import numpy as np

from . import gemm
from ._jit import kernel
from .gemm import gemm_u8s8
from .pool import PoolParams, max_pool_rows
from .simd import (
    aligned_copy, aligned_full, vload, vrequantize, vsplat, vstore, vstore_bytes, vwiden,
)


class ConvParams(NamedTuple):
    """The integers :func:`conv_2d` reads (every field a Python int, so that
    numba sees one type, a tuple of int64); :func:`layout` makes them."""

    stride_h: int
    stride_w: int
    dilation_h: int
    dilation_w: int
    pad_h: int  # rows of padding above the image
    pad_w: int  # columns of padding left of it
    filter_h: int
    filter_w: int
    output_offset: int  # the output zero point
    act_min: int
    act_max: int
    block_rows: int  # output rows per block
    padded_w: int  # pixels per row of the padded image ``xpad``
    direct: int  # 1: the windows are read straight from ``xpad`` (no ``a``)


@kernel
def _fill_padded(x, b, iy_begin, iy_end, params, xpad, x_row0, p_row0):
    """Input rows iy_begin..iy_end - 1 of image b into the padded image,
    where ``x``'s row 0 is the image's row ``x_row0`` and ``xpad``'s row 0
    the padded image's row ``p_row0``:
    xpad[(pad_h + iy - p_row0) * Wp + pad_w + ix, c] = x[b, iy - x_row0, ix, c] + 128."""
    in_w = x.shape[2]
    channels = x.shape[3]
    wp_ = params.padded_w
    flat = xpad.reshape(-1)
    for iy in range(iy_begin, iy_end):
        # the row's bytes in memory order (a copy only when x is a strided
        # view), so that one loop of bytes runs over the whole row
        src = np.ascontiguousarray(x[b, iy - x_row0]).reshape(-1)
        p0 = ((params.pad_h + iy - p_row0) * wp_ + params.pad_w) * channels
        dst = flat[p0:p0 + in_w * channels]
        # int8 + 128 in 0..255 (the byte x ^ 0x80), added in int64 (an int8
        # scalar + 128 overflows in NumPy: numba widens it anyway)
        for k in range(src.size):
            dst[k] = np.uint8(np.int64(src[k]) + 128)


@kernel
def _pack(xpad, p_row0, oy0, n_rows, out_w, c0, cin_g, params, a):
    """a[p, (ky * KW + kx) * cin_g + c] = the padded image's pixel under tap
    (ky, kx) of output pixel p (rows oy0..oy0 + n_rows - 1, row-major),
    channels c0..c0 + cin_g - 1; ``xpad``'s row 0 is the padded image's row
    ``p_row0``.

    A filter row's taps that are adjacent in the padded image (no dilation,
    one group) are copied 16, 32 or 64 bytes at a time (16 or 32 when the
    row has at most that many bytes: an RGB image's 3x3 or 7x7 window), the
    last copy running up to 63 bytes past the taps: into the next filter
    row's or pixel's place (written next, since they are written in
    order), the window's padding (multiplied by zero weights) or the spare
    bytes at the end of ``a``; it reads as far past the taps, into the
    spare bytes of ``xpad``."""
    channels = xpad.shape[1]
    src = xpad.reshape(-1)
    dst = a.reshape(-1)
    kp = a.shape[1]
    stride_h = params.stride_h
    stride_w = params.stride_w
    dil_h = params.dilation_h
    dil_w = params.dilation_w
    filt_h = params.filter_h
    filt_w = params.filter_w
    wp_ = params.padded_w
    run = filt_w * cin_g
    adjacent = dil_w == 1 and cin_g == channels
    p = 0
    for oy in range(oy0, oy0 + n_rows):
        for ox in range(out_w):
            for ky in range(filt_h):
                pix = (oy * stride_h + ky * dil_h - p_row0) * wp_ + ox * stride_w
                d = p * kp + ky * run
                if adjacent and run <= 16:
                    vstore_bytes(dst, d, vwiden(src, pix * channels), 16)
                elif adjacent and run <= 32:
                    s = pix * channels
                    vstore_bytes(dst, d, vwiden(src, s), 16)
                    vstore_bytes(dst, d + 16, vwiden(src, s + 16), 16)
                elif adjacent:
                    s = pix * channels
                    for off in range(0, run, 64):
                        vstore(dst, d + off, vload(src, s + off))
                else:
                    for kx in range(filt_w):
                        s = (pix + kx * dil_w) * channels + c0
                        dk = d + kx * cin_g
                        for c in range(cin_g):
                            dst[dk + c] = src[s + c]
            p += 1


@kernel
def _requantize(acc, p0, bias, multiplier, left, right, params, out, b, oy, c0, n):
    """out[b, oy, ox, c0 + j] = clamp(MultiplyByQuantizedMultiplier(acc[p0 + ox, j]
    + bias[c0 + j]) + output_offset) for j < n, with multipliers in [0, 2**31)
    (never INT32_MIN, so the doubling high multiply never saturates), without
    branches."""
    out_offset = params.output_offset
    act_min = params.act_min
    act_max = params.act_max
    # channel slices indexed from 0 by a range: no negative-index fix-ups, so
    # the loop vectorizes
    bs = bias[c0:c0 + n]
    ms = multiplier[c0:c0 + n]
    ls = left[c0:c0 + n]
    rs = right[c0:c0 + n]
    orow = out[b, oy]
    for ox in range(out.shape[2]):
        r = acc[p0 + ox]
        o = orow[ox, c0:c0 + n]
        for j in range(n):
            # the reference adds the bias to its int32 accumulator: wrap as int32
            # does (the sum taken in int64, as numba does and NumPy would not)
            v = np.int64(np.int32(np.int64(r[j]) + bs[j]))
            # the left shift is done in int32 in C++: wrap again
            v = np.int64(np.int32(v << np.int64(ls[j])))
            ab = v * np.int64(ms[j])
            # round half away from zero, then divide by 2**31 truncating toward zero
            ab = ab + ((1 << 30) - ((ab >> 63) & 0x7FFFFFFF))
            high = (ab + ((ab >> 63) & 0x7FFFFFFF)) >> 31
            # rounding right shift, ties away from zero
            right_j = np.int64(rs[j])
            mask = (np.int64(1) << right_j) - 1
            threshold = (mask >> 1) + ((high >> 63) & 1)
            q = (high >> right_j) + np.int64((high & mask) > threshold)
            # the reference adds the output offset in int32: wrap (measured:
            # a result near INT32_MIN plus a negative offset clamps to act_max)
            q = np.int64(np.int32(q + out_offset))
            o[j] = min(max(q, act_min), act_max)


@kernel
def _requantize_vec(acc, p0, bias, multiplier, left, right, params, out, b, oy, c0, n):
    """As :func:`_requantize`, 16 channels at a time (kernels/simd.py
    ``vrequantize``), the per-channel values int32 arrays with at least 16
    elements past c0 + n - 1; out's channel axis must have unit stride."""
    offset = vsplat(params.output_offset)
    lo = vsplat(params.act_min)
    hi = vsplat(params.act_max)
    cols = acc.shape[1]
    orow = out[b, oy]
    for j in range(0, n, 16):
        c = c0 + j
        vb = vload(bias, c)
        vm = vload(multiplier, c)
        vl = vload(left, c)
        vr = vload(right, c)
        count = min(16, n - j)
        for ox in range(out.shape[2]):
            v = vrequantize(vload(acc, (p0 + ox) * cols + j), vb, vm, vl, vr, offset, lo, hi)
            vstore_bytes(orow[ox, c0:c0 + n], j, v, count)


#: the ``sums`` argument of :func:`conv_2d` (and kernels/depthwise.py's)
#: for the reference: nothing to store
NO_SUMS = np.zeros((0, 0, 0, 0), np.int32)


@kernel
def _store_sums(acc, p0, bias, sums, b, oy, c0, n):
    """sums[b, oy, ox, c0 + j] = acc[p0 + ox, j] + bias[c0 + j], wrapped to
    int32: the reference's accumulator plus bias, before requantization."""
    srow = sums[b, oy]
    for ox in range(sums.shape[2]):
        r = acc[p0 + ox]
        s = srow[ox, c0:c0 + n]
        for j in range(n):
            s[j] = np.int32(np.int64(r[j]) + bias[c0 + j])


@kernel
def conv_2d(x, out, wp, bias, multiplier, left, right, fields, xpad, a, acc, first, last, sums):
    """Follows ``reference_integer_ops::ConvPerChannel`` (int8 input, filter,
    output; int32 bias; one multiplier and shift per output channel, the
    shift split into ``left`` = max(shift, 0) and ``right`` = max(-shift, 0);
    groups of input channels as its grouped form does), for the blocks
    ``first``..``last - 1`` of output rows (block j: image j // B, rows
    from (j % B) * R, with R = params.block_rows and B blocks an image;
    blocks past the last image of ``out`` are skipped).

    ``x`` is [N, H, W, C] and ``out`` [N, OH, OW, O]; either may be a strided
    view: both are indexed 4-D, never reshaped. ``wp`` [groups, ...] holds
    each group's filter packed by :func:`gemm.pack_weights`; ``bias`` is the
    folded bias (module docstring). ``fields`` is ``tuple(params)`` for the
    :class:`ConvParams` ``params`` (a ConvParams works too: numba types a
    plain tuple of ints in C when it dispatches a call, a named one in
    Python, a microsecond a call). Scratch, sized by :func:`layout`:

    - ``xpad`` uint8 [Hp * Wp + spare, C]: the image padded on every side
      (the padding and the spare rows, at least gemm.MR and 64 bytes, hold
      zero point + 128, written once at prepare time), one row per pixel;
      the input rows are filled in as the blocks first need them;
    - ``a`` uint8 [rows + spare, kp], at least 64 spare bytes (unused when
      params.direct: a 1x1 filter with stride 1 and 4 | C reads its
      windows straight from ``xpad``);
    - ``acc`` int32 [rows, columns];

    rows >= R * OW rounded up to gemm.MR. ``a``'s bytes past a window (up
    to kp) and its rows past a block may hold anything: they meet zero
    weights or give results that are dropped.

    ``sums``: int32 [N, OH, OW, O] to receive each output's accumulator plus
    bias instead of the requantized ``out`` (which is then only read for
    its shape), for the numerics of the desktop runtimes, which requantize
    these same sums their own way; an empty array for the reference.
    """
    conv_2d_fused(x, out, wp, bias, multiplier, left, right, fields, xpad, a, acc, first, last,
                  sums, None, None, None, None, None)


@kernel
def _lookup_rows(out, b, oy0, n_rows, table):
    """out[b, oy, ox, c] = table[c, byte of out[b, oy, ox, c]] for every
    pixel and channel of output rows oy0..oy0 + n_rows - 1: a per-channel map
    of the int8 values (int8sqz/fusion.py fills ``table`` with the general
    kernels of the operators it stands for)."""
    channels = out.shape[3]
    for oy in range(oy0, oy0 + n_rows):
        orow = out[b, oy]
        for ox in range(out.shape[2]):
            o = orow[ox]
            for c in range(channels):
                o[c] = table[c, np.int64(o[c]) & 255]


@kernel
def _first_pool_row(oy, pool_fields):
    """The first output row of the fused pool whose window starts at or
    below convolution output row ``oy`` (0 for ``oy`` 0)."""
    pp = PoolParams(*pool_fields)
    py = 0
    while max(0, py * pp.stride_h - pp.pad_h) < oy:
        py += 1
    return py


@kernel
def conv_2d_fused(x, out, wp, bias, multiplier, left, right, fields, xpad, a, acc, first, last,
                  sums, table, pool_x, pool_out, pool_fields, pool_row):
    """:func:`conv_2d` followed, block by block, by what it stands for in a
    fusion (int8sqz/fusion.py); ``sums`` as in :func:`conv_2d` (the empty
    ``NO_SUMS`` in a fusion: the reference numerics only); each of the
    others may be None (numba then compiles the version without it):

    - ``table`` int8 [O, 256]: every output written as ``table[c, byte]``
      (:func:`_lookup_rows`), the rows of a block once they are requantized;
    - ``pool_x``, ``pool_out``, ``pool_fields``, ``pool_row``: a MAX_POOL_2D
      of ``pool_x`` (``out`` itself, or the concatenation whose slice
      ``out`` is, its other channels already written) into ``pool_out``
      (kernels/pool.py :func:`~kernels.pool.max_pool_rows`): after each
      block, the pool's output rows whose windows lie in the convolution
      rows written so far in this image (by this call: a range of blocks
      that starts inside an image pools only from there on).
    """
    params = ConvParams(*fields)
    in_h = x.shape[1]
    out_h = out.shape[1]
    block_rows = params.block_rows
    per_image = (out_h + block_rows - 1) // block_rows
    last_row = (params.filter_h - 1) * params.dilation_h - params.pad_h
    image = -1
    filled = 0
    pooled = 0
    # the blocks of the images the arrays hold (a range past them is cut)
    for j in range(first, min(last, out.shape[0] * per_image)):
        b = j // per_image
        oy0 = (j % per_image) * block_rows
        n_rows = min(block_rows, out_h - oy0)
        # read every input row the block needs before writing any output
        if b != image:
            image = b
            filled = max(0, oy0 * params.stride_h - params.pad_h)
            if pool_out is not None:
                pooled = _first_pool_row(oy0, pool_fields)
        need = min(in_h, (oy0 + n_rows - 1) * params.stride_h + last_row + 1)
        if need > filled:
            _fill_padded(x, b, filled, need, params, xpad, 0, 0)
            filled = need
        _block(xpad, 0, oy0, n_rows, out, b, 0, wp, bias, multiplier, left, right, params,
               a, acc, sums)
        if table is not None:
            _lookup_rows(out, b, oy0, n_rows, table)
        if pool_out is not None:
            pp = PoolParams(*pool_fields)
            done = oy0 + n_rows
            start = pooled
            while pooled < pool_out.shape[1] and min(
                    out_h, pooled * pp.stride_h - pp.pad_h + pp.filter_h) <= done:
                pooled += 1
            if pooled > start:
                max_pool_rows(pool_x, 0, pool_x.shape[1], pool_out, 0, b, start, pooled,
                              pool_fields, pool_row)


@kernel
def _block(xpad, p_row0, oy0, n_rows, out, b, out_row0, wp, bias, multiplier, left, right,
           params, a, acc, sums):
    """Output rows oy0..oy0 + n_rows - 1 of image b (at most a block) from
    the padded image in ``xpad`` (its row 0 the padded image's row
    ``p_row0``), written to ``out`` (its row 0 the output's row
    ``out_row0``): pack, GEMM, requantize, one group at a time; or, when
    ``sums`` is not empty, the sums stored there instead (:func:`conv_2d`)."""
    out_w = out.shape[2]
    groups = wp.shape[0]
    per_group = out.shape[3] // groups
    cin_g = xpad.shape[1] // groups
    # the vector requantization stores 16 adjacent channels at once
    unit_channels = out.strides[3] == 1
    raw = sums.size > 0
    for g in range(groups):
        if params.direct != 0:
            gemm_u8s8(xpad[(oy0 - p_row0) * out_w:], n_rows * out_w, wp[g], acc, per_group)
        else:
            _pack(xpad, p_row0, oy0, n_rows, out_w, g * cin_g, cin_g, params, a)
            gemm_u8s8(a, n_rows * out_w, wp[g], acc, per_group)
        for r in range(n_rows):
            oy = oy0 + r - out_row0
            if raw:
                _store_sums(acc, r * out_w, bias, sums, b, oy, g * per_group, per_group)
            elif unit_channels:
                _requantize_vec(acc, r * out_w, bias, multiplier, left, right, params, out,
                                b, oy, g * per_group, per_group)
            else:
                _requantize(acc, r * out_w, bias, multiplier, left, right, params, out,
                            b, oy, g * per_group, per_group)


@kernel
def band_padding(flat, p_lo, p_hi, pad_h, in_h, row_bytes, pad_value):
    """A band's padded image (``flat``, its row 0 the padded image's row
    ``p_lo``, ``row_bytes`` a row): its rows ``p_lo..p_hi - 1`` that lie in
    the padding above or below the image (``pad_h`` rows above an image of
    ``in_h`` rows) set to ``pad_value``. Returns the image rows the band
    holds, ``(iy_lo, iy_hi)`` (none when ``iy_lo >= iy_hi``), for the caller
    to copy in (conv_2d_rows, kernels/depthwise.py depthwise_conv_2d_rows)."""
    iy_lo = max(0, p_lo - pad_h)
    iy_hi = min(in_h, p_hi - pad_h)
    top_end = min(pad_h + iy_lo, p_hi) if iy_lo < iy_hi else p_hi
    for p in range(p_lo, top_end):
        flat[(p - p_lo) * row_bytes:(p - p_lo + 1) * row_bytes] = pad_value
    if iy_lo < iy_hi:
        for p in range(pad_h + iy_hi, p_hi):
            flat[(p - p_lo) * row_bytes:(p - p_lo + 1) * row_bytes] = pad_value
    return iy_lo, iy_hi


@kernel
def conv_2d_rows(x, x_row0, in_h, out, out_row0, first, last, wp, bias, multiplier, left,
                 right, fields, xpad, a, acc, pad_value):
    """:func:`conv_2d` for output rows ``first..last - 1`` of image 0 only
    (streaming execution): ``x`` holds the input rows from ``x_row0`` on
    (every row from the first tap of row ``first`` to the last tap of row
    ``last - 1`` that lies in the image of ``in_h`` rows), ``out`` the
    output rows from ``out_row0`` on. ``xpad`` holds the padded rows of this
    band only, from padded row ``first * stride_h`` on (at least
    ``(last - first - 1) * stride_h + (filter_h - 1) * dilation_h + 1`` rows
    of ``padded_w`` pixels, then the spare rows): the band's image rows are
    copied in and its rows of padding above or below the image are set to
    ``pad_value`` (the input zero point + 128), so the same scratch serves
    every band. The same blocks, windows and sums as :func:`conv_2d`: the
    same integers.

    Aliasing: every input row of the band is read before any output row is
    written."""
    params = ConvParams(*fields)
    p_lo = first * params.stride_h
    p_hi = (last - 1) * params.stride_h + (params.filter_h - 1) * params.dilation_h + 1
    iy_lo, iy_hi = band_padding(xpad.reshape(-1), p_lo, p_hi, params.pad_h, in_h,
                                params.padded_w * xpad.shape[1], pad_value)
    if iy_lo < iy_hi:
        _fill_padded(x, 0, iy_lo, iy_hi, params, xpad, x_row0, p_lo)
    for oy0 in range(first, last, params.block_rows):
        n_rows = min(params.block_rows, last - oy0)
        _block(xpad, p_lo, oy0, n_rows, out, 0, out_row0, wp, bias, multiplier, left, right,
               params, a, acc, np.empty((0, 0, 0, 0), np.int32))


# -- set-up at prepare time (plain Python) ----------------------------------------------

#: output pixels per block (whole rows, at least one): the block's windows
#: and accumulators stay in the cache (measured on the seed models' layers)
BLOCK_PIXELS = 256


class ConvConstants(NamedTuple):
    """The constant arrays of :func:`conv_2d` (see its docstring)."""

    wp: np.ndarray  # int8 [groups, ...]: each group's filter packed for the GEMM
    bias: np.ndarray  # int32 [O + 16]: the folded bias
    multiplier: np.ndarray  # int32 [O + 16]
    left: np.ndarray  # int32 [O + 16]: max(shift, 0)
    right: np.ndarray  # int32 [O + 16]: max(-shift, 0)


def constants(weights, groups: int, bias, multiplier, shift,
              input_zero_point: int) -> ConvConstants:
    """The kernel's constants from TFLite's: the OHWI filter (``groups``
    groups of output channels), the int32 bias and the per-channel
    multipliers and shifts (``QuantizeMultiplier``'s)."""
    out_c = weights.shape[0]
    k_len = weights[0].size
    w2 = weights.reshape(groups, out_c // groups, k_len)
    wp = aligned_copy(np.stack([gemm.pack_weights(w2[g])[0] for g in range(groups)]))
    w_sums = weights.reshape(out_c, k_len).astype(np.int64).sum(axis=1)
    return ConvConstants(wp, *requantization_lanes(w_sums, bias, multiplier, shift,
                                                   input_zero_point))


def requantization_lanes(w_sums, bias, multiplier, shift, input_zero_point: int) -> tuple:
    """``(bias, multiplier, left, right)`` as :func:`_requantize_vec` reads
    them: int32, one per output channel and 16 more for the vector loads,
    the shift split into left = max(shift, 0) and right = max(-shift, 0).

    The kernel's windows hold x + 128 for every tap (the padding too: zero
    point + 128), so each output channel gets (128 + zero point) * sum(w)
    more than the reference (``w_sums``: the sum of the channel's weights
    over every tap); the bias takes it back (wrapped to int32). ``bias``
    None: the reference adds no bias, i.e. 0."""
    w_sums = np.asarray(w_sums, np.int64)
    channels = w_sums.size
    base = np.zeros(channels, np.int64) if bias is None else np.asarray(bias, np.int64)
    folded = base - (128 + input_zero_point) * w_sums
    folded = (((folded + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)).astype(np.int32)
    shift = np.asarray(shift, np.int64)

    def lanes(v):
        padded = aligned_full(channels + 16, 0, np.int32)
        padded[:channels] = v
        return padded

    return (lanes(folded), lanes(multiplier), lanes(np.maximum(shift, 0)),
            lanes(np.maximum(-shift, 0)))


class ConvLayout(NamedTuple):
    """How :func:`conv_2d` works through one convolution: its parameters
    (pass ``tuple(params)``), its blocks of output rows over the batch, and
    its scratch shapes."""

    params: ConvParams
    blocks: int
    xpad_shape: tuple  # uint8
    a_shape: tuple  # uint8
    acc_shape: tuple  # int32
    out_width: int  # output pixels per row

    def scratch(self, input_zero_point: int):
        """``(xpad, a, acc)``, ``xpad`` filled with the padding's value."""
        return (aligned_full(self.xpad_shape, 128 + input_zero_point, np.uint8),
                aligned_full(self.a_shape, 0, np.uint8), aligned_full(self.acc_shape, 0, np.int32))

    @property
    def scratch_bytes(self) -> int:
        """Bytes of :meth:`scratch` (int8sqz's own, beyond TFLite's reference
        kernel, which needs none)."""
        return (math.prod(self.xpad_shape) + math.prod(self.a_shape)
                + 4 * math.prod(self.acc_shape))

    def band(self, max_rows: int) -> "ConvLayout":
        """The layout of :func:`conv_2d_rows` for bands of at most
        ``max_rows`` output rows: blocks of at most that many rows, and a
        padded image of one band's rows (``blocks`` is 0: the caller names
        the rows)."""
        p = self.params
        max_rows = max(1, int(max_rows))
        rows = min(max_rows, p.block_rows)
        channels, kp = self.xpad_shape[1], self.a_shape[1]
        band_h = (max_rows - 1) * p.stride_h + (p.filter_h - 1) * p.dilation_h + 1
        acc_shape = gemm.acc_shape(rows * self.out_width, self.acc_shape[1])
        a_rows = 0 if p.direct else acc_shape[0] + -(-64 // kp)
        return ConvLayout(p._replace(block_rows=rows), 0,
                          (band_h * p.padded_w + _spare(channels), channels), (a_rows, kp),
                          acc_shape, self.out_width)


def _spare(channels: int) -> int:
    """Pixels of ``xpad`` past the padded image: a GEMM tile's rows past the
    image (direct), 64-byte copies past a window."""
    return gemm.MR + -(-64 // max(channels, 1))


def layout(x_shape, out_shape, filter_shape, stride, dilation, pad, output_offset: int,
           act_min: int, act_max: int) -> ConvLayout:
    """The layout of a convolution of an NHWC ``x_shape`` input into
    ``out_shape`` with an OHWI filter of ``filter_shape`` (groups: the input
    channels over the filter's), ``stride``, ``dilation`` and ``pad`` (top,
    left) as (height, width) pairs."""
    batches, in_h, in_w, in_c = x_shape
    _, out_h, out_w, _ = out_shape
    out_c, filt_h, filt_w, filt_c = filter_shape
    groups = in_c // filt_c
    kp = gemm.padded_k(filt_h * filt_w * filt_c)
    block_rows = max(1, min(out_h, BLOCK_PIXELS // max(out_w, 1)))
    acc_shape = gemm.acc_shape(block_rows * out_w, out_c // groups)
    # the padded image: every tap of every window inside it
    padded_h = max(in_h + pad[0],
                   (out_h - 1) * stride[0] + (filt_h - 1) * dilation[0] + 1) if out_h else 0
    padded_w = max(in_w + pad[1],
                   (out_w - 1) * stride[1] + (filt_w - 1) * dilation[1] + 1) if out_w else 0
    # a 1x1 filter with stride 1 (so no padding) reads its windows in place
    direct = (filt_h == 1 and filt_w == 1 and stride[0] == 1 and stride[1] == 1 and groups == 1
              and in_c == kp)
    spare = _spare(in_c)
    a_rows = 0 if direct else acc_shape[0] + -(-64 // kp)
    params = ConvParams(
        stride_h=stride[0], stride_w=stride[1], dilation_h=dilation[0],
        dilation_w=dilation[1], pad_h=pad[0], pad_w=pad[1], filter_h=filt_h, filter_w=filt_w,
        output_offset=output_offset, act_min=act_min, act_max=act_max,
        block_rows=block_rows, padded_w=padded_w, direct=direct)
    # an empty output (no column or no row): nothing to run, nothing to read
    blocks = batches * (-(-out_h // block_rows)) if out_w else 0
    return ConvLayout(ConvParams(*map(int, params)), blocks,
                      (padded_h * padded_w + spare, in_c), (a_rows, kp), acc_shape, out_w)
