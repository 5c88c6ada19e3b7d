"""MAX_POOL_2D on int8 and uint8, as TFLite's reference kernels
(``reference_integer_ops::MaxPool``, ``reference_ops::MaxPool``): the
maximum over each window clamped to the image, then the fused activation.
Input and output must share scale and zero point (TFLite's Prepare asserts
it; the kernel does not requantize)."""

from ..kernels import pool as k
from ._pool import prepare_pool


def prepare(op, ctx):
    return prepare_pool(op, ctx, k.max_pool_2d, "MAX_POOL_2D")
