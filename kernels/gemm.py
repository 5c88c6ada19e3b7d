"""Integer matrix product for the convolutions: uint8 rows times int8 columns,
accumulated in wrapping int32.

``acc[r, n] = sum(a[r, k] * w[n, k] for k)`` modulo 2**32, for every row r
of a block of rows and every (padded) column n, computed in tiles of
``MR`` rows x ``NR`` columns held in 16 vector registers
(kernels/simd.py): for each group of 4 k, the 4 bytes of each of the MR
rows are broadcast to all lanes and multiplied into the two vectors of
packed weights (16 columns x 4 k each) with ``vdot4``.

Layouts (built by :func:`pack_weights` at prepare time):

- ``a``: uint8 ``[R, kp]``, C-contiguous, ``kp`` a multiple of 4 and
  ``R`` a multiple of ``MR`` (rows past the ones asked for are computed and
  ignored; the caller keeps them initialized);
- ``wp``: int8 ``[n_tiles, kp / 4, NR, 4]`` flattened: for column tile t,
  k group q, column j of the tile and t4 in 0..3, the weight ``w[t * NR + j,
  4 * q + t4]``; columns and k past the real ones are 0, so they add
  nothing;
- ``acc``: int32 ``[R, n_tiles * NR]``, C-contiguous.

Exactness: every product is an exact integer and int32 addition modulo
2**32 is associative, so any order of summation gives the wrapped int32
sum the reference accumulates.
"""

import numpy as np

from ._jit import kernel
from .simd import vbroadcast4, vdot4, vload, vstore, vzero

#: rows of ``a`` per tile
MR = 8
#: columns per tile: two 16-lane vectors
NR = 32


