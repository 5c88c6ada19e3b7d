"""MUL of two int8 or two uint8 tensors, with NumPy-style broadcasting.

Follows TFLite's ``mul.cc``: ``Prepare`` computes one output multiplier,
``scale1 * scale2 / output_scale`` evaluated in float32 (the three scales
are floats, so both the product and the quotient are rounded to float32)
and only then widened to double for ``QuantizeMultiplier``. The reference
kernels (``reference_integer_ops::Mul`` / ``BroadcastMul6DSlow`` for int8,
``reference_ops`` for uint8) compute the same integers on both paths.
"""

import functools
import math

import numpy as np

from ..kernels import elementwise as k
from ..kernels import xnnpack as kx
from ._binary import (
    BINARY_BANDS, binary_run, builtin_run, constant_lut_run, elementwise_per_image,
    prepare_binary,
)
from ._common import check_left_shift, fused_activation_range, quantize_multiplier
from ._numerics import f32, xnnpack_bounds
from .add import mul_delegated, xnnpack_lut_shape
from ._tflm import elementwise_trace, temp_inputs, temp_output, usable
from .unit import (
    CStruct, Numerics, OperatorUnit, Sharing, TflmAllocations, def_type, output_elements,
)


def prepare(op, ctx, numerics: str = "reference"):
    """The reference's MUL, or (``numerics``, int8 only) the optimized
    builtin kernel's ("builtin") or XNNPACK's vmul ("xnnpack")."""
    type_name, out_shape, ((s1, z1), (s2, z2), (so, zo)) = prepare_binary(op, ctx)
    if numerics != "reference" and type_name != "INT8":
        raise ctx.unsupported(op, f"a {type_name} MUL under numerics {numerics!r}: what that "
                                  f"runtime computes for it is not modelled")
    act_min, act_max = fused_activation_range(op, ctx, so, zo, type_name)

    with np.errstate(over="ignore", under="ignore"):
        real = float(np.float32(np.float32(s1) * np.float32(s2)) / np.float32(so))
    if not math.isfinite(real):
        raise ctx.error(op, f"the output multiplier {s1!r} * {s2!r} / {so!r} is not finite in float32")
    multiplier, shift = quantize_multiplier(real)
    check_left_shift(ctx, op, shift, real, "the output multiplier")

    def call(o, x, y, shape, strides):
        k.mul(o, x, y, shape, strides, -z1, -z2, multiplier, shift, zo, act_min, act_max)

    params = dict(kernel="mul", input1_offset=-z1, input2_offset=-z2, multiplier=multiplier,
                  shift=shift, output_offset=zo, act_min=act_min, act_max=act_max)
    if numerics == "builtin":
        node = builtin_run(op, ctx, False, (-z1, 0, 0, -z2, 0, 0, multiplier, shift, zo,
                                            act_min, act_max), params)
        if node is not None:
            return node
    if numerics == "xnnpack":
        return _xnnpack(op, ctx, out_shape, s1, z1, s2, z2, so, zo)

    return (constant_lut_run(op, ctx, out_shape, call, params)
            or binary_run(op, ctx, out_shape, call, params))


def _xnnpack(op, ctx, out_shape, s1, z1, s2, z2, so, zo):
    """``xnn_qs8_vmul_minmax_fp32``: the product of the offset inputs in
    float32 times (s1 * s2) / so (float32), half to even; the clamp node's
    bounds. The same arithmetic at every position: the lookup table of a
    constant operand holds its integers."""
    scale = f32(f32(f32(s1) * f32(s2)) / f32(so))
    lo, hi = xnnpack_bounds(op, so, zo, "INT8")

    p = (z1, z2, 0, 0, zo, lo, hi)

    def call(o, x, y, shape, strides):
        kx.binary(o, x, y, shape, strides, True, p, scale)

    params = dict(kernel="xnnpack.binary (mul)", scale=scale, output_zero_point=zo, act_min=lo,
                  act_max=hi)
    xnnpack_lut_shape(op, ctx)
    return (constant_lut_run(op, ctx, out_shape, call, params)
            or binary_run(op, ctx, out_shape, call, params))


def version(op, tensors) -> int:
    """``op_version.cc``: 3 when the output multiplier is 1 or more (int8 or
    uint8), else 2 for int8 and 1 for the rest."""
    first = def_type(op, tensors, 0)
    if first in ("INT8", "UINT8") and len(op.inputs) > 1 and op.outputs:
        a, b, o = (tensors[op.inputs[0]], tensors[op.inputs[1]], tensors[op.outputs[0]])
        if a.scales and b.scales and o.scales and \
                float(a.scales[0]) * float(b.scales[0]) / float(o.scales[0]) >= 1.0:
            return 3
        return 2 if first == "INT8" else 1
    return 1


#: TfLiteMulParams (builtin_op_data.h): activation
TFLM_PARAMS = CStruct("TfLiteMulParams", ("enum",), "builtin_op_data.h")
#: OpDataMul (micro/kernels/mul.h): zero points, activation range,
#: multiplier and shift, the float range
TFLM_OP_DATA = CStruct("OpDataMul", ("int32",) * 7 + ("float", "float"), "micro/kernels/mul.h")


def tflm_persistent(op, model, shapes):
    """micro/kernels/mul_common.cc (MulInit: OpDataMul; MulPrepare ->
    CalculateOpDataMul: both inputs and the output as temporary tensors)."""
    return TflmAllocations("micro/kernels/mul_common.cc MulInit, CalculateOpDataMul",
                           TFLM_PARAMS, TFLM_OP_DATA, temp_inputs(op, 0, 1) + temp_output(op))


def tflm_sharing(op, k, model, shapes):
    """MUL int8 (mul.cc -> reference_integer_ops::Mul, ElementWise or
    BroadcastBinaryOpSimple): as ADD, element i of each operand read, then
    element i written; an operand with the output's shape may be
    overwritten in place."""
    if not usable(op, k, model, shapes) or model.tensors[op.inputs[k]].type_name != "INT8":
        return None
    return elementwise_trace(model, op, k, shapes, "MUL: element i read, then element i written")


UNIT = OperatorUnit(
    "MUL", prepare, options="MulOptions", defaults={"fused_activation_function": "NONE"},
    version=version, per_image=elementwise_per_image,
    macs=output_elements,  # one multiplication per output element
    # kernels/elementwise.py: each output element from the input elements
    # at its own position (a broadcast constant read in its own place)
    sharing=Sharing(kernel="kernels/elementwise.py", inplace=True),
    numerics={
        "builtin": Numerics(
            "int8: MulElementwise / BinaryBroadcastFiveFold with NEON_2_SSE: in whole blocks "
            "of 16 from each run's start the product is requantized with a half-up high "
            "multiply and saturated to int16 before the zero point is added (wrapping); "
            "tails and generic broadcasts as the reference",
            functools.partial(prepare, numerics="builtin")),
        "xnnpack": Numerics(
            "int8 with a_scale * b_scale / out_scale in [1/65536, 256): xnn_qs8_vmul_fp32, "
            "round_half_even(float32((a - za) * (b - zb)) * scale), then the clamp node; a "
            "one-element constant operand with an activation: the lookup table's shape, as "
            "ADD",
            functools.partial(prepare, numerics="xnnpack"), delegated=mul_delegated),
    },
    tflm_persistent=tflm_persistent, tflm_sharing=tflm_sharing,
    bands=BINARY_BANDS,
)
