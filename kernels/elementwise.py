"""ADD, SUB, MUL, MAXIMUM and MINIMUM, with broadcasting.

Every kernel walks a loop nest (see ``int8sqz.ops._broadcast``): ``shape``
(int64, outermost first) and ``strides`` (int64, one row per operand, in
elements; operand 0 is the output, 1 and 2 the inputs). The arrays are 1-D
and start at each operand's first element; broadcast dimensions have stride
0, and the output may be a strided view. The innermost loop has separate
unit-stride versions so that it vectorizes.

Aliasing rule (for a memory planner): the output may share memory with an
input that has the output's shape and strides (in place). Each output
element is written after both input elements it depends on were read, and no
element is read after the output element at the same position was written.
An output must not overlap a broadcast input, nor an input laid out
differently.
"""

import numpy as np

from ._jit import kernel
from .fixedpoint import clamp, multiply_by_quantized_multiplier, vector_rescale
from .simd import vadd, vrequantize, vsplat, vstore_bytes, vsub, vwiden


@kernel
def row_offset(r, shape, strides, k):
    """Offset of operand ``k`` at the start of row ``r`` (a row is one run of
    the innermost loop)."""
    off = 0
    q = r
    for d in range(shape.size - 2, 0, -1):
        off += (q % shape[d]) * strides[k, d]
        q //= shape[d]
    if shape.size > 1:
        off += q * strides[k, 0]
    return off


@kernel
def num_rows(shape):
    rows = 1
    for d in range(shape.size - 1):
        rows *= shape[d]
    return rows


@kernel
def add_rescale_input(x, offset, multiplier, shift):
    """One input of TFLite's ``AddFunc``: offset, shifted left by 20 (at most
    255 << 20 in magnitude: no int32 overflow), then scaled by a multiplier
    of at most 1/2 (``MultiplyByQuantizedMultiplierSmallerThanOneExp``)."""
    return multiply_by_quantized_multiplier((np.int64(x) + offset) * (1 << 20), multiplier, shift)


@kernel
def add_output(raw_sum, out_multiplier, out_shift, out_offset, act_min, act_max):
    """The rest of ``AddFunc``: the sum of two rescaled inputs (fits in
    int32) is scaled to the output, offset and clamped."""
    v = multiply_by_quantized_multiplier(raw_sum, out_multiplier, out_shift) + out_offset
    return clamp(v, act_min, act_max)


@kernel
def _add_or_sub_lanes(o, x, y, n, sign_b, offset_a, multiplier_a, shift_a, offset_b,
                      multiplier_b, shift_b, out_multiplier, out_shift, out_offset, act_min,
                      act_max):
    """:func:`add_or_sub`'s arithmetic on the first 16 * (n // 16) elements of
    a row whose operands have unit stride, 16 at a time; returns how many
    it did. Each ``vrequantize`` is one ``MultiplyByQuantizedMultiplier``
    of the scalar path, the same integers: an input's offset is its bias
    and the shift left by 20 joins the multiplier's own left shift (the
    offset input is at most 255 in magnitude, so (x + offset) << 20 fits
    int32 and shifting again wraps as the scalar path's int32 shift does);
    the two rescaled inputs add or subtract in int32 as in the reference
    (each below 2**28 in magnitude: no wrap)."""
    none = vsplat(0)
    lowest = vsplat(-(1 << 31))
    highest = vsplat((1 << 31) - 1)
    off_a, m_a = vsplat(offset_a), vsplat(multiplier_a)
    l_a, r_a = vsplat(20 + max(shift_a, 0)), vsplat(max(-shift_a, 0))
    off_b, m_b = vsplat(offset_b), vsplat(multiplier_b)
    l_b, r_b = vsplat(20 + max(shift_b, 0)), vsplat(max(-shift_b, 0))
    m_o, l_o, r_o = vsplat(out_multiplier), vsplat(max(out_shift, 0)), vsplat(max(-out_shift, 0))
    off_o, lo, hi = vsplat(out_offset), vsplat(act_min), vsplat(act_max)
    done = n - n % 16
    for j in range(0, done, 16):
        ra = vrequantize(vwiden(x, j), off_a, m_a, l_a, r_a, none, lowest, highest)
        rb = vrequantize(vwiden(y, j), off_b, m_b, l_b, r_b, none, lowest, highest)
        raw = vadd(ra, rb) if sign_b > 0 else vsub(ra, rb)
        vstore_bytes(o, j, vrequantize(raw, none, m_o, l_o, r_o, off_o, lo, hi), 16)
    return done


