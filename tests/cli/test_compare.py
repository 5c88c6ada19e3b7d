"""`int8sqz compare` (issue 11, item 3): where two numerics part, operator
by operator, on the flowers seed and shared photos. Every figure the command
prints is recomputed here from two interpreters' tensors (or the runtime's
own, for --tensors), and --against litert is checked both ways: agreeing
with ai-edge-litert, and saying in one line that it is missing."""

import json
import sys

import numpy as np
import pytest
from conftest import IMAGES_DIR, SEED_MODELS

from int8sqz import Interpreter, cli
from int8sqz.image import input_spec, preprocess
from int8sqz.model import load_model
from int8sqz.testing.runtimes import run_runtime

FLOWERS = SEED_MODELS["flowers"]
PHOTOS = sorted((IMAGES_DIR / "flowers" / "daisy").glob("*.jpg"))[:2]


def _run(capsys, *args):
    status = cli.main(["compare"] + [str(a) for a in args])
    out, err = capsys.readouterr()
    return status, out, err


def _tensors(numerics, x):
    """Every operator output of the flowers seed in ``numerics``."""
    it = Interpreter(model_path=FLOWERS, numerics=numerics)
    it.allocate_tensors()
    it.set_tensor(it.model.inputs[0], x)
    it.invoke()
    return {o: it.get_tensor(o) for op in it.model.operators for o in op.outputs}


def _expected(a, b, model):
    """(differ, max LSB) of every operator output, and the first operator
    whose output differs."""
    rows, first = [], None
    for op in model.operators:
        o = op.outputs[0]
        if a[o].dtype.kind == "f":
            differ = int(np.sum(a[o] != b[o]))
            lsb = None
        else:
            d = np.abs(a[o].astype(np.int64) - b[o].astype(np.int64))
            differ, lsb = int(np.count_nonzero(d)), int(d.max())
        rows.append((op.index, op.name, differ, lsb))
        if differ and first is None:
            first = op.index
    return rows, first


@pytest.fixture(autouse=True)
def _no_compile_notice(monkeypatch):
    """The tests read stderr whole: the notice a slow set-up prints (numba
    compiling after a kernel change, a loaded machine) is not theirs to
    check (tests/cli/test_cli_batch.py does)."""
    monkeypatch.setattr(cli, "COMPILE_NOTICE_DELAY", 1e6)


@pytest.fixture(scope="module")
def photo_input():
    spec = input_spec(load_model(FLOWERS))
    return [preprocess(p, spec) for p in PHOTOS]


def test_reference_against_xnnpack_names_where_they_part(capsys, photo_input):
    model = load_model(FLOWERS)
    status, out, err = _run(capsys, FLOWERS, *PHOTOS, "--json")
    assert status == 0 and err == ""
    records = [json.loads(line) for line in out.splitlines()]
    assert len(records) == len(PHOTOS)
    for rec, photo, x in zip(records, PHOTOS, photo_input):
        assert rec["file"] == str(photo) and (rec["a"], rec["b"]) == ("reference", "xnnpack")
        ref, xnn = _tensors("reference", x), _tensors("xnnpack", x)
        rows, first = _expected(ref, xnn, model)
        assert [(r["index"], r["operator"], r["differ"], r["max_lsb"]) for r in
                rec["operators"]] == rows
        assert first is not None and rec["first_difference"]["index"] == first
        op = model.operators[first]
        assert rec["first_difference"]["tensor"] == model.tensors[op.outputs[0]].name
        for r in rec["operators"]:
            t = model.tensors[r["tensor_index"]]
            if r["differ"] and t.type_name == "INT8":
                assert r["max_value"] == pytest.approx(r["max_lsb"] * t.quantization.scale)
        out_ref, out_xnn = ref[model.outputs[0]], xnn[model.outputs[0]]
        top = rec["top1"]
        assert (top["a"]["index"], top["b"]["index"]) == (int(np.argmax(out_ref)),
                                                          int(np.argmax(out_xnn)))
        assert top["changed"] == (top["a"]["index"] != top["b"]["index"])
        assert top["a"]["label"] == ["daisy", "dandelion", "rose", "sunflower", "tulip"][
            top["a"]["index"]]


def test_text_has_a_row_per_operator_and_the_verdicts(capsys):
    model = load_model(FLOWERS)
    status, out, err = _run(capsys, FLOWERS, PHOTOS[0], "--numerics", "builtin", "xnnpack")
    assert status == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == f"{PHOTOS[0]}: builtin against xnnpack"
    table = lines[2:2 + len(model.operators)]
    assert [int(line.split()[0]) for line in table] == list(range(len(model.operators)))
    assert [line.split()[1] for line in table] == [op.name for op in model.operators]
    assert lines[2 + len(model.operators)].startswith("first operator that parts: #")
    assert lines[-1].startswith("top-1: ") and " with builtin, " in lines[-1]


def test_one_numerics_is_compared_with_the_reference(capsys):
    status, out, _ = _run(capsys, FLOWERS, PHOTOS[0], "--numerics", "builtin")
    assert status == 0 and out.splitlines()[0].endswith(": reference against builtin")
    # the optimized builtin kernels compute the reference's integers on this seed
    assert "no operator parts: every compared tensor is equal" in out


