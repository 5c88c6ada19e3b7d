"""MINIMUM of two tensors (int8, uint8, int32 or float32), with NumPy-style
broadcasting: TFLite's ``Register_MINIMUM_REF``, MAXIMUM's prepare and
kernel with ``x < y ? x : y`` (see int8sqz.ops.maximum)."""

from ._binary import BINARY_BANDS, elementwise_per_image
from .maximum import SHARING, prepare_extremum
from .sub import broadcast_version
from .maximum import tflm_persistent
from .unit import (
    Numerics, OperatorUnit, float_operands, no_macs, no_tflm_sharing, not_modelled,
    same_as_reference,
)


def prepare(op, ctx):
    return prepare_extremum(op, ctx, False)


UNIT = OperatorUnit(
    "MINIMUM", prepare, options="MaximumMinimumOptions", defaults={},
    version=broadcast_version, per_image=elementwise_per_image, macs=no_macs, sharing=SHARING,
    numerics={
        "builtin": same_as_reference("the smaller stored value, as the reference"),
        "xnnpack": Numerics(
            "quantized MINIMUM is not delegated (the builtin kernel, the reference's "
            "values); float32 is, and XNNPACK's smaller of 0.0 and -0.0 is not TFLite's "
            "(measured): not modelled, refused",
            not_modelled("float32 MINIMUM in XNNPACK").prepare, delegated=float_operands),
    },
    tflm_persistent=tflm_persistent, tflm_sharing=no_tflm_sharing,
    bands=BINARY_BANDS,
)
