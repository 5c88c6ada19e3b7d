"""A few 512-bit vector operations for the integer GEMM (kernels/gemm.py),
the convolution's requantization (kernels/conv.py) and the depthwise
convolution (kernels/depthwise.py).

numba has no vector type, and LLVM's auto-vectorizer turns a dot product
of bytes into instructions that use a quarter of each vector (see
docs/performance.md). These numba intrinsics give a kernel one type,
``i32x16`` (16 int32 lanes, 64 bytes, a register), and a dozen operations
on it; each is a handful of LLVM IR instructions, inlined where it is called:

- ``vzero()``: all lanes 0;
- ``vload(a, i)``: the 64 bytes of C-contiguous array ``a`` starting at its
  flat element ``i`` (any dtype; the bytes are reinterpreted);
- ``vbroadcast4(a, i)``: the 4 bytes at flat element ``i`` of ``a`` (a
  one-byte dtype), repeated in all 16 lanes;
- ``vstore(a, i, v)``: the 64 bytes of v into C-contiguous array ``a``
  from its flat element ``i`` (any dtype; the bytes are reinterpreted);
- ``vdot4(acc, u, s)``: per lane j, ``acc[j] + sum(u[4j + t] * s[4j + t]
  for t in 0..3)`` with ``u``'s bytes read as uint8 and ``s``'s as int8,
  the sum wrapping as int32 does (the x86 instruction VPDPBUSD, without
  saturation);
- ``vsplat(x)``: the integer x (as int32) in all 16 lanes;
- ``vrequantize(acc, bias, multiplier, left, right, offset, lo, hi)``: per
  lane, TFLite's requantization of an int32 accumulator (see below);
- ``vstore_bytes(a, i, v, n)``: lanes 0..n-1 (n <= 16) of v, truncated to
  8 bits, into the one-byte array ``a`` from its element ``i``; ``a`` must
  have unit stride (a C-contiguous array, or a view whose step is 1 byte);
- ``vwiden(a, i)``: the 16 elements of one-byte integer array ``a`` from
  its element ``i`` (``a`` of unit stride, as for ``vstore_bytes``), each
  in a lane: sign-extended for int8, zero-extended for uint8;
- ``vadd(u, v)``, ``vsub(u, v)``: per lane, u + v and u - v, wrapping as
  int32 does;
- ``vmax8(u, v)``, ``vmaxu8(u, v)``: the 64 bytes of u and v as int8 (or
  uint8) values, the larger of each pair;
- ``vinterleave4(a, i0, i1, i2, i3)``: the 16 bytes of C-contiguous
  one-byte array ``a`` from each of its flat elements i0..i3, interleaved:
  lane j holds bytes ``a[i0 + j], a[i1 + j], a[i2 + j], a[i3 + j]`` (in
  memory order), the operand ``vdot4`` multiplies four taps of channel j
  with (the depthwise convolution's taps, kernels/depthwise.py).

None of them checks bounds: the caller guarantees that every byte read or
written lies inside its array.

``vdot4`` is exact either way it is compiled:

- when numba compiles for a CPU with AVX-512 VNNI (``+avx512vnni`` in the
  target features numba passes to LLVM), as the intrinsic
  ``llvm.x86.avx512.vpdpbusd.512``: 64 products per instruction;
- otherwise in portable LLVM IR: each byte pair widened to int16 (a
  product |u * s| <= 255 * 128 fits in int32; two of them, in the
  pattern of PMADDWD), the four products of a lane summed in int32. LLVM
  lowers this to PMADDWD/VPDPWSSD on x86 (SSE2 to AVX-512) and to the
  equivalent on other targets.

The choice is made when a kernel is compiled, from the target machine's
features (``NUMBA_CPU_NAME``/``NUMBA_CPU_FEATURES`` when set, else the
host's), the same features numba keys its on-disk cache with, so a cached
kernel never meets a CPU it was not compiled for.

Under ``NUMBA_DISABLE_JIT=1`` (``numba.config.DISABLE_JIT``, read when
numba is imported) the kernels run as plain Python, and these names are
bound to Python functions over NumPy arrays instead (``py_vzero`` ...
``py_vstore_bytes``): a vector is an int32 array of 16 lanes, and every
operation gives the same integers as the compiled one (checked by
tests/kernels/test_simd.py). They also check what the compiled ones leave
to the caller: a read or write outside the array raises ``IndexError``.
"""

