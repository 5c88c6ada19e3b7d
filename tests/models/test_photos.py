"""`int8sqz run` on every real photo in ../shared/images: one process
classifies all of them (in batches), and each top-1 class and probability
must be those of TFLite's reference kernels on the same pixels."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import IMAGES_DIR, SEED_MODELS

from int8sqz.image import input_spec, preprocess
from int8sqz.labels import labels_path_for, read_labels
from int8sqz.model import load_model
from int8sqz.testing.reference import reference_interpreter

SCRIPT = Path(sys.executable).with_name("int8sqz")


@pytest.mark.parametrize("key, folder", [("flowers", "flowers"), ("plant-village", "plant_village")])
def test_every_photo_gets_the_reference_top1(key, folder, tmp_path):
    model_path = SEED_MODELS[key]
    photos = sorted((IMAGES_DIR / folder).rglob("*.jpg"))
    assert len(photos) >= 96
    p = subprocess.run([str(SCRIPT), "run", str(model_path), *map(str, photos), "--json",
                        "--top-k", "1"], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    results = [json.loads(line) for line in p.stdout.splitlines()]
    assert [r["file"] for r in results] == [str(x) for x in photos]

    model = load_model(model_path)
    spec = input_spec(model)
    labels = read_labels(labels_path_for(model_path))
    q = model.tensors[model.outputs[0]].quantization
    ref = reference_interpreter(model_path, preserve_all_tensors=False)
    index_in = ref.get_input_details()[0]["index"]
    index_out = ref.get_output_details()[0]["index"]
    for photo, result in zip(photos, results):
        ref.set_tensor(index_in, preprocess(photo, spec))
        ref.invoke()
        out = ref.get_tensor(index_out).reshape(-1)
        want = int(np.argmax(out))  # ties go to the lower index, as in int8sqz
        (top,) = result["top_k"]
        assert top["index"] == want, f"{photo}: top-1 {top['index']}, reference {want} ({out})"
        assert top["label"] == labels[want]
        # the printed probability is the reference's value exactly: a float32
        # output read back from its shortest decimal, or scale * (q - zero point)
        if out.dtype == np.float32:
            assert np.float32(top["probability"]) == out[want], photo
        else:
            assert top["probability"] == float(q.scales[0]) * (int(out[want]) - int(q.zero_points[0]))
