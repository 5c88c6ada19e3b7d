"""Hostile parameters of the data-movement operators: int8sqz refuses what
TFLite's Prepare refuses (zero strides, out-of-range permutations and axes,
huge TILE multiples, paddings and shapes whose sizes overflow), before it
allocates anything, with one line naming the operator; and it refuses as
unsupported what TFLite runs without a defined result (it reads past a
vector, writes fewer elements than the output holds, or crashes).

Each model runs in the fuzz worker subprocesses (tests/fuzzing.py): int8sqz
in one, TFLite's reference kernels in another (they crash on some of
these)."""

import numpy as np
import pytest

import fuzzing
from int8sqz.testing.writer import GraphBuilder, OperatorDef

INT32_MAX = (1 << 31) - 1
INT32_MIN = -(1 << 31)


@pytest.fixture(autouse=True, scope="module")
def _report(pytestconfig):
    fuzzing.register_report(pytestconfig)


def one_op(name, in_shape, params, out_shape, *, in_type="INT8", out_type=None, version=None,
           inputs=None, **options):
    """A model of one operator: a graph input, then constant ``params``
    (None: an omitted input)."""
    g = GraphBuilder()
    x = g.input("x", in_shape, in_type)
    ins = [x] + [-1 if p is None else g.constant(f"p{k}", p) for k, p in enumerate(params)]
    y = g.tensor("y", out_shape, out_type or in_type)
    g.operators.append(OperatorDef(name, tuple(inputs or ins), (y,), options, version))
    g.output(y)
    return g.build()


def refused(content, *match, reference="refused", error="ModelError"):
    """int8sqz refuses ``content`` with ``error`` in one line containing each
    of ``match``; the reference (in its worker) refuses it (``"refused"``),
    crashes (``"crashed"``), runs it without a defined result (``"ok"``), or
    any of these from one run to the next (None)."""
    r = fuzzing.outcome(content, reference=True)
    assert r["status"] == "refused", r
    assert r["error"] == error, r
    assert "\n" not in r["message"]
    for m in match:
        assert m in r["message"], r["message"]
    if reference is not None:
        assert r["reference"]["status"] == reference, r["reference"]
    return r


I32 = lambda *v: np.array(v, np.int32)  # noqa: E731


# -- STRIDED_SLICE -------------------------------------------------------------------------

@pytest.mark.parametrize("stride, what", [(0, "stride is 0"), (INT32_MIN, "INT32_MIN")])
def test_strided_slice_refuses_zero_and_int32_min_strides(stride, what):
    refused(one_op("STRIDED_SLICE", (2, 3), [I32(0, 0), I32(2, 3), I32(1, stride)], (2, 3)),
            what)


def test_strided_slice_refuses_more_than_31_indices():
    n = 32
    refused(one_op("STRIDED_SLICE", (1,) * n, [I32(*[0] * n), I32(*[1] * n), I32(*[1] * n)],
                   (1,) * n), "at most 31")


def test_strided_slice_refuses_begin_and_end_of_other_lengths():
    refused(one_op("STRIDED_SLICE", (2, 3), [I32(0, 0), I32(2), I32(1, 1)], (2, 3)),
            "begin has 2 entries and end 1")


def test_strided_slice_refuses_strides_shorter_than_begin():
    # TFLite does not check and reads past the strides vector
    refused(one_op("STRIDED_SLICE", (2, 3, 4), [I32(0, 0, 0), I32(2, 3, 4), I32(1)],
                   (2, 3, 4)), "strides has 1 entries", reference="ok")


@pytest.mark.parametrize("begin, stride", [(5, 1), (1, -1)])
def test_strided_slice_shrink_that_writes_nothing_is_unsupported(begin, stride):
    # a shrunk axis past the input, or walked backwards, writes no element:
    # TFLite's output is whatever the memory held
    refused(one_op("STRIDED_SLICE", (2, 3, 4), [I32(begin), I32(begin + 1), I32(stride)],
                   (3, 4), shrink_axis_mask=1, version=2),
            "walks 0 elements", reference="ok", error="UnsupportedError")


def test_strided_slice_masks_reading_past_the_vectors_are_unsupported():
    # an ellipsis at entry 2 of a one-entry slice: TFLite reads begin[1]
    refused(one_op("STRIDED_SLICE", (2, 3, 4, 5), [I32(0), I32(1), I32(1)], (2, 3, 4, 5),
                   ellipsis_mask=4, version=2),
            "read entry 1 of begin", reference="ok", error="UnsupportedError")


