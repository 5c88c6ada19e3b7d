"""Running inside the plan (int8sqz.arena, Interpreter(arena=...)): every
activation is a view of one byte array at its planned offset, the seed
models' golden inputs give bit-exact outputs with both planners, generated
models match TFLite's reference kernels, and a plan that lets two live
tensors collide is refused before anything runs."""

import copy

import numpy as np
import pytest
from conftest import SEED_MODELS, golden_doc, golden_input
from hypothesis import given, settings
from memplan_graphs import graphs

from int8sqz import Interpreter, InterpreterError
from int8sqz import arena as arena_mod
from int8sqz.arena import PlanError, validate_plan
from int8sqz.model import load_model
from int8sqz.planner import plan_model
from int8sqz.testing.reference import run_reference

PLANNERS = ("tflm", "optimized")


# -- execution ---------------------------------------------------------------------

@pytest.mark.parametrize("planner", PLANNERS)
@pytest.mark.parametrize("key", sorted(SEED_MODELS))
def test_seed_models_bit_exact_in_the_arena(key, planner, seed_models):
    from int8sqz.image import input_spec

    doc = golden_doc(key)
    it = Interpreter(model_path=str(seed_models[key]), arena=planner)
    it.allocate_tensors()
    plan = plan_model(it.model, planner)
    spec = input_spec(it.model)
    out = doc["output"]
    checked = 0
    for rec in doc["inputs"]:
        value = golden_input(key, doc, rec, spec)
        it.set_tensor(doc["input"]["tensor"], value)
        it.invoke()
        got = it.get_tensor(out["tensor"])
        want = np.array(rec["output"], dtype=out["dtype"]).reshape(out["shape"])
        assert got.dtype == want.dtype and np.array_equal(got, want), (
            f"{key} {rec['id']} in the {planner} arena: got {got}, expected {want}")
        checked += 1
    assert checked == len(doc["inputs"]) >= 30
    # the activations really are the arena's bytes at the planned offsets
    arena = it.tensor(out["tensor"])().base
    while getattr(arena, "base", None) is not None:
        arena = arena.base
    assert arena.nbytes == plan.arena_size
    for i, pl in plan.placements.items():
        a = it.tensor(i)()
        assert np.shares_memory(a, arena)
        assert a.__array_interface__["data"][0] - arena.__array_interface__["data"][0] == pl.offset


def test_optimized_plan_shares_what_it_claims(seed_models):
    """On a seed model the optimized arena overlaps conv1's output with its
    input, runs QUANTIZE/MUL/ADD in place and writes the expand convolutions
    into their concatenation's output."""
    it = Interpreter(model_path=str(seed_models["flowers"]), arena="optimized")
    it.allocate_tensors()
    model = it.model
    t = {i: it.tensor(i)() for i in range(len(model.tensors)) if model.tensors[i].data is None}
    conv1 = model.operators[1]
    assert np.shares_memory(t[conv1.inputs[0]], t[conv1.outputs[0]])
    q = model.operators[0]
    assert t[q.inputs[0]].ctypes.data == t[q.outputs[0]].ctypes.data
    for op in model.operators:
        if op.name in ("MUL", "ADD"):
            assert t[op.inputs[0]].ctypes.data == t[op.outputs[0]].ctypes.data
        if op.name == "CONCATENATION":
            for i in op.inputs:
                assert np.shares_memory(t[i], t[op.outputs[0]])
                assert not t[i].flags.c_contiguous


@settings(max_examples=30)
@given(graphs(max_ops=6))
def test_generated_models_match_the_reference_in_the_arena(graph):
    inputs = graph.random_inputs(7)
    want = run_reference(graph.content, inputs)
    for planner in PLANNERS:
        it = Interpreter(model_content=graph.content, arena=planner)
        it.allocate_tensors()
        for d, v in zip(it.get_input_details(), inputs):
            it.set_tensor(d["index"], v)
        it.invoke()
        for d, w in zip(it.get_output_details(), want):
            got = it.get_tensor(d["index"])
            assert got.dtype == w.dtype and np.array_equal(got, w), (planner, graph.description)


def test_unknown_arena_is_refused():
    with pytest.raises(InterpreterError):
        Interpreter(model_path=str(SEED_MODELS["flowers"]), arena="fastest")


# -- the check catches wrong plans ---------------------------------------------------------

@pytest.fixture(scope="module")
def flowers():
    return load_model(SEED_MODELS["flowers"])


def _moved(plan, tensor, offset):
    bad = copy.deepcopy(plan)
    bad.placements[tensor].offset = offset
    return bad


