"""LOGISTIC (sigmoid) of int8 -> int8 and uint8 -> uint8.

Follows TFLite's ``activations.cc`` as registered by
``Register_LOGISTIC_REF`` (``SigmoidPrepare<kReference>`` +
``SigmoidEval<kReference>``): for both 8-bit types the reference fills a
256-entry table in Prepare (``LUTPopulate``) and looks every input byte up
in it (``LookupTable``); the fixed-point ``reference_integer_ops::Logistic``
is not on this path. TFLite Micro takes that one: it agrees on the zoo's
person model, but measured on all 256 int8 inputs for 200 random input
quantizations it differed in 15 tables (25 entries, by up to 4 where the
input scale exceeds about 4). int8sqz follows the reference.

The table, in float32 as the C++ has it, for each value q of the type::

    x = input_scale * (q - input_zero_point)         float32 product
    s = 1.0f / (1.0f + expf(-x))                     C library expf
    entry = clamp((int) (roundf(s * 256) + output_zero_point))

``expf`` is the C library's own function (the reference runtime calls
glibc's), reached through ctypes; where no C math library can be loaded,
``float32(exp(double))`` stands in (correctly rounded; it differed from
glibc's in 0.06 % of random arguments and in no table entry). Prepare
requires an output scale of exactly 1/256, as TFLite's does; the output
zero point is only added (TFLite checks it only in its fixed-point kernel).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import math

import numpy as np

from ..kernels import activation as k
from ._common import INT_RANGES, check_scale, check_zero_point, flat, tflite_round
from ._tflm import elementwise_trace, temp_input_output, usable
from .unit import (
    Bands, CStruct, Node, Numerics, OperatorUnit, Sharing, TflmAllocations, always,
    int8_version, no_macs, row_band_windows, same_as_reference,
)

_INTEGER = ("INT8", "UINT8")
OUTPUT_SCALE = 1.0 / 256


@functools.lru_cache(maxsize=None)
def c_expf():
    """The C library's ``expf`` (float32 in, float32 out), or None."""
    name = ctypes.util.find_library("m") or ctypes.util.find_library("c")
    try:
        lib = ctypes.CDLL(name)
        fn = lib.expf
    except (OSError, AttributeError, TypeError):
        return None
    fn.restype = ctypes.c_float
    fn.argtypes = [ctypes.c_float]
    return fn


def expf(x: np.float32) -> np.float32:
    fn = c_expf()
    if fn is not None:
        return np.float32(fn(float(x)))
    with np.errstate(over="ignore"):
        return np.float32(math.exp(float(x)) if float(x) < 709.0 else math.inf)


def logistic_table(in_scale: float, in_zero_point: int, out_zero_point: int,
                   type_name: str) -> np.ndarray:
    """TFLite's ``LUTPopulate`` for the sigmoid: 256 output bytes, indexed
    by the input's byte (uint8 view of the data)."""
    lo, hi = INT_RANGES[type_name]
    scale = np.float32(in_scale)
    one = np.float32(1.0)
    inverse_scale = one / np.float32(OUTPUT_SCALE)
    table = np.zeros(256, np.uint8)
    with np.errstate(over="ignore", invalid="ignore"):
        for q in range(lo, hi + 1):
            x = scale * np.float32(q - in_zero_point)
            s = one / (one + expf(-x))
            rescaled = np.float32(tflite_round(float(s * inverse_scale)))
            value = int(rescaled + np.float32(out_zero_point))
            table[q & 0xFF] = np.uint8(min(max(value, lo), hi) & 0xFF)
    return table


def xnnpack_table(in_scale: float, in_zero_point: int, out_scale: float,
                  out_zero_point: int, type_name: str) -> np.ndarray:
    """XNNPACK's sigmoid table (``init_lut_op_with_config`` over its
    reference sigmoid): v = (float32(q) - in_zp) * in_scale in float32;
    y = 1 above 100, 0 below -100, else float32(e / (1 + e)) with
    e = exp(double(v)); the entry nearbyint(y * float32(1 / out_scale) +
    out_zp) in float32 (half to even), saturated. 256 bytes indexed by the
    input's byte."""
    lo, hi = INT_RANGES[type_name]
    f32 = np.float32
    inverse = f32(f32(1.0) / f32(out_scale))
    table = np.zeros(256, np.uint8)
    for q in range(lo, hi + 1):
        v = f32(f32(f32(q) - f32(in_zero_point)) * f32(in_scale))
        if v > 100:
            y = f32(1.0)
        elif v < -100:
            y = f32(0.0)
        else:
            e = math.exp(float(v))
            y = f32(e / (1.0 + e))
        r = int(round(float(f32(f32(y * inverse) + f32(out_zero_point)))))
        table[q & 0xFF] = np.uint8(min(max(r, lo), hi) & 0xFF)
    return table


