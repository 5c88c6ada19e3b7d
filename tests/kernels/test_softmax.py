"""SOFTMAX: the gemmlowp fixed-point helpers and the kernel against the
Python-integer oracle, the operator against TFLite's reference kernels on
generated models and on the seed models' own SOFTMAX nodes, and the cases
where TFLite refuses the model or aborts."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from int8sqz.errors import ComputeError, ModelError, UnsupportedError
from int8sqz.kernels import softmax as k
from int8sqz.ops.softmax import input_scaling
from int8sqz.testing.reference import run_reference
from int8sqz.testing.writer import GraphBuilder
from single_op import check_seed_nodes, prepare_op, run_single, seed_inputs
from naive import softmax as naive

TYPES = {"INT8": (np.int8, -128, 127), "UINT8": (np.uint8, 0, 255)}
int32s = st.integers(-(2**31), 2**31 - 1)


@given(st.integers(-(2**31), 0) | st.sampled_from([0, -1, -(2**31), -(2**26), -(2**24)]))
def test_exp_on_negative_values_matches_oracle(a):
    assert k.exp_on_negative_values(a, 5) == naive.exp_negative(a, 5)


@given(st.integers(0, 2**31 - 1))
def test_one_over_one_plus_x_matches_oracle(a):
    assert k.one_over_one_plus_x_for_x_in_0_1(a) == naive.one_over_one_plus_x(a)


@given(int32s | st.sampled_from([0, 1, -1, 2**19, 2**28]))
def test_get_reciprocal_matches_oracle(x):
    assert tuple(k.get_reciprocal(x, 12)) == naive.reciprocal(x, 12)


@st.composite
def softmax_cases(draw):
    type_name = draw(st.sampled_from(sorted(TYPES)))
    dtype, lo, hi = TYPES[type_name]
    beta = draw(st.floats(0.009999999776482582, 100.0, width=32))
    scale = draw(st.floats(9.999999747378752e-05, 10.0, width=32))
    params = input_scaling(float(beta), float(scale))  # never None: beta * scale >= 1e-6
    rows = draw(st.integers(1, 4))
    depth = draw(st.integers(1, 700))
    low = draw(st.integers(lo, hi))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.integers(low, hi + 1, (rows, depth)).astype(dtype)
    return type_name, x, params


@given(softmax_cases())
def test_softmax_kernel_matches_oracle(case):
    type_name, x, params = case
    _, lo, hi = TYPES[type_name]
    out = np.zeros_like(x)
    failed = k.softmax_quantized(x.reshape(-1), x.shape[-1], *params, lo, hi, out.reshape(-1))
    want, aborted = naive.softmax(x, *params, lo, hi)
    # rows where the reference aborts stay zero in both
    assert failed == aborted
    assert np.array_equal(out, want)


def softmax_model(shape, beta, type_name, in_q, out_q):
    g = GraphBuilder()
    x = g.input("x", shape, type_name, scale=in_q[0], zero_point=in_q[1])
    y = g.tensor("y", shape, type_name, scale=out_q[0], zero_point=out_q[1])
    g.operator("SOFTMAX", [x], y, beta=beta)
    g.output(y)
    return g.build()


run_op = run_single


def _reference_cases():
    """Many betas and input scales, ranks 1 to 4, depths up to 511, both types."""
    rng = np.random.default_rng(99)
    cases = [
        ((1, 5), 1.0, "INT8", (0.0302328, -76)),  # the seed models' softmax
        ((1, 101), 1.0, "INT8", (0.1, 0)),
        ((3, 7), 1e6, "INT8", (0.5, 0)),  # multiplier capped at 2**31 - 1
        ((2, 9), 0.0001, "INT8", (0.001, 0)),  # multiplier just above 1
        ((4, 16), 2.0, "UINT8", (0.05, 128)),
        ((8,), 0.5, "UINT8", (1.0, 0)),
        ((511,), 1.0, "INT8", (1e-3, 0)),
    ]
    for _ in range(40):
        rank = int(rng.integers(1, 5))
        shape = tuple(int(d) for d in rng.integers(1, 4, rank - 1)) + (int(rng.integers(1, 300)),)
        beta = float(np.float32(10 ** rng.uniform(-2, 2)))
        scale = float(np.float32(10 ** rng.uniform(-4, 1)))
        if input_scaling(beta, scale) is None:
            continue
        type_name = ["INT8", "UINT8"][int(rng.integers(2))]
        _, lo, hi = TYPES[type_name]
        cases.append((shape, beta, type_name, (scale, int(rng.integers(lo, hi + 1)))))
    return cases


@pytest.mark.parametrize("shape,beta,type_name,in_q", _reference_cases())
def test_softmax_matches_reference(shape, beta, type_name, in_q):
    dtype, lo, hi = TYPES[type_name]
    out_q = (1 / 256, -128) if type_name == "INT8" else (1 / 256, 0)
    content = softmax_model(shape, beta, type_name, in_q, out_q)
    rng = np.random.default_rng(len(shape) * 1000 + shape[-1])
    spread = int(rng.integers(1, 256))
    inputs = [rng.integers(lo, hi + 1, shape).astype(dtype),
              rng.integers(max(lo, hi - spread), hi + 1, shape).astype(dtype),
              np.full(shape, lo, dtype)]
    for x in inputs:
        want = run_reference(content, [x])[0]
        assert np.array_equal(run_op(content, x), want)


def test_uint8_output_quantization_is_ignored_as_tflite_does():
    content = softmax_model((2, 6), 1.0, "UINT8", (0.1, 0), (0.1, 50))
    x = np.arange(12, dtype=np.uint8).reshape(2, 6) * 9
    assert np.array_equal(run_op(content, x), run_reference(content, [x])[0])


def test_int8_output_scale_within_tflite_tolerance_is_accepted():
    scale = float(np.float32(1 / 256 * (1 + 0.0009)))
    content = softmax_model((1, 10), 1.0, "INT8", (0.2, 3), (scale, -128))
    x = np.arange(-5, 5, dtype=np.int8).reshape(1, 10) * 7
    assert np.array_equal(run_op(content, x), run_reference(content, [x])[0])


@pytest.mark.parametrize("name", ["flowers", "food-101", "plant-village"])
def test_seed_model_softmax_nodes_match_reference(seed_models, name):
    path = seed_models[name]
    assert check_seed_nodes(path, ('SOFTMAX',), seed_inputs(path, 13, 30)) == 2


def _prepare(content):
    return prepare_op(content)[3]


@pytest.mark.parametrize("out_q", [(1 / 256, -127), (0.0039, -128), (0.1, -128)])
def test_int8_output_quantization_other_than_1_256_is_rejected(out_q):
    content = softmax_model((1, 5), 1.0, "INT8", (0.1, 0), out_q)
    with pytest.raises(RuntimeError):  # the reference refuses it too
        run_reference(content, [np.zeros((1, 5), np.int8)])
    with pytest.raises(ModelError, match=r"operator 0 \(SOFTMAX\).*1/256"):
        _prepare(content)


@pytest.mark.parametrize("beta", [0.0, -1.0, 1e-9, float("nan")])
def test_tiny_beta_times_scale_is_unsupported(beta):
    # TFLite's reference aborts the process on these (QuantizeMultiplierGreaterThanOne)
    content = softmax_model((1, 5), beta, "INT8", (0.1, 0), (1 / 256, -128))
    with pytest.raises(UnsupportedError, match=r"\(SOFTMAX\).*beta"):
        _prepare(content)


def test_exponent_overflow_raises_where_tflite_aborts():
    # 512 equal maxima: the sum of exponentials reaches 512 and TFLITE_CHECK fails
    content = softmax_model((2, 600), 1.0, "INT8", (0.1, 0), (1 / 256, -128))
    x = np.zeros((2, 600), np.int8)
    x[1, :100] = 50
    with pytest.raises(ComputeError, match=r"\(SOFTMAX\).*1 row"):
        run_op(content, x)


def test_output_type_must_match_input():
    g = GraphBuilder()
    x = g.input("x", (1, 5), "INT8", scale=0.1, zero_point=0)
    y = g.tensor("y", (1, 5), "UINT8", scale=1 / 256, zero_point=0)
    g.operator("SOFTMAX", [x], y, beta=1.0)
    g.output(y)
    with pytest.raises(UnsupportedError, match=r"\(SOFTMAX\).*output"):
        _prepare(g.build())
