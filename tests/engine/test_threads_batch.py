"""Batches and threads: ``resize_tensor_input`` to N images and
``Interpreter(num_threads=...)`` give, for every tensor, exactly what each
image gives alone on one thread (and what TFLite's reference kernels give
for the batch); models whose operators mix images run in one piece; a
failing operator fails as on one thread; ``invoke()`` allocates no arrays."""

import tracemalloc

import numpy as np
import pytest
from conftest import IMAGES_DIR

from int8sqz import ComputeError, Interpreter, InterpreterError
from int8sqz import parallel
from int8sqz.image import input_spec, preprocess
from int8sqz.testing.reference import reference_interpreter
from int8sqz.testing.writer import GraphBuilder

THREADS = (1, 2, 3)


def _inputs(spec, n, seed):
    """n inputs: photos when there are some, then random pixels."""
    photos = sorted(IMAGES_DIR.rglob("*.jpg"))[:2]
    values = [preprocess(str(p), spec) for p in photos]
    rng = np.random.default_rng(seed)
    shape = values[0].shape if values else None
    while len(values) < n:
        values.append(rng.integers(0, 256, shape).astype(values[0].dtype))
    return np.concatenate(values[:n])


def _activations(it):
    return parallel.activations(it.model)


def _one_at_a_time(path, x):
    """Every activation of every image, run alone on one thread."""
    it = Interpreter(model_path=str(path))
    it.allocate_tensors()
    inp = it.get_input_details()[0]["index"]
    per_image = []
    for b in range(x.shape[0]):
        it.set_tensor(inp, x[b:b + 1])
        it.invoke()
        per_image.append({i: it.get_tensor(i) for i in _activations(it)})
    return {i: np.concatenate([p[i] for p in per_image]) for i in per_image[0]}


def _batched(path, x, threads, **kw):
    it = Interpreter(model_path=str(path), num_threads=threads, **kw)
    inp = it.get_input_details()[0]["index"]
    it.resize_tensor_input(inp, x.shape)
    it.allocate_tensors()
    it.set_tensor(inp, x)
    it.invoke()
    return it


@pytest.mark.parametrize("key", ["flowers", "food-101", "plant-village"])
def test_every_thread_count_gives_every_tensor_of_one_image_at_a_time(key, seed_models):
    path = seed_models[key]
    x = _inputs(input_spec(Interpreter(model_path=str(path)).model), 5, seed=len(key))
    want = _one_at_a_time(path, x)
    for threads in THREADS:
        it = _batched(path, x, threads)
        for i, value in want.items():
            got = it.get_tensor(i)
            assert got.shape == value.shape and np.array_equal(got, value), (threads, i)
        # twice: the second invoke reuses the slices and the scratch buffers
        it.set_tensor(it.get_input_details()[0]["index"], x[::-1].copy())
        it.invoke()
        out = it.get_output_details()[0]["index"]
        assert np.array_equal(it.get_tensor(out), want[out][::-1]), threads


def test_batch_matches_reference_kernels(seed_models):
    path = seed_models["plant-village"]
    x = _inputs(input_spec(Interpreter(model_path=str(path)).model), 4, seed=3)
    ref = reference_interpreter(path.read_bytes())
    inp = ref.get_input_details()[0]["index"]
    ref.resize_tensor_input(inp, list(x.shape))
    ref.allocate_tensors()
    ref.set_tensor(inp, x)
    ref.invoke()
    want = ref.get_tensor(ref.get_output_details()[0]["index"])
    it = _batched(path, x, 2)
    assert np.array_equal(it.get_tensor(it.get_output_details()[0]["index"]), want)


def test_batch_in_the_arena_runs_in_one_piece(seed_models):
    path = seed_models["flowers"]
    x = _inputs(input_spec(Interpreter(model_path=str(path)).model), 3, seed=5)
    want = _one_at_a_time(path, x)
    it = _batched(path, x, 2, arena="optimized")
    out = it.get_output_details()[0]["index"]
    assert np.array_equal(it.get_tensor(out), want[out])


