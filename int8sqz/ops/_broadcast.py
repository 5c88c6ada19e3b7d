"""Shapes and loop nests shared by the elementwise operators (ADD, MUL) and
CONCATENATION, and the validation and run step that ADD and MUL share.

A *loop nest* describes how a kernel walks several arrays at once: ``shape``
(int64, outermost dimension first, innermost last) and ``strides`` (int64,
one row per operand, in elements). Operands are handed to the kernels as 1-D
arrays that start at their first element (:func:`flat`), so an output (or an
input) may be a strided view of a larger buffer as well as a C-contiguous
array. :func:`loop_nest` drops unit dimensions and fuses adjacent dimensions
that every operand walks contiguously, so a same-shape ADD is one flat loop
and a ``[1, H, W, C] + [C]`` ADD is ``H*W`` rows of ``C`` elements.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import InternalError
from ..kernels.elementwise import lut_gather

#: TFLite's reference broadcast loop (``BroadcastBinaryOpSimple``) aborts the
#: process on broadcasts of more dimensions than this (``kMaxRank``)
MAX_BROADCAST_RANK = 8


def broadcast_shape(shape1, shape2):
    """The output shape of a broadcast, as TFLite's
    ``CalculateShapeForBroadcast`` computes it (NumPy's rule: dimensions are
    matched from the right; each pair is equal or one of them is 1; a 1
    against a 0 gives 0). Returns None when the shapes are incompatible."""
    rank = max(len(shape1), len(shape2))
    a = (1,) * (rank - len(shape1)) + tuple(shape1)
    b = (1,) * (rank - len(shape2)) + tuple(shape2)
    out = []
    for d1, d2 in zip(a, b):
        if d1 != d2 and d1 != 1 and d2 != 1:
            return None
        out.append(d2 if d1 == 1 else d1)
    return tuple(out)


def needs_broadcast(shape1, shape2) -> bool:
    """Whether TFLite takes the broadcast path (``ProcessBroadcastShapes``):
    the shapes differ after padding the shorter one with leading 1s."""
    rank = max(len(shape1), len(shape2))
    a = (1,) * (rank - len(shape1)) + tuple(shape1)
    b = (1,) * (rank - len(shape2)) + tuple(shape2)
    return a != b


def c_strides(shape) -> tuple:
    """Element strides of a C-contiguous array of ``shape``."""
    strides = []
    step = 1
    for d in reversed(tuple(shape)):
        strides.append(step)
        step *= max(int(d), 1)
    return tuple(reversed(strides))


def flat(array: np.ndarray):
    """``(array1d, strides)``: a 1-D view of the memory ``array`` spans,
    starting at its first element, and ``array``'s strides in elements.

    Writing through the 1-D view writes into ``array``. Strides must be
    non-negative multiples of the item size (any view a memory planner hands
    out: slices along an axis, reshapes of contiguous memory).
    """
    if array.flags.c_contiguous:
        return array.reshape(-1), c_strides(array.shape)
    item = array.itemsize
    if any(s < 0 or s % item for s in array.strides):
        raise InternalError(
            f"array strides {array.strides} are not non-negative multiples of {item}"
        )
    strides = tuple(s // item for s in array.strides)
    if array.size == 0:
        return array.reshape(-1)[:0], strides
    span = 1 + sum((d - 1) * s for d, s in zip(array.shape, strides))
    view = np.lib.stride_tricks.as_strided(array, shape=(span,), strides=(item,))
    return view, strides


def loop_nest(out_shape, operands):
    """The fused loop nest over ``out_shape`` for ``operands``.

    ``operands`` is a list of ``(shape, strides)``, strides in elements; each
    shape is matched to ``out_shape`` from the right and must broadcast to it
    (a dimension of 1, or a missing leading dimension, is walked with stride
    0). Returns ``(shape, strides)`` as int64 arrays of shapes ``(R,)`` and
    ``(len(operands), R)``, R >= 1; a zero-size ``out_shape`` gives
    ``shape == [0]``.
    """
    out_shape = tuple(int(d) for d in out_shape)
    rank = len(out_shape)
    n = len(operands)
    aligned = []
    for shape, strides in operands:
        shape, strides = tuple(shape), tuple(strides)
        pad = rank - len(shape)
        if pad < 0 or len(strides) != len(shape):
            raise InternalError(f"operand shape {shape} does not fit output shape {out_shape}")
        row = []
        for d in range(rank):
            if d < pad or shape[d - pad] == 1:
                row.append(0)
            elif shape[d - pad] == out_shape[d]:
                row.append(int(strides[d - pad]))
            else:
                raise InternalError(
                    f"operand shape {shape} does not broadcast to output shape {out_shape}"
                )
        aligned.append(row)
    if math.prod(out_shape) == 0:
        return np.zeros(1, np.int64), np.zeros((n, 1), np.int64)
    # walk from the innermost dimension outwards, fusing when every operand's
    # stride continues the group below it
    dims = []  # innermost first: [extent, [stride per operand]]
    for d in range(rank - 1, -1, -1):
        extent = out_shape[d]
        if extent == 1:
            continue
        col = [aligned[k][d] for k in range(n)]
        if dims:
            inner_extent, inner = dims[-1]
            if all(col[k] == inner[k] * inner_extent for k in range(n)):
                dims[-1][0] = inner_extent * extent
                continue
        dims.append([extent, col])
    if not dims:  # a single element: any stride will do; 1 takes the kernels' unit-stride path
        dims.append([1, [1] * n])
    dims.reverse()
    shape = np.array([e for e, _ in dims], np.int64)
    strides = np.array([[col[k] for _, col in dims] for k in range(n)], np.int64).reshape(n, -1)
    return shape, strides


# -- ADD and MUL ------------------------------------------------------------------------

QUANTIZED = ("INT8", "UINT8")


def check_binary_types(op, ctx) -> str:
    """Arity and types of ADD and MUL: two inputs of one 8-bit type, and an
    output of that type. Returns the type name."""
    ctx.check_arity(op, 2)
    a, b = op.inputs
    out = op.outputs[0]
    type_name = ctx.check_type(op, a, QUANTIZED, "input 1")
    for index, role in ((b, "input 2"), (out, "output")):
        if ctx.tensor(index).type_name != type_name:
            raise ctx.error(
                op, f"{role} {ctx.label(index)} has type {ctx.tensor(index).type_name}, "
                f"expected {type_name} like input 1"
            )
    return type_name


def prepare_binary(op, ctx):
    """What ADD and MUL prepare alike: types, the broadcast output shape, and
    the (scale, zero point) of input 1, input 2 and the output."""
    from ._common import check_scale, check_zero_point

    type_name = check_binary_types(op, ctx)
    out_shape = binary_output_shape(op, ctx)
    roles = ((op.inputs[0], "input 1"), (op.inputs[1], "input 2"), (op.outputs[0], "output"))
    quant = [(check_scale(ctx, op, i, role), check_zero_point(ctx, op, i, role))
             for i, role in roles]
    return type_name, out_shape, quant


def binary_output_shape(op, ctx) -> tuple:
    """Set and return the broadcast output shape of ADD or MUL."""
    a, b = op.inputs
    sa, sb = ctx.shape(a), ctx.shape(b)
    shape = broadcast_shape(sa, sb)
    if shape is None:
        raise ctx.error(
            op, f"input shapes {list(sa)} ({ctx.label(a)}) and {list(sb)} ({ctx.label(b)}) "
            f"do not broadcast: each pair of dimensions, matched from the right, must be "
            f"equal or contain a 1"
        )
    if needs_broadcast(sa, sb) and len(shape) > MAX_BROADCAST_RANK:
        raise ctx.unsupported(
            op, f"broadcasting {list(sa)} with {list(sb)} has rank {len(shape)}; TFLite's "
            f"reference kernels broadcast at most {MAX_BROADCAST_RANK} dimensions"
        )
    ctx.set_output_shape(op, op.outputs[0], shape)
    return shape


def binary_run(op, ctx, out_shape, call):
    """The run step of ADD and MUL: ``call(out, a, b, shape, strides)`` runs
    the kernel on 1-D arrays.

    The loop nest for C-contiguous arrays is computed here, once; when an
    array is a strided view (a memory planner's choice), the nest is computed
    again from the actual strides."""
    a, b = op.inputs
    dst = op.outputs[0]
    sa, sb = ctx.shape(a), ctx.shape(b)
    shape, strides = loop_nest(
        out_shape, [(out_shape, c_strides(out_shape)), (sa, c_strides(sa)), (sb, c_strides(sb))]
    )

    def run(t):
        o, x, y = t[dst], t[a], t[b]
        if o.flags.c_contiguous and x.flags.c_contiguous and y.flags.c_contiguous:
            call(o.reshape(-1), x.reshape(-1), y.reshape(-1), shape, strides)
            return
        (of, os), (xf, xs), (yf, ys) = flat(o), flat(x), flat(y)
        nest_shape, nest_strides = loop_nest(o.shape, [(o.shape, os), (x.shape, xs), (y.shape, ys)])
        call(of, xf, yf, nest_shape, nest_strides)

    return run


#: the lookup-table path is taken when the constant has at most this many
#: elements (a table of 256 bytes each: at most 256 KiB)...
LUT_MAX_CONSTANT = 1024
#: ... and the output has at least this many elements per constant element
#: (otherwise filling the table costs more than it saves)
LUT_MIN_REUSE = 4


def constant_lut_run(op, ctx, out_shape, call):
    """The run step of ADD or MUL when one input is a constant and the other
    is computed at run time (the seed models' unfolded batch norm,
    ``[1, H, W, C]`` against ``[C]``), or None when this does not apply.

    The table holds, for each constant element and each of the 256 values of
    the activation, the output the general kernel (``call``) computes: it is
    filled by running that kernel once over ``[constant elements, 256]``, so
    the lookup gives its integers by construction. Any broadcast pattern
    works: the loop nest walks the constant's flat index."""
    a, b = op.inputs
    tensors = ctx.model.tensors
    if tensors[a].is_constant == tensors[b].is_constant:
        return None
    const, act = (a, b) if tensors[a].is_constant else (b, a)
    dst = op.outputs[0]
    c_shape = tuple(ctx.shape(const))
    n_const = math.prod(c_shape)
    if n_const == 0 or n_const > LUT_MAX_CONSTANT or n_const * LUT_MIN_REUSE > math.prod(out_shape):
        return None
    data = np.ascontiguousarray(ctx.constant(op, const, "constant input")).reshape(-1)
    dtype = data.dtype
    # column u of the table: the value whose byte is u (run() looks up the
    # activation's bytes)
    values = np.arange(256, dtype=np.uint8).view(dtype)
    table = np.zeros((n_const, 256), dtype)
    # the general kernel on [n_const, 256]: values along the row, the
    # constant down the column, in the operator's input order
    tab_shape = (n_const, 256)
    operands = {const: (data, (n_const, 1)), act: (values, (1, 256))}
    if a == const:
        (xa, sa), (xb, sb) = operands[const], operands[act]
    else:
        (xa, sa), (xb, sb) = operands[act], operands[const]
    shape, strides = loop_nest(
        tab_shape, [(tab_shape, c_strides(tab_shape)), (sa, c_strides(sa)), (sb, c_strides(sb))]
    )
    call(table.reshape(-1), xa, xb, shape, strides)
    lut = table.view(np.uint8)
    sx = ctx.shape(act)
    c_str = c_strides(c_shape)
    shape, strides = loop_nest(
        out_shape, [(out_shape, c_strides(out_shape)), (sx, c_strides(sx)), (c_shape, c_str)]
    )

    def run(t):
        o, x = t[dst], t[act]
        if o.flags.c_contiguous and x.flags.c_contiguous:
            lut_gather(o.reshape(-1).view(np.uint8), x.reshape(-1).view(np.uint8), lut, shape,
                       strides)
            return
        (of, os), (xf, xs) = flat(o.view(np.uint8)), flat(x.view(np.uint8))
        nest_shape, nest_strides = loop_nest(
            o.shape, [(o.shape, os), (x.shape, xs), (c_shape, c_str)]
        )
        lut_gather(of, xf, lut, nest_shape, nest_strides)

    run.lookup_table = table
    return run

