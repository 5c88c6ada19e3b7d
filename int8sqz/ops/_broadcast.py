"""Shapes and loop nests shared by the elementwise operators (ADD, MUL) and
CONCATENATION.

A *loop nest* describes how a kernel walks several arrays at once: ``shape``
(int64, outermost dimension first, innermost last) and ``strides`` (int64,
one row per operand, in elements). Operands are handed to the kernels as 1-D
arrays that start at their first element (:func:`flat`), so an output (or an
input) may be a strided view of a larger buffer as well as a C-contiguous
array. :func:`loop_nest` drops unit dimensions and fuses adjacent dimensions
that every operand walks contiguously, so a same-shape ADD is one flat loop
and a ``[1, H, W, C] + [C]`` ADD is ``H*W`` rows of ``C`` elements.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import InternalError

#: TFLite's reference broadcast loop (``BroadcastBinaryOpSimple``) aborts the
#: process on broadcasts of more dimensions than this (``kMaxRank``)
MAX_BROADCAST_RANK = 8


def broadcast_shape(shape1, shape2):
    """The output shape of a broadcast, as TFLite's
    ``CalculateShapeForBroadcast`` computes it (NumPy's rule: dimensions are
    matched from the right; each pair is equal or one of them is 1; a 1
    against a 0 gives 0). Returns None when the shapes are incompatible."""
    rank = max(len(shape1), len(shape2))
    a = (1,) * (rank - len(shape1)) + tuple(shape1)
    b = (1,) * (rank - len(shape2)) + tuple(shape2)
    out = []
    for d1, d2 in zip(a, b):
        if d1 != d2 and d1 != 1 and d2 != 1:
            return None
        out.append(d2 if d1 == 1 else d1)
    return tuple(out)


def needs_broadcast(shape1, shape2) -> bool:
    """Whether TFLite takes the broadcast path (``ProcessBroadcastShapes``):
    the shapes differ after padding the shorter one with leading 1s."""
    rank = max(len(shape1), len(shape2))
    a = (1,) * (rank - len(shape1)) + tuple(shape1)
    b = (1,) * (rank - len(shape2)) + tuple(shape2)
    return a != b


def c_strides(shape) -> tuple:
    """Element strides of a C-contiguous array of ``shape``."""
    strides = []
    step = 1
    for d in reversed(tuple(shape)):
        strides.append(step)
        step *= max(int(d), 1)
    return tuple(reversed(strides))


def flat(array: np.ndarray):
    """``(array1d, strides)``: a 1-D view of the memory ``array`` spans,
    starting at its first element, and ``array``'s strides in elements.

    Writing through the 1-D view writes into ``array``. Strides must be
    non-negative multiples of the item size (any view a memory planner hands
    out: slices along an axis, reshapes of contiguous memory).
    """
    if array.flags.c_contiguous:
        return array.reshape(-1), c_strides(array.shape)
    item = array.itemsize
    if any(s < 0 or s % item for s in array.strides):
        raise InternalError(
            f"array strides {array.strides} are not non-negative multiples of {item}"
        )
    strides = tuple(s // item for s in array.strides)
    if array.size == 0:
        return array.reshape(-1)[:0], strides
    span = 1 + sum((d - 1) * s for d, s in zip(array.shape, strides))
    view = np.lib.stride_tricks.as_strided(array, shape=(span,), strides=(item,))
    return view, strides


def loop_nest(out_shape, operands):
    """The fused loop nest over ``out_shape`` for ``operands``.

    ``operands`` is a list of ``(shape, strides)``, strides in elements; each
    shape is matched to ``out_shape`` from the right and must broadcast to it
    (a dimension of 1, or a missing leading dimension, is walked with stride
    0). Returns ``(shape, strides)`` as int64 arrays of shapes ``(R,)`` and
    ``(len(operands), R)``, R >= 1; a zero-size ``out_shape`` gives
    ``shape == [0]``.
    """
    out_shape = tuple(int(d) for d in out_shape)
    rank = len(out_shape)
    n = len(operands)
    aligned = []
    for shape, strides in operands:
        shape, strides = tuple(shape), tuple(strides)
        pad = rank - len(shape)
        if pad < 0 or len(strides) != len(shape):
            raise InternalError(f"operand shape {shape} does not fit output shape {out_shape}")
        row = []
        for d in range(rank):
            if d < pad or shape[d - pad] == 1:
                row.append(0)
            elif shape[d - pad] == out_shape[d]:
                row.append(int(strides[d - pad]))
            else:
                raise InternalError(
                    f"operand shape {shape} does not broadcast to output shape {out_shape}"
                )
        aligned.append(row)
    if math.prod(out_shape) == 0:
        return np.zeros(1, np.int64), np.zeros((n, 1), np.int64)
    # walk from the innermost dimension outwards, fusing when every operand's
    # stride continues the group below it
    dims = []  # innermost first: [extent, [stride per operand]]
    for d in range(rank - 1, -1, -1):
        extent = out_shape[d]
        if extent == 1:
            continue
        col = [aligned[k][d] for k in range(n)]
        if dims:
            inner_extent, inner = dims[-1]
            if all(col[k] == inner[k] * inner_extent for k in range(n)):
                dims[-1][0] = inner_extent * extent
                continue
        dims.append([extent, col])
    if not dims:  # a single element: any stride will do; 1 takes the kernels' unit-stride path
        dims.append([1, [1] * n])
    dims.reverse()
    shape = np.array([e for e, _ in dims], np.int64)
    strides = np.array([[col[k] for _, col in dims] for k in range(n)], np.int64).reshape(n, -1)
    return shape, strides


def five_fold(shape1, shape2):
    """TFLite's ``ProcessBroadcastShapes`` for the optimized binary kernels:
    ``("none", None)`` when the shapes are equal after padding the shorter
    with leading 1s; ``("first", dims)`` or ``("second", dims)`` when
    input 1 (input 2) is the one that broadcasts fast and the walk folds
    into the five dimensions ``dims`` of ``BinaryBroadcastFiveFold``
    (innermost last, sized for the fast input's partner); else
    ``("generic", None)`` (TFLite then takes its slow 6-D loop)."""
    rank = max(len(shape1), len(shape2))
    s1 = (1,) * (rank - len(shape1)) + tuple(int(d) for d in shape1)
    s2 = (1,) * (rank - len(shape2)) + tuple(int(d) for d in shape2)
    if s1 == s2:
        return "none", None
    category = None
    for i in range(rank - 1, -1, -1):
        if s1[i] == s2[i]:
            continue
        if s1[i] == 1:
            category = "first"
        elif s2[i] == 1:
            category = "second"
        else:
            return "generic", None
        break
    # a: the fast-broadcasting input's shape, b: the other's
    a, b = (s2, s1) if category == "second" else (s1, s2)
    dims = [1] * 5
    i = rank - 1
    # from the innermost axis outwards: equal axes, axes where a is 1, equal
    # axes, axes where b is 1, equal axes; anything left: generic
    for slot, same in ((4, True), (3, False), (2, True), (1, False), (0, True)):
        while i >= 0 and ((a[i] == b[i]) if same else ((a if slot == 3 else b)[i] == 1)):
            dims[slot] *= a[i] if slot in (1, 2) else b[i]
            i -= 1
    return ("generic", None) if i >= 0 else (category, tuple(dims))
