"""PAD and PADV2: one prepare step, as in TFLite's ``pad.cc`` (both
operators share it; each accepts 2 or 3 inputs, the third being the
constant value).

- The paddings tensor is a matrix ``[rank, 2]`` of int32, int64 or int8
  (before, after per dimension), each value >= 0 (int64 values within
  int32); each output dimension ``input + before + after`` and the element
  count within int32. It may be computed by earlier operators (known when
  int8sqz prepares).
- Input rank at most 5 (``PadKernelMaxDimensionCount``); output of the
  input's type (quantization is not checked: the elements are copied).
- The padding value: the constant input (one element, of the input's type)
  when there is one, read when the model runs; otherwise 0 for float32 and
  int32 and for int8 without quantization, and the output's zero point for
  uint8 and for quantized int8 (``EvalInt``; it must fit the type). With a
  constant input, uint8 and quantized int8 require the constant's scale and
  zero point to equal the output's (TFLite checks this when it runs; int8sqz
  when it prepares).
"""

import math

import numpy as np

from ..kernels import movement as k
from ._common import INT_RANGES, check_same_quantization, flat, legacy_quantization
from ._movement import INT32_MAX, bits, check_max_rank, check_same_type, int_values
from ._tflm import in_order_trace, temp_inputs, temp_output, usable
from .unit import Bands, CStruct, Node, RowWindow, TflmAllocations, band_rows, check_band, def_type

MAX_DIMS = 5
_PADDING_TYPES = ("INT32", "INT64", "INT8")


def prepare(op, ctx):
    ctx.check_arity(op, (2, 3))
    src, pad_t, dst = op.inputs[0], op.inputs[1], op.outputs[0]
    value_t = op.inputs[2] if len(op.inputs) == 3 and op.inputs[2] >= 0 else None
    ctx.check_type(op, pad_t, _PADDING_TYPES, "paddings")
    pshape = tuple(ctx.shape(pad_t))
    if len(pshape) != 2 or pshape[1] != 2:
        raise ctx.error(op, f"paddings {ctx.label(pad_t)} has shape {list(pshape)}, expected "
                        f"[rank, 2]")
    type_name = check_same_type(ctx, op, src, dst)
    if value_t is not None:
        ctx.check_type(op, value_t, (type_name,), "constant value")
        n = math.prod(ctx.shape(value_t))
        if n != 1:
            raise ctx.error(op, f"constant value {ctx.label(value_t)} has {n} elements, "
                            f"expected 1")
    shape = check_max_rank(ctx, op, src, MAX_DIMS, "PAD")
    rank = len(shape)
    if pshape[0] != rank:
        raise ctx.error(op, f"paddings {ctx.label(pad_t)} has {pshape[0]} rows, expected one "
                        f"per input dimension ({rank})")
    values = int_values(ctx, op, pad_t, "paddings")
    for v in values:
        if not -(1 << 31) <= v <= INT32_MAX:
            raise ctx.error(op, f"padding {v} is beyond int32; TFLite refuses it")
        if v < 0:
            raise ctx.error(op, f"padding {v} is negative; TFLite requires paddings >= 0")
    before, after = values[0::2], values[1::2]
    out_shape = tuple(d + b + a for d, b, a in zip(shape, before, after))
    for d in out_shape:
        if d > INT32_MAX:
            raise ctx.error(op, f"output dimension {d} is beyond int32; TFLite refuses it")
    if math.prod(out_shape) > INT32_MAX:
        raise ctx.error(op, f"the output of shape {list(out_shape)} has more elements than "
                        f"int32 counts; TFLite refuses it")
    ctx.set_output_shape(op, dst, out_shape)

    fill = _padding_value(op, ctx, type_name, src, dst, value_t)
    in5, left5, out5 = kernel_geometry(shape, before, after)
    empty = math.prod(out_shape) == 0

    def run(t):
        if empty:
            return
        out = bits(flat(t[dst]))
        if value_t is None:
            value = fill
        else:
            value = bits(np.ascontiguousarray(t[value_t]).reshape(-1)[:1])[0]
        x = t[src]
        if not x.flags.c_contiguous:
            x = np.ascontiguousarray(x)
        k.pad(out, bits(flat(x)), value, in5, left5, out5)

    params = dict(kernel="pad", before=before, after=after,
                  value="the constant input" if fill is None else
                  np.array([fill]).view(ctx.tensor(dst).dtype)[0].item())
    rows = None
    if rank == 4 and out_shape[0] == 1 and before[0] == 0 and not empty:
        rows = _band_rows(op, src, dst, value_t, fill, tuple(shape), out_shape, before, after)
    return ctx.fold(Node(op, run, params, rows))


