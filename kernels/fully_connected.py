"""FULLY_CONNECTED on int8 or uint8, as an integer matrix product
(kernels/gemm.py) and the reference's floating-point rescaling.

The input's rows (``rows x K``) go through the product in blocks of
``params.block_rows`` rows, in three steps:

1. pack: each row into ``a`` (uint8), ``a = x + shift`` with ``shift`` 128
   for int8 input and 0 for uint8 (and, when the weights have a zero
   point, the row's sum of ``a``);
2. ``acc = a x s`` in wrapping int32 (:func:`gemm.gemm_u8s8`), ``s`` the
   weights as int8 (uint8 weights minus 128);
3. rescale: ``acc + bias - B * rowsum`` to the output type, as TFLite's
   reference kernels do it now: ``round(double(acc) * effective_scale)``
   (``effective_scale = double(input_scale) * double(filter_scale) /
   double(output_scale)``, per output channel or per tensor), a value
   outside int32 (or NaN) becoming INT32_MIN as the x86 conversion makes
   it, plus the output offset (wrapping), clamped.

Why the integers are the reference's: the reference accumulates
``(w - wzp) * (x - xzp)`` in int32. With ``x - xzp = a - A`` (``A = shift +
xzp``) and ``w - wzp = s - B`` (``B = wzp - 128`` for uint8 weights, the
per-tensor zero point for int8 ones, 0 per channel: the per-channel kernel
ignores zero points), the sum over k is ``sum(s * a) - A * sum(s) - B *
sum(a) + K * A * B``: the second and fourth terms are the same for every
row and :func:`constants` folds them into the bias; the third is the row's
(``B`` is 0 for the weights converters write). Every product is an exact
integer and int32 addition is associative modulo 2**32, so the result is
the reference's wrapped accumulator plus bias, bit for bit.
"""

from typing import NamedTuple

import numpy as np

from . import gemm
from ._jit import kernel
from .gemm import gemm_u8s8

INT32_MIN = -(1 << 31)


class FullyConnectedParams(NamedTuple):
    """The integers :func:`fully_connected` reads (a tuple of ints)."""

    shift: int  # added to each input byte: 128 (int8) or 0 (uint8)
    row_weight: int  # B: each row's sum of ``a`` counts -B times
    output_offset: int
    act_min: int
    act_max: int
    block_rows: int


@kernel
def _pack(x, r0, n, params, a, rowsum):
    """a[i, k] = x[r0 + i, k] + shift; rowsum[i] = sum of a[i, :K] (when B != 0)."""
    depth = x.shape[1]
    shift = params.shift
    for i in range(n):
        src = x[r0 + i]
        dst = a[i]
        for k in range(depth):
            dst[k] = np.uint8(np.int64(src[k]) + shift)
        if params.row_weight != 0:
            s = 0
            for k in range(depth):
                s += np.int64(dst[k])
            rowsum[i] = s


@kernel
def _rescale(acc, n, bias, scale, rowsum, params, out, r0):
    """out[r0 + i, j] = clamp(int32(round(double(acc[i, j] + bias[j] - B *
    rowsum[i]) * scale[j])) + output_offset), as ``reference_integer_ops::
    FullyConnected`` (and its per-channel form) with the scales computes it."""
    units = out.shape[1]
    weight = np.int64(params.row_weight)
    offset = np.int64(params.output_offset)
    lo = np.int64(params.act_min)
    hi = np.int64(params.act_max)
    for i in range(n):
        term = weight * rowsum[i]
        row = out[r0 + i]
        for j in range(units):
            # the int32 accumulator plus bias (wrapped)
            v = np.int64(np.int32(np.int64(acc[i, j]) + bias[j] - term))
            d = np.float64(v) * scale[j]
            # std::round: half away from zero (d - trunc(d) is exact)
            t = np.trunc(d)
            frac = d - t
            if frac >= 0.5:
                t += 1.0
            elif frac <= -0.5:
                t -= 1.0
            # static_cast<int32_t>: x86's conversion gives INT32_MIN outside
            # the range and for NaN (which fails both comparisons)
            if t >= -2147483648.0 and t < 2147483648.0:
                q = np.int64(t)
            else:
                q = np.int64(INT32_MIN)
            # the offset is added in int32: wrap
            q = np.int64(np.int32(q + offset))
            row[j] = min(max(q, lo), hi)


