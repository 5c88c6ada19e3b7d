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
from hypothesis import strategies as st

import numerics_cases as C
from int8sqz.model import load_model
from int8sqz.testing import strategies as S
from int8sqz.testing.runtimes import run_runtime, runtime_interpreter
from int8sqz.testing.writer import GraphBuilder
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




# -- the SqueezeNet operators -------------------------------------------------------------------

@S.more_examples(3)
@given(st.one_of(S.quantize_cases(), C.quantize_tie_cases()))
def test_quantize(case):
    check_numerics(case)


@S.more_examples(3)
@given(st.one_of(S.dequantize_cases(), C.dequantize_long_cases()))
def test_dequantize(case):
    check_numerics(case)


@S.more_examples(3)
@given(st.one_of(S.conv_2d_cases(small_accumulators=True), S.conv_2d_cases()))
def test_conv_2d(case):
    check_numerics(case)


@S.more_examples(3)
@given(C.conv_gemv_cases())
def test_conv_2d_one_output_pixel(case):
    check_numerics(case)


@S.more_examples(3)
@given(st.one_of(S.pool_cases("MAX_POOL_2D"), C.max_pool_tie_cases()))
def test_max_pool_2d(case):
    check_numerics(case)


@S.more_examples(2)
@given(S.pool_cases("AVERAGE_POOL_2D"))
def test_average_pool_2d(case):
    check_numerics(case)


@S.more_examples(2)
@given(S.concatenation_cases())
def test_concatenation(case):
    check_numerics(case)


@S.more_examples(3)
@given(st.one_of(S.mean_cases(), S.mean_cases(realistic=True), C.mean_hw_cases()))
def test_mean(case):
    check_numerics(case)


@S.more_examples(2)
@given(st.one_of(S.softmax_cases(many_rows=True), S.softmax_cases(realistic=True)))
def test_softmax(case):
    check_numerics(case)


@S.more_examples(3)
@given(st.one_of(S.binary_cases("ADD"), S.binary_cases("ADD", realistic=True),
                 C.binary_tie_cases("ADD")))
def test_add(case):
    check_numerics(case)


@S.more_examples(3)
@given(st.one_of(S.binary_cases("MUL"), S.binary_cases("MUL", realistic=True),
                 C.binary_tie_cases("MUL")))
def test_mul(case):
    check_numerics(case)


# -- the zoo operators ----------------------------------------------------------------------------

@S.more_examples(3)
@given(C.depthwise_cases())
def test_depthwise_conv_2d(case):
    check_numerics(case)


@S.more_examples(3)
@given(C.fully_connected_cases())
def test_fully_connected(case):
    check_numerics(case)


@S.more_examples(2)
@given(C.pad_cases())
def test_pad_padv2(case):
    check_numerics(case)


@S.more_examples(3)
@given(C.movement_cases())
def test_reshape_transpose_tile_pack_reduce_max_maximum_minimum(case):
    check_numerics(case)


@S.more_examples(3)
@given(C.strided_slice_cases())
def test_strided_slice(case):
    check_numerics(case)


@S.more_examples(3)
@given(C.resize_bilinear_cases())
def test_resize_bilinear(case):
    check_numerics(case)


@S.more_examples(2)
@given(C.logistic_cases())
def test_logistic(case):
    check_numerics(case)


@S.more_examples(3)
@given(C.binary_tie_cases("SUB"))
def test_sub(case):
    check_numerics(case)


@S.more_examples(2)
@given(C.relu_cases())
def test_relu_relu6(case):
    check_numerics(case)


# -- each modelled difference exists ------------------------------------------------------------