def _band_rows(op, src, dst, value_t, fill, in_shape, out_shape, before, after):
    """Node.rows of a 4-D PAD (batch 1): the band's output rows are its rows
    of top padding, the input rows ``first - top..last - 1 - top`` padded at
    the sides, and its rows of bottom padding: the kernel pads that band as
    an image of its own (the same elements, in the same order)."""
    top = before[1]
    window = RowWindow(1, 1, 1, top)

    def rows(max_rows):
        def run_rows(t, origins, first, last):
            x, y = t[src], t[dst]
            x0, y0 = origins.get(src, 0), origins.get(dst, 0)
            check_band(op, window, in_shape, x, x0, out_shape, y, y0, first, last, max_rows)
            lo, hi = band_rows(window, in_shape[1], first, last)
            lead = min(max(top - first, 0), last - first)
            band_in = (1, hi - lo) + tuple(in_shape[2:])
            in5, left5, out5 = kernel_geometry(
                band_in, (0, lead) + tuple(before[2:]),
                (0, last - first - lead - (hi - lo)) + tuple(after[2:]))
            value = fill if value_t is None else bits(
                np.ascontiguousarray(t[value_t]).reshape(-1)[:1])[0]
            xb = x[:, lo - x0:hi - x0] if hi > lo else x[:, :0]
            if not xb.flags.c_contiguous:
                xb = np.ascontiguousarray(xb)
            k.pad(bits(flat(y[:, first - y0:last - y0])), bits(flat(xb)), value, in5, left5,
                  out5)
        return run_rows
    return rows


def kernel_geometry(shape, before, after):
    """Input shape, left paddings and output shape for kernels/movement.py
    ``pad``: a trailing dimension without padding merged into the one before
    it (the same elements, in longer runs), then extended to 5 dimensions."""
    shape, before, after = list(shape), list(before), list(after)
    while len(shape) > 1 and before[-1] == 0 and after[-1] == 0:
        n = shape.pop()
        before.pop()
        after.pop()
        shape[-1] *= n
        before[-1] *= n
        after[-1] *= n
    ext = MAX_DIMS - len(shape)
    out = [d + b + a for d, b, a in zip(shape, before, after)]
    return (np.array([1] * ext + shape, np.int64), np.array([0] * ext + before, np.int64),
            np.array([1] * ext + out, np.int64))


def _padding_value(op, ctx, type_name, src, dst, value_t):
    """The padding value as bits (None: the constant input's, at run time)."""
    dtype = ctx.tensor(dst).dtype
    # TFLite takes EvalInt for uint8, and for int8 when the input is quantized
    quantized = type_name == "UINT8" or (
        type_name == "INT8" and ctx.tensor(src).quantization.scales.size > 0)
    # TFLite's EvalInt reads the output's legacy params: per-tensor or nothing
    out_zp = legacy_quantization(ctx.tensor(dst))[1]
    if value_t is not None:
        if quantized:
            check_same_quantization(ctx, op, value_t, "constant value", dst,
                                    "TFLite requires them equal")
        return None
    if not quantized:
        return bits(np.zeros(1, dtype))[0]
    lo, hi = INT_RANGES[type_name]
    if not lo <= out_zp <= hi:
        raise ctx.error(op, f"output {ctx.label(dst)} has zero point {out_zp}, the padding "
                        f"value, outside {lo}..{hi}")
    return bits(np.array([out_zp], dtype))[0]


def version(op, tensors) -> int:
    """``op_version.cc`` for the types int8sqz runs: 4 beyond rank 4, 2 for
    int8, else 1."""
    if op.inputs and op.inputs[0] >= 0 and len(tensors[op.inputs[0]].shape) > 4:
        return 4
    return 2 if def_type(op, tensors, 0) == "INT8" else 1


