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
    content = bytes(model) if isinstance(model, (bytes, bytearray)) else open(model, "rb").read()
    it = Interpreter(model_content=registered_versions(content), **kw)
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


#: the highest version of an operator that BUILTIN_REF (and TFLite Micro)
#: register, where later versions run the same kernel (a version only says
#: which types or options a model uses: TFLite's TILE kernel is one function
#: for versions 1 to 3, its STRIDED_SLICE one for versions 1 to 8)
REGISTERED_VERSIONS = {"TILE": 2, "STRIDED_SLICE": 4}


def registered_versions(content: bytes) -> bytes:
    """``content``, or, when an operator's version is above what the
    reference registers (:data:`REGISTERED_VERSIONS`), a copy written by
    int8sqz's writer with that version lowered to the highest registered one
    (nothing else changed): the reference for models such as the zoo's SSD
    detector (TILE version 3). :func:`reference_interpreter` applies it."""
    if not _needs_lowering(bytes(content)):
        return bytes(content)
    from int8sqz.model import load_model
    from int8sqz.testing.writer import model_def, write_model

    md = model_def(load_model(bytes(content)))
    for op in md.operators:
        op.version = min(op.version, REGISTERED_VERSIONS.get(op.name, op.version))
    return write_model(md)


def _needs_lowering(content: bytes) -> bool:
    """Whether an operator code asks for a version above the registered
    one, read straight from the flatbuffer's operator codes (a model that
    cannot be read this way is handed to the reference as it is: the
    reference then says what it thinks of it)."""
    import tflite
    from tflite.utils import BUILTIN_OPCODE2NAME

    try:
        m = tflite.Model.GetRootAsModel(content, 0)
        for i in range(m.OperatorCodesLength()):
            oc = m.OperatorCodes(i)
            code = max(int(oc.DeprecatedBuiltinCode()), int(oc.BuiltinCode()))
            limit = REGISTERED_VERSIONS.get(BUILTIN_OPCODE2NAME.get(code))
            if limit is not None and oc.Version() > limit:
                return True
    except Exception:  # noqa: BLE001 - a hostile file: not ours to judge here
        return False
    return False
