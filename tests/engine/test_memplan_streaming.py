"""``int8sqz memplan --planner streaming``: the stages, band heights, the
peak and where it is, the extra MACs, the picture with a rectangle per band
buffer and step, and the budget option; the streaming planner's choices on
the seed models (never above the optimized plan, every stage worth it)."""

import json
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
from conftest import ROOT, SEED_MODELS, SHARED
from hypothesis import given, settings
from memplan_graphs import graphs

from int8sqz import memplan
from int8sqz.memplan_svg import format_svg
from int8sqz.model import load_model
from int8sqz.planner import plan_model
from int8sqz.planner.streaming import plan_stages, plan_streaming


@pytest.fixture(scope="module")
def flowers():
    model = load_model(SEED_MODELS["flowers"])
    return model, memplan.report(model, "streaming")


def test_report_names_stages_bands_peak_and_extra_macs(flowers):
    model, rep = flowers
    st = rep["streaming"]
    assert rep["planner"] == "streaming"
    assert rep["arena_bytes"] <= 150 * 1024
    assert rep["arena_bytes"] == max(o["live_bytes"] for o in rep["operators"])
    assert st["stages"] and st["model_macs"] == rep["macs_total"]
    assert st["extra_macs"] == sum(s["extra_macs"] for s in st["stages"])
    assert st["max_extra_macs_percent"] == 10
    for s in st["stages"]:
        assert s["last_op"] > s["first_op"] and s["band_rows"] >= 1 and s["steps"] >= 1
        assert s["operators"] == [model.operators[j].name for j in
                                  range(s["first_op"], s["last_op"] + 1)]
        assert s["buffers"] and all(b["bytes"] == b["rows"] * b["row_bytes"]
                                    for b in s["buffers"])
        # the band buffers never hold a whole tensor of the stage's first one's size
        assert s["block_bytes"] < 357_216
    # conv1's output is a band of a few rows
    conv1 = model.operators[1].outputs[0]
    assert any(b["tensor"] == conv1 and b["rows"] <= 4 for s in st["stages"]
               for b in s["buffers"])
    text = memplan.format_text(rep)
    assert "stages (operators run a band" in text and "extra MACs:" in text
    assert "peak is:" in text and "halo kept" in text


def test_svg_draws_each_band_buffer_once_per_step(flowers):
    _, rep = flowers
    root = ET.fromstring(format_svg(rep))
    ns = "{http://www.w3.org/2000/svg}"
    titles = [r.find(ns + "title").text for r in root.iter(ns + "rect")
              if r.find(ns + "title") is not None]
    for s in rep["streaming"]["stages"]:
        for b in s["buffers"]:
            steps = [t for t in titles if t.startswith(f'tensor {b["tensor"]} ')
                     and ", step " in t]
            assert len(steps) == s["steps"], b["tensor"]


def test_docs_svg_is_current():
    """docs/memplan_flowers_streaming.svg is the output of
    tools/streaming_report.py --arena-svg."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("streaming_report",
                                                  ROOT / "tools" / "streaming_report.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    path = ROOT / "docs" / tool.ARENA_SVG
    assert path.read_text(encoding="utf-8") == tool.arena_svg(SHARED), (
        f"docs/{tool.ARENA_SVG} is stale: run python tools/streaming_report.py --arena-svg")


def test_command_line(tmp_path):
    svg = tmp_path / "s.svg"
    r = subprocess.run([sys.executable, "-m", "int8sqz", "memplan", str(SEED_MODELS["food-101"]),
                        "--planner", "streaming", "--max-extra-macs", "0", "--json",
                        "--svg", str(svg)], capture_output=True, text=True, cwd=tmp_path,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert rep["streaming"]["max_extra_macs_percent"] == 0
    assert rep["streaming"]["extra_macs"] <= 0
    assert all(s["halo"] == "kept" for s in rep["streaming"]["stages"])
    ET.parse(svg)
    r = subprocess.run([sys.executable, "-m", "int8sqz", "memplan", str(SEED_MODELS["food-101"]),
                        "--max-extra-macs", "5"], capture_output=True, text=True, cwd=tmp_path,
                       timeout=120)
    assert r.returncode == 2 and "--planner streaming" in r.stderr
    r = subprocess.run([sys.executable, "-m", "int8sqz", "memplan", str(SEED_MODELS["food-101"]),
                        "--planner", "streaming", "--max-extra-macs", "-1"],
                       capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert r.returncode == 2


@settings(max_examples=20, deadline=None)
@given(graphs(max_ops=7))
def test_streaming_never_above_optimized(graph):
    """Never above the optimized plan with TFLite Micro's kernel scratch
    (which the streaming plan holds: the arena a microcontroller needs),
    stages only where they make it smaller."""
    model = load_model(graph.content)
    shapes = [t.shape for t in model.tensors]
    plain = plan_stages(model, shapes, [])
    assert plain.arena_size >= plan_model(model, "optimized").arena_size
    plan = plan_streaming(model)
    assert plan.arena_size <= plain.arena_size
    if plan.stages:
        assert plan.arena_size < plain.arena_size


def test_recomputing_halos_costs_macs_not_rows(seed_models):
    """The same stage with its halo recomputed: more MACs (stated), the same
    outputs (tests/models/test_streaming.py runs such schedules)."""
    model = load_model(seed_models["flowers"])
    shapes = [t.shape for t in model.tensors]
    keep = plan_stages(model, shapes, [(1, 3, 2, False)])
    again = plan_stages(model, shapes, [(1, 3, 2, True)])
    assert keep.extra_macs <= 0 < again.extra_macs
    s = again.stages[0]
    conv1 = model.operators[1]
    # conv1 7x7/2 under maxpool 3x3/2: 5 rows a step for 2 pooled rows, one of them again
    assert s.computed_rows[1] > shapes[conv1.outputs[0]][1]