import numpy as np
from llvmlite import ir
from numba.core import cgutils, config, types
from numba.extending import intrinsic, models, register_model

__all__ = ["i32x16", "vzero", "vload", "vbroadcast4", "vstore", "vdot4", "vsplat",
           "vrequantize", "vstore_bytes", "vwiden", "vadd", "vsub", "vmax8", "vmaxu8",
           "vinterleave4",
           "target_has_vnni",
           "py_vzero", "py_vload", "py_vbroadcast4", "py_vstore", "py_vdot4", "py_vsplat",
           "py_vrequantize", "py_vstore_bytes", "py_vwiden", "py_vadd", "py_vsub",
           "py_vmax8", "py_vmaxu8", "py_vinterleave4", "aligned_full",
           "aligned_copy"]

_I8 = ir.IntType(8)
_I16 = ir.IntType(16)
_I32 = ir.IntType(32)
_V = ir.VectorType(_I32, 16)
_VNNI_INTRINSIC = "llvm.x86.avx512.vpdpbusd.512"


class I32x16(types.Type):
    """16 int32 lanes in one 512-bit value."""

    def __init__(self):
        super().__init__(name="i32x16")


i32x16 = I32x16()


@register_model(I32x16)
class _I32x16Model(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, _V)


def _target_features(context) -> str:
    """The feature string of the machine numba compiles for."""
    try:
        features = context.codegen()._tm_features
    except AttributeError:  # pragma: no cover - another numba codegen
        features = None
    if features is None:
        if config.CPU_FEATURES is not None:
            features = config.CPU_FEATURES
        else:  # pragma: no cover
            import llvmlite.binding as ll

            features = ll.get_host_cpu_features().flatten()
    return features


def _has_vnni(features: str) -> bool:
    flags = set(features.split(","))
    return "+avx512vnni" in flags and "+avx512f" in flags


def target_has_vnni() -> bool:
    """Whether kernels compiled in this process use VPDPBUSD."""
    from numba.core.registry import cpu_target

    return _has_vnni(_target_features(cpu_target.target_context))


def _is_c_array(t, itemsize=None) -> bool:
    return (isinstance(t, types.Array) and t.layout == "C"
            and (itemsize is None or t.dtype.bitwidth == 8 * itemsize))


def _element_pointer(context, builder, aryty, ary, index):
    data = context.make_array(aryty)(context, builder, ary).data
    return builder.gep(data, [index])


@intrinsic
def vzero(typingctx):
    def codegen(context, builder, sig, args):
        return ir.Constant(_V, None)

    return i32x16(), codegen


@intrinsic
def vload(typingctx, a, i):
    if not (_is_c_array(a) and isinstance(i, types.Integer)):
        return None

    def codegen(context, builder, sig, args):
        p = _element_pointer(context, builder, sig.args[0], args[0], args[1])
        p = builder.bitcast(p, _V.as_pointer())
        return builder.load(p, align=1, typ=_V)

    return i32x16(a, i), codegen


@intrinsic
def vbroadcast4(typingctx, a, i):
    if not (_is_c_array(a, 1) and isinstance(i, types.Integer)):
        return None

    def codegen(context, builder, sig, args):
        p = _element_pointer(context, builder, sig.args[0], args[0], args[1])
        p = builder.bitcast(p, _I32.as_pointer())
        word = builder.load(p, align=1, typ=_I32)
        v = builder.insert_element(ir.Constant(_V, ir.Undefined), word, ir.Constant(_I32, 0))
        return builder.shuffle_vector(v, ir.Constant(_V, ir.Undefined), ir.Constant(_V, None))

    return i32x16(a, i), codegen


@intrinsic
def vstore(typingctx, a, i, v):
    if not (_is_c_array(a) and isinstance(i, types.Integer) and v == i32x16):
        return None

    def codegen(context, builder, sig, args):
        p = _element_pointer(context, builder, sig.args[0], args[0], args[1])
        p = builder.bitcast(p, _V.as_pointer())
        builder.store(args[2], p, align=1)
        return context.get_dummy_value()

    return types.none(a, i, v), codegen


def _lane_pairs(builder, p, parity):
    """Lanes 2j + parity of a 32-lane int32 vector."""
    undef = ir.Constant(p.type, ir.Undefined)
    return builder.shuffle_vector(p, undef, ir.Constant(_V, [2 * j + parity for j in range(16)]))