def _constant_paddings(op, model):
    if len(op.inputs) < 2 or op.inputs[1] < 0:
        return None
    data = model.tensors[op.inputs[1]].data
    return None if data is None else [int(v) for v in data.reshape(-1)]


def per_image(op, model, shapes) -> bool:
    """Image by image unless the batch dimension is padded (the paddings
    must be constant) or the padding value is an activation."""
    p = _constant_paddings(op, model)
    value_t = op.inputs[2] if len(op.inputs) == 3 else -1
    if value_t >= 0 and not model.tensors[value_t].is_constant:
        return False
    return p is not None and len(p) >= 2 and p[0] == 0 and p[1] == 0


def rows(op, shapes):
    """kernels/movement.py ``pad``: output row y (of a 4-D tensor, batch
    not padded) reads input row ``y - top`` only. The top padding is taken
    as the whole height padding (``output - input`` rows), which the
    shapes give: that makes every row read no later than it really does,
    so the overlap allowed is never more than the true order permits."""
    if len(op.inputs) < 2 or not op.outputs:
        return None
    i, o = shapes[op.inputs[0]], shapes[op.outputs[0]]
    if len(i) != 4 or len(o) != 4 or i[0] != o[0] or o[1] < i[1]:
        return None
    return RowWindow(filter_height=1, stride=1, dilation=1, pad_top=o[1] - i[1])


def bands(op, model, shapes):
    """Streaming a 4-D PAD with constant paddings and batch 1: output row y
    reads input row ``y - top`` only (none in the padding); the paddings and
    the constant value are read whole."""
    p = _constant_paddings(op, model)
    if len(op.inputs) < 2 or not op.outputs or p is None or len(p) != 8:
        return None
    i, o = shapes[op.inputs[0]], shapes[op.outputs[0]]
    if len(i) != 4 or len(o) != 4 or o[0] != 1 or p[0] != 0 or p[1] != 0 or min(p) < 0:
        return None
    return (RowWindow(1, 1, 1, p[2]),) + (None,) * (len(op.inputs) - 1)


#: kernels/movement.py ``pad`` on a band: the band padded as an image of its own
BANDS = Bands(kernel="int8sqz/ops/_pad.py", windows=bands)


#: OpData of PAD and PADV2 (micro/kernels/pad.h): PadParams (types.h: two
#: counted int32[5] paddings, a uint8 resizing category) and the output zero point
OP_DATA_PAD = CStruct("OpData", (CStruct("PadParams", ("int8", ("int32", 5), "int8",
                                                      ("int32", 5), "uint8")), "int32"),
                      "micro/kernels/pad.h, kernels/internal/types.h")


def tflm_persistent(op, model, shapes):
    """micro/kernels/pad_common.cc: PadInit allocates OpData; PadPrepare
    takes input, paddings, the constant value (PADV2's third input) and the
    output as temporary tensors. ParsePad and ParsePadV2 allocate
    nothing."""
    return TflmAllocations("micro/kernels/pad_common.cc PadInit, PadPrepare", None, OP_DATA_PAD,
                           temp_inputs(op, 0, 1, 2) + temp_output(op))


def tflm_sharing(op, k, model, shapes):
    """PAD int8 (pad.cc -> reference_ops::Pad / PadImageStyle -> PadImpl):
    the output written element by element in order; an element inside the
    input's region copies the input's next element."""
    if k != 0 or op.name != "PAD" or len(op.inputs) < 2 or op.inputs[1] < 0 or \
            not usable(op, k, model, shapes) or model.tensors[op.inputs[1]].data is None:
        return None
    src, dst = op.inputs[0], op.outputs[0]
    pads = np.asarray(model.tensors[op.inputs[1]].data).reshape(-1, 2)
    if len(pads) != len(shapes[src]) or np.any(pads < 0):
        return None
    if tuple(int(n + a + b) for (a, b), n in zip(pads, shapes[src])) != tuple(shapes[dst]):
        return None
    inside = np.zeros(shapes[dst], bool)
    inside[tuple(slice(int(a), int(a) + int(n)) for (a, _), n in zip(pads, shapes[src]))] = True
    inside = inside.reshape(-1)
    source = np.where(inside, np.cumsum(inside) - 1, -1)
    return in_order_trace(model, op, shapes, source,
                          "PAD: output in order, input elements copied in order")
