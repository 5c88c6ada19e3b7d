"""What the binary elementwise operators share (ADD, SUB, MUL; MAXIMUM and
MINIMUM use the shape and the run step): types, the broadcast output shape,
the run step over a loop nest (int8sqz.ops._broadcast), and the lookup-table
path for an activation against a small constant."""

from __future__ import annotations

import math

import numpy as np

from ..kernels import builtin as kb
from ..kernels.elementwise import lut_gather
from .unit import Bands, Node, row_band_windows
from ._broadcast import (
    MAX_BROADCAST_RANK, broadcast_shape, c_strides, five_fold, flat, loop_nest,
    needs_broadcast,
)

QUANTIZED = ("INT8", "UINT8")


def check_binary_types(op, ctx, types=QUANTIZED) -> str:
    """Arity and types of a binary elementwise operator: two inputs of one
    of ``types`` (ADD, SUB, MUL: the 8-bit types), and an output of that
    type. Returns the type name."""
    ctx.check_arity(op, 2)
    a, b = op.inputs
    out = op.outputs[0]
    type_name = ctx.check_type(op, a, types, "input 1")
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


def binary_output_shape(op, ctx, padded: bool = True) -> tuple:
    """Set and return the broadcast output shape of a binary elementwise
    operator. TFLite takes its broadcast loop, which refuses ranks above
    ``MAX_BROADCAST_RANK``, when the shapes differ after padding the shorter
    with leading 1s (ADD, MUL, SUB: ``padded``) or when they differ as
    written (MAXIMUM, MINIMUM)."""
    a, b = op.inputs
    sa, sb = ctx.shape(a), ctx.shape(b)
    shape = broadcast_shape(sa, sb)
    if shape is None:
        raise ctx.error(
            op, f"input shapes {list(sa)} ({ctx.label(a)}) and {list(sb)} ({ctx.label(b)}) "
            f"do not broadcast: each pair of dimensions, matched from the right, must be "
            f"equal or contain a 1"
        )
    broadcast = needs_broadcast(sa, sb) if padded else tuple(sa) != tuple(sb)
    if broadcast and len(shape) > MAX_BROADCAST_RANK:
        raise ctx.unsupported(
            op, f"broadcasting {list(sa)} with {list(sb)} has rank {len(shape)}; TFLite's "
            f"reference kernels broadcast at most {MAX_BROADCAST_RANK} dimensions"
        )
    ctx.set_output_shape(op, op.outputs[0], shape)
    return shape


def binary_run(op, ctx, out_shape, call, params):
    """The node of ADD and MUL: ``call(out, a, b, shape, strides)`` runs the
    kernel on 1-D arrays; ``params`` are the prepared parameters.

    The loop nest for C-contiguous arrays is computed here, once; when an
    array is a strided view (a memory planner's choice), the nest is computed
    again from the actual strides."""
    a, b = op.inputs
    dst = op.outputs[0]
    sa, sb = tuple(ctx.shape(a)), tuple(ctx.shape(b))
    out_shape = tuple(out_shape)
    shape, strides = loop_nest(
        out_shape, [(out_shape, c_strides(out_shape)), (sa, c_strides(sa)), (sb, c_strides(sb))]
    )

    # the output array's own shape: out_shape, or the one a desktop runtime
    # gives it (add.py xnnpack_lut_shape), of as many elements
    whole = tuple(ctx.shape(dst))

    def run(t):
        o, x, y = t[dst], t[a], t[b]
        # the nest made here is for the whole tensors; a band of rows
        # (streaming) takes the general path below
        if (o.flags.c_contiguous and x.flags.c_contiguous and y.flags.c_contiguous
                and o.shape == whole and x.shape == sa and y.shape == sb):
            call(o.reshape(-1), x.reshape(-1), y.reshape(-1), shape, strides)
            return
        (of, os), (xf, xs), (yf, ys) = flat(o), flat(x), flat(y)
        nest_shape, nest_strides = loop_nest(o.shape, [(o.shape, os), (x.shape, xs), (y.shape, ys)])
        call(of, xf, yf, nest_shape, nest_strides)

    return Node(op, run, dict(params, loop_shape=shape, loop_strides=strides))


