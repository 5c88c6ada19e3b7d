"""ADD, SUB, MUL, MAXIMUM and MINIMUM: the operators (prepare + kernel) against the Python-integer
oracle and against TFLite's reference kernels (BUILTIN_REF), with every
broadcast pattern, in place, on strided views, and on the seed models' own
nodes."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from int8sqz.errors import ModelError, UnsupportedError
from int8sqz.ops import _binary
from int8sqz.testing.reference import run_reference
from int8sqz.testing.writer import GraphBuilder
from int8sqz.model import load_model
from single_op import check_seed_nodes, prepare_op, seed_inputs
from naive import elementwise as naive

TYPES = {"INT8": (np.int8, -128, 127), "UINT8": (np.uint8, 0, 255)}
ACTIVATIONS = ["NONE", "RELU", "RELU6", "RELU_N1_TO_1"]


# -- building and running one operator ---------------------------------------------------

def binary_model(name, shape_a, shape_b, type_name, qa, qb, qo, activation="NONE",
                 const_b=None, out_shape=None, const_a=None):
    """A one-operator model; ``q*`` are (scale, zero_point). ``const_b``
    (``const_a``): the second (first) input's data, as a constant."""
    g = GraphBuilder()
    if const_a is None:
        a = g.input("a", shape_a, type_name, scale=qa[0], zero_point=qa[1])
    else:
        a = g.constant("a", const_a, type_name, scale=qa[0], zero_point=qa[1])
    if const_b is None:
        b = g.input("b", shape_b, type_name, scale=qb[0], zero_point=qb[1])
    else:
        b = g.constant("b", const_b, type_name, scale=qb[0], zero_point=qb[1])
    if out_shape is None:
        out_shape = np.broadcast_shapes(tuple(shape_a), tuple(shape_b))
    o = g.tensor("o", out_shape, type_name, scale=qo[0], zero_point=qo[1])
    g.operator(name, [a, b], o, fused_activation_function=activation)
    g.output(o)
    return g.build()


def prepare(content):
    model, op, _, run = prepare_op(content)
    return model, op, run


def run_op(content, a, b=None, out=None):
    """Run the model's single operator; ``out`` may be a preallocated array
    (a view, or one of the inputs for in place). ``a`` or ``b`` None: the
    model's constant."""
    model, op, run = prepare(content)
    t = [None] * len(model.tensors)
    t[op.inputs[0]] = model.tensors[op.inputs[0]].data if a is None else a
    t[op.inputs[1]] = model.tensors[op.inputs[1]].data if b is None else b
    dst = op.outputs[0]
    t[dst] = np.zeros(model.tensors[dst].shape, model.tensors[dst].dtype) if out is None else out
    run(t)
    return t[dst]


# -- strategies ----------------------------------------------------------------------------

@st.composite
def broadcast_pair(draw, max_rank=6):
    """Two shapes that broadcast: each is a suffix of one output shape with
    some dimensions replaced by 1 (TFLite's patterns are NumPy's)."""
    rank = draw(st.integers(0, max_rank))
    max_dim = 4 if rank <= 4 else 3
    out = draw(st.lists(st.integers(1, max_dim), min_size=rank, max_size=rank))
    if rank and draw(st.integers(0, 19)) == 0:
        out[draw(st.integers(0, rank - 1))] = 0  # now and then an empty tensor

    def operand():
        dims = out[draw(st.integers(0, rank)):]
        return tuple(d if draw(st.booleans()) else 1 for d in dims)

    return operand(), operand()


def scale_strategy():
    # log-uniform over many octaves, float32 values
    return st.builds(lambda m, e: float(np.float32(m * 2.0**e)),
                     st.floats(1.0, 2.0), st.integers(-20, 2))


@st.composite
def quantization(draw, type_name, op_name):
    _, lo, hi = TYPES[type_name]
    s1, s2 = draw(scale_strategy()), draw(scale_strategy())
    if op_name in ("ADD", "SUB"):
        # the output multiplier 2*max/(2**20 * so) must stay below 1
        so = float(np.float32(max(s1, s2) * draw(st.floats(1.0, 2.0)) * 2.0 ** draw(st.integers(-12, 12))))
    else:
        so = float(np.float32(s1 * s2 * draw(st.floats(1.0, 2.0)) * 2.0 ** draw(st.integers(-12, 20))))
    # activation bounds (6 / so) must fit an int32, or TFLite refuses the model
    so = max(so, 2.0**-25)
    return tuple((s, draw(st.integers(lo, hi))) for s in (s1, s2, so))


