"""Operators: one module per TFLite builtin, and the registry that maps each
builtin name to its prepare function.

``prepare(op, ctx)`` validates the operator, does all float arithmetic, sets
its output shapes and returns a callable ``run(tensors)`` that calls a
kernel with plain arrays and integers. ``tensors`` is the list of every
tensor's array, indexed by tensor index; outputs are preallocated,
C-contiguous arrays that the kernel fills.
"""

from . import (
    add, average_pool_2d, concatenation, conv_2d, dequantize, max_pool_2d, mean, mul,
    quantize, softmax,
)

REGISTRY = {
    "ADD": add.prepare,
    "AVERAGE_POOL_2D": average_pool_2d.prepare,
    "CONCATENATION": concatenation.prepare,
    "CONV_2D": conv_2d.prepare,
    "DEQUANTIZE": dequantize.prepare,
    "MAX_POOL_2D": max_pool_2d.prepare,
    "MEAN": mean.prepare,
    "MUL": mul.prepare,
    "QUANTIZE": quantize.prepare,
    "SOFTMAX": softmax.prepare,
}

#: tensor types the interpreter can hold (constants and activations)
SUPPORTED_TYPES = ("FLOAT32", "INT8", "UINT8", "INT32")


def supported_operators() -> list:
    return sorted(REGISTRY)
