"""Running a model in the reference runtimes, for tests and tools.

The truth is TFLite's reference integer kernels (``OpResolverType.BUILTIN_REF``),
never the default interpreter: its XNNPACK delegate rounds differently.
ai-edge-litert and tflite-micro are test dependencies, imported only here.
"""

from __future__ import annotations

import numpy as np


def reference_interpreter(model, *, preserve_all_tensors: bool = True):
    """An ai-edge-litert interpreter on the reference kernels, allocated.

    ``model`` is a path or the model's bytes.
    """
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    kw = dict(
        experimental_op_resolver_type=OpResolverType.BUILTIN_REF,
        experimental_preserve_all_tensors=preserve_all_tensors,
    )
    if isinstance(model, (bytes, bytearray)):
        it = Interpreter(model_content=bytes(model), **kw)
    else:
        it = Interpreter(model_path=str(model), **kw)
    it.allocate_tensors()
    return it


def run_reference(model, inputs, *, all_tensors: bool = False):
    """Run ``inputs`` (a list, one array per graph input) through the reference.

    Returns the list of outputs, or with ``all_tensors`` a dict mapping every
    tensor index that holds data after ``invoke()`` to a copy of its array.
    """
    it = reference_interpreter(model, preserve_all_tensors=all_tensors)
    for detail, value in zip(it.get_input_details(), inputs):
        it.set_tensor(detail["index"], np.asarray(value))
    it.invoke()
    if not all_tensors:
        return [_output(it, d) for d in it.get_output_details()]
    out = {}
    for d in it.get_tensor_details():
        try:
            out[d["index"]] = it.get_tensor(d["index"])
        except ValueError:
            pass  # tensors without data (e.g. omitted optional inputs)
    return out


def _output(it, detail):
    """An output of the reference. One of zero elements that TFLite sized
    when it ran (a dynamic tensor: RESHAPE or EXPAND_DIMS by computed
    values) has no buffer, and the Python wrapper refuses to return it
    ("Invalid tensor size"): it is empty, of the shape TFLite gave it."""
    try:
        return it.get_tensor(detail["index"])
    except ValueError:
        shape = tuple(int(d) for d in detail["shape"])
        if 0 not in shape:
            raise
        return np.zeros(shape, detail["dtype"])


def run_micro(model, inputs, num_outputs: int = 1):
    """Run ``inputs`` through the tflite-micro Python interpreter; returns the
    first ``num_outputs`` outputs."""
    from tflite_micro.python.tflite_micro import runtime

    if isinstance(model, (bytes, bytearray)):
        it = runtime.Interpreter.from_bytes(bytes(model))
    else:
        it = runtime.Interpreter.from_file(str(model))
    for k, value in enumerate(inputs):
        it.set_input(np.asarray(value), k)
    it.invoke()
    return [it.get_output(k) for k in range(num_outputs)]