def random_array(rng, shape, type_name):
    dtype, lo, hi = TYPES[type_name]
    return rng.integers(lo, hi + 1, shape).astype(dtype)


def oracle(name, a, b, q, activation, type_name):
    _, lo, hi = TYPES[type_name]
    fn = {"ADD": naive.add, "SUB": naive.sub, "MUL": naive.mul}[name]
    (s1, z1), (s2, z2), (so, zo) = q
    return fn(a, b, s1, z1, s2, z2, so, zo, activation, lo, hi)


# -- against the oracle ------------------------------------------------------------------

@given(st.sampled_from(["ADD", "MUL", "SUB"]), st.sampled_from(list(TYPES)), broadcast_pair(),
       st.sampled_from(ACTIVATIONS), st.booleans(), st.data())
def test_operator_matches_oracle(name, type_name, shapes, activation, const_b, data):
    q = data.draw(quantization(type_name, name))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    a, b = (random_array(rng, s, type_name) for s in shapes)
    content = binary_model(name, *shapes, type_name, *q, activation, const_b=b if const_b else None)
    got = run_op(content, a, None if const_b else b)
    assert np.array_equal(got, oracle(name, a, b, q, activation, type_name))


@given(st.sampled_from(["ADD", "SUB"]), st.sampled_from(list(TYPES)), st.integers(0, 3),
       st.integers(0, 70), st.sampled_from(ACTIVATIONS), st.data())
def test_long_rows_match_oracle(name, type_name, rows, n, activation, data):
    """Rows long enough for kernels/elementwise.py's 16-lane path (operands
    of one shape, unit stride): every length from 0 to 70, so the lanes and
    the scalar tail both run."""
    q = data.draw(quantization(type_name, name))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    a, b = (random_array(rng, (rows, n), type_name) for _ in range(2))
    content = binary_model(name, a.shape, b.shape, type_name, *q, activation)
    got = run_op(content, a, b)
    assert np.array_equal(got, oracle(name, a, b, q, activation, type_name))


@given(st.sampled_from(["ADD", "MUL", "SUB"]), st.sampled_from(list(TYPES)), broadcast_pair(max_rank=4),
       st.sampled_from(ACTIVATIONS), st.data())
def test_in_place_and_strided_views(name, type_name, shapes, activation, data):
    """The aliasing rule: the output may be the buffer of an input of the
    output's shape; and inputs and output may be strided views."""
    q = data.draw(quantization(type_name, name))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    sa, sb = shapes
    out_shape = np.broadcast_shapes(sa, sb)
    a, b = random_array(rng, sa, type_name), random_array(rng, sb, type_name)
    expected = oracle(name, a, b, q, activation, type_name)
    content = binary_model(name, sa, sb, type_name, *q, activation)

    if tuple(sa) == out_shape:
        buf = a.copy()
        assert np.array_equal(run_op(content, buf, b, out=buf), expected)
    if tuple(sb) == out_shape:
        buf = b.copy()
        assert np.array_equal(run_op(content, a, buf, out=buf), expected)

    def strided(array, fill):
        # the array as a view into a larger buffer: padded along every axis
        big = np.full(tuple(d * 2 + 1 for d in array.shape), fill, array.dtype)
        view = big[tuple(slice(1, 1 + 2 * d, 2) for d in array.shape) + (Ellipsis,)]
        view[...] = array
        return big, view

    big_out, out_view = strided(np.zeros(out_shape, TYPES[type_name][0]), 7)
    _, a_view = strided(a, 9)
    _, b_view = strided(b, 11)
    got = run_op(content, a_view, b_view, out=out_view)
    assert np.array_equal(got, expected)
    untouched = np.ones(big_out.shape, bool)
    untouched[tuple(slice(1, 1 + 2 * d, 2) for d in out_shape) + (Ellipsis,)] = False
    assert np.all(big_out[untouched] == 7), "wrote outside the output view"


# -- against the reference runtime --------------------------------------------------------

