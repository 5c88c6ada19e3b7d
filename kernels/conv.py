"""CONV_2D on int8 (per-channel or per-tensor filter scales, groups).

One output row at a time, in three steps:

1. ``rows[g, ky]``: each input row that filter row ky of the output row
   sees, as int16 ``input + input_offset`` (exact: |value| <= 255), the
   channels of group g only, padded on both sides with zeros; a row that
   falls in the padding is all zeros. A tap in the padding therefore adds
   nothing, as the reference skips it.
2. ``cols[g]``: for each output pixel, its window laid out in the filter's
   (ky, kx, channel) order, ``k_pad`` int16 per pixel. A 1x1 filter needs
   no such copy: its window is a slice of ``rows[g, 0]``.
3. every output of the row: the dot product of a window with a filter row,
   accumulated in int32, then requantized and written.

The filter is re-laid out at prepare time: ``wk`` is ``[out_channels, k_pad]``
int16 (OHWI with its (KH, KW, C/groups) axes flattened, then zeros up to
``k_pad``, a multiple of 32, so the dot product needs no remainder loop and
may read past a window's end: those products are zero); ``wt`` is the same
filter transposed, ``[k, out_channels]`` int8, for the other way of
computing a row (``mode``), which wins when windows are short.

Exactness: each product (input + input_offset) * filter is the reference's,
and int32 addition is associative modulo 2**32, so any order of summation
gives the reference's wrapped int32 accumulator.
"""

import numpy as np

from ._jit import kernel

#: layout of the ``params`` int64 vector handed to :func:`conv_2d`
(P_STRIDE_H, P_STRIDE_W, P_DILATION_H, P_DILATION_W, P_PAD_H, P_PAD_W, P_FILTER_H,
 P_FILTER_W, P_INPUT_OFFSET, P_OUTPUT_OFFSET, P_ACT_MIN, P_ACT_MAX, P_K, P_MODE) = range(14)
N_PARAMS = 14

#: ``params[P_MODE]``: dot products of 4 pixels x 4 filters, or row updates
#: of 4 pixels over all the group's filters at once (short windows)
MODE_DOT = 0
MODE_AXPY = 1
#: pixels per block: a row's last block may reach PIXEL_BLOCK - 1 windows
#: past its end, which the scratch buffers hold (their results are dropped)
PIXEL_BLOCK = 4


@kernel
def _fill_rows(x, b, oy, params, rows):
    """rows[g, ky, (pad_w + ix) * cin_g + c] = x[b, iy, ix, g * cin_g + c] + offset."""
    in_h = x.shape[1]
    in_w = x.shape[2]
    groups = rows.shape[0]
    cin_g = x.shape[3] // groups
    pad_w = params[P_PAD_W]
    in_offset = params[P_INPUT_OFFSET]
    iy0 = oy * params[P_STRIDE_H] - params[P_PAD_H]
    # the columns the windows reach; the padding columns stay zero
    span = rows.shape[2] // cin_g
    ix_end = max(0, min(in_w, span - pad_w))
    for g in range(groups):
        c0 = g * cin_g
        for ky in range(params[P_FILTER_H]):
            iy = iy0 + ky * params[P_DILATION_H]
            row = rows[g, ky]
            if iy >= 0 and iy < in_h:
                src = x[b, iy]
                for ix in range(ix_end):
                    # views indexed by range variables: no negative-index checks
                    s = src[ix, c0:c0 + cin_g]
                    d = row[(pad_w + ix) * cin_g:(pad_w + ix + 1) * cin_g]
                    for c in range(cin_g):
                        d[c] = np.int16(s[c] + in_offset)
            else:
                d = row[pad_w * cin_g:(pad_w + ix_end) * cin_g]
                for i in range(ix_end * cin_g):
                    d[i] = 0


@kernel
def _im2col(rows, out_w, k_pad, params, cols):
    """cols[g, ox * k_pad + (ky * filt_w + kx) * cin_g + c] = the window of pixel ox."""
    groups = rows.shape[0]
    filt_h = params[P_FILTER_H]
    filt_w = params[P_FILTER_W]
    stride_w = params[P_STRIDE_W]
    dil_w = params[P_DILATION_W]
    cin_g = params[P_K] // (filt_h * filt_w)
    run = filt_w * cin_g
    for g in range(groups):
        dst = cols[g]
        for ky in range(filt_h):
            src = rows[g, ky]
            for ox in range(out_w):
                j = ox * stride_w * cin_g
                k = ox * k_pad + ky * run
                if dil_w == 1:
                    # the window's taps of this filter row are adjacent
                    s = src[j:j + run]
                    d = dst[k:k + run]
                    for i in range(run):
                        d[i] = s[i]
                else:
                    for kx in range(filt_w):
                        s = src[j + kx * dil_w * cin_g:j + (kx * dil_w + 1) * cin_g]
                        d = dst[k + kx * cin_g:k + (kx + 1) * cin_g]
                        for i in range(cin_g):
                            d[i] = s[i]


