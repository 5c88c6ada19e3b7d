"""ADD of two int8 or two uint8 tensors, with NumPy-style broadcasting.

Follows TFLite's ``add.cc``: ``Prepare`` computes the multipliers of the
8-bit path (left shift 20), and the reference kernels (``reference_integer_ops``
``Add`` / ``BroadcastAdd6DSlow`` for int8, ``reference_ops`` for uint8) apply
``AddFunc`` to every element; the broadcast and same-shape paths compute the
same integers.

Prepare's float arithmetic, as the C++ has it: the scales are float32;
``2 * max(scale1, scale2)`` is a float32 product; each input's multiplier is
``scale / twice_max`` in double; the output's is
``twice_max / float32((1 << 20) * output_scale)`` in double. All three must
lie in (0, 1) (TFLite aborts otherwise: ``QuantizeMultiplierSmallerThanOneExp``).
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
from ._common import fused_activation_range, quantize_multiplier, to_int32
from ._numerics import f32, xnnpack_activation, xnnpack_bounds
from ._tflm import elementwise_trace, temp_inputs, temp_output, usable
from .unit import (
    CStruct, Numerics, OperatorUnit, Sharing, TflmAllocations, int8_version, no_macs,
)

LEFT_SHIFT = 20


def _smaller_than_one(ctx, op, real: float, what: str, name: str = "ADD"):
    """TFLite ``QuantizeMultiplierSmallerThanOneExp``, whose checks abort."""
    if not (math.isfinite(real) and 0.0 < real < 1.0):
        raise ctx.error(
            op, f"the {what} multiplier is {real!r}, outside (0, 1): the scales are out of "
            f"the range TFLite's {name} accepts (it aborts on them)"
        )
    multiplier, shift = quantize_multiplier(real)
    if shift > 0:
        raise ctx.error(
            op, f"the {what} multiplier {real!r} rounds to 1.0; TFLite's {name} aborts on it"
        )
    return multiplier, shift


def prepare_add_or_sub(op, ctx, name: str, kernel, check_output=None,
                       numerics: str = "reference"):
    """ADD's or SUB's prepare (``add.cc`` / ``sub.cc``, the 8-bit path):
    ``kernel`` is ``kernels/elementwise.py``'s ``add`` or ``sub``;
    ``check_output(real_output_multiplier, scales)`` may refuse a real
    output multiplier before it is quantized. ``numerics`` "builtin": ADD's
    optimized kernel; "xnnpack": XNNPACK's vadd (both int8 only; SUB's
    builtin kernel is the reference's)."""
    type_name, out_shape, ((s1, z1), (s2, z2), (so, zo)) = prepare_binary(op, ctx)
    if numerics != "reference" and type_name != "INT8":
        raise ctx.unsupported(op, f"a {type_name} {name} under numerics {numerics!r}: what "
                                  f"that runtime computes for it is not modelled")

    with np.errstate(over="ignore"):
        twice_max = float(np.float32(2) * np.float32(max(s1, s2)))
        out_denominator = float(np.float32(1 << LEFT_SHIFT) * np.float32(so))
    m1, shift1 = _smaller_than_one(ctx, op, s1 / twice_max, "input 1", name)
    m2, shift2 = _smaller_than_one(ctx, op, s2 / twice_max, "input 2", name)
    real_out = twice_max / out_denominator
    if check_output is not None:
        check_output(real_out, (s1, s2, so))
    mo, shift_o = _smaller_than_one(ctx, op, real_out, "output", name)
    act_min, act_max = fused_activation_range(op, ctx, so, zo, type_name)

    def call(o, x, y, shape, strides):
        kernel(o, x, y, shape, strides, -z1, m1, shift1, -z2, m2, shift2, mo, shift_o, zo,
               act_min, act_max)

    params = dict(kernel=name.lower(), input1_offset=-z1, input1_multiplier=m1,
                  input1_shift=shift1, input2_offset=-z2, input2_multiplier=m2,
                  input2_shift=shift2, output_multiplier=mo, output_shift=shift_o,
                  output_offset=zo, left_shift=LEFT_SHIFT, act_min=act_min, act_max=act_max)
    if numerics == "builtin":
        node = builtin_run(op, ctx, True, (-z1, m1, shift1, -z2, m2, shift2, mo, shift_o, zo,
                                           act_min, act_max), params)
        if node is not None:
            return node
    if numerics == "xnnpack":
        return xnnpack_add_run(op, ctx, out_shape, s1, z1, -1.0 if name == "SUB" else 1.0,
                               s2, z2, so, zo)

    return (constant_lut_run(op, ctx, out_shape, call, params)
            or binary_run(op, ctx, out_shape, call, params))


def xnnpack_add_run(op, ctx, out_shape, s1, z1, sign2, s2, z2, so, zo):
    """ADD (``sign2`` 1) or SUB (-1) as XNNPACK's qs8 vadd computes it
    (``xnn_init_qs8_add_minmax_scalar_params``): the ratios r1 = s1 / so and
    r2 = sign2 * s2 / so in float32, shift = 20 - the binary exponent of the
    larger magnitude, each multiplier lrintf(ratio * 2**shift), the bias
    2**(shift - 1) - m1 * z1 - m2 * z2; then the clamp node's bounds. The
    arithmetic is the same at every position: the lookup table of a
    constant operand holds its integers (``constant_lut_run``)."""
    r1 = f32(f32(s1) / f32(so))
    r2 = f32(f32(sign2 * s2) / f32(so))
    exponent = math.frexp(float(max(abs(r1), abs(r2))))[1] - 1
    shift = 20 - exponent
    m1 = int(round(float(r1) * 2.0 ** shift))
    m2 = int(round(float(r2) * 2.0 ** shift))
    bias = to_int32(2 ** (shift - 1) - m1 * z1 - m2 * z2)
    lo, hi = xnnpack_bounds(op, so, zo, "INT8")

    p = (bias, m1, m2, shift, zo, lo, hi)

    def call(o, x, y, shape, strides):
        kx.binary(o, x, y, shape, strides, False, p, f32(0))

    params = dict(kernel="xnnpack.binary (add)", bias=bias, multiplier1=m1, multiplier2=m2,
                  shift=shift, output_zero_point=zo, act_min=lo, act_max=hi)
    xnnpack_lut_shape(op, ctx)
    return (constant_lut_run(op, ctx, out_shape, call, params)
            or binary_run(op, ctx, out_shape, call, params))