def assert_matches_reference(content, a, b, const_b=False):
    """int8sqz's output equals the reference's; or both refuse the model."""
    try:
        ref = run_reference(content, [a] if const_b else [a, b])[0]
    except RuntimeError as exc:
        assert "failed to prepare" in str(exc)
        with pytest.raises(ModelError, match=r"operator 0 \("):
            prepare(content)
        return
    assert np.array_equal(run_op(content, a, None if const_b else b), ref)


@settings(max_examples=15)
@given(st.sampled_from(["ADD", "MUL", "SUB"]), st.sampled_from(list(TYPES)), broadcast_pair(),
       st.sampled_from(ACTIVATIONS), st.booleans(), st.data())
def test_operator_matches_reference(name, type_name, shapes, activation, const_b, data):
    q = data.draw(quantization(type_name, name))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    a, b = (random_array(rng, s, type_name) for s in shapes)
    content = binary_model(name, *shapes, type_name, *q, activation, const_b=b if const_b else None)
    assert_matches_reference(content, a, b, const_b)


@settings(max_examples=10)
@given(st.sampled_from(["ADD", "MUL", "SUB"]), st.sampled_from(list(TYPES)), st.sampled_from(ACTIVATIONS),
       st.data())
def test_every_input_pair_matches_reference(name, type_name, activation, data):
    """All 65536 pairs of 8-bit values at once ([256, 1] against [1, 256]):
    any difference in a multiplier that changes an output shows here."""
    q = data.draw(quantization(type_name, name))
    dtype, lo, hi = TYPES[type_name]
    a = np.arange(lo, hi + 1).astype(dtype).reshape(256, 1)
    b = np.roll(np.arange(lo, hi + 1).astype(dtype), 3).reshape(1, 256)
    content = binary_model(name, a.shape, b.shape, type_name, *q, activation)
    assert_matches_reference(content, a, b)


@settings(max_examples=15)
@given(st.sampled_from(["ADD", "SUB"]), st.sampled_from(list(TYPES)), st.sampled_from(ACTIVATIONS),
       st.data())
def test_every_input_pair_in_one_row_matches_reference(name, type_name, activation, data):
    """All 65536 pairs again, as two operands of one shape [256, 256] (no
    broadcast): the 16-lane path of ADD and SUB on every pair of values."""
    q = data.draw(quantization(type_name, name))
    dtype, lo, hi = TYPES[type_name]
    values = np.arange(lo, hi + 1).astype(dtype)
    a = np.repeat(values, 256).reshape(256, 256)
    b = np.tile(np.roll(values, 3), 256).reshape(256, 256)
    content = binary_model(name, a.shape, b.shape, type_name, *q, activation)
    assert_matches_reference(content, a, b)


@pytest.mark.parametrize("name", ["ADD", "MUL", "SUB"])
@pytest.mark.parametrize("shapes", [
    ((2, 1, 3, 1, 2, 1, 2), (1, 2, 1, 2, 1, 3, 1)),  # rank 7, alternating
    ((2, 1, 2, 1, 2, 1, 2, 1), (1, 2, 1, 2, 1, 2, 1, 2)),  # rank 8, TFLite's limit
    ((1, 1, 1, 1, 1, 1, 1, 1, 3), (3,)),  # rank 9 without broadcast (shapes equal once extended)
    ((), (2, 3)),  # scalar against a matrix
    ((1, 5, 5, 8), (8,)),  # the seed models' per-channel constant
])
def test_high_rank_and_scalar_broadcasts_match_reference(name, shapes):
    rng = np.random.default_rng(3)
    q = ((0.05, -3), (0.02, 9), (0.003 if name == "MUL" else 0.07, 4))
    a, b = (random_array(rng, s, "INT8") for s in shapes)
    content = binary_model(name, *shapes, "INT8", *q, "RELU")
    assert np.array_equal(run_op(content, a, b), run_reference(content, [a, b])[0])


def test_extreme_scale_ratios_match_reference():
    """ADD with an input multiplier that underflows to 0 (shift below -31),
    MUL with a multiplier above 1 whose left shift wraps the product in int32."""
    rng = np.random.default_rng(5)
    a, b = random_array(rng, (4, 64), "INT8"), random_array(rng, (64,), "INT8")
    for name, q in [("ADD", ((1e-12, 3), (0.5, -7), (0.25, 1))),
                    ("MUL", ((0.5, -128), (0.5, 127), (2.0**-12, 0)))]:
        content = binary_model(name, (4, 64), (64,), "INT8", *q)
        ref = run_reference(content, [a, b])[0]
        assert np.array_equal(run_op(content, a, b), ref), name
        assert np.array_equal(ref, oracle(name, a, b, q, "NONE", "INT8")), name


