"""DEPTHWISE_CONV_2D on int8 (per-channel or per-tensor filter scales, any
depth multiplier), channels across the lanes of 16-lane vectors
(kernels/simd.py).

Output channel ``o = c * M + m`` (``M`` the depth multiplier) sums input
channel ``c`` under its window, weighted by filter channel ``o``. The kernel
works on ``Co = C * M`` channels at once:

1. fill: the input rows an output row needs go into a padded image ``xpad``
   (one byte per output channel: ``x[b, iy, ix, o // M] + 128``; the
   padding holds the input zero point + 128, written once at prepare time);
   each input row is filled once an image, in order;
2. interleave: each padded row the output rows' windows cover becomes, in a
   ring of the last ``span`` rows, the taps of every output column in
   groups of four filter columns, the four bytes of a channel side by side
   (kernels/simd.py ``vinterleave4``);
3. taps: for each output pixel and block of 16 channels, the int32 sum of
   ``xpad * w`` over the window, four taps a lane at a time (``vdot4``:
   VPDPBUSD where the CPU has AVX-512 VNNI);
4. requantize: the sums, 16 channels at a time, as kernels/conv.py's vector
   path requantizes (``vrequantize``), straight to the output (through a
   row of accumulators and conv's ``_requantize``, one channel at a time,
   when the output's channels are not adjacent).

Why this is the reference's sum: ``reference_integer_ops::
DepthwiseConvPerChannel`` adds ``(x - zp) * w`` for the taps inside the
image and skips the others. Here a tap in the image contributes ``(x + 128)
* w = (x - zp) * w + (128 + zp) * w`` and a tap in the padding ``(zp + 128)
* w = 0 + (128 + zp) * w``: the difference, ``(128 + zp)`` times the sum of
the channel's weights over the whole window, is the same for every pixel,
and kernels/conv.py's ``requantization_lanes`` folds it into the bias.
Every product is an exact integer (at most 255 * 128 in magnitude) and
int32 addition is associative modulo 2**32, so the accumulator plus bias is
the reference's wrapped int32 value, bit for bit.

Aliasing rule: output rows are produced in row-major order (batch, then
output row y); every input row that output row y needs is read (copied into
``xpad``) before any element of row y is written, input rows are read
nowhere else, and nothing outside row y is written while it is produced.
A planner may therefore overlap ``out`` with ``x`` as long as writing output
rows 0..y never clobbers an input row that a later output row reads
(``Sharing.rows`` with ``rows_read_first``). The output is written through
its strides (it may be a slice of a larger buffer).
"""

import math
from typing import NamedTuple

import numpy as np

from ._jit import kernel
from .conv import _requantize, _store_sums, band_padding
from .simd import (
    aligned_copy, aligned_full, vdot4, vinterleave4, vload, vrequantize, vsplat, vstore,
    vstore_bytes, vzero,
)


class DepthwiseParams(NamedTuple):
    """The integers :func:`depthwise_conv_2d` reads (Python ints: numba sees
    a tuple of int64); :func:`layout` makes them."""

    stride_h: int
    stride_w: int
    dilation_h: int
    dilation_w: int
    pad_h: int  # rows of padding above the image
    pad_w: int  # columns of padding left of it
    filter_h: int
    filter_w: int
    depth_multiplier: int
    in_h: int
    in_w: int
    in_c: int
    output_offset: int  # the output zero point
    act_min: int
    act_max: int
    padded_w: int  # pixels per row of ``xpad``
    out_w: int  # output columns
    groups: int  # groups of four filter columns: ceil(KW / 4)
    span: int  # padded rows one output row's window covers, the ring's rows
    channel_bytes: int  # 4 Cp: the bytes of one group of one pixel (Cp: Co rounded up to 16)
    ring_row: int  # out_w * groups * channel_bytes: the bytes of one ring row


