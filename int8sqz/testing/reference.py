"""Running a model in the reference runtime, for tests and tools.

The truth is TFLite's reference integer kernels (``OpResolverType.BUILTIN_REF``),
never the default interpreter: its XNNPACK delegate rounds differently.
ai-edge-litert is a test dependency, imported only here; TFLite Micro is
:mod:`int8sqz.testing.micro` (``run_micro`` is imported from there).
"""

from __future__ import annotations

import numpy as np

from .micro import run_micro  # noqa: F401 - older callers import it from here


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
        return [it.get_tensor(d["index"]) for d in it.get_output_details()]
    out = {}
    for d in it.get_tensor_details():
        try:
            out[d["index"]] = it.get_tensor(d["index"])
        except ValueError:
            pass  # tensors without data (e.g. omitted optional inputs)
    return out