def test_strided_slice_offset_reading_past_end_is_unsupported():
    refused(one_op("STRIDED_SLICE", (2, 3, 4), [I32(0), I32(1), I32(1)], (1, 3, 4),
                   offset=True, version=4),
            "reads end entry", reference="crashed", error="UnsupportedError")


def test_strided_slice_parameters_unknown_at_prepare_are_unsupported():
    g = GraphBuilder()
    x = g.input("x", (4,), "INT8")
    b = g.input("begin", (1,), "INT32")
    y = g.tensor("y", (2,), "INT8")
    g.operator("STRIDED_SLICE", [x, b, g.constant("e", I32(4)), g.constant("s", I32(2))], y)
    g.output(y)
    refused(g.build(), "begin", "computed at run time", reference="ok",
            error="UnsupportedError")


# -- TRANSPOSE -----------------------------------------------------------------------------

@pytest.mark.parametrize("perm", [(0, 3, 1), (0, 1, -4), (INT32_MAX, 0, 1), (INT32_MIN, 0, 1)])
def test_transpose_refuses_permutations_out_of_range(perm):
    refused(one_op("TRANSPOSE", (2, 3, 4), [I32(*perm)], (2, 3, 4), version=2), "out of bounds")


def test_transpose_refuses_permutations_of_another_length():
    refused(one_op("TRANSPOSE", (2, 3, 4), [I32(0, 1)], (2, 3, 4), version=2), "expected [3]")


def test_transpose_refuses_more_than_8_dimensions():
    refused(one_op("TRANSPOSE", (1,) * 9, [I32(*range(9))], (1,) * 9, version=8), "at most 8")


def test_transpose_duplicate_permutation_is_unsupported():
    # TFLite reads outside the input
    refused(one_op("TRANSPOSE", (2, 3, 4), [I32(0, 0, 2)], (2, 2, 4), version=2),
            "names a dimension twice", reference="ok", error="UnsupportedError")


def test_transpose_of_a_scalar_is_unsupported():
    # TFLite writes stride[-1] and reads garbage: it crashes, or not
    refused(one_op("TRANSPOSE", (), [np.zeros(0, np.int32)], (), version=2), "scalar",
            reference=None, error="UnsupportedError")


# -- TILE ----------------------------------------------------------------------------------

@pytest.mark.parametrize("multiples, what", [
    ((1, -1), "negative"),
    ((1, INT32_MAX), "beyond INT32_MAX"),
    ((1 << 30, 3), "beyond INT32_MAX"),
])
def test_tile_refuses_negative_and_overflowing_multiples(multiples, what):
    refused(one_op("TILE", (2, 3), [I32(*multiples)], (2, 3), version=3), what)


def test_tile_refuses_a_huge_output_before_allocating():
    """Each dimension within int32, the whole beyond any memory: refused by
    the activation limit when the shape is computed; the reference's
    allocation fails."""
    content = one_op("TILE", (2, 2, 2), [np.array([1 << 29, 1 << 29, 2], np.int64)],
                     (1 << 30, 1 << 30, 4), version=3)
    r = fuzzing.outcome(content, reference=True)
    assert (r["status"], r["error"]) == ("refused", "ModelError"), r
    assert "activations need" in r["message"] and "\n" not in r["message"]
    assert r["reference"]["status"] != "ok", r["reference"]


def test_tile_refuses_multiples_of_another_count():
    refused(one_op("TILE", (2, 3), [I32(1, 2, 3)], (2, 3), version=3), "3 elements")


# -- PAD and PADV2 -------------------------------------------------------------------------

@pytest.mark.parametrize("op", ["PAD", "PADV2"])
@pytest.mark.parametrize("paddings, what", [
    ([[0, -1], [0, 0]], "negative"),
    ([[0, INT32_MAX], [0, 0]], "beyond int32"),
    ([[1 << 16, 0], [1 << 16, 0]], "more elements than int32"),
])
def test_pad_refuses_negative_and_overflowing_paddings(op, paddings, what):
    params = [np.array(paddings, np.int32)] + ([np.array([0], np.int8)] if op == "PADV2" else [])
    refused(one_op(op, (2, 3), params, (2, 3), version=2), what)


def test_pad_refuses_int64_paddings_beyond_int32():
    refused(one_op("PAD", (2, 3), [np.array([[0, 1 << 40], [0, 0]], np.int64)], (2, 3),
                   version=2), "beyond int32")


