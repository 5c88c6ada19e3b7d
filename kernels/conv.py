"""CONV_2D on int8 (per-channel or per-tensor filter scales, groups), as an
integer matrix product (kernels/gemm.py).

The output is made in blocks of whole output rows (``params[P_BLOCK_ROWS]``
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
filter, is the same for every pixel: prepare folds it into ``bias``
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

import numpy as np

from ._jit import kernel
from .gemm import gemm_u8s8
from .simd import vload, vrequantize, vsplat, vstore, vstore_bytes

#: layout of the ``params`` int64 vector handed to :func:`conv_2d`
(P_STRIDE_H, P_STRIDE_W, P_DILATION_H, P_DILATION_W, P_PAD_H, P_PAD_W, P_FILTER_H,
 P_FILTER_W, P_INPUT_OFFSET, P_OUTPUT_OFFSET, P_ACT_MIN, P_ACT_MAX, P_K,
 P_BLOCK_ROWS, P_PADDED_W, P_DIRECT) = range(16)
N_PARAMS = 16


@kernel
def _fill_padded(x, b, iy_begin, iy_end, params, xpad):
    """Input rows iy_begin..iy_end - 1 of image b into the padded image:
    xpad[(pad_h + iy) * Wp + pad_w + ix, c] = x[b, iy, ix, c] + 128."""
    in_w = x.shape[2]
    channels = x.shape[3]
    wp_ = params[P_PADDED_W]
    for iy in range(iy_begin, iy_end):
        src = x[b, iy]
        p0 = (params[P_PAD_H] + iy) * wp_ + params[P_PAD_W]
        if channels == 3:
            # RGB: the channel loop written out, so that the pixels vectorize
            for ix in range(in_w):
                xpad[p0 + ix, 0] = np.uint8(src[ix, 0] + 128)
                xpad[p0 + ix, 1] = np.uint8(src[ix, 1] + 128)
                xpad[p0 + ix, 2] = np.uint8(src[ix, 2] + 128)
            continue
        for ix in range(in_w):
            s = src[ix]
            d = xpad[p0 + ix]
            for c in range(channels):
                # int8 + 128 in 0..255 (the byte x ^ 0x80)
                d[c] = np.uint8(s[c] + 128)


@kernel
def _pack(xpad, oy0, n_rows, out_w, c0, cin_g, params, a):
    """a[p, (ky * KW + kx) * cin_g + c] = the padded image's pixel under tap
    (ky, kx) of output pixel p (rows oy0..oy0 + n_rows - 1, row-major),
    channels c0..c0 + cin_g - 1.

    A filter row's taps that are adjacent in the padded image (no dilation,
    one group) are copied 64 bytes at a time, the last copy running up to
    63 bytes past the taps: into the next filter row's or pixel's place
    (written next, since they are written in order), the window's padding
    (multiplied by zero weights) or the spare bytes at the end of ``a``;
    it reads as far past the taps, into the spare bytes of ``xpad``."""
    channels = xpad.shape[1]
    src = xpad.reshape(-1)
    dst = a.reshape(-1)
    kp = a.shape[1]
    stride_h = params[P_STRIDE_H]
    stride_w = params[P_STRIDE_W]
    dil_h = params[P_DILATION_H]
    dil_w = params[P_DILATION_W]
    filt_h = params[P_FILTER_H]
    filt_w = params[P_FILTER_W]
    wp_ = params[P_PADDED_W]
    run = filt_w * cin_g
    adjacent = dil_w == 1 and cin_g == channels
    p = 0
    for oy in range(oy0, oy0 + n_rows):
        for ox in range(out_w):
            for ky in range(filt_h):
                pix = (oy * stride_h + ky * dil_h) * wp_ + ox * stride_w
                d = p * kp + ky * run
                if adjacent:
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
    out_offset = params[P_OUTPUT_OFFSET]
    act_min = params[P_ACT_MIN]
    act_max = params[P_ACT_MAX]
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
            # the reference adds the bias to its int32 accumulator: wrap as int32 does
            v = np.int64(np.int32(r[j] + bs[j]))
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
            q = (high >> right_j) + np.int64((high & mask) > threshold) + out_offset
            o[j] = min(max(q, act_min), act_max)


@kernel
def _requantize_vec(acc, p0, bias, multiplier, left, right, params, out, b, oy, c0, n):
    """As :func:`_requantize`, 16 channels at a time (kernels/simd.py
    ``vrequantize``), the per-channel values int32 arrays with at least 16
    elements past c0 + n - 1; out's channel axis must have unit stride."""
    offset = vsplat(params[P_OUTPUT_OFFSET])
    lo = vsplat(params[P_ACT_MIN])
    hi = vsplat(params[P_ACT_MAX])
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


