"""The rescaling copy of CONCATENATION for uint8 inputs whose quantization
differs from the output's.

Plain copies (every other input) are NumPy assignments: the reference does
them with ``memcpy``.
"""

import numpy as np

from ._jit import kernel
from .elementwise import num_rows, row_offset
from .fixedpoint import clamp, float_to_int32, round_half_away


@kernel
def rescale_uint8(out, src, shape, strides, scale, bias, out_zero_point):
    """Follows the float path of ``reference_ops::ConcatenationWithScaling``.

    ``scale`` and ``bias`` are float32 (computed in prepare). Per element, in
    float32 and in this order, without a fused multiply-add (TFLite's build
    does not contract it; checked against the reference runtime):
    ``value * scale``, rounded; ``+ bias``, rounded; ``std::round`` (half
    away from zero); a C cast to int32 (NaN and out-of-range values become
    INT32_MIN, as on x86); ``+ out_zero_point``; clamp to 0..255.

    The loop nest (``shape``, ``strides``) has two operands, the output slot
    (0) and the input (1); both arrays start at their first element.
    Aliasing rule: ``out`` (the output slot) must not overlap ``src``; the
    rescaling cannot run in place.
    """
    last = shape.size - 1
    n = shape[last]
    so, si = strides[0, last], strides[1, last]
    for r in range(num_rows(shape)):
        o = out[row_offset(r, shape, strides, 0):]
        x = src[row_offset(r, shape, strides, 1):]
        if so == 1 and si == 1:
            for j in range(n):
                v = np.float32(np.float32(x[j]) * scale) + bias
                o[j] = clamp(float_to_int32(round_half_away(v)) + out_zero_point, 0, 255)
        else:
            for j in range(n):
                v = np.float32(np.float32(x[j * si]) * scale) + bias
                o[j * so] = clamp(float_to_int32(round_half_away(v)) + out_zero_point, 0, 255)