@kernel
def _row_dot(buf, step, out_w, wk, o_begin, o_end, acc):
    """acc[ox, oc] = window(ox) . wk[oc] for the row's pixels, PIXEL_BLOCK at a
    time (the last block may run past out_w: ``buf`` and ``acc`` have room),
    and the channels o_begin..o_end-1; the window of pixel ox is
    buf[ox * step : ox * step + k_pad]."""
    k_pad = wk.shape[1]
    for ox in range(0, out_w, PIXEL_BLOCK):
        a0 = buf[(ox + 0) * step:(ox + 0) * step + k_pad]
        a1 = buf[(ox + 1) * step:(ox + 1) * step + k_pad]
        a2 = buf[(ox + 2) * step:(ox + 2) * step + k_pad]
        a3 = buf[(ox + 3) * step:(ox + 3) * step + k_pad]
        r0 = acc[ox + 0]
        r1 = acc[ox + 1]
        r2 = acc[ox + 2]
        r3 = acc[ox + 3]
        oc = o_begin
        # blocks of 4 pixels x 4 filters share their loads
        while oc + 3 < o_end:
            w0 = wk[oc + 0]
            w1 = wk[oc + 1]
            w2 = wk[oc + 2]
            w3 = wk[oc + 3]
            s00 = np.int32(0)
            s01 = np.int32(0)
            s02 = np.int32(0)
            s03 = np.int32(0)
            s10 = np.int32(0)
            s11 = np.int32(0)
            s12 = np.int32(0)
            s13 = np.int32(0)
            s20 = np.int32(0)
            s21 = np.int32(0)
            s22 = np.int32(0)
            s23 = np.int32(0)
            s30 = np.int32(0)
            s31 = np.int32(0)
            s32 = np.int32(0)
            s33 = np.int32(0)
            for k in range(k_pad):
                x0 = np.int32(a0[k])
                x1 = np.int32(a1[k])
                x2 = np.int32(a2[k])
                x3 = np.int32(a3[k])
                f0 = np.int32(w0[k])
                f1 = np.int32(w1[k])
                f2 = np.int32(w2[k])
                f3 = np.int32(w3[k])
                # int32 accumulators that wrap, as the reference's
                s00 = np.int32(s00 + x0 * f0)
                s01 = np.int32(s01 + x0 * f1)
                s02 = np.int32(s02 + x0 * f2)
                s03 = np.int32(s03 + x0 * f3)
                s10 = np.int32(s10 + x1 * f0)
                s11 = np.int32(s11 + x1 * f1)
                s12 = np.int32(s12 + x1 * f2)
                s13 = np.int32(s13 + x1 * f3)
                s20 = np.int32(s20 + x2 * f0)
                s21 = np.int32(s21 + x2 * f1)
                s22 = np.int32(s22 + x2 * f2)
                s23 = np.int32(s23 + x2 * f3)
                s30 = np.int32(s30 + x3 * f0)
                s31 = np.int32(s31 + x3 * f1)
                s32 = np.int32(s32 + x3 * f2)
                s33 = np.int32(s33 + x3 * f3)
            r0[oc + 0] = s00
            r0[oc + 1] = s01
            r0[oc + 2] = s02
            r0[oc + 3] = s03
            r1[oc + 0] = s10
            r1[oc + 1] = s11
            r1[oc + 2] = s12
            r1[oc + 3] = s13
            r2[oc + 0] = s20
            r2[oc + 1] = s21
            r2[oc + 2] = s22
            r2[oc + 3] = s23
            r3[oc + 0] = s30
            r3[oc + 1] = s31
            r3[oc + 2] = s32
            r3[oc + 3] = s33
            oc += 4
        while oc < o_end:
            w0 = wk[oc]
            s00 = np.int32(0)
            s10 = np.int32(0)
            s20 = np.int32(0)
            s30 = np.int32(0)
            for k in range(k_pad):
                f0 = np.int32(w0[k])
                s00 = np.int32(s00 + np.int32(a0[k]) * f0)
                s10 = np.int32(s10 + np.int32(a1[k]) * f0)
                s20 = np.int32(s20 + np.int32(a2[k]) * f0)
                s30 = np.int32(s30 + np.int32(a3[k]) * f0)
            r0[oc] = s00
            r1[oc] = s10
            r2[oc] = s20
            r3[oc] = s30
            oc += 1


