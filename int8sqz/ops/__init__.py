"""Operators: one module per TFLite builtin, and the registry that maps each
builtin name to its prepare function.

``prepare(op, ctx)`` validates the operator, does all float arithmetic, sets
its output shapes and returns a callable ``run(tensors)`` that calls a
kernel with plain arrays and integers. ``tensors`` is the list of every
tensor's array, indexed by tensor index.
"""

from . import dequantize, quantize

REGISTRY = {
    "QUANTIZE": quantize.prepare,
    "DEQUANTIZE": dequantize.prepare,
}

#: tensor types the interpreter can hold (constants and activations)
SUPPORTED_TYPES = ("FLOAT32", "INT8", "UINT8", "INT32")


def supported_operators() -> list:
    return sorted(REGISTRY)