def _dot4_portable(builder, acc, u, s):
    v16 = ir.VectorType(_I16, 32)
    v32 = ir.VectorType(_I32, 32)
    eight = ir.Constant(v16, [8] * 32)
    u16 = builder.bitcast(u, v16)
    s16 = builder.bitcast(s, v16)
    # each 16-bit word holds bytes 2w (low) and 2w + 1 (high): split them,
    # u zero-extended, s sign-extended
    u_lo = builder.and_(u16, ir.Constant(v16, [0xFF] * 32))
    u_hi = builder.lshr(u16, eight)
    s_lo = builder.ashr(builder.shl(s16, eight), eight)
    s_hi = builder.ashr(s16, eight)

    def madd(x, y):
        # word products in int32 (exact), adjacent words summed: PMADDWD
        prod = builder.mul(builder.sext(x, v32), builder.sext(y, v32))
        return builder.add(_lane_pairs(builder, prod, 0), _lane_pairs(builder, prod, 1))

    # lane j: bytes 4j and 4j + 2 from the low halves, 4j + 1 and 4j + 3 from the high
    return builder.add(acc, builder.add(madd(u_lo, s_lo), madd(u_hi, s_hi)))


@intrinsic
def vdot4(typingctx, acc, u, s):
    if not (acc == i32x16 and u == i32x16 and s == i32x16):
        return None

    def codegen(context, builder, sig, args):
        if _has_vnni(_target_features(context)):
            fnty = ir.FunctionType(_V, [_V, _V, _V])
            fn = cgutils.get_or_insert_function(builder.module, fnty, _VNNI_INTRINSIC)
            return builder.call(fn, list(args))
        return _dot4_portable(builder, *args)

    return i32x16(i32x16, i32x16, i32x16), codegen


@intrinsic
def vsplat(typingctx, x):
    if not isinstance(x, types.Integer):
        return None

    def codegen(context, builder, sig, args):
        word = context.cast(builder, args[0], sig.args[0], types.int32)
        v = builder.insert_element(ir.Constant(_V, ir.Undefined), word, ir.Constant(_I32, 0))
        return builder.shuffle_vector(v, ir.Constant(_V, ir.Undefined), ir.Constant(_V, None))

    return i32x16(x), codegen


def _requantize_ir(builder, acc, bias, multiplier, left, right, offset, lo, hi):
    v64 = ir.VectorType(ir.IntType(64), 8)

    def c64(value):
        return ir.Constant(v64, [value] * 8)

    # the reference adds the bias to its int32 accumulator and shifts left in
    # int32: both wrap
    x = builder.shl(builder.add(acc, bias), left)
    # Then, for a multiplier m in [0, 2**31) (so the saturating case of
    # SaturatingRoundingDoublingHighMul, both operands INT32_MIN, never
    # occurs), with P = x * m exact in 64 bits:
    #   H = SaturatingRoundingDoublingHighMul(x, m) = floor((P + 2**30) / 2**31)
    #     (gemmlowp's (P + nudge) / 2**31 truncated toward zero, nudge 2**30
    #     for P >= 0 and 1 - 2**30 below, is this floor for every P: tested
    #     in tests/kernels/test_gemm.py);
    #   RoundingDivideByPOT(H, r) = floor((H + 2**(r - 1) - s) / 2**r) for
    #     r >= 1, s = 1 when H < 0 (ties away from zero; gemmlowp's mask and
    #     threshold give the same), and H for r = 0.
    # Nested floors by powers of two are one floor, and H < 0 exactly when
    # P < -2**30, so the result is
    #   (P + 2**30 + [r > 0] (2**(30 + r) - [P < -2**30] 2**31)) >> (31 + r),
    # one arithmetic shift of a 64-bit sum (|P| < 2**62: no overflow) whose
    # value fits int32. Computed for the even and the odd lanes as 8 64-bit
    # lanes each (sign-extended products: PMULDQ).
    x64 = builder.bitcast(x, v64)
    m64 = builder.bitcast(multiplier, v64)
    r64 = builder.bitcast(right, v64)
    halves = []
    for odd in (False, True):
        if odd:  # the high int32 of each 64-bit lane
            xs, ms = builder.ashr(x64, c64(32)), builder.ashr(m64, c64(32))
            r = builder.lshr(r64, c64(32))
        else:  # the low int32, sign-extended in place (r is never negative)
            xs = builder.ashr(builder.shl(x64, c64(32)), c64(32))
            ms = builder.ashr(builder.shl(m64, c64(32)), c64(32))
            r = builder.and_(r64, c64(0xFFFFFFFF))
        p = builder.mul(xs, ms)
        shifted = builder.icmp_unsigned("!=", r, c64(0))
        nudge = builder.add(c64(1 << 30),
                            builder.select(shifted, builder.shl(c64(1 << 30), r), c64(0)))
        negative = builder.and_(builder.icmp_signed("<", p, c64(-(1 << 30))), shifted)
        t = builder.sub(builder.add(p, nudge), builder.select(negative, c64(1 << 31), c64(0)))
        halves.append(builder.ashr(t, builder.add(r, c64(31))))
    # the even results in the low int32 of each 64-bit lane, the odd in the high
    merged = builder.or_(builder.and_(halves[0], c64(0xFFFFFFFF)),
                         builder.shl(halves[1], c64(32)))
    q = builder.add(builder.bitcast(merged, _V), offset)
    q = builder.select(builder.icmp_signed("<", q, lo), lo, q)
    return builder.select(builder.icmp_signed(">", q, hi), hi, q)


