"""The integer GEMM under the convolutions (kernels/gemm.py, kernels/simd.py):
uint8 x int8 products summed in wrapping int32, against NumPy's int64
product reduced modulo 2**32; tiles, padding of k and of columns, rows past
a tile; and the portable build of ``vdot4`` (no AVX-512 VNNI), compiled in
a child process for a CPU without it."""

import os
import subprocess
import sys
import textwrap

import numba
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from int8sqz.kernels import gemm


def wrapped(x):
    return ((np.asarray(x, np.int64) + (1 << 31)) % (1 << 32) - (1 << 31)).astype(np.int32)


def run_gemm(a, w, rows=None):
    """gemm_u8s8 on ``a`` [m, k] uint8 and ``w`` [n, k] int8; acc[:rows, :n]."""
    m, k = a.shape
    rows = m if rows is None else rows
    wp, kp, n_tiles = gemm.pack_weights(w)
    buf = np.zeros((gemm.padded_rows(m), kp), np.uint8)
    buf[:m, :k] = a
    acc = np.full((buf.shape[0], n_tiles * gemm.NR), 12345, np.int32)
    gemm.gemm_u8s8(buf, rows, wp, acc, w.shape[0])
    return acc[:rows, :w.shape[0]]


@given(st.integers(1, 20), st.integers(1, 70), st.integers(1, 40), st.integers(0, 2**32 - 1),
       st.sampled_from(["uniform", "extremes"]))
def test_gemm_matches_int64_product(m, n, k, seed, mode):
    rng = np.random.default_rng(seed)
    if mode == "uniform":
        a = rng.integers(0, 256, (m, k)).astype(np.uint8)
        w = rng.integers(-128, 128, (n, k)).astype(np.int8)
    else:
        a = rng.choice(np.array([0, 255], np.uint8), (m, k))
        w = rng.choice(np.array([-128, 127], np.int8), (n, k))
    want = a.astype(np.int64) @ w.astype(np.int64).T
    assert np.array_equal(run_gemm(a, w), wrapped(want))


def test_rows_past_the_ones_asked_for_are_a_whole_tile():
    """``rows`` is rounded up to a tile: rows 0..rows-1 are right whatever the
    padding rows hold."""
    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, (13, 9)).astype(np.uint8)
    w = rng.integers(-128, 128, (5, 9)).astype(np.int8)
    got = run_gemm(a, w, rows=11)
    assert np.array_equal(got, (a[:11].astype(np.int64) @ w.astype(np.int64).T).astype(np.int32))


def test_accumulator_wraps_as_int32():
    """255 * -128 over 70,000 products is below INT32_MIN: the sum wraps."""
    k = 70_000
    a = np.full((1, k), 255, np.uint8)
    w = np.stack([np.full(k, -128, np.int8), np.full(k, 127, np.int8)])
    total = np.array([255 * -128 * k, 255 * 127 * k], np.int64)
    assert total[0] < -(2**31) and total[1] > 2**31 - 1
    assert np.array_equal(run_gemm(a, w)[0], wrapped(total))


def test_pack_weights_layout():
    w = np.arange(-40, 40, dtype=np.int8).reshape(2, 40)[:, :37]
    wp, kp, n_tiles = gemm.pack_weights(w)
    assert (kp, n_tiles) == (40, 1)
    blocks = wp.reshape(n_tiles, kp // 4, gemm.NR, 4)
    for n in range(gemm.NR):
        for k in range(kp):
            want = w[n, k] if n < 2 and k < 37 else 0
            assert blocks[0, k // 4, n, k % 4] == want


_CHILD = textwrap.dedent("""
    import numpy as np
    from int8sqz.kernels import gemm
    from int8sqz.kernels.simd import target_has_vnni
    assert not target_has_vnni()
    rng = np.random.default_rng(7)
    for m, n, k in [(8, 32, 4), (19, 45, 37), (3, 70, 150)]:
        for lo, hi in [(0, 256), (255, 256)]:
            a = rng.integers(lo, hi, (m, k)).astype(np.uint8)
            w = rng.integers(-128, 128, (n, k)).astype(np.int8)
            if lo == 255:
                w[:] = -128
            wp, kp, nt = gemm.pack_weights(w)
            buf = np.zeros((gemm.padded_rows(m), kp), np.uint8)
            buf[:m, :k] = a
            acc = np.zeros((buf.shape[0], nt * gemm.NR), np.int32)
            gemm.gemm_u8s8(buf, m, wp, acc, n)
            want = a.astype(np.int64) @ w.astype(np.int64).T
            assert np.array_equal(acc[:m, :n], want.astype(np.int32)), (m, n, k)
    # the vector requantization, compiled for the same CPU
    from int8sqz.kernels import conv as kconv
    from int8sqz.kernels import fixedpoint as fp
    n = 37
    acc = rng.integers(-2**31, 2**31, (1, 48)).astype(np.int32)
    bias = rng.integers(-2**31, 2**31, n + 16).astype(np.int32)
    mult = rng.integers(0, 2**31, n + 16).astype(np.int32)
    shift = rng.integers(-31, 31, n + 16)
    params = kconv.ConvParams(*[0] * len(kconv.ConvParams._fields))._replace(
        output_offset=5, act_min=-100, act_max=90)
    out = np.zeros((1, 1, 1, n), np.int8)
    kconv._requantize_vec(acc, 0, bias, mult, np.maximum(shift, 0).astype(np.int32),
                          np.maximum(-shift, 0).astype(np.int32), params, out, 0, 0, 0, n)
    for j in range(n):
        v = fp.multiply_by_quantized_multiplier(fp.wrap_int32(int(acc[0, j]) + int(bias[j])),
                                                int(mult[j]), int(shift[j]))
        assert out[0, 0, 0, j] == min(max(v + 5, -100), 90), j
    print("portable ok")
""")


@pytest.mark.skipif(not sys.platform.startswith("linux") or os.uname().machine != "x86_64",
                    reason="the CPU names below are x86-64 ones")
@pytest.mark.skipif(numba.config.DISABLE_JIT, reason="nothing is compiled")
def test_portable_build_without_vnni(tmp_path):
    """Compiled for a Haswell (AVX2, no AVX-512), vdot4 is the portable IR; the
    products are the same, and so is the vector requantization."""
    env = dict(os.environ, NUMBA_CPU_NAME="haswell",
               NUMBA_CPU_FEATURES="+avx,+avx2,+fma,+sse4.2,+popcnt,+bmi,+bmi2,+f16c",
               NUMBA_CACHE_DIR=str(tmp_path))
    # outside the source tree, so that the installed package is the one imported
    r = subprocess.run([sys.executable, "-c", _CHILD], env=env, cwd=tmp_path,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "portable ok" in r.stdout
