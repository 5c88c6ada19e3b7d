"""RELU6 of int8, uint8 (requantizing) or float32 tensors: TFLite's
``Relu6Eval`` (``QuantizedReluX`` with bounds 0 and 6, or
``reference_ops::Relu6`` for float32), RELU's prepare (see
int8sqz.ops.relu)."""

from ._tflm import temp_inputs
from .relu import BANDS, SHARING, per_image, prepare_relu
from .unit import (
    CStruct, OperatorUnit, TflmAllocations, float_operands, int8_version, no_macs,
    no_tflm_sharing, same_as_reference,
)


def prepare(op, ctx):
    return prepare_relu(op, ctx, "RELU6", 6.0)


#: Relu6OpData (micro/kernels/activations.h): six, zero
TFLM_OP_DATA = CStruct("Relu6OpData", ("int32", "int32"), "micro/kernels/activations.h")


def tflm_persistent(op, model, shapes):
    """micro/kernels/activations.cc (Relu6Init: Relu6OpData) and
    activations_common.cc (Relu6Prepare: the input alone as a temporary
    tensor); ParseRelu6 allocates nothing."""
    return TflmAllocations(
        "micro/kernels/activations.cc Relu6Init, activations_common.cc Relu6Prepare",
        None, TFLM_OP_DATA, temp_inputs(op, 0))


UNIT = OperatorUnit(
    "RELU6", prepare, options=None, defaults={},
    # op_version.cc: 2 for int8 only (uint8 RELU6 stays 1, unlike RELU)
    version=int8_version, per_image=per_image, macs=no_macs, sharing=SHARING,
    numerics={
        "builtin": same_as_reference("reference_ops::ReluX in every resolver; float32 as the "
                                     "reference (measured, NaNs included)"),
        "xnnpack": same_as_reference(
            "quantized RELU6 is not delegated (the builtin kernel, the reference's); float32 "
            "is, with the reference's values (measured, NaNs included)",
            delegated=float_operands),
    },
    tflm_persistent=tflm_persistent, tflm_sharing=no_tflm_sharing,
    bands=BANDS,
)
