"""MEAN of quantized integers, spelled out with NumPy sums and Python integers."""

import numpy as np

from naive.fixedpoint import mbqm, to_int32


def resolve_axes(axes, rank):
    """Axes as TFLite resolves them: negatives from the end, repeats dropped."""
    if rank == 0:
        return ()
    out = []
    for a in axes:
        a = int(a)
        if a < 0:
            a += rank
        assert 0 <= a < rank, "axis out of range"
        if a not in out:
            out.append(a)
    return tuple(out)


def mean(x, axes, keep_dims, in_zp, multiplier, shift, out_zp, qmin, qmax):
    """``QuantizedMeanOrSum`` (mean): ``multiplier``/``shift`` are the quantized
    input-to-output scale ratio; the 1/count factor is folded in here."""
    x = np.asarray(x)
    axes = resolve_axes(axes, x.ndim)
    count = 1
    for a in axes:
        count *= x.shape[a]
    sums = x.astype(np.int64).sum(axis=axes, keepdims=keep_dims)
    if count == 0:
        return np.zeros(sums.shape, np.int64)
    # largest power of two not above count, capped at 2**32 and at 2**(31 + shift)
    s = 0
    while s < 32 and 2 ** (s + 1) <= count:
        s += 1
    s = min(s, 31 + shift)
    m = (multiplier * 2**s) // count
    out = np.empty(sums.shape, np.int64)
    for idx in np.ndindex(sums.shape):
        total = to_int32(int(sums[idx]))
        v = mbqm(to_int32(total - in_zp * count), m, shift - s)
        out[idx] = min(max(to_int32(v + out_zp), qmin), qmax)
    return out


def reduce_max(x, axes, keep_dims):
    """REDUCE_MAX: every axis reduced, the maximum runs from the first value;
    otherwise from the type's lowest value, so a float NaN is passed over and
    a slice of -inf gives the lowest float. Values are compared as TFLite's
    reducer does (``in > current``), in C order."""
    x = np.asarray(x)
    red = resolve_axes(axes, x.ndim)
    lowest = np.finfo(x.dtype).min if x.dtype.kind == "f" else np.iinfo(x.dtype).min
    everything = len(red) == x.ndim
    kept = [d for d in range(x.ndim) if d not in red]
    out_shape = tuple(1 if d in red else n for d, n in enumerate(x.shape)) if keep_dims else \
        tuple(x.shape[d] for d in kept)
    if everything:
        flat = x.reshape(-1)
        cur = flat[0] if flat.size else x.dtype.type(lowest)
        for v in flat[1:]:
            if v > cur:
                cur = v
        return np.full(out_shape, cur, x.dtype)
    out = {}
    for idx in np.ndindex(x.shape):
        key = tuple(idx[d] for d in kept)
        cur = out.get(key, x.dtype.type(lowest))
        out[key] = x[idx] if x[idx] > cur else cur
    result = np.full(tuple(x.shape[d] for d in kept), lowest, x.dtype)
    for key, v in out.items():
        result[key] = v
    return result.reshape(out_shape)
