"""Facts about TFLite builtins int8sqz does not run, for ``int8sqz memplan``
(which plans any valid model) and for the model writer (which writes any
builtin): their options table, their multiply-accumulates, the scratch
buffers TFLite Micro's kernels request, what those kernels allocate in the
arena (``tflm_persistent``) and the order in which they read and write
(``tflm_sharing``), as int8sqz.ops.unit describes them. An operator that
gains a unit (int8sqz/ops/<op>.py) leaves this module with its facts."""

from __future__ import annotations

import math

from .mean import tflm_persistent as _mean_persistent
from .mean import tflm_scratch as _mean_scratch
from .reduce_max import tflm_persistent as _max_persistent
from .reduce_max import tflm_scratch as _max_scratch

#: options tables whose name does not follow from the operator's name
#: (``FULLY_CONNECTED`` -> ``FullyConnectedOptions`` does)
OPTIONS = {
    "SUM": "ReducerOptions",
    "REDUCE_MIN": "ReducerOptions",
    "REDUCE_PROD": "ReducerOptions",
    "REDUCE_ANY": "ReducerOptions",
    "L2_POOL_2D": "Pool2DOptions",
}


def macs(op, shapes) -> int:
    """TRANSPOSE_CONV: input elements x filter height x width x output
    channels; BATCH_MATMUL: output elements x reduced depth; every other
    operator 0."""
    def n(i):
        return math.prod(shapes[i]) if i >= 0 else 0

    out = op.outputs[0] if op.outputs else -1
    try:
        if op.name == "TRANSPOSE_CONV":
            f = shapes[op.inputs[1]]
            return n(op.inputs[2]) * f[0] * f[1] * f[2]
        if op.name == "BATCH_MATMUL":
            a = shapes[op.inputs[0]]
            depth = a[-2] if op.options.get("adj_x") else a[-1]
            return n(out) * depth
    except (IndexError, TypeError):
        return 0
    return 0


def tflm_scratch(op, model, shapes) -> list:
    """TFLite Micro's ``reduce_common.cc``: SUM asks what MEAN asks,
    REDUCE_MIN what REDUCE_MAX asks. The kernels of the other operators ask
    for none."""
    if op.name == "SUM":
        return _mean_scratch(op, model, shapes)
    if op.name == "REDUCE_MIN":
        return _max_scratch(op, model, shapes)
    return []


# -- TFLite Micro's kernels -------------------------------------------------------------

def tflm_persistent(op, model, shapes):
    """TFLite Micro's allocations: SUM is prepared as MEAN, REDUCE_MIN as
    REDUCE_MAX (reduce.cc). None for every other operator: not known."""
    if op.name == "SUM":
        return _mean_persistent(op, model, shapes)
    if op.name == "REDUCE_MIN":
        return _max_persistent(op, model, shapes)
    return None


def tflm_sharing(op, k, model, shapes):
    """None (no overlap) for every operator without a unit."""
    return None
