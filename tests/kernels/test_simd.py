"""The plain-Python path of kernels/simd.py (used under NUMBA_DISABLE_JIT=1)
against the compiled intrinsics, operation by operation: the same integers
for any bytes, offsets, shifts and multipliers, and an IndexError where the
intrinsics would read or write outside the array."""

import numba
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from int8sqz.kernels import simd

compiled = pytest.mark.skipif(numba.config.DISABLE_JIT,
                              reason="compares the Python path with the compiled one")

INT32 = st.integers(-(2**31), 2**31 - 1)


def lanes(values):
    return np.array(values, np.int64).astype(np.int32)


@numba.njit
def _load_store(a, i, out, j):
    simd.vstore(out, j, simd.vload(a, i))


@numba.njit
def _broadcast(a, i, out):
    simd.vstore(out, 0, simd.vbroadcast4(a, i))


@numba.njit
def _dot4(acc, u, s, out):
    simd.vstore(out, 0, simd.vdot4(simd.vload(acc, 0), simd.vload(u, 0), simd.vload(s, 0)))


@numba.njit
def _splat_zero(x, out):
    simd.vstore(out, 0, simd.vsplat(x))
    simd.vstore(out, 16, simd.vzero())


@numba.njit
def _requantize(v, out):
    r = simd.vrequantize(simd.vload(v, 0), simd.vload(v, 16), simd.vload(v, 32),
                         simd.vload(v, 48), simd.vload(v, 64), simd.vload(v, 80),
                         simd.vload(v, 96), simd.vload(v, 112))
    simd.vstore(out, 0, r)


@numba.njit
def _store_bytes(v, out, i, n):
    simd.vstore_bytes(out, i, simd.vload(v, 0), n)


@numba.njit
def _widen(a, i, out):
    simd.vstore(out, 0, simd.vwiden(a, i))


@numba.njit
def _add_sub(u, v, out):
    simd.vstore(out, 0, simd.vadd(simd.vload(u, 0), simd.vload(v, 0)))
    simd.vstore(out, 16, simd.vsub(simd.vload(u, 0), simd.vload(v, 0)))


@numba.njit
def _byte_max(u, v, out):
    simd.vstore(out, 0, simd.vmax8(simd.vload(u, 0), simd.vload(v, 0)))
    simd.vstore(out, 16, simd.vmaxu8(simd.vload(u, 0), simd.vload(v, 0)))


@numba.njit
def _interleave(a, i0, i1, i2, i3, out):
    simd.vstore(out, 0, simd.vinterleave4(a, i0, i1, i2, i3))


@compiled
@given(st.binary(min_size=40, max_size=120), st.data())
def test_interleave4(raw, data):
    """Lane j: byte j of each of the four 16-byte runs, in order."""
    a = np.frombuffer(raw, np.uint8).copy()
    idx = [data.draw(st.integers(0, a.size - 16)) for _ in range(4)]
    want = np.zeros(16, np.int32)
    _interleave(a, *idx, want)
    assert np.array_equal(simd.py_vinterleave4(a, *idx), want)
    b = want.view(np.uint8).reshape(16, 4)
    for t, i in enumerate(idx):
        assert np.array_equal(b[:, t], a[i:i + 16])