@intrinsic
def vrequantize(typingctx, acc, bias, multiplier, left, right, offset, lo, hi):
    """``clamp(RoundingDivideByPOT(SaturatingRoundingDoublingHighMul((acc +
    bias) << left, multiplier), right) + offset, lo, hi)`` per lane: TFLite's
    ``MultiplyByQuantizedMultiplier`` (double rounding) with the shift split
    into left = max(shift, 0) and right = max(-shift, 0), for multipliers in
    [0, 2**31), shifts in 0..31, all int32 arithmetic wrapping."""
    args = (acc, bias, multiplier, left, right, offset, lo, hi)
    if any(a != i32x16 for a in args):
        return None

    def codegen(context, builder, sig, args):
        return _requantize_ir(builder, *args)

    return i32x16(*args), codegen


@intrinsic
def vstore_bytes(typingctx, a, i, v, n):
    if not (isinstance(a, types.Array) and a.ndim == 1 and a.dtype.bitwidth == 8
            and isinstance(i, types.Integer) and v == i32x16 and isinstance(n, types.Integer)):
        return None

    def codegen(context, builder, sig, args):
        v8 = ir.VectorType(_I8, 16)
        p = _element_pointer(context, builder, sig.args[0], args[0], args[1])
        p = builder.bitcast(p, v8.as_pointer())
        data = builder.trunc(args[2], v8)
        count = context.cast(builder, args[3], sig.args[3], types.int32)
        count = builder.insert_element(ir.Constant(_V, ir.Undefined), count,
                                       ir.Constant(_I32, 0))
        count = builder.shuffle_vector(count, ir.Constant(_V, ir.Undefined),
                                       ir.Constant(_V, None))
        mask = builder.icmp_signed("<", ir.Constant(_V, list(range(16))), count)
        fnty = ir.FunctionType(ir.VoidType(), [v8, p.type, _I32, mask.type])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.masked.store.v16i8.p0")
        builder.call(fn, [data, p, ir.Constant(_I32, 1), mask])
        return context.get_dummy_value()

    return types.none(a, i, v, n), codegen


def _is_byte_array(t) -> bool:
    return (isinstance(t, types.Array) and t.ndim == 1 and isinstance(t.dtype, types.Integer)
            and t.dtype.bitwidth == 8)


@intrinsic
def vwiden(typingctx, a, i):
    if not (_is_byte_array(a) and isinstance(i, types.Integer)):
        return None

    def codegen(context, builder, sig, args):
        v8 = ir.VectorType(_I8, 16)
        p = _element_pointer(context, builder, sig.args[0], args[0], args[1])
        data = builder.load(builder.bitcast(p, v8.as_pointer()), align=1, typ=v8)
        return builder.sext(data, _V) if sig.args[0].dtype.signed else builder.zext(data, _V)

    return i32x16(a, i), codegen


def _lane_arithmetic(method: str):
    """An intrinsic of two i32x16 values: the IR builder's ``method`` (add,
    sub) lane by lane, wrapping as int32 does."""
    def typer(typingctx, u, v):
        if not (u == i32x16 and v == i32x16):
            return None

        def codegen(context, builder, sig, args):
            return getattr(builder, method)(args[0], args[1])

        return i32x16(u, v), codegen

    typer.__name__ = typer.__qualname__ = f"v{method}"
    return typer


