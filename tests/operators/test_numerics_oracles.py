"""The numerics oracles (tests/naive/numerics_builtin.py, numerics_xnnpack.py)
against the live runtimes on generated one-operator models: ai-edge-litert's
optimized builtin kernels and its default interpreter (XNNPACK), each with 1
and 2 threads, must give exactly the oracles' outputs (values, dtype and
shape). Fixed cases show that each modelled difference exists: there the
runtime parts from the reference and the oracle follows it."""

import collections

import numpy as np
import pytest
from hypothesis import given

import numerics_cases as C
from int8sqz.model import load_model
from int8sqz.testing import strategies as S
from int8sqz.testing.runtimes import run_runtime, runtime_interpreter
from naive import numerics_graph as graph
from naive.numerics_common import Refused

MODES = ("builtin", "xnnpack")
THREADS = (1, 2)

#: (operator, mode) -> [cases checked, cases whose runtime output differs from the reference]
SEEN = collections.defaultdict(lambda: [0, 0])


def oracle_outputs(case, mode, threads):
    model = load_model(case.content)
    tensors = graph.run_model(mode, model, case.inputs, num_threads=threads)
    return [tensors[o] for o in model.outputs]


def check_numerics(case, modes=MODES, threads=THREADS):
    """Every mode and thread count: the runtime's outputs equal the oracle's.
    A runtime that refuses the model must be one the oracle says refuses."""
    reference = run_runtime(case.content, case.inputs, "reference")
    for mode in modes:
        for t in threads:
            try:
                want = run_runtime(case.content, case.inputs, mode, num_threads=t)
            except (RuntimeError, ValueError):
                with pytest.raises(Refused):
                    oracle_outputs(case, mode, t)
                SEEN[(case.op, mode + " refused")][0] += 1
                continue
            got = oracle_outputs(case, mode, t)
            assert len(got) == len(want)
            for k, (w, g) in enumerate(zip(want, got)):
                assert g.dtype == w.dtype and g.shape == w.shape and np.array_equal(g, w), (
                    f"{mode}, {t} thread(s), output {k}: oracle {g.dtype}{list(g.shape)} "
                    f"differs from the runtime {w.dtype}{list(w.shape)} in "
                    f"{int(np.sum(g != w)) if g.shape == w.shape else 'shape'}; "
                    f"{case.describe()}")
            if t == 1:
                seen = SEEN[(case.op, mode)]
                seen[0] += 1
                seen[1] += not all(a.shape == b.shape and np.array_equal(a, b)
                                   for a, b in zip(want, reference))


class _Report:
    """Prints SEEN at the end of the session."""

    def pytest_terminal_summary(self, terminalreporter):
        if not SEEN:
            return
        terminalreporter.section("numerics oracles: generated models checked per operator "
                                 "and mode (of which the runtime differs from the reference)")
        for (op, mode), (n, d) in sorted(SEEN.items()):
            terminalreporter.write_line(f"{op:18s} {mode:17s} {n:5d} ({d})")


@pytest.fixture(autouse=True, scope="module")
def _report(pytestconfig):
    if not pytestconfig.pluginmanager.has_plugin("int8sqz-numerics-report"):
        pytestconfig.pluginmanager.register(_Report(), "int8sqz-numerics-report")




# -- every operator, on generated models --------------------------------------------------------

CASES = C.operator_cases()


@pytest.mark.parametrize("group", sorted(CASES))
def test_oracle_equals_the_runtime(group):
    strategy, factor = CASES[group]

    @S.more_examples(factor)
    @given(strategy)
    def check(case):
        check_numerics(case)

    check()


@pytest.mark.parametrize("name", sorted(C.SEPARATING))
def test_runtime_parts_from_reference_and_oracle_follows(name):
    make, modes = C.SEPARATING[name]
    case = make()
    reference = run_runtime(case.content, case.inputs, "reference")
    for mode in modes:
        want = run_runtime(case.content, case.inputs, mode)
        assert not all(w.shape == r.shape and np.array_equal(w, r)
                       for w, r in zip(want, reference)), f"{name}: {mode} equals the reference"
    check_numerics(case)


def test_mean_depends_on_the_thread_count():
    """The optimized int8 MEAN splits the channels between threads and rounds
    whole 16-channel blocks half up, the rest half away from zero: with 24
    channels, 1 thread rounds channels 16..23 away from zero, 2 threads
    round channels 0..11 and 12..23 away from zero."""
    case = C.mean_threads_case()
    one = run_runtime(case.content, case.inputs, "builtin", num_threads=1)[0]
    two = run_runtime(case.content, case.inputs, "builtin", num_threads=2)[0]
    assert not np.array_equal(one, two)
    assert np.array_equal(one, oracle_outputs(case, "builtin", 1)[0])
    assert np.array_equal(two, oracle_outputs(case, "builtin", 2)[0])


def test_xnnpack_refuses_large_requantization_scales():
    """A CONV_2D channel with in_scale * w_scale / out_scale >= 256: XNNPACK
    cannot create the operator and the default interpreter fails to prepare
    the model (the builtin kernels run it)."""
    case = C.large_scale_conv_case()
    with pytest.raises(RuntimeError):
        runtime_interpreter(case.content, "xnnpack")
    check_numerics(case)


def test_one_partition_per_operator_keeps_the_outputs():
    """With experimental_preserve_all_tensors the XNNPACK delegate makes one
    partition per operator (so every intermediate is readable); the outputs
    stay those of the default whole-graph partition."""
    case = C.add_recipe_case()
    it = runtime_interpreter(case.content, "xnnpack", preserve_all_tensors=True)
    assert sum(d["op_name"] == "DELEGATE" for d in it._get_ops_details()) == 1
    plain = run_runtime(case.content, case.inputs, "xnnpack")
    kept = run_runtime(case.content, case.inputs, "xnnpack", all_tensors=True)
    model = load_model(case.content)
    assert np.array_equal(kept[model.outputs[0]], plain[0])