#: the lookup-table path is taken when the constant has at most this many
#: elements (a table of 256 bytes each: at most 256 KiB)...
LUT_MAX_CONSTANT = 1024
#: ... and the output has at least this many elements per constant element
#: (otherwise filling the table costs more than it saves)
LUT_MIN_REUSE = 4


def constant_lut_run(op, ctx, out_shape, call, params):
    """The node of ADD or MUL when one input is a constant and the other is
    computed at run time (the seed models' unfolded batch norm,
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
    out_shape = tuple(out_shape)
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

    whole = tuple(ctx.shape(dst))  # as in binary_run

    def run(t):
        o, x = t[dst], t[act]
        if o.flags.c_contiguous and x.flags.c_contiguous and o.shape == whole:
            lut_gather(o.reshape(-1).view(np.uint8), x.reshape(-1).view(np.uint8), lut, shape,
                       strides)
            return
        (of, os), (xf, xs) = flat(o.view(np.uint8)), flat(x.view(np.uint8))
        nest_shape, nest_strides = loop_nest(
            o.shape, [(o.shape, os), (x.shape, xs), (c_shape, c_str)]
        )
        lut_gather(of, xf, lut, nest_shape, nest_strides)

    return Node(op, run, dict(params, kernel="lut_gather", lookup_table=table, loop_shape=shape,
                              loop_strides=strides))


def builtin_run(op, ctx, is_add: bool, p: tuple, params):
    """The node of int8 ADD (``is_add``) or MUL under the optimized builtin
    kernels (kernels/builtin.py ``binary_fivefold``): the whole tensor as
    one run when the shapes match, ``BinaryBroadcastFiveFold`` otherwise
    (input 2 first when it is the one that broadcasts fast, with the
    parameters swapped); None for a generic broadcast, which TFLite runs
    with the reference's slow loop. ``p``: TFLite's ``ArithmeticParams``
    as (input1_offset, input1_multiplier, input1_shift, input2_offset,
    input2_multiplier, input2_shift, output_multiplier, output_shift,
    output_offset, act_min, act_max)."""
    from ._common import flat as flat1

    a, b = op.inputs
    dst = op.outputs[0]
    category, dims = five_fold(ctx.shape(a), ctx.shape(b))
    if category == "generic":
        return None
    if category == "none":
        dims = (1, 1, 1, 1, math.prod(ctx.shape(dst)))
    if category == "second":
        a, b = b, a
        p = p[3:6] + p[0:3] + p[6:]
    dims = tuple(int(d) for d in dims)
    p = tuple(int(v) for v in p)

    def run(t):
        kb.binary_fivefold(is_add, flat1(t[a]), flat1(t[b]), dims, p, flat1(t[dst]))

    return Node(op, run, dict(params, kernel="builtin.binary_fivefold", category=category,
                              five_dims=dims))


def elementwise_per_image(op, model, shapes) -> bool:
    """Batch threading of a broadcasting elementwise operator: image b of the
    output reads image b of each activation input when every activation input
    has the output's rank (no activation broadcast across images) and every
    constant input has a lower rank or 1 as its first dimension."""
    out_rank = len(shapes[op.outputs[0]])
    for i in op.inputs:
        if i < 0:
            continue
        shape = shapes[i]
        if not model.tensors[i].is_constant:
            if len(shape) != out_rank:
                return False
        elif len(shape) == out_rank and out_rank > 0 and shape[0] != 1:
            return False
    return True



def binary_band_windows(op, model, shapes):
    """Streaming a binary elementwise operator (``Bands.views``): row y of
    the output from row y of each input of its height; a constant must be
    broadcast over the rows (the lookup table walks a constant from its
    first element, whatever band runs)."""
    windows = row_band_windows(op, model, shapes)
    if windows is None:
        return None
    for i, w in zip(op.inputs, windows):
        if w is not None and model.tensors[i].is_constant and shapes[op.outputs[0]][1] > 1:
            return None
    return windows


#: kernels/elementwise.py: the node's run on views of a band's rows (each
#: output element from the input elements at its own position)
BINARY_BANDS = Bands(kernel="kernels/elementwise.py", windows=binary_band_windows, views=True)
