"""int8sqz.fusion: the fusions the default interpreter chooses compute what
the operators one by one compute (TFLite's reference kernels, BUILTIN_REF),
every tensor a fusion skips is computed when asked for, and nothing is fused
where the operators must run one by one."""

import functools

import numpy as np
import pytest

from int8sqz import Interpreter, InterpreterError, load_model
from int8sqz.fusion import FusedNode
from int8sqz.testing.networks import SqueezeNetSpec, squeezenet
from int8sqz.testing.reference import run_reference

SPECS = [
    # the seeds' topology (unfolded batch norm after the squeeze layers)
    SqueezeNetSpec("1.0", height=64, width=48, num_classes=5, batch_norm=True, seed=31),
    # conv1 3x3 stride 2 before its pool, bypass ADDs
    SqueezeNetSpec("1.1", height=40, width=56, num_classes=3, batch_norm=True, bypass=True,
                   input_type="INT8", output_type="INT8", seed=32),
]


@functools.lru_cache(maxsize=None)
def _model(spec):
    return squeezenet(spec)


def _interpreter(content, **kw):
    it = Interpreter(model_content=content, **kw)
    it.allocate_tensors()
    return it


def _fused(it):
    return [s for s in it._program.steps if isinstance(s, FusedNode)]


def _run(it, x):
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_fused_network_equals_the_reference(spec):
    """Every operator output of the fused run against BUILTIN_REF: first the
    tensors invoke() writes (the fused results themselves), then the ones a
    fusion skips, computed on demand."""
    content = _model(spec)
    model = load_model(content)
    it = _interpreter(content)
    fused = _fused(it)
    rules = " ".join(f.rule for f in fused)
    assert "per-channel table" in rules and "MAX_POOL_2D in the row blocks" in rules, rules
    hidden = it._program.hidden
    assert hidden, "no tensor skipped: nothing was fused"
    rng = np.random.default_rng(spec.seed)
    for _ in range(2):
        x = spec.input_array(rng)
        _run(it, x)
        want = run_reference(content, [x], all_tensors=True)
        made = [t for op in model.operators for t in op.outputs]
        for t in sorted(made, key=lambda t: t in hidden):
            got = it.get_tensor(t)
            assert got.dtype == want[t].dtype and got.shape == want[t].shape
            assert np.array_equal(got, want[t]), (
                f"{spec.name}: tensor {model.tensor_label(t)} "
                f"({'skipped by a fusion' if t in hidden else 'written by invoke()'}) differs")


def test_fusions_only_in_the_default_mode(monkeypatch):
    content = _model(SPECS[0])
    assert _fused(_interpreter(content))
    assert not _fused(_interpreter(content, experimental_preserve_all_tensors=True))
    assert not _interpreter(content, arena="optimized")._program.hidden
    for numerics in ("builtin", "xnnpack"):
        it = _interpreter(content, numerics=numerics)
        assert not _fused(it) and not it._program.skip, numerics
    monkeypatch.setenv("INT8SQZ_DEBUG", "1")
    it = _interpreter(content)
    assert it._debug and not it._program.hidden


def test_hidden_tensor_after_the_input_changes():
    """A skipped tensor read after new inputs are set (not yet invoked) is the
    last invoke()'s value, as TFLite keeps it; after the next invoke(), the
    new one."""
    spec = SPECS[0]
    content = _model(spec)
    it = _interpreter(content)
    keep = _interpreter(content, experimental_preserve_all_tensors=True)
    t = min(it._program.hidden)
    rng = np.random.default_rng(5)
    x1, x2 = spec.input_array(rng), spec.input_array(rng)
    _run(it, x1)
    _run(keep, x1)
    it.set_tensor(it.get_input_details()[0]["index"], x2)
    assert np.array_equal(it.get_tensor(t), keep.get_tensor(t))
    it.invoke()
    _run(keep, x2)
    assert np.array_equal(it.get_tensor(t), keep.get_tensor(t))
    # read twice: computed once, the same values
    assert np.array_equal(it.tensor(t)(), keep.get_tensor(t))


def test_hidden_tensor_refused_once_the_fusion_inputs_are_overwritten():
    """A tensor a fusion read being set after invoke(): its skipped tensors
    can no longer be computed from what the last invoke() saw, and reading
    them is refused (naming the tensor), until the next invoke()."""
    spec = SPECS[0]
    content = _model(spec)
    it = _interpreter(content)
    fusion = next(f for f in _fused(it) if f.hidden and f.reads)
    read = min(fusion.reads)
    t = min(fusion.hidden)
    _run(it, spec.input_array(np.random.default_rng(6)))
    it.set_tensor(read, np.zeros_like(it.get_tensor(read)))
    with pytest.raises(InterpreterError, match=f"tensor {t} .*not available"):
        it.get_tensor(t)
    it.invoke()
    it.get_tensor(t)


def test_batch_on_two_threads_fused_and_on_demand():
    """A batch of 3 on 2 threads (each thread runs its own fused program on
    one image at a time): the outputs, and a skipped tensor computed on
    demand over the whole batch, equal the operators one by one."""
    spec = SPECS[1]
    content = _model(spec)
    rng = np.random.default_rng(7)
    x = np.concatenate([spec.input_array(rng) for _ in range(3)])
    its = []
    for kw in ({"num_threads": 2}, {"experimental_preserve_all_tensors": True}):
        it = Interpreter(model_content=content, **kw)
        inp = it.get_input_details()[0]["index"]
        it.resize_tensor_input(inp, list(x.shape))
        it.allocate_tensors()
        _run(it, x)
        its.append(it)
    fused, keep = its
    assert fused._slices is not None and _fused(fused)
    out = fused.get_output_details()[0]["index"]
    assert np.array_equal(fused.get_tensor(out), keep.get_tensor(out))
    for t in sorted(fused._program.hidden):
        assert np.array_equal(fused.get_tensor(t), keep.get_tensor(t)), t
    fused.close()
