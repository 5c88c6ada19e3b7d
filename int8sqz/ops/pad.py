"""PAD: the input surrounded by a constant value (the output's zero point
for quantized tensors, else 0; a third input may give it). See
int8sqz/ops/_pad.py, which PADV2 shares, as TFLite's ``pad.cc`` does."""

from . import _pad
from .unit import OperatorUnit, Sharing, no_macs

UNIT = OperatorUnit(
    "PAD", _pad.prepare, options="PadOptions", defaults={}, version=_pad.version,
    per_image=_pad.per_image, macs=no_macs,
    sharing=Sharing(kernel="kernels/movement.py", rows=_pad.rows),
    tflm_persistent=_pad.tflm_persistent, tflm_sharing=_pad.tflm_sharing,
    bands=_pad.BANDS,
)
