"""TFLite Micro's own figures for a model, from the ``tflite_micro`` Python
package (a test extra, imported only here): the arena it allocates (head,
tail, total, as its recording allocator prints them), the smallest arena
size it accepts, and its outputs. (int8sqz.testing.micro has the short
forms other tests use.)

The package builds TFLite Micro's reference kernels and allocates through a
``RecordingMicroAllocator``; ``print_allocations`` writes with C stdio to
file descriptor 2, which :func:`captured_stderr` catches.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pickle
import re
import struct
import subprocess
import sys
import tempfile

import numpy as np

from ..model import load_model


@contextlib.contextmanager
def captured_stderr():
    """Collects what C code writes to file descriptor 2 into ``box[0]``."""
    box = [""]
    libc = ctypes.CDLL(None)
    sys.stderr.flush()
    libc.fflush(None)
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as f:
        os.dup2(f.fileno(), 2)
        try:
            yield box
        finally:
            libc.fflush(None)
            os.dup2(saved, 2)
            os.close(saved)
            f.seek(0)
            box[0] = f.read().decode("utf-8", "replace")


def default_arena_size(content: bytes) -> int:
    """An arena large enough for any model here: room for every activation
    without sharing, twice, plus 1 MiB for TFLite Micro's own structures,
    and at least 4 MiB (a multiple of 16: the tail TFLite Micro reports is
    then the one of an arena whose end is 16-aligned)."""
    m = load_model(bytes(content))
    room = sum(t.nbytes or 0 for t in m.tensors if not t.is_constant)
    return max(4 << 20, 10 * len(content), 2 * room + (1 << 20)) // 16 * 16


def interpreter(content: bytes, arena_size: int | None = None):
    """A tflite-micro interpreter on ``content`` (its tensors allocated), in
    an arena of ``arena_size`` bytes (default: :func:`default_arena_size`)."""
    from tflite_micro.python.tflite_micro import runtime

    size = arena_size if arena_size is not None else default_arena_size(content)
    return runtime.Interpreter.from_bytes(bytes(content), arena_size=size)


_LINE = re.compile(r"Arena allocation (total|head|tail) (\d+) bytes")
_RECORD = re.compile(r"'([^']+)' used (\d+) bytes with alignment overhead "
                     r"\(requested (\d+) bytes for (\d+) ")


def arena_usage(content: bytes) -> dict:
    """TFLite Micro's arena for ``content``: ``head`` (the memory plan of
    tensors and scratch buffers), ``tail`` (persistent structures),
    ``total`` and ``records`` (the tail's recorded allocation types:
    name -> (bytes used, count))."""
    it = interpreter(content)
    with captured_stderr() as out:
        it.print_allocations()
    text = out[0]
    found = {k: int(v) for k, v in _LINE.findall(text)}
    if set(found) != {"total", "head", "tail"}:
        raise RuntimeError(f"unexpected print_allocations output: {text!r}")
    found["records"] = {name: (int(used), int(count))
                        for name, used, _, count in _RECORD.findall(text)}
    return found


#: the prober (:func:`allocates_each`): a small Python process importing only
#: tflite_micro, which forks one child per attempt; forking the test process
#: itself copies its far larger memory map every time
_PROBER_CODE = r"""
import os, pickle, struct, sys
from tflite_micro.python.tflite_micro import runtime
devnull = os.open(os.devnull, os.O_WRONLY)
inp, out = sys.stdin.buffer, sys.stdout.buffer
while True:
    head = inp.read(4)
    if len(head) < 4:
        break
    content, sizes = pickle.loads(inp.read(struct.unpack("<I", head)[0]))
    answers = []
    for size in sizes:
        pid = os.fork()
        if pid == 0:
            code = 3
            try:
                os.dup2(devnull, 1)
                os.dup2(devnull, 2)
                try:
                    runtime.Interpreter.from_bytes(content, arena_size=size)
                    code = 0
                except RuntimeError:
                    code = 1
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        answers.append(os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0)
    data = pickle.dumps(answers)
    out.write(struct.pack("<I", len(data)) + data)
    out.flush()
