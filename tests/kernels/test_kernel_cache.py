"""numba's on-disk cache of the kernels: every kernel is keyed with the
whole kernels package (a change in any module recompiles them all, as a
kernel inlines the ones it calls from other files), dates do not matter,
and a second process loads the machine code instead of compiling."""

import os
import shutil
import subprocess
import sys

import numba
import pytest
from conftest import ROOT

from int8sqz.kernels import _jit, concat, conv, elementwise, fixedpoint, gemm, pool

pytestmark = pytest.mark.skipif(numba.config.DISABLE_JIT, reason="nothing is compiled")


def test_every_kernel_is_stamped_with_the_whole_package():
    stamp = _jit.package_stamp()
    for f in (conv.conv_2d, gemm.gemm_u8s8, fixedpoint.wrap_int32, pool.max_pool_2d,
              concat.rescale_uint8, elementwise.add):
        locator = f._cache._impl._locator
        assert getattr(type(locator), "_int8sqz", False), f
        assert locator.get_source_stamp() == stamp


def test_stamp_follows_the_bytes_of_every_module(tmp_path):
    copy = tmp_path / "kernels"
    shutil.copytree(ROOT / "kernels", copy, ignore=shutil.ignore_patterns("__pycache__"))
    before = _jit.package_stamp(str(copy))
    assert before == _jit.package_stamp.__wrapped__(str(ROOT / "kernels"))
    # a new date, same bytes: same stamp
    os.utime(copy / "gemm.py", (1, 1))
    assert _jit.package_stamp.__wrapped__(str(copy)) == before
    # one byte in a module that conv.py only calls: every stamp changes
    with open(copy / "simd.py", "a") as f:
        f.write("\n")
    assert _jit.package_stamp.__wrapped__(str(copy)) != before


_CHILD = """
from int8sqz.kernels import fixedpoint
assert fixedpoint.wrap_int32(2**31 + 5) == -2**31 + 5
s = fixedpoint.wrap_int32.stats
print(sum(s.cache_hits.values()), sum(s.cache_misses.values()))
"""

# kernels whose parameters are tuples made named inside (max_pool_2d) or named
# tuples (_requantize_vec: the class is part of the signature)
_CHILD_PARAMS = """
import numpy as np
from int8sqz.kernels import conv, pool
x = np.arange(9, dtype=np.int8).reshape(1, 3, 3, 1)
out = np.zeros((1, 2, 2, 1), np.int8)
pool.max_pool_2d(x, out, tuple(pool.PoolParams(1, 1, 2, 2, 0, 0, -128, 127, -128)),
                 np.zeros((2, 1), np.int32))
assert out.reshape(-1).tolist() == [4, 5, 7, 8]
zeros = np.zeros(20, np.int32)
params = conv.ConvParams(*[0] * len(conv.ConvParams._fields))._replace(act_min=-9, act_max=9)
out = np.zeros((1, 1, 1, 2), np.int8)
conv._requantize_vec(np.zeros((1, 16), np.int32), 0, zeros, zeros, zeros, zeros, params, out,
                     0, 0, 0, 2)
hits = misses = 0
for f in (pool.max_pool_2d, conv._requantize_vec):
    hits += sum(f.stats.cache_hits.values())
    misses += sum(f.stats.cache_misses.values())
print(hits, misses)
"""


@pytest.mark.parametrize("child,kernels", [(_CHILD, 1), (_CHILD_PARAMS, 2)])
def test_second_process_loads_the_cache(tmp_path, child, kernels):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    # outside the source tree, so that the installed package is the one imported
    runs = [subprocess.run([sys.executable, "-c", child], env=env, cwd=tmp_path,
                           capture_output=True, text=True, timeout=300) for _ in range(2)]
    for r in runs:
        assert r.returncode == 0, r.stderr
    assert runs[0].stdout.split() == ["0", str(kernels)]  # compiled
    assert runs[1].stdout.split() == [str(kernels), "0"]  # loaded