@pytest.mark.parametrize("name", ["ADD", "MUL"])
@pytest.mark.parametrize("activation", ["TANH", "SIGN_BIT"])
def test_other_fused_activations_are_ignored_as_tflite_does(name, activation):
    a = np.arange(-128, 128, dtype=np.int8).reshape(16, 16)
    b = a.T.copy()
    q = ((0.05, -3), (0.02, 9), (0.03 if name == "ADD" else 0.001, 4))
    content = binary_model(name, a.shape, b.shape, "INT8", *q, activation)
    ref = run_reference(content, [a, b])[0]
    assert np.array_equal(run_op(content, a, b), ref)
    assert np.array_equal(ref, oracle(name, a, b, q, "NONE", "INT8"))


# -- the lookup-table path (one input constant) ------------------------------------------

@st.composite
def constant_broadcast(draw):
    """An activation shape and a constant shape that broadcast, the constant
    usually much smaller (the seed models' ``[1, H, W, C]`` against ``[C]``)."""
    rank = draw(st.integers(1, 4))
    out = draw(st.lists(st.integers(1, 5), min_size=rank, max_size=rank))
    act = tuple(d if draw(st.integers(0, 4)) else 1 for d in out)
    const = out[draw(st.integers(0, rank)):]
    const = tuple(d if draw(st.booleans()) else 1 for d in const)
    return act, const


def strided(array, fill):
    """``(buffer, view)``: ``array`` copied into a view of a larger buffer,
    padded along every axis and every other element."""
    big = np.full(tuple(d * 2 + 1 for d in array.shape), fill, array.dtype)
    view = big[tuple(slice(1, 1 + 2 * d, 2) for d in array.shape) + (Ellipsis,)]
    view[...] = array
    return big, view


@given(st.sampled_from(["ADD", "MUL", "SUB"]), st.sampled_from(list(TYPES)), constant_broadcast(),
       st.sampled_from(ACTIVATIONS), st.booleans(), st.data())
def test_constant_lookup_table_in_place_and_strided(name, type_name, shapes, activation,
                                                    const_first, data):
    """ADD/MUL of an activation with a constant: the lookup-table path is
    taken exactly when the constant is small against the output, and gives
    the oracle's integers with the constant first or second, in place, and
    on strided views (writing nothing outside the output view)."""
    q = data.draw(quantization(type_name, name))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    s_act, s_const = shapes
    out_shape = np.broadcast_shapes(s_act, s_const)
    x, c = random_array(rng, s_act, type_name), random_array(rng, s_const, type_name)
    if const_first:
        content = binary_model(name, s_const, s_act, type_name, *q, activation, const_a=c)
        expected = oracle(name, c, x, q, activation, type_name)

        def go(xx, out=None):
            return run_op(content, None, xx, out=out)
    else:
        content = binary_model(name, s_act, s_const, type_name, *q, activation, const_b=c)
        expected = oracle(name, x, c, q, activation, type_name)

        def go(xx, out=None):
            return run_op(content, xx, None, out=out)
    _, _, run = prepare(content)
    lut = c.size * _binary.LUT_MIN_REUSE <= int(np.prod(out_shape)) and c.size > 0
    assert ("lookup_table" in run.params) == lut
    assert np.array_equal(go(x), expected)
    if tuple(s_act) == out_shape:
        buf = x.copy()
        assert np.array_equal(go(buf, out=buf), expected)
        # in place on a strided view
        _, view = strided(x, 5)
        assert np.array_equal(go(view, out=view), expected)
    big_out, out_view = strided(np.zeros(out_shape, TYPES[type_name][0]), 7)
    _, x_view = strided(x, 9)
    assert np.array_equal(go(x_view, out=out_view), expected)
    untouched = np.ones(big_out.shape, bool)
    untouched[tuple(slice(1, 1 + 2 * d, 2) for d in out_shape) + (Ellipsis,)] = False
    assert np.all(big_out[untouched] == 7), "wrote outside the output view"