@kernel
def _fill_rows(x, b, iy_begin, iy_end, params, xpad, x_row0, p_row0):
    """Input rows iy_begin..iy_end - 1 of image b into the padded image:
    xpad[((pad_h + iy - p_row0) * Wp + pad_w + ix) * Co + c * M + m] =
    x[b, iy - x_row0, ix, c] + 128, ``x`` the input's bytes, flat, from the
    image's row ``x_row0`` on, ``xpad`` from the padded image's row ``p_row0``
    on (both 0 for the whole image)."""
    in_h = params.in_h
    in_w = params.in_w
    channels = params.in_c
    mult = params.depth_multiplier
    co = channels * mult
    n = in_w * channels
    for iy in range(iy_begin, iy_end):
        src = x[(b * in_h + iy - x_row0) * n:(b * in_h + iy - x_row0 + 1) * n]
        p0 = ((params.pad_h + iy - p_row0) * params.padded_w + params.pad_w) * co
        dst = xpad[p0:p0 + in_w * co]
        # slices indexed from 0 by range variables: no negative-index fix-ups,
        # so the loops vectorize; the byte of int8 v, xor 0x80, is v + 128
        if mult == 1:
            for i in range(n):
                dst[i] = src[i] ^ 0x80
        else:
            for i in range(n):
                v = src[i] ^ 0x80
                d = dst[i * mult:(i + 1) * mult]
                for m in range(mult):
                    d[m] = v


@kernel
def _interleave_row(xpad, r, slot, params, co, ring):
    """Padded row r of ``xpad`` as the taps of the output pixels, into ring
    slot ``slot``: for output column ox, group g of four filter columns and
    channel block c0, the 64 bytes of xpad's pixels ox * stride_w + (4g + t)
    * dilation_w (t = 0..3) for channels c0..c0 + 15, interleaved (channel j
    of the block: its four taps, kernels/simd.py ``vinterleave4``). Filter
    columns past the last (in a last group of fewer than four) repeat the
    last one: their weights are 0."""
    groups = params.groups
    filt_w = params.filter_w
    cb = params.channel_bytes
    pixel = params.stride_w * co
    ring_pixel = groups * cb
    tap = params.dilation_w * co
    base = r * params.padded_w * co
    dst = slot * params.ring_row
    for g in range(groups):
        i0 = base + min(4 * g, filt_w - 1) * tap
        i1 = base + min(4 * g + 1, filt_w - 1) * tap
        i2 = base + min(4 * g + 2, filt_w - 1) * tap
        i3 = base + min(4 * g + 3, filt_w - 1) * tap
        for c0 in range(0, co, 16):
            d = dst + g * cb + 4 * c0
            for ox in range(params.out_w):
                o = ox * pixel + c0
                vstore(ring, d + ox * ring_pixel,
                       vinterleave4(xpad, i0 + o, i1 + o, i2 + o, i3 + o))


@kernel
def _window_sum(ring, ring_pos, w, w_pos, params, slots):
    """The sum over one output pixel's window for one channel block, from
    the ring and weight positions of its first tap (``slots``: the ring slot
    of each filter row)."""
    groups = params.groups
    cb = params.channel_bytes
    a = vzero()
    for g in range(groups):
        for ky in range(params.filter_h):
            a = vdot4(a, vload(ring, slots[ky] * params.ring_row + ring_pos + g * cb),
                      vload(w, (ky * groups + g) * cb + w_pos))
    return a


@kernel
def _put(channels, c0, a, rq, params):
    """Requantize sums ``a`` of channels c0..c0 + 15 with the lanes ``rq`` =
    (bias, multiplier, left, right) and store those below the output's
    channel count into ``channels`` (one output pixel, unit stride)."""
    v = vrequantize(a, rq[0], rq[1], rq[2], rq[3], vsplat(params.output_offset),
                    vsplat(params.act_min), vsplat(params.act_max))
    vstore_bytes(channels, c0, v, min(16, channels.shape[0] - c0))


@kernel
def _lanes(bias, multiplier, left, right, c0):
    return (vload(bias, c0), vload(multiplier, c0), vload(left, c0), vload(right, c0))