@compiled
@given(st.binary(min_size=64, max_size=200), st.data())
def test_load_store_and_broadcast(raw, data):
    for dtype in (np.uint8, np.int8, np.int32):
        a = np.frombuffer(raw[:len(raw) // 4 * 4], dtype).copy()
        n = 64 // a.itemsize
        i = data.draw(st.integers(0, a.size - n))
        j = data.draw(st.integers(0, 3))
        want = np.zeros(n + 3, dtype)
        _load_store(a, i, want, j)
        got = np.zeros(n + 3, dtype)
        simd.py_vstore(got, j, simd.py_vload(a, i))
        assert np.array_equal(got, want)
    a = np.frombuffer(raw, np.uint8).copy()
    i = data.draw(st.integers(0, a.size - 4))
    want = np.zeros(16, np.int32)
    _broadcast(a, i, want)
    assert np.array_equal(simd.py_vbroadcast4(a, i), want)


@compiled
@given(st.binary(min_size=128, max_size=128), st.lists(INT32, min_size=16, max_size=16))
def test_dot4(raw, acc):
    u = np.frombuffer(raw[:64], np.int32).copy()
    s = np.frombuffer(raw[64:], np.int32).copy()
    acc = lanes(acc)
    want = np.zeros(16, np.int32)
    _dot4(acc, u, s, want)
    assert np.array_equal(simd.py_vdot4(acc, u, s), want)


@compiled
def test_dot4_extremes():
    """255 * -128 four times a lane, added to INT32_MIN: the sum wraps."""
    u = np.full(64, 255, np.uint8).view(np.int32)
    s = np.full(64, -128, np.int8).view(np.int32)
    acc = lanes([-(2**31)] * 8 + [2**31 - 1] * 8)
    want = np.zeros(16, np.int32)
    _dot4(acc, u, s, want)
    assert np.array_equal(simd.py_vdot4(acc, u, s), want)


@compiled
@given(st.integers(-(2**63), 2**63 - 1))
def test_splat_and_zero(x):
    want = np.ones(32, np.int32)
    _splat_zero(x, want)
    assert np.array_equal(simd.py_vsplat(x), want[:16])
    assert np.array_equal(simd.py_vzero(), want[16:])


@compiled
@given(st.lists(st.tuples(INT32, INT32, st.integers(0, 2**31 - 1), st.integers(-31, 31)),
                min_size=16, max_size=16),
       st.lists(st.tuples(INT32, INT32, INT32), min_size=16, max_size=16))
def test_requantize(per_lane, bounds):
    """Any accumulator, bias, offset and clamp bounds, multipliers in [0, 2**31)
    and shifts split into left and right in 0..31, as documented."""
    acc, bias, mult, shift = zip(*per_lane)
    offset, lo, hi = zip(*bounds)
    shift = np.array(shift)
    v = np.concatenate([lanes(x) for x in (acc, bias, mult, np.maximum(shift, 0),
                                           np.maximum(-shift, 0), offset, lo, hi)])
    want = np.zeros(16, np.int32)
    _requantize(v, want)
    got = simd.py_vrequantize(*(v[16 * k:16 * k + 16] for k in range(8)))
    assert np.array_equal(got, want)


@numba.njit
def _requantize_many(v, out):
    n = v.shape[0] // 8
    for i in range(0, n, 16):
        r = simd.vrequantize(simd.vload(v, i), simd.vload(v, n + i), simd.vload(v, 2 * n + i),
                             simd.vload(v, 3 * n + i), simd.vload(v, 4 * n + i),
                             simd.vload(v, 5 * n + i), simd.vload(v, 6 * n + i),
                             simd.vload(v, 7 * n + i))
        simd.vstore(out, i, r)


@compiled
def test_requantize_at_rounding_boundaries():
    """Every right shift 0..31 on accumulators whose product with the
    multiplier lies just below, at and above -2**30 (where the rounding's
    sign term changes), and on runs of consecutive values around 0 and the
    int32 extremes (every tie of the final shift for the small shifts)."""
    acc = np.concatenate([np.arange(-4100, 4100), np.arange(-(2**31), -(2**31) + 300),
                          np.arange(2**31 - 300, 2**31)])
    for m in (1 << 30, (1 << 31) - 1, 1 << 29, 1518500250):
        for right in range(32):
            n = -(-acc.size // 16) * 16
            lanes = [np.resize(acc, n), np.zeros(n), np.full(n, m), np.zeros(n),
                     np.full(n, right), np.full(n, -7), np.full(n, -(2**31)), np.full(n, 2**31 - 1)]
            v = np.concatenate(lanes).astype(np.int64).astype(np.int32)
            got = np.zeros(n, np.int32)
            _requantize_many(v, got)
            want = simd.py_vrequantize(*(v[k * n:(k + 1) * n] for k in range(8)))
            assert np.array_equal(got, want), (m, right)


@compiled
@given(st.lists(INT32, min_size=16, max_size=16), st.integers(0, 20), st.integers(-2, 18))
def test_store_bytes(values, i, n):
    v = lanes(values)
    for dtype in (np.int8, np.uint8):
        count = min(max(n, 0), 16)
        if i + count > 40:
            continue
        want = np.full(40, 7, dtype)
        _store_bytes(v, want, i, n)
        got = np.full(40, 7, dtype)
        simd.py_vstore_bytes(got, i, v, n)
        assert np.array_equal(got, want)


@compiled
@given(st.binary(min_size=41, max_size=41), st.integers(0, 24))
def test_widen(raw, i):
    for dtype in (np.int8, np.uint8):
        a = np.frombuffer(raw, dtype)
        want = a[i:i + 16].astype(np.int32)
        got = np.zeros(16, np.int32)
        _widen(a, i, got)
        assert np.array_equal(got, want)
        assert np.array_equal(simd.py_vwiden(a, i), want)
        # a view of unit stride that starts inside a larger array
        _widen(a[1:], i, got)
        assert np.array_equal(got, a[1 + i:17 + i].astype(np.int32))


@compiled
@given(st.lists(INT32, min_size=16, max_size=16), st.lists(INT32, min_size=16, max_size=16))
def test_add_sub_wrap(us, vs):
    u, v = lanes(us), lanes(vs)
    wide_u, wide_v = np.array(us, np.int64), np.array(vs, np.int64)
    want = np.concatenate([lanes(wide_u + wide_v), lanes(wide_u - wide_v)])
    got = np.zeros(32, np.int32)
    _add_sub(u, v, got)
    assert np.array_equal(got, want)
    assert np.array_equal(np.concatenate([simd.py_vadd(u, v), simd.py_vsub(u, v)]), want)


@compiled
@given(st.binary(min_size=64, max_size=64), st.binary(min_size=64, max_size=64))
def test_byte_max(ub, vb):
    u, v = np.frombuffer(ub, np.int32).copy(), np.frombuffer(vb, np.int32).copy()
    want = np.concatenate([
        np.maximum(np.frombuffer(ub, np.int8), np.frombuffer(vb, np.int8)).view(np.int32),
        np.maximum(np.frombuffer(ub, np.uint8), np.frombuffer(vb, np.uint8)).view(np.int32)])
    got = np.zeros(32, np.int32)
    _byte_max(u, v, got)
    assert np.array_equal(got, want)
    assert np.array_equal(np.concatenate([simd.py_vmax8(u, v), simd.py_vmaxu8(u, v)]), want)


def test_python_path_refuses_to_leave_the_array():
    a = np.zeros(70, np.uint8)
    simd.py_vload(a, 6)
    with pytest.raises(IndexError):
        simd.py_vload(a, 7)
    with pytest.raises(IndexError):
        simd.py_vstore(a, 7, simd.py_vzero())
    with pytest.raises(IndexError):
        simd.py_vbroadcast4(a, 67)
    with pytest.raises(IndexError):
        simd.py_vstore_bytes(a, 60, simd.py_vzero(), 11)
    with pytest.raises(ValueError):
        simd.py_vstore_bytes(a[::2], 0, simd.py_vzero(), 1)
    with pytest.raises(ValueError):
        simd.py_vload(np.zeros((4, 40), np.uint8)[:, :20], 0)
    with pytest.raises(IndexError):
        simd.py_vinterleave4(a, 0, 0, 55, 0)
    simd.py_vwiden(a, 54)
    with pytest.raises(IndexError):
        simd.py_vwiden(a, 55)
    with pytest.raises(ValueError):
        simd.py_vwiden(a[::2], 0)

