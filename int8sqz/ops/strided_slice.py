"""STRIDED_SLICE: every ``stride``-th element from ``begin`` to ``end`` along
each axis, with TFLite's five masks and ``offset``.

Follows TFLite's ``strided_slice.cc`` (``BuildStridedSliceParams``,
``ResizeOutputTensor``, ``Prepare``) and ``reference_ops::StridedSlice``
with ``StartForAxis`` / ``EndForAxis`` (``DynamicStridedSliceParams``),
step by step, including its quirks:

- begin, end and strides are int32 vectors (begin and end of one length, at
  most 31); the new-axis bits count for the entries that are not ellipsis
  entries; an ellipsis spans the input dimensions the other entries leave
  (the bit tested at each *effective* position, the new-axis bit at that
  position less the dimensions the ellipsis added); entries beyond the
  given ones take the whole dimension;
- a start below zero gets the axis size added, then is clamped to
  ``[0, size]`` (positive stride) or ``[-1, size - 1]`` (negative); the end
  likewise; the begin and end masks replace them by the whole range; a
  shrunk axis ends one past its start (at the start when the start is past
  the end of the axis), and leaves the output shape;
- with ``offset``, the end is a length: ``end + start``, clamped; the output
  shape is then the *raw* end values at the effective positions (read in
  Prepare whenever the strides are constant: computed end values crash
  TFLite there, and are refused);
- a zero stride is refused (on every axis, shrunk or not), a stride of
  INT32_MIN on an axis that is not shrunk too;
- the output is written sequentially, axis by axis from the starts by the
  strides (the element count may differ from the output shape TFLite
  computed: see below).

Where TFLite's result is not defined, int8sqz refuses the model
(UnsupportedError): when the slice writes another number of elements than
the output holds (a shrunk axis with a negative stride or a start past the
axis writes nothing, ``offset`` slices clamped to the input), and when the
mask arithmetic makes TFLite read past the begin/end/strides vectors or the
input shape (strides shorter than begin, an ellipsis beyond the given
entries, more new axes than positions). The begin, end and strides values
may be computed by earlier operators (known when int8sqz prepares).
"""

import functools
import math

from ._broadcast import c_strides
from ._movement import INT32_MAX, INT32_MIN, CopyPlan, check_same_type, int_values
from ._tflm import temp_inputs, temp_output
from .unit import (
    NO_SHARING, CStruct, Node, Numerics, OperatorUnit, TflmAllocations, def_type, no_macs,
    no_tflm_sharing, same_as_reference,
)

MAX_INDICES = 31
#: the masks are uint32 bit sets: TFLite shifts 1 by each effective position
MAX_EFFECTIVE_DIMS = 32


def _bit(mask: int, i: int) -> bool:
    return bool((mask >> i) & 1)


