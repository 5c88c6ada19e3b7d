"""TFLite Micro, for tests and tools: running a model (:func:`run_micro`)
and the activation arena it allocates (:func:`measure_tflm_arena`), which
``int8sqz memplan --planner tflm`` must equal to the byte.

tflite-micro is a test dependency, imported only when these are called.
"""

from __future__ import annotations

import sys

import numpy as np

from ..model import load_model

__all__ = ["measure_tflm_arena", "run_micro"]


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


def measure_tflm_arena(model) -> int:
    """TFLite Micro's activation arena for ``model`` (a path or bytes): the
    "Arena allocation head" that its recording allocator prints, i.e. the
    largest memory plan (tensors and scratch buffers) of the model."""
    import ctypes
    import os
    import re
    import tempfile

    from tflite_micro.python.tflite_micro import runtime

    content = bytes(model) if isinstance(model, (bytes, bytearray)) else open(model, "rb").read()
    # room for every activation without sharing, plus TFLite Micro's own structures
    m = load_model(content)
    room = sum(t.nbytes or 0 for t in m.tensors if not t.is_constant)
    it = runtime.Interpreter.from_bytes(content, arena_size=2 * room + (1 << 20))
    # print_allocations writes with C stdio to file descriptor 2; flush C's
    # buffers before switching the descriptor back
    libc = ctypes.CDLL(None)
    sys.stderr.flush()
    libc.fflush(None)
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as f:
        os.dup2(f.fileno(), 2)
        try:
            it.print_allocations()
        finally:
            libc.fflush(None)
            os.dup2(saved, 2)
            os.close(saved)
        f.seek(0)
        text = f.read().decode("utf-8", "replace")
    m = re.search(r"Arena allocation head (\d+) bytes", text)
    if m is None:
        raise RuntimeError(f"no 'Arena allocation head' in TFLite Micro's output: {text!r}")
    return int(m.group(1))
