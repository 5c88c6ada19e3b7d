"""Shared pieces of the facts units state about TFLite Micro's reference
kernels (``tflm_persistent``, ``tflm_sharing``; int8sqz.ops.unit): the C
structs of several families' kernels, the temporary tensors of a Prepare,
and the access traces of the kernels that walk a window, go element by
element or write their output in order. (The pools' structs are in
_pool.py, the reductions' in mean.py, PAD's in _pad.py.)

Sources read: tflite-micro at commit 90b983c2 (tensorflow/lite/micro/
kernels/*.cc, tensorflow/lite/kernels/internal/types.h and reference/,
tensorflow/compiler/mlir/lite/core/c/builtin_op_data.h), built as the
``tflite_micro`` Python package builds it (``TF_LITE_STATIC_MEMORY`` and
``USE_TFLM_COMPRESSION`` defined: a struct's compression members count).
"""

from __future__ import annotations

import math

import numpy as np

from ._window import padding_height_width
from .unit import AccessTrace, CStruct, TempTensor

_INF = math.inf

# -- structs several kernels allocate ----------------------------------------------------

#: TfLitePaddingValues (core/c/common.h)
PADDING_VALUES = CStruct("TfLitePaddingValues", ("int32",) * 4, "core/c/common.h")
#: OpDataConv (micro/kernels/conv.h), the OpData of CONV_2D and
#: DEPTHWISE_CONV_2D: padding, three zero points, multiplier and shift, the
#: per-channel arrays' pointers, activation range, filter buffer index, and
#: the two compression scratch indices
OP_DATA_CONV = CStruct("OpDataConv", (PADDING_VALUES,) + ("int32",) * 5 + ("ptr", "ptr")
                       + ("int32",) * 3 + ("int32", "int32"), "micro/kernels/conv.h")


# -- Prepare's temporary tensors -------------------------------------------------------

def temp_inputs(op, *positions) -> tuple:
    """TempTensor events for the inputs at ``positions``, in that order;
    an omitted optional input (-1) or a position past the end allocates
    nothing (``AllocateTempInputTensor`` returns nullptr)."""
    return tuple(TempTensor(op.inputs[k]) for k in positions
                 if k < len(op.inputs) and op.inputs[k] >= 0)


def temp_output(op, k: int = 0) -> tuple:
    return (TempTensor(op.outputs[k]),) if k < len(op.outputs) else ()


def temp_input_output(op) -> tuple:
    """Input 0 and output 0 as temporary tensors, in that order: the
    Prepare of most one-input kernels."""
    return temp_inputs(op, 0) + temp_output(op)


# -- access traces ---------------------------------------------------------------------

def _itemsize(model, i):
    return model.tensors[i].dtype.itemsize


def usable(op, k, model, shapes, rank4=False) -> bool:
    """The common preconditions of a trace for input ``k``: one output, the
    input present, both of fixed element size, the output not empty (and
    with ``rank4`` both 4-D with the same batch)."""
    if len(op.outputs) != 1 or not 0 <= k < len(op.inputs) or op.inputs[k] < 0:
        return False
    src, dst = op.inputs[k], op.outputs[0]
    if any(model.tensors[i].dtype is None for i in (src, dst)):
        return False
    if math.prod(shapes[dst]) == 0:
        return False
    if rank4:
        a, b = shapes[op.inputs[0]], shapes[dst]
        return len(a) == 4 and len(b) == 4 and a[0] == b[0]
    return True


def _first_tap(out_n, stride, pad, filt, dilation, in_n):
    """For each output position along one axis, the first input position
    its window reads inside the image, or -1 when none is inside."""
    origin = np.arange(out_n) * stride - pad
    # the smallest tap k with origin + k * dilation >= 0
    k0 = np.where(origin >= 0, 0, (-origin + dilation - 1) // dilation)
    first = origin + k0 * dilation
    ok = (k0 < filt) & (first < in_n)
    return np.where(ok, first, -1)


def window_trace(model, op, shapes, channel_of_output, fh, fw, dh, dw, rule):
    """The trace of a windowed kernel that, for batch, out_y, out_x, output
    channel c, reads the window of input channel ``channel_of_output(c)``
    (taps inside the image; the lowest byte read is the first tap's) and
    then writes that one output element (ConvPerChannel, DepthwiseConv,
    MaxPool, AveragePool of the reference kernels)."""
    src, dst = op.inputs[0], op.outputs[0]
    n, ih, iw, ic = shapes[src]
    _, oh, ow, oc = shapes[dst]
    sh, sw = int(op.options.get("stride_h", 1)), int(op.options.get("stride_w", 1))
    win = padding_height_width(sh, sw, dh, dw, ih, iw, fh, fw, op.options.get("padding"))
    if (win.out_height, win.out_width) != (oh, ow):
        return None
    ys = _first_tap(oh, sh, win.pad_height, fh, dh, ih)
    xs = _first_tap(ow, sw, win.pad_width, fw, dw, iw)
    b = np.arange(n).reshape(n, 1, 1, 1)
    y = ys.reshape(1, oh, 1, 1)
    x = xs.reshape(1, 1, ow, 1)
    c = channel_of_output(np.arange(oc)).reshape(1, 1, 1, oc)
    first = ((b * ih + y) * iw + x) * ic + c
    inside = (y >= 0) & (x >= 0)
    read = np.where(np.broadcast_to(inside, first.shape), first * _itemsize(model, src), _INF)
    write = (np.arange(n * oh * ow * oc) + 1) * _itemsize(model, dst)
    return AccessTrace(read.reshape(-1).astype(np.float64), write, True, rule)


def elementwise_trace(model, op, k, shapes, rule):
    """Element i of input ``k`` read, then element i of the output written,
    i increasing; only for an input with the output's shape."""
    src, dst = op.inputs[k], op.outputs[0]
    if tuple(shapes[src]) != tuple(shapes[dst]):
        return None
    i = np.arange(math.prod(shapes[dst]), dtype=np.float64)
    return AccessTrace(i * _itemsize(model, src), (i + 1) * _itemsize(model, dst), True, rule)


def in_order_trace(model, op, shapes, source_index, rule):
    """The output written element by element in order, element j copied
    from input element ``source_index[j]`` (-1: written without reading the
    input)."""
    src, dst = op.inputs[0], op.outputs[0]
    index = np.asarray(source_index)
    read = np.where(index >= 0, index * _itemsize(model, src), _INF).astype(np.float64)
    write = (np.arange(index.size) + 1) * _itemsize(model, dst)
    return AccessTrace(read, write, True, rule)
