"""PADV2: the input surrounded by the value of its third input (a constant
of the input's type and quantization). See int8sqz/ops/_pad.py, which PAD
shares, as TFLite's ``pad.cc`` does."""

from . import _pad
from .unit import OperatorUnit, Sharing, no_macs, not_delegated, same_as_reference

UNIT = OperatorUnit(
    "PADV2", _pad.prepare, options="PadV2Options", defaults={}, version=_pad.version,
    per_image=_pad.per_image, macs=no_macs,
    sharing=Sharing(kernel="kernels/movement.py", rows=_pad.rows),
    numerics={
        "builtin": same_as_reference("optimized_ops::Pad: the same copy and border"),
        "xnnpack": not_delegated("not delegated: the same copy and border"),
    },
    tflm_persistent=_pad.tflm_persistent, tflm_sharing=_pad.tflm_sharing,
    bands=_pad.BANDS,
)
