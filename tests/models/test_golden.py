"""int8sqz against the golden data of TFLite's reference kernels (golden/,
written by tools/make_golden.py) for the three seed models and the nine zoo
models: for every recorded input, every operator output must have the
recorded SHA-256 and every graph output the recorded SHA-256 (and values,
where recorded); for the inputs with full intermediates, every operator
output is compared array by array."""

import hashlib
import json

import numpy as np
import pytest
from conftest import (
    GOLDEN_DIR, MODELS_DIR, SEED_MODELS, SHARED, golden_input, load_make_golden,
)

from int8sqz import Interpreter


make_golden = load_make_golden()


#: every model with golden data: key -> its file
MODELS = {**{k: MODELS_DIR / v for k, v in make_golden.ZOO.items()}, **SEED_MODELS}


def _doc(key):
    path = GOLDEN_DIR / f"{make_golden.golden_name(key)}.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


DOCS = {key: _doc(key) for key in MODELS}
CASES = [
    pytest.param(key, rec["id"], id=f"{key}-{rec['id']}")
    for key, doc in DOCS.items() if doc is not None
    for rec in doc["inputs"]
]


def _sha(a):
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def test_golden_files_exist_and_cover_the_plan():
    for key in MODELS:
        doc = DOCS[key]
        assert doc is not None, f"golden/{key}.json is missing: run tools/make_golden.py"
        assert (MODELS_DIR / doc["model"]["file"]) == MODELS[key]
        assert len(doc["inputs"]) >= (30 if key in SEED_MODELS else 12)
        photos = sum(r["recipe"]["kind"] == "photo" for r in doc["inputs"])
        want = make_golden.ZOO_PHOTOS if key in make_golden.ZOO else make_golden.PHOTOS_PER_MODEL
        assert photos >= (want if key in make_golden.PHOTO_DIRS else 0)
        assert sum(r["full"] for r in doc["inputs"]) >= 1
        n_out = sum(len(op["outputs"]) for op in doc["operators"])
        assert all(len(r["digests"]) == n_out for r in doc["inputs"])


_ENGINES = {}


def _engine(key):
    """(interpreter, input spec, golden doc) for a seed model, once per session;
    fails if the model file is not the one the golden data were made from."""
    if key not in _ENGINES:
        doc = DOCS[key]
        path = MODELS[key]
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != doc["model"]["sha256"]:
            pytest.fail(
                f"{path}: SHA-256 {digest}, but golden/{key}.json was made from a file with "
                f"SHA-256 {doc['model']['sha256']}: the model changed; the golden data do "
                f"not apply (regenerate them with tools/make_golden.py if the change is wanted)"
            )
        it = Interpreter(model_path=str(path), experimental_preserve_all_tensors=True)
        it.allocate_tensors()
        _ENGINES[key] = (it, make_golden.input_spec_of(it.model), doc)
    return _ENGINES[key]


@pytest.mark.parametrize("key", sorted(MODELS))
def test_model_file_is_the_one_recorded(key, seed_models):
    assert DOCS[key] is not None, f"golden/{key}.json is missing"
    digest = hashlib.sha256(MODELS[key].read_bytes()).hexdigest()
    assert digest == DOCS[key]["model"]["sha256"], (
        f"{MODELS[key]}: SHA-256 {digest}, expected {DOCS[key]['model']['sha256']} "
        f"(recorded in golden/{key}.json)"
    )


def _full_arrays(key, input_id):
    with np.load(GOLDEN_DIR / DOCS[key]["full_intermediates"]) as z:
        prefix = f"{input_id}__t"
        return {int(name[len(prefix):]): z[name] for name in z.files if name.startswith(prefix)}


def _first_difference(got, want):
    diff = np.argwhere(got != want)
    pos = tuple(int(v) for v in diff[0])
    return (f"{len(diff)} of {want.size} elements differ, the first at {list(pos)}: "
            f"got {got[pos]}, expected {want[pos]}")


def _golden_value(key, rec, spec):
    """The exact input the reference saw (conftest.golden_input)."""
    return golden_input(key, DOCS[key], rec, spec)


PHOTO_CASES = [c for c in CASES
               if next(r for r in DOCS[c.values[0]]["inputs"] if r["id"] == c.values[1])
               ["recipe"]["kind"] == "photo"]


@pytest.mark.parametrize("key, input_id", PHOTO_CASES)
def test_photo_preprocessing_gives_the_golden_pixels(key, input_id, seed_models):
    """int8sqz.image turns each photo into the pixels the golden data hold. The
    JPEG decoder belongs to Pillow: a different Pillow may decode differently,
    which this test reports as such (the engine is checked on the stored pixels
    whatever the decoder, in test_golden_input)."""
    _, spec, doc = _engine(key)
    rec = next(r for r in doc["inputs"] if r["id"] == input_id)
    value = make_golden.make_input(rec["recipe"], spec, SHARED)
    if _sha(value) != rec["input_sha256"]:
        import PIL

        recorded = doc["versions"]["pillow"]
        if PIL.__version__ != recorded:
            pytest.skip(f"Pillow {PIL.__version__} decodes {rec['recipe']['path']} differently "
                        f"from Pillow {recorded}, which made the golden data")
        pytest.fail(f"{key} {input_id}: preprocessing {rec['recipe']['path']} no longer gives "
                    f"the recorded pixels: int8sqz.image changed")


@pytest.mark.parametrize("key, input_id", CASES)
def test_golden_input(key, input_id, seed_models):
    it, spec, doc = _engine(key)
    rec = next(r for r in doc["inputs"] if r["id"] == input_id)
    value = _golden_value(key, rec, spec)
    it.set_tensor(doc["input"]["tensor"], value)
    it.invoke()

    full = _full_arrays(key, input_id) if rec["full"] else {}
    k = 0
    for op in doc["operators"]:
        for o in op["outputs"]:
            want_sha = rec["digests"][k]
            k += 1
            got = it.get_tensor(o["tensor"])
            where = (f"{key} {input_id}: operator {op['index']} ({op['name']}) output tensor "
                     f"{o['tensor']} '{o['name']}'")
            assert (got.dtype.name, list(got.shape)) == (o["dtype"], o["shape"]), (
                f"{where}: got {got.dtype.name}{list(got.shape)}, "
                f"expected {o['dtype']}{o['shape']}"
            )
            if o["tensor"] in full:
                want = full[o["tensor"]]
                if not np.array_equal(got, want):
                    pytest.fail(f"{where} is the first operator output that differs from the "
                                f"reference: {_first_difference(got, want)}")
            if _sha(got) != want_sha:
                pytest.fail(f"{where} is the first operator output that differs from the "
                            f"reference (SHA-256 {_sha(got)}, expected {want_sha})")
    if rec["full"]:
        assert len(full) == k, f"{key} {input_id}: {len(full)} full arrays, expected {k}"
    out = it.get_tensor(doc["output"]["tensor"])
    assert _sha(out) == rec["output_sha256"], f"{key} {input_id}: output differs"
    if "output" in rec:
        want = np.array(rec["output"], dtype=doc["output"]["dtype"]).reshape(
            doc["output"]["shape"])
        assert np.array_equal(out, want), f"{key} {input_id}: output {out}, expected {want}"
    for o, want_sha in zip(doc.get("outputs", ()), rec.get("outputs_sha256", ())):
        assert _sha(it.get_tensor(o["tensor"])) == want_sha, (
            f"{key} {input_id}: graph output tensor {o['tensor']} differs")
