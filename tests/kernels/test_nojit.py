"""The engine stepped through as plain Python: with ``NUMBA_DISABLE_JIT=1``
every kernel runs as the Python function it is written as (kernels/simd.py
binds its vector operations to NumPy ones), and every operator's output on
small generated networks (the fuzzing zoo, one model per operator and a
classifier with all of them, and a small SqueezeNet v1.1 with bypass, batch
2 on two threads) equals the compiled engine's, with NumPy's warnings
(an integer scalar overflowing, ...) as errors; in each numerics
(``Interpreter(numerics=...)``: the reference, the optimized builtin
kernels', XNNPACK's).

The kernel tests run with the JIT off too (slower: about 3 minutes for the
whole folder on 2 cores, most of it the seed models' CONV_2D nodes; numba's
cache tests and the compiled-vs-Python comparisons skip)::

    NUMBA_DISABLE_JIT=1 pytest -q tests/kernels
    NUMBA_DISABLE_JIT=1 pytest -q tests/kernels/test_conv.py -k oracle
"""

import os
import subprocess
import sys
from pathlib import Path

import numba
import numpy as np
import pytest
from fuzzing import _zoo

from int8sqz.interpreter import Interpreter
from int8sqz.kernels import conv, simd
from int8sqz.errors import UnsupportedError
from int8sqz.model import load_model
from int8sqz.ops import NUMERICS, REGISTRY
from int8sqz.testing.networks import SqueezeNetSpec, squeezenet

HERE = Path(__file__).resolve().parent
#: model name -> (batch size, threads); the others run one image on one thread
BATCH = {"squeezenet": (2, 2)}

# the child imports this module (with the JIT off) and runs _child
_CHILD = f"""
import sys
sys.path[:0] = [{str(HERE.parent)!r}, {str(HERE)!r}]
import test_nojit
test_nojit._child(sys.argv[1])
"""


def run(content, inputs, batch=1, threads=None, numerics="reference"):
    """Every operator output (name: the tensor index) after one invoke with
    ``inputs`` (name: the graph input's index); empty when ``numerics``
    does not model one of the operators."""
    try:
        it = Interpreter(model_content=content, num_threads=threads, numerics=numerics)
    except UnsupportedError:
        if numerics == "reference":
            raise
        return {}
    for i in it.model.inputs:
        if batch != 1:
            it.resize_tensor_input(i, (batch,) + it.model.tensors[i].shape[1:])
    it.allocate_tensors()
    for i in it.model.inputs:
        it.set_tensor(i, inputs[str(i)])
    it.invoke()
    return {str(o): it.get_tensor(o) for op in it.model.operators for o in op.outputs}


def _child(directory):
    """Runs every model of ``directory`` on its saved inputs, saves the outputs."""
    assert numba.config.DISABLE_JIT
    assert not hasattr(conv.conv_2d, "py_func") and simd.vdot4 is simd.py_vdot4
    for path in sorted(Path(directory).glob("*.tflite")):
        with np.load(path.with_suffix(".in.npz")) as f:
            inputs = dict(f)
        for numerics in NUMERICS:
            tensors = run(path.read_bytes(), inputs, *BATCH.get(path.stem, ()),
                          numerics=numerics)
            np.savez(path.with_suffix(f".{numerics}.out.npz"), **tensors)


def _inputs(content, batch, rng):
    it = Interpreter(model_content=content)
    out = {}
    for i in it.model.inputs:
        t = it.model.tensors[i]
        shape = (batch,) + t.shape[1:] if batch != 1 else t.shape
        if t.dtype.kind == "f":
            out[str(i)] = (rng.standard_normal(shape) * 4).astype(t.dtype)
        else:
            info = np.iinfo(t.dtype)
            out[str(i)] = rng.integers(info.min, info.max + 1, shape).astype(t.dtype)
    return out


@pytest.mark.skipif(numba.config.DISABLE_JIT,
                    reason="compares the JIT-less engine with the compiled one")
def test_engine_without_jit_equals_compiled(tmp_path):
    models = dict(_zoo())
    models["squeezenet"] = squeezenet(SqueezeNetSpec(
        version="1.1", height=32, width=32, num_classes=5, bypass=True, seed=3))
    rng = np.random.default_rng(17)
    for name, content in models.items():
        (tmp_path / f"{name}.tflite").write_bytes(content)
        np.savez(tmp_path / f"{name}.in.npz",
                 **_inputs(content, BATCH.get(name, (1,))[0], rng))

    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    r = subprocess.run([sys.executable, "-W", "error::RuntimeWarning", "-c", _CHILD,
                        str(tmp_path)], env=env, cwd=tmp_path, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]

    seen = {numerics: set() for numerics in NUMERICS}
    for name, content in models.items():
        with np.load(tmp_path / f"{name}.in.npz") as f:
            inputs = dict(f)
        for numerics in NUMERICS:
            want = run(content, inputs, *BATCH.get(name, ()), numerics=numerics)
            if want:
                seen[numerics] |= {op.name for op in load_model(content).operators}
            with np.load(tmp_path / f"{name}.{numerics}.out.npz") as f:
                got = dict(f)
            assert sorted(got) == sorted(want), (name, numerics)
            for key, value in want.items():
                same = got[key].dtype == value.dtype and np.array_equal(got[key], value)
                assert same, f"{name} ({numerics}): tensor {key} differs without the JIT"
    assert seen["reference"] == set(REGISTRY), "every operator int8sqz runs, run without the JIT"
    for numerics in NUMERICS:
        assert seen[numerics] >= {"CONV_2D", "ADD", "MUL", "MEAN", "QUANTIZE", "DEQUANTIZE",
                                  "SOFTMAX", "MAX_POOL_2D", "STRIDED_SLICE", "LOGISTIC"}, \
            f"{numerics}: the operators with their own kernels, run without the JIT"
