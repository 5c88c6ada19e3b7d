"""int8sqz against TFLite's reference kernels (ai-edge-litert, BUILTIN_REF),
live, on fresh inputs for the three seed models: every operator output is
compared array by array, the first difference names its operator."""

import numpy as np
import pytest
from conftest import IMAGES_DIR, SEED_MODELS
from hypothesis import HealthCheck, given, settings, strategies as st

from int8sqz import Interpreter
from int8sqz.image import input_spec, resize_nearest
from int8sqz.testing.reference import reference_interpreter

_CACHE = {}


def _pair(key):
    if key not in _CACHE:
        path = str(SEED_MODELS[key])
        ours = Interpreter(model_path=path, experimental_preserve_all_tensors=True)
        ours.allocate_tensors()
        _CACHE[key] = (ours, reference_interpreter(path, preserve_all_tensors=True),
                       input_spec(ours.model))
    return _CACHE[key]


def _photos():
    return sorted(p for p in IMAGES_DIR.glob("*/*/*.jpg"))


def _make_input(kind, seed, spec):
    rng = np.random.default_rng(seed)
    shape = (spec.height, spec.width, spec.channels)
    if kind == "uniform":
        px = rng.integers(0, 256, shape, dtype=np.uint8)
    elif kind == "band":  # low contrast noise around a random level
        lo = int(rng.integers(0, 240))
        px = rng.integers(lo, lo + 16, shape, dtype=np.uint8)
    else:  # a random crop of a random photo, resized (realistic statistics)
        from PIL import Image

        photos = _photos()
        with Image.open(photos[int(rng.integers(len(photos)))]) as im:
            full = np.asarray(im.convert("RGB" if spec.channels == 3 else "L"))
        if full.ndim == 2:
            full = full[:, :, None]
        h, w = full.shape[:2]
        ch, cw = int(rng.integers(h // 4, h + 1)), int(rng.integers(w // 4, w + 1))
        y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        px = resize_nearest(full[y:y + ch, x:x + cw], spec.height, spec.width)
    return np.ascontiguousarray(px.reshape(spec.shape))


@pytest.mark.parametrize("key", sorted(SEED_MODELS))
@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(["uniform", "band", "photo"]), seed=st.integers(0, 2**32 - 1))
def test_every_operator_output_equals_the_reference(key, kind, seed):
    ours, ref, spec = _pair(key)
    model = ours.model
    value = _make_input(kind, seed, spec)
    assert value.dtype == spec.dtype
    ours.set_tensor(model.inputs[0], value)
    ours.invoke()
    ref.set_tensor(model.inputs[0], value)
    ref.invoke()
    compared = 0
    for op in model.operators:
        for t in op.outputs:
            want = ref.get_tensor(t)
            got = ours.get_tensor(t)
            where = (f"{key} ({kind} input, seed {seed}): operator {op.index} ({op.name}) "
                     f"output tensor {t} '{model.tensors[t].name}'")
            assert got.dtype == want.dtype and got.shape == want.shape, (
                f"{where}: got {got.dtype}{list(got.shape)}, expected "
                f"{want.dtype}{list(want.shape)}")
            if not np.array_equal(got, want):
                diff = np.argwhere(got != want)
                pos = tuple(int(v) for v in diff[0])
                pytest.fail(f"{where} is the first operator output that differs from the "
                            f"reference: {len(diff)} of {want.size} elements, the first at "
                            f"{list(pos)}: got {got[pos]}, expected {want[pos]}")
            compared += 1
    assert compared == sum(len(op.outputs) for op in model.operators) > 0