@settings(max_examples=10)
@given(st.sampled_from(["ADD", "MUL", "SUB"]), st.sampled_from(list(TYPES)), st.sampled_from(ACTIVATIONS),
       st.booleans(), st.data())
def test_lookup_table_equals_general_kernel_on_every_pair(name, type_name, activation,
                                                          const_first, data):
    """Every 8-bit activation value against every 8-bit constant value: the
    lookup table's output equals the general kernel's (the table turned off)."""
    q = data.draw(quantization(type_name, name))
    dtype, lo, hi = TYPES[type_name]
    c = np.roll(np.arange(lo, hi + 1).astype(dtype), 5)
    x = np.repeat(np.arange(lo, hi + 1).astype(dtype)[:, None], 256, axis=1)
    x = np.concatenate([x, x[::-1]])  # [512, 256]: each value against every constant, twice
    if const_first:
        content = binary_model(name, c.shape, x.shape, type_name, *q, activation, const_a=c)
        args = (None, x)
    else:
        content = binary_model(name, x.shape, c.shape, type_name, *q, activation, const_b=c)
        args = (x, None)
    assert "lookup_table" in prepare(content)[2].params
    got = run_op(content, *args)
    saved, _binary.LUT_MAX_CONSTANT = _binary.LUT_MAX_CONSTANT, 0
    try:
        assert "lookup_table" not in prepare(content)[2].params
        general = run_op(content, *args)
    finally:
        _binary.LUT_MAX_CONSTANT = saved
    assert np.array_equal(got, general)


# -- rejections ------------------------------------------------------------------------------

def test_rejections_name_the_operator():
    q = ((0.1, 0), (0.1, 0), (0.1, 0))
    cases = [
        (binary_model("ADD", (2, 3), (4, 3), "INT8", *q, out_shape=(2, 3)), ModelError, "do not broadcast"),
        (binary_model("MUL", (2, 1, 2, 1, 2, 1, 2, 1, 2), (1, 2, 1, 2, 1, 2, 1, 2, 1), "INT8", *q),
         UnsupportedError, "at most 8"),
        (binary_model("ADD", (3,), (3,), "INT8", (1.0, 0), (1.0, 0), (1e-7, 0)), ModelError, "multiplier"),
        (binary_model("MUL", (3,), (3,), "INT8", (1.0, 0), (1.0, 0), (1e-10, 0)), UnsupportedError,
         "left shift of 34"),
        (binary_model("MUL", (3,), (3,), "INT8", *q[:2], (1e-9, 0), activation="RELU6"),
         ModelError, "does not fit an int32"),
    ]
    g = GraphBuilder()
    a = g.input("a", (3,), "INT8", scale=0.1, zero_point=0)
    b = g.input("b", (3,), "UINT8", scale=0.1, zero_point=0)
    g.output(g.operator("ADD", [a, b], g.tensor("o", (3,), "INT8", scale=0.1, zero_point=0)))
    cases.append((g.build(), ModelError, "expected INT8"))
    g = GraphBuilder()
    a = g.input("a", (3,), "INT16", scale=0.1, zero_point=0)
    g.output(g.operator("MUL", [a, a], g.tensor("o", (3,), "INT16", scale=0.1, zero_point=0)))
    cases.append((g.build(), UnsupportedError, "INT16"))
    for content, error, text in cases:
        with pytest.raises(error, match=text) as info:
            prepare(content)
        assert "operator 0 (" in str(info.value)


def test_sub_refuses_output_multipliers_tflite_leaves_undefined():
    """SUB, unlike ADD, prepares an output multiplier above 1, then divides by
    a negative power of two in its kernel (undefined in C++; the reference
    runtime gives +-1 everywhere): unsupported. Exactly 1 aborts TFLite."""
    for so, error, text in [(1e-6, UnsupportedError, "more than 1"),
                            (2.0 / 2**20, ModelError, "outside \\(0, 1\\)"),
                            (0.0, ModelError, "scale 0.0")]:
        content = binary_model("SUB", (3,), (3,), "INT8", (1.0, 0), (1.0, 0), (so, 0))
        with pytest.raises(error, match=text) as info:
            prepare(content)
        assert "SUB" in str(info.value)


# -- MAXIMUM and MINIMUM ----------------------------------------------------------------------