def _model(op, shapes_types, out, options=None, constants=None):
    """One operator: ``shapes_types`` lists the graph inputs as (shape, type,
    scale, zero point); ``constants`` (name -> (array, scale, zero point))
    follow them; ``out`` is (shape, type, scale, zero point)."""
    g = GraphBuilder()
    ins = []
    for k, (shape, type_name, scale, zp) in enumerate(shapes_types):
        q = {} if scale is None else dict(scale=scale, zero_point=zp)
        ins.append(g.input(f"in{k}", shape, type_name, **q))
    for name, (data, scale, zp) in (constants or {}).items():
        q = {} if scale is None else dict(scale=scale, zero_point=zp)
        ins.append(g.constant(name, data, **q))
    shape, type_name, scale, zp = out
    q = {} if scale is None else dict(scale=scale, zero_point=zp)
    y = g.tensor("out", shape, type_name, **q)
    g.operator(op, ins, y, **(options or {}))
    g.output(y)
    return g.build()


def _rng(seed=0):
    return np.random.default_rng(seed)


def _quantize_ties():
    x = ((np.arange(-40, 40) + 0.5) * 0.25).astype(np.float32)
    return S.Case("QUANTIZE", _model("QUANTIZE", [((80,), "FLOAT32", None, None)],
                                     ((80,), "INT8", 0.25, 3)), [x])


def _dequantize_block():
    x = np.arange(-128, 128, dtype=np.int8)
    return S.Case("DEQUANTIZE", _model("DEQUANTIZE", [((256,), "INT8", 0.0010957220802083611,
                                                       -106)], ((256,), "FLOAT32", None, None)),
                  [x])


def _requantize_int8():
    x = np.arange(-128, 128, dtype=np.int8)
    return S.Case("QUANTIZE", _model("QUANTIZE", [((256,), "INT8", 0.3, 5)],
                                     ((256,), "INT8", 0.5, -3)), [x])


def _add_recipe():
    rng = _rng(0)
    data = [rng.integers(-128, 128, (4096,)).astype(np.int8) for _ in range(2)]
    content = _model("ADD", [((4096,), "INT8", 0.5, 51), ((4096,), "INT8", 0.3571428656578064,
                                                          -63)], ((4096,), "INT8", 1.0, 95))
    return S.Case("ADD", content, data)


def _mul_ties(seed):
    # power-of-two scales; seeds 0 and 2 are the first whose XNNPACK and
    # builtin outputs part from the reference
    rng = _rng(seed)
    sa, sb = (float(2.0 ** -rng.integers(1, 8)) for _ in range(2))
    so = float(sa * sb * 2.0 ** rng.integers(-2, 6))
    za, zb, zo = (int(v) for v in rng.integers(-128, 128, 3))
    content = _model("MUL", [((64,), "INT8", sa, za), ((64,), "INT8", sb, zb)],
                     ((64,), "INT8", so, zo))
    data = [rng.integers(-128, 128, 64).astype(np.int8) for _ in range(2)]
    return S.Case("MUL", content, data)


def _mean_threads():
    rng = _rng(2)
    x = rng.integers(-128, 128, (1, 2, 2, 24)).astype(np.int8)
    content = _model("MEAN", [((1, 2, 2, 24), "INT8", 0.5, 0)], ((1, 1, 1, 24), "INT8", 0.5, 0),
                     dict(keep_dims=True), dict(axes=(np.array([1, 2], np.int32), None, None)))
    return S.Case("MEAN", content, [x])


def _softmax_rows():
    # 64 rows; seed 21 is the first whose float table and fixed-point
    # reference round apart somewhere
    rng = _rng(21)
    scale = float(np.float32(2.0 ** rng.uniform(-6, 0)))
    content = _model("SOFTMAX", [((64, 64), "INT8", scale, 0)], ((64, 64), "INT8", 1 / 256, -128),
                     dict(beta=1.0))
    return S.Case("SOFTMAX", content, [rng.integers(-128, 128, (64, 64)).astype(np.int8)])


def _logistic_table():
    x = np.arange(-128, 128, dtype=np.int8)
    content = _model("LOGISTIC", [((256,), "INT8", 0.06902189552783966, 62)],
                     ((256,), "INT8", 1 / 256, -128))
    return S.Case("LOGISTIC", content, [x])


