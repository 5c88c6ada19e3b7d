"""The `int8sqz` command, run as the installed console script (and once as
`python -m int8sqz`) in a temporary directory, so that the source tree does
not shadow the installed package. Cheap cases run in-process through
`int8sqz.cli.main`. Top-1 classes are checked against TFLite's reference
kernels on the same preprocessed pixels."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import IMAGES_DIR, SEED_MODELS

from int8sqz import cli, load_model, predict
from int8sqz.image import input_spec, preprocess
from int8sqz.testing.reference import run_reference

SCRIPT = Path(sys.executable).with_name("int8sqz")
FLOWERS = SEED_MODELS["flowers"]
PLANT = SEED_MODELS["plant-village"]
ERROR_LINE = re.compile(r"^int8sqz: error: .+: .+$")


def _cmd(*args, module=False, cwd, env=None):
    exe = [sys.executable, "-m", "int8sqz"] if module else [str(SCRIPT)]
    p = subprocess.run(exe + [str(a) for a in args], cwd=cwd, capture_output=True, text=True,
                       timeout=300, env=env)
    assert "Traceback" not in p.stderr, p.stderr
    return p


def _first_photo(folder):
    return sorted((IMAGES_DIR / folder).glob("*.jpg"))[0]


def _reference(model_path, image, resize="nearest"):
    """The reference output for ``image`` preprocessed as the CLI does it."""
    spec = input_spec(load_model(model_path))
    return run_reference(str(model_path), [preprocess(image, spec, resize=resize)])[0].reshape(-1)


def _scores(model_path, out):
    """Dequantized class scores: scale * (q - zero_point)."""
    m = load_model(model_path)
    q = m.tensors[m.outputs[0]].quantization
    return [float(q.scales[0]) * (int(v) - int(q.zero_points[0])) for v in out]


def _labels(model_path):
    p = Path(str(model_path)[: -len(".tflite")] + ".labels.txt")
    return p.read_text().splitlines()


@pytest.fixture
def bad_files(tmp_path):
    good = _first_photo("flowers/daisy").read_bytes()
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "cut.jpg").write_bytes(good[: len(good) // 3])
    (tmp_path / "notes.txt").write_text("not a model\n")
    (tmp_path / "adir").mkdir()
    data = FLOWERS.read_bytes()
    (tmp_path / "truncated.tflite").write_bytes(data[: len(data) // 2])
    return tmp_path


def _unsupported_model(path):
    from int8sqz.testing.writer import GraphBuilder

    g = GraphBuilder()
    x = g.input("image", (1, 8, 8, 3), "UINT8", scale=1 / 255, zero_point=0)
    y = g.tensor("y", (1, 8, 8, 3), "UINT8", scale=1 / 255, zero_point=0)
    g.operator("TANH", [x], y)
    g.output(y)
    path.write_bytes(g.build())
    return path


# -- the real thing --------------------------------------------------------------------
def test_help_is_fast_and_compiles_nothing(tmp_path):
    cache = tmp_path / "numba-cache"
    cache.mkdir()
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache))
    p = _cmd("--help", cwd=tmp_path, env=env)
    assert p.returncode == 0 and "run" in p.stdout and "memplan" in p.stdout
    p = _cmd("run", "--help", cwd=tmp_path, env=env)
    assert p.returncode == 0 and "--top-k" in p.stdout and "--resize" in p.stdout
    # numba makes its (empty) cache folder when a kernel is decorated; a compiled
    # kernel would leave .nbi/.nbc files
    compiled = [p.name for p in cache.rglob("*") if p.is_file()]
    assert not compiled, f"int8sqz --help compiled numba kernels: {compiled}"


def test_human_output_with_discovered_labels_matches_the_reference(tmp_path):
    photos = [_first_photo(f"flowers/{c}") for c in ("daisy", "roses", "tulips")]
    p = _cmd("run", FLOWERS, *photos, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert p.stderr == ""
    lines = p.stdout.splitlines()
    assert len(lines) == 3 * 6
    labels = _labels(FLOWERS)
    for k, photo in enumerate(photos):
        block = lines[6 * k: 6 * k + 6]
        assert block[0] == str(photo)
        rows = [re.fullmatch(r"  (\d+)  (\S+) *  (\d\.\d{6})", line) for line in block[1:]]
        assert all(rows), block
        assert len({len(line) for line in block[1:]}) == 1, "columns are not aligned"
        idx = [int(r.group(1)) for r in rows]
        assert sorted(idx) == list(range(5))  # top-5 of 5 classes
        assert [r.group(2) for r in rows] == [labels[i] for i in idx]
        probs = [float(r.group(3)) for r in rows]
        assert probs == sorted(probs, reverse=True)
        ref = _reference(FLOWERS, photo)
        assert idx[0] == int(np.argmax(ref)), f"{photo}: top-1 {idx[0]}, reference {ref}"
        assert [r.group(3) for r in rows] == [f"{float(ref[i]):.6f}" for i in idx]


def test_json_several_images_with_bad_ones(tmp_path, bad_files):
    a, b = _first_photo("flowers/sunflowers"), _first_photo("flowers/dandelion")
    bad = [bad_files / "empty.jpg", bad_files / "cut.jpg", bad_files / "missing.png",
           bad_files / "adir", bad_files / "notes.txt"]
    p = _cmd("run", "--json", "--top-k", "2", FLOWERS, bad[0], a, bad[1], bad[2], b,
             bad[3], bad[4], cwd=tmp_path)
    assert p.returncode == 2
    errors = p.stderr.splitlines()
    assert len(errors) == len(bad)
    for line, path in zip(errors, bad):
        assert ERROR_LINE.match(line) and line.startswith(f"int8sqz: error: {path}: "), line
    assert "empty (0 bytes)" in errors[0] and "truncated" in errors[1]
    assert "No such file" in errors[2] and "directory" in errors[3]
    assert "not an image" in errors[4]
    records = [json.loads(line) for line in p.stdout.splitlines()]
    assert [r["file"] for r in records] == [str(a), str(b)]
    labels = _labels(FLOWERS)
    for r, photo in zip(records, (a, b)):
        assert set(r) == {"file", "top_k"} and len(r["top_k"]) == 2
        ref = _reference(FLOWERS, photo)
        top = r["top_k"][0]
        assert set(top) == {"index", "label", "probability"}
        assert top["index"] == int(np.argmax(ref)) and top["label"] == labels[top["index"]]
        assert [e["probability"] for e in r["top_k"]] == [float(ref[e["index"]])
                                                          for e in r["top_k"]]


def test_module_entry_point_dequantizes_uint8_outputs(tmp_path):
    photo = _first_photo("plant_village/Tomato_healthy")
    p = _cmd("run", "--json", "--top-k", "3", PLANT, photo, module=True, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    (record,) = [json.loads(line) for line in p.stdout.splitlines()]
    ref = _reference(PLANT, photo)
    assert ref.dtype == np.uint8
    scores = _scores(PLANT, ref)
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))[:3]
    assert [e["index"] for e in record["top_k"]] == order
    assert [e["probability"] for e in record["top_k"]] == [scores[i] for i in order]
    assert [e["label"] for e in record["top_k"]] == [_labels(PLANT)[i] for i in order]


def test_no_label_file_bilinear_and_top_k_capped(tmp_path):
    model = tmp_path / "flowers_copy.tflite"  # no labels beside it
    model.write_bytes(FLOWERS.read_bytes())
    photo = _first_photo("flowers/roses")
    p = _cmd("run", "--json", "--top-k", "99", "--resize", "bilinear", model, photo, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    (record,) = [json.loads(line) for line in p.stdout.splitlines()]
    assert len(record["top_k"]) == 5
    assert all(e["label"] is None for e in record["top_k"])
    ref = _reference(FLOWERS, photo, resize="bilinear")
    assert record["top_k"][0]["index"] == int(np.argmax(ref))


@pytest.mark.parametrize("name, what", [
    ("missing.tflite", "cannot read the file (No such file or directory)"),
    ("adir", "is a directory"),
    ("notes.txt", "not a TFLite model"),
    ("truncated.tflite", ""),
    ("tanh.tflite", "operator 0 (TANH) is not supported"),
])
def test_bad_models_print_one_line_and_exit_2(tmp_path, bad_files, name, what):
    model = bad_files / name
    if name == "tanh.tflite":
        _unsupported_model(model)
    p = _cmd("run", model, _first_photo("flowers/daisy"), cwd=tmp_path)
    assert p.returncode == 2
    assert p.stdout == ""
    (line,) = p.stderr.splitlines()
    assert line.startswith(f"int8sqz: error: {model}: ") and what in line, line


# -- in-process (same code, no subprocess) -----------------------------------------------
def test_label_file_with_wrong_count_is_an_error(tmp_path, capsys):
    labels = tmp_path / "four.txt"
    labels.write_text("a\nb\nc\nd\n")
    rc = cli.main(["run", "--labels", str(labels), str(FLOWERS), str(_first_photo("flowers/daisy"))])
    out, err = capsys.readouterr()
    assert rc == 2 and out == ""
    assert err.splitlines() == [f"int8sqz: error: {labels}: 4 labels, expected 5 (one a line, "
                                f"one per class of the model's output)"]


def test_missing_label_file_is_an_error(tmp_path, capsys):
    rc = cli.main(["run", "--labels", str(tmp_path / "nope.txt"), str(FLOWERS),
                   str(_first_photo("flowers/daisy"))])
    out, err = capsys.readouterr()
    assert rc == 2 and out == "" and len(err.splitlines()) == 1 and "nope.txt" in err


def test_pixel_limit_refuses_the_image(capsys):
    photo = _first_photo("flowers/daisy")
    rc = cli.main(["run", "--max-pixels", "1000", str(FLOWERS), str(photo)])
    out, err = capsys.readouterr()
    assert rc == 2 and out == ""
    (line,) = err.splitlines()
    assert line.startswith(f"int8sqz: error: {photo}: ") and "more than the limit of 1000" in line


def test_internal_errors_are_one_line_and_exit_1(monkeypatch, capsys):
    def boom(self, values):
        raise RuntimeError("kernel exploded\nsecond line")

    monkeypatch.setattr(predict.Predictor, "run", boom)
    rc = cli.main(["run", str(FLOWERS), str(_first_photo("flowers/daisy"))])
    out, err = capsys.readouterr()
    assert rc == 1 and out == ""
    assert err.splitlines() == ["int8sqz: internal error: RuntimeError: kernel exploded second "
                                "line (this is a bug in int8sqz; please report it)"]


@pytest.mark.parametrize("argv, what", [
    (["run", "--top-k", "0", "m", "i"], "argument --top-k: expected a positive integer, got 0"),
    (["run", "--threads", "-1", "m", "i"],
     "argument --threads: expected a positive integer, got -1"),
    (["run", "--max-input-bytes", "x", "m", "i"],
     "argument --max-input-bytes: expected a positive integer, got 'x'"),
    (["run", "m"], "the following arguments are required: INPUT"),
    ([], "the following arguments are required: COMMAND"),
    (["run", "--resize", "cubic", "m", "i"], "argument --resize: invalid choice: 'cubic'"),
    (["memplan", "--planner", "best", "m"], "argument --planner: invalid choice: 'best'"),
])
def test_usage_errors_are_one_line_naming_the_option_and_exit_2(argv, what, capsys):
    # issue 16: argparse printed its usage block, five lines where one is promised
    assert cli.main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and "usage:" not in err
    (line,) = err.splitlines()
    assert line.startswith(f"int8sqz: error: {what}") and line.endswith("--help')"), line


def test_memplan_is_delegated(capsys):
    try:
        import int8sqz.memplan  # noqa: F401
    except ModuleNotFoundError:
        assert cli.main(["memplan", str(FLOWERS)]) == 1
        assert capsys.readouterr().err.splitlines() == [
            "int8sqz: error: memplan is not available in this version of int8sqz"]
        return
    assert cli.main(["memplan", "--json", str(FLOWERS)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert isinstance(report, dict) and report
    assert cli.main(["memplan", "--help"]) == 0
    assert capsys.readouterr().out.startswith("usage: int8sqz memplan")


@pytest.mark.parametrize("type_name", ["UINT8", "INT8"])
def test_one_channel_model_gets_greyscale_pixels(tmp_path, capsys, type_name):
    """A 2x2 greyscale model whose one class score is the mean pixel: the CLI
    feeds Pillow's luma (minus 128 for an int8 input) and dequantizes."""
    from PIL import Image

    from int8sqz.testing.writer import GraphBuilder

    zp = 0 if type_name == "UINT8" else -128
    g = GraphBuilder()
    x = g.input("image", (1, 2, 2, 1), type_name, scale=1 / 255, zero_point=zp)
    axes = g.constant("axes", np.array([1, 2], np.int32))
    y = g.tensor("score", (1, 1), type_name, scale=1 / 255, zero_point=zp)
    g.operator("MEAN", [x, axes], y, keep_dims=False)
    g.output(y)
    model = tmp_path / "grey.tflite"
    model.write_bytes(g.build())
    rgb = np.array([[[200, 10, 10], [0, 255, 0]], [[30, 30, 230], [90, 90, 90]]], np.uint8)
    image = tmp_path / "colour.png"
    Image.fromarray(rgb).save(image)
    c = rgb.astype(np.int64)
    luma = (c[..., 0] * 19595 + c[..., 1] * 38470 + c[..., 2] * 7471 + 0x8000) >> 16
    value = (luma + zp).astype(np.uint8 if zp == 0 else np.int8).reshape(1, 2, 2, 1)
    (q,) = run_reference(model.read_bytes(), [value])[0].reshape(-1)

    assert cli.main(["run", "--json", str(model), str(image)]) == 0
    (record,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    # one value that is not a sigmoid's: printed as a named array (issue 10)
    assert record["outputs"] == [{
        "name": "score", "index": 2, "shape": [1, 1], "dtype": type_name.lower(),
        "values": [[int(q)]], "scale": float(np.float32(1 / 255)), "zero_point": zp}]