class Slice:
    """The effective input shape and, per effective axis, start, stop,
    stride, and the shrink bits, as ``BuildStridedSliceParams`` makes them
    (``with_indices``: False for TFLite's shape computation with ``offset``,
    which takes no begin/end values)."""

    def __init__(self, fail, shape, begin, end, strides, options, with_indices=True):
        rank = len(shape)
        count = len(begin)
        ellipsis = int(options.get("ellipsis_mask", 0)) & 0xFFFFFFFF
        new_axis = int(options.get("new_axis_mask", 0)) & 0xFFFFFFFF
        begin_mask = int(options.get("begin_mask", 0)) & 0xFFFFFFFF
        end_mask = int(options.get("end_mask", 0)) & 0xFFFFFFFF
        shrink_mask = int(options.get("shrink_axis_mask", 0)) & 0xFFFFFFFF
        self.offset = bool(options.get("offset", False))

        added = sum(1 for i in range(count) if not _bit(ellipsis, i) and _bit(new_axis, i))
        dims = rank + added
        if dims > MAX_EFFECTIVE_DIMS:
            raise fail(f"the slice has {dims} dimensions with its new axes; TFLite's masks "
                       f"hold {MAX_EFFECTIVE_DIMS}")
        eff_ellipsis = eff_new_axis = 0
        ellipsis_start, expanded = dims, 0
        i = 0
        while i < dims:
            if _bit(ellipsis, i):
                ellipsis_start = i
                ellipsis_end = max(i + 1, min(i + 1 + added + rank - count, dims))
                expanded = ellipsis_end - ellipsis_start - 1
                while i < ellipsis_end:
                    eff_ellipsis |= 1 << i
                    i += 1
                continue
            if _bit(new_axis, i - expanded):
                eff_new_axis |= 1 << i
            i += 1

        self.shape, self.start, self.stop, self.stride = [], [0] * dims, [0] * dims, [1] * dims
        self.begin_mask = self.end_mask = self.shrink = 0
        added_ellipsis = added_axes = 0
        for i in range(dims):
            if _bit(eff_ellipsis, i):
                added_ellipsis = max(0, i - ellipsis_start)
                self.begin_mask |= 1 << i
                self.end_mask |= 1 << i
            elif _bit(eff_new_axis, i):
                self.stop[i] = 1
                added_axes += 1
                self.shape.append(1)
                continue
            elif i >= count + expanded:
                self.begin_mask |= 1 << i
                self.end_mask |= 1 << i
            else:
                k = i - added_ellipsis
                if not 0 <= k < count:
                    raise fail(f"the masks make TFLite read entry {k} of begin, end and "
                               f"strides, which have {count}")
                if with_indices:
                    self.start[i], self.stop[i] = begin[k], end[k]
                self.stride[i] = strides[k]
                if _bit(begin_mask, k):
                    self.begin_mask |= 1 << i
                if _bit(end_mask, k):
                    self.end_mask |= 1 << i
                if _bit(shrink_mask, k):
                    self.shrink |= 1 << i
            d = i - added_axes
            if not 0 <= d < rank:
                raise fail(f"the masks make TFLite read dimension {d} of an input of rank "
                           f"{rank}")
            self.shape.append(shape[d])

    def start_for(self, i: int) -> int:
        """``StartForAxis``."""
        size, start, stride = self.shape[i], self.start[i], self.stride[i]
        if start < 0:
            start += size
        start = min(max(start, 0), size) if stride > 0 else min(max(start, -1), size - 1)
        if _bit(self.begin_mask, i):
            start = 0 if stride > 0 else size - 1
        return start

    def stop_for(self, i: int, start: int, fail) -> int:
        """``EndForAxis``."""
        size = self.shape[i]
        if _bit(self.shrink, i):
            return start if start >= size else start + 1
        end, stride = self.stop[i], self.stride[i]
        if self.offset:
            end += start
            if not INT32_MIN <= end <= INT32_MAX:
                raise fail(f"offset slice: end {end - start} + start {start} overflows int32 "
                           f"in TFLite")
        if end < 0:
            end += size
        end = min(max(end, 0), size) if stride > 0 else min(max(end, -1), size - 1)
        if _bit(self.end_mask, i):
            end = size if stride > 0 else -1
        return end


def output_shape(fail, refuse, shape, begin, end, strides, options) -> tuple:
    """``ResizeOutputTensor``."""
    params = Slice(refuse, shape, begin, end, strides, options,
                   with_indices=not options.get("offset", False))
    out = []
    for i in range(len(params.shape) - 1, -1, -1):
        stride = params.stride[i]
        if stride == 0:
            raise fail("a stride is 0; TFLite requires non-zero strides")
        if _bit(params.shrink, i):
            continue
        if params.offset:
            if i >= len(end):
                raise refuse(f"with offset, TFLite reads end entry {i} of {len(end)}")
            n = end[i]
        else:
            start = params.start_for(i)
            n = params.stop_for(i, start, refuse) - start
        if stride == INT32_MIN:
            raise fail("a stride is INT32_MIN, which TFLite does not support")
        if (n < 0) != (stride < 0):
            n = 0
        elif stride < 0:
            n = _trunc_div(n + 1, stride) + 1  # C division: toward zero
        else:
            n = 0 if n == 0 else (n - 1) // stride + 1
        if n < 0 or n > INT32_MAX:
            raise fail(f"output dimension {n} at axis {i} is out of range")
        out.append(n)
    return tuple(reversed(out))