@kernel
def add_or_sub(out, a, b, shape, strides, sign_b, offset_a, multiplier_a, shift_a, offset_b,
               multiplier_b, shift_b, out_multiplier, out_shift, out_offset, act_min, act_max):
    """Each input offset, shifted left by 20 and rescaled; the second added
    (``sign_b`` 1: ADD) or subtracted (``sign_b`` -1: SUB); the sum rescaled
    to the output, offset and clamped. An input that is constant along a row
    is rescaled once per row (the integers are the same).

    Aliasing rule: safe in place. ``out`` may be the memory of ``a`` or ``b``
    when that input has the output's shape and strides: each output element
    is written only after the input elements at the same position were read.
    ``out`` must not overlap a broadcast input or an input laid out otherwise."""
    last = shape.size - 1
    n = shape[last]
    so, sa, sb = strides[0, last], strides[1, last], strides[2, last]
    vector = (out.strides[0] == 1 and a.strides[0] == 1 and b.strides[0] == 1
              and vector_rescale(multiplier_a, shift_a, 20)
              and vector_rescale(multiplier_b, shift_b, 20)
              and vector_rescale(out_multiplier, out_shift, 0))
    for r in range(num_rows(shape)):
        o = out[row_offset(r, shape, strides, 0):]
        x = a[row_offset(r, shape, strides, 1):]
        y = b[row_offset(r, shape, strides, 2):]
        if so == 1 and sa == 1 and sb == 1:
            done = 0
            if vector:
                done = _add_or_sub_lanes(o, x, y, n, sign_b, offset_a, multiplier_a, shift_a,
                                         offset_b, multiplier_b, shift_b, out_multiplier,
                                         out_shift, out_offset, act_min, act_max)
            for j in range(done, n):
                raw = (add_rescale_input(x[j], offset_a, multiplier_a, shift_a)
                       + sign_b * add_rescale_input(y[j], offset_b, multiplier_b, shift_b))
                o[j] = add_output(raw, out_multiplier, out_shift, out_offset, act_min, act_max)
        elif so == 1 and sa == 1 and sb == 0 and n > 0:
            ry = sign_b * add_rescale_input(y[0], offset_b, multiplier_b, shift_b)
            for j in range(n):
                raw = add_rescale_input(x[j], offset_a, multiplier_a, shift_a) + ry
                o[j] = add_output(raw, out_multiplier, out_shift, out_offset, act_min, act_max)
        elif so == 1 and sa == 0 and sb == 1 and n > 0:
            rx = add_rescale_input(x[0], offset_a, multiplier_a, shift_a)
            for j in range(n):
                raw = rx + sign_b * add_rescale_input(y[j], offset_b, multiplier_b, shift_b)
                o[j] = add_output(raw, out_multiplier, out_shift, out_offset, act_min, act_max)
        else:
            for j in range(n):
                raw = (add_rescale_input(x[j * sa], offset_a, multiplier_a, shift_a)
                       + sign_b * add_rescale_input(y[j * sb], offset_b, multiplier_b, shift_b))
                o[j * so] = add_output(raw, out_multiplier, out_shift, out_offset, act_min,
                                       act_max)


@kernel
def add(out, a, b, shape, strides, offset_a, multiplier_a, shift_a, offset_b, multiplier_b,
        shift_b, out_multiplier, out_shift, out_offset, act_min, act_max):
    """Follows ``reference_integer_ops::Add`` / ``BroadcastAdd6DSlow`` (int8)
    and ``reference_ops::Add`` / ``BroadcastAdd6DSlow`` (uint8): all four
    apply the same ``AddFunc`` arithmetic to every element (``add_or_sub``).

    Aliasing rule: safe in place, as ``add_or_sub``."""
    add_or_sub(out, a, b, shape, strides, 1, offset_a, multiplier_a, shift_a, offset_b,
               multiplier_b, shift_b, out_multiplier, out_shift, out_offset, act_min, act_max)


@kernel
def sub(out, a, b, shape, strides, offset_a, multiplier_a, shift_a, offset_b, multiplier_b,
        shift_b, out_multiplier, out_shift, out_offset, act_min, act_max):
    """Follows ``reference_ops::Sub`` / ``BroadcastQuantSubSlow`` (int8 and
    uint8): ``SubElementwise``'s arithmetic, ``AddFunc``'s with the second
    rescaled input subtracted (``add_or_sub``). The output multiplier is
    applied by ``MultiplyByQuantizedMultiplierSmallerThanOneExp``, which
    equals ``multiply_by_quantized_multiplier`` for the right shifts the
    operator's prepare admits.

    Aliasing rule: safe in place, as ``add_or_sub``."""
    add_or_sub(out, a, b, shape, strides, -1, offset_a, multiplier_a, shift_a, offset_b,
               multiplier_b, shift_b, out_multiplier, out_shift, out_offset, act_min, act_max)


@kernel
def mul_one(x, y, offset_a, offset_b, out_multiplier, out_shift, out_offset, act_min, act_max):
    """The per-element arithmetic of TFLite's reference ``MulElementwise``.

    The product of the offset inputs fits in int32 (at most 255 * 255 in
    magnitude); ``MultiplyByQuantizedMultiplier`` (double rounding) wraps its
    left shift in int32 as the C++ does."""
    prod = (np.int64(x) + offset_a) * (np.int64(y) + offset_b)
    v = multiply_by_quantized_multiplier(prod, out_multiplier, out_shift) + out_offset
    return clamp(v, act_min, act_max)


