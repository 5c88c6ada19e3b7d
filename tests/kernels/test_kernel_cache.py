"""numba's on-disk cache of the kernels: every kernel is keyed with the
whole kernels package (a change in any module recompiles them all, as a
kernel inlines the ones it calls from other files), dates do not matter,
and a second process loads the machine code instead of compiling."""

import os
import shutil
import subprocess
import sys

from conftest import ROOT

from int8sqz.kernels import _jit, concat, conv, elementwise, fixedpoint, gemm, pool


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


def test_second_process_loads_the_cache(tmp_path):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    # outside the source tree, so that the installed package is the one imported
    runs = [subprocess.run([sys.executable, "-c", _CHILD], env=env, cwd=tmp_path, capture_output=True,
                           text=True, timeout=120) for _ in range(2)]
    for r in runs:
        assert r.returncode == 0, r.stderr
    assert runs[0].stdout.split() == ["0", "1"]  # compiled
    assert runs[1].stdout.split() == ["1", "0"]  # loaded