def _max_pool_bounds():
    x = np.array([99, 100, 101, 98], np.int8).reshape(1, 2, 2, 1)
    content = _model("MAX_POOL_2D", [((1, 2, 2, 1), "INT8", 2.0, 100)],
                     ((1, 2, 2, 1), "INT8", 2.0, 100),
                     dict(padding="SAME", stride_h=1, stride_w=1, filter_height=1,
                          filter_width=1, fused_activation_function="RELU_N1_TO_1"))
    return S.Case("MAX_POOL_2D", content, [x])


def _strided_slice_end_zero():
    x = np.array([1, 2, 3], np.int8)
    content = _model("STRIDED_SLICE", [((3,), "INT8", 1.0, 0)], ((0,), "INT8", 1.0, 0),
                     constants=dict(begin=(np.array([0], np.int32), None, None),
                                    end=(np.array([0], np.int32), None, None),
                                    strides=(np.array([1], np.int32), None, None)))
    return S.Case("STRIDED_SLICE", content, [x])


def _add_scalar_lut():
    content = _model("ADD", [((), "INT8", 1.0, -128)], ((1,), "INT8", 2.49, 127),
                     dict(fused_activation_function="RELU6"),
                     dict(b=(np.array([5], np.int8), 1.0, -19)))
    return S.Case("ADD", content, [np.array(3, np.int8)])


def _resize():
    # 7x6 -> 5x3, TensorFlow's legacy coordinates
    rng = _rng(0)
    h, w, oh, ow = (int(v) for v in rng.integers(1, 9, 4))
    content = _model("RESIZE_BILINEAR", [((1, h, w, 2), "INT8", 0.1, 0)],
                     ((1, oh, ow, 2), "INT8", 0.1, 0), {},
                     dict(size=(np.array([oh, ow], np.int32), None, None)))
    return S.Case("RESIZE_BILINEAR", content,
                  [rng.integers(-128, 128, (1, h, w, 2)).astype(np.int8)])


def _conv_exact():
    rng = _rng(5)
    w = rng.integers(-8, 9, (16, 1, 1, 4)).astype(np.int8)
    content = _model("CONV_2D", [((1, 8, 8, 4), "INT8", 2.0**-6, 0)], ((1, 8, 8, 16), "INT8",
                                                                      2.0**-9, 0),
                     dict(padding="SAME"),
                     dict(w=(w, 2.0**-6, 0), b=(np.zeros(16, np.int32), 2.0**-12, 0)))
    x = rng.integers(-6, 7, (1, 8, 8, 4)).astype(np.int8)
    return S.Case("CONV_2D", content, [x])


def _depthwise_exact():
    rng = _rng(6)
    w = rng.integers(-8, 9, (1, 3, 3, 12)).astype(np.int8)
    content = _model("DEPTHWISE_CONV_2D", [((1, 6, 6, 12), "INT8", 2.0**-6, 0)],
                     ((1, 6, 6, 12), "INT8", 2.0**-9, 0),
                     dict(padding="SAME", depth_multiplier=1, stride_h=1, stride_w=1,
                          version=3),
                     dict(w=(w, 2.0**-6, 0), b=(np.zeros(12, np.int32), 2.0**-12, 0)))
    x = rng.integers(-6, 7, (1, 6, 6, 12)).astype(np.int8)
    return S.Case("DEPTHWISE_CONV_2D", content, [x])


def _fully_connected_exact():
    rng = _rng(7)
    w = rng.integers(-8, 9, (16, 12)).astype(np.int8)
    content = _model("FULLY_CONNECTED", [((3, 12), "INT8", 2.0**-6, 0)],
                     ((3, 16), "INT8", 2.0**-9, 0), dict(version=4),
                     dict(w=(w, 2.0**-6, 0), b=(np.zeros(16, np.int32), 2.0**-12, 0)))
    x = rng.integers(-6, 7, (3, 12)).astype(np.int8)
    return S.Case("FULLY_CONNECTED", content, [x])