@kernel
def mul(out, a, b, shape, strides, offset_a, offset_b, out_multiplier, out_shift, out_offset,
        act_min, act_max):
    """Follows ``reference_integer_ops::Mul`` / ``BroadcastMul6DSlow`` (int8)
    and ``reference_ops::Mul`` / ``BroadcastMul6DSlow`` (uint8): the same
    arithmetic (``mul_one``) on every path.

    Aliasing rule: safe in place. ``out`` may be the memory of ``a`` or ``b``
    when that input has the output's shape and strides: each output element
    is written only after the input elements at the same position were read.
    ``out`` must not overlap a broadcast input or an input laid out otherwise."""
    last = shape.size - 1
    n = shape[last]
    so, sa, sb = strides[0, last], strides[1, last], strides[2, last]
    for r in range(num_rows(shape)):
        o = out[row_offset(r, shape, strides, 0):]
        x = a[row_offset(r, shape, strides, 1):]
        y = b[row_offset(r, shape, strides, 2):]
        if so == 1 and sa == 1 and sb == 1:
            for j in range(n):
                o[j] = mul_one(x[j], y[j], offset_a, offset_b, out_multiplier, out_shift,
                               out_offset, act_min, act_max)
        elif so == 1 and sa == 1 and sb == 0 and n > 0:
            y0 = y[0]
            for j in range(n):
                o[j] = mul_one(x[j], y0, offset_a, offset_b, out_multiplier, out_shift,
                               out_offset, act_min, act_max)
        elif so == 1 and sa == 0 and sb == 1 and n > 0:
            x0 = x[0]
            for j in range(n):
                o[j] = mul_one(x0, y[j], offset_a, offset_b, out_multiplier, out_shift,
                               out_offset, act_min, act_max)
        else:
            for j in range(n):
                o[j * so] = mul_one(x[j * sa], y[j * sb], offset_a, offset_b, out_multiplier,
                                    out_shift, out_offset, act_min, act_max)



@kernel
def lut_gather(out, x, lut, shape, strides):
    """ADD or MUL of an activation with a constant, as a table lookup:
    ``out = lut[c, x]``, where ``c`` is the constant element's flat index and
    ``x`` the activation's byte (``out``, ``x`` and ``lut`` are uint8 views of
    the int8 or uint8 data). ``lut[c, u]`` is what ``add`` / ``mul`` (TFLite's
    reference arithmetic) compute for the activation value whose byte is
    ``u`` against constant element ``c``: the op's prepare fills the table by
    running those kernels, so the integers are theirs.

    Loop nest operands: 0 the output, 1 the activation ``x``, 2 the
    constant's flat index (its C-contiguous strides, whatever its memory).
    Indices are unsigned (no negative-index wraparound test per element).

    Aliasing rule: safe in place, as ``add`` and ``mul``: ``out`` may be the
    memory of ``x`` when ``x`` has the output's shape and strides; each
    ``x[i]`` is read before ``out[i]`` is written."""
    last = shape.size - 1
    n = shape[last]
    so, sx, sc = strides[0, last], strides[1, last], strides[2, last]
    for r in range(num_rows(shape)):
        o0 = row_offset(r, shape, strides, 0)
        x0 = row_offset(r, shape, strides, 1)
        c0 = row_offset(r, shape, strides, 2)
        if so == 1 and sx == 1 and sc == 1:
            for j in range(n):
                out[np.uint64(o0 + j)] = lut[np.uint64(c0 + j), x[np.uint64(x0 + j)]]
        elif so == 1 and sx == 1 and sc == 0:
            for j in range(n):
                out[np.uint64(o0 + j)] = lut[np.uint64(c0), x[np.uint64(x0 + j)]]
        else:
            for j in range(n):
                out[np.uint64(o0 + j * so)] = lut[np.uint64(c0 + j * sc),
                                                  x[np.uint64(x0 + j * sx)]]


@kernel
def pick(x, y, take_max):
    """TFLite's ``MaximumOp`` / ``MinimumOp``: ``x > y ? x : y`` and
    ``x < y ? x : y``. With floats a NaN in ``x`` gives ``y``, a NaN in ``y``
    gives NaN, and of two zeros ``y`` is kept: the comparison decides."""
    if take_max:
        return x if x > y else y
    return x if x < y else y


@kernel
def maximum_minimum(out, a, b, shape, strides, take_max):
    """Follows ``reference_ops::MaximumMinimumBroadcastSlow``: ``pick`` of the
    raw values at each position (any element type; no quantization is
    involved: TFLite compares the stored integers whatever the scales).

    Aliasing rule: safe in place, as ``add_or_sub``: the same walk, each
    output element written after the two input elements it picks from."""
    last = shape.size - 1
    n = shape[last]
    so, sa, sb = strides[0, last], strides[1, last], strides[2, last]
    for r in range(num_rows(shape)):
        o = out[row_offset(r, shape, strides, 0):]
        x = a[row_offset(r, shape, strides, 1):]
        y = b[row_offset(r, shape, strides, 2):]
        if so == 1 and sa == 1 and sb == 1:
            for j in range(n):
                o[j] = pick(x[j], y[j], take_max)
        else:
            for j in range(n):
                o[j * so] = pick(x[j * sa], y[j * sb], take_max)
