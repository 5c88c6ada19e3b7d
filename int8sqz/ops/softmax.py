"""SOFTMAX over the last axis, int8 -> int8 and uint8 -> uint8.

Follows TFLite's ``activations.cc`` as registered by ``Register_SOFTMAX_REF``
(``SoftmaxPrepare<kReference>`` + ``SoftmaxEval<kReference>``):
``PreprocessSoftmaxScaling`` and ``CalculateInputRadius`` in prepare, then
``reference_ops::Softmax`` (gemmlowp fixed point) per row.

The reference kernel writes probabilities in units of 1/256 offset by the
type's minimum. For int8 TFLite's prepare therefore insists on zero point
-128 and a scale within 0.1 % of 1/256; for uint8 it checks nothing, and the
output is in units of 1/256 with zero point 0 whatever the tensor declares.
Both behaviours are reproduced. Where the reference would abort the process
(a ``TFLITE_CHECK``), prepare or run raises instead.
"""

import functools
import math

import numpy as np

from ..errors import ComputeError
from ..kernels import builtin as kb
from ..kernels import softmax as k
from ._common import INT_RANGES, check_scale, check_zero_point, flat, quantize_multiplier
from ._numerics import f32
from .logistic import expf
from ._tflm import elementwise_trace, temp_input_output, usable
from .unit import (
    NO_SHARING, CStruct, Node, Numerics, OperatorUnit, PersistentBuffer, TflmAllocations,
    int8_version, no_macs, not_delegated,
)

_INTEGER = ("INT8", "UINT8")
_SCORE_INTEGER_BITS = 5  # Q5.26 scaled input differences


def input_scaling(beta: float, input_scale: float) -> tuple:
    """``PreprocessSoftmaxScaling`` (double rounding build) and
    ``CalculateInputRadius``: (input_multiplier, input_left_shift, diff_min),
    or None where ``QuantizeMultiplierGreaterThanOne`` would abort."""
    # beta and the scale are float32 widened to double; left to right as in C++
    real = beta * input_scale * float(1 << (31 - _SCORE_INTEGER_BITS))
    cap = float((1 << 31) - 1)
    real = cap if cap < real else real  # std::min<double>: NaN stays NaN
    if not real > 1.0:
        return None
    multiplier, left_shift = quantize_multiplier(real)
    radius = math.floor(
        1.0 * ((1 << _SCORE_INTEGER_BITS) - 1) * (1 << (31 - _SCORE_INTEGER_BITS))
        / (1 << left_shift)
    )
    return multiplier, left_shift, -int(radius)


def prepare(op, ctx, numerics: str = "reference"):
    """The reference's SOFTMAX, or (``numerics`` "builtin") the optimized
    kernel's float table."""
    ctx.check_arity(op, 1)
    src, dst = op.inputs[0], op.outputs[0]
    in_type = ctx.check_type(op, src, _INTEGER, "input")
    out_type = ctx.check_type(op, dst, (in_type,), "output")
    shape = tuple(ctx.shape(src))
    if len(shape) < 1:
        raise ctx.error(op, f"input {ctx.label(src)} is a scalar, expected rank 1 or more")
    # the input zero point cancels out of the differences, and a uint8 output's
    # is not used: TFLite reads neither, but they must be valid zero points
    in_scale = check_scale(ctx, op, src, "input")
    check_zero_point(ctx, op, src, "input")
    check_zero_point(ctx, op, dst, "output")

    if out_type == "INT8":
        # TFLite's per-tensor params: 0 unless the tensor has exactly one scale
        q = ctx.tensor(dst).quantization
        zp = q.zero_point
        scale = np.float32(q.scale)
        want = np.float32(1.0) / np.float32(256)
        # TF_LITE_ENSURE_NEAR in float32
        delta = scale - want if scale > want else want - scale
        if zp != -128 or not delta <= np.float32(0.001) * np.float32(1.0) / np.float32(256):
            raise ctx.error(
                op, f"output {ctx.label(dst)} has scale {float(scale)} and zero point {zp}, "
                f"expected scale 1/256 (0.00390625) and zero point -128 for an int8 softmax"
            )

    # a missing options table leaves TFLite's beta at 0
    beta = float(op.options.get("beta", 0.0))
    scaling = input_scaling(beta, in_scale)
    if scaling is None:
        raise ctx.unsupported(
            op, f"beta {beta} times input scale {in_scale} is too small (beta * scale * 2**26 "
            f"must exceed 1): TFLite's reference kernel aborts on it"
        )
    multiplier, left_shift, diff_min = scaling
    ctx.set_output_shape(op, dst, shape)
    depth = shape[-1]
    out_min, out_max = INT_RANGES[out_type]
    where = f"{ctx.model.source}: {op.describe()}"
    if numerics == "builtin":
        return _builtin(op, ctx, src, dst, depth, in_scale, beta, out_type)

    def run(t):
        failed = k.softmax_quantized(flat(t[src]), depth, multiplier, left_shift,
                                     diff_min, out_min, out_max, flat(t[dst]))
        if failed:
            raise ComputeError(
                f"{where}: in {failed} row(s) the exponentials sum to 512 or more, "
                f"where TFLite's reference softmax aborts (TFLITE_CHECK on the output exponent)"
            )
    return Node(op, run, dict(kernel="softmax_quantized", depth=depth, beta=beta,
                              input_multiplier=multiplier, input_left_shift=left_shift,
                              diff_min=diff_min, out_min=out_min, out_max=out_max))


