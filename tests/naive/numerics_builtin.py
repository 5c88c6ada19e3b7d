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
from .fixedpoint import c_div, mbqm, to_int32


# -- requantization and CONV_2D ----------------------------------------------------------------

def multiply_half_up(acc: int, multiplier: int, shift: int) -> int:
    """The requantization of every vector path of this build: ruy's x86
    AVX-512 kernels (``Kernel8bitAvx512``, ``...SingleCol``), the NEON custom
    GEMV, ``MultiplyByQuantizedMultiplier4Rows`` and the per-channel
    ``optimized_ops::Quantize``. The int32 value shifted left by max(shift, 0)
    (wrapping), times the Q31 multiplier, + 2**30, arithmetic shift right by
    31 (= vqrdmulh); then + 2**(-shift - 1), arithmetic shift right by -shift
    (= vrshl). Both roundings are half up (toward +inf), where the reference's
    ``MultiplyByQuantizedMultiplier`` rounds both half away from zero. ``acc``
    is a Python int or an int64 array (the products stay below 2**62)."""
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
    ``optimized_integer_ops::ConvPerChannel``, im2col and a ruy GEMM (the
    NEON custom GEMV when there is one output pixel) whose output stage is
    :func:`multiply_half_up` with the reference's per-channel multipliers
    (``QuantizeMultiplier`` of in_scale * w_scale / out_scale in double), then
    + zero point and the activation clamp."""
    acc = nc.conv_accumulators(x, weights, bias, in_zp, stride, dilation, padding)
    return _requantize_channels(acc, in_scale, w_scales, out_scale, out_zp, activation,
                                out_type, lambda a, m, e, c: multiply_half_up(a, m, e))


def _requantize_channels(acc, in_scale, w_scales, out_scale, out_zp, activation, out_type,
                         multiply):
    qmin, qmax = nc.type_range(out_type)
    lo, hi = nc.activation_range(activation, out_scale, out_zp, qmin, qmax)
    channels = acc.shape[-1]
    w_scales = np.broadcast_to(np.asarray(w_scales, np.float32).reshape(-1), (channels,))
    mults = [nc.quantize_multiplier(float(np.float32(in_scale)) * float(s)
                                    / float(np.float32(out_scale))) for s in w_scales]
    out = np.empty(acc.shape, np.int64)
    for c, (m, e) in enumerate(mults):
        # one channel at a time, every element with int64 arithmetic
        out[..., c] = np.clip(multiply(acc[..., c].astype(np.int64), m, e, c) + out_zp, lo, hi)
    return out.astype(np.int8 if out_type == "INT8" else np.uint8)


# -- QUANTIZE and DEQUANTIZE -------------------------------------------------------------------

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


def requantize(x, *, in_scale, in_zp, out_scale, out_zp, out_type):
    """QUANTIZE int8/uint8 -> int8/uint8: ``optimized_ops::Requantize``: the
    first 16 * (n // 16) elements through :func:`multiply_half_up`, the tail
    through the reference's ``MultiplyByQuantizedMultiplier``; multiplier of
    double(in_scale) / double(out_scale)."""
    qmin, qmax = nc.type_range(out_type)
    m, e = nc.quantize_multiplier(float(np.float32(in_scale)) / float(np.float32(out_scale)))
    flat = np.asarray(x).reshape(-1)
    head = _vector_prefix(flat.size, 16)
    out = []
    for i, v in enumerate(flat.tolist()):
        d = v - in_zp
        r = multiply_half_up(d, m, e) if i < head else mbqm(d, m, e)
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


# -- MEAN --------------------------------------------------------------------------------------

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
    whole blocks of 16 from its start go through :func:`multiply_half_up`
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
            v = multiply_half_up(s, m, e) if vector[ch] else mbqm(s, m, e)
            out[b, 0, 0, ch] = min(max(v + bias, -128), 127)
    return out.astype(np.int8)


# -- ADD and MUL -------------------------------------------------------------------------------

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


# -- pooling, concatenation --------------------------------------------------------------------

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


# -- SOFTMAX -----------------------------------------------------------------------------------

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


# -- DEPTHWISE_CONV_2D and FULLY_CONNECTED -------------------------------------------------

def depthwise_conv_2d(x, weights, bias, *, in_scale, in_zp, w_scales, out_scale, out_zp,
                      depth_multiplier=1, stride=(1, 1), dilation=(1, 1), padding="SAME",
                      activation="NONE", out_type="INT8"):
    """DEPTHWISE_CONV_2D, int8: ``optimized_integer_ops::DepthwiseConvPerChannel``
    (x86 takes ``DepthwiseConvGeneral``; the 3x3 and dot-product kernels are
    Arm-only): exact int32 sums, then the per-channel ``optimized_ops::Quantize``:
    channels in whole groups of 8 from channel 0 through
    :func:`multiply_half_up`, the remaining C % 8 channels through the
    reference's ``MultiplyByQuantizedMultiplier``."""
    acc = nc.depthwise_accumulators(x, weights, bias, in_zp, depth_multiplier, stride,
                                    dilation, padding)
    head = _vector_prefix(acc.shape[-1], 8)

    def multiply(a, m, e, channel):
        if channel < head:
            return multiply_half_up(a, m, e)
        return np.vectorize(lambda v: mbqm(int(v), m, e), otypes=[np.int64])(a)

    return _requantize_channels(acc, in_scale, w_scales, out_scale, out_zp, activation,
                                out_type, multiply)


def fully_connected_accumulators(x, weights, bias, in_zp, keep_num_dims):
    """int32 sums of FULLY_CONNECTED: rows of the input (its last axis is the
    weights' depth) times the weights [units, depth], plus the bias; the
    output shape as ``keep_num_dims`` asks."""
    x = np.asarray(x)
    w = np.asarray(weights).astype(np.int64)
    units, depth = w.shape
    rows = (x.astype(np.int64).reshape(-1, depth) - int(in_zp))
    acc = rows @ w.T
    if bias is not None:
        acc = acc + np.asarray(bias).astype(np.int64)
    acc = np.vectorize(to_int32, otypes=[np.int64])(acc) if acc.size else acc
    shape = tuple(x.shape[:-1]) + (units,) if keep_num_dims else (rows.shape[0], units)
    return acc.reshape(shape)


def fully_connected(x, weights, bias, *, in_scale, in_zp, w_scales, out_scale, out_zp,
                    activation="NONE", keep_num_dims=False, out_type="INT8"):
    """FULLY_CONNECTED, int8 weights (per-tensor or per-channel):
    ``optimized_integer_ops::FullyConnected(PerChannel)``: a ruy GEMM, or the
    NEON custom GEMV for one input row (``CustomGemvImpl``): both requantize
    with :func:`multiply_half_up` on every unit."""
    acc = fully_connected_accumulators(x, weights, bias, in_zp, keep_num_dims)
    return _requantize_channels(acc, in_scale, w_scales, out_scale, out_zp, activation,
                                out_type, lambda a, m, e, c: multiply_half_up(a, m, e))


# -- operators whose builtin kernel computes the reference's integers ---------------------

def pad(x, paddings, *, constant):
    """PAD / PADV2 (``optimized_ops::Pad``): the input copied, the border
    filled with ``constant`` (PAD: the output zero point; PADV2: the raw
    value of its constant tensor)."""
    return np.pad(np.asarray(x), np.asarray(paddings, np.int64).reshape(-1, 2),
                  constant_values=constant)


def reshape(x, shape):
    """RESHAPE (and SQUEEZE, EXPAND_DIMS): the same bytes in a new shape."""
    return np.asarray(x).reshape(shape)


def shape_of(x, out_dtype=np.int32):
    """SHAPE: the input's dimensions."""
    return np.array(np.shape(x), out_dtype)


def strided_slice(x, begin, end, strides, *, begin_mask=0, end_mask=0, ellipsis_mask=0,
                  new_axis_mask=0, shrink_axis_mask=0, offset=False):
    """STRIDED_SLICE (``reference_ops::StridedSlice``, also the optimized
    one): TensorFlow's slicing rules, spelled out as a NumPy index (masks:
    bit i of begin/end_mask ignores begin[i]/end[i]; ellipsis, new axis and
    shrink axis as in NumPy's ``...``, ``None`` and an integer index;
    ``offset``: end is relative to begin)."""
    x = np.asarray(x)
    index = []
    for i, (b, e, s) in enumerate(zip(begin, end, strides)):
        b, e, s = int(b), int(e), int(s)
        if offset:
            e = b + e
        if ellipsis_mask >> i & 1:
            index.append(Ellipsis)
        elif new_axis_mask >> i & 1:
            index.append(None)
        elif shrink_axis_mask >> i & 1:
            index.append(b)
        else:
            index.append(slice(None if begin_mask >> i & 1 else b,
                               None if end_mask >> i & 1 else e, s))
    return np.array(x[tuple(index)])


def pack(arrays, axis):
    """PACK: the inputs stacked along a new axis."""
    return np.stack([np.asarray(a) for a in arrays], axis=axis)


def transpose(x, perm):
    """TRANSPOSE: the axes permuted."""
    return np.array(np.transpose(np.asarray(x), [int(p) for p in perm]))


def tile(x, multiples):
    """TILE: the input repeated along each axis."""
    return np.tile(np.asarray(x), [int(m) for m in multiples])


def reduce_max(x, axes, keep_dims):
    """REDUCE_MAX (int8): the maximum of the raw values, no requantization
    (``optimized_ops::ReduceGeneric``, as the reference)."""
    x = np.asarray(x)
    resolved = reduce_naive.resolve_axes(axes, x.ndim)
    if not resolved:
        return x.copy()
    return np.max(x, axis=tuple(resolved), keepdims=keep_dims)


def maximum(x, y):
    """MAXIMUM: the larger raw value (both inputs quantized as the output)."""
    return np.maximum(np.asarray(x), np.asarray(y))


def minimum(x, y):
    """MINIMUM: the smaller raw value."""
    return np.minimum(np.asarray(x), np.asarray(y))


def relu(x, *, in_q, out_q, upper=None, out_type="INT8"):
    """RELU / RELU6, int8 (``reference_ops::ReluX`` in every resolver):
    out_zp + ``MultiplyByQuantizedMultiplier``(x - in_zp) with the multiplier
    of float32(in_scale / out_scale), clamped to [max(qmin, out_zp +
    roundf(0 / out_scale)), min(qmax, out_zp + roundf(upper / out_scale))]."""
    (si, zi), (so, zo) = in_q, out_q
    qmin, qmax = nc.type_range(out_type)
    m, e = nc.quantize_multiplier(float(nc.f32(nc.f32(si) / nc.f32(so))))
    lo = max(qmin, zo)
    hi = qmax if upper is None else min(qmax, zo + nc.round_half_away(
        float(nc.f32(nc.f32(upper) / nc.f32(so)))))
    flat = [min(max(zo + mbqm(v - zi, m, e), lo), hi) for v in np.asarray(x).reshape(-1).tolist()]
    return np.array(flat, np.int64).reshape(np.shape(x)).astype(_NP[out_type])


def sub(x, y, *, a_q, b_q, out_q, activation="NONE", out_type="INT8"):
    """SUB, int8: ``reference_ops::Sub`` / ``BroadcastQuantSubSlow`` in both
    resolvers: ADD's arithmetic (inputs shifted left by 20, scaled by their
    multipliers) with the second scaled input subtracted."""
    (sa, za), (sb, zb), (so, zo) = a_q, b_q, out_q
    m1, e1, m2, e2, mo, eo = elementwise.add_multipliers(sa, sb, so)
    lo, hi = nc.activation_range(activation, so, zo, -128, 127)
    bx, by = np.broadcast_arrays(np.asarray(x), np.asarray(y))
    out = []
    for u, v in zip(bx.reshape(-1).tolist(), by.reshape(-1).tolist()):
        a = mbqm((u - za) * 2**20, m1, e1)
        b = mbqm((v - zb) * 2**20, m2, e2)
        out.append(min(max(mbqm(a - b, mo, eo) + zo, lo), hi))
    return np.array(out, np.int64).reshape(bx.shape).astype(np.int8)


def resize_bilinear(x, size, *, align_corners=False, half_pixel_centers=False):
    """RESIZE_BILINEAR, int8: ``optimized_ops::ResizeBilinear`` for int8 calls
    ``reference_ops::ResizeBilinearInteger``: source coordinates in 10-bit
    fixed point, the four corner products summed in int64 (20 fractional
    bits), rounded half away from zero."""
    x = np.asarray(x)
    n, h, w, c = x.shape
    oh, ow = int(size[0]), int(size[1])

    def scale_10(i, o):
        if align_corners and o > 1:
            return ((1 << 10) * (i - 1) + (o - 1) // 2) // (o - 1)
        return ((1 << 10) * i + o // 2) // o

    def coords(v, s, size_in):
        scaled = v * s + s // 2 - (1 << 9) if half_pixel_centers else v * s
        lower = max(c_div(scaled, 1024), 0)
        upper = min(c_div(scaled + 1023, 1024), size_in - 1)
        return scaled, lower, upper

    sy, sx = scale_10(h, oh), scale_10(w, ow)
    out = np.zeros((n, oh, ow, c), np.int64)
    xs = x.astype(np.int64)
    for oy in range(oh):
        iy, y0, y1 = coords(oy, sy, h)
        for ox in range(ow):
            ix, x0, x1 = coords(ox, sx, w)
            fy, fx = iy - 1024 * y0, ix - 1024 * x0
            total = (xs[:, y0, x0] * (1024 - fy) * (1024 - fx) + xs[:, y1, x0] * fy * (1024 - fx)
                     + xs[:, y0, x1] * (1024 - fy) * fx + xs[:, y1, x1] * fy * fx)
            for idx in np.ndindex(total.shape):
                t = int(total[idx])
                r = t + (1 << 19) if t > 0 else t - (1 << 19)
                out[(idx[0], oy, ox, idx[1])] = c_div(r, 1 << 20)
    return out.astype(x.dtype)


def logistic(x, *, in_q, out_q, out_type="INT8"):
    """LOGISTIC, int8: the lookup table of ``LUTPopulateInt8`` (the same in
    the reference): q -> float32 in_scale * (q - in_zp), 1 / (1 + expf(-v)) in
    float32, times float32(1 / out_scale), rounded half away from zero, + out_zp,
    clamped."""
    (si, zi), (so, zo) = in_q, out_q
    qmin, qmax = nc.type_range(out_type)
    inverse = nc.f32(nc.f32(1.0) / nc.f32(so))
    table = {}
    for q in range(qmin, qmax + 1):
        v = nc.f32(nc.f32(si) * nc.f32(q - zi))
        y = nc.f32(nc.f32(1.0) / nc.f32(nc.f32(1.0) + expf(-v)))
        r = nc.round_half_away(float(nc.f32(y * inverse)))
        table[q] = min(max(int(nc.f32(nc.f32(r) + nc.f32(zo))), qmin), qmax)
    flat = [table[v] for v in np.asarray(x).reshape(-1).tolist()]
    return np.array(flat, np.int64).reshape(np.shape(x)).astype(_NP[out_type])
