"""TFLite's optimized builtin kernels as ai-edge-litert's x86-64 build runs
them (``OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES``): the arithmetic of
``Interpreter(numerics="builtin")`` where it differs from the reference
(docs/numerics.md has the measurements).

The build defines ``USE_NEON`` on x86 through NEON_2_SSE, so the kernels'
NEON loops run, with NEON's rounding: ``vqrdmulh`` and ``vrshl`` round half
up (toward +inf) where the reference's gemmlowp functions round half away
from zero; ``vmovn`` truncates, ``vqmovn`` saturates. Each vector loop takes
whole blocks (8 or 16 elements) from the start of a run, and its scalar tail
keeps the reference's arithmetic: **an element's result depends on its
position**. ruy's GEMM and the NEON custom GEMV requantize half up too.

Every function works on flat C-contiguous arrays (the operator's prepare
checks shapes, types and every index). Values read from arrays are widened
to int64 before any arithmetic (NUMBA_DISABLE_JIT=1 runs these on NumPy
scalars).
"""

import math

import numpy as np

from ._jit import kernel
from .fixedpoint import (
    INT32_MAX, INT32_MIN, clamp, float_to_int32, multiply_by_quantized_multiplier,
    round_half_away, rounding_divide_by_pot, wrap_int32,
)
from .softmax import row_max


@kernel
def multiply_half_up(x, multiplier, shift):
    """The requantization of the vector paths: ``x`` shifted left by
    max(shift, 0) in int32 (wrapping), times the Q31 multiplier, + 2**30,
    arithmetic shift right by 31 (``vqrdmulh``: half up), then a rounding
    right shift by max(-shift, 0) that rounds half up (``vrshl``). The
    reference's ``MultiplyByQuantizedMultiplier`` rounds both steps half
    away from zero; the two differ only on exact ties of negative values.
    The multiplier is below 2**31, so the doubling never saturates."""
    left = shift if shift > 0 else 0
    right = -shift if shift < 0 else 0
    v = wrap_int32(x * (1 << left))
    r = (v * multiplier + (1 << 30)) >> 31
    if right > 0:
        r = (r + (1 << (right - 1))) >> right
    return r


@kernel
def vqrdmulh(a, b):
    """NEON ``vqrdmulhq_s32`` on int32 values: (2ab + 2**31) >> 32 (half
    up), saturated (only INT32_MIN * INT32_MIN overflows)."""
    if a == INT32_MIN and b == INT32_MIN:
        return INT32_MAX
    return (2 * a * b + (1 << 31)) >> 32


@kernel
def shift_left(x, n):
    """NEON ``vshlq_s32`` by n on an int32: left (wrapping) for n >= 0, an
    arithmetic right shift without rounding for n < 0."""
    if n >= 0:
        return wrap_int32(x * (1 << n))
    return x >> (-n)


@kernel
def wrap_int16(x):
    """``vmovn`` to int16 (and int16 additions): two's complement wrap."""
    return ((x + (1 << 15)) & 0xFFFF) - (1 << 15)


# -- QUANTIZE and DEQUANTIZE ----------------------------------------------------------

@kernel
def affine_quantize(x, scale, reciprocal, zero_point, qmin, qmax, out):
    """Follows ``optimized_ops::AffineQuantize`` (float -> int8/uint8). The
    first 8 * (n // 8) elements (the NEON loop): x * reciprocal in float32
    (``reciprocal`` = float32(1.0 / double(scale))), rounded half to even
    (``vcvtnq_s32_f32``, SSE's cvtps2dq: NaN and out-of-range values give
    INT32_MIN); the tail: double(x) / double(scale) rounded half away from
    zero, as the reference. Then + zero point (an int32 addition, wrapping)
    and the clamp. ``scale`` is the float32 scale as a float64."""
    n = x.size
    head = n - n % 8
    for i in range(n):
        if i < head:
            q = float_to_int32(np.rint(np.float32(np.float32(x[i]) * reciprocal)))
        else:
            d = float(x[i]) / scale
            q = float_to_int32(round_half_away(d)) if math.isfinite(d) else INT32_MIN
        out[i] = clamp(wrap_int32(q + zero_point), qmin, qmax)


