"""A few 512-bit vector operations for the integer GEMM (kernels/gemm.py).

numba has no vector type, and LLVM's auto-vectorizer turns a dot product
of bytes into instructions that use a quarter of each vector (see
docs/performance.md). These numba intrinsics give a kernel one type,
``i32x16`` (16 int32 lanes, 64 bytes, a register), and five operations on
it; each is a handful of LLVM IR instructions, inlined where it is called:

- ``vzero()``: all lanes 0;
- ``vload(a, i)``: the 64 bytes of C-contiguous array ``a`` starting at its
  flat element ``i`` (any dtype; the bytes are reinterpreted);
- ``vbroadcast4(a, i)``: the 4 bytes at flat element ``i`` of ``a`` (a
  one-byte dtype), repeated in all 16 lanes;
- ``vstore(a, i, v)``: the 16 lanes into int32 array ``a`` from flat
  element ``i``;
- ``vdot4(acc, u, s)``: per lane j, ``acc[j] + sum(u[4j + t] * s[4j + t]
  for t in 0..3)`` with ``u``'s bytes read as uint8 and ``s``'s as int8,
  the sum wrapping as int32 does (the x86 instruction VPDPBUSD, without
  saturation).

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

numba's cache does not notice a change in this file: after editing it,
delete the ``kernels/__pycache__`` entries of the kernels that use it.
"""

from llvmlite import ir
from numba.core import cgutils, config, types
from numba.extending import intrinsic, models, register_model

__all__ = ["i32x16", "vzero", "vload", "vbroadcast4", "vstore", "vdot4", "target_has_vnni"]

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
    if not (_is_c_array(a, 4) and isinstance(a.dtype, types.Integer)
            and isinstance(i, types.Integer) and v == i32x16):
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