@kernel
def _row(ring, oy, params, w, bias, multiplier, left, right, out, b, out_row, slots, acc,
         sums):
    """Output row oy of image b, written to ``out[b, out_row]``: for every
    output pixel and channel block,
    the sum over its window of xpad * w, four taps a lane at a time
    (``vdot4``: VPDPBUSD where the CPU has AVX-512 VNNI), requantized
    (kernels/simd.py ``vrequantize``, as kernels/conv.py's vector path)
    and stored. Eight sums at a time, each with its own accumulator so that
    their multiply-adds overlap: eight pixels of one channel block, or, in
    rows of fewer than eight pixels, four channel blocks of one pixel. An
    output whose channels are not adjacent gets the sums through ``acc``
    and kernels/conv.py's one-channel-at-a-time requantization; with
    ``sums`` (not empty) the row's sums plus bias go there instead of being
    requantized (the desktop runtimes' numerics requantize them their own
    way)."""
    groups = params.groups
    span = params.span
    cb = params.channel_bytes
    pixel = groups * cb
    ring_row = params.ring_row
    filt_h = params.filter_h
    out_w = out.shape[2]
    co = out.shape[3]
    orow = out[b, out_row]
    # the ring slot of each filter row (first + ky * dilation stays below 2
    # span: one subtraction wraps it, no division in the loops)
    first = (oy * params.stride_h) % span
    for ky in range(filt_h):
        slot = first + ky * params.dilation_h
        slots[ky] = slot - span if slot >= span else slot
    if out.strides[3] != 1 or sums.size > 0:
        flat = acc.reshape(-1)
        cols = acc.shape[1]
        for ox in range(out_w):
            for c0 in range(0, co, 16):
                vstore(flat, ox * cols + c0,
                       _window_sum(ring, ox * pixel + 4 * c0, w, 4 * c0, params, slots))
        if sums.size > 0:
            _store_sums(acc, 0, bias, sums, b, out_row, 0, co)
        else:
            _requantize(acc, 0, bias, multiplier, left, right, params, out, b, out_row, 0, co)
        return
    if out_w >= 8:
        whole = out_w - out_w % 8
        for c0 in range(0, co, 16):
            rq = _lanes(bias, multiplier, left, right, c0)
            for ox in range(0, whole, 8):
                a0 = vzero()
                a1 = vzero()
                a2 = vzero()
                a3 = vzero()
                a4 = vzero()
                a5 = vzero()
                a6 = vzero()
                a7 = vzero()
                for g in range(groups):
                    for ky in range(filt_h):
                        q = slots[ky] * ring_row + ox * pixel + g * cb + 4 * c0
                        wv = vload(w, (ky * groups + g) * cb + 4 * c0)
                        a0 = vdot4(a0, vload(ring, q), wv)
                        a1 = vdot4(a1, vload(ring, q + pixel), wv)
                        a2 = vdot4(a2, vload(ring, q + 2 * pixel), wv)
                        a3 = vdot4(a3, vload(ring, q + 3 * pixel), wv)
                        a4 = vdot4(a4, vload(ring, q + 4 * pixel), wv)
                        a5 = vdot4(a5, vload(ring, q + 5 * pixel), wv)
                        a6 = vdot4(a6, vload(ring, q + 6 * pixel), wv)
                        a7 = vdot4(a7, vload(ring, q + 7 * pixel), wv)
                _put(orow[ox], c0, a0, rq, params)
                _put(orow[ox + 1], c0, a1, rq, params)
                _put(orow[ox + 2], c0, a2, rq, params)
                _put(orow[ox + 3], c0, a3, rq, params)
                _put(orow[ox + 4], c0, a4, rq, params)
                _put(orow[ox + 5], c0, a5, rq, params)
                _put(orow[ox + 6], c0, a6, rq, params)
                _put(orow[ox + 7], c0, a7, rq, params)
            for ox in range(whole, out_w):
                _put(orow[ox], c0, _window_sum(ring, ox * pixel + 4 * c0, w, 4 * c0, params,
                                               slots), rq, params)
        return
    blocks = (co + 15) // 16
    whole = blocks - blocks % 4
    for ox in range(out_w):
        for j in range(0, whole, 4):
            a0 = vzero()
            a1 = vzero()
            a2 = vzero()
            a3 = vzero()
            for g in range(groups):
                for ky in range(filt_h):
                    q = slots[ky] * ring_row + ox * pixel + g * cb + 64 * j
                    u = (ky * groups + g) * cb + 64 * j
                    a0 = vdot4(a0, vload(ring, q), vload(w, u))
                    a1 = vdot4(a1, vload(ring, q + 64), vload(w, u + 64))
                    a2 = vdot4(a2, vload(ring, q + 128), vload(w, u + 128))
                    a3 = vdot4(a3, vload(ring, q + 192), vload(w, u + 192))
            c0 = 16 * j
            _put(orow[ox], c0, a0, _lanes(bias, multiplier, left, right, c0), params)
            _put(orow[ox], c0 + 16, a1, _lanes(bias, multiplier, left, right, c0 + 16), params)
            _put(orow[ox], c0 + 32, a2, _lanes(bias, multiplier, left, right, c0 + 32), params)
            _put(orow[ox], c0 + 48, a3, _lanes(bias, multiplier, left, right, c0 + 48), params)
        for j in range(whole, blocks):
            _put(orow[ox], 16 * j, _window_sum(ring, ox * pixel + 64 * j, w, 64 * j, params,
                                               slots),
                 _lanes(bias, multiplier, left, right, 16 * j), params)


