"""MINIMUM of two tensors (int8, uint8, int32 or float32), with NumPy-style
broadcasting: TFLite's ``Register_MINIMUM_REF``, MAXIMUM's prepare and
kernel with ``x < y ? x : y`` (see int8sqz.ops.maximum)."""

from ._binary import BINARY_BANDS, elementwise_per_image
from .maximum import SHARING, prepare_extremum
from .sub import broadcast_version
from .maximum import tflm_persistent
from .unit import OperatorUnit, no_macs, no_tflm_sharing


def prepare(op, ctx):
    return prepare_extremum(op, ctx, False)


UNIT = OperatorUnit(
    "MINIMUM", prepare, options="MaximumMinimumOptions", defaults={},
    version=broadcast_version, per_image=elementwise_per_image, macs=no_macs, sharing=SHARING,
    tflm_persistent=tflm_persistent, tflm_sharing=no_tflm_sharing,
    bands=BINARY_BANDS,
)