def _builtin(op, ctx, src, dst, depth, in_scale, beta, out_type):
    """``optimized_ops::Softmax`` with the table of
    ``PopulateSoftmaxLookupTable``: table[255 - d] = expf(-in_scale * beta * d)
    in float32, the C library's expf (x86 builds do not define
    TFLITE_SOFTMAX_USE_UINT16_LUT)."""
    q = ctx.tensor(dst).quantization
    out_scale, out_zp = f32(q.scale), int(q.zero_point)
    qmin, qmax = INT_RANGES[out_type]
    step = f32(-f32(in_scale) * f32(beta))
    table = np.zeros(256, np.float32)
    with np.errstate(all="ignore"):
        for d in range(256):
            table[255 - d] = expf(f32(step * f32(d)))
    round_away = out_type == "INT8"

    def run(t):
        kb.softmax_table(flat(t[src]), depth, table, out_scale, out_zp, qmin, qmax, round_away,
                         flat(t[dst]))

    return Node(op, run, dict(kernel="builtin.softmax_table", depth=depth, table=table,
                              output_scale=out_scale, output_zero_point=out_zp))


def per_image(op, model, shapes) -> bool:
    return True  # rows along the last axis, never the batch axis at rank >= 2


#: TfLiteSoftmaxParams (builtin_op_data.h): beta
TFLM_PARAMS = CStruct("TfLiteSoftmaxParams", ("float",), "builtin_op_data.h")
#: SoftmaxParams (kernels/internal/types.h): double beta, six int32 and a
#: float scale, five table pointers
TFLM_OP_DATA = CStruct("SoftmaxParams", ("double",) + ("int32",) * 6 + ("float",)
                       + ("ptr",) * 5, "kernels/internal/types.h")
#: LUTSize<int16_t>() (kernels/internal/common.h): entries of each int16 table
INT16_LUT_ENTRIES = 513


def tflm_persistent(op, model, shapes):
    """micro/kernels/softmax_common.cc: SoftmaxInit allocates SoftmaxParams;
    SoftmaxPrepare takes input and output as temporary tensors, and
    InitializeLutForInt16 allocates two int16 lookup tables of 513 entries
    for an int16 input."""
    luts = ()
    if op.inputs and op.inputs[0] >= 0 and model.tensors[op.inputs[0]].type_name == "INT16":
        luts = (PersistentBuffer(2 * INT16_LUT_ENTRIES),) * 2
    return TflmAllocations(
        "micro/kernels/softmax_common.cc SoftmaxInit, SoftmaxPrepare, InitializeLutForInt16",
        TFLM_PARAMS, TFLM_OP_DATA, temp_input_output(op) + luts)


def tflm_sharing(op, k, model, shapes):
    """SOFTMAX int8 (softmax.cc -> reference_ops::Softmax): per row, two
    reading passes, then element c read and written; the row's reads lie at
    or above its first element, so the element-by-element trace covers
    them: in place."""
    if k != 0 or not usable(op, k, model, shapes) or \
            model.tensors[op.inputs[0]].type_name != "INT8":
        return None
    return elementwise_trace(model, op, k, shapes,
                             "SOFTMAX: element i read, then element i written")


UNIT = OperatorUnit(
    "SOFTMAX", prepare, options="SoftmaxOptions", defaults={"beta": 1.0},
    version=int8_version, per_image=per_image, macs=no_macs, sharing=NO_SHARING,
    numerics={
        "builtin": Numerics(
            "a float32 table of expf (PopulateSoftmaxLookupTable), per row a float32 sum "
            "and 1 / (sum * out_scale), each probability rounded half away from zero (int8) "
            "or + 0.5 and truncated (uint8): equal to the reference's fixed point except "
            "near ties (3 rows in 3,000); no abort where the reference's exponent check "
            "fails",
            functools.partial(prepare, numerics="builtin")),
        "xnnpack": not_delegated("quantized softmax is not delegated: the builtin kernel"),
    },
    tflm_persistent=tflm_persistent, tflm_sharing=tflm_sharing,
)