@kernel
def _params(f):
    """The :class:`DepthwiseParams` whose fields array ``f`` holds."""
    return DepthwiseParams(f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9], f[10],
                           f[11], f[12], f[13], f[14], f[15], f[16], f[17], f[18], f[19],
                           f[20])


@kernel
def depthwise_conv_2d(x, out, w, bias, multiplier, left, right, fields, xpad, ring, acc,
                      slots, sums):
    """Follows ``reference_integer_ops::DepthwiseConvPerChannel`` (int8
    input, filter, output; int32 bias, or none; one multiplier and shift per
    output channel, the shift split into ``left`` = max(shift, 0) and
    ``right`` = max(-shift, 0)), over the whole batch.

    ``x`` is the input [N, H, W, C] as its bytes (uint8), flat (a C-contiguous
    input; ``params`` gives its shape); ``out`` is [N, OH, OW, C * M], any
    strides. ``w`` holds the filter as :func:`pack_weights` lays it out;
    ``bias`` is the folded bias (module docstring); ``bias``,
    ``multiplier``, ``left``, ``right`` have Co + 16 int32 elements.
    ``fields`` holds the fields of a :class:`DepthwiseParams` in order, as an
    int64 array (numba dispatches an array faster than a tuple). Scratch,
    sized by :func:`layout`: ``xpad`` uint8 [Hp * Wp * Co + 16] (the padded
    image, its padding and the last 16 bytes set to zero point + 128 once);
    ``ring`` uint8 [span * ring_row]: the interleaved taps of the last
    ``span`` padded rows; ``acc`` int32 [OW, Cp] (for an output whose
    channels are not adjacent); ``slots`` int64 [KH]. ``sums``: int32
    [N, OH, OW, C * M] to receive each output's accumulator plus bias
    instead of ``out`` (kernels/conv.py's ``conv_2d`` has the same); an
    empty array for the reference.
    """
    params = _params(fields)
    in_h = params.in_h
    out_h = out.shape[1]
    co = out.shape[3]
    span = params.span
    last_row = (params.filter_h - 1) * params.dilation_h - params.pad_h
    for b in range(out.shape[0]):
        filled = 0
        built = 0
        for oy in range(out_h):
            # read every input row output row oy needs before writing any of it
            need = min(in_h, oy * params.stride_h + last_row + 1)
            if need > filled:
                _fill_rows(x, b, filled, need, params, xpad, 0, 0)
                filled = need
            # the padded rows its window covers, interleaved into the ring (a
            # row's slot is free again: the rows before this window are done)
            top = oy * params.stride_h
            for r in range(max(built, top), top + span):
                _interleave_row(xpad, r, r % span, params, co, ring)
            built = top + span
            _row(ring, oy, params, w, bias, multiplier, left, right, out, b, oy, slots, acc,
                 sums)


@kernel
def depthwise_conv_2d_rows(x, x_row0, out, out_row0, first, last, w, bias, multiplier, left,
                           right, fields, xpad, ring, acc, slots, pad_value):
    """:func:`depthwise_conv_2d` for output rows ``first..last - 1`` of image
    0 only (streaming execution): ``x`` holds the input's bytes, flat, from
    the image's row ``x_row0`` on (every row from the first tap of row
    ``first`` to the last tap of row ``last - 1`` that lies in the image),
    ``out`` the output rows from ``out_row0`` on. ``xpad`` holds this band's
    padded rows only, from padded row ``first * stride_h`` on (at least
    ``(last - first - 1) * stride_h + span`` rows, then 16 spare bytes):
    the band's image rows are copied in and its rows of padding above or
    below the image are set to ``pad_value`` (the input zero point + 128),
    so one scratch serves every band. The same ring, windows and sums as
    :func:`depthwise_conv_2d`: the same integers.

    Aliasing: every input row of the band is read before any output row is
    written."""
    params = _params(fields)
    co = out.shape[3]
    span = params.span
    p_lo = first * params.stride_h
    p_hi = (last - 1) * params.stride_h + span
    iy_lo, iy_hi = band_padding(xpad, p_lo, p_hi, params.pad_h, params.in_h,
                                params.padded_w * co, pad_value)
    if iy_lo < iy_hi:
        _fill_rows(x, 0, iy_lo, iy_hi, params, xpad, x_row0, p_lo)
    built = p_lo
    no_sums = np.empty((0, 0, 0, 0), np.int32)
    for oy in range(first, last):
        top = oy * params.stride_h
        for r in range(max(built, top), top + span):
            _interleave_row(xpad, r - p_lo, r % span, params, co, ring)
        built = top + span
        _row(ring, oy, params, w, bias, multiplier, left, right, out, 0, oy - out_row0, slots,
             acc, no_sums)


