"""`int8sqz memplan --planner tflm-optimized` and `--write-plan`, run as the
installed console script in a temporary directory: the written model is
run by tflite-micro, which reports the head the command printed, allocates
in the arena size it printed (and in none of the 16 sizes below), and gives
the original model's outputs; the picture of the written plan; option
errors."""

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from conftest import SEED_MODELS
from memplan_graphs import late_consumer_model

from int8sqz import memplan
from int8sqz.model import load_model
from int8sqz.offline_plan import read_offline_plan
from int8sqz.planner import plan_model
from int8sqz.testing import tflm

SCRIPT = Path(sys.executable).with_name("int8sqz")
FLOWERS = SEED_MODELS["flowers"]
SEED_ARENA = 460_800


def _memplan(*args, cwd):
    p = subprocess.run([str(SCRIPT), "memplan", *[str(a) for a in args]], cwd=cwd,
                       capture_output=True, text=True, timeout=300)
    assert "Traceback" not in p.stderr, p.stderr
    return p


def _assert_tflite_micro_runs(written, original, rep):
    """tflite-micro on the written model: the head and whole arena the
    report gave, the original model's outputs on three inputs."""
    usage = tflm.arena_usage(written)
    t = rep["tflm"]
    assert usage["head"] == t["head"] == rep["arena_bytes"]
    assert usage["tail"] == t["tail"]
    size = t["arena_size"]
    assert tflm.allocates_each(written, range(size - 16, size + 1)) == [False] * 16 + [True]
    sets = tflm.golden_like_inputs(load_model(original))
    for got, want in zip(tflm.run(written, sets, arena_size=size), tflm.run(original, sets)):
        assert all(np.array_equal(a, b) for a, b in zip(got, want))


def test_tflm_optimized_written_json_and_svg(tmp_path):
    out, svg = tmp_path / "flowers.plan.tflite", tmp_path / "plan.svg"
    r = _memplan(FLOWERS, "--planner", "tflm-optimized", "--write-plan", out, "--json",
                 "--svg", svg, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    t = rep["tflm"]
    assert rep["planner"] == "tflm-optimized" and rep["written"] == str(out)
    assert t["greedy_head"] == SEED_ARENA and t["head"] <= 0.85 * SEED_ARENA
    assert t["sharing"] and "reference kernels" in t["proven_for"]
    assert t["arena_size_32bit_estimate"] < t["arena_size"]
    written = out.read_bytes()
    _assert_tflite_micro_runs(written, FLOWERS.read_bytes(), rep)
    plan = read_offline_plan(written)
    assert {t["index"]: t["offset"] for t in rep["tensors"]} == {
        i: o for i, o in enumerate(plan.offsets) if o != -1}
    root = ET.parse(svg).getroot()
    ns = "{http://www.w3.org/2000/svg}"
    texts = " ".join(e.text or "" for e in root.iter(ns + "text"))
    assert f"tflm-optimized plan, arena {t['head']:,} bytes" in texts
    rects = [e for e in root.iter(ns + "rect") if e.find(ns + "title") is not None]
    assert len(rects) == len(rep["tensors"]) + len(rep["scratch"])
    # the written model, planned again: TFLite Micro's plan of it is the one written
    again = json.loads(_memplan(out, "--json", cwd=tmp_path).stdout)
    assert again["arena_bytes"] == t["head"] and again["tflm"]["arena_size"] == t["arena_size"]
    assert [r["offset"] for r in again["tensors"]] == [r["offset"] for r in rep["tensors"]]
    assert any("carries an offline plan" in n for n in again["notes"])


def test_tflm_greedy_plan_written_and_no_overlap(tmp_path):
    out = tmp_path / "greedy.tflite"
    r = _memplan(FLOWERS, "--planner", "tflm", "--write-plan", out, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "kTensorArenaSize 491,472 bytes" in r.stdout and "(an estimate)" in r.stdout
    model = load_model(FLOWERS)
    greedy = plan_model(model, "tflm")
    assert read_offline_plan(out.read_bytes()).offsets == tuple(
        greedy.placements[i].offset if i in greedy.placements else -1
        for i in range(len(model.tensors)))
    assert tflm.arena_usage(out.read_bytes())["head"] == SEED_ARENA
    flat = tmp_path / "flat.tflite"
    r = _memplan(FLOWERS, "--planner", "tflm-optimized", "--no-overlap", "--write-plan", flat,
                 "--json", cwd=tmp_path)
    rep = json.loads(r.stdout)
    assert rep["tflm"]["proven_for"].startswith("any kernels") and not rep["tflm"]["sharing"]
    _assert_tflite_micro_runs(flat.read_bytes(), FLOWERS.read_bytes(), rep)


def test_reordered_plan_text_names_the_original_operators(tmp_path):
    """A tensor made first but read last: the plan runs its producer later,
    the written model carries that order, the text and JSON say which
    operator each one was."""
    model_path = tmp_path / "late.tflite"
    model_path.write_bytes(late_consumer_model())
    written = tmp_path / "late.plan.tflite"
    r = _memplan(model_path, "--planner", "tflm-optimized", "--write-plan", written,
                 cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "operators reordered" in r.stdout and "(was 0)" in r.stdout
    rep = memplan.report(load_model(model_path), "tflm-optimized")
    order = rep["tflm"]["order"]
    assert order != sorted(order) and [o["original_index"] for o in rep["operators"]] == order
    assert [op.name for op in load_model(written).operators] == [
        load_model(model_path).operators[k].name for k in order]
    rep["written"] = str(written)
    _assert_tflite_micro_runs(written.read_bytes(), model_path.read_bytes(), rep)


@pytest.mark.parametrize("args, message", [
    (["--planner", "tflm", "--no-overlap"], "--no-overlap applies to --planner tflm-optimized"),
    (["--planner", "optimized", "--write-plan", "x.tflite"], "--write-plan needs --planner tflm"),
    (["--planner", "tflm-optimized", "--write-plan", "."], "cannot write ."),
])
def test_option_errors(tmp_path, args, message):
    r = _memplan(FLOWERS, *args, cwd=tmp_path)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.startswith("int8sqz: error: ") and message in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_a_carried_plan_is_checked():
    """A model whose offline plan puts every tensor at offset 0 (TFLite
    Micro would run it and compute garbage): memplan reports the plan TFLite
    Micro uses, and says it is unsafe."""
    from int8sqz.offline_plan import write_offline_plan

    model = load_model(FLOWERS)
    offsets = {i: 0 for i in plan_model(model, "tflm").placements}
    rep = memplan.report(load_model(write_offline_plan(model.content, offsets)), "tflm")
    assert rep["tflm"]["proven_for"].startswith("nothing")
    assert any(n.startswith("unsafe: ") for n in rep["notes"])
    assert all(t["offset"] == 0 for t in rep["tensors"])
