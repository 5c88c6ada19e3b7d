"""The numerics oracles chained over the real models, against ai-edge-litert's
optimized builtin kernels and its default interpreter (XNNPACK).

Two checks per model, input and mode: every operator, fed the runtime's own
input tensors (read with experimental_preserve_all_tensors; the XNNPACK
delegate then makes one partition per operator, so its intermediates are
readable), gives the runtime's output tensor; and the oracles chained from
the graph input alone give the runtime's final outputs (of an interpreter
without preserved tensors: the delegate's whole-graph partitions).

By default two models and one random input each. INT8SQZ_NUMERICS_MODELS=all
(or the deep hypothesis profile) takes every seed and zoo model, several
random inputs (INT8SQZ_NUMERICS_INPUTS, default 5) with 1 and 2 threads, and
every photo in ../shared/images through its seed model (final outputs only);
INT8SQZ_NUMERICS_COUNTS names a JSON file for the counts."""

import collections
import json
import os

import numpy as np
import pytest
from conftest import IMAGES_DIR, MODELS_DIR, SEED_MODELS

from int8sqz.image import input_spec, preprocess
from int8sqz.model import load_model
from int8sqz.testing.runtimes import run_runtime
from naive import numerics_graph as graph

ZOO = {p.stem: p for p in sorted((MODELS_DIR / "zoo").glob("*.tflite"))}
ALL = {**{f"squeezenet_{k}": v for k, v in SEED_MODELS.items()}, **ZOO}
FULL = (os.environ.get("INT8SQZ_NUMERICS_MODELS") == "all"
        or os.environ.get("INT8SQZ_HYPOTHESIS_PROFILE") == "deep")
DEFAULT = ("squeezenet_flowers", "mobilenet_v2_0.35_128_int8_flowers")
MODES = ("builtin", "xnnpack")
PHOTOS = {"squeezenet_flowers": "flowers", "squeezenet_plant-village": "plant_village"}

#: (model, mode, threads, what) -> [equal, total]; what: "operators", "outputs",
#: "photo outputs", "outputs with preserved tensors"
COUNTS = collections.defaultdict(lambda: [0, 0])


def random_input(model, seed):
    t = model.tensors[model.inputs[0]]
    rng = np.random.default_rng(seed)
    if t.type_name == "FLOAT32":
        return rng.normal(0.0, 1.0, t.shape).astype(np.float32)
    lo, hi = (-128, 127) if t.type_name == "INT8" else (0, 255)
    return rng.integers(lo, hi, t.shape, endpoint=True).astype(t.dtype)


def _count(key, equal):
    COUNTS[key][0] += int(equal)
    COUNTS[key][1] += 1


def _same(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)


def check_model(name, path, mode, x, threads=1, per_operator=True):
    """Both checks; returns the list of mismatches (empty when all equal)."""
    model = load_model(path)
    bad = []
    want = run_runtime(path, [x], mode, num_threads=threads)
    if per_operator:
        tensors = run_runtime(path, [x], mode, num_threads=threads, all_tensors=True)
        for k, (o, w) in enumerate(zip(model.outputs, want)):
            ok = _same(tensors[o], w)
            _count((name, mode, threads, "outputs with preserved tensors"), ok)
            if not ok:
                bad.append(f"output {k} with preserved tensors")
        ours = graph.run_model(mode, model, [x], given=tensors, num_threads=threads)
        for op in model.operators:
            ok = all(_same(ours[o], tensors[o]) for o in op.outputs)
            _count((name, mode, threads, "operators"), ok)
            if not ok:
                bad.append(op.describe())
    chained = graph.run_model(mode, model, [x], num_threads=threads)
    for k, (o, w) in enumerate(zip(model.outputs, want)):
        ok = _same(chained[o], w)
        _count((name, mode, threads, "outputs"), ok)
        if not ok:
            bad.append(f"chained output {k}")
    return bad


@pytest.fixture(autouse=True, scope="module")
def _report(pytestconfig):
    yield
    path = os.environ.get("INT8SQZ_NUMERICS_COUNTS")
    if path and COUNTS:
        rows = [dict(model=m, mode=mode, threads=t, what=w, equal=e, total=n)
                for (m, mode, t, w), (e, n) in sorted(COUNTS.items())]
        with open(path, "w") as f:
            json.dump(rows, f, indent=1)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", sorted(ALL))
def test_oracles_equal_the_runtime_on_real_models(name, mode):
    if not FULL and name not in DEFAULT:
        pytest.skip("set INT8SQZ_NUMERICS_MODELS=all for every model")
    path = ALL[name]
    model = load_model(path)
    inputs = int(os.environ.get("INT8SQZ_NUMERICS_INPUTS", "5")) if FULL else 1
    bad = []
    for seed in range(inputs):
        x = random_input(model, seed)
        for threads in ((1, 2) if FULL else (1,)):
            bad += [f"input {seed}, {threads} thread(s): {b}"
                    for b in check_model(name, path, mode, x, threads)]
    if FULL and name in PHOTOS:
        spec = input_spec(model)
        for photo in sorted((IMAGES_DIR / PHOTOS[name]).rglob("*.jpg")):
            x = preprocess(photo, spec)
            want = run_runtime(path, [x], mode)
            got = graph.run_model(mode, model, [x])
            for k, (o, w) in enumerate(zip(model.outputs, want)):
                ok = _same(got[o], w)
                _count((name, mode, 1, "photo outputs"), ok)
                if not ok:
                    bad.append(f"{photo.name}: output {k}")
    assert not bad, f"{name} ({mode}): {len(bad)} mismatches: {bad[:10]}"
