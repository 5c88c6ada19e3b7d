"""AVERAGE_POOL_2D on int8 and uint8, as TFLite's reference kernels
(``reference_integer_ops::AveragePool``, ``reference_ops::AveragePool``):
the sum over each window clamped to the image, divided by the number of
input pixels in it with rounding half away from zero, then the fused
activation. Input and output must share scale and zero point (TFLite's
Prepare asserts it; the kernel does not requantize)."""

from ..kernels import pool as k
from ._pool import (
    POOL_BANDS, POOL_SHARING, pool_per_image, pool_tflm_persistent, pool_tflm_sharing,
    prepare_pool,
)
from .unit import OperatorUnit, int8_version, no_macs, not_delegated, same_as_reference


def prepare(op, ctx):
    return prepare_pool(op, ctx, k.average_pool_2d, "AVERAGE_POOL_2D")


UNIT = OperatorUnit(
    "AVERAGE_POOL_2D", prepare, options="Pool2DOptions",
    defaults={"fused_activation_function": "NONE"}, version=int8_version,
    per_image=pool_per_image, macs=no_macs, sharing=POOL_SHARING,
    numerics={
        "builtin": same_as_reference(
            "optimized_integer_ops::AveragePool: the same int32 sums and the same division, "
            "half away from zero"),
        "xnnpack": not_delegated(
            "XNNPACK has no quantized average pooling: the builtin kernel"),
    },
    tflm_persistent=pool_tflm_persistent, tflm_sharing=pool_tflm_sharing,
    bands=POOL_BANDS,
)
