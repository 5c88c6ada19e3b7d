"""int8sqz's desktop numerics against the live runtimes on generated
one-operator models: ``Interpreter(numerics="builtin")`` must give exactly
what ai-edge-litert's optimized builtin kernels give, and
``numerics="xnnpack"`` exactly what its default interpreter gives (values,
dtype and shape, bit for bit), each with 1 and 2 threads; and the engine must
run an operator with XNNPACK's arithmetic exactly when the delegate takes it
(the runtime's execution plan holds a DELEGATE node).

Where the runtime refuses the model, the engine must refuse it with a
ModelError naming the numerics; where the engine says a case is not
modelled (an UnsupportedError saying so), it is counted and reported, and
the runtime is not run (it crashes on some of them). The
cases are the numerics oracles' (tests/numerics_cases.py), plus the generic
strategies' uint8 and float32 models."""

import collections

import numpy as np
import pytest
from hypothesis import given

import numerics_cases as C
from int8sqz import Interpreter
from int8sqz.errors import ModelError, UnsupportedError
from int8sqz.model import load_model
from int8sqz.ops import REGISTRY
from int8sqz.testing.runtimes import delegated_operators, run_runtime, runtime_interpreter

MODES = ("builtin", "xnnpack")
THREADS = (1, 2)
CASES = C.operator_cases(types=True)

#: (operator, what) -> count; what: "<mode> equal", "<mode> differs from the
#: reference", "<mode> not modelled", "<mode> refused", "xnnpack delegated"
SEEN = collections.Counter()