@kernel
def requantize(x, in_zero_point, multiplier, shift, out_zero_point, qmin, qmax, out):
    """Follows ``optimized_ops::Requantize`` (int8/uint8 -> int8/uint8): the
    first 16 * (n // 16) elements through :func:`multiply_half_up`, the tail
    through the reference's ``MultiplyByQuantizedMultiplier``; + the output
    zero point, clamped."""
    n = x.size
    head = n - n % 16
    for i in range(n):
        d = np.int64(x[i]) - in_zero_point
        if i < head:
            v = multiply_half_up(d, multiplier, shift)
        else:
            v = multiply_by_quantized_multiplier(d, multiplier, shift)
        out[i] = clamp(v + out_zero_point, qmin, qmax)


@kernel
def dequantize(x, zero_point, scale, offset, out):
    """Follows ``optimized_ops::Dequantize`` (int8/uint8 -> float32). The
    first 8 * (n // 8) elements: float32(q) * scale + offset in float32, two
    roundings (``scale`` the float32 scale, ``offset`` = float32(-zero_point
    * double(scale))); the tail: float32(double(scale) * (q - zero_point)),
    one rounding, as the reference."""
    n = x.size
    head = n - n % 8
    wide = float(scale)
    for i in range(n):
        q = np.int64(x[i])
        if i < head:
            out[i] = np.float32(np.float32(np.float32(q) * scale) + offset)
        else:
            out[i] = np.float32(wide * float(q - zero_point))


# -- CONV_2D (and the other GEMMs): the output stage ---------------------------------

@kernel
def requantize_sums(sums, channels, multiplier, left, right, half_up, zero_point, act_min,
                    act_max, out):
    """The output stage of ruy's GEMM, the NEON custom GEMV and the
    per-channel ``optimized_ops::Quantize`` over int32 sums (accumulator plus
    bias, ``sums`` and ``out`` flat, ``channels`` the innermost axis):
    channel c through :func:`multiply_half_up` where ``half_up[c]`` is set,
    else the reference's ``MultiplyByQuantizedMultiplier``; + zero point,
    clamped to the activation range. The per-channel shift comes split into
    ``left`` = max(shift, 0) and ``right`` = max(-shift, 0) (int64 arrays);
    both roundings are written without branches, so the channel loop
    vectorizes."""
    rows = sums.size // channels if channels > 0 else 0
    for r in range(rows):
        s_row = sums[r * channels:(r + 1) * channels]
        o_row = out[r * channels:(r + 1) * channels]
        for c in range(channels):
            v = wrap_int32(np.int64(s_row[c]) << left[c])
            rc = right[c]
            ab = v * multiplier[c]
            # half up: + 2**30, >> 31; then + 2**(right - 1), >> right
            up = (ab + (1 << 30)) >> 31
            up = (up + ((np.int64(1) << rc) >> 1)) >> rc
            # half away from zero (gemmlowp), as kernels/conv.py's _requantize
            ab = ab + ((1 << 30) - ((ab >> 63) & 0x7FFFFFFF))
            high = (ab + ((ab >> 63) & 0x7FFFFFFF)) >> 31
            mask = (np.int64(1) << rc) - 1
            threshold = (mask >> 1) + ((high >> 63) & 1)
            away = (high >> rc) + np.int64((high & mask) > threshold)
            q = (up if half_up[c] else away) + zero_point
            o_row[c] = min(max(q, act_min), act_max)


# -- MEAN ------------------------------------------------------------------------------

@kernel
def mean_hw(x, batches, pixels, channels, multiplier, shift, bias, half_up, out):
    """Follows ``optimized_integer_ops::Mean`` (int8, 4-D, over height and
    width, keep_dims): per image and channel the raw int32 sum of the
    ``pixels`` values (the zero point is not subtracted), requantized by
    :func:`multiply_half_up` where ``half_up[c]`` is set (the channel lies in
    a whole block of 16 of its worker's channels) else by
    ``MultiplyByQuantizedMultiplier``, + ``bias``, clamped to int8. ``x`` is
    [batches, pixels, channels] flat, ``out`` [batches, channels]."""
    acc = np.zeros(channels, np.int64)
    for b in range(batches):
        for c in range(channels):
            acc[c] = 0
        for p in range(pixels):
            base = (b * pixels + p) * channels
            for c in range(channels):
                acc[c] += np.int64(x[base + c])
        for c in range(channels):
            s = wrap_int32(acc[c])
            if half_up[c]:
                v = multiply_half_up(s, multiplier, shift)
            else:
                v = multiply_by_quantized_multiplier(s, multiplier, shift)
            out[b * channels + c] = clamp(v + bias, -128, 127)