def padded_k(k: int) -> int:
    """The row length of ``a`` for a reduction of ``k`` products."""
    return max(4, -(-k // 4) * 4)


def padded_rows(rows: int) -> int:
    return max(MR, -(-rows // MR) * MR)


def column_tiles(columns: int) -> int:
    """Tiles of ``NR`` columns holding ``columns`` columns (at least one)."""
    return max(1, -(-columns // NR))


def acc_shape(rows: int, columns: int) -> tuple:
    """The shape of ``acc`` for products of up to ``rows`` rows and ``columns`` columns."""
    return padded_rows(rows), column_tiles(columns) * NR


def pack_weights(w):
    """``w`` ``[n, k]`` (int8 values) as the kernel's ``wp``; returns
    ``(wp, kp, n_tiles)``."""
    w = np.asarray(w)
    n, k = w.shape
    kp = padded_k(k)
    n_tiles = column_tiles(n)
    full = np.zeros((n_tiles * NR, kp), np.int8)
    full[:n, :k] = w
    wp = full.reshape(n_tiles, NR, kp // 4, 4).transpose(0, 2, 1, 3)
    return np.ascontiguousarray(wp).reshape(-1), kp, n_tiles


@kernel
def _tile(a, r, kp, wp, w0, acc, c):
    """acc[r:r + 8, c:c + 32] = a[r:r + 8] x the column tile at wp[w0:]."""
    c00 = vzero()
    c01 = vzero()
    c10 = vzero()
    c11 = vzero()
    c20 = vzero()
    c21 = vzero()
    c30 = vzero()
    c31 = vzero()
    c40 = vzero()
    c41 = vzero()
    c50 = vzero()
    c51 = vzero()
    c60 = vzero()
    c61 = vzero()
    c70 = vzero()
    c71 = vzero()
    a0 = r * kp
    for q in range(kp // 4):
        w = w0 + q * 4 * NR
        lo = vload(wp, w)
        hi = vload(wp, w + 64)
        i = a0 + 4 * q
        x = vbroadcast4(a, i)
        c00 = vdot4(c00, x, lo)
        c01 = vdot4(c01, x, hi)
        x = vbroadcast4(a, i + kp)
        c10 = vdot4(c10, x, lo)
        c11 = vdot4(c11, x, hi)
        x = vbroadcast4(a, i + 2 * kp)
        c20 = vdot4(c20, x, lo)
        c21 = vdot4(c21, x, hi)
        x = vbroadcast4(a, i + 3 * kp)
        c30 = vdot4(c30, x, lo)
        c31 = vdot4(c31, x, hi)
        x = vbroadcast4(a, i + 4 * kp)
        c40 = vdot4(c40, x, lo)
        c41 = vdot4(c41, x, hi)
        x = vbroadcast4(a, i + 5 * kp)
        c50 = vdot4(c50, x, lo)
        c51 = vdot4(c51, x, hi)
        x = vbroadcast4(a, i + 6 * kp)
        c60 = vdot4(c60, x, lo)
        c61 = vdot4(c61, x, hi)
        x = vbroadcast4(a, i + 7 * kp)
        c70 = vdot4(c70, x, lo)
        c71 = vdot4(c71, x, hi)
    n = acc.shape[1]
    o = r * n + c
    vstore(acc, o, c00)
    vstore(acc, o + 16, c01)
    o += n
    vstore(acc, o, c10)
    vstore(acc, o + 16, c11)
    o += n
    vstore(acc, o, c20)
    vstore(acc, o + 16, c21)
    o += n
    vstore(acc, o, c30)
    vstore(acc, o + 16, c31)
    o += n
    vstore(acc, o, c40)
    vstore(acc, o + 16, c41)
    o += n
    vstore(acc, o, c50)
    vstore(acc, o + 16, c51)
    o += n
    vstore(acc, o, c60)
    vstore(acc, o + 16, c61)
    o += n
    vstore(acc, o, c70)
    vstore(acc, o + 16, c71)


@kernel
def _half_tile(a, r, kp, wp, w0, acc, c):
    """As :func:`_tile` for the tile's first 16 columns only (a last tile
    with at most 16 columns left)."""
    c0 = vzero()
    c1 = vzero()
    c2 = vzero()
    c3 = vzero()
    c4 = vzero()
    c5 = vzero()
    c6 = vzero()
    c7 = vzero()
    a0 = r * kp
    for q in range(kp // 4):
        lo = vload(wp, w0 + q * 4 * NR)
        i = a0 + 4 * q
        c0 = vdot4(c0, vbroadcast4(a, i), lo)
        c1 = vdot4(c1, vbroadcast4(a, i + kp), lo)
        c2 = vdot4(c2, vbroadcast4(a, i + 2 * kp), lo)
        c3 = vdot4(c3, vbroadcast4(a, i + 3 * kp), lo)
        c4 = vdot4(c4, vbroadcast4(a, i + 4 * kp), lo)
        c5 = vdot4(c5, vbroadcast4(a, i + 5 * kp), lo)
        c6 = vdot4(c6, vbroadcast4(a, i + 6 * kp), lo)
        c7 = vdot4(c7, vbroadcast4(a, i + 7 * kp), lo)
    n = acc.shape[1]
    o = r * n + c
    vstore(acc, o, c0)
    vstore(acc, o + n, c1)
    vstore(acc, o + 2 * n, c2)
    vstore(acc, o + 3 * n, c3)
    vstore(acc, o + 4 * n, c4)
    vstore(acc, o + 5 * n, c5)
    vstore(acc, o + 6 * n, c6)
    vstore(acc, o + 7 * n, c7)


@kernel
def gemm_u8s8(a, rows, wp, acc, columns):
    """acc[:rows', :columns'] = a[:rows'] x w, rows' = ``rows`` rounded up
    to MR, columns' = ``columns`` rounded up to 16 (see the module
    docstring for the layouts; acc's other columns are left as they are)."""
    kp = a.shape[1]
    tile_size = kp * NR
    for t in range((columns + NR - 1) // NR):
        if columns - t * NR <= 16:
            for r in range(0, rows, MR):
                _half_tile(a, r, kp, wp, t * tile_size, acc, t * NR)
        else:
            for r in range(0, rows, MR):
                _tile(a, r, kp, wp, t * tile_size, acc, t * NR)
