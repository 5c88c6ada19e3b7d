"""PAD: the input surrounded by a constant value (the output's zero point
for quantized tensors, else 0; a third input may give it). See
int8sqz/ops/_pad.py, which PADV2 shares, as TFLite's ``pad.cc`` does."""

from . import _pad
from .unit import OperatorUnit, Sharing, always, no_macs, same_as_reference

UNIT = OperatorUnit(
    "PAD", _pad.prepare, options="PadOptions", defaults={}, version=_pad.version,
    per_image=_pad.per_image, macs=no_macs,
    sharing=Sharing(kernel="kernels/movement.py", rows=_pad.rows),
    numerics={
        "builtin": same_as_reference("optimized_ops::Pad: the same copy and border"),
        "xnnpack": same_as_reference(
            "xnn_define_static_constant_pad, its padding value 0.0 quantized to the output "
            "zero point: the same copy and border", delegated=always),
    },
    tflm_persistent=_pad.tflm_persistent, tflm_sharing=_pad.tflm_sharing,
    bands=_pad.BANDS,
)
