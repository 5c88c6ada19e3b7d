"""MAXIMUM of two tensors (int8, uint8, int32 or float32), with NumPy-style
broadcasting.

Follows TFLite's ``maximum_minimum.cc`` as registered by
``Register_MAXIMUM_REF``: Prepare checks only that the two inputs have one
type and computes the broadcast shape; Eval compares the stored values with
``reference_ops::MaximumMinimumBroadcastSlow`` (element by element when the
two shapes are written alike, else ``BroadcastBinaryOpSimple``, which aborts
above rank 8). No quantization enters: the integers are compared whatever
the scales and zero points of the inputs and the output, which TFLite does
not check (nor does int8sqz).
"""

from ..kernels import elementwise as k
from ._binary import (
    BINARY_BANDS, binary_output_shape, binary_run, check_binary_types, elementwise_per_image,
)
from .sub import broadcast_version
from .unit import (
    Numerics, OperatorUnit, Sharing, TflmAllocations, float_operands, no_macs, no_tflm_sharing,
    not_modelled, same_as_reference,
)

TYPES = ("INT8", "UINT8", "INT32", "FLOAT32")


def prepare_extremum(op, ctx, take_max: bool):
    """Prepare MAXIMUM (``take_max``) or MINIMUM."""
    check_binary_types(op, ctx, TYPES)
    out_shape = binary_output_shape(op, ctx, padded=False)

    def call(o, x, y, shape, strides):
        k.maximum_minimum(o, x, y, shape, strides, take_max)

    return binary_run(op, ctx, out_shape, call, dict(kernel="maximum_minimum",
                                                     take_max=take_max))


def prepare(op, ctx):
    return prepare_extremum(op, ctx, True)


#: kernels/elementwise.py (maximum_minimum): each output element from the
#: input elements at its own position (a broadcast input read in its own place)
SHARING = Sharing(kernel="kernels/elementwise.py", inplace=True)


def tflm_persistent(op, model, shapes):
    """micro/kernels/maximum_minimum.cc: no Init, no Prepare; ParseMaximum
    and ParseMinimum allocate nothing."""
    return TflmAllocations("micro/kernels/maximum_minimum.cc (Eval only)")


UNIT = OperatorUnit(
    "MAXIMUM", prepare, options="MaximumMinimumOptions", defaults={},
    version=broadcast_version, per_image=elementwise_per_image, macs=no_macs, sharing=SHARING,
    numerics={
        "builtin": same_as_reference("the larger stored value, as the reference"),
        "xnnpack": Numerics(
            "quantized MAXIMUM is not delegated (the builtin kernel, the reference's "
            "values); float32 is, and XNNPACK's larger of 0.0 and -0.0 is not TFLite's "
            "(measured): not modelled, refused",
            not_modelled("float32 MAXIMUM in XNNPACK").prepare, delegated=float_operands),
    },
    tflm_persistent=tflm_persistent, tflm_sharing=no_tflm_sharing,
    bands=BINARY_BANDS,
)