# -- SOFTMAX ---------------------------------------------------------------------------

@kernel
def softmax_table(x, depth, table, out_scale, zero_point, qmin, qmax, round_away, out):
    """Follows ``optimized_ops::Softmax`` with the float table of
    ``PopulateSoftmaxLookupTable`` (``table[255 - d]`` = expf(-input_scale *
    beta * d), float32), over rows of ``depth`` elements: the row's maximum;
    the float32 sum, in order, of ``table[255 - max + v]``; inv = 1 /
    (sum * out_scale) in float32; each probability ``table[...] * inv`` in
    float32, rounded half away from zero (int8, ``round_away``) or + 0.5 and
    truncated (uint8); + zero point, clamped."""
    rows = x.size // depth if depth > 0 else 0
    one = np.float32(1.0)
    half = np.float32(0.5)
    for r in range(rows):
        base = r * depth
        top = row_max(x, base, depth)
        offset = 255 - top
        total = np.float32(0.0)
        for c in range(depth):
            total = np.float32(total + table[offset + np.int64(x[base + c])])
        inv = np.float32(one / np.float32(total * out_scale))
        for c in range(depth):
            p = np.float32(table[offset + np.int64(x[base + c])] * inv)
            if round_away:
                q = float_to_int32(round_half_away(p))
            else:
                q = float_to_int32(np.floor(np.float32(p + half)))
            out[base + c] = clamp(q + zero_point, qmin, qmax)


# -- ADD and MUL -----------------------------------------------------------------------

@kernel
def _add_tail(u, v, p):
    """The scalar loop of the optimized int8 ADD: the reference's
    ``AddFunc``. ``p`` holds TFLite's ``ArithmeticParams`` as (input1_offset,
    input1_multiplier, input1_shift, input2_offset, input2_multiplier,
    input2_shift, output_multiplier, output_shift, output_offset, act_min,
    act_max), for ADD and MUL alike."""
    a = multiply_by_quantized_multiplier((u + p[0]) * (1 << 20), p[1], p[2])
    b = multiply_by_quantized_multiplier((v + p[3]) * (1 << 20), p[4], p[5])
    s = multiply_by_quantized_multiplier(a + b, p[6], p[7]) + p[8]
    return clamp(s, p[9], p[10])


@kernel
def _add_finish(s, p):
    """The end of the NEON ADD paths: ``vqrdmulh`` by the output multiplier,
    ``RoundingDivideByPOT`` (half away from zero), ``vmovn`` to int16
    (wrapping), + the output offset in int16 (wrapping), ``vqmovn`` to int8
    (saturating), the activation clamp."""
    s = vqrdmulh(wrap_int32(s), p[6])
    s = rounding_divide_by_pot(s, -p[7])
    return clamp(clamp(wrap_int16(wrap_int16(s) + p[8]), -128, 127), p[9], p[10])


@kernel
def add_run(x1, i1, x2, i2, n, p, out, o):
    """``optimized_integer_ops::AddElementwiseInt8`` on a run of ``n``
    elements (x1[i1:], x2[i2:] -> out[o:]): whole blocks of 16 from the
    run's start take the NEON path, where each input (offset) is shifted left
    by 20 + its shift (<= 0) at once and ``vqrdmulh``'ed by its multiplier:
    one rounding, half up, where the reference rounds twice; the rest the
    scalar loop."""
    head = n - n % 16
    for j in range(n):
        u = np.int64(x1[i1 + j])
        v = np.int64(x2[i2 + j])
        if j < head:
            a = vqrdmulh(shift_left(u + p[0], 20 + p[2]), p[1])
            b = vqrdmulh(shift_left(v + p[3], 20 + p[5]), p[4])
            out[o + j] = _add_finish(a + b, p)
        else:
            out[o + j] = _add_tail(u, v, p)