EXTREMUM_TYPES = {"INT8": np.int8, "UINT8": np.uint8, "INT32": np.int32, "FLOAT32": np.float32}


def extremum_model(name, shape_a, shape_b, type_name, const_b=None):
    g = GraphBuilder()
    a = g.input("a", shape_a, type_name)
    b = g.input("b", shape_b, type_name) if const_b is None else g.constant("b", const_b)
    o = g.tensor("o", np.broadcast_shapes(tuple(shape_a), tuple(shape_b)), type_name)
    g.operator(name, [a, b], o)
    g.output(o)
    return g.build()


def extremum_array(rng, shape, type_name):
    if type_name == "FLOAT32":
        v = np.asarray(rng.normal(0, 4, shape).round(rng.integers(0, 2)))
        special = rng.random(shape) < 0.2
        v[special] = rng.choice([np.nan, -np.nan, 0.0, -0.0, np.inf, -np.inf], special.sum())
        return np.asarray(v, np.float32)
    info = np.iinfo(EXTREMUM_TYPES[type_name])
    return rng.integers(info.min, info.max, shape, endpoint=True).astype(info.dtype)


@given(st.sampled_from(["MAXIMUM", "MINIMUM"]), st.sampled_from(list(EXTREMUM_TYPES)),
       broadcast_pair(max_rank=5), st.booleans(), st.data())
def test_maximum_minimum_match_oracle_in_place_and_strided(name, type_name, shapes, const_b,
                                                           data):
    """Bytes equal to the oracle's (NaN signs and signed zeros as the
    comparison picks them), in place, and on strided views."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    sa, sb = shapes
    out_shape = np.broadcast_shapes(sa, sb)
    a, b = extremum_array(rng, sa, type_name), extremum_array(rng, sb, type_name)
    fn = naive.maximum if name == "MAXIMUM" else naive.minimum
    expected = fn(a, b).tobytes()
    content = extremum_model(name, sa, sb, type_name, const_b=b if const_b else None)
    bb = None if const_b else b
    assert run_op(content, a, bb).tobytes() == expected
    if tuple(sa) == out_shape:
        buf = a.copy()
        assert run_op(content, buf, bb, out=buf).tobytes() == expected
    _, a_view = strided(a, 3)
    big_out, out_view = strided(np.zeros(out_shape, a.dtype), 7)
    assert run_op(content, a_view, bb, out=out_view).tobytes() == expected
    untouched = np.ones(big_out.shape, bool)
    untouched[tuple(slice(1, 1 + 2 * d, 2) for d in out_shape) + (Ellipsis,)] = False
    assert np.all(big_out[untouched] == 7), "wrote outside the output view"


@pytest.mark.parametrize("name", ["MAXIMUM", "MINIMUM"])
def test_maximum_minimum_rank_limits_match_reference(name):
    """Shapes written differently take TFLite's broadcast loop (rank 8 at
    most) even when they agree once padded; equal shapes of any rank do not."""
    rng = np.random.default_rng(4)
    ok = [((2, 1, 2, 1, 2, 1, 2, 1), (1, 2, 1, 2, 1, 2, 1, 2)), ((1,) * 9 + (3,), (1,) * 9 + (3,))]
    for sa, sb in ok:
        a, b = extremum_array(rng, sa, "INT8"), extremum_array(rng, sb, "INT8")
        content = extremum_model(name, sa, sb, "INT8")
        assert np.array_equal(run_op(content, a, b), run_reference(content, [a, b])[0])
    with pytest.raises(UnsupportedError, match="at most 8"):
        prepare(extremum_model(name, (1,) * 8 + (3,), (3,), "INT8"))


# -- the seed models -----------------------------------------------------------------------

@pytest.mark.parametrize("model_name", ["flowers", "food-101", "plant-village"])
def test_seed_model_nodes_match_reference(seed_models, model_name):
    path = seed_models[model_name]
    model = load_model(path)
    for op in model.operators:  # every ADD/MUL there is [1, H, W, C] against a constant [C]
        if op.name in ("ADD", "MUL"):
            assert "lookup_table" in prepare_op(model, op.index)[3].params, op.describe()
    assert check_seed_nodes(path, ("ADD", "MUL"), seed_inputs(path, 11, 170)) == 2 * 16