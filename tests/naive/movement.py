"""The data-movement operators with NumPy's own functions and Python
indexing: they share no code with the kernels' loop nests. Floats are
compared as bits by the tests (the operators copy bits)."""

import numpy as np


def reshape(x, shape):
    return np.reshape(np.asarray(x), tuple(shape))


def squeeze(x, dims):
    """Every dimension of size 1 when ``dims`` is empty."""
    x = np.asarray(x)
    if not dims:
        return x.reshape(tuple(d for d in x.shape if d != 1))
    axes = sorted({d % x.ndim for d in dims})
    return x.reshape(tuple(n for d, n in enumerate(x.shape) if d not in axes))


def expand_dims(x, axis):
    return np.expand_dims(np.asarray(x), axis)


def shape(x, dtype=np.int32):
    return np.array(np.shape(x), dtype)


def strided_slice(x, begin, end, strides, begin_mask=0, end_mask=0, ellipsis_mask=0,
                  new_axis_mask=0, shrink_axis_mask=0):
    """TensorFlow's definition, as a Python index: entry i is ``...`` (an
    ellipsis bit), ``None`` (a new axis), an index (a shrunk axis) or
    ``begin:end:stride`` with masked ends left out. For slices TensorFlow
    gives a meaning to (one ellipsis at most, shrunk indices in range)."""
    index = []
    for i, (b, e, s) in enumerate(zip(begin, end, strides)):
        if ellipsis_mask >> i & 1:
            index.append(Ellipsis)
        elif new_axis_mask >> i & 1:
            index.append(None)
        elif shrink_axis_mask >> i & 1:
            index.append(int(b))
        else:
            index.append(slice(None if begin_mask >> i & 1 else int(b),
                               None if end_mask >> i & 1 else int(e), int(s)))
    return np.array(np.asarray(x)[tuple(index)])


def pack(arrays, axis):
    return np.stack([np.asarray(a) for a in arrays], axis=axis)


def transpose(x, perm):
    return np.transpose(np.asarray(x), [int(p) for p in perm])


def tile(x, multiples):
    x = np.asarray(x)
    if x.ndim == 0:
        return x.copy()
    return np.tile(x, tuple(int(m) for m in multiples))


def pad(x, paddings, value):
    """``paddings``: (before, after) per dimension; ``value`` of x's type."""
    x = np.asarray(x)
    if x.ndim == 0:
        return x.copy()
    bits = x.view(np.uint32) if x.dtype == np.float32 else x
    fill = np.array([value], x.dtype).view(bits.dtype)[0]
    out = np.pad(bits, [(int(a), int(b)) for a, b in np.asarray(paddings).reshape(-1, 2)],
                 constant_values=fill)
    return out.view(x.dtype)
