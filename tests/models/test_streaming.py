"""Streaming execution (int8sqz.planner.streaming, int8sqz.streaming,
``Interpreter(arena="streaming")``): stages of operators run a band of rows
at a time inside one byte array.

* the seed models: at most 150 KiB of arena, every golden input's output
  equal to golden/, and on the inputs with full intermediates every
  operator output run whole and every band of rows a stage makes equal to
  the reference's rows;
* generated SqueezeNets (int8sqz.testing.networks): below TFLite Micro's
  arena, every band and output equal to TFLite's reference kernels;
* generated chains (streaming_graphs.chains): any stages, band heights,
  halos kept or recomputed, over convolutions of any stride, dilation and
  padding, pools, PAD, elementwise operators and fire modules: every band
  and output equal to the reference;
* the check refuses wrong schedules and placements before anything runs,
  and such a plan run unchecked gives wrong outputs.
"""

import copy

import numpy as np
import pytest
from conftest import (
    GOLDEN_DIR, MODELS_DIR, SEED_MODELS, golden_doc, golden_input, load_make_golden,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from streaming_graphs import chains

from int8sqz import Interpreter, InterpreterError
from int8sqz import arena as arena_mod
from int8sqz.arena import PlanError, validate_streaming_plan
from int8sqz.model import load_model
from int8sqz.planner import plan_model
from int8sqz.planner.streaming import (
    StageError, cached_plan, plan_stages, plan_streaming, streamable,
)
from int8sqz.testing.networks import (
    MobileNetV2Spec, ResNetSpec, SqueezeNetSpec, mobilenet_v2, resnet, squeezenet,
)
from int8sqz.testing.reference import run_reference

LIMIT = 150 * 1024  # the target for the seeds: a third of the published 450 KiB


class RowCheck:
    """An ``observe`` callback for StreamingRun.invoke: every operator
    output run whole and every band of rows made must equal ``want``
    (tensor -> the reference's whole array); counts the rows checked."""

    def __init__(self, want, where):
        self.want, self.where = want, where
        self.rows = {}

    def __call__(self, op, tensor, rows, first):
        ref = self.want[tensor][:, first:first + rows.shape[1]]
        if not np.array_equal(rows, ref):
            bad = np.argwhere(rows != ref)[0]
            pytest.fail(f"{self.where}: operator {op} output tensor {tensor}, rows {first}.."
                        f"{first + rows.shape[1] - 1}: first difference at {bad.tolist()}: "
                        f"got {rows[tuple(bad)]}, expected {ref[tuple(bad)]}")
        self.rows.setdefault(tensor, set()).update(range(first, first + rows.shape[1]))


def _check_coverage(check, plan):
    """Every operator's output was checked: every row of it when it runs
    whole, every row its stage makes otherwise."""
    model = plan.model
    made = {}
    for s in plan.stages:
        for acts in s.steps:
            for a in acts:
                made.setdefault(a.op, set()).update(range(a.first, a.last))
    for op in model.operators:
        if op.index in plan.skip_ops:
            continue
        for t in op.outputs:
            shape = plan.shapes[t]
            want = made.get(op.index, set(range(shape[1] if len(shape) == 4 else 1)))
            got = check.rows.get(t, set())
            assert got >= want and got, (
                f"{check.where}: operator {op.index} tensor {t}: rows "
                f"{sorted(want - got)[:8]} not checked")


# -- the seed models and the zoo's image classifiers --------------------------------------

make_golden = load_make_golden()
#: model -> the arena it must fit: the seeds a third of the published 450 KiB
#: (the issue's target); the zoo's image classifiers below TFLite Micro's greedy
#: arena and STM32Cube.AI's published figure (../shared/models/zoo/README.md)
TARGETS = {
    "flowers": LIMIT, "food-101": LIMIT, "plant-village": LIMIT,
    "mobilenet_v2-flowers": int(224.5 * 1024), "mobilenet_v2-person": int(224.5 * 1024),
    "fdmobilenet-flowers": 98_304, "resnet8-cifar10": 49_152,
}
PATHS = {**SEED_MODELS, **{k: MODELS_DIR / make_golden.ZOO[k] for k in TARGETS
                           if k in make_golden.ZOO}}


@pytest.mark.parametrize("key", sorted(TARGETS))
def test_bit_exact_within_target(key, seed_models):
    """Every golden input's outputs equal golden/; on the inputs with full
    intermediates, every band and every operator output equal the
    reference's; the arena below the target (and below TFLite Micro's)."""
    doc = golden_doc(key)
    it = Interpreter(model_path=str(PATHS[key]), arena="streaming")
    it.allocate_tensors()
    plan = it._plan
    assert plan.planner == "streaming"
    tflm = plan_model(it.model, "tflm").arena_size
    assert plan.arena_size < TARGETS[key] and plan.arena_size < tflm, (
        f"{key}: {plan.arena_size} bytes, target {TARGETS[key]}, TFLite Micro {tflm}")
    if not plan.stages:
        # no stage helps: the graph input alone is the peak (FD-MobileNet)
        assert key == "fdmobilenet-flowers", key
        inputs = sum(plan.placements[i].nbytes for i in it.model.inputs)
        assert plan.arena_size == inputs
    spec = make_golden.input_spec_of(it.model)
    full = {}
    with np.load(GOLDEN_DIR / doc["full_intermediates"]) as z:
        for name in z.files:
            rec_id, t = name.rsplit("__t", 1)
            full.setdefault(rec_id, {})[int(t)] = z[name]
    outs = [doc["output"]] + list(doc.get("outputs", ())[1:])
    checked = full_checked = 0
    for rec in doc["inputs"]:
        it.set_tensor(doc["input"]["tensor"], golden_input(key, doc, rec, spec))
        if rec["full"] and it._stream is not None:
            check = RowCheck(full[rec["id"]], f"{key} {rec['id']}")
            it._stream.invoke(it._arrays, observe=check)
            _check_coverage(check, plan)
            full_checked += 1
        else:
            it.invoke()
        shas = [rec["output_sha256"]] + list(rec.get("outputs_sha256", ())[1:])
        for o, sha in zip(outs, shas):
            got = it.get_tensor(o["tensor"])
            assert _sha(got) == sha, f"{key} {rec['id']}: output tensor {o['tensor']} differs"
        if "output" in rec:
            want = np.array(rec["output"], dtype=doc["output"]["dtype"]).reshape(
                doc["output"]["shape"])
            assert np.array_equal(it.get_tensor(doc["output"]["tensor"]), want)
        checked += 1
    assert checked == len(doc["inputs"]) >= 12
    assert full_checked >= 1 or not plan.stages


def _sha(a):
    import hashlib

    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def test_seed_arrays_are_the_arena(seed_models):
    """Whole tensors and band buffers are views of one array of the planned
    size; a tensor inside a stage has no array at all."""
    it = Interpreter(model_path=str(seed_models["flowers"]), arena="streaming")
    it.allocate_tensors()
    plan = it._stream.plan
    model = it.model
    arena = None
    for i, pl in plan.placements.items():
        a = it.tensor(i)()
        base = a
        while base.base is not None:
            base = base.base
        arena = base if arena is None else arena
        assert base is arena
        assert a.ctypes.data - arena.ctypes.data == pl.offset
    assert arena.nbytes == plan.arena_size
    for s, off in zip(plan.stages, plan.block_offsets):
        for t, b in s.buffers.items():
            a = it._stream.band_arrays[t]
            assert np.shares_memory(a, arena) and a.nbytes == b.nbytes
            assert a.ctypes.data - arena.ctypes.data == off + b.offset
            assert it._arrays[t] is None
            with pytest.raises(InterpreterError, match="streamed stage"):
                it.get_tensor(t)
    assert sum(len(s.buffers) for s in plan.stages) >= 5
    # conv1's output (357,216 bytes) is never whole: a few of its rows at a time
    conv1 = model.operators[1].outputs[0]
    assert any(conv1 in s.buffers and s.buffers[conv1].rows < 8 for s in plan.stages)


def test_budget_zero_keeps_every_halo(seed_models):
    model = load_model(seed_models["flowers"])
    plan = plan_streaming(model, max_extra_macs=0.0)
    assert plan.stages and all(not s.recompute for s in plan.stages)
    assert plan.extra_macs <= 0 and plan.arena_size <= LIMIT


# -- generated SqueezeNets ----------------------------------------------------------------------

SPECS = [
    SqueezeNetSpec("1.0", 96, 96, 10, batch_norm=True, bypass=True, seed=1),
    SqueezeNetSpec("1.1", 112, 80, 7, batch_norm=False, input_type="FLOAT32", seed=2),
    SqueezeNetSpec("1.1", 64, 64, 3, bypass=True, input_type="INT8", output_type="UINT8",
                   seed=3),
    MobileNetV2Spec(96, 80, 5, seed=4),
    ResNetSpec(40, 32, 10, input_type="FLOAT32", seed=5),
]
BUILDERS = {SqueezeNetSpec: squeezenet, MobileNetV2Spec: mobilenet_v2, ResNetSpec: resnet}


def _reference_run(content, inputs):
    ref = run_reference(content, inputs, all_tensors=True)
    return ref


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_generated_networks_match_the_reference(spec):
    content = BUILDERS[type(spec)](spec)
    model = load_model(content)
    plan = plan_streaming(model)
    tflm = plan_model(model, "tflm").arena_size
    assert plan.arena_size < tflm, (spec.name, plan.arena_size, tflm)
    _run_against_reference(content, plan, [spec.input_array(np.random.default_rng(5))],
                           spec.name)


@st.composite
def squeezenet_specs(draw):
    return SqueezeNetSpec(
        draw(st.sampled_from(("1.0", "1.1"))), draw(st.integers(48, 160)),
        draw(st.integers(48, 160)), draw(st.integers(2, 40)), draw(st.booleans()),
        draw(st.booleans()), draw(st.sampled_from(("UINT8", "FLOAT32", "INT8"))),
        draw(st.sampled_from(("FLOAT32", "UINT8", "INT8"))), draw(st.integers(0, 1000)))


@settings(max_examples=max(1, settings.default.max_examples // 25), deadline=None,
          suppress_health_check=list(HealthCheck))
@given(squeezenet_specs())
def test_any_generated_squeezenet(spec):
    """Any variant (version, input size, classes, batch norm, bypass, input
    and output types): below TFLite Micro's arena, every band and output
    equal to the reference's (2 variants; 20 with the deep profile)."""
    test_generated_networks_match_the_reference(spec)


def _run_against_reference(content, plan, inputs, where):
    tensors = _all_reference_tensors(content, inputs)
    it = Interpreter(model_content=content, arena=plan)
    it.allocate_tensors()
    for d, v in zip(it.get_input_details(), inputs):
        it.set_tensor(d["index"], v)
    check = RowCheck(tensors, where)
    if it._stream is not None:
        it._stream.invoke(it._arrays, observe=check)
        _check_coverage(check, it._stream.plan)
    else:
        it.invoke()
    for d in it.get_output_details():
        got, want = it.get_tensor(d["index"]), tensors[d["index"]]
        assert got.dtype == want.dtype and np.array_equal(got, want), where


def _all_reference_tensors(content, inputs):
    """Every tensor's value under TFLite's reference kernels, by index."""
    from int8sqz.testing.reference import reference_interpreter

    it = reference_interpreter(content)
    it.allocate_tensors()  # a path or the model's bytes
    for d, v in zip(it.get_input_details(), inputs):
        it.set_tensor(d["index"], v)
    it.invoke()
    model = load_model(content)
    out = {}
    for t in model.tensors:
        if t.is_constant:
            continue
        try:
            out[t.index] = it.get_tensor(t.index)
        except ValueError:
            pass
    return out


# -- generated chains ---------------------------------------------------------------------------

@settings(deadline=None, suppress_health_check=list(HealthCheck))
@given(chains(), st.data())
def test_any_stages_and_bands_match_the_reference(graph, data):
    model = load_model(graph.content)
    shapes = [t.shape for t in model.tensors]
    windows = streamable(model, shapes)
    runs, start = [], None
    for j, w in enumerate(list(windows) + [None]):
        if w is not None and start is None:
            start = j
        elif w is None and start is not None:
            runs.append((start, j - 1))
            start = None
    chosen = []
    for first, last in runs:
        f = data.draw(st.integers(first, last))
        while f < last:
            j = data.draw(st.integers(f + 1, last))
            if data.draw(st.booleans()):
                chosen.append((f, j, data.draw(st.integers(1, 5)), data.draw(st.booleans())))
            f = j + 1
    plans = []
    try:
        plans.append(plan_stages(model, shapes, chosen))
    except StageError:
        pass
    plans.append(plan_streaming(model, shapes))
    inputs = graph.random_inputs(data.draw(st.integers(0, 100)))
    for plan in plans:
        validate_streaming_plan(plan)
        stages = [(s.first, s.last, s.band, s.recompute) for s in plan.stages]
        _run_against_reference(graph.content, plan, inputs,
                               f"{graph.description}; stages {stages}")


# -- the check -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def flowers_plan():
    model = load_model(SEED_MODELS["flowers"])
    return cached_plan(model, [t.shape for t in model.tensors])


def _first_stage_with(plan, pred):
    for s in plan.stages:
        if pred(s):
            return s
    raise AssertionError("no such stage")


def test_valid_streaming_plan_passes(flowers_plan):
    validate_streaming_plan(flowers_plan)


def test_wrong_schedules_are_refused(flowers_plan):
    plan = flowers_plan
    keeps = _first_stage_with(plan, lambda s: any(b.keeps for b in s.buffers.values()))
    k = plan.stages.index(keeps)
    t = next(t for t, b in keeps.buffers.items() if b.keeps)

    bad = copy.deepcopy(plan)  # a band buffer one row short
    bad.stages[k].buffers[t].rows -= 1
    with pytest.raises(PlanError, match="do not fit|lies outside|holds rows"):
        validate_streaming_plan(bad)

    bad = copy.deepcopy(plan)  # the rows kept for the next step not slid
    for acts in bad.stages[k].steps:
        for a in acts:
            a.move = None
    with pytest.raises(PlanError):
        validate_streaming_plan(bad)

    bad = copy.deepcopy(plan)  # another buffer written over the newest kept row
    s = bad.stages[k]
    other = next(u for u in s.buffers if u != t)
    kept = s.buffers[t]
    s.buffers[other].offset = kept.offset + (kept.rows - 1) * kept.row_bytes
    with pytest.raises(PlanError, match="holds rows|does not hold"):
        validate_streaming_plan(bad)

    bad = copy.deepcopy(plan)  # a step left out
    del bad.stages[k].steps[1]
    with pytest.raises(PlanError):
        validate_streaming_plan(bad)

    bad = copy.deepcopy(plan)  # an inner tensor said to be whole
    s = bad.stages[k]
    del s.buffers[t]
    with pytest.raises(PlanError, match="inside it only"):
        validate_streaming_plan(bad)


def test_blocks_apart_from_live_tensors(flowers_plan):
    plan = flowers_plan
    s = plan.stages[0]
    live = next(i for i in s.inputs if i in plan.placements)
    bad = copy.deepcopy(plan)
    bad.block_offsets[0] = plan.placements[live].offset
    with pytest.raises(PlanError, match="shares bytes with its band buffers"):
        validate_streaming_plan(bad)
    bad = copy.deepcopy(plan)
    bad.block_offsets[0] = plan.arena_size - 16
    with pytest.raises(PlanError, match="outside the arena"):
        validate_streaming_plan(bad)


def test_a_wrong_schedule_gives_wrong_outputs_unless_refused(monkeypatch):
    """A band buffer placed over rows kept for the next step: refused
    before it runs; run anyway, bands differ from the reference."""
    path = str(SEED_MODELS["flowers"])
    model = load_model(path)
    plan = cached_plan(model, [t.shape for t in model.tensors])
    s = _first_stage_with(plan, lambda s: any(b.keeps for b in s.buffers.values()))
    t = next(t for t, b in s.buffers.items() if b.keeps)
    other = next(u for u in s.buffers if u != t)
    bad = copy.deepcopy(plan)
    k = plan.stages.index(s)
    kept = bad.stages[k].buffers[t]  # the other buffer over the newest of the kept rows
    bad.stages[k].buffers[other].offset = kept.offset + (kept.rows - 1) * kept.row_bytes
    bad.model = model
    with pytest.raises(PlanError):
        Interpreter(model_path=path, arena=bad).allocate_tensors()
    monkeypatch.setattr(arena_mod, "validate_streaming_plan", lambda plan: None)
    it = Interpreter(model_path=path, arena=bad)
    it.allocate_tensors()
    value = np.random.default_rng(3).integers(0, 256, (1, 128, 128, 3), dtype=np.uint8)
    it.set_tensor(model.inputs[0], value)
    want = _all_reference_tensors(path, [value])
    differ = []

    def observe(op, tensor, rows, first):
        if not np.array_equal(rows, want[tensor][:, first:first + rows.shape[1]]):
            differ.append((op, tensor, first))

    it._stream.invoke(it._arrays, observe=observe)
    assert differ, "the overlapping band buffers changed nothing"


def test_a_plan_of_another_model_is_refused(flowers_plan):
    with pytest.raises(PlanError, match="another model"):
        Interpreter(model_path=str(SEED_MODELS["food-101"]), arena=flowers_plan
                    ).allocate_tensors()
