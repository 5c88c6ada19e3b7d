"""Slow, obvious NumPy oracles for the kernels: one module per kernel family.

They use Python integers (no overflow) and spell out TFLite's rounding rules
plainly, so a kernel and its oracle share no code.
"""

from . import (  # noqa: E402
    activation, concat, conv, dense, elementwise, movement, pool, quantize, reduce, resize,
    softmax,
)

#: operator -> its oracle (the conformance test asks every registered unit for one)
ORACLES = {
    "ADD": elementwise.add,
    "AVERAGE_POOL_2D": pool.average_pool,
    "CONCATENATION": concat.concatenate,
    "CONV_2D": conv.conv,
    "DEQUANTIZE": quantize.dequantize,
    "MAX_POOL_2D": pool.max_pool,
    "MEAN": reduce.mean,
    "MUL": elementwise.mul,
    "QUANTIZE": quantize.affine_quantize,
    "SOFTMAX": softmax.softmax,
    "SUB": elementwise.sub,
    "MAXIMUM": elementwise.maximum,
    "MINIMUM": elementwise.minimum,
    "RELU": activation.relu_quantized,
    "RELU6": activation.relu_quantized,
    "LOGISTIC": activation.logistic,
    "REDUCE_MAX": reduce.reduce_max,
    "RESIZE_BILINEAR": resize.resize_bilinear_integer,
    "EXPAND_DIMS": movement.expand_dims,
    "PACK": movement.pack,
    "PAD": movement.pad,
    "PADV2": movement.pad,
    "RESHAPE": movement.reshape,
    "SHAPE": movement.shape,
    "SQUEEZE": movement.squeeze,
    "STRIDED_SLICE": movement.strided_slice,
    "TILE": movement.tile,
    "TRANSPOSE": movement.transpose,
    "DEPTHWISE_CONV_2D": conv.depthwise_conv,
    "FULLY_CONNECTED": dense.fully_connected,
}