def same(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal type, shape and bytes (NaN payloads included)."""
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def engine_run(content, inputs, numerics: str, threads: int = 1):
    """(interpreter, outputs) of int8sqz in ``numerics``."""
    it = Interpreter(model_content=content, numerics=numerics, num_threads=threads)
    it.allocate_tensors()
    for d, x in zip(it.get_input_details(), inputs):
        it.set_tensor(d["index"], x)
    it.invoke()
    return it, [it.get_tensor(d["index"]) for d in it.get_output_details()]


def check_engine(case, modes=MODES, threads=THREADS):
    """Every mode and thread count: the engine's outputs are the runtime's.
    Returns the reference runtime's outputs (None when int8sqz refuses the
    model in every numerics)."""
    model = load_model(case.content)
    unsupported = [op.name for op in model.operators if op.name not in REGISTRY]
    if unsupported:
        pytest.skip(f"int8sqz does not run {', '.join(sorted(set(unsupported)))} yet")
    try:
        Interpreter(model_content=case.content)
    except UnsupportedError:
        SEEN[(case.op, "unsupported by int8sqz")] += 1
        return
    reference = run_runtime(case.content, case.inputs, "reference")
    for mode in modes:
        for t in threads:
            # the engine first: what it refuses as not modelled may crash the runtime
            refused = None
            try:
                it, got = engine_run(case.content, case.inputs, mode, t)
            except UnsupportedError as exc:
                assert "not modelled" in str(exc), f"{mode}: {exc}; {case.describe()}"
                SEEN[(case.op, f"{mode} not modelled")] += t == 1
                continue
            except ModelError as exc:
                refused = exc
            try:
                want = run_runtime(case.content, case.inputs, mode, num_threads=t)
            except (RuntimeError, ValueError):
                assert refused is not None and f"under numerics '{mode}'" in str(refused), (
                    f"{mode}: the runtime refuses the model, int8sqz "
                    f"{'refuses it otherwise: ' + str(refused) if refused else 'runs it'}; "
                    f"{case.describe()}")
                SEEN[(case.op, f"{mode} refused")] += t == 1
                continue
            assert refused is None, f"{mode}: int8sqz refuses what the runtime runs: {refused}"
            assert len(got) == len(want)
            for k, (w, g) in enumerate(zip(want, got)):
                assert same(g, w), (
                    f"{mode}, {t} thread(s), output {k}: int8sqz {g.dtype}{list(g.shape)} "
                    f"differs from the runtime {w.dtype}{list(w.shape)} in "
                    f"{int(np.sum(g != w)) if g.shape == w.shape else 'shape'} elements; "
                    f"{case.describe()}")
            if t == 1:
                SEEN[(case.op, f"{mode} equal")] += 1
                SEEN[(case.op, f"{mode} differs from the reference")] += not all(
                    same(w, r) for w, r in zip(want, reference))
                if mode == "xnnpack" and len(model.operators) == 1:
                    check_partition(case, it)
    return reference


def check_partition(case, it) -> None:
    """The engine runs the operator with XNNPACK's arithmetic exactly when
    the runtime hands it to the delegate."""
    delegated = delegated_operators(runtime_interpreter(case.content, "xnnpack")) > 0
    runs = it.nodes[0].params["numerics"]
    assert (runs == "xnnpack") == delegated, (
        f"the runtime {'delegates' if delegated else 'does not delegate'} the operator, "
        f"int8sqz runs it with the {runs} numerics; {case.describe()}")
    SEEN[(case.op, "xnnpack delegated")] += delegated


class _Report:
    """Prints SEEN at the end of the session."""

    def pytest_terminal_summary(self, terminalreporter):
        if not SEEN:
            return
        terminalreporter.section("numerics engine: generated models per operator (1 thread)")
        ops = sorted({op for op, _ in SEEN})
        kinds = sorted({what for _, what in SEEN})
        for op in ops:
            row = ", ".join(f"{what} {SEEN[(op, what)]}" for what in kinds if SEEN[(op, what)])
            terminalreporter.write_line(f"{op:18s} {row}")


@pytest.fixture(autouse=True, scope="module")
def _report(pytestconfig):
    if not pytestconfig.pluginmanager.has_plugin("int8sqz-numerics-engine-report"):
        pytestconfig.pluginmanager.register(_Report(), "int8sqz-numerics-engine-report")


@pytest.mark.parametrize("group", sorted(CASES))
def test_engine_equals_the_runtime(group):
    """The profile's examples per group (50; the deep profile 500): each
    runs the runtime and the engine in both modes and thread counts."""
    strategy, _ = CASES[group]

    @given(strategy)
    def check(case):
        check_engine(case)

    check()


@pytest.mark.parametrize("name", sorted(C.SEPARATING))
def test_engine_follows_each_runtime_where_it_parts_from_the_reference(name):
    """The fixed cases where a runtime computes other integers than the
    reference: the engine computes the runtime's."""
    make, modes = C.SEPARATING[name]
    case = make()
    reference = check_engine(case)
    if reference is None:  # int8sqz refuses it: counted by check_engine
        return
    for mode in modes:
        _, got = engine_run(case.content, case.inputs, mode)
        assert not all(same(g, r) for g, r in zip(got, reference)), f"{name}: {mode}"


def test_builtin_mean_follows_num_threads():
    """The optimized int8 MEAN over height and width rounds each worker's
    whole 16-channel blocks half up: its integers change with the thread
    count, and the engine's follow ``num_threads``."""
    case = C.mean_threads_case()
    one = engine_run(case.content, case.inputs, "builtin", 1)[1][0]
    two = engine_run(case.content, case.inputs, "builtin", 2)[1][0]
    assert not np.array_equal(one, two)
    assert same(one, run_runtime(case.content, case.inputs, "builtin", num_threads=1)[0])
    assert same(two, run_runtime(case.content, case.inputs, "builtin", num_threads=2)[0])


def test_xnnpack_refuses_what_the_default_interpreter_refuses():
    case = C.large_scale_conv_case()
    with pytest.raises(RuntimeError):
        runtime_interpreter(case.content, "xnnpack")
    with pytest.raises(ModelError, match="at least 256"):
        Interpreter(model_content=case.content, numerics="xnnpack")
    check_engine(case)