def prepare(op, ctx, numerics: str = "reference"):
    """The reference's table, or (``numerics`` "xnnpack") XNNPACK's."""
    ctx.check_arity(op, 1)
    src, dst = op.inputs[0], op.outputs[0]
    type_name = ctx.check_type(op, src, _INTEGER, "input")
    ctx.check_type(op, dst, (type_name,), "output")
    in_scale = check_scale(ctx, op, src, "input")
    in_zp = check_zero_point(ctx, op, src, "input")
    out_zp = check_zero_point(ctx, op, dst, "output")
    # TF_LITE_ENSURE(output->params.scale == 1. / 256): the float32 scale, exactly
    out_scale = ctx.tensor(dst).quantization.scale
    if out_scale != OUTPUT_SCALE:
        raise ctx.error(
            op, f"output {ctx.label(dst)} has scale {out_scale!r}, expected exactly 1/256 "
            f"(0.00390625), as TFLite's LOGISTIC requires"
        )
    ctx.set_output_shape(op, dst, ctx.shape(src))
    if numerics == "xnnpack":
        table = xnnpack_table(in_scale, in_zp, out_scale, out_zp, type_name)
    else:
        table = logistic_table(in_scale, in_zp, out_zp, type_name)

    def run(t):
        k.lookup_bytes(flat(t[src]).view(np.uint8), flat(t[dst]).view(np.uint8), table)

    return Node(op, run, dict(kernel="lookup_bytes", input_scale=in_scale,
                              input_zero_point=in_zp, output_zero_point=out_zp,
                              lookup_table=table))


def per_image(op, model, shapes) -> bool:
    return True  # element by element


#: OpDataLogistic (micro/kernels/logistic.h): zero point, range radius,
#: multiplier, left shift
TFLM_OP_DATA = CStruct("OpDataLogistic", ("int32",) * 4, "micro/kernels/logistic.h")


def tflm_persistent(op, model, shapes):
    """micro/kernels/logistic.cc (LogisticInit: OpDataLogistic) and
    logistic_common.cc (CalculateArithmeticOpDataLogistic: input and output
    as temporary tensors); ParseLogistic allocates nothing."""
    return TflmAllocations(
        "micro/kernels/logistic.cc LogisticInit, "
        "logistic_common.cc CalculateArithmeticOpDataLogistic",
        None, TFLM_OP_DATA, temp_input_output(op))


def tflm_sharing(op, k, model, shapes):
    """LOGISTIC int8 (logistic.cc -> reference_integer_ops::Logistic):
    element i read, then element i written."""
    if k != 0 or not usable(op, k, model, shapes) or \
            model.tensors[op.inputs[0]].type_name != "INT8":
        return None
    return elementwise_trace(model, op, k, shapes,
                             "LOGISTIC: element i read, then element i written")


UNIT = OperatorUnit(
    "LOGISTIC", prepare, options=None, defaults={},
    version=int8_version, per_image=per_image, macs=no_macs,
    # kernels/activation.py (lookup_bytes): x[i] is read before out[i] is written
    sharing=Sharing(kernel="kernels/activation.py", inplace=True),
    numerics={
        "builtin": same_as_reference(
            "the optimized kernel looks up the same LUTPopulate table"),
        "xnnpack": Numerics(
            "a table from XNNPACK's reference sigmoid: exp in double, the result in float32 "
            "rounded half to even; one entry differs from TFLite's table in 6 of 3,000 "
            "random input quantizations",
            functools.partial(prepare, numerics="xnnpack"), delegated=always),
    },
    tflm_persistent=tflm_persistent, tflm_sharing=tflm_sharing,
    bands=Bands(kernel="kernels/activation.py", windows=row_band_windows, views=True),
)