"""
_prober = None


def allocates_each(content: bytes, arena_sizes) -> list:
    """For each of ``arena_sizes``, whether TFLite Micro allocates
    ``content``'s tensors in an arena of that many bytes.

    Every attempt runs in a child process: in an arena too small for a
    Prepare's temporary tensors, some kernels (MEAN, REDUCE_MAX,
    RESIZE_BILINEAR: they do not check what AllocateTempInputTensor returns)
    dereference a null pointer and crash instead of failing, and so does the
    allocator when the arena cannot hold its own objects. A crash counts as
    a failure."""
    global _prober
    sizes = [int(n) for n in arena_sizes]
    if _prober is None or _prober.poll() is not None:
        _prober = subprocess.Popen([sys.executable, "-c", _PROBER_CODE], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE)
    data = pickle.dumps((bytes(content), sizes))
    _prober.stdin.write(struct.pack("<I", len(data)) + data)
    _prober.stdin.flush()
    head = _prober.stdout.read(4)
    if len(head) < 4:  # pragma: no cover - the prober itself died
        _prober = None
        raise RuntimeError("the tflite-micro prober process died")
    return pickle.loads(_prober.stdout.read(struct.unpack("<I", head)[0]))


def allocates(content: bytes, arena_size: int) -> bool:
    """Whether TFLite Micro allocates ``content``'s tensors in an arena of
    ``arena_size`` bytes (see :func:`allocates_each`)."""
    return allocates_each(content, [arena_size])[0]


def minimal_arena_size(content: bytes, check_below: int = 64) -> int:
    """The smallest ``arena_size`` with which TFLite Micro allocates the
    model: bisection between half the total it reports and that total plus
    64 KiB (it allocates in an arena of the total, or needs more for its
    planning scratch), then every size in the ``check_below`` bytes under
    the answer is confirmed to fail, since alignment makes success not quite
    monotonic in principle."""
    usage = arena_usage(content)
    hi = usage["total"] + (64 << 10)
    while not allocates(content, hi):  # pragma: no cover - not met on the models here
        hi *= 2
    lo = usage["total"] // 2
    if allocates(content, lo):  # pragma: no cover - not met on the models here
        raise RuntimeError(f"TFLite Micro allocates in {lo} bytes, half its reported total")
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if allocates(content, mid):
            hi = mid
        else:
            lo = mid
    below = list(range(max(0, hi - check_below), hi))
    bad = [n for n, ok in zip(below, allocates_each(content, below)) if ok]
    if bad:
        raise RuntimeError(f"TFLite Micro allocates in {bad[0]} bytes, below the bisection's "
                           f"answer {hi}")
    return hi


def run(content: bytes, input_sets, arena_size: int | None = None,
        count: int | None = None) -> list:
    """The outputs of one interpreter invoked on each of ``input_sets`` (each
    a list with one array per graph input), in order: one list per set
    (its first ``count`` outputs; default: all)."""
    if count is None:
        count = len(load_model(bytes(content)).outputs)
    it = interpreter(content, arena_size)
    results = []
    for inputs in input_sets:
        for k, value in enumerate(inputs):
            it.set_input(np.asarray(value), k)
        it.invoke()
        results.append([np.array(it.get_output(k)) for k in range(count)])
    return results


def golden_like_inputs(model, count: int = 3, seed: int = 0) -> list:
    """``count`` input sets for ``model`` (a loaded int8sqz Model): the
    type's minimum, its maximum (zeros and normal noise for float inputs),
    then seeded uniform noise."""
    rng = np.random.default_rng(seed)
    sets = []
    for k in range(count):
        values = []
        for i in model.inputs:
            t = model.tensors[i]
            if t.type_name.startswith("FLOAT"):
                v = (np.zeros(t.shape, t.dtype) if k == 0
                     else rng.normal(0, 2, size=t.shape).astype(t.dtype))
            else:
                info = np.iinfo(t.dtype)
                v = (np.full(t.shape, (info.min, info.max)[k], t.dtype) if k < 2
                     else rng.integers(info.min, info.max + 1, size=t.shape, dtype=t.dtype))
            values.append(v)
        sets.append(values)
    return sets
