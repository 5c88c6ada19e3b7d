"""memplan: the tflm plan against TFLite Micro's own arena ("Arena allocation
head" of its recording allocator) on the seed models and on generated
models, each of TFLite Micro's planning rules shown to matter, and the
report (text, JSON, SVG, command line)."""

import json
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from conftest import ROOT, SEED_MODELS
from hypothesis import given
from memplan_graphs import ACT, graphs

from int8sqz import memplan
from int8sqz.errors import UnsupportedError
from int8sqz.memplan_svg import format_svg
from int8sqz.model import load_model
from int8sqz.planner import (
    GreedyPlanner, align_up, plan_model, tflm_lifetimes, tflm_scratch_requests,
)
from int8sqz.testing.micro import measure_tflm_arena
from int8sqz.testing.writer import GraphBuilder

SEED_ARENA = 460_800  # TFLite Micro's figure for each seed model (shared/models/README.md)
KIB_360 = 360 * 1024


# -- TFLite Micro's figure -----------------------------------------------------------

@pytest.mark.parametrize("key", sorted(SEED_MODELS))
def test_seed_models_tflm_plan_equals_tflite_micro(key, seed_models):
    measured = measure_tflm_arena(seed_models[key])
    plan = plan_model(load_model(seed_models[key]), "tflm")
    assert measured == SEED_ARENA
    assert plan.arena_size == measured


@given(graphs())
def test_generated_models_tflm_plan_equals_tflite_micro(graph):
    measured = measure_tflm_arena(graph.content)
    planned = plan_model(load_model(graph.content), "tflm").arena_size
    assert planned == measured, graph.description


# Each of TFLite Micro's rules, on a model where leaving the rule out changes
# the arena: the test fails if int8sqz's plan drops or changes the rule.

class _FirstAddedFirst(GreedyPlanner):
    def _order(self):
        return sorted(range(len(self.buffers)), key=lambda i: -self.buffers[i].size)


class _Unsorted(GreedyPlanner):
    def _order(self):
        return list(range(len(self.buffers)))


def _variant_arena(model, planner_cls=GreedyPlanner, *, inputs_at_first_operator=False,
                   outputs_to_end=True, alignment=16, scratch=True):
    lts = tflm_lifetimes(model)
    g = planner_cls()
    for i in sorted(lts):
        first, last = lts[i].first, lts[i].last
        if inputs_at_first_operator and i in model.inputs:
            first = max(first, 1)
            last = max(last, first)
        if not outputs_to_end and i in model.outputs:
            readers = [op.index + 1 for op in model.operators if i in op.inputs]
            last = max(readers + [first])
        g.add_buffer(align_up(model.tensors[i].nbytes, alignment), first, last)
    if scratch:
        for op, size in tflm_scratch_requests(model):
            g.add_buffer(align_up(size, alignment), op + 1, op + 1)
    return g.arena_size


def _tie_model():
    g = GraphBuilder()
    x0 = g.input("x0", (1, 4, 4, 2), "INT8", **ACT)
    x1 = g.input("x1", (1, 4, 4, 4), "INT8", **ACT)
    t2 = g.tensor("sum", (1, 4, 4, 4), "INT8", **ACT)
    g.operator("ADD", [x1, x1], t2)
    t3 = g.tensor("pool_a", (1, 2, 2, 4), "INT8", **ACT)
    g.operator("MAX_POOL_2D", [x1], t3, padding="SAME", stride_h=2, stride_w=2,
               filter_height=1, filter_width=1)
    t4 = g.tensor("pool_b", (1, 4, 4, 2), "INT8", **ACT)
    g.operator("MAX_POOL_2D", [x0], t4, padding="SAME", stride_h=1, stride_w=1,
               filter_height=1, filter_width=1)
    t5 = g.tensor("out", (1, 2, 2, 4), "FLOAT32")
    g.operator("DEQUANTIZE", [t3], t5)
    g.output(t4, t5)
    return g.build()