@kernel
def _row_axpy(buf, step, out_w, wt, n_k, o_begin, o_end, acc):
    """As :func:`_row_dot`, accumulating PIXEL_BLOCK pixels over all channels
    of the group at once: acc[ox, :] += window(ox)[k] * wt[k, :]."""
    n_o = o_end - o_begin
    for ox in range(0, out_w, PIXEL_BLOCK):
        c0 = acc[ox + 0, o_begin:o_end]
        c1 = acc[ox + 1, o_begin:o_end]
        c2 = acc[ox + 2, o_begin:o_end]
        c3 = acc[ox + 3, o_begin:o_end]
        for o in range(n_o):
            c0[o] = 0
            c1[o] = 0
            c2[o] = 0
            c3[o] = 0
        a0 = buf[(ox + 0) * step:(ox + 0) * step + n_k]
        a1 = buf[(ox + 1) * step:(ox + 1) * step + n_k]
        a2 = buf[(ox + 2) * step:(ox + 2) * step + n_k]
        a3 = buf[(ox + 3) * step:(ox + 3) * step + n_k]
        for k in range(n_k):
            x0 = np.int32(a0[k])
            x1 = np.int32(a1[k])
            x2 = np.int32(a2[k])
            x3 = np.int32(a3[k])
            w = wt[k, o_begin:o_end]
            for o in range(n_o):
                f = np.int32(w[o])
                # int32 accumulators that wrap, as the reference's
                c0[o] = np.int32(c0[o] + x0 * f)
                c1[o] = np.int32(c1[o] + x1 * f)
                c2[o] = np.int32(c2[o] + x2 * f)
                c3[o] = np.int32(c3[o] + x3 * f)


@kernel
def _requantize_row(acc, bias, multiplier, left, right, params, out, b, oy):
    """out[b, oy, ox, oc] = clamp(MultiplyByQuantizedMultiplier(acc + bias) +
    output_offset), for multipliers in [0, 2**31) (never INT32_MIN, so the
    doubling high multiply never saturates), without branches."""
    out_offset = params[P_OUTPUT_OFFSET]
    act_min = params[P_ACT_MIN]
    act_max = params[P_ACT_MAX]
    out_w = out.shape[2]
    out_c = out.shape[3]
    orow = out[b, oy]
    for ox in range(out_w):
        r = acc[ox]
        o = orow[ox]
        for oc in range(out_c):
            # the reference adds the bias to its int32 accumulator: wrap as int32 does
            v = np.int64(np.int32(r[oc] + bias[oc]))
            # the left shift is done in int32 in C++: wrap again
            v = np.int64(np.int32(v << left[oc]))
            ab = v * multiplier[oc]
            # round half away from zero, then divide by 2**31 truncating toward zero
            ab = ab + ((1 << 30) - ((ab >> 63) & 0x7FFFFFFF))
            high = (ab + ((ab >> 63) & 0x7FFFFFFF)) >> 31
            # rounding right shift, ties away from zero
            mask = (np.int64(1) << right[oc]) - 1
            threshold = (mask >> 1) + ((high >> 63) & 1)
            q = (high >> right[oc]) + np.int64((high & mask) > threshold) + out_offset
            o[oc] = min(max(q, act_min), act_max)


@kernel
def conv_2d(x, out, wk, wt, bias, multiplier, left, right, params, rows, cols, acc):
    """Follows ``reference_integer_ops::ConvPerChannel`` (int8 input, filter,
    output; int32 bias; one multiplier and shift per output channel, the
    shift split into ``left`` = max(shift, 0) and ``right`` = max(-shift, 0);
    groups of input channels as its grouped form does).

    ``x`` is [N, H, W, C] and ``out`` [N, OH, OW, O]; either may be a strided
    view: both are indexed 4-D, never reshaped. Scratch, sized at prepare
    time: ``rows`` [groups, KH, L] and ``cols`` [groups, OW * k_pad] int16,
    ``acc`` [OW + PIXEL_BLOCK - 1, O] int32.

    Aliasing rule: outputs are produced in row-major order (batch, then
    output row y, then x); for each output row y, every input row that row
    needs is read (into ``rows``) before any element of output row y is
    written, and nothing outside output row y is written while it is
    produced. A planner may overlap ``out`` with ``x`` as long as writing
    output rows 0..y never clobbers an input row that a later output row
    reads.
    """
    batches = out.shape[0]
    out_h = out.shape[1]
    out_w = out.shape[2]
    if out_w == 0:
        return
    groups = rows.shape[0]
    per_group = out.shape[3] // groups
    one_by_one = params[P_FILTER_H] == 1 and params[P_FILTER_W] == 1
    cin_g = x.shape[3] // groups
    k_pad = wk.shape[1]
    n_k = params[P_K]
    for b in range(batches):
        for oy in range(out_h):
            _fill_rows(x, b, oy, params, rows)
            if one_by_one:
                step = params[P_STRIDE_W] * cin_g
            else:
                _im2col(rows, out_w, k_pad, params, cols)
                step = k_pad
            for g in range(groups):
                buf = rows[g, 0] if one_by_one else cols[g]
                o_begin = g * per_group
                if params[P_MODE] == MODE_AXPY:
                    _row_axpy(buf, step, out_w, wt, n_k, o_begin, o_begin + per_group, acc)
                else:
                    _row_dot(buf, step, out_w, wk, o_begin, o_begin + per_group, acc)
            _requantize_row(acc, bias, multiplier, left, right, params, out, b, oy)
