"""CONCATENATION: the operator against NumPy (plain copies), against the
float32 oracle (uint8 rescaling) and against TFLite's reference kernels,
including what TFLite does when the quantization of inputs and output
differ: int8 is rejected at prepare, uint8 is rescaled in float32 without a
fused multiply-add."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from int8sqz.errors import ModelError
from int8sqz.model import load_model
from int8sqz.ops import REGISTRY
from int8sqz.ops.context import PrepareContext
from int8sqz.testing.reference import run_reference
from int8sqz.testing.writer import GraphBuilder
from single_op import check_seed_nodes, prepare_op, seed_inputs
from naive import concat as naive

DTYPES = {"INT8": np.int8, "UINT8": np.uint8, "INT32": np.int32, "FLOAT32": np.float32}


def concat_model(shapes, axis, type_name, params, out_params, activation="NONE",
                 constants=None, out_shape=None):
    """``params``: (scale, zero_point) per input (None: no quantization);
    ``constants``: data per input, None for a graph input."""
    g = GraphBuilder()
    ins = []
    for k, (shape, p) in enumerate(zip(shapes, params)):
        quant = {} if p is None else {"scale": p[0], "zero_point": p[1]}
        if constants is not None and constants[k] is not None:
            ins.append(g.constant(f"c{k}", constants[k], type_name, **quant))
        else:
            ins.append(g.input(f"x{k}", shape, type_name, **quant))
    if out_shape is None:
        out_shape = list(shapes[0])
        if out_shape:
            out_shape[axis] = sum(s[axis] for s in shapes)
    quant = {} if out_params is None else {"scale": out_params[0], "zero_point": out_params[1]}
    o = g.tensor("y", out_shape, type_name, **quant)
    g.operator("CONCATENATION", ins, o, axis=axis, fused_activation_function=activation)
    g.output(o)
    return g.build()


def prepare(content):
    model, op, _, run = prepare_op(content)
    return model, op, run


def run_op(content, inputs, out=None):
    """``inputs``: arrays for the graph inputs, in order."""
    model, op, run = prepare(content)
    t = [None] * len(model.tensors)
    feed = iter(inputs)
    for i in op.inputs:
        t[i] = model.tensors[i].data if model.tensors[i].is_constant else next(feed)
    dst = op.outputs[0]
    t[dst] = np.zeros(model.tensors[dst].shape, model.tensors[dst].dtype) if out is None else out
    run(t)
    return t[dst]


def random_array(rng, shape, type_name):
    if type_name == "FLOAT32":
        return rng.standard_normal(shape).astype(np.float32)
    info = np.iinfo(DTYPES[type_name])
    return rng.integers(info.min, info.max, shape, endpoint=True).astype(DTYPES[type_name])


@st.composite
def concat_case(draw, max_inputs=4):
    """Shapes (rank 1..5) that differ only along ``axis``, which may be negative."""
    rank = draw(st.integers(1, 5))
    base = draw(st.lists(st.integers(1, 4), min_size=rank, max_size=rank))
    axis = draw(st.integers(-rank, rank - 1))
    n = draw(st.integers(1, max_inputs))
    shapes = []
    for _ in range(n):
        s = list(base)
        s[axis] = draw(st.integers(0, 4))
        shapes.append(tuple(s))
    return shapes, axis


scales = st.builds(lambda m, e: float(np.float32(m * 2.0**e)), st.floats(1.0, 2.0), st.integers(-10, 0))


# -- copies ------------------------------------------------------------------------------------

@given(concat_case(), st.sampled_from(list(DTYPES)), st.booleans(), st.data())
def test_copies_match_numpy(case, type_name, strided_out, data):
    """Same quantization everywhere (or none): a plain concatenation, also into
    a strided output view, with some inputs constant."""
    shapes, axis = case
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    arrays = [random_array(rng, s, type_name) for s in shapes]
    const = [data.draw(st.booleans()) for _ in shapes]
    p = (0.05, 3) if type_name in ("INT8", "UINT8") else None
    content = concat_model(shapes, axis, type_name, [p] * len(shapes), p,
                           constants=[a if c else None for a, c in zip(arrays, const)])
    expected = np.concatenate(arrays, axis=axis)
    feed = [a for a, c in zip(arrays, const) if not c]
    if strided_out:
        big = np.full(tuple(d + 2 for d in expected.shape), 5, expected.dtype)
        inner = tuple(slice(1, 1 + d) for d in expected.shape)
        got = run_op(content, feed, out=big[inner])
        untouched = np.ones(big.shape, bool)
        untouched[inner] = False
        assert np.all(big[untouched] == 5), "wrote outside the output view"
    else:
        got = run_op(content, feed)
    assert np.array_equal(got, expected)


def test_input_already_in_its_slot_is_left_alone():
    """The aliasing rule: an input that is its own slot of the output."""
    content = concat_model([(1, 2, 3), (1, 2, 5)], 2, "INT8", [(0.1, 0)] * 2, (0.1, 0))
    model, op, run = prepare(content)
    out = np.zeros((1, 2, 8), np.int8)
    first = out[:, :, :3]
    first[...] = np.arange(6, dtype=np.int8).reshape(1, 2, 3)
    second = np.full((1, 2, 5), -4, np.int8)
    t = [None] * len(model.tensors)
    t[op.inputs[0]], t[op.inputs[1]], t[op.outputs[0]] = first, second, out
    run(t)
    assert np.array_equal(out, np.concatenate([np.arange(6).reshape(1, 2, 3), second], 2))


# -- uint8 rescaling ---------------------------------------------------------------------------

@given(concat_case(), st.booleans(), st.data())
def test_uint8_rescaling_matches_oracle(case, strided_out, data):
    shapes, axis = case
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    arrays = [random_array(rng, s, "UINT8") for s in shapes]
    out_p = (data.draw(scales), data.draw(st.integers(0, 255)))
    # each input: the output's parameters, or its scale with another zero point, or others
    params = [data.draw(st.sampled_from([out_p, (out_p[0], data.draw(st.integers(0, 255))),
                                         (data.draw(scales), data.draw(st.integers(0, 255)))]))
              for _ in shapes]
    content = concat_model(shapes, axis, "UINT8", params, out_p)
    expected = naive.concatenate(arrays, axis, params, out_p)
    if strided_out:  # the output and the inputs as strided views
        big = np.zeros(tuple(2 * d for d in expected.shape), np.uint8)
        views = []
        for a in arrays:
            v = np.zeros(tuple(2 * d for d in a.shape), np.uint8)[tuple(slice(None, None, 2) for _ in a.shape)]
            v[...] = a
            views.append(v)
        got = run_op(content, views, out=big[tuple(slice(None, None, 2) for _ in expected.shape)])
    else:
        got = run_op(content, arrays)
    assert np.array_equal(got, expected)


@settings(max_examples=10)
@given(st.data())
def test_uint8_rescaling_matches_reference(data):
    """Every uint8 value through three differently quantized inputs."""
    out_p = (data.draw(scales), data.draw(st.integers(0, 255)))
    params = [(data.draw(scales), data.draw(st.integers(0, 255))),
              (out_p[0], data.draw(st.integers(0, 255))), out_p]
    x = np.arange(256, dtype=np.uint8).reshape(1, 16, 16)
    arrays = [x, x[:, ::-1].copy(), x.transpose(0, 2, 1).copy()]
    axis = data.draw(st.integers(-3, 2))
    content = concat_model([a.shape for a in arrays], axis, "UINT8", params, out_p)
    ref = run_reference(content, arrays)[0]
    assert np.array_equal(run_op(content, arrays), ref)
    assert np.array_equal(naive.concatenate(arrays, axis, params, out_p), ref)


def _rescaled(x, in_scale, in_zp, out_scale, fused=False, divide=False):
    """``round(x * scale + bias)`` for a vector of uint8 values, before the
    output zero point: TFLite's float32 sequence, or (``fused``) with one
    rounding of ``x * scale + bias`` (checked exactly where it matters), or
    (``divide``) with ``scale = in_scale / out_scale`` in one division."""
    if divide:
        scale = np.float32(np.float32(in_scale) / np.float32(out_scale))
    else:
        scale = np.float32(np.float32(in_scale) * (np.float32(1.0) / np.float32(out_scale)))
    bias = np.float32(np.float32(-in_zp) * scale)
    xf = x.astype(np.float32)
    if fused:
        v = (xf.astype(np.float64) * float(scale) + float(bias)).astype(np.float32)
    else:
        v = (xf * scale).astype(np.float32) + bias
    v = v.astype(np.float64)
    return (np.sign(v) * np.floor(np.abs(v) + 0.5)).astype(np.int64)


def _telling_cases(count, seed, **alternative):
    """(in_scale, out_scale, in_zp, value, ours, theirs): cases where TFLite's
    float32 sequence and the alternative round one value differently."""
    rng = np.random.default_rng(seed)
    x = np.arange(256)
    cases = []
    while len(cases) < count:
        out_scale = float(np.float32(2.0 ** rng.uniform(-10, 0)))
        in_scale = float(np.float32(out_scale * 2.0 ** rng.uniform(-2, 2)))
        in_zp = int(rng.integers(0, 256))
        ours = _rescaled(x, in_scale, in_zp, out_scale)
        theirs = _rescaled(x, in_scale, in_zp, out_scale, **alternative)
        for v in np.nonzero((ours != theirs) & (np.abs(ours) < 200))[0]:
            if alternative.get("fused"):
                # confirm with exact arithmetic (float64 then float32 rounds twice)
                if naive.round_fused(v, in_scale, in_zp, out_scale) == ours[v]:
                    continue
                theirs[v] = naive.round_fused(v, in_scale, in_zp, out_scale)
            assert naive.round_unfused(v, in_scale, in_zp, out_scale) == ours[v]
            cases.append((in_scale, out_scale, in_zp, int(v), int(ours[v]), int(theirs[v])))
            break
    return cases


@pytest.mark.parametrize("alternative", ["fused", "divide"])
def test_uint8_rescaling_rounds_as_tflite_does(alternative):
    """TFLite computes ``x * scale`` and ``+ bias`` as two float32 operations
    (its build does not fuse them into an FMA) and ``scale`` as
    ``in_scale * (1.0f / out_scale)``: on values where an FMA, or a single
    division, would round differently, the reference runtime agrees with
    int8sqz and not with the alternative."""
    for in_scale, out_scale, in_zp, value, ours, theirs in _telling_cases(3, 17, **{alternative: True}):
        out_zp = int(np.clip(128 - ours, 0, 255))
        content = concat_model([(1, 1), (1, 1)], 1, "UINT8",
                               [(in_scale, in_zp), (out_scale, out_zp)], (out_scale, out_zp))
        arrays = [np.array([[value]], np.uint8), np.array([[9]], np.uint8)]
        ref = run_reference(content, arrays)[0]
        assert ref[0, 0] == ours + out_zp != theirs + out_zp
        assert np.array_equal(run_op(content, arrays), ref)


def test_uint8_rescaling_of_huge_ratios_matches_reference():
    """Values beyond int32 after scaling: the C cast gives INT32_MIN."""
    params = [(1000.0, 7), (1e-7, 200)]
    out_p = (1e-5, 100)
    x = np.arange(256, dtype=np.uint8).reshape(1, 256)
    content = concat_model([(1, 256), (1, 256)], 0, "UINT8", params, out_p)
    ref = run_reference(content, [x, x])[0]
    assert np.array_equal(run_op(content, [x, x]), ref)
    assert np.array_equal(naive.concatenate([x, x], 0, params, out_p), ref)


# -- what TFLite accepts -------------------------------------------------------------------------

@pytest.mark.parametrize("params", [[(0.1, 0), (0.2, 0)], [(0.1, 0), (0.1, 1)]])
def test_int8_with_differing_quantization_is_rejected_as_tflite_does(params):
    content = concat_model([(1, 2), (1, 2)], 1, "INT8", params, (0.1, 0))
    with pytest.raises(RuntimeError, match="failed to prepare"):
        run_reference(content, [np.ones((1, 2), np.int8)] * 2)
    with pytest.raises(ModelError, match=r"operator 0 \(CONCATENATION\).*does not rescale"):
        prepare(content)


def test_constant_scalars_are_copied_raw_as_tflite_does():
    """TFLite's constant-scalar path copies the values, even with another
    quantization; the output is [n]."""
    values = [np.array(v, np.uint8) for v in (3, 200, 77)]
    params = [(0.5, 1), (0.1, 2), (0.3, 3)]
    g = GraphBuilder()
    consts = [g.constant(f"c{k}", v, "UINT8", scale=p[0], zero_point=p[1])
              for k, (v, p) in enumerate(zip(values, params))]
    x = g.input("x", (3,), "UINT8", scale=0.2, zero_point=0)
    y = g.operator("CONCATENATION", consts, g.tensor("y", (3,), "UINT8", scale=0.2, zero_point=0),
                   axis=0)
    z = g.operator("CONCATENATION", [x, y], g.tensor("z", (6,), "UINT8", scale=0.2, zero_point=0),
                   axis=0)
    g.output(z)
    content = g.build()
    ref = run_reference(content, [np.array([1, 2, 3], np.uint8)], all_tensors=True)
    model = load_model(content)
    ctx = PrepareContext(model, [t.shape for t in model.tensors])
    run = REGISTRY["CONCATENATION"].prepare(model.operators[0], ctx)
    t = [tt.data for tt in model.tensors]
    t[y] = np.zeros(3, np.uint8)
    run(t)
    assert np.array_equal(t[y], ref[y])
    assert np.array_equal(t[y], [3, 200, 77])


def test_rejections_name_the_operator():
    p = (0.1, 0)
    cases = [
        (concat_model([(2, 3)], 2, "INT8", [p], p, out_shape=(2, 3)), "axis 2 is out of range"),
        (concat_model([(2, 3)], -3, "INT8", [p], p, out_shape=(2, 3)), "axis -3 is out of range"),
        (concat_model([(2, 3), (3, 3)], 1, "INT8", [p, p], p, out_shape=(2, 6)),
         "in every dimension but axis 1"),
        (concat_model([(2, 3), (2, 3, 1)], 0, "INT8", [p, p], p, out_shape=(4, 3)), "expected rank 2"),
        (concat_model([(2, 3), (2, 3)], 0, "INT8", [p, p], p, activation="RELU"), "accepts only NONE"),
        (concat_model([(), ()], 0, "INT8", [p, p], p, out_shape=(2,)), "all of them are constants"),
        (concat_model([(2, 3), (2, 3)], 0, "INT8", [p, p], p, out_shape=(4, 4)), "in the file"),
    ]
    for content, text in cases:
        with pytest.raises(ModelError, match=text) as info:
            prepare(content)
        assert "operator 0 (CONCATENATION)" in str(info.value)


# -- the seed models -----------------------------------------------------------------------------

@pytest.mark.parametrize("model_name", ["flowers", "food-101", "plant-village"])
def test_seed_model_nodes_match_reference(seed_models, model_name):
    path = seed_models[model_name]
    assert check_seed_nodes(path, ("CONCATENATION",), seed_inputs(path, 13, 90)) == 2 * 7