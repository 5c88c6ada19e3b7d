import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("INT8SQZ_SHARED", ROOT.parent / "shared"))
MODELS_DIR = SHARED / "models"
IMAGES_DIR = SHARED / "images"
GOLDEN_DIR = ROOT / "golden"
SEED_MODELS = {
    "flowers": MODELS_DIR / "squeezenet_v1.0_128_int8_flowers.tflite",
    "food-101": MODELS_DIR / "squeezenet_v1.0_128_int8_food-101.tflite",
    "plant-village": MODELS_DIR / "squeezenet_v1.0_128_int8_plant-village.tflite",
}

# The default profile keeps the suite within the CI budget; "deep" runs 10x more.
settings.register_profile(
    "default", max_examples=50, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "deep", max_examples=500, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("INT8SQZ_HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(scope="session")
def seed_models():
    missing = [str(p) for p in SEED_MODELS.values() if not p.is_file()]
    if missing:
        raise FileNotFoundError(
            f"the seed models must be in {MODELS_DIR} (../shared beside the repo); missing: {missing}"
        )
    return dict(SEED_MODELS)


@pytest.fixture(scope="session")
def warm_kernels(tmp_path_factory):
    """Compile (or load) the kernels the command's tests use, once, before
    they run: the command says on stderr when it compiles for more than a
    second (the first run after an install), which tests that require an
    empty stderr must not see. A fresh CI clone starts with an empty cache."""
    import subprocess
    import sys

    script = Path(sys.executable).with_name("int8sqz")
    photos = sorted((IMAGES_DIR / "flowers" / "daisy").glob("*.jpg"))[:2]
    cwd = tmp_path_factory.mktemp("warm")
    for model in SEED_MODELS.values():
        p = subprocess.run([str(script), "run", str(model), *map(str, photos)], cwd=cwd,
                           capture_output=True, text=True, timeout=900)
        assert p.returncode == 0, f"warming the kernels on {model.name} failed: {p.stderr}"


def pytest_collection_modifyitems(config, items):
    """The command's tests (tests/cli/, and tests/models/test_photos.py) run
    after :func:`warm_kernels`."""
    for item in items:
        path = Path(str(item.fspath))
        if path.parent.name == "cli" or path.name == "test_photos.py":
            item.add_marker(pytest.mark.usefixtures("warm_kernels"))


_MAKE_GOLDEN = []


def load_make_golden():
    """tools/make_golden.py as a module (its model lists, input recipes and
    specs), loaded once."""
    if not _MAKE_GOLDEN:
        import importlib.util

        spec = importlib.util.spec_from_file_location("make_golden",
                                                      ROOT / "tools" / "make_golden.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        _MAKE_GOLDEN.append(mod)
    return _MAKE_GOLDEN[0]


def golden_doc(key: str) -> dict:
    """golden/<key>.json (golden/zoo/<key>.json for a zoo model)."""
    import json

    name = load_make_golden().golden_name(key)
    return json.loads((GOLDEN_DIR / f"{name}.json").read_text(encoding="utf-8"))


def golden_input(key: str, doc: dict, rec: dict, spec):
    """The exact input the reference saw for record ``rec`` of ``doc``:
    photos from their stored pixels, synthetic inputs rebuilt from their
    recipe; it must have the recorded SHA-256."""
    import hashlib

    import numpy as np

    if rec["recipe"]["kind"] == "photo":
        with np.load(GOLDEN_DIR / doc["photo_inputs"]) as z:
            value = z[rec["id"]]
    else:
        value = load_make_golden().make_input(rec["recipe"], spec, SHARED)
    digest = hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest()
    assert digest == rec["input_sha256"], (
        f"{key} {rec['id']}: the input from {rec['recipe']} does not have the recorded "
        f"SHA-256: the generator or golden/ changed")
    return value
