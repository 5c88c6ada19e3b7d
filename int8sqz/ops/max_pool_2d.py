"""MAX_POOL_2D on int8 and uint8, as TFLite's reference kernels
(``reference_integer_ops::MaxPool``, ``reference_ops::MaxPool``): the
maximum over each window clamped to the image, then the fused activation.
Input and output must share scale and zero point (TFLite's Prepare asserts
it; the kernel does not requantize)."""

from ..kernels import pool as k
from ._pool import (
    POOL_BANDS, POOL_SHARING, pool_per_image, pool_tflm_persistent, pool_tflm_sharing,
    prepare_pool,
)
from .unit import OperatorUnit, int8_version, no_macs


def prepare(op, ctx):
    return prepare_pool(op, ctx, k.max_pool_2d, "MAX_POOL_2D")


UNIT = OperatorUnit(
    "MAX_POOL_2D", prepare, options="Pool2DOptions",
    defaults={"fused_activation_function": "NONE"}, version=int8_version,
    per_image=pool_per_image, macs=no_macs, sharing=POOL_SHARING,
    tflm_persistent=pool_tflm_persistent, tflm_sharing=pool_tflm_sharing,
    bands=POOL_BANDS,
)
