"""What TFLite's optimized builtin kernels compute on this x86-64 build of
ai-edge-litert (``OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES``), one
function per operator, spelled out with Python integers and explicit float32.
Each docstring names the TFLite (or ruy) function followed and what differs
from the reference kernels; docs/numerics.md has the whole story."""

from __future__ import annotations

import numpy as np

from . import numerics_common as nc
from . import elementwise
from . import concat as concat_naive
from . import pool as pool_naive
from . import reduce as reduce_naive
from .fixedpoint import mbqm, to_int32


# -- requantization of the GEMM-based kernels (ruy) ------------------------------------------

def ruy_multiply(acc: int, multiplier: int, shift: int) -> int:
    """ruy's x86 AVX-512 kernels (``Kernel8bitAvx512``, ``...SingleCol``)
    applying a quantized multiplier: the int32 accumulator shifted left by
    max(shift, 0) (wrapping), times the Q31 multiplier in 64 bits, plus 2**30,
    arithmetic shift right by 31; then, for a negative shift, plus
    2**(-shift - 1) and arithmetic shift right by -shift. Both roundings are
    half up (toward +inf), where the reference rounds half away from zero and
    saturates the doubling high multiply."""
    left = max(shift, 0)
    right = max(-shift, 0)
    x = to_int32(acc * 2**left)
    r = (x * multiplier + 2**30) >> 31
    if right > 0:
        r = (r + 2 ** (right - 1)) >> right
    return r


def conv_2d(x, weights, bias, *, in_scale, in_zp, w_scales, out_scale, out_zp,
            stride=(1, 1), dilation=(1, 1), padding="SAME", activation="NONE",
            out_type="INT8"):
    """CONV_2D, int8 (per-channel or per-tensor weights):
    ``optimized_integer_ops::ConvPerChannel``, im2col and a ruy GEMM whose
    output stage is :func:`ruy_multiply` with the reference's per-channel
    multipliers (``QuantizeMultiplier`` of in_scale * w_scale / out_scale in
    double), then + zero point and the activation clamp."""
    acc = nc.conv_accumulators(x, weights, bias, in_zp, stride, dilation, padding)
    return _requantize_channels(acc, in_scale, w_scales, out_scale, out_zp, activation,
                                out_type, ruy_multiply)


def _requantize_channels(acc, in_scale, w_scales, out_scale, out_zp, activation, out_type,
                         multiply):
    qmin, qmax = nc.type_range(out_type)
    lo, hi = nc.activation_range(activation, out_scale, out_zp, qmin, qmax)
    channels = acc.shape[-1]
    w_scales = np.broadcast_to(np.asarray(w_scales, np.float32).reshape(-1), (channels,))
    mults = [nc.quantize_multiplier(float(np.float32(in_scale)) * float(s)
                                    / float(np.float32(out_scale))) for s in w_scales]
    out = np.empty(acc.shape, np.int64)
    for idx in np.ndindex(acc.shape):
        m, e = mults[idx[-1]]
        v = multiply(int(acc[idx]), m, e) + out_zp
        out[idx] = min(max(v, lo), hi)
    return out.astype(np.int8 if out_type == "INT8" else np.uint8)


# -- QUANTIZE and DEQUANTIZE ----------------------------------------------------------------------

