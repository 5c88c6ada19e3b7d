"""Hypothesis strategies for the data-movement operators (RESHAPE, SQUEEZE,
EXPAND_DIMS, SHAPE, STRIDED_SLICE, PACK, TRANSPOSE, TILE, PAD, PADV2) and the
int32 shape arithmetic converted models do with them, as
:class:`~int8sqz.testing.strategies.Case` objects for
:func:`~int8sqz.testing.strategies.check_case`.

Every type the operators move (int8 with and without quantization, uint8,
int32, float32 with any bits, NaNs included), every option, and parameter
tensors (shapes, begin/end/strides, permutations, multiples, paddings) both
as constants and as values computed by other operators (a PACK of
constants, or SHAPE -> STRIDED_SLICE -> PACK as converted models do), which
TFLite then evaluates when it runs and int8sqz when it prepares.

Where the converter's version of an operator is one TFLite's reference
registration lacks (TILE version 3 for int8; STRIDED_SLICE versions 6 and 8
with ellipsis, new-axis or offset), the reference runs a copy of the model
with the version the registration takes (the same kernel):
:func:`int8sqz.testing.reference.registered_versions`, which
``reference_interpreter`` applies to every model.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import assume, strategies as st

from .strategies import Case, int_data, log_uniform, zero_points
from .writer import GraphBuilder

TYPES = ("INT8", "UINT8", "INT32", "FLOAT32")
_NP = {"INT8": np.int8, "UINT8": np.uint8, "INT32": np.int32, "FLOAT32": np.float32,
       "INT64": np.int64}
INT32_MAX = (1 << 31) - 1
INT32_MIN = -(1 << 31)


# -- building blocks ---------------------------------------------------------------------

@st.composite
def quantization(draw, type_name: str, unquantized_int8: bool = True) -> dict:
    """Per-tensor quantization keywords for int8 and uint8 (int8 sometimes
    without any), none for int32 and float32."""
    if type_name not in ("INT8", "UINT8"):
        return {}
    if type_name == "INT8" and unquantized_int8 and draw(st.integers(0, 5)) == 0:
        return {}
    return dict(scale=draw(log_uniform(2**-10, 2.0)), zero_point=draw(zero_points(type_name)))


@st.composite
def data(draw, type_name: str, shape, zero_point=None):
    """Data of any moved type; float32 as any 32 bits (NaNs with payloads,
    infinities, subnormals, -0.0) or ordinary numbers."""
    if type_name != "FLOAT32":
        return draw(int_data(type_name, tuple(shape), zero_point))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n = math.prod(shape)
    if draw(st.booleans()):
        v = rng.integers(0, 1 << 32, n, dtype=np.uint64).astype(np.uint32).view(np.float32)
    else:
        v = rng.normal(0, 10, n).astype(np.float32)
    return v.reshape(shape)


@st.composite
def shapes(draw, min_rank: int = 0, max_rank: int = 4, max_dim: int = 4,
           zeros: bool = False) -> tuple:
    rank = draw(st.integers(min_rank, max_rank))
    low = 0 if zeros and draw(st.integers(0, 7)) == 0 else 1
    return tuple(draw(st.lists(st.integers(low, max_dim), min_size=rank, max_size=rank)))


def packed_constants(g: GraphBuilder, name: str, values: np.ndarray) -> int:
    """``values`` (rank >= 1) computed as a PACK along axis 0 of constants:
    a parameter tensor TFLite knows only when it runs."""
    parts = [g.constant(f"{name}_{k}", np.array(values[k]))
             for k in range(values.shape[0])]
    out = g.tensor(name, values.shape, {np.dtype(v): k for k, v in _NP.items()}[values.dtype])
    g.operator("PACK", parts, out, values_count=len(parts), axis=0)
    return out


@st.composite
def parameter(draw, g: GraphBuilder, name: str, values, dtype=np.int32, shape=None,
              computed: bool = True):
    """A parameter tensor: a constant, or (int32 of rank >= 1, sometimes)
    computed by a PACK. Returns (tensor index, how)."""
    values = np.asarray(values, dtype).reshape(shape if shape is not None else (-1,))
    if (computed and dtype == np.int32 and values.ndim >= 1 and values.shape[0] >= 1
            and draw(st.integers(0, 3)) == 0):
        return packed_constants(g, name, values), "computed"
    return g.constant(name, values), "constant"


def batch_of(g: GraphBuilder, x: int, rank: int) -> int:
    """A scalar int32 tensor: dimension 0 of ``x``, as converted models take
    it (SHAPE, then STRIDED_SLICE with a shrunk axis)."""
    s = g.tensor(f"shape_of_{x}", (rank,), "INT32")
    g.operator("SHAPE", [x], s, out_type=2)
    batch = g.tensor(f"batch_of_{x}", (), "INT32")
    g.operator("STRIDED_SLICE", [s, g.constant(f"b{x}", np.array([0], np.int32)),
                                 g.constant(f"e{x}", np.array([1], np.int32)),
                                 g.constant(f"st{x}", np.array([1], np.int32))],
               batch, shrink_axis_mask=1)
    return batch


def _factor(n: int) -> list:
    out, p = [], 2
    while p * p <= n:
        while n % p == 0:
            out.append(p)
            n //= p
        p += 1
    if n > 1:
        out.append(n)
    return out


@st.composite
def new_shape_for(draw, shape) -> list:
    """A shape with the elements of ``shape``: its prime factors in 0 to 5
    dimensions, 1s sprinkled in (a 0 somewhere when it is empty)."""
    n = math.prod(shape)
    if n == 0:
        dims = draw(st.lists(st.integers(0, 4), min_size=1, max_size=5))
        dims[draw(st.integers(0, len(dims) - 1))] = 0
        return dims
    factors = draw(st.permutations(_factor(n)))
    k = draw(st.integers(1 if factors else 0, 5))
    dims = [1] * k
    for f in factors:
        dims[draw(st.integers(0, k - 1))] *= f
    return dims


# -- RESHAPE, SQUEEZE, EXPAND_DIMS, SHAPE ------------------------------------------------

@st.composite
def reshape_cases(draw):
    """The new shape from the option, from an int32 vector (constant, a
    PACK, or SHAPE -> STRIDED_SLICE -> PACK as converted models make it),
    with one -1 or none; shape tensors TFLite ignores (int64, a matrix) next
    to the option; the legacy ``[0]`` for a scalar."""
    type_name = draw(st.sampled_from(TYPES))
    q = draw(quantization(type_name))
    shape = draw(shapes(0, 5, 4, zeros=True))
    n = math.prod(shape)
    target = draw(new_shape_for(shape))
    source = draw(st.sampled_from(["option", "tensor", "tensor", "computed", "shape_chain",
                                   "int64_tensor", "matrix_tensor", "legacy_scalar"]))
    if source == "legacy_scalar" and n != 1:
        source = "option"
    if source == "shape_chain" and (not shape or shape[0] == 0):
        source = "computed"
    if source == "shape_chain":
        rest = draw(new_shape_for((n // shape[0],)))
        target = [shape[0]] + rest
    if source == "legacy_scalar":
        target = []
    spec = list(target)
    if spec and n > 0 and draw(st.booleans()):
        spec[draw(st.integers(0, len(spec) - 1))] = -1
    if spec == [0] and source in ("option", "int64_tensor", "matrix_tensor"):
        source = "tensor"  # the option [0] means a scalar (below)

    g = GraphBuilder()
    x = g.input("x", shape, type_name, **q)
    y = g.tensor("y", target, type_name, **q)
    options = {}
    inputs = [x]
    if source == "option":
        options["new_shape"] = spec
    elif source == "legacy_scalar":
        options["new_shape"] = [0]
    elif source == "tensor":
        inputs.append(g.constant("shape", np.array(spec, np.int32)))
        if draw(st.booleans()):
            options["new_shape"] = list(reversed(spec))  # the tensor wins
    elif source == "computed":
        if not spec:
            inputs.append(g.constant("shape", np.zeros(0, np.int32)))
        else:
            inputs.append(packed_constants(g, "shape", np.array(spec, np.int32)))
    elif source == "shape_chain":
        parts = [batch_of(g, x, len(shape))] + [g.constant(f"d{k}", np.array(v, np.int32))
                           for k, v in enumerate(spec[1:], 1)]
        packed = g.tensor("shape", (len(parts),), "INT32")
        g.operator("PACK", parts, packed, values_count=len(parts), axis=0)
        inputs.append(packed)
    else:  # a shape tensor TFLite does not take: the option gives the shape
        wrong = np.array([max(d, 1) * 2 for d in spec] or [7], np.int64)
        if source == "int64_tensor":
            inputs.append(g.constant("ignored", wrong))
        else:
            inputs.append(g.constant("ignored", wrong.astype(np.int32).reshape(1, -1)))
        options["new_shape"] = spec
    g.operator("RESHAPE", inputs, y, **options)
    g.output(y)
    return Case("RESHAPE", g.build(), [draw(data(type_name, shape, q.get("zero_point")))],
                dict(type=type_name, shape=shape, new_shape=spec, source=source,
                     option=options.get("new_shape")))


@st.composite
def squeeze_cases(draw):
    type_name = draw(st.sampled_from(TYPES))
    q = draw(quantization(type_name))
    shape = list(draw(shapes(0, 4, 4, zeros=True)))
    for _ in range(draw(st.integers(0, 3))):
        shape.insert(draw(st.integers(0, len(shape))), 1)
    shape = tuple(shape)
    rank = len(shape)
    ones = [d for d in range(rank) if shape[d] == 1]
    dims = []
    if ones and draw(st.booleans()):
        chosen = draw(st.lists(st.sampled_from(ones), min_size=1, max_size=min(len(ones) + 1, 8)))
        dims = [d - rank if draw(st.booleans()) else d for d in chosen]
    gone = {d % rank for d in dims} if dims else set(ones)
    out_shape = tuple(n for d, n in enumerate(shape) if d not in gone)
    g = GraphBuilder()
    x = g.input("x", shape, type_name, **q)
    y = g.tensor("y", out_shape, type_name, **q)
    if dims or draw(st.booleans()):
        g.operator("SQUEEZE", [x], y, squeeze_dims=dims)
    else:
        g.operator("SQUEEZE", [x], y)  # no options table: every 1 goes
    g.output(y)
    return Case("SQUEEZE", g.build(), [draw(data(type_name, shape, q.get("zero_point")))],
                dict(type=type_name, shape=shape, squeeze_dims=dims))


@st.composite
def expand_dims_cases(draw):
    type_name = draw(st.sampled_from(TYPES))
    q = draw(quantization(type_name))
    shape = draw(shapes(0, 4, 4, zeros=True))
    rank = len(shape)
    axis = draw(st.integers(-rank - 1, rank))
    resolved = axis + rank + 1 if axis < 0 else axis
    out_shape = shape[:resolved] + (1,) + shape[resolved:]
    dtype = draw(st.sampled_from([np.int32, np.int64]))
    g = GraphBuilder()
    x = g.input("x", shape, type_name, **q)
    a, how = draw(parameter(g, "axis", [axis], dtype, shape=draw(st.sampled_from([(), (1,)]))))
    y = g.tensor("y", out_shape, type_name, **q)
    g.operator("EXPAND_DIMS", [x, a], y)
    g.output(y)
    return Case("EXPAND_DIMS", g.build(), [draw(data(type_name, shape, q.get("zero_point")))],
                dict(type=type_name, shape=shape, axis=axis, axis_type=np.dtype(dtype).name,
                     axis_tensor=how))


@st.composite
def shape_cases(draw):
    """The shape as the model's output; of a scalar (an empty vector, which
    the reference's Python wrapper cannot return), as TILE's multiples."""
    type_name = draw(st.sampled_from(TYPES))
    shape = draw(shapes(0, 5, 5, zeros=True))
    out_type = draw(st.sampled_from(["INT32", "INT64"]))
    q = draw(quantization(type_name))
    g = GraphBuilder()
    x = g.input("x", shape, type_name, **q)
    y = g.tensor("y", (len(shape),), out_type)
    g.operator("SHAPE", [x], y, out_type={"INT32": 2, "INT64": 4}[out_type])
    if shape:
        g.output(y)
    else:
        tiled = g.tensor("tiled", (), type_name, **q)
        g.operator("TILE", [x, y], tiled)
        g.output(tiled)
    content = g.build()
    return Case("SHAPE", content, [draw(data(type_name, shape))],
                dict(type=type_name, shape=shape, out_type=out_type))


# -- STRIDED_SLICE -----------------------------------------------------------------------

def _reference_output_shape(content: bytes, inputs):
    """The output shape TFLite's reference gives (it sizes the output itself),
    or None when it refuses the model."""
    from .strategies import reference_outcome

    want, error = reference_outcome(content, inputs)
    return None if error is not None else tuple(want[0].shape)


@st.composite
def strided_slice_cases(draw, well_formed: bool = True):
    """``well_formed``: slices TF's own rules give meaning to (one ellipsis
    at most, new axes and shrunk axes where they are valid, ``offset`` with
    lengths inside the input), which int8sqz must run. Otherwise any begin,
    end and strides, any bits in all five masks and ``offset``: int8sqz must
    refuse what TFLite refuses, and give TFLite's outputs where TFLite's
    result is defined. The declared output shape is the reference's (TFLite
    sizes the output itself)."""
    type_name = draw(st.sampled_from(TYPES))
    q = draw(quantization(type_name))
    if well_formed:
        shape = draw(shapes(0, 5, 5, zeros=True))
        if draw(st.integers(0, 9)) == 0:
            shape = draw(shapes(6, 6, 2))
    else:
        shape = draw(shapes(0, 4, 4, zeros=True))
    rank = len(shape)
    begin, end, strides = [], [], []
    masks = dict(begin_mask=0, end_mask=0, ellipsis_mask=0, new_axis_mask=0,
                 shrink_axis_mask=0, offset=False)
    if well_formed:
        offset = rank > 0 and draw(st.integers(0, 7)) == 0
        count = rank if offset else draw(st.integers(0, rank))
        # TFLite's ellipsis spans at least one input dimension (one the other
        # entries already name, or none at all on a scalar): an empty one is
        # not well formed there
        ellipsis = None if offset or count == rank or not draw(st.integers(0, 3)) == 0 \
            else draw(st.integers(0, count))
        entries = []  # ("axis", d) or ("ellipsis",) or ("new",)
        axes = list(range(count)) if ellipsis is None else \
            list(range(ellipsis)) + list(range(rank - (count - ellipsis), rank))
        for d in axes:
            entries.append(("axis", d))
        if ellipsis is not None:
            entries.insert(ellipsis, ("ellipsis",))
        if not offset:
            for _ in range(draw(st.integers(0, 2)) if draw(st.integers(0, 3)) == 0 else 0):
                entries.insert(draw(st.integers(0, len(entries))), ("new",))
        for k, e in enumerate(entries):
            if e[0] != "axis":
                masks["ellipsis_mask" if e[0] == "ellipsis" else "new_axis_mask"] |= 1 << k
                begin.append(draw(st.integers(-3, 3)))
                end.append(draw(st.integers(-3, 3)))
                strides.append(draw(st.sampled_from([1, 2, -1])))
                continue
            size = shape[e[1]]
            if offset:
                b = draw(st.integers(0, size))
                begin.append(b)
                end.append(draw(st.integers(0, size - b)))
                strides.append(draw(st.integers(1, 3)))
            elif size > 0 and draw(st.integers(0, 4)) == 0:
                masks["shrink_axis_mask"] |= 1 << k
                begin.append(draw(st.integers(-size, size - 1)))
                end.append(draw(st.integers(-size - 2, size + 2)))
                strides.append(draw(st.integers(1, 3)))
            else:
                begin.append(draw(st.integers(-size - 2, size + 2)))
                end.append(draw(st.integers(-size - 2, size + 2)))
                strides.append(draw(st.sampled_from([1, 1, 2, 3, -1, -1, -2, -3])))
                if draw(st.integers(0, 3)) == 0:
                    masks["begin_mask"] |= 1 << k
                if draw(st.integers(0, 3)) == 0:
                    masks["end_mask"] |= 1 << k
        masks["offset"] = offset
    else:
        count = draw(st.integers(0, rank + 2))
        edges = [INT32_MAX, INT32_MIN, INT32_MAX - 1, INT32_MIN + 1]
        for _ in range(count):
            begin.append(draw(st.integers(-6, 6) | st.sampled_from(edges)))
            end.append(draw(st.integers(-6, 6) | st.sampled_from(edges)))
            strides.append(draw(st.sampled_from([1, 2, 3, -1, -2, -3, 0, INT32_MAX, INT32_MIN,
                                                 INT32_MIN + 1])))
        for key in ("begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask",
                    "shrink_axis_mask"):
            masks[key] = draw(st.integers(0, (1 << count) - 1)) if count else 0
        masks["offset"] = draw(st.integers(0, 5)) == 0

    x_data = draw(data(type_name, shape, q.get("zero_point")))
    computed = [draw(st.integers(0, 3)) == 0 for _ in range(3)]
    if masks["offset"] and well_formed and not computed[2]:
        computed[1] = False  # TFLite reads computed end values before they exist

    def build(out_shape, computed):
        g = GraphBuilder()
        x = g.input("x", shape, type_name, **q)
        params = []
        for name, values, packed in zip(("begin", "end", "strides"), (begin, end, strides),
                                        computed):
            values = np.array(values, np.int32).reshape(len(values))
            params.append(packed_constants(g, name, values) if packed and values.size else
                          g.constant(name, values))
        y = g.tensor("y", out_shape, type_name, **q)
        g.operator("STRIDED_SLICE", [x] + params, y, **masks)
        g.output(y)
        return g.build()

    if well_formed:
        # the output shape as the reference sizes it, from constant parameters
        # (the reference's Python wrapper cannot return an empty output whose
        # shape it computed when it ran)
        probe = build(shape, [False] * 3)
        out_shape = _reference_output_shape(probe, [x_data])
    else:
        # hostile slices may crash the reference: it runs them in a worker
        # process (tests/fuzzing.py), which compares the output shapes too;
        # the file says the shape int8sqz computes
        out_shape = _int8sqz_output_shape(shape, begin, end, strides, masks)
        # an offset slice's shape is its raw end values: keep to sizes a file
        # can declare
        assume(out_shape is None or math.prod(d for d in out_shape if d) <= 1 << 20)
    if out_shape is None or math.prod(out_shape) == 0:
        computed = [False] * 3
    content = build(out_shape if out_shape is not None else shape, computed)
    return Case("STRIDED_SLICE", content, [x_data], dict(
        type=type_name, shape=shape, begin=begin, end=end, strides=strides,
        masks={k: v for k, v in masks.items() if v}, computed=computed,
        well_formed=well_formed))


def _int8sqz_output_shape(shape, begin, end, strides, masks):
    from ..errors import ModelError
    from ..ops.strided_slice import output_shape

    def fail(message):
        return ModelError(message)

    try:
        return output_shape(fail, fail, shape, begin, end, strides, masks)
    except ModelError:
        return None


# -- PACK, TRANSPOSE, TILE ---------------------------------------------------------------

@st.composite
def pack_cases(draw):
    type_name = draw(st.sampled_from(TYPES))
    q = draw(quantization(type_name))
    shape = draw(shapes(0, 4, 4, zeros=True))
    rank = len(shape)
    count = draw(st.integers(1, 4))
    axis = draw(st.integers(-rank - 1, rank))
    resolved = axis + rank + 1 if axis < 0 else axis
    g = GraphBuilder()
    ins, datas, kinds = [], [], []
    for k in range(count):
        kind = draw(st.sampled_from(["input", "input", "constant", "again"]))
        if kind == "again" and not ins:
            kind = "input"
        kinds.append(kind)
        if kind == "again":
            ins.append(ins[draw(st.integers(0, len(ins) - 1))])
            continue
        value = draw(data(type_name, shape, q.get("zero_point")))
        if kind == "constant":
            ins.append(g.constant(f"c{k}", value, type_name, **q))
        else:
            ins.append(g.input(f"x{k}", shape, type_name, **q))
            datas.append(value)
    out_shape = shape[:resolved] + (count,) + shape[resolved:]
    y = g.tensor("y", out_shape, type_name, **q)
    g.operator("PACK", ins, y, values_count=count, axis=axis)
    g.output(y)
    if not g.inputs:  # every input constant: TFLite needs no graph input, the test does
        g.inputs.append(g.tensor("unused", (1,), "INT8"))
        datas.append(np.zeros(1, np.int8))
    return Case("PACK", g.build(), datas, dict(type=type_name, shape=shape, count=count,
                                               axis=axis, inputs=kinds))


@st.composite
def transpose_cases(draw):
    type_name = draw(st.sampled_from(TYPES))
    q = draw(quantization(type_name))
    if draw(st.integers(0, 9)) == 0:
        shape = draw(shapes(7, 8, 2))
    else:
        rank = draw(st.integers(1, 6))
        shape = draw(shapes(rank, rank, 4 if rank <= 4 else 3, zeros=True))
    rank = len(shape)
    perm = list(draw(st.permutations(range(rank))))
    given = [p - rank if draw(st.integers(0, 3)) == 0 else p for p in perm]
    g = GraphBuilder()
    x = g.input("x", shape, type_name, **q)
    p, how = draw(parameter(g, "perm", given))
    y = g.tensor("y", tuple(shape[k] for k in perm), type_name, **q)
    g.operator("TRANSPOSE", [x, p], y)
    g.output(y)
    return Case("TRANSPOSE", g.build(), [draw(data(type_name, shape, q.get("zero_point")))],
                dict(type=type_name, shape=shape, perm=given, perm_tensor=how))


@st.composite
def tile_cases(draw):
    """Multiples int32 or int64, constant, computed or any shape of the
    right size; the input an activation or a constant (the SSD model's
    anchors). int8 TILE is version 3, which the reference lacks: it runs a
    copy at version 1."""
    type_name = draw(st.sampled_from(TYPES))
    q = draw(quantization(type_name))
    shape = draw(shapes(0, 5, 3, zeros=True))
    rank = len(shape)
    multiples = draw(st.lists(st.integers(0, 3) if draw(st.integers(0, 4)) == 0 else
                              st.integers(1, 3), min_size=rank, max_size=rank))
    dtype = draw(st.sampled_from([np.int32, np.int64]))
    layout = draw(st.sampled_from(["vector", "vector", "matrix"])) if rank else "vector"
    g = GraphBuilder()
    value = draw(data(type_name, shape, q.get("zero_point")))
    constant_input = draw(st.integers(0, 4)) == 0
    if constant_input:
        x = g.constant("x", value, type_name, **q)
        g.input("unused", (1,), "INT8")  # the test feeds one input
    else:
        x = g.input("x", shape, type_name, **q)
    m, how = draw(parameter(g, "multiples", multiples, dtype,
                            shape=(rank,) if layout == "vector" else (rank, 1)))
    y = g.tensor("y", tuple(d * m for d, m in zip(shape, multiples)), type_name, **q)
    g.operator("TILE", [x, m], y)
    g.output(y)
    content = g.build()
    inputs = [np.zeros(1, np.int8)] if constant_input else [value]
    return Case("TILE", content, inputs, dict(
        type=type_name, shape=shape, multiples=multiples, multiples_type=np.dtype(dtype).name,
        multiples_tensor=how, layout=layout, constant_input=constant_input))


# -- PAD and PADV2 -----------------------------------------------------------------------

@st.composite
def pad_cases(draw, op: str = "PAD", image: bool = False):
    """Paddings int32, int64 or int8, constant or computed; int8 with and
    without quantization (the padding value is then the output's zero point
    or 0), the output's quantization free (TFLite copies); PADV2's constant
    value a constant or an activation, quantized as the output; PAD with the
    third input TFLite also accepts. ``image``: one [1, H, W, C] image,
    the batch not padded (streaming runs those in bands)."""
    type_name = draw(st.sampled_from(TYPES))
    if image:
        shape = (1,) + tuple(draw(st.integers(1, 6)) for _ in range(3))
    else:
        shape = draw(shapes(0, 5, 4 if draw(st.booleans()) else 2, zeros=True))
    rank = len(shape)
    pads = np.array(draw(st.lists(st.integers(0, 3) if draw(st.booleans()) else
                                  st.sampled_from([0, 0, 1]),
                                  min_size=2 * rank, max_size=2 * rank)), np.int64)
    pads = pads.reshape(rank, 2)
    if image:
        pads[0] = 0
    dtype = draw(st.sampled_from([np.int32, np.int32, np.int64, np.int8]))
    in_q = draw(quantization(type_name))
    out_q = in_q if draw(st.booleans()) else draw(quantization(type_name))
    if type_name == "INT8" and not in_q and out_q and draw(st.booleans()):
        out_q = {}
    with_value = op == "PADV2" or draw(st.integers(0, 7)) == 0
    g = GraphBuilder()
    x = g.input("x", shape, type_name, **in_q)
    datas = [draw(data(type_name, shape, in_q.get("zero_point")))]
    p, how = draw(parameter(g, "paddings", pads, dtype, shape=(rank, 2)))
    inputs = [x, p]
    value_kind = None
    if with_value:
        v_shape = draw(st.sampled_from([(), (1,), (1, 1)]))
        value = draw(data(type_name, v_shape, out_q.get("zero_point")))
        value_kind = draw(st.sampled_from(["constant", "constant", "input"]))
        if value_kind == "constant":
            inputs.append(g.constant("value", value, type_name, **out_q))
        else:
            inputs.append(g.input("value", v_shape, type_name, **out_q))
            datas.append(value)
    y = g.tensor("y", tuple(int(d + a + b) for d, (a, b) in zip(shape, pads)), type_name,
                 **out_q)
    g.operator(op, inputs, y)
    g.output(y)
    return Case(op, g.build(), datas, dict(
        type=type_name, shape=shape, paddings=pads.tolist(), paddings_type=np.dtype(dtype).name,
        paddings_tensor=how, in_q=in_q, out_q=out_q, value=value_kind))


# -- int32 shape arithmetic ----------------------------------------------------------------

@st.composite
def shape_arithmetic_cases(draw):
    """The patterns of converted models: SHAPE -> STRIDED_SLICE (shrink) ->
    PACK -> RESHAPE (FD-MobileNet, SSD), and a TILE of constant anchors whose
    multiples are a PACK of that batch and constants (SSD); the batch may be
    resized beforehand."""
    n = draw(st.integers(1, 3))
    h, w, c = draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 6))
    q = dict(scale=draw(log_uniform(2**-8, 1.0)), zero_point=draw(zero_points("INT8")))
    g = GraphBuilder()
    x = g.input("x", (n, h, w, c), "INT8", **q)
    batch = batch_of(g, x, 4)
    split = draw(st.sampled_from(["hw_c", "h_wc", "all"]))
    dims = {"hw_c": [h * w, c], "h_wc": [h, w * c], "all": [h * w * c]}[split]
    parts = [batch] + [g.constant(f"d{k}", np.array(v, np.int32)) for k, v in enumerate(dims)]
    target = g.tensor("target", (len(parts),), "INT32")
    g.operator("PACK", parts, target, values_count=len(parts), axis=0)
    r = g.tensor("reshaped", (n, *dims), "INT8", **q)
    g.operator("RESHAPE", [x, target], r)
    anchors = draw(data("INT8", (1, *dims), q["zero_point"]))
    a = g.constant("anchors", anchors, "INT8", **q)
    ones = [g.constant(f"one{k}", np.array(1, np.int32)) for k in range(len(dims))]
    mult = g.tensor("multiples", (len(parts),), "INT32")
    g.operator("PACK", [batch] + ones, mult, values_count=len(parts), axis=0)
    tiled = g.tensor("tiled", (n, *dims), "INT8", **q)
    g.operator("TILE", [a, mult], tiled)
    both = g.tensor("both", (2 * n, *dims), "INT8", **q)
    g.operator("CONCATENATION", [r, tiled], both, axis=0)
    g.output(both, batch)
    content = g.build()
    return Case("RESHAPE", content, [draw(data("INT8", (n, h, w, c), q["zero_point"]))],
                dict(shape=(n, h, w, c), split=split))