@kernel
def _store_sums(acc, n, bias, rowsum, params, sums, r0):
    """sums[r0 + i, j] = acc[i, j] + bias[j] - B * rowsum[i], wrapped to
    int32: the reference's accumulator plus bias, before rescaling."""
    units = sums.shape[1]
    weight = np.int64(params.row_weight)
    for i in range(n):
        term = weight * rowsum[i]
        row = sums[r0 + i]
        for j in range(units):
            row[j] = np.int32(np.int64(acc[i, j]) + bias[j] - term)


@kernel
def fully_connected(x, out, wp, bias, scale, fields, a, acc, rowsum, sums):
    """Follows TFLite's reference ``FullyConnected`` with scales (int8:
    ``reference_integer_ops::FullyConnected`` per tensor,
    ``FullyConnectedPerChannel`` per channel; uint8:
    ``reference_ops::FullyConnected``) for ``x`` [rows, K] and ``out``
    [rows, units] (C-contiguous 2-D views of the flattened tensors).

    ``wp``: the weights as int8 packed by :func:`gemm.pack_weights`;
    ``bias``: int64 [units], folded (module docstring); ``scale``: float64
    [units], each channel's effective scale. Scratch, sized by
    :func:`layout`: ``a`` uint8 [R, kp], ``acc`` int32 [R, columns],
    ``rowsum`` int64 [R], R the block's rows rounded up to gemm.MR.
    ``sums``: int32 [rows, units] to receive each output's accumulator plus
    bias instead of ``out`` (the desktop runtimes' numerics requantize them
    their own way); an empty array for the reference."""
    params = FullyConnectedParams(*fields)
    rows = x.shape[0]
    units = out.shape[1]
    block = params.block_rows
    for r0 in range(0, rows, block):
        n = min(block, rows - r0)
        _pack(x, r0, n, params, a, rowsum)
        gemm_u8s8(a, n, wp, acc, units)
        if sums.size > 0:
            _store_sums(acc, n, bias, rowsum, params, sums, r0)
        else:
            _rescale(acc, n, bias, scale, rowsum, params, out, r0)


# -- set-up at prepare time (plain Python) ----------------------------------------------

#: rows per block: the block's packed rows and accumulators stay in the cache
BLOCK_ROWS = 64


class FullyConnectedConstants(NamedTuple):
    wp: np.ndarray  # int8, packed for the GEMM
    bias: np.ndarray  # int64 [units]: the folded bias (wrapped to int32 values)
    row_weight: int  # B


def constants(weights, bias, input_shift: int, input_zero_point: int,
              weight_shift: int, weight_zero_point: int) -> FullyConnectedConstants:
    """The kernel's constants from the [units, K] weights (int8 values
    ``s`` once ``weight_shift`` (0 or -128) is added), the int32 bias (None:
    0), the input's shift (128 or 0) and zero point, and the weights' zero
    point (0 where the reference ignores it)."""
    units, depth = weights.shape
    s = np.asarray(weights, np.int64) + weight_shift
    wp = gemm.pack_weights(s.astype(np.int8))[0]
    big_a = input_shift + input_zero_point
    big_b = weight_shift + weight_zero_point
    base = np.zeros(units, np.int64) if bias is None else np.asarray(bias, np.int64)
    folded = base - big_a * s.sum(axis=1) + depth * big_a * big_b
    folded = ((folded + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)
    return FullyConnectedConstants(wp, folded.astype(np.int64), int(big_b))


class FullyConnectedLayout(NamedTuple):
    params: FullyConnectedParams
    a_shape: tuple
    acc_shape: tuple

    def scratch(self):
        """``(a, acc, rowsum)``."""
        return (np.zeros(self.a_shape, np.uint8), np.zeros(self.acc_shape, np.int32),
                np.zeros(self.a_shape[0], np.int64))


def layout(rows: int, depth: int, units: int, input_shift: int, row_weight: int,
           output_offset: int, act_min: int, act_max: int) -> FullyConnectedLayout:
    block = max(1, min(rows, BLOCK_ROWS))
    acc_shape = gemm.acc_shape(block, units)
    params = FullyConnectedParams(int(input_shift), int(row_weight), int(output_offset),
                                  int(act_min), int(act_max), int(block))
    return FullyConnectedLayout(params, (acc_shape[0], gemm.padded_k(depth)), acc_shape)
