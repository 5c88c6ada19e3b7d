"""Running a model in ai-edge-litert under each of its three numerics.

``reference``: TFLite's reference kernels (``OpResolverType.BUILTIN_REF``), the
truth TFLite Micro equals. ``builtin``: TFLite's optimized builtin kernels
without any delegate (``BUILTIN_WITHOUT_DEFAULT_DELEGATES``). ``xnnpack``: the
default interpreter, which hands the operators the XNNPACK delegate takes to
XNNPACK and runs the others with the optimized builtin kernels.

With ``all_tensors`` the interpreter keeps every intermediate tensor
(``experimental_preserve_all_tensors``). The XNNPACK delegate then makes one
partition per operator, so every tensor between two operators is written
back and readable; the outputs are the same as without it (measured on every
shared model: docs/numerics.md). ai-edge-litert is a test dependency,
imported only inside these functions.
"""

from __future__ import annotations

import warnings

import numpy as np

MODES = ("reference", "builtin", "xnnpack")


def _resolver(mode: str):
    from ai_edge_litert.interpreter import OpResolverType

    try:
        return {
            "reference": OpResolverType.BUILTIN_REF,
            "builtin": OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
            "xnnpack": OpResolverType.AUTO,
        }[mode]
    except KeyError:
        raise ValueError(f"numerics mode {mode!r}: expected one of {', '.join(MODES)}") from None


def runtime_interpreter(model, mode: str = "reference", *, num_threads: int = 1,
                        preserve_all_tensors: bool = False):
    """An allocated ai-edge-litert interpreter for ``model`` (a path or the
    model's bytes) in numerics ``mode`` with ``num_threads`` threads."""
    from ai_edge_litert.interpreter import Interpreter

    from .reference import registered_versions

    kw = dict(
        experimental_op_resolver_type=_resolver(mode),
        experimental_preserve_all_tensors=preserve_all_tensors,
        num_threads=int(num_threads),
    )
    content = bytes(model) if isinstance(model, (bytes, bytearray)) else open(model, "rb").read()
    if mode == "reference":
        # versions the reference registration lacks, lowered (the same kernel)
        content = registered_versions(content)
    source = dict(model_content=content)
    with warnings.catch_warnings():
        # preserve_all_tensors with the default resolver warns about memory use
        warnings.simplefilter("ignore", UserWarning)
        it = Interpreter(**source, **kw)
    it.allocate_tensors()
    return it


def delegated_operators(it) -> int:
    """How many DELEGATE nodes the interpreter's execution plan holds (0 for
    reference and builtin; for xnnpack, the number of XNNPACK partitions)."""
    return sum(1 for d in it._get_ops_details() if d["op_name"] == "DELEGATE")


def run_runtime(model, inputs, mode: str = "reference", *, num_threads: int = 1,
                all_tensors: bool = False):
    """Run ``inputs`` (one array per graph input) through ai-edge-litert in
    numerics ``mode``. Returns the list of outputs, or with ``all_tensors`` a
    dict mapping every tensor index that holds data after ``invoke()`` to a
    copy of its array."""
    it = runtime_interpreter(model, mode, num_threads=num_threads,
                             preserve_all_tensors=all_tensors)
    details = it.get_input_details()
    if len(details) != len(inputs):
        raise ValueError(f"the model has {len(details)} inputs, {len(inputs)} given")
    for detail, value in zip(details, inputs):
        it.set_tensor(detail["index"], np.asarray(value))
    it.invoke()
    if not all_tensors:
        return [it.get_tensor(d["index"]).copy() for d in it.get_output_details()]
    out = {}
    for d in it.get_tensor_details():
        try:
            out[d["index"]] = it.get_tensor(d["index"]).copy()
        except ValueError:
            pass  # tensors without data (omitted optional inputs)
    return out