@kernel
def add_scalar_run(u, x2, i2, n, p, out, o):
    """``optimized_integer_ops::AddScalarBroadcast``: input 1 is the one
    value ``u``; whole blocks of 8 take the NEON path, where each input
    (offset, shifted left by 20) is ``vqrdmulh``'ed by its multiplier and
    then shifted right by -shift without rounding; the rest the scalar
    loop."""
    head = n - n % 8
    a = shift_left(vqrdmulh((u + p[0]) * (1 << 20), p[1]), p[2])
    for j in range(n):
        v = np.int64(x2[i2 + j])
        if j < head:
            b = shift_left(vqrdmulh((v + p[3]) * (1 << 20), p[4]), p[5])
            out[o + j] = _add_finish(a + b, p)
        else:
            out[o + j] = _add_tail(u, v, p)


@kernel
def _mul_one(u, v, p, vector):
    """One element of ``optimized_integer_ops::MulElementwise`` (``p`` as
    for :func:`_add_tail`; the input multipliers and shifts are unused). The
    NEON path (``vector``): the int32 product shifted left by max(shift, 0),
    ``vqrdmulh`` (half up), ``RoundingDivideByPOT`` by max(-shift, 0) (half
    away), ``vqmovn`` to int16 (saturating), + the output offset in int16
    (wrapping), ``vqmovn`` to int8, the clamp. The scalar loop: the
    reference's arithmetic."""
    prod = (u + p[0]) * (v + p[3])
    if not vector:
        s = multiply_by_quantized_multiplier(prod, p[6], p[7]) + p[8]
        return clamp(s, p[9], p[10])
    left = p[7] if p[7] > 0 else 0
    right = -p[7] if p[7] < 0 else 0
    r = rounding_divide_by_pot(vqrdmulh(shift_left(prod, left), p[6]), right)
    r = wrap_int16(clamp(r, -32768, 32767) + p[8])
    return clamp(clamp(r, -128, 127), p[9], p[10])


@kernel
def mul_run(x1, i1, step1, x2, i2, n, p, out, o):
    """``optimized_integer_ops::MulElementwise`` (and ``MulSimpleBroadcast``,
    its arithmetic with input 1 repeated: ``step1`` 0) on a run of ``n``
    elements: whole blocks of 16 from the run's start take the NEON path,
    the rest the scalar loop (:func:`_mul_one`)."""
    head = n - n % 16
    for j in range(n):
        out[o + j] = _mul_one(np.int64(x1[i1 + j * step1]), np.int64(x2[i2 + j]), p, j < head)


@kernel
def binary_fivefold(is_add, x1, x2, dims, p, out):
    """``BinaryBroadcastFiveFold`` of int8 ADD (``is_add``) or MUL: input 1
    (``x1``, the one that broadcasts fast, as the caller swapped them) and
    input 2 walked over the five dimensions ``dims`` (``ProcessBroadcastShapes``'
    ``broadcast_shape``), in runs of ``dims[4]`` elements through
    :func:`add_run` / :func:`mul_run`, or, when ``dims[4]`` is 1, one value
    of input 1 against runs of ``dims[3]`` of input 2 (:func:`add_scalar_run`
    / :func:`mul_run` with input 1 repeated). A whole tensor of one shape is
    ``dims`` (1, 1, 1, 1, n)."""
    y0 = dims[0]
    y1 = dims[1]
    y2 = dims[2]
    y3 = dims[3]
    y4 = dims[4]
    i1 = 0
    o = 0
    reset = 0
    for _ in range(y0):
        i2 = reset
        for _ in range(y1):
            i2 = reset
            for _ in range(y2):
                if y4 > 1:
                    for _ in range(y3):
                        if is_add:
                            add_run(x1, i1, x2, i2, y4, p, out, o)
                        else:
                            mul_run(x1, i1, 1, x2, i2, y4, p, out, o)
                        i2 += y4
                        o += y4
                    i1 += y4
                else:
                    if is_add:
                        add_scalar_run(np.int64(x1[i1]), x2, i2, y3, p, out, o)
                    else:
                        mul_run(x1, i1, 0, x2, i2, y3, p, out, o)
                    i2 += y3
                    o += y3
                    i1 += 1
        reset = i2
