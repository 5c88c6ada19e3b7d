"""Elementwise activations: RELU and RELU6 (quantized and float32), and the
256-entry lookup table of LOGISTIC.

Arrays are flat and C-contiguous, input and output of one shape.

Aliasing rule (for a memory planner): every kernel here reads ``x[i]``
before it writes ``out[i]`` and touches no other position for that element,
so ``out`` may be the memory of ``x`` (in place).
"""

import numpy as np

from ._jit import kernel
from .fixedpoint import multiply_by_quantized_multiplier, wrap_int32


@kernel
def relu_quantized(x, out, input_zero_point, multiplier, shift, output_zero_point, act_min,
                   act_max):
    """Follows ``reference_ops::ReluX`` (``ReluParams``), which TFLite's
    ``QuantizedReluX`` calls for int8 and uint8 RELU and RELU6: the input
    minus its zero point (at most 255 in magnitude), requantized with
    ``MultiplyByQuantizedMultiplier`` (double rounding), plus the output zero
    point, then clamped from below by ``act_min`` and from above by
    ``act_max``, in that order.

    Aliasing rule: safe in place (see the module)."""
    for i in range(x.size):
        # the sum is an int32 addition in C++: it wraps as the hardware does
        v = wrap_int32(output_zero_point + multiply_by_quantized_multiplier(
            np.int64(x[i]) - input_zero_point, multiplier, shift))
        if v < act_min:
            v = act_min
        if v > act_max:
            v = act_max
        out[i] = v


@kernel
def relu_float(x, out, upper):
    """float32 RELU (``upper`` = inf: Eigen's ``cwiseMax(0.0f)``, which keeps
    ``x`` unless ``x < 0``) and RELU6 (``upper`` = 6: ``reference_ops::Relu6``,
    ``x > 6 ? 6 : x < 0 ? 0 : x``). NaN passes through with its sign, -0.0
    stays -0.0, and negatives become +0.0, as both comparisons decide.

    Aliasing rule: safe in place (see the module)."""
    zero = np.float32(0.0)
    for i in range(x.size):
        v = x[i]
        if v > upper:
            v = upper
        elif v < zero:
            v = zero
        out[i] = v


@kernel
def lookup_bytes(x, out, table):
    """``out[i] = table[x[i]]`` on the bytes of int8 or uint8 data (uint8
    views): TFLite's ``optimized_integer_ops::LookupTable``, which the
    reference LOGISTIC calls with the table its prepare filled
    (``LUTPopulate``, indexed by the input's byte).

    Aliasing rule: safe in place (see the module)."""
    for i in range(x.size):
        out[i] = table[x[i]]