def _pool(g, src, shape, name, stride=1):
    out_shape = (shape[0], -(-shape[1] // stride), -(-shape[2] // stride), shape[3])
    y = g.tensor(name, out_shape, "INT8", **ACT)
    g.operator("MAX_POOL_2D", [src], y, padding="SAME", stride_h=stride, stride_w=stride,
               filter_height=1, filter_width=1)
    return y


def _unused_input_model():
    g = GraphBuilder()
    g.input("unused", (1, 4, 4, 4), "INT8", **ACT)
    x = g.input("x", (1, 4, 4, 4), "INT8", **ACT)
    g.output(_pool(g, x, (1, 4, 4, 4), "y"))
    return g.build()


def _early_output_model():
    g = GraphBuilder()
    x = g.input("x", (1, 4, 4, 8), "INT8", **ACT)
    a = _pool(g, x, (1, 4, 4, 8), "early_output", stride=2)
    b = _pool(g, x, (1, 4, 4, 8), "b")
    c = _pool(g, b, (1, 4, 4, 8), "c", stride=2)
    g.output(a, c)
    return g.build()


def _odd_sizes_model():
    g = GraphBuilder()
    x = g.input("x", (1, 3, 3, 3), "INT8", **ACT)
    y = _pool(g, x, (1, 3, 3, 3), "y")
    g.output(_pool(g, y, (1, 3, 3, 3), "z"))
    return g.build()


def _mean_model():
    g = GraphBuilder()
    x = g.input("x", (1, 4, 4, 8), "INT8", **ACT)
    axis = g.constant("axis", np.array([1, 2], np.int32))
    y = g.tensor("mean", (1, 8), "INT8", **ACT)
    g.operator("MEAN", [x, axis], y, keep_dims=False)
    g.output(y)
    return g.build()


def _size_order_model():
    g = GraphBuilder()
    x = g.input("x", (1, 4, 4, 2), "UINT8", scale=0.05, zero_point=125)
    q = g.tensor("q", (1, 4, 4, 2), "INT8", **ACT)
    g.operator("QUANTIZE", [x], q)
    y = g.tensor("cat", (1, 4, 4, 4), "INT8", **ACT)
    g.operator("CONCATENATION", [q, q], y, axis=3)
    g.output(y)
    return g.build()


RULES = {
    "ties: the buffer added later first": (_tie_model, dict(planner_cls=_FirstAddedFirst)),
    "largest first": (_size_order_model, dict(planner_cls=_Unsorted)),
    "graph inputs created before the first operator": (
        _unused_input_model, dict(inputs_at_first_operator=True)),
    "graph outputs kept to the end": (_early_output_model, dict(outputs_to_end=False)),
    "16-byte alignment of every size": (_odd_sizes_model, dict(alignment=1)),
    "MEAN's scratch buffers": (_mean_model, dict(scratch=False)),
}


@pytest.mark.parametrize("rule", sorted(RULES))
def test_each_tflite_micro_rule_matters(rule):
    build, ablation = RULES[rule]
    content = build()
    model = load_model(content)
    measured = measure_tflm_arena(content)
    assert plan_model(model, "tflm").arena_size == measured
    assert _variant_arena(model) == measured
    assert _variant_arena(model, **ablation) != measured, (
        f"without the rule '{rule}' the arena would still be {measured}: the example "
        f"does not test the rule")


# -- the optimized plan ----------------------------------------------------------------

@pytest.mark.parametrize("key", sorted(SEED_MODELS))
def test_optimized_seed_plan_within_target(key, seed_models):
    model = load_model(seed_models[key])
    opt = plan_model(model, "optimized")
    assert opt.arena_size <= KIB_360
    assert opt.arena_size < plan_model(model, "tflm").arena_size
    # the concatenations are copy-free and their outputs hold the slices
    concat = [op.index for op in model.operators if op.name == "CONCATENATION"]
    assert sorted(opt.skip_ops) == concat


@given(graphs())
def test_optimized_never_larger_than_tflm(graph):
    model = load_model(graph.content)
    assert plan_model(model, "optimized").arena_size <= plan_model(model, "tflm").arena_size


# -- the report ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def flowers_report():
    model = load_model(SEED_MODELS["flowers"])
    return model, memplan.report(model, "tflm")


def test_report_figures(flowers_report):
    model, rep = flowers_report
    assert rep["arena_bytes"] == SEED_ARENA and rep["arena_kib"] == 450.0
    assert rep["weights_bytes"] == 548_550 and rep["weights_kib"] == 535.69
    ops = rep["operators"]
    assert len(ops) == len(model.operators)
    assert rep["macs_total"] == sum(o["macs"] for o in ops)
    conv1 = model.operators[1]
    oh, ow, oc = model.tensors[conv1.outputs[0]].shape[1:]
    _, kh, kw, ic = model.tensors[conv1.inputs[1]].shape
    assert ops[1]["macs"] == oh * ow * oc * kh * kw * ic
    # live bytes: the tflm plan shares nothing, so they are the sum of the live
    # tensors' and scratch buffers' bytes; the peak is their maximum
    plan = plan_model(model, "tflm")
    for o in ops:
        t = o["index"] + 1
        want = sum(p.nbytes for i, p in plan.placements.items()
                   if plan.lifetimes[i].first <= t <= plan.lifetimes[i].last)
        want += sum(s.nbytes for s in plan.scratch if s.op == o["index"])
        assert o["live_bytes"] == want
    assert rep["peak"]["live_bytes"] == max(o["live_bytes"] for o in ops)
    assert rep["peak"]["live_bytes"] <= rep["arena_bytes"]
    planned = {t["index"] for t in rep["tensors"]}
    assert planned == set(tflm_lifetimes(model))
    for t in rep["tensors"]:
        assert t["offset"] + t["bytes"] <= rep["arena_bytes"]
        assert 0 <= t["first_op"] <= t["last_op"] < len(model.operators)


def test_report_text(flowers_report):
    _, rep = flowers_report
    text = memplan.format_text(rep)
    assert "460,800 bytes = 450.00 KiB" in text
    assert "548,550 bytes = 535.69 KiB" in text
    assert f"operator {rep['peak']['operator']} ({rep['peak']['name']})" in text
    assert "<- peak" in text
    for t in rep["tensors"]:
        assert t["name"] in text


def test_svg_is_well_formed_and_complete(flowers_report):
    _, rep = flowers_report
    root = ET.fromstring(format_svg(rep))
    ns = "{http://www.w3.org/2000/svg}"
    rects = [r for r in root.iter(ns + "rect") if r.find(ns + "title") is not None]
    assert len(rects) == len(rep["tensors"]) + len(rep["scratch"])
    texts = " ".join(t.text or "" for t in root.iter(ns + "text"))
    assert "peak: operator 20 (CONCATENATION)" in texts
    assert "arena offset" in texts and "operator (execution order)" in texts


@pytest.mark.parametrize("name, planner", [("memplan_flowers.svg", "optimized"),
                                           ("memplan_flowers_tflm.svg", "tflm"),
                                           ("memplan_flowers_tflm_optimized.svg",
                                            "tflm-optimized")])
def test_docs_svg_is_current(name, planner):
    """docs/memplan_flowers*.svg are the output of tools/memplan_report.py --svg."""
    path = ROOT / "docs" / name
    model = load_model(SEED_MODELS["flowers"])
    want = format_svg(memplan.report(model, planner), title=SEED_MODELS["flowers"].name)
    assert path.read_text(encoding="utf-8") == want, (
        f"docs/{name} is stale: run python tools/memplan_report.py --svg")


def _run_cli(*args, cwd):
    # the user's command, run outside the source tree so that the installed
    # package is the one tested
    return subprocess.run([sys.executable, "-m", "int8sqz", "memplan", *args],
                          capture_output=True, text=True, cwd=cwd, timeout=120)


def test_command_line_json_and_svg(tmp_path):
    svg = tmp_path / "arena.svg"
    r = _run_cli(str(SEED_MODELS["food-101"]), "--planner", "optimized", "--json",
                 "--svg", str(svg), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    model = load_model(SEED_MODELS["food-101"])
    assert rep == json.loads(json.dumps(memplan.report(model, "optimized")))
    assert rep["arena_bytes"] <= KIB_360
    ET.parse(svg)


def test_command_line_bad_input(tmp_path):
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"not a model at all")
    r = _run_cli(str(bad), cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.startswith("int8sqz: error:") and len(r.stderr.strip().splitlines()) == 1


def test_memplan_needs_no_runnable_operator(monkeypatch):
    """Planning uses shapes and lifetimes only: a model with an operator
    int8sqz cannot run is planned, and the interpreter is never built."""
    g = GraphBuilder()
    x = g.input("x", (1, 8, 8, 4), "FLOAT32")
    y = g.tensor("y", (1, 8, 8, 4), "FLOAT32")
    g.operator("TANH", [x], y)
    z = g.tensor("z", (1, 8, 8, 4), "FLOAT32")
    g.operator("LOGISTIC", [y], z)
    g.output(z)
    content = g.build()
    from int8sqz import Interpreter

    with pytest.raises(UnsupportedError):
        Interpreter(model_content=content)

    def refuse(*a, **k):
        raise AssertionError("memplan built an interpreter")

    monkeypatch.setattr("int8sqz.interpreter.Interpreter.__init__", refuse)
    model = load_model(content)
    rep = memplan.report(model, "tflm")
    assert rep["arena_bytes"] == measure_tflm_arena(content)
    assert rep["macs_total"] == 0
    assert memplan.report(model, "optimized")["arena_bytes"] <= rep["arena_bytes"]


@pytest.mark.parametrize("name", [
    "sub_uint8", "max_min_int8", "relu_logistic_int8", "relu6_float", "logistic_uint8",
    "reduce_max_int8", "reduce_max_float", "resize_bilinear_int8", "resize_bilinear_uint8",
])
def test_small_seed_models_tflm_plan_equals_tflite_micro(name):
    """SUB, MAXIMUM, MINIMUM, RELU, RELU6, LOGISTIC, REDUCE_MAX (whose TFLite
    Micro kernel requests two scratch buffers) and RESIZE_BILINEAR."""
    import fuzzing

    content = fuzzing.seeds()[name]
    assert plan_model(load_model(content), "tflm").arena_size == \
        measure_tflm_arena(content)
