"""Defaults and codes shared by the ``int8sqz`` command and the library.

One place for each figure the command line, the interpreter and the image
and classification modules would otherwise each define. Importing this
module loads nothing else (no NumPy, no numba), so ``int8sqz --help`` stays
fast.

- :data:`DEFAULT_MAX_ACTIVATION_BYTES`: activations beyond this many bytes
  are refused before anything is allocated (``Interpreter``'s
  ``max_activation_bytes``, ``--max-activation-bytes``).
- :data:`DEFAULT_MAX_PIXELS`: images with more pixels are refused before
  their pixel data are decoded (``max_pixels``, ``--max-pixels``).
- :data:`MAX_MODEL_BYTES`: the largest model file read (a TFLite flatbuffer
  cannot exceed 2 GiB; larger models can be given as bytes to the API).
- :data:`DEFAULT_MAX_INPUT_BYTES`: image and array files larger than this
  are refused before they are read; a stream is read up to it
  (``max_bytes``, ``--max-input-bytes``).
- :data:`DEFAULT_MAX_LABELS_BYTES`: the same for label files
  (``--max-labels-bytes``).
- :data:`RESIZE_METHODS`: the resamplings to the model's input size
  (``resize``, ``--resize``); the first is the default.
- :data:`DEFAULT_TOP_K`: classes printed per image (``--top-k``).
- :data:`DEFAULT_BATCH_SIZE`: images classified together (``--batch-size``);
  the results are those of one image at a time.
- :data:`EXIT_OK`, :data:`EXIT_INTERNAL`, :data:`EXIT_BAD_INPUT`,
  :data:`EXIT_BROKEN_PIPE`: the exit statuses of the command (0; 1 for a bug
  of int8sqz; 2 for a bad input; 141 = 128 + SIGPIPE when the reader of its
  output went away, as a shell reports a command killed by SIGPIPE).
- :func:`default_threads`: one thread per CPU this process may run on
  (``--threads``' default, ``Interpreter(num_threads=-1)``).
- :data:`NUMERICS`: the arithmetics an interpreter computes
  (``Interpreter(numerics=...)``, ``--numerics``); the first is the default.
"""

from __future__ import annotations

import os

DEFAULT_MAX_ACTIVATION_BYTES = 1 << 30

DEFAULT_MAX_PIXELS = 50_000_000

MAX_MODEL_BYTES = (1 << 31) - 1  # FLATBUFFERS_MAX_BUFFER_SIZE

DEFAULT_MAX_INPUT_BYTES = 256 << 20

DEFAULT_MAX_LABELS_BYTES = 16 << 20

RESIZE_METHODS = ("nearest", "bilinear")

DEFAULT_TOP_K = 5

DEFAULT_BATCH_SIZE = 32

#: the arithmetics an interpreter computes: TFLite's reference kernels (as
#: TFLite Micro), its optimized builtin kernels, its default interpreter with
#: the XNNPACK delegate (int8sqz.ops.unit, docs/numerics.md)
NUMERICS = ("reference", "builtin", "xnnpack")

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_BAD_INPUT = 2
EXIT_BROKEN_PIPE = 128 + 13  # SIGPIPE


def default_threads() -> int:
    """The number of CPUs this process may run on (its affinity mask where
    the system has one), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)