def xnnpack_lut_shape(op, ctx) -> None:
    """XNNPACK fuses a chain of two or more quantized elementwise nodes into
    one lookup table (``xnn_subgraph_fuse_unary_quantized_into_lut``); an
    ADD, SUB or MUL with a one-element constant operand and a fused
    activation is such a chain (the binary node and its clamp node). The
    table holds the kernels' own values, but the fused node is unary: the
    output takes the shape of the other input, not the broadcast shape (a
    [1] output of a scalar input comes back as []) (measured)."""
    a, b = op.inputs
    t = ctx.model.tensors
    if op.options.get("fused_activation_function", "NONE") == "NONE" or \
            t[a].is_constant == t[b].is_constant:
        return
    const, other = (a, b) if t[a].is_constant else (b, a)
    if math.prod(ctx.shape(const)) == 1:
        ctx.set_runtime_shape(op, op.outputs[0], ctx.shape(other),
                              "XNNPACK's lookup table of a one-element constant operand and "
                              "an activation takes the other input's shape")


def _ratios_in(op, ctx, low: float, high: float, product: bool) -> bool:
    t = ctx.model.tensors
    s1, s2, so = (f32(t[i].quantization.scale) for i in (*op.inputs, op.outputs[0]))
    with np.errstate(all="ignore"):
        ratios = [f32(f32(s1 * s2) / so)] if product else [f32(s1 / so), f32(s2 / so)]
    return xnnpack_activation(op) and all(low <= float(r) < high for r in ratios)


def add_delegated(op, ctx) -> bool:
    """XNNPACK takes a quantized ADD (or SUB) when each input's scale over
    the output's (float32) lies in [1/1024, 256), with an activation it
    supports."""
    return _ratios_in(op, ctx, 1.0 / 1024.0, 256.0, False)


def mul_delegated(op, ctx) -> bool:
    """... and a quantized MUL when a_scale * b_scale / out_scale (float32)
    lies in [1/65536, 256)."""
    return _ratios_in(op, ctx, 1.0 / 65536.0, 256.0, True)


def prepare(op, ctx, numerics: str = "reference"):
    return prepare_add_or_sub(op, ctx, "ADD", k.add, numerics=numerics)


#: TfLiteAddParams (builtin_op_data.h): activation, pot_scale_int16
TFLM_PARAMS = CStruct("TfLiteAddParams", ("enum", "bool"), "builtin_op_data.h")
#: OpDataAdd (micro/kernels/add.h): requires_broadcast, twelve shifts,
#: multipliers, offsets and the activation range, the float range
TFLM_OP_DATA = CStruct("OpDataAdd", ("bool",) + ("int32",) * 12 + ("float", "float"),
                       "micro/kernels/add.h")


def tflm_persistent(op, model, shapes):
    """micro/kernels/add.cc (AddInit: OpDataAdd) and add_common.cc
    (AddPrepare: both inputs and the output as temporary tensors)."""
    return TflmAllocations("micro/kernels/add.cc AddInit, add_common.cc AddPrepare",
                           TFLM_PARAMS, TFLM_OP_DATA, temp_inputs(op, 0, 1) + temp_output(op))


def tflm_sharing(op, k, model, shapes):
    """ADD int8 (add.cc -> reference_integer_ops::Add, ElementWise or
    BroadcastBinaryOpSimple): element i of each operand read, then element i
    written, i increasing; an operand with the output's shape is read at the
    output's own index on both paths: it may be overwritten in place."""
    if not usable(op, k, model, shapes) or model.tensors[op.inputs[k]].type_name != "INT8":
        return None
    return elementwise_trace(model, op, k, shapes, "ADD: element i read, then element i written")


UNIT = OperatorUnit(
    "ADD", prepare, options="AddOptions", defaults={"fused_activation_function": "NONE"},
    version=int8_version, per_image=elementwise_per_image, macs=no_macs,
    # kernels/elementwise.py: each output element from the input elements
    # at its own position (a broadcast constant read in its own place)
    sharing=Sharing(kernel="kernels/elementwise.py", inplace=True),
    numerics={
        "builtin": Numerics(
            "int8: AddElementwiseInt8 / BinaryBroadcastFiveFold with NEON_2_SSE: in whole "
            "blocks of 16 from each run's start each input is scaled with one half-up "
            "rounding (the reference rounds twice), the sum wraps to int16 before the zero "
            "point; scalar-broadcast runs in blocks of 8 with an unrounded shift; tails and "
            "generic broadcasts as the reference",
            functools.partial(prepare, numerics="builtin")),
        "xnnpack": Numerics(
            "int8 with input/output scale ratios in [1/1024, 256): xnn_qs8_vadd, 20-bit "
            "multipliers and one half-up rounding, then the clamp node's bounds (half to "
            "even); a one-element constant operand with an activation becomes a lookup "
            "table whose output takes the other input's shape",
            functools.partial(prepare, numerics="xnnpack"), delegated=add_delegated),
    },
    tflm_persistent=tflm_persistent, tflm_sharing=tflm_sharing,
    bands=BINARY_BANDS,
)
