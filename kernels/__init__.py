"""numba kernels of int8sqz, installed as ``int8sqz.kernels``.

Each function here takes NumPy arrays and plain integers only, never a
flatbuffer object or a quantization record: the operators in ``int8sqz.ops``
turn a model's operator into those parameters in their prepare step.
The kernels do not check bounds; their callers must.
"""
