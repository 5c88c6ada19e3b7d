"""QUANTIZE and DEQUANTIZE kernels over flat arrays."""

import numpy as np

from ._jit import kernel
from .fixedpoint import (
    clamp, float_to_int32, multiply_by_quantized_multiplier, round_half_away, wrap_int32,
)


@kernel
def affine_quantize(x, scale_f32, zero_point, qmin, qmax, out):
    """Follows ``reference_ops::AffineQuantize``: float -> integer."""
    scale = np.float32(scale_f32)
    for i in range(x.size):
        # float32 division, std::round, then a C cast to int32 and an int32 add
        q = float_to_int32(round_half_away(np.float32(x[i]) / scale))
        out[i] = clamp(wrap_int32(q + zero_point), qmin, qmax)


@kernel
def requantize(x, in_zero_point, multiplier, shift, out_zero_point, qmin, qmax, out):
    """Follows ``reference_ops::Requantize``: integer -> integer."""
    for i in range(x.size):
        v = multiply_by_quantized_multiplier(np.int64(x[i]) - in_zero_point, multiplier, shift)
        out[i] = clamp(v + out_zero_point, qmin, qmax)


@kernel
def dequantize(x, zero_point, scale_f64, out):
    """Follows ``reference_ops::Dequantize``: the product is taken in double,
    then rounded once to float32."""
    for i in range(x.size):
        out[i] = np.float32(scale_f64 * float(np.int64(x[i]) - zero_point))