@kernel
def conv_2d(x, out, wp, bias, multiplier, left, right, params, xpad, a, acc, first, last):
    """Follows ``reference_integer_ops::ConvPerChannel`` (int8 input, filter,
    output; int32 bias; one multiplier and shift per output channel, the
    shift split into ``left`` = max(shift, 0) and ``right`` = max(-shift, 0);
    groups of input channels as its grouped form does), for the blocks
    ``first``..``last - 1`` of output rows (block j: image j // B, rows
    from (j % B) * R, with R = params[P_BLOCK_ROWS] and B blocks an image;
    blocks past the last image of ``out`` are skipped).

    ``x`` is [N, H, W, C] and ``out`` [N, OH, OW, O]; either may be a strided
    view: both are indexed 4-D, never reshaped. ``wp`` [groups, ...] holds
    each group's filter packed by :func:`gemm.pack_weights`; ``bias`` is the
    folded bias (module docstring). Scratch, sized at prepare time:

    - ``xpad`` uint8 [Hp * Wp + spare, C]: the image padded on every side
      (the padding and the spare rows, at least gemm.MR and 64 bytes, hold
      zero point + 128, written once at prepare time), one row per pixel;
      the input rows are filled in as the blocks first need them;
    - ``a`` uint8 [rows + spare, kp], at least 64 spare bytes (unused when
      params[P_DIRECT]: a 1x1 filter with stride 1 and 4 | C reads its
      windows straight from ``xpad``);
    - ``acc`` int32 [rows, columns];

    rows >= R * OW rounded up to gemm.MR. ``a``'s bytes past a window (up
    to kp) and its rows past a block may hold anything: they meet zero
    weights or give results that are dropped.
    """
    in_h = x.shape[1]
    out_h = out.shape[1]
    out_w = out.shape[2]
    groups = wp.shape[0]
    per_group = out.shape[3] // groups
    cin_g = x.shape[3] // groups
    block_rows = params[P_BLOCK_ROWS]
    per_image = (out_h + block_rows - 1) // block_rows
    last_row = (params[P_FILTER_H] - 1) * params[P_DILATION_H] - params[P_PAD_H]
    direct = params[P_DIRECT] != 0
    # the vector requantization stores 16 adjacent channels at once
    unit_channels = out.strides[3] == 1
    image = -1
    filled = 0
    # the blocks of the images the arrays hold (a range past them is cut)
    for j in range(first, min(last, out.shape[0] * per_image)):
        b = j // per_image
        oy0 = (j % per_image) * block_rows
        n_rows = min(block_rows, out_h - oy0)
        # read every input row the block needs before writing any output
        if b != image:
            image = b
            filled = max(0, oy0 * params[P_STRIDE_H] - params[P_PAD_H])
        need = min(in_h, (oy0 + n_rows - 1) * params[P_STRIDE_H] + last_row + 1)
        if need > filled:
            _fill_padded(x, b, filled, need, params, xpad)
            filled = need
        for g in range(groups):
            if direct:
                gemm_u8s8(xpad[oy0 * out_w:], n_rows * out_w, wp[g], acc, per_group)
            else:
                _pack(xpad, oy0, n_rows, out_w, g * cin_g, cin_g, params, a)
                gemm_u8s8(a, n_rows * out_w, wp[g], acc, per_group)
            for r in range(n_rows):
                if unit_channels:
                    _requantize_vec(acc, r * out_w, bias, multiplier, left, right, params, out,
                                    b, oy0 + r, g * per_group, per_group)
                else:
                    _requantize(acc, r * out_w, bias, multiplier, left, right, params, out,
                                b, oy0 + r, g * per_group, per_group)
