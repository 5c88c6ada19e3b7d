"""Data movement: TRANSPOSE, STRIDED_SLICE, TILE, PACK (one strided copy)
and PAD / PADV2.

The kernels copy elements and never compute with them: the operators hand
them arrays viewed as unsigned integers of the element's size (float32 as
uint32, int8 as uint8), so a float's bits, NaN payloads included, travel
unchanged and one compiled version serves every type of a size.

``strided_copy`` walks a loop nest (see ``int8sqz.ops._broadcast``):
``shape`` (int64, outermost first) and ``strides`` (int64, two rows, in
elements: 0 the output, 1 the input), from a start offset in each 1-D
array. Strides may be negative (a slice walked backwards) or 0 (a tile
repeated). The operator's prepare step checks that every position lies
inside both arrays.
"""

import numpy as np

from ._jit import kernel
from .elementwise import num_rows


@kernel
def strided_copy(out, out_start, src, src_start, shape, strides):
    """``out[o] = src[i]`` for every position of the loop nest, in its
    order: the output in C order and, for the input, the walk of

    * ``reference_ops::Transpose`` (``TransposeImpl``): input strides
      permuted;
    * ``reference_ops::StridedSlice`` (the ``DynamicStridedSliceParams``
      version): the input from each axis's start by its stride, one
      dimension per axis of the effective input shape, the output written
      sequentially (``SequentialTensorWriter``);
    * ``TileOneDimension`` of ``tile.cc``: each output dimension split in
      (multiple, input dimension), the input walked with stride 0 along the
      multiple;
    * ``reference_ops::Pack``: one call per input, into its slot of the
      output.

    Aliasing rule: ``out`` must not overlap ``src``.
    """
    last = shape.size - 1
    n = shape[last]
    so = strides[0, last]
    si = strides[1, last]
    # the outer dimensions as an odometer: no division per row
    index = np.zeros(max(last, 1), np.int64)
    o = out_start
    i = src_start
    for _ in range(num_rows(shape)):
        if so == 1 and si == 1:
            # rows as views indexed from 0: the loop vectorizes (a memcpy)
            row = out[o:o + n]
            part = src[i:i + n]
            for j in range(n):
                row[j] = part[j]
        elif so == 1:
            row = out[o:o + n]
            for j in range(n):
                row[j] = src[i + j * si]
        else:
            for j in range(n):
                out[o + j * so] = src[i + j * si]
        d = last - 1
        while d >= 0:
            index[d] += 1
            o += strides[0, d]
            i += strides[1, d]
            if index[d] < shape[d]:
                break
            o -= strides[0, d] * shape[d]
            i -= strides[1, d] * shape[d]
            index[d] = 0
            d -= 1


@kernel
def pad(out, src, value, in_shape, left, out_shape):
    """``reference_ops::PadImpl`` (and ``optimized_ops::PadImpl`` and
    ``PadImageStyle``, which TFLite's reference registration uses for
    quantized int8 and uint8 and which produce the same elements): every
    output element outside the input's box is ``value``, the others are the
    input's elements in order. The shapes and left paddings have 5
    dimensions (the operator extends them with leading 1s and 0s, and merges
    unpadded trailing dimensions into the one before: the same elements in
    longer rows).

    Order of reads and writes (the ``rows`` sharing rule of PAD): the output
    is written in increasing order of position, one run of the last
    dimension at a time; a run reads nothing but the input run at its
    position less the left paddings. So each output row of an image (batch,
    height) is finished before the next begins and reads only the one input
    row at its height less the top padding.
    """
    d4 = out_shape[4]
    l4 = left[4]
    n4 = in_shape[4]
    r4 = d4 - l4 - n4
    o = 0
    i = 0
    for a in range(out_shape[0]):
        ia = a - left[0]
        for b in range(out_shape[1]):
            ib = b - left[1]
            for c in range(out_shape[2]):
                ic = c - left[2]
                for d in range(out_shape[3]):
                    idd = d - left[3]
                    row = out[o:o + d4]
                    o += d4
                    if not (0 <= ia < in_shape[0] and 0 <= ib < in_shape[1]
                            and 0 <= ic < in_shape[2] and 0 <= idd < in_shape[3]):
                        for j in range(d4):
                            row[j] = value
                        continue
                    for j in range(l4):
                        row[j] = value
                    body = row[l4:l4 + n4]
                    part = src[i:i + n4]
                    for j in range(n4):
                        body[j] = part[j]
                    i += n4
                    tail = row[l4 + n4:]
                    for j in range(r4):
                        tail[j] = value
