"""RESIZE_BILINEAR of NHWC tensors.

The operator's prepare step computes, once per output row y and once per
output column x, the two source rows (columns) and their interpolation
weights, exactly as TFLite's ``ComputeInterpolationValues`` (float) or
``ComputeInterpolationValuesInteger`` do for each pixel, and checks that
every source index lies inside the input. The kernels combine the four
source pixels of each output element.

Aliasing rule: none. An output pixel reads four input pixels of other
positions; the output must not overlap the input.
"""

import numpy as np

from ._jit import kernel


@kernel
def corners(b, y, x, in_h, in_w, depth, y0, y1, x0, x1):
    """Flat offsets of output pixel (b, y, x) and of its four source pixels
    (top-left, bottom-left, top-right, bottom-right) in NHWC arrays."""
    row0 = (b * in_h + y0[y]) * in_w
    row1 = (b * in_h + y1[y]) * in_w
    return (((b * y0.size + y) * x0.size + x) * depth, (row0 + x0[x]) * depth,
            (row1 + x0[x]) * depth, (row0 + x1[x]) * depth, (row1 + x1[x]) * depth)


@kernel
def nan_add(a, b, keep_first):
    """``a + b`` in float32, but when both are NaN the NaN the reference
    keeps: x86's ``addss`` returns its first source operand, and the
    reference's build puts the running sum first in its first addition
    (top-left + bottom-left keeps top-left's NaN) and the new term first in
    the next two (measured with NaNs of distinct payloads). One NaN operand
    always gives that NaN; compilers may swap the operands of a float
    addition, so the two-NaN case is decided here, not by the code numba
    generates."""
    if a != a and b != b:
        return a if keep_first else b
    return a + b


@kernel
def resize_bilinear_float(x, out, batches, in_h, in_w, depth, y0, y1, dy, wy, x0, x1, dx, wx,
                          integer_output):
    """Follows ``reference_ops::ResizeBilinear<T>`` (TFLite's reference for
    float32 and uint8). ``dy`` is ``input_y - y0`` and ``wy`` is
    ``1 - (input_y - y0)`` (float32, per output row; likewise ``dx``, ``wx``
    per output column). Per element, in float32 and in the C++ order,
    without fused multiply-adds (TFLite's build does not contract them;
    checked against the reference runtime)::

        top_left * wy * wx + bottom_left * dy * wx
        + top_right * wy * dx + bottom_right * dy * dx + offset

    ``offset`` is 0.5 for an integer output, which the C cast then truncates
    (the values are never negative); 0.0 for float32 (it turns -0.0 into
    +0.0, as the C++ sum does). Where two terms are NaN, the sum is the NaN
    the reference's compiled code keeps (``nan_add``)."""
    offset = np.float32(0.5) if integer_output else np.float32(0.0)
    for b in range(batches):
        for y in range(y0.size):
            for xx in range(x0.size):
                o, p00, p10, p01, p11 = corners(b, y, xx, in_h, in_w, depth, y0, y1, x0, x1)
                for c in range(depth):
                    v = nan_add(nan_add(nan_add(
                        np.float32(x[p00 + c]) * wy[y] * wx[xx],
                        np.float32(x[p10 + c]) * dy[y] * wx[xx], True),
                        np.float32(x[p01 + c]) * wy[y] * dx[xx], False),
                        np.float32(x[p11 + c]) * dy[y] * dx[xx], False) + offset
                    if integer_output:
                        out[o + c] = int(v)
                    else:
                        out[o + c] = v


@kernel
def resize_bilinear_integer(x, out, batches, in_h, in_w, depth, y0, y1, dy, x0, x1, dx):
    """Follows ``reference_ops::ResizeBilinearInteger`` (TFLite's reference
    for int8): weights in units of 1/1024 (``dy = input_y - 1024 * y0``, per
    output row, and ``dx`` per column), four int64 products summed in units
    of 2**-20, then divided by 2**20 rounding half away from zero (the C
    division truncates toward zero after adding +-2**19, the sign taken from
    the sum, -2**19 for a sum of 0)."""
    for b in range(batches):
        for y in range(y0.size):
            for xx in range(x0.size):
                o, p00, p10, p01, p11 = corners(b, y, xx, in_h, in_w, depth, y0, y1, x0, x1)
                wy0 = 1024 - dy[y]
                wx0 = 1024 - dx[xx]
                for c in range(depth):
                    s = (np.int64(x[p00 + c]) * wy0 * wx0
                         + np.int64(x[p10 + c]) * dy[y] * wx0
                         + np.int64(x[p01 + c]) * wy0 * dx[xx]
                         + np.int64(x[p11 + c]) * dy[y] * dx[xx])
                    s = s + (1 << 19) if s > 0 else s - (1 << 19)
                    # C division truncates toward zero
                    q = s >> 20 if s >= 0 else -((-s) >> 20)
                    out[o + c] = q