vadd = intrinsic(_lane_arithmetic("add"))
vsub = intrinsic(_lane_arithmetic("sub"))


def _byte_max(signed: bool):
    def typer(typingctx, u, v):
        if not (u == i32x16 and v == i32x16):
            return None

        def codegen(context, builder, sig, args):
            v8 = ir.VectorType(_I8, 64)
            a, b = (builder.bitcast(x, v8) for x in args)
            larger = builder.icmp_signed(">", a, b) if signed else builder.icmp_unsigned(">", a, b)
            return builder.bitcast(builder.select(larger, a, b), _V)

        return i32x16(u, v), codegen

    typer.__name__ = typer.__qualname__ = "vmax8" if signed else "vmaxu8"
    return typer


vmax8 = intrinsic(_byte_max(True))
vmaxu8 = intrinsic(_byte_max(False))


@intrinsic
def vinterleave4(typingctx, a, i0, i1, i2, i3):
    if not (_is_c_array(a, 1) and all(isinstance(i, types.Integer) for i in (i0, i1, i2, i3))):
        return None

    def codegen(context, builder, sig, args):
        v8 = ir.VectorType(_I8, 16)
        parts = []
        for k in range(4):
            p = _element_pointer(context, builder, sig.args[0], args[0], args[1 + k])
            parts.append(builder.load(builder.bitcast(p, v8.as_pointer()), align=1, typ=v8))
        lo = builder.shuffle_vector(parts[0], parts[1], ir.Constant(ir.VectorType(_I32, 32),
                                                                    list(range(32))))
        hi = builder.shuffle_vector(parts[2], parts[3], ir.Constant(ir.VectorType(_I32, 32),
                                                                    list(range(32))))
        # byte 4j + t of the result is byte j of part t
        order = [16 * t + j for j in range(16) for t in range(4)]
        v = builder.shuffle_vector(lo, hi, ir.Constant(ir.VectorType(_I32, 64), order))
        return builder.bitcast(v, _V)

    return i32x16(a, i0, i1, i2, i3), codegen


# -- the same operations in plain Python, for NUMBA_DISABLE_JIT=1 ------------------------

def _bytes(a, i, n: int):
    """A writable uint8 view of the ``n`` bytes of C-contiguous array ``a``
    from its flat element ``i``."""
    if not a.flags.c_contiguous:
        raise ValueError(f"expected a C-contiguous array, got strides {a.strides}")
    start = int(i) * a.itemsize
    flat = a.reshape(-1).view(np.uint8)
    if start < 0 or start + n > flat.size:
        raise IndexError(f"bytes {start}..{start + n - 1} of an array of {flat.size} bytes")
    return flat[start:start + n]


def _int32(v):
    """int64 lanes to int32, wrapping as the int32 instructions do."""
    return np.asarray(v, np.int64).astype(np.int32)


def py_vzero():
    return np.zeros(16, np.int32)


def py_vload(a, i):
    return _bytes(a, i, 64).copy().view(np.int32)


def py_vbroadcast4(a, i):
    if a.itemsize != 1:
        raise TypeError(f"expected an array of one-byte elements, got {a.dtype}")
    return np.repeat(_bytes(a, i, 4).copy().view(np.int32), 16)


def py_vstore(a, i, v):
    _bytes(a, i, 64)[:] = np.asarray(v, np.int32).view(np.uint8)


def py_vdot4(acc, u, s):
    # byte 4j + t of a vector is byte t of lane j (the order in memory)
    ub = u.view(np.uint8).reshape(16, 4).astype(np.int64)
    sb = s.view(np.int8).reshape(16, 4).astype(np.int64)
    return _int32(acc.astype(np.int64) + (ub * sb).sum(axis=1))


def py_vsplat(x):
    return np.full(16, (int(x) + (1 << 31)) % (1 << 32) - (1 << 31), np.int32)