def _trunc_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def walk(fail, shape, begin, end, strides, options) -> tuple:
    """The reference kernel's loop: per effective axis (start, count, stride),
    and the effective shape."""
    params = Slice(fail, shape, begin, end, strides, options)
    axes = []
    for i in range(len(params.shape)):
        start = params.start_for(i)
        stop = params.stop_for(i, start, fail)
        stride = params.stride[i]
        if stride > 0:
            count = max(0, -(-(stop - start) // stride))
        else:
            count = max(0, -(-(start - stop) // -stride))
        axes.append((start, count, stride))
    return axes, params.shape


def prepare(op, ctx, numerics: str = "reference"):
    """The reference's STRIDED_SLICE, or (``numerics`` "xnnpack", for what
    :func:`delegated` takes) XNNPACK's static slice."""
    ctx.check_arity(op, 4)
    src, b_t, e_t, s_t = op.inputs
    dst = op.outputs[0]
    check_same_type(ctx, op, src, dst)
    for index, role in ((b_t, "begin"), (e_t, "end"), (s_t, "strides")):
        if len(ctx.shape(index)) != 1:
            raise ctx.error(op, f"{role} {ctx.label(index)} has shape "
                            f"{list(ctx.shape(index))}, expected a vector")
        ctx.check_type(op, index, ("INT32",), role)
    begin = int_values(ctx, op, b_t, "begin")
    end = int_values(ctx, op, e_t, "end")
    strides = int_values(ctx, op, s_t, "strides")
    if len(begin) != len(end):
        raise ctx.error(op, f"begin has {len(begin)} entries and end {len(end)}, expected "
                        f"the same number")
    if len(begin) > MAX_INDICES:
        raise ctx.error(op, f"begin has {len(begin)} entries; TFLite takes at most "
                        f"{MAX_INDICES}")
    if len(strides) != len(begin):
        # TFLite does not check, and reads past the strides vector
        raise ctx.error(op, f"strides has {len(strides)} entries, expected {len(begin)} like "
                        f"begin")

    def fail(message):
        return ctx.error(op, message)

    def refuse(message):
        return ctx.unsupported(op, f"{message}: TFLite's result is not defined")

    if (op.options.get("offset") and ctx.tensor(s_t).is_constant
            and not ctx.tensor(e_t).is_constant):
        # TFLite then sizes the output in Prepare from the end values, which
        # do not exist yet (it crashes)
        raise refuse("with offset, constant strides and end values computed at run time, "
                     "TFLite reads the end values before they exist")

    shape = tuple(ctx.shape(src))
    out_shape = output_shape(fail, refuse, shape, begin, end, strides, op.options)
    axes, eff_shape = walk(refuse, shape, begin, end, strides, op.options)
    written = math.prod(count for _, count, _ in axes)
    if written != math.prod(out_shape):
        raise refuse(f"the slice walks {written} elements into an output of shape "
                     f"{list(out_shape)} ({math.prod(out_shape)} elements)")
    ctx.set_output_shape(op, dst, out_shape)
    if numerics == "xnnpack":
        return ctx.fold(_xnnpack(op, ctx, src, dst, shape, begin, end))

    in_strides = c_strides(eff_shape)
    counts = tuple(count for _, count, _ in axes)
    plan = CopyPlan(counts, c_strides(counts), [s * step for s, (_, _, step) in
                                                 zip(in_strides, axes)],
                    0, sum(start * s for s, (start, count, _) in zip(in_strides, axes)
                           if count), written, math.prod(shape))

    def run(t):
        plan.run(t[dst], t[src])

    return ctx.fold(Node(op, run, dict(kernel="strided_copy", effective_shape=eff_shape,
                                       starts=[a[0] for a in axes], counts=list(counts),
                                       strides=[a[2] for a in axes])))


def _xnnpack(op, ctx, src, dst, shape, begin, end) -> Node:
    """``xnn_define_static_slice_v3`` as the delegate calls it: per axis the
    begin (0 under the begin mask) and end (0 under the end mask, begin + end
    with ``offset``); a negative begin counts from the axis's end, and an
    end <= 0 too, so an unmasked end of 0 takes the rest of the axis (TFLite
    takes nothing); both clamped to the axis. The output tensor takes
    XNNPACK's shape (measured)."""
    o = op.options
    starts, sizes = [], []
    for i, dim in enumerate(shape):
        b = 0 if _bit(int(o.get("begin_mask", 0)), i) else begin[i]
        e = 0 if _bit(int(o.get("end_mask", 0)), i) else end[i] + (b if o.get("offset") else 0)
        start = max(dim + b, 0) if b < 0 else b
        size = max(max(dim + e, 0) - start, 0) if e <= 0 else max(e - start, 0)
        start = min(max(start, 0), dim)
        starts.append(start)
        sizes.append(min(max(size, 0), dim - start))
    sizes = tuple(sizes)
    if sizes != tuple(ctx.shape(dst)):
        ctx.set_runtime_shape(op, dst, sizes, "XNNPACK's static slice reads an end of 0 as "
                                              "the end of the axis")
    in_strides = c_strides(shape)
    plan = CopyPlan(sizes, c_strides(sizes), in_strides, 0,
                    sum(a * s for a, s in zip(starts, in_strides)), math.prod(sizes),
                    math.prod(shape))

    def run(t):
        plan.run(t[dst], t[src])

    return Node(op, run, dict(kernel="strided_copy (xnnpack static slice)", starts=starts,
                              sizes=list(sizes)))


def delegated(op, ctx) -> bool:
    """XNNPACK takes a STRIDED_SLICE of float32, int8 or uint8 with constant
    begin, end and strides of one entry per input axis, every stride 1, and
    no ellipsis, new-axis or shrink-axis mask."""
    o = op.options
    t = ctx.model.tensors
    if t[op.inputs[0]].type_name not in ("FLOAT32", "INT8", "UINT8"):
        return False
    if o.get("ellipsis_mask") or o.get("new_axis_mask") or o.get("shrink_axis_mask"):
        return False
    params = [t[i] for i in op.inputs[1:4]]
    if not all(p.is_constant for p in params):
        return False
    begin, _, strides = (p.data.reshape(-1) for p in params)
    return len(begin) == len(ctx.shape(op.inputs[0])) and all(int(v) == 1 for v in strides)


def version(op, tensors) -> int:
    """``op_version.cc`` for the types int8sqz runs: 8 with ``offset``, 6
    with an ellipsis or new-axis mask, 4 for inputs of rank > 4, 2 for int8,
    else 1. (TFLite's reference registration takes versions 1 to 4; the
    tests run the reference on a copy with the version it takes.)"""
    if op.options.get("offset"):
        return 8
    if op.options.get("ellipsis_mask") or op.options.get("new_axis_mask"):
        return 6
    return base_version(op, tensors)


def base_version(op, tensors) -> int:
    """The version without the ellipsis, new-axis and offset features."""
    if op.inputs and op.inputs[0] >= 0 and len(tensors[op.inputs[0]].shape) > 4:
        return 4
    return 2 if def_type(op, tensors, 0) == "INT8" else 1


def per_image(op, model, shapes) -> bool:
    """Image by image when the batch axis is taken whole, in order, without
    masks that move axes: constant begin, end and strides, no ellipsis, new
    axis or offset, axis 0 not shrunk, stride 1 from 0 (or the begin mask)
    to at least the batch size (or the end mask)."""
    o = op.options
    if o.get("ellipsis_mask") or o.get("new_axis_mask") or o.get("offset"):
        return False
    if int(o.get("shrink_axis_mask", 0)) & 1:
        return False
    data = [model.tensors[i].data for i in op.inputs[1:4]]
    if any(d is None for d in data):
        return False
    begin, end, strides = ([int(v) for v in d.reshape(-1)] for d in data)
    if not begin:
        return True
    n = shapes[op.inputs[0]][0] if shapes[op.inputs[0]] else 0
    return (strides[0] == 1
            and (begin[0] == 0 or int(o.get("begin_mask", 0)) & 1 == 1)
            and (end[0] >= n or int(o.get("end_mask", 0)) & 1 == 1))


#: TfLiteStridedSliceParams (builtin_op_data.h): five masks, offset
TFLM_PARAMS = CStruct("TfLiteStridedSliceParams", ("int32",) * 5 + ("bool",),
                      "builtin_op_data.h")
#: StridedSliceParams (kernels/internal/types.h): three counted int32[5]
#: index arrays, five uint16 masks, offset
TFLM_OP_DATA = CStruct("StridedSliceParams", ("int8", ("int32", 5)) * 3 + ("int16",) * 5
                       + ("bool",), "kernels/internal/types.h")


def tflm_persistent(op, model, shapes):
    """micro/kernels/strided_slice_common.cc: StridedSliceInit allocates
    StridedSliceParams; StridedSlicePrepare's StridedSliceContext takes
    input, begin, end, strides and output as temporary tensors."""
    return TflmAllocations(
        "micro/kernels/strided_slice_common.cc StridedSliceInit, StridedSlicePrepare",
        TFLM_PARAMS, TFLM_OP_DATA, temp_inputs(op, 0, 1, 2, 3) + temp_output(op))


UNIT = OperatorUnit(
    "STRIDED_SLICE", prepare, options="StridedSliceOptions",
    defaults={"begin_mask": 0, "end_mask": 0, "ellipsis_mask": 0, "new_axis_mask": 0,
              "shrink_axis_mask": 0, "offset": False},
    version=version, per_image=per_image, macs=no_macs, sharing=NO_SHARING,
    numerics={
        "builtin": same_as_reference("optimized_ops::StridedSlice: the reference's copy"),
        "xnnpack": Numerics(
            "constant begin/end, unit strides, no ellipsis/new-axis/shrink mask: "
            "xnn_define_static_slice_v3, which reads an unmasked end of 0 as the end of "
            "the axis (x[0:0] of 3 values gives 3 values, TFLite none) and reshapes the "
            "output",
            functools.partial(prepare, numerics="xnnpack"), delegated=delegated),
    },
    tflm_persistent=tflm_persistent, tflm_sharing=no_tflm_sharing,
)
