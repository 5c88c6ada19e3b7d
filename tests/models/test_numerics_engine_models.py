"""int8sqz's desktop numerics on the real models, against the live runtimes:
``Interpreter(numerics="builtin")`` against ai-edge-litert's optimized
builtin kernels, ``numerics="xnnpack"`` against its default interpreter.

For each of the three SqueezeNet seeds and the nine zoo models, in each
mode: seeded random inputs with 1 and 2 threads, every output equal (the
runtime's interpreter without preserved tensors: the XNNPACK delegate's
whole-graph partitions) and, for the first input, every operator's output
equal to the runtime's preserved tensor (one XNNPACK partition per operator;
measured to give the same outputs); and photos of ../shared/images through
the RGB image models, every output equal.

INT8SQZ_NUMERICS_INPUTS random inputs (default 5) and every photo of
../shared/images through every image model (about 30 s for all twelve
models in both modes); INT8SQZ_NUMERICS_COUNTS names a JSON file for the
counts. Every shared model runs in both numerics: a refusal fails."""

import collections
import json
import os

import numpy as np
import pytest
from conftest import IMAGES_DIR, MODELS_DIR, SEED_MODELS

from int8sqz import Interpreter
from int8sqz.errors import Int8sqzError
from int8sqz.image import input_spec, preprocess
from int8sqz.model import load_model
from int8sqz.testing.runtimes import runtime_interpreter

ZOO = {p.stem: p for p in sorted((MODELS_DIR / "zoo").glob("*.tflite"))}
ALL = {**{f"squeezenet_{k}": v for k, v in SEED_MODELS.items()}, **ZOO}
MODES = ("builtin", "xnnpack")
PHOTOS = sorted(IMAGES_DIR.rglob("*.jpg"))

#: (model, mode, what) -> [equal, compared]; what: "random outputs, N thread(s)",
#: "photo outputs", "operators", and "... equal to the reference" (the runtime's
#: outputs against int8sqz's reference numerics, BUILTIN_REF's integers)
COUNTS = collections.defaultdict(lambda: [0, 0])


def random_input(tensor, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if tensor.type_name == "FLOAT32":
        return rng.normal(0.0, 1.0, tensor.shape).astype(np.float32)
    info = np.iinfo(tensor.dtype)
    return rng.integers(info.min, info.max, tensor.shape, endpoint=True).astype(tensor.dtype)


def same(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


class Pair:
    """int8sqz and the runtime in one numerics and thread count, each
    loaded once."""

    def __init__(self, path, mode: str, threads: int):
        self.ours = Interpreter(model_path=path, numerics=mode, num_threads=threads)
        self.ours.allocate_tensors()
        self.theirs = runtime_interpreter(str(path), mode, num_threads=threads)
        self.reference = Interpreter(model_path=path)
        self.reference.allocate_tensors()
        self.model = self.ours.model

    def run(self, inputs) -> tuple:
        """(ours, theirs, the reference's): the outputs of each."""
        outs = []
        for it in (self.ours, self.theirs, self.reference):
            for d, x in zip(it.get_input_details(), inputs):
                it.set_tensor(d["index"], x)
            it.invoke()
            outs.append([it.get_tensor(d["index"]).copy() for d in it.get_output_details()])
        return tuple(outs)


def _count(key, equal: bool) -> None:
    COUNTS[key][0] += int(equal)
    COUNTS[key][1] += 1


def check_outputs(name, mode, pair, inputs, what) -> list:
    ours, theirs, reference = pair.run(inputs)
    bad = []
    for k, (a, b, r) in enumerate(zip(ours, theirs, reference)):
        ok = same(a, b)
        _count((name, mode, what), ok)
        _count((name, mode, f"{what} equal to the reference"), same(b, r))
        if not ok:
            bad.append(f"{what}: output {k}")
    return bad


def check_operators(name, mode, path, inputs) -> list:
    """Every operator's output against the runtime's preserved tensor;
    the first that differs is named."""
    it = Interpreter(model_path=path, numerics=mode)
    it.allocate_tensors()
    for d, x in zip(it.get_input_details(), inputs):
        it.set_tensor(d["index"], x)
    it.invoke()
    rt = runtime_interpreter(str(path), mode, preserve_all_tensors=True)
    for d, x in zip(rt.get_input_details(), inputs):
        rt.set_tensor(d["index"], x)
    rt.invoke()
    bad = []
    for op in it.model.operators:
        ok = all(same(it.get_tensor(o), rt.get_tensor(o)) for o in op.outputs)
        _count((name, mode, "operators"), ok)
        if not ok:
            bad.append(f"operator {op.describe()}")
    return bad


def image_inputs(model):
    """The input spec of a model of RGB images (the seeds and the zoo's
    image models; the audio and accelerometer models take one channel)."""
    try:
        spec = input_spec(model)
    except Int8sqzError:
        return None
    return spec if spec.channels == 3 else None


@pytest.fixture(autouse=True, scope="module")
def _report():
    yield
    path = os.environ.get("INT8SQZ_NUMERICS_COUNTS")
    if path and COUNTS:
        rows = [dict(model=m, mode=mode, what=w, equal=e, total=n)
                for (m, mode, w), (e, n) in sorted(COUNTS.items())]
        with open(path, "w") as f:
            json.dump(rows, f, indent=1)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", sorted(ALL))
def test_engine_equals_the_runtime_on_real_models(name, mode):
    path = ALL[name]
    model = load_model(path)
    inputs = int(os.environ.get("INT8SQZ_NUMERICS_INPUTS", "5"))
    bad = []
    pairs = {t: Pair(path, mode, t) for t in (1, 2)}
    for seed in range(inputs):
        x = [random_input(model.tensors[i], seed + k) for k, i in enumerate(model.inputs)]
        if seed == 0:
            bad += check_operators(name, mode, path, x)
        for t, pair in pairs.items():
            bad += [f"input {seed}: {b}"
                    for b in check_outputs(name, mode, pair, x, f"random outputs, {t} thread(s)")]
    spec = image_inputs(model)
    if spec is not None:
        for photo in PHOTOS:
            x = [preprocess(photo, spec)]
            bad += [f"{photo.name}: {b}"
                    for b in check_outputs(name, mode, pairs[1], x, "photo outputs")]
    assert not bad, f"{name} ({mode}): {len(bad)} mismatches: {bad[:10]}"