def _vector_prefix(n: int, block: int) -> int:
    """How many leading elements a kernel's vector loop of ``block`` elements
    takes; the rest go through its scalar tail loop."""
    return (n // block) * block


def quantize_float(x, *, scale, zero_point, out_type="INT8"):
    """QUANTIZE float32 -> int8/uint8, per-tensor: ``optimized_ops::AffineQuantize``
    built with NEON_2_SSE. The first 8 * (n // 8) elements: x * r in float32
    with r = float32(1.0 / double(scale)), rounded half to even (vcvtnq_s32_f32
    = cvtps2dq: NaN and out-of-range give INT32_MIN), + zero point (int32,
    wrapping), clamped. The tail: double(x) / double(scale) rounded half away
    from zero, as the reference."""
    qmin, qmax = nc.type_range(out_type)
    flat = np.asarray(x, np.float32).reshape(-1)
    head = _vector_prefix(flat.size, 8)
    recip = nc.f32(1.0 / float(np.float32(scale)))
    out = []
    for i, v in enumerate(flat):
        if i < head:
            q = nc.cvt_f32_to_i32(nc.f32(v * recip))
        else:
            d = float(v) / float(np.float32(scale))
            q = nc.cvt_f32_to_i32(nc.round_half_away(d)) if np.isfinite(d) else nc.INT32_MIN
        out.append(min(max(to_int32(q + zero_point), qmin), qmax))
    return np.array(out, np.int64).reshape(np.shape(x)).astype(_NP[out_type])


def _vqrdmulh(a: int, b: int) -> int:
    """NEON vqrdmulhq_s32: (2ab + 2**31) >> 32, saturated (round half up)."""
    return max(min((2 * a * b + 2**31) >> 32, nc.INT32_MAX), nc.INT32_MIN)


def _vrshl_right(a: int, n: int) -> int:
    """NEON vrshlq_s32 by -n: (a + 2**(n-1)) >> n (round half up)."""
    return a if n == 0 else (a + 2 ** (n - 1)) >> n


def multiply_4rows(x: int, multiplier: int, shift: int) -> int:
    """``MultiplyByQuantizedMultiplier4Rows`` (NEON path): x << max(shift, 0)
    (wrapping), vqrdmulh by the multiplier, then a rounding right shift by
    -min(shift, 0); both roundings half up, where the scalar
    ``MultiplyByQuantizedMultiplier`` rounds half away from zero."""
    return _vrshl_right(_vqrdmulh(to_int32(x * 2 ** max(shift, 0)), multiplier),
                        -min(shift, 0))


def requantize(x, *, in_scale, in_zp, out_scale, out_zp, out_type):
    """QUANTIZE int8/uint8 -> int8/uint8: ``optimized_ops::Requantize``: the
    first 16 * (n // 16) elements through :func:`multiply_4rows`, the tail
    through the reference's ``MultiplyByQuantizedMultiplier``; multiplier of
    double(in_scale) / double(out_scale)."""
    qmin, qmax = nc.type_range(out_type)
    m, e = nc.quantize_multiplier(float(np.float32(in_scale)) / float(np.float32(out_scale)))
    flat = np.asarray(x).reshape(-1)
    head = _vector_prefix(flat.size, 16)
    out = []
    for i, v in enumerate(flat.tolist()):
        d = v - in_zp
        r = multiply_4rows(d, m, e) if i < head else mbqm(d, m, e)
        out.append(min(max(r + out_zp, qmin), qmax))
    return np.array(out, np.int64).reshape(np.shape(x)).astype(_NP[out_type])


def dequantize(x, *, scale, zero_point):
    """DEQUANTIZE int8/uint8 -> float32, per-tensor: ``optimized_ops::Dequantize``
    with NEON_2_SSE. The first 8 * (n // 8) elements: float32(q) * s + z in
    float32, two roundings (s = float32(scale), z = float32(-zp * double(scale)));
    the tail: float32(double(scale) * (q - zp)), as the reference."""
    flat = np.asarray(x).reshape(-1)
    head = _vector_prefix(flat.size, 8)
    s = nc.f32(scale)
    z = nc.f32(-zero_point * float(s))
    out = []
    for i, q in enumerate(flat.tolist()):
        if i < head:
            out.append(nc.f32(nc.f32(nc.f32(q) * s) + z))
        else:
            out.append(nc.f32(float(s) * (q - zero_point)))
    return np.array(out, np.float32).reshape(np.shape(x))


_NP = {"INT8": np.int8, "UINT8": np.uint8}


def quantize(x, *, in_type, in_scale, in_zp, out_type, out_scale, out_zp):
    """QUANTIZE, per-tensor output: float32 input -> :func:`quantize_float`,
    integer input -> :func:`requantize`."""
    if in_type == "FLOAT32":
        return quantize_float(x, scale=out_scale, zero_point=out_zp, out_type=out_type)
    return requantize(x, in_scale=in_scale, in_zp=in_zp, out_scale=out_scale, out_zp=out_zp,
                      out_type=out_type)


# -- MEAN -------------------------------------------------------------------------------------------

def mean(x, axes, keep_dims, *, in_scale, in_zp, out_scale, out_zp, out_type="INT8",
         num_threads=1):
    """MEAN, int8: with keep_dims over axes {1, 2} of a 4-D input,
    ``optimized_integer_ops::Mean`` (:func:`mean_hw`); otherwise the reference
    ``QuantizedMeanOrSum``, as BUILTIN_REF computes it."""
    x = np.asarray(x)
    resolved = reduce_naive.resolve_axes(axes, x.ndim)
    if out_type == "INT8" and keep_dims and x.ndim == 4 and sorted(resolved) == [1, 2]:
        return mean_hw(x, in_scale=in_scale, in_zp=in_zp, out_scale=out_scale,
                       out_zp=out_zp, num_threads=num_threads)
    if out_type == "UINT8" and keep_dims and x.ndim == 4 and sorted(resolved) == [1, 2]:
        raise NotImplementedError("uint8 MEAN over H, W with keep_dims (optimized_ops::Mean)")
    qmin, qmax = nc.type_range(out_type)
    m, e = nc.quantize_multiplier(float(np.float32(in_scale)) / float(np.float32(out_scale)))
    out = reduce_naive.mean(x, axes, keep_dims, in_zp, m, e, out_zp, qmin, qmax)
    return out.astype(_NP[out_type])


def mean_hw(x, *, in_scale, in_zp, out_scale, out_zp, num_threads=1):
    """``optimized_integer_ops::Mean``: the raw int8 sum over H and W (the
    zero point is not subtracted), times the multiplier of
    in_scale / (H * W * out_scale) (float32 arithmetic, then
    ``QuantizeMultiplier``), + bias = out_zp - trunc(in_zp * in_scale /
    out_scale +- 0.5) (float32), clamped to int8. The channels are split
    between min(C // 8 or 1, threads) workers, each [start, end) by
    end = start + (C - start) // (workers left); within a worker, channels in
    whole blocks of 16 from its start go through :func:`multiply_4rows`
    (ties half up), the rest through ``MultiplyByQuantizedMultiplier`` (ties
    away from zero): the result depends on the thread count."""
    n, h, w, c = x.shape
    count = nc.f32(w * h)
    temp = nc.f32(nc.f32(nc.f32(in_zp) * nc.f32(in_scale)) / nc.f32(out_scale))
    temp = nc.f32(temp + nc.f32(0.5)) if temp > 0 else nc.f32(temp - nc.f32(0.5))
    bias = out_zp - int(temp)  # truncation toward zero
    real = nc.f32(nc.f32(in_scale) / nc.f32(count * nc.f32(out_scale)))
    m, e = nc.quantize_multiplier(float(real))
    workers = min(max(c // 8, 1), num_threads)
    vector = np.zeros(c, bool)
    start = 0
    for i in range(workers):
        end = start + (c - start) // (workers - i)
        vector[start:start + _vector_prefix(end - start, 16)] = True
        start = end
    sums = x.astype(np.int64).sum(axis=(1, 2))
    out = np.empty((n, 1, 1, c), np.int64)
    for b in range(n):
        for ch in range(c):
            s = to_int32(int(sums[b, ch]))
            v = multiply_4rows(s, m, e) if vector[ch] else mbqm(s, m, e)
            out[b, 0, 0, ch] = min(max(v + bias, -128), 127)
    return out.astype(np.int8)


# -- ADD and MUL ------------------------------------------------------------------------------------

def _wrap16(v: int) -> int:
    return (v + 2**15) % 2**16 - 2**15


def _sat(v: int, lo: int, hi: int) -> int:
    return min(max(v, lo), hi)


def _shift_left(x: int, n: int) -> int:
    """NEON vshlq_s32 by n (a negative n is an arithmetic right shift, no
    rounding), on int32."""
    return to_int32(x * 2**n) if n >= 0 else x >> -n


class _Params:
    """The ``ArithmeticParams`` of ADD/MUL (add.cc / mul.cc Prepare), with
    input 1 and input 2 swappable as ``BinaryBroadcastFiveFold`` swaps them."""

    def __init__(self, op, a_q, b_q, out_q, activation):
        (sa, za), (sb, zb), (so, zo) = a_q, b_q, out_q
        self.off = [-za, -zb]
        self.out_off = zo
        self.lo, self.hi = nc.activation_range(activation, so, zo, -128, 127)
        if op == "ADD":
            m1, e1, m2, e2, mo, eo = elementwise.add_multipliers(sa, sb, so)
            self.mult, self.shift = [m1, m2], [e1, e2]
            self.out_mult, self.out_shift = mo, eo
        else:
            self.out_mult, self.out_shift = elementwise.mul_multiplier(sa, sb, so)

    def swapped(self):
        p = object.__new__(_Params)
        p.__dict__.update(self.__dict__)
        for k in ("off", "mult", "shift"):
            if k in self.__dict__:
                setattr(p, k, list(reversed(self.__dict__[k])))
        return p


def _add_tail(u, v, p):
    """The scalar loop of the optimized ADD kernels: the reference's arithmetic."""
    a = mbqm((u + p.off[0]) * 2**20, p.mult[0], p.shift[0])
    b = mbqm((v + p.off[1]) * 2**20, p.mult[1], p.shift[1])
    return _sat(mbqm(a + b, p.out_mult, p.out_shift) + p.out_off, p.lo, p.hi)


def _add_finish(s, p):
    """The common end of the NEON ADD paths: vqrdmulh by the output
    multiplier, gemmlowp's RoundingDivideByPOT (ties away from zero), vmovn to
    int16 (wrapping), + output offset (int16, wrapping), vqmovn to int8
    (saturating), the activation clamp."""
    s = _vqrdmulh(to_int32(s), p.out_mult)
    s = elementwise.fx.rdbpot(s, -p.out_shift)
    return _sat(_sat(_wrap16(_wrap16(s) + p.out_off), -128, 127), p.lo, p.hi)


def add_segment(x1, x2, p):
    """``optimized_integer_ops::AddElementwiseInt8`` on one run of elements:
    whole blocks of 16 from the run's start take the NEON path, where each
    input is shifted left by 20 + its (non-positive) shift at once and then
    vqrdmulh'ed by its multiplier (one rounding, half up, instead of the
    reference's two); the rest the scalar loop."""
    head = _vector_prefix(len(x1), 16)
    out = []
    for i, (u, v) in enumerate(zip(x1, x2)):
        if i >= head:
            out.append(_add_tail(u, v, p))
            continue
        a = _vqrdmulh(_shift_left(u + p.off[0], 20 + p.shift[0]), p.mult[0])
        b = _vqrdmulh(_shift_left(v + p.off[1], 20 + p.shift[1]), p.mult[1])
        out.append(_add_finish(a + b, p))
    return out


def add_scalar_broadcast(u, x2, p):
    """``optimized_integer_ops::AddScalarBroadcast``: input 1 is one value;
    whole blocks of 8 take the NEON path, where each input is shifted left by
    20, vqrdmulh'ed by its multiplier, then shifted right by -shift without
    rounding; the rest the scalar loop."""
    head = _vector_prefix(len(x2), 8)
    a = _shift_left(_vqrdmulh((u + p.off[0]) * 2**20, p.mult[0]), p.shift[0])
    out = []
    for i, v in enumerate(x2):
        if i >= head:
            out.append(_add_tail(u, v, p))
            continue
        b = _shift_left(_vqrdmulh((v + p.off[1]) * 2**20, p.mult[1]), p.shift[1])
        out.append(_add_finish(a + b, p))
    return out


def _mul_tail(u, v, p):
    return _sat(mbqm((u + p.off[0]) * (v + p.off[1]), p.out_mult, p.out_shift) + p.out_off,
                p.lo, p.hi)


def mul_segment(x1, x2, p):
    """``optimized_integer_ops::MulElementwise`` (and ``MulSimpleBroadcast``,
    the same arithmetic with input 1 repeated) on one run: whole blocks of 16
    take the NEON path: the int32 product shifted left by max(shift, 0),
    vqrdmulh (ties half up), RoundingDivideByPOT by max(-shift, 0) (ties away
    from zero), vqmovn to int16 (saturating), + output offset (int16,
    wrapping), vqmovn to int8, the activation clamp; the rest the scalar
    loop (the reference's arithmetic)."""
    head = _vector_prefix(len(x1), 16)
    out = []
    for i, (u, v) in enumerate(zip(x1, x2)):
        if i >= head:
            out.append(_mul_tail(u, v, p))
            continue
        prod = _shift_left((u + p.off[0]) * (v + p.off[1]), max(p.out_shift, 0))
        r = elementwise.fx.rdbpot(_vqrdmulh(prod, p.out_mult), max(-p.out_shift, 0))
        out.append(_sat(_sat(_wrap16(_sat(r, -32768, 32767) + p.out_off), -128, 127),
                        p.lo, p.hi))
    return out


def process_broadcast_shapes(shape0, shape1):
    """``ProcessBroadcastShapes``: (category, five dims) with category one of
    "none", "first", "second" (the input that broadcasts fast) or "generic"."""
    rank = max(len(shape0), len(shape1))
    s0 = (1,) * (rank - len(shape0)) + tuple(shape0)
    s1 = (1,) * (rank - len(shape1)) + tuple(shape1)
    if s0 == s1:
        return "none", None
    category = None
    for i in range(rank - 1, -1, -1):
        if s0[i] == s1[i]:
            continue
        if s0[i] == 1:
            category = "first"
        elif s1[i] == 1:
            category = "second"
        else:
            return "generic", None
        break
    a, b = (s1, s0) if category == "second" else (s0, s1)
    y = [1] * 5
    i = rank - 1
    for slot, cond in ((4, lambda i: a[i] == b[i]), (3, lambda i: a[i] == 1),
                       (2, lambda i: a[i] == b[i]), (1, lambda i: b[i] == 1),
                       (0, lambda i: a[i] == b[i])):
        while i >= 0 and cond(i):
            y[slot] *= b[i] if slot in (4, 3, 0) else a[i]
            i -= 1
    return ("generic" if i >= 0 else category), y


def _binary(op, x, y, a_q, b_q, out_q, activation):
    x, y = np.asarray(x), np.asarray(y)
    out_shape = np.broadcast_shapes(x.shape, y.shape)
    p = _Params(op, a_q, b_q, out_q, activation)
    segment = add_segment if op == "ADD" else mul_segment
    category, y5 = process_broadcast_shapes(x.shape, y.shape)
    if category == "none":
        flat = segment(x.reshape(-1).tolist(), y.reshape(-1).tolist(), p)
        return np.array(flat, np.int64).reshape(out_shape).astype(np.int8)
    if category == "generic":
        ref = elementwise.add if op == "ADD" else elementwise.mul
        return ref(x, y, *a_q, *b_q, *out_q, activation, -128, 127).astype(np.int8)
    in1, in2 = (x, y) if category == "first" else (y, x)
    if category == "second":
        p = p.swapped()
    d1, d2 = in1.reshape(-1).tolist(), in2.reshape(-1).tolist()
    out = []
    i1 = 0
    reset = 0
    for _ in range(y5[0]):
        i2 = reset
        for _ in range(y5[1]):
            i2 = reset
            for _ in range(y5[2]):
                if y5[4] > 1:
                    for _ in range(y5[3]):
                        out += segment(d1[i1:i1 + y5[4]], d2[i2:i2 + y5[4]], p)
                        i2 += y5[4]
                    i1 += y5[4]
                else:
                    run = d2[i2:i2 + y5[3]]
                    if op == "ADD":
                        out += add_scalar_broadcast(d1[i1], run, p)
                    else:
                        out += mul_segment([d1[i1]] * len(run), run, p)
                    i2 += y5[3]
                    i1 += 1
        reset = i2
    return np.array(out, np.int64).reshape(out_shape).astype(np.int8)


def add(x, y, *, a_q, b_q, out_q, activation="NONE", out_type="INT8"):
    """ADD, int8: ``optimized_integer_ops::Add`` for equal shapes
    (:func:`add_segment` over the whole tensor), ``BroadcastAddDispatch``
    otherwise: ``BinaryBroadcastFiveFold`` over :func:`add_segment` and
    :func:`add_scalar_broadcast` runs, or the reference's
    ``BroadcastAdd6DSlow`` for the generic category. ``a_q`` etc. are
    (scale, zero point)."""
    if out_type != "INT8":
        raise NotImplementedError("uint8 ADD (optimized_ops::Add)")
    return _binary("ADD", x, y, a_q, b_q, out_q, activation)


def mul(x, y, *, a_q, b_q, out_q, activation="NONE", out_type="INT8"):
    """MUL, int8: ``optimized_integer_ops::Mul`` / ``BroadcastMulDispatch``
    (:func:`mul_segment` runs in the five-fold loop; generic broadcasts in the
    reference's ``BroadcastMul6DSlow``)."""
    if out_type != "INT8":
        raise NotImplementedError("uint8 MUL (optimized_ops::Mul)")
    return _binary("MUL", x, y, a_q, b_q, out_q, activation)


# -- pooling, concatenation -----------------------------------------------------------------------

def max_pool_2d(x, *, filter_size, stride, padding, activation, scale, zero_point,
                out_type="INT8"):
    """MAX_POOL_2D: ``optimized_integer_ops::MaxPool``: the window's maximum
    and the reference's activation clamp, the reference's result."""
    qmin, qmax = nc.type_range(out_type)
    lo, hi = nc.activation_range(activation, scale, zero_point, qmin, qmax)
    return pool_naive.max_pool(x, filter_size, stride, padding, lo, hi)


def average_pool_2d(x, *, filter_size, stride, padding, activation, scale, zero_point,
                    out_type="INT8"):
    """AVERAGE_POOL_2D: ``optimized_integer_ops::AveragePool``: int32 sums per
    channel tranche, the same division (half away from zero by the count of
    pixels inside the image) and clamp as the reference: its result."""
    qmin, qmax = nc.type_range(out_type)
    lo, hi = nc.activation_range(activation, scale, zero_point, qmin, qmax)
    return pool_naive.average_pool(x, filter_size, stride, padding, lo, hi)


def concatenation(arrays, axis, *, in_qs, out_q):
    """CONCATENATION: copies (``optimized_ops::Concatenation``); uint8 inputs
    quantized unlike the output are rescaled as the reference does."""
    return concat_naive.concatenate(arrays, axis, in_qs, out_q)


# -- SOFTMAX ----------------------------------------------------------------------------------------

def expf(x) -> np.float32:
    """The C library's expf (glibc's, which ai-edge-litert links), called
    through ctypes: the optimized SOFTMAX and LOGISTIC tables are built with
    it, and its last-bit rounding is the library's own."""
    return np.float32(_libm().expf(float(np.float32(x))))


def _libm():
    import ctypes
    import ctypes.util

    global _LIBM
    if _LIBM is None:
        _LIBM = ctypes.CDLL(ctypes.util.find_library("m"))
        _LIBM.expf.restype = ctypes.c_float
        _LIBM.expf.argtypes = [ctypes.c_float]
    return _LIBM


_LIBM = None


def softmax(x, *, in_scale, beta, out_scale, out_zp, out_type="INT8"):
    """SOFTMAX int8/uint8 -> same type: ``optimized_ops::Softmax`` with the float
    table of ``PopulateSoftmaxLookupTable`` (x86 builds do not define
    TFLITE_SOFTMAX_USE_UINT16_LUT): table[255 - v] = expf(-in_scale * beta * v)
    in float32; per row, sum of table[255 - max + q] in float32 in order,
    inv = 1 / (sum * out_scale), each probability table[...] * inv rounded half
    away from zero (int8: std::round) or + 0.5 and truncated (uint8), + out_zp,
    clamped. The reference computes in gemmlowp fixed point; the two agree
    except near rounding ties."""
    s = nc.f32(-nc.f32(in_scale) * nc.f32(beta))
    table = [nc.f32(0)] * 256
    for v in range(256):
        table[255 - v] = expf(nc.f32(s * nc.f32(v)))
    qmin, qmax = nc.type_range(out_type)
    x = np.asarray(x)
    out = np.zeros(x.shape, np.int64)
    for idx in np.ndindex(x.shape[:-1]):
        row = [int(v) for v in x[idx]]
        if not row:
            continue
        offset = 255 - max(row)
        total = nc.f32(0)
        for v in row:
            total = nc.f32(total + table[offset + v])
        inv = nc.f32(nc.f32(1.0) / nc.f32(total * nc.f32(out_scale)))
        for j, v in enumerate(row):
            p = nc.f32(table[offset + v] * inv)
            q = nc.round_half_away(float(p)) if out_type == "INT8" else int(nc.f32(p + nc.f32(0.5)))
            out[idx + (j,)] = min(max(q + out_zp, qmin), qmax)
    return out.astype(_NP[out_type])