@pytest.mark.parametrize("paddings", [np.zeros((3, 2), np.int32), np.zeros((2, 3), np.int32),
                                      np.zeros(4, np.int32)])
def test_pad_refuses_paddings_of_the_wrong_shape(paddings):
    refused(one_op("PAD", (2, 3), [paddings], (2, 3), version=2), "paddings")


def test_pad_refuses_more_than_5_dimensions():
    refused(one_op("PAD", (1,) * 6, [np.zeros((6, 2), np.int32)], (1,) * 6, version=4),
            "at most 5")


# -- RESHAPE, SQUEEZE, EXPAND_DIMS, PACK, SHAPE ----------------------------------------------

@pytest.mark.parametrize("shape, what", [
    ((-1, -1), "more than one -1"),
    ((5, -1), "elements"),
    ((-2, -12), "negative dimension"),
    ((INT32_MAX, INT32_MAX, INT32_MAX, 4), "elements"),
])
def test_reshape_refuses_impossible_shapes(shape, what):
    refused(one_op("RESHAPE", (2, 3, 4), [I32(*shape)], (6, 4)), what)


def test_reshape_refuses_a_new_shape_option_of_more_than_8_dimensions():
    refused(one_op("RESHAPE", (2, 3, 4), [I32(24)], (24,), new_shape=[1] * 9), "at most 8")


def test_reshape_with_an_omitted_shape_input_is_refused():
    # TFLite dereferences the missing tensor
    refused(one_op("RESHAPE", (2, 3, 4), [None], (6, 4), new_shape=[6, 4]), "omitted",
            reference="crashed")


@pytest.mark.parametrize("dims", [[1], [5], [-4], [0, 0, 0, 0, 0, 0, 0, 0, 0]])
def test_squeeze_refuses_dimensions_not_of_size_1(dims):
    refused(one_op("SQUEEZE", (1, 2, 1), [], (2,), squeeze_dims=dims), "squeeze_dims")


@pytest.mark.parametrize("axis", [I32(4), I32(-5), I32(INT32_MIN), I32(1, 2)])
def test_expand_dims_refuses_axes_out_of_range(axis):
    refused(one_op("EXPAND_DIMS", (2, 3, 4), [axis], (2, 3, 4, 1)), "axis")


def test_pack_refuses_a_values_count_other_than_its_inputs():
    refused(one_op("PACK", (2, 3), [], (1, 2, 3), values_count=INT32_MAX, axis=0),
            "values_count")


@pytest.mark.parametrize("axis", [3, -4, INT32_MAX, INT32_MIN])
def test_pack_refuses_axes_out_of_range(axis):
    refused(one_op("PACK", (2, 3), [], (1, 2, 3), values_count=1, axis=axis), "axis")


def test_pack_refuses_int8_inputs_quantized_unlike_the_output():
    g = GraphBuilder()
    a = g.input("a", (2,), "INT8", scale=0.1, zero_point=1)
    b = g.input("b", (2,), "INT8", scale=0.2, zero_point=1)
    y = g.tensor("y", (2, 2), "INT8", scale=0.1, zero_point=1)
    g.operator("PACK", [a, b], y, values_count=2, axis=0)
    g.output(y)
    refused(g.build(), "requires them equal")


@pytest.mark.parametrize("out_type", [0, 3, 9, -1, 127])
def test_shape_refuses_out_types_other_than_int32_and_int64(out_type):
    # one_op's out_type is the output tensor's type: the option goes in by hand
    g = GraphBuilder()
    x = g.input("x", (2, 3), "INT8")
    y = g.tensor("y", (2,), "INT32")
    g.operator("SHAPE", [x], y, out_type=out_type)
    g.output(y)
    refused(g.build(), "out_type")


def test_strided_slice_offset_with_computed_end_and_constant_strides_is_unsupported():
    # TFLite sizes the output in Prepare from end values that do not exist yet
    from int8sqz.testing.movement import packed_constants

    g = GraphBuilder()
    x = g.input("x", (5,), "INT8")
    e = packed_constants(g, "end", I32(2))
    y = g.tensor("y", (2,), "INT8")
    g.operator("STRIDED_SLICE", [x, g.constant("b", I32(1)), e, g.constant("s", I32(1))], y,
               offset=True, version=4)
    g.output(y)
    refused(g.build(), "before they exist", reference="crashed", error="UnsupportedError")