def py_vrequantize(acc, bias, multiplier, left, right, offset, lo, hi):
    """As ``vrequantize``, lane by lane: int32 results of int64 arithmetic
    (every intermediate below fits an int64)."""
    lanes = [np.asarray(v, np.int32).astype(np.int64)
             for v in (acc, bias, multiplier, left, right, offset, lo, hi)]
    acc, bias, multiplier, left, right, offset, lo, hi = lanes
    x = _int32(_int32(acc + bias).astype(np.int64) << left).astype(np.int64)
    # floor((x * m + 2**30) / 2**31): gemmlowp's SaturatingRoundingDoublingHighMul
    high = _int32((x * multiplier + (1 << 30)) >> 31).astype(np.int64)
    mask = _int32((1 << right) - 1).astype(np.int64)
    # gemmlowp's RoundingDivideByPOT (mask and threshold) on the lanes' 32-bit
    # patterns: a formulation of its own, not _requantize_ir's single shift
    threshold = _int32(((mask & 0xFFFFFFFF) >> 1) + ((high & 0xFFFFFFFF) >> 31)).astype(np.int64)
    above = ((high & mask) > threshold).astype(np.int64)
    q = _int32(_int32((high >> right) + above).astype(np.int64) + offset).astype(np.int64)
    q = np.where(q < lo, lo, q)
    return _int32(np.where(q > hi, hi, q))


def py_vstore_bytes(a, i, v, n):
    count = min(max(int(n), 0), 16)
    # (no element stored: nothing to check but the array's layout)
    dst = _unit_bytes(a, i if count else 0, count)
    # truncated to 8 bits (astype wraps)
    dst[:] = np.asarray(v, np.int32)[:count].astype(a.dtype)


def _unit_bytes(a, i, n: int):
    """Elements i..i + n - 1 of a one-byte 1-D array of unit stride."""
    if a.ndim != 1 or a.itemsize != 1 or (a.size > 1 and a.strides[0] != 1):
        raise ValueError(f"expected a one-byte array of unit stride, got {a.dtype} "
                         f"{a.shape} strides {a.strides}")
    start = int(i)
    if start < 0 or start + n > a.size:
        raise IndexError(f"elements {start}..{start + n - 1} of an array of {a.size}")
    return a[start:start + n]


def py_vwiden(a, i):
    if a.dtype.kind not in "iu":
        raise TypeError(f"expected an array of one-byte integers, got {a.dtype}")
    return _unit_bytes(a, i, 16).astype(np.int32)


def py_vadd(u, v):
    return _int32(np.asarray(u, np.int64) + np.asarray(v, np.int64))


def py_vsub(u, v):
    return _int32(np.asarray(u, np.int64) - np.asarray(v, np.int64))


def py_vmax8(u, v):
    return np.maximum(np.asarray(u, np.int32).view(np.int8),
                      np.asarray(v, np.int32).view(np.int8)).view(np.int32)


def py_vmaxu8(u, v):
    return np.maximum(np.asarray(u, np.int32).view(np.uint8),
                      np.asarray(v, np.int32).view(np.uint8)).view(np.int32)


def py_vinterleave4(a, i0, i1, i2, i3):
    if a.itemsize != 1:
        raise TypeError(f"expected an array of one-byte elements, got {a.dtype}")
    parts = np.stack([_bytes(a, i, 16) for i in (i0, i1, i2, i3)])
    return np.ascontiguousarray(parts.T).reshape(-1).view(np.int32).copy()


# -- memory for the vector loads (plain Python, at prepare time) -------------------------

#: the bytes of a vector, and of a cache line
VECTOR_BYTES = 64


def aligned_full(shape, fill, dtype):
    """A C-contiguous array of ``shape`` and ``dtype`` filled with ``fill``,
    whose first byte lies on a 64-byte boundary: a 64-byte load at a
    multiple of 64 bytes from its start then reads one cache line, not
    two (NumPy aligns its allocations to 16 bytes only)."""
    dtype = np.dtype(dtype)
    n = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    raw = np.empty(n + VECTOR_BYTES, np.uint8)
    start = (-raw.ctypes.data) % VECTOR_BYTES
    a = raw[start:start + n].view(dtype).reshape(shape)
    a[...] = fill
    return a


def aligned_copy(a):
    """``a`` as a C-contiguous copy aligned as :func:`aligned_full` aligns."""
    a = np.asarray(a)
    out = aligned_full(a.shape, 0, a.dtype)
    out[...] = a
    return out


if config.DISABLE_JIT:
    vzero, vload, vbroadcast4, vstore = py_vzero, py_vload, py_vbroadcast4, py_vstore
    vdot4, vsplat, vrequantize, vstore_bytes = py_vdot4, py_vsplat, py_vrequantize, py_vstore_bytes
    vwiden, vadd, vsub, vinterleave4 = py_vwiden, py_vadd, py_vsub, py_vinterleave4
    vmax8, vmaxu8 = py_vmax8, py_vmaxu8