def _mixing_model(kind):
    """Two images whose results depend on each other: CONCATENATION along
    the batch axis, or MEAN over it."""
    g = GraphBuilder()
    x = g.input("x", (2, 3, 4), "INT8", scale=0.5, zero_point=1)
    if kind == "concat":
        y = g.tensor("y", (4, 3, 4), "INT8", scale=0.5, zero_point=1)
        g.operator("CONCATENATION", [x, x], y, axis=0)
    else:
        axes = g.constant("axes", np.array([0], np.int32))
        y = g.tensor("y", (3, 4), "INT8", scale=0.5, zero_point=1)
        g.operator("MEAN", [x, axes], y, keep_dims=False)
    g.output(y)
    return g.build()


@pytest.mark.parametrize("kind", ["concat", "mean"])
def test_operators_that_mix_images_run_in_one_piece(kind):
    content = _mixing_model(kind)
    x = np.random.default_rng(1).integers(-128, 128, (2, 3, 4)).astype(np.int8)
    ref = reference_interpreter(content)
    ref.allocate_tensors()
    ref.set_tensor(ref.get_input_details()[0]["index"], x)
    ref.invoke()
    want = ref.get_tensor(ref.get_output_details()[0]["index"])
    it = Interpreter(model_content=content, num_threads=2)
    assert parallel.batch_size(it.model, [t.shape for t in it.model.tensors]) is None
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    assert np.array_equal(it.get_tensor(it.get_output_details()[0]["index"]), want)


def test_a_failing_operator_fails_as_on_one_thread():
    """SOFTMAX refuses rows TFLite's reference aborts on (600 equal logits):
    with the rows spread over threads the error still counts every one."""
    g = GraphBuilder()
    x = g.input("x", (4, 600), "INT8", scale=0.06, zero_point=0)
    y = g.tensor("y", (4, 600), "INT8", scale=1 / 256, zero_point=-128)
    g.operator("SOFTMAX", [x], y)
    g.output(y)
    content = g.build()
    x = np.full((4, 600), -128, np.int8)
    x[:, 0] = 127
    x[1] = 0
    x[3] = 0
    messages = []
    for threads in THREADS:
        it = Interpreter(model_content=content, num_threads=threads)
        it.allocate_tensors()
        it.set_tensor(it.get_input_details()[0]["index"], x)
        with pytest.raises(ComputeError) as info:
            it.invoke()
        messages.append(str(info.value))
    assert "2 row(s)" in messages[0]
    assert messages == [messages[0]] * len(THREADS)


@pytest.mark.parametrize("value", [0, -2, 2.0, "2", True])
def test_num_threads_must_be_positive_or_minus_one(value, seed_models):
    with pytest.raises(InterpreterError, match="num_threads"):
        Interpreter(model_path=str(seed_models["flowers"]), num_threads=value)


@pytest.fixture(scope="module")
def one_thread(seed_models):
    """A batch of 3 on the flowers model and every activation on one thread."""
    path = seed_models["flowers"]
    x = _inputs(input_spec(Interpreter(model_path=str(path)).model), 3, seed=7)
    it = _batched(path, x, 1)
    return path, x, {i: it.get_tensor(i) for i in _activations(it)}


@pytest.mark.parametrize("value", [None, -1, 1, 4])
def test_num_threads_accepted(value, one_thread):
    # None is TFLite's default (one thread), -1 one per CPU; 4 threads for 3
    # images leave one idle: every activation is what one thread computes
    path, x, want = one_thread
    it = _batched(path, x, value)
    for i, expected in want.items():
        assert np.array_equal(it.get_tensor(i), expected), (value, i)


@pytest.mark.parametrize("threads,batch", [(1, 1), (1, 3), (2, 3)])
def test_invoke_allocates_no_arrays(threads, batch, seed_models):
    """Once allocated (and run once), invoke() creates no array: what it
    allocates is a few Python objects (and the futures of the threads)."""
    path = seed_models["flowers"]
    x = _inputs(input_spec(Interpreter(model_path=str(path)).model), batch, seed=9)
    it = _batched(path, x, threads)
    activation_bytes = sum(it.get_tensor(i).nbytes for i in _activations(it))
    tracemalloc.start()
    try:
        it.invoke()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert activation_bytes > 1_000_000
    assert peak < 16_384, f"invoke() allocated up to {peak} bytes"
