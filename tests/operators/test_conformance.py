"""Every registered operator unit is complete: it states every fact the
engine asks of it (what it computes in each numerics included: "the same
as the reference" is a statement too), and the test layers each have their
part for it: a
hypothesis strategy (int8sqz.testing.strategies.OPERATOR_CASES), a naive
oracle (tests/naive ORACLES), a differential test against the reference
(a tests/operators/test_differential_*.py module listing it in OPERATORS)
and a fuzz seed (a small model among tests/fuzzing.py's seeds that uses it).
A failure names the operator and the missing part."""

import importlib.util
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings

import fuzzing
from int8sqz import Interpreter
from int8sqz.model import load_model
from int8sqz.ops import REGISTRY
from int8sqz.ops.unit import (
    NUMERICS, AccessTrace, CopySkipped, Node, Numerics, OperatorUnit, PersistentBuffer, Sharing,
    TempTensor, TflmAllocations,
)
from int8sqz.planner import plan_model
from int8sqz.planner.tflm_arena import tflm_arena
from int8sqz.testing import strategies as S
from int8sqz.testing.writer import model_def
from naive import ORACLES

HERE = Path(__file__).resolve().parent
UNITS = sorted(REGISTRY)


def _differential_operators() -> dict:
    """operator -> the differential test modules that list it."""
    found = {}
    for path in sorted(HERE.glob("test_differential_*.py")):
        spec = importlib.util.spec_from_file_location(f"_conformance_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        tests = [n for n in vars(module) if n.startswith("test_")]
        for name in getattr(module, "OPERATORS", ()):
            if tests:
                found.setdefault(name, []).append(path.name)
    return found


def _seed_operators() -> set:
    names = set()
    for name in fuzzing.seed_names(real=False):
        names.update(op.name for op in load_model(fuzzing.seeds()[name]).operators)
    return names


@pytest.fixture(scope="module")
def differential():
    return _differential_operators()


@pytest.fixture(scope="module")
def seeded():
    return _seed_operators()


def test_registry_maps_names_to_their_units():
    for name, unit in REGISTRY.items():
        assert isinstance(unit, OperatorUnit), name
        assert unit.name == name, f"{name}: REGISTRY key and unit name differ ({unit.name})"


@pytest.mark.parametrize("name", UNITS)
def test_unit_states_every_fact(name):
    unit = REGISTRY[name]
    for fact in ("prepare", "version", "per_image", "macs", "tflm_scratch", "tflm_persistent",
                 "tflm_sharing"):
        assert callable(getattr(unit, fact)), f"{name}: the unit's {fact} is not a function"
    assert isinstance(unit.sharing, Sharing), f"{name}: the unit's sharing is not a Sharing"
    if unit.sharing != Sharing():
        assert unit.sharing.kernel, f"{name}: a sharing rule must name the kernel it relies on"
    assert unit.options is None or isinstance(unit.options, str), name
    assert isinstance(dict(unit.defaults), dict), name


@pytest.mark.parametrize("name", UNITS)
def test_unit_states_every_numerics(name):
    """For the reference, TFLite's optimized builtin kernels and XNNPACK: a
    statement of what the runtime computes, the prepare step that computes
    it (None: the reference's), and for XNNPACK which operators the
    delegate takes."""
    unit = REGISTRY[name]
    assert set(unit.numerics) == set(NUMERICS) - {"reference"}, name
    assert unit.numerics_for("reference").prepare is unit.prepare, name
    for mode in NUMERICS:
        entry = unit.numerics_for(mode)
        assert isinstance(entry, Numerics), f"{name}: numerics {mode!r} is not a Numerics"
        assert entry.says.strip(), f"{name}: numerics {mode!r} states nothing"
        assert entry.prepare is None or callable(entry.prepare), f"{name}: {mode!r} prepare"
    assert callable(unit.numerics["xnnpack"].delegated), (
        f"{name}: the xnnpack numerics must say which operators the delegate takes")


@pytest.mark.parametrize("name", UNITS)
def test_unit_has_a_strategy(name):
    assert name in S.OPERATOR_CASES, (
        f"{name}: no hypothesis strategy in int8sqz.testing.strategies.OPERATOR_CASES")


@pytest.mark.parametrize("name", UNITS)
def test_unit_has_an_oracle(name):
    assert callable(ORACLES.get(name)), f"{name}: no naive oracle in tests/naive ORACLES"


@pytest.mark.parametrize("name", UNITS)
def test_unit_has_a_differential_test(name, differential):
    assert name in differential, (
        f"{name}: no tests/operators/test_differential_*.py module lists it in OPERATORS")


@pytest.mark.parametrize("name", UNITS)
def test_unit_has_a_fuzz_seed(name, seeded):
    assert name in seeded, f"{name}: no small seed model in tests/fuzzing.py uses it"


@pytest.mark.parametrize("name", [n for n in UNITS if n in S.OPERATOR_CASES])
def test_unit_facts_answer_on_generated_models(name):
    """Each fact gives an answer of the right kind on models the strategy
    draws, and prepare gives a Node for the operator it was given."""

    @settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck))
    @given(S.OPERATOR_CASES[name]())
    def check(case):
        model = load_model(case.content)
        shapes = [t.shape for t in model.tensors]
        it = Interpreter(model_content=case.content)
        ops = [op for op in model.operators if op.name == name]
        assert ops, f"{name}: the strategy drew a model without it"
        for node in it.nodes:
            assert isinstance(node, Node) and isinstance(node.params, dict)
        md = model_def(model)
        unit = REGISTRY[name]
        for op in ops:
            macs = unit.macs(op, shapes)
            assert isinstance(macs, int) and macs >= 0, f"{name}: macs gave {macs!r}"
            assert isinstance(unit.per_image(op, model, shapes), bool), name
            sizes = unit.tflm_scratch(op, model, shapes)
            assert all(isinstance(n, int) and n >= 0 for n in sizes), name
            version = unit.version(md.operators[op.index], md.tensors)
            assert isinstance(version, int) and version >= 1, name
            assert version == op.version, (
                f"{name}: the unit says version {version}, the writer wrote {op.version}")
            if unit.sharing.rows is not None:
                window = unit.sharing.rows(op, shapes)
                assert window is None or window.filter_height >= 1, name
            fact = unit.tflm_persistent(op, model, shapes)
            assert isinstance(fact, TflmAllocations) and fact.kernel, (
                f"{name}: tflm_persistent gave {fact!r}, expected TflmAllocations naming "
                f"TFLite Micro's kernel")
            for event in fact.prepare:
                assert isinstance(event, (TempTensor, PersistentBuffer)), (name, event)
            for k in range(len(op.inputs)):
                rule = unit.tflm_sharing(op, k, model, shapes)
                assert rule is None or isinstance(rule, (AccessTrace, CopySkipped)), (name, rule)
                if isinstance(rule, AccessTrace):
                    assert len(rule.read_min) == len(rule.write_end) and rule.rule, name
        assert math.prod(shapes[ops[0].outputs[0]]) >= 0

    check()