# -- set-up at prepare time (plain Python) ----------------------------------------------

def padded_channels(co: int) -> int:
    return max(16, -(-co // 16) * 16)


def pack_weights(filt) -> np.ndarray:
    """The [1, KH, KW, Co] int8 filter as the kernel's ``w``: int8, for
    filter row ky, group g of four filter columns, channel o and t in 0..3,
    the weight of filter column 4g + t at [((ky * G + g) * Cp + o) * 4 + t];
    zero past the filter's columns and channels (G = ceil(KW / 4))."""
    _, kh, kw, co = filt.shape
    groups = -(-kw // 4)
    w = np.zeros((kh, groups * 4, padded_channels(co)), np.int8)
    w[:, :kw, :co] = np.asarray(filt).reshape(kh, kw, co)
    # [ky, g, t, o] -> [ky, g, o, t]
    return aligned_copy(w.reshape(kh, groups, 4, -1).transpose(0, 1, 3, 2).reshape(-1))


class DepthwiseLayout(NamedTuple):
    params: DepthwiseParams
    xpad_size: int  # uint8 elements
    ring_size: int  # uint8 elements
    acc_shape: tuple  # int32

    def scratch(self, input_zero_point: int):
        """``(xpad, ring, acc, slots)``, ``xpad`` filled with the padding's value."""
        return (aligned_full(self.xpad_size, 128 + input_zero_point, np.uint8),
                aligned_full(self.ring_size, 0, np.uint8), aligned_full(self.acc_shape, 0, np.int32),
                np.zeros(self.params.filter_h, np.int64))

    @property
    def scratch_bytes(self) -> int:
        """Bytes of :meth:`scratch` (int8sqz's own, beyond TFLite's reference
        kernel, which needs none)."""
        return (self.xpad_size + self.ring_size + 4 * math.prod(self.acc_shape)
                + 8 * self.params.filter_h)

    def band(self, max_rows: int) -> "DepthwiseLayout":
        """The layout of :func:`depthwise_conv_2d_rows` for bands of at most
        ``max_rows`` output rows: a padded image of one band's rows."""
        p = self.params
        band_h = (max(1, int(max_rows)) - 1) * p.stride_h + p.span
        return self._replace(xpad_size=band_h * p.padded_w * p.in_c * p.depth_multiplier + 16)


def layout(x_shape, out_shape, filter_shape, stride, dilation, pad, output_offset: int,
           act_min: int, act_max: int) -> DepthwiseLayout:
    """The parameters and scratch sizes for an NHWC ``x_shape`` input, an
    ``out_shape`` output and a [1, KH, KW, Co] filter, ``stride``,
    ``dilation`` and ``pad`` (top, left) as (height, width) pairs."""
    _, in_h, in_w, in_c = x_shape
    _, out_h, out_w, co = out_shape
    _, filt_h, filt_w, _ = filter_shape
    # the padded image: every tap of every window inside it
    padded_h = max(in_h + pad[0], (out_h - 1) * stride[0] + (filt_h - 1) * dilation[0] + 1)
    padded_w = max(in_w + pad[1], (out_w - 1) * stride[1] + (filt_w - 1) * dilation[1] + 1)
    groups = -(-filt_w // 4)
    channel_bytes = 4 * padded_channels(co)
    span = (filt_h - 1) * dilation[0] + 1
    params = DepthwiseParams(
        stride_h=stride[0], stride_w=stride[1], dilation_h=dilation[0],
        dilation_w=dilation[1], pad_h=pad[0], pad_w=pad[1], filter_h=filt_h,
        filter_w=filt_w, depth_multiplier=co // in_c, in_h=in_h, in_w=in_w, in_c=in_c,
        output_offset=output_offset,
        act_min=act_min, act_max=act_max, padded_w=padded_w, out_w=out_w, groups=groups,
        span=span, channel_bytes=channel_bytes, ring_row=out_w * groups * channel_bytes)
    # 16 spare bytes: the last channel block's loads run up to 15 bytes past a pixel
    return DepthwiseLayout(DepthwiseParams(*map(int, params)),
                           padded_h * padded_w * co + 16, span * params.ring_row,
                           (out_w, padded_channels(co)))
