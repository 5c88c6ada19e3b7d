"""Running a model in the reference runtime, for tests and tools.

The truth is TFLite's reference integer kernels (``OpResolverType.BUILTIN_REF``),
never the default interpreter: its XNNPACK delegate rounds differently.
ai-edge-litert is a test dependency, imported only here; TFLite Micro is
:mod:`int8sqz.testing.micro`.
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


#: operator versions that BUILTIN_REF and TFLite Micro do not register, and
#: the registered version whose kernel computes the same (TFLite's TILE
#: kernel is one function for versions 1 to 3; version 3 only adds types)
UNREGISTERED_VERSIONS = {("TILE", 3): 1}


def registered_versions(content: bytes) -> bytes:
    """``content``, or, when it uses an operator version listed in
    :data:`UNREGISTERED_VERSIONS`, a copy written by int8sqz's writer with
    that version replaced (nothing else changed): the reference for models
    such as the zoo's SSD detector (TILE version 3)."""
    from int8sqz.model import load_model
    from int8sqz.testing.writer import model_def, write_model

    model = load_model(bytes(content))
    if not any((op.name, op.version) in UNREGISTERED_VERSIONS for op in model.operators):
        return bytes(content)
    md = model_def(model)
    for op in md.operators:
        op.version = UNREGISTERED_VERSIONS.get((op.name, op.version), op.version)
    return write_model(md)
