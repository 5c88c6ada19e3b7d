"""MAX_POOL_2D on int8 and uint8, as TFLite's reference kernels
(``reference_integer_ops::MaxPool``, ``reference_ops::MaxPool``): the
maximum over each window clamped to the image, then the fused activation.
Input and output must share scale and zero point (TFLite's Prepare asserts
it; the kernel does not requantize)."""

from ..kernels import pool as k
from ._numerics import xnnpack_activation, xnnpack_bounds
from ._pool import (
    POOL_BANDS, POOL_SHARING, pool_per_image, pool_tflm_persistent, pool_tflm_sharing,
    prepare_pool,
)
from .unit import Numerics, OperatorUnit, int8_version, no_macs, same_as_reference


def prepare(op, ctx):
    return prepare_pool(op, ctx, k.max_pool_2d, "MAX_POOL_2D")


def prepare_xnnpack(op, ctx):
    """The window's maximum, clamped to XNNPACK's activation bounds."""
    return prepare_pool(op, ctx, k.max_pool_2d, "MAX_POOL_2D", xnnpack_bounds)


def delegated(op, ctx) -> bool:
    """XNNPACK takes a MAX_POOL_2D whose strides do not exceed its filter
    (a 1x1 filter becomes a clamp node), with an activation it supports."""
    o = op.options
    return (xnnpack_activation(op) and o["stride_h"] <= o["filter_height"]
            and o["stride_w"] <= o["filter_width"])


UNIT = OperatorUnit(
    "MAX_POOL_2D", prepare, options="Pool2DOptions",
    defaults={"fused_activation_function": "NONE"}, version=int8_version,
    per_image=pool_per_image, macs=no_macs, sharing=POOL_SHARING,
    numerics={
        "builtin": same_as_reference(
            "optimized_integer_ops::MaxPool: the window's maximum and the reference's clamp"),
        "xnnpack": Numerics(
            "the window's maximum (xnn_s8_maxpool), clamped to XNNPACK's bounds, quantized "
            "half to even (RELU_N1_TO_1 at scale 2, zero point 100: [100, 100], the "
            "reference [99, 101])", prepare_xnnpack, delegated=delegated),
    },
    tflm_persistent=pool_tflm_persistent, tflm_sharing=pool_tflm_sharing,
    bands=POOL_BANDS,
)
