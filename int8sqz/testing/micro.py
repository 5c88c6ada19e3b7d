"""TFLite Micro, for tests and tools: running a model (:func:`run_micro`)
and the activation arena it allocates (:func:`measure_tflm_arena`), which
``int8sqz memplan --planner tflm`` must equal to the byte. Both are the
short forms of :mod:`int8sqz.testing.tflm`, which holds everything about
the ``tflite_micro`` package.

tflite-micro is a test dependency, imported only when these are called.
"""

from __future__ import annotations

from . import tflm

__all__ = ["measure_tflm_arena", "run_micro"]


def _content(model) -> bytes:
    if isinstance(model, (bytes, bytearray)):
        return bytes(model)
    with open(model, "rb") as f:
        return f.read()


def run_micro(model, inputs, num_outputs: int = 1):
    """Run ``inputs`` through the tflite-micro Python interpreter; returns the
    first ``num_outputs`` outputs."""
    return tflm.run(_content(model), [inputs], count=num_outputs)[0]


def measure_tflm_arena(model) -> int:
    """TFLite Micro's activation arena for ``model`` (a path or bytes): the
    "Arena allocation head" that its recording allocator prints, i.e. the
    largest memory plan (tensors and scratch buffers) of the model."""
    return tflm.arena_usage(_content(model))["head"]
