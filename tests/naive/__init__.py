"""Slow, obvious NumPy oracles for the kernels: one module per kernel family.

They use Python integers (no overflow) and spell out TFLite's rounding rules
plainly, so a kernel and its oracle share no code.
"""

from . import concat, conv, elementwise, pool, quantize, reduce, softmax  # noqa: E402
from . import dense  # noqa: E402

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
    "DEPTHWISE_CONV_2D": conv.depthwise_conv,
    "FULLY_CONNECTED": dense.fully_connected,
}