SEPARATING = {
    # name: (case, modes in which the runtime must differ from the reference)
    "quantize float ties": (_quantize_ties, ("builtin", "xnnpack")),
    "quantize int8 8-bit multiplier": (_requantize_int8, ("xnnpack",)),
    "dequantize vector loop": (_dequantize_block, ("builtin",)),
    "conv half-up / fp32": (_conv_exact, ("builtin", "xnnpack")),
    "depthwise half-up / fp32": (_depthwise_exact, ("builtin", "xnnpack")),
    "fully connected half-up / fp32": (_fully_connected_exact, ("builtin", "xnnpack")),
    "add single rounding": (_add_recipe, ("builtin",)),
    "mul ties (builtin)": (lambda: _mul_ties(2), ("builtin",)),
    "mul ties (xnnpack)": (lambda: _mul_ties(0), ("xnnpack",)),
    "mean hw blocks": (_mean_threads, ("builtin", "xnnpack")),
    "softmax float table": (_softmax_rows, ("builtin", "xnnpack")),
    "logistic double exp": (_logistic_table, ("xnnpack",)),
    "max pool bounds ties to even": (_max_pool_bounds, ("xnnpack",)),
    "strided slice end 0": (_strided_slice_end_zero, ("xnnpack",)),
    "add scalar lookup table shape": (_add_scalar_lut, ("xnnpack",)),
    "resize bilinear 11-bit": (_resize, ("xnnpack",)),
}


@pytest.mark.parametrize("name", sorted(SEPARATING))
def test_runtime_parts_from_reference_and_oracle_follows(name):
    make, modes = SEPARATING[name]
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
    case = _mean_threads()
    one = run_runtime(case.content, case.inputs, "builtin", num_threads=1)[0]
    two = run_runtime(case.content, case.inputs, "builtin", num_threads=2)[0]
    assert not np.array_equal(one, two)
    assert np.array_equal(one, oracle_outputs(case, "builtin", 1)[0])
    assert np.array_equal(two, oracle_outputs(case, "builtin", 2)[0])


def test_xnnpack_refuses_large_requantization_scales():
    """A CONV_2D channel with in_scale * w_scale / out_scale >= 256: XNNPACK
    cannot create the operator and the default interpreter fails to prepare
    the model (the builtin kernels run it)."""
    content = _model("CONV_2D", [((1, 2, 2, 1), "INT8", 1.0, 0)], ((1, 2, 2, 2), "INT8", 2**-9, 0),
                     dict(padding="SAME"),
                     dict(w=(np.ones((2, 1, 1, 1), np.int8), [1.0, 2**-10], 0),
                          b=(np.zeros(2, np.int32), [1.0, 2**-10], 0)))
    case = S.Case("CONV_2D", content, [np.zeros((1, 2, 2, 1), np.int8)])
    with pytest.raises(RuntimeError):
        runtime_interpreter(content, "xnnpack")
    check_numerics(case)


def test_one_partition_per_operator_keeps_the_outputs():
    """With experimental_preserve_all_tensors the XNNPACK delegate makes one
    partition per operator (so every intermediate is readable); the outputs
    stay those of the default whole-graph partition."""
    case = _add_recipe()
    it = runtime_interpreter(case.content, "xnnpack", preserve_all_tensors=True)
    assert sum(d["op_name"] == "DELEGATE" for d in it._get_ops_details()) == 1
    plain = run_runtime(case.content, case.inputs, "xnnpack")
    kept = run_runtime(case.content, case.inputs, "xnnpack", all_tensors=True)
    model = load_model(case.content)
    assert np.array_equal(kept[model.outputs[0]], plain[0])