def test_valid_plans_pass(flowers):
    for planner in PLANNERS:
        validate_plan(plan_model(flowers, planner))


def test_overlapping_live_tensors_are_refused(flowers):
    plan = plan_model(flowers, "tflm")
    e1x1, e3x3 = flowers.operators[6].outputs[0], flowers.operators[7].outputs[0]
    bad = _moved(plan, e3x3, plan.placements[e1x1].offset)  # both live at operators 7 and 8
    pair = f"tensor {e1x1} .*tensor {e3x3}|tensor {e3x3} .*tensor {e1x1}"
    with pytest.raises(PlanError, match=pair):
        validate_plan(bad)


def test_a_wrong_plan_gives_wrong_outputs_unless_refused(flowers, monkeypatch):
    """The same collision, run without the check, changes the result; with
    the check the interpreter refuses to allocate."""
    plan = plan_model(flowers, "tflm")
    e1x1, e3x3 = flowers.operators[6].outputs[0], flowers.operators[7].outputs[0]
    bad = _moved(plan, e3x3, plan.placements[e1x1].offset)
    monkeypatch.setattr(arena_mod, "plan_model", lambda *a, **k: copy.deepcopy(bad))
    path = str(SEED_MODELS["flowers"])
    with pytest.raises(PlanError):
        Interpreter(model_path=path, arena="tflm").allocate_tensors()
    monkeypatch.setattr(arena_mod, "validate_plan", lambda plan: None)
    it = Interpreter(model_path=path, arena="tflm")
    it.allocate_tensors()
    value = np.random.default_rng(3).integers(0, 256, (1, 128, 128, 3), dtype=np.uint8)
    it.set_tensor(flowers.inputs[0], value)
    it.invoke()
    got = it.get_tensor(flowers.outputs[0])
    want = run_reference(path, [value])[0]
    assert not np.array_equal(got, want)


def test_aliasing_beyond_the_rules_is_refused(flowers):
    plan = plan_model(flowers, "optimized")
    conv1 = flowers.operators[1]
    src, dst = conv1.inputs[0], conv1.outputs[0]
    # conv1's output may reach into its input only as far as kernels/conv.py allows
    from int8sqz.planner import overlap_shift

    d = overlap_shift(flowers, conv1, plan.shapes)
    assert plan.placements[dst].offset - plan.placements[src].offset <= d
    assert plan.placements[dst].offset + plan.placements[dst].nbytes > plan.placements[src].offset
    too_close = copy.deepcopy(plan)
    for i in (conv1.inputs[0], flowers.inputs[0]):  # the input and its in-place partner
        too_close.placements[i].offset = plan.placements[dst].offset - d - 16
    with pytest.raises(PlanError):
        validate_plan(too_close)
    # an in-place output one step off its input
    mul = next(op for op in flowers.operators if op.name == "MUL")
    with pytest.raises(PlanError):
        validate_plan(_moved(plan, mul.outputs[0], plan.placements[mul.outputs[0]].offset + 16))
    # a concatenation slice one channel off its place
    cat = next(op for op in flowers.operators if op.name == "CONCATENATION")
    with pytest.raises(PlanError):
        validate_plan(_moved(plan, cat.inputs[1], plan.placements[cat.inputs[1]].offset + 1))
    # a skipped operator that is not a copy-free concatenation
    bad = copy.deepcopy(plan)
    bad.skip_ops.add(conv1.index)
    with pytest.raises(PlanError):
        validate_plan(bad)
    # a tensor past the end of the arena
    with pytest.raises(PlanError):
        validate_plan(_moved(plan, dst, plan.arena_size))


def test_optimized_plan_overlaps_depthwise_rows():
    """On a MobileNet-v2-like network the optimized arena lets depthwise
    outputs overlap their consumed input rows (kernels/depthwise.py's rule),
    and the outputs stay the reference's."""
    from int8sqz.testing.networks import MobileNetV2Spec, mobilenet_v2

    spec = MobileNetV2Spec(seed=31)
    content = mobilenet_v2(spec)
    it = Interpreter(model_content=content, arena="optimized")
    it.allocate_tensors()
    model = it.model
    overlapping = [op for op in model.operators if op.name == "DEPTHWISE_CONV_2D"
                   and np.shares_memory(it.tensor(op.inputs[0])(), it.tensor(op.outputs[0])())]
    assert overlapping, "no depthwise output shares bytes with its input"
    x = spec.input_array(np.random.default_rng(4))
    it.set_tensor(model.inputs[0], x)
    it.invoke()
    want = run_reference(content, [x])[0]
    got = it.get_tensor(model.outputs[0])
    assert got.dtype == want.dtype and np.array_equal(got, want)