def test_against_litert_checks_both_sides(capsys):
    status, out, err = _run(capsys, FLOWERS, PHOTOS[0], "--numerics", "builtin", "xnnpack",
                            "--against", "litert", "--json")
    rec = json.loads(out)
    assert status == 0 and err == ""
    assert rec["litert"] == {"builtin": {"outputs": 1, "equal": 1},
                             "xnnpack": {"outputs": 1, "equal": 1}}


def test_against_litert_without_it_says_so(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ai_edge_litert", None)
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)
    status, out, err = _run(capsys, FLOWERS, PHOTOS[0], "--against", "litert")
    assert (status, out) == (2, "")
    assert err == ("int8sqz: error: --against litert runs ai-edge-litert, which is not "
                   "installed (pip install ai-edge-litert)\n")


def test_tensors_from_elsewhere_missing_and_misshaped_files_named(capsys, tmp_path,
                                                                  photo_input):
    """The XNNPACK runtime's own tensors (read with preserved tensors),
    dumped by index, one by name (with its '/' and ';' as written), one
    missing, one misshaped: the rows against the dump are the rows against
    int8sqz's XNNPACK numerics, and the two bad files are named."""
    model = load_model(FLOWERS)
    x = photo_input[0]
    dumped = run_runtime(FLOWERS, [x], "xnnpack", all_tensors=True)
    outs = [op.outputs[0] for op in model.operators]
    missing, misshaped, by_name = outs[5], outs[7], outs[1]
    for o in outs:
        if o == missing:
            continue
        value = dumped[o] if o != misshaped else dumped[o].reshape(-1)[:-1]
        if o == by_name:
            name = model.tensors[o].name.replace("/", "_")
            np.save(tmp_path / f"{name}.npy", value)
        else:
            np.save(tmp_path / f"{o}.npy", value)
    status, out, err = _run(capsys, FLOWERS, PHOTOS[0], "--tensors", tmp_path, "--json")
    assert status == 0 and err == ""
    rec = json.loads(out)
    assert (rec["a"], rec["b"]) == ("reference", str(tmp_path))
    want, _ = _expected(_tensors("reference", x), _tensors("xnnpack", x), model)
    for r, (index, name, differ, lsb) in zip(rec["operators"], want):
        o = r["tensor_index"]
        if o == missing:
            assert r["differ"] is None and r["note"].startswith(f"missing: no '{o}.npy'")
        elif o == misshaped:
            assert r["differ"] is None and r["note"].startswith("file ")
            assert "an array of shape" in r["note"]
        else:
            assert (r["index"], r["differ"], r["max_lsb"]) == (index, differ, lsb), r


def test_usage_and_input_errors(capsys, tmp_path):
    status, out, err = _run(capsys, FLOWERS, PHOTOS[0], "--numerics", "reference", "builtin",
                            "xnnpack")
    assert (status, out) == (2, "") and "expected two names (A B), got 3" in err
    status, out, err = _run(capsys, FLOWERS, *PHOTOS, "--tensors", tmp_path)
    assert (status, out) == (2, "") and "one input's tensors, got 2 INPUTs" in err
    status, out, err = _run(capsys, FLOWERS, PHOTOS[0], "--tensors", tmp_path,
                            "--numerics", "builtin", "xnnpack")
    assert (status, out) == (2, "") and "with --tensors, one name" in err
    bad = tmp_path / "notes.txt"
    bad.write_text("not an image\n")
    status, out, err = _run(capsys, FLOWERS, bad, PHOTOS[0])
    assert status == 2 and err.startswith(f"int8sqz: error: {bad}: ")
    assert out.splitlines()[0] == f"{PHOTOS[0]}: reference against xnnpack"


def test_array_inputs_as_run_takes_them(capsys, tmp_path, photo_input):
    np.save(tmp_path / "x.npy", photo_input[0][0])  # without its batch axis
    status, out, _ = _run(capsys, FLOWERS, tmp_path / "x.npy", "--json")
    rec = json.loads(out)
    assert status == 0 and rec["first_difference"] is not None
    status, out2, _ = _run(capsys, FLOWERS, PHOTOS[0], "--json")
    assert json.loads(out2)["operators"] == rec["operators"]


def test_run_and_memplan_take_numerics(capsys, photo_input):
    """run --numerics prints the runtime's scores (here XNNPACK's, which
    are not the reference's); memplan plans the reference only."""
    from int8sqz.classify import class_scores

    model = load_model(FLOWERS)
    status = cli.main(["run", str(FLOWERS), *map(str, PHOTOS), "--json", "--numerics",
                       "xnnpack", "--top-k", "5"])
    out, _ = capsys.readouterr()
    assert status == 0
    records = [json.loads(line) for line in out.splitlines()]
    differs = 0
    for rec, x in zip(records, photo_input):
        want = class_scores(run_runtime(FLOWERS, [x], "xnnpack")[0],
                            model.tensors[model.outputs[0]])
        ref = class_scores(run_runtime(FLOWERS, [x], "reference")[0],
                           model.tensors[model.outputs[0]])
        assert {r["index"]: r["probability"] for r in rec["top_k"]} == dict(enumerate(want))
        differs += want != ref
    assert differs  # XNNPACK's scores are not the reference's on these photos
    status = cli.main(["memplan", str(FLOWERS), "--numerics", "xnnpack"])
    _, err = capsys.readouterr()
    assert status == 2 and "memplan plans the memory of TFLite Micro" in err
    assert cli.main(["memplan", str(FLOWERS), "--numerics", "reference"]) == 0
