"""Reductions over arbitrary axes: quantized MEAN, REDUCE_MAX."""

import numpy as np

from ._jit import kernel
from .fixedpoint import (
    clamp,
    multiply_by_quantized_multiplier,
    vector_rescale,
    wrap_int32,
)
from .simd import vadd, vload, vrequantize, vsplat, vstore, vstore_bytes, vwiden


@kernel
def next_offset(index, dims, out_strides, offset):
    """Step the multi-index ``index`` over ``dims`` once in C order and
    return the output offset moved with it (``out_strides[d]`` per step
    along dimension ``d``)."""
    d = dims.size - 1
    while d >= 0:
        index[d] += 1
        offset += out_strides[d]
        if index[d] < dims[d]:
            break
        offset -= out_strides[d] * dims[d]
        index[d] = 0
        d -= 1
    return offset


@kernel
def mean_quantized(x, dims, out_strides, in_zero_point, count, multiplier, shift,
                   out_zero_point, qmin, qmax, out):
    """Follows ``reference_ops::QuantizedMeanOrSum`` (integer version, mean).

    ``x`` and ``out`` are flat C-order views; ``dims`` is the input shape and
    ``out_strides[d]`` the step in ``out`` for a step along input dimension
    ``d`` (0 for a reduced dimension). ``count`` is the number of elements
    reduced into each output, and ``multiplier``/``shift`` already include the
    1/count factor (the op's prepare step folds it in as TFLite's eval does).
    There is no float arithmetic: the reference was rewritten to integers.
    """
    rank = dims.size
    # the reference sums raw values in an int32 accumulator that wraps around
    acc = np.zeros(out.size, np.int64)
    index = np.zeros(rank, np.int64)
    offset = 0
    for i in range(x.size):
        acc[offset] += x[i]
        offset = next_offset(index, dims, out_strides, offset)
    for j in range(out.size):
        # the zero point correction is an int64 product, cast back to int32
        shifted = wrap_int32(wrap_int32(acc[j]) - in_zero_point * count)
        v = multiply_by_quantized_multiplier(shifted, multiplier, shift)
        out[j] = clamp(wrap_int32(v + out_zero_point), qmin, qmax)


@kernel
def mean_quantized_blocks(x, outer, reduced, inner, in_zero_point, count, multiplier, shift,
                          out_zero_point, qmin, qmax, out):
    """:func:`mean_quantized` when the reduced axes are one run of adjacent
    dimensions (size-1 dimensions aside): ``x`` viewed as
    ``[outer, reduced, inner]`` and ``out`` as ``[outer, inner]``, as
    ``reference_ops::QuantizedMeanOrSum`` sums it.

    Exact by construction: every output sums the same input values as in
    :func:`mean_quantized`, in wrapping int32 (addition modulo 2**32: the
    order of the additions does not matter), then the same requantization,
    16 outputs at a time where ``vrequantize`` takes the multiplier and
    shift (a multiplier in [0, 2**31), shifts of at most 31 each way)."""
    # int32 sums wrap as the reference's int32 accumulator does
    acc = np.zeros(inner, np.int32)
    bias = wrap_int32(-in_zero_point * count)
    lanes = out.strides[0] == 1 and vector_rescale(multiplier, shift, 0)
    wide = inner - inner % 16 if x.strides[0] == 1 else 0
    # vrequantize: the same int32 steps as the scalar tail below (the zero
    # point correction as a wrapped bias), 16 outputs at a time
    vb, vm = vsplat(bias), vsplat(multiplier)
    vl, vr = vsplat(max(shift, 0)), vsplat(max(-shift, 0))
    vo, lo, hi = vsplat(out_zero_point), vsplat(qmin), vsplat(qmax)
    for o in range(outer):
        acc[:] = 0
        base = o * reduced * inner
        for r in range(reduced):
            row = base + r * inner
            for i in range(0, wide, 16):
                vstore(acc, i, vadd(vload(acc, i), vwiden(x, row + i)))
            for i in range(wide, inner):
                acc[i] = np.int32(np.int64(acc[i]) + x[row + i])
        done = 0
        if lanes:
            done = inner - inner % 16
            for i in range(0, done, 16):
                v = vrequantize(vload(acc, i), vb, vm, vl, vr, vo, lo, hi)
                vstore_bytes(out, o * inner + i, v, 16)
        for i in range(done, inner):
            # the zero point correction is an int64 product, cast back to int32
            shifted = wrap_int32(np.int64(acc[i]) - in_zero_point * count)
            v = multiply_by_quantized_multiplier(shifted, multiplier, shift)
            out[o * inner + i] = clamp(wrap_int32(v + out_zero_point), qmin, qmax)


@kernel
def reduce_max(x, dims, out_strides, lowest, all_axes, out):
    """Follows ``reduce.cc``'s ``EvalType<T, kReference>`` for REDUCE_MAX:
    the reducer ``in > current ? in : current`` over the input in C order.

    Two paths, as TFLite has them, differing only for float NaN and -inf:
    when every axis is reduced (``all_axes``, TFLite's ``ReduceAllDims`` on
    one thread) the running maximum starts from the first element (a NaN
    there stays); otherwise (``ReduceGeneric``) every output starts from
    ``lowest`` (the type's ``numeric_limits::lowest()``), so NaN never enters
    and a row of -inf gives ``lowest``. An empty reduction gives ``lowest``.

    ``dims`` is the input shape and ``out_strides[d]`` the step in ``out``
    for a step along input dimension ``d`` (0 for a reduced dimension)."""
    if all_axes:
        acc = lowest
        if x.size > 0:
            acc = x[0]
        for i in range(1, x.size):
            if x[i] > acc:
                acc = x[i]
        out[0] = acc
        return
    for j in range(out.size):
        out[j] = lowest
    rank = dims.size
    index = np.zeros(rank, np.int64)
    offset = 0
    for i in range(x.size):
        if x[i] > out[offset]:
            out[offset] = x[i]
        offset = next_offset(index, dims, out_strides, offset)