#: units whose strategy draws no model tflite-micro accepts, and why
TFLM_REFUSES_ALL = {"TILE": "tflite-micro has no TILE kernel"}


@pytest.mark.parametrize("name", [n for n in UNITS if n in S.OPERATOR_CASES])
def test_unit_tflm_allocations_are_tflite_micro_s(name):
    """What the unit says TFLite Micro's kernel allocates
    (``tflm_persistent``), added up by int8sqz.planner.tflm_arena, is the
    persistent tail tflite-micro reports for the models the unit's strategy
    draws and tflite-micro accepts (its kernels refuse some TFLite accepts:
    non-constant parameters, other ranks), to the byte; tflite-micro refuses
    the models whose operator the unit says it has no kernel for."""
    from int8sqz.testing import tflm

    loaded, refused, decided = [], [], []

    @settings(max_examples=10, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(S.OPERATOR_CASES[name]())
    def check(case):
        model = load_model(case.content)
        shapes = [t.shape for t in model.tensors]
        op = next(op for op in model.operators if op.name == name)
        registered = REGISTRY[name].tflm_persistent(op, model, shapes).registered
        with tflm.captured_stderr():
            try:
                usage = tflm.arena_usage(case.content)
            except RuntimeError:
                usage = None  # tflite-micro's kernel refuses the case (or has none)
        assume(usage is not None or not registered)
        if usage is None:
            refused.append(case)
            return
        assert registered, f"{name}: tflite-micro runs a model with it, the unit says it cannot"
        predicted = tflm_arena(model, plan_model(model, "tflm").arena_size)
        assert (predicted.head, predicted.tail) == (usage["head"], usage["tail"]), (
            f"{name}: predicted head/tail {predicted.head}/{predicted.tail}, tflite-micro "
            f"{usage['head']}/{usage['tail']} on {case.describe()}")
        if len(loaded) < 2:
            # the smallest arena: it works, none of the 16 sizes below does (on
            # these small models the Prepare's temporary tensors often decide)
            size = predicted.arena_size
            works = tflm.allocates_each(case.content, range(size - 16, size + 1))
            assert works == [False] * 16 + [True], (name, size, predicted.decided_by,
                                                    case.describe())
            decided.append(predicted.decided_by)
        loaded.append(case)

    check()
    if name in TFLM_REFUSES_ALL:
        assert refused and not loaded, f"{name}: listed as refused, yet tflite-micro ran it"
    else:
        assert loaded, f"{name}: tflite-micro refused every case drawn: nothing was compared"
