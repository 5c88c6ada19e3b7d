"""Shared fuzzing machinery: seed models, mutations, and the worker
subprocesses that run each case in isolation.

A *case* is the bytes of a (possibly hostile) model and a seed for its
inputs. :func:`check` runs it in a persistent worker subprocess
(``python tests/fuzzing.py worker int8sqz``): load, ``allocate_tensors``,
``set_tensor`` with seeded random inputs, ``invoke``, ``get_tensor``, and,
for some cases, the ``int8sqz run`` command in-process on a small image and
``int8sqz memplan``. The case must end with outputs or with int8sqz's own
exception (:class:`~int8sqz.errors.Int8sqzError`, never ``InternalError``),
a one-line message, and the commands must exit 0 or 2 (one ``int8sqz:
error:`` line). Image cases (:func:`check_image`) decode a mutated image as
``int8sqz run`` does and run the command on it.
A worker that dies (a signal) or exceeds the time limit names the case: it
is replayed alone in a fresh worker, and when it only fails after others,
the cases the worker ran before are bisected to name the one that
corrupted it.

When int8sqz runs a case, TFLite's reference kernels (BUILTIN_REF) run it in
their own worker with the same inputs; equal outputs are required. When the
reference refuses or crashes on a model that int8sqz runs, the case fails
unless :func:`explain_reference_refusal` documents why int8sqz's result is
right.

Mutations (hypothesis strategies, so failures shrink) of seed models (a
small zoo of every operator, and the three SqueezeNets): random bytes,
truncations, bit flips and hostile values at the positions of the
flatbuffer's own fields (found by walking the tables with the ``tflite``
accessors: scalars, vector lengths and elements, offsets, vtables), byte
flips outside the weight data, and hostile descriptions written with
:mod:`int8sqz.testing.writer` (shapes, types, quantization, options, axes,
operator inputs and order); of seed images in a dozen formats and modes:
truncations, bit flips, garbage, hostile declared sizes.

File kinds (issue 16): half the cases that run the command run it once more
with their model (``MODEL_FILE_KINDS``) or image (``IMAGE_FILE_KINDS``)
handed over as a regular file, under a name that is not UTF-8 (with a line
end and an escape in it), through standard input (``-``) or ``/dev/stdin``,
among inputs that are not regular files: a FIFO nobody writes, a directory,
``/dev/zero`` and, when standard input is free, an endless stream on it
(``_run_cli_files``, ``_run_image_files``). The command must exit 2, say in
one line what each of those is, print or refuse each image under its
escaped name (``--json`` valid UTF-8 with ``file_hex``), never hang and
never read an endless stream beyond its limit (:func:`_check_files`).

Case counts: :data:`COUNTS`, printed at the end of the session
(:func:`register_report`). ``INT8SQZ_FUZZ_CASES`` sets the total number of
cases (default 2,400, 2,112 of them models; ``INT8SQZ_HYPOTHESIS_PROFILE=deep``
multiplies by 10);
``INT8SQZ_FUZZ_REPORT=<file>`` writes the counts as JSON;
``INT8SQZ_FAILURES=<dir>`` saves every failing model there.
"""

from __future__ import annotations

import collections
import hashlib
import inspect
import io
import json
import math
import os
import pickle
import re
import select
import struct
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SHARED = Path(os.environ.get("INT8SQZ_SHARED", ROOT.parent / "shared"))
REAL_SEEDS = {
    "flowers": SHARED / "models" / "squeezenet_v1.0_128_int8_flowers.tflite",
    "food-101": SHARED / "models" / "squeezenet_v1.0_128_int8_food-101.tflite",
    "plant-village": SHARED / "models" / "squeezenet_v1.0_128_int8_plant-village.tflite",
}

#: activation limit of the fuzz worker: large enough for every seed model,
#: small enough that no case spends seconds in a kernel
WORKER_ACTIVATION_LIMIT = 16 << 20
#: address-space limit of each worker: a huge allocation fails as MemoryError
#: (a bug for int8sqz) instead of swapping the machine
WORKER_ADDRESS_SPACE = 6 << 30
#: seconds a case may take (warm worker); the first case of a worker also
#: loads (or compiles) the numba kernels
CASE_SECONDS = float(os.environ.get("INT8SQZ_FUZZ_CASE_SECONDS", "30"))
START_SECONDS = 600.0
#: outputs up to this size travel back from the worker for failure messages
_SMALL_OUTPUT = 1 << 16


# ---------------------------------------------------------------------------------------
# case budget
# ---------------------------------------------------------------------------------------

#: share of the total case budget per fuzz test
SHARES = {
    "random_bytes": 0.09,
    "truncation": 0.17,
    "field_sites": 0.29,
    "region_flips": 0.12,
    "writer": 0.21,
    "images": 0.12,
}
DEFAULT_TOTAL = 2400


def total_cases() -> int:
    env = os.environ.get("INT8SQZ_FUZZ_CASES")
    if env:
        return max(int(env), len(SHARES))
    deep = os.environ.get("INT8SQZ_HYPOTHESIS_PROFILE") == "deep"
    return DEFAULT_TOTAL * (10 if deep else 1)


def budget(name: str) -> int:
    """How many cases (hypothesis examples) the test ``name`` runs."""
    return max(1, round(total_cases() * SHARES[name]))


# ---------------------------------------------------------------------------------------
# seed models
# ---------------------------------------------------------------------------------------

def _rng(seed):
    return np.random.default_rng(seed)


def _zoo() -> dict:
    """Small models that TFLite's reference kernels run, one or more per
    operator int8sqz supports, and a short pipeline of all of them."""
    from int8sqz.testing.writer import GraphBuilder

    zoo = {}
    r = _rng(11)

    # CONV_2D, per-channel, SAME, RELU6
    g = GraphBuilder()
    x = g.input("x", (1, 6, 6, 3), "INT8", scale=0.05, zero_point=-3)
    ws = np.float32([0.01, 0.02, 0.015, 0.03])
    w = g.constant("w", r.integers(-127, 128, (4, 3, 3, 3)).astype(np.int8), scale=ws,
                   zero_point=[0] * 4, quantized_dimension=0)
    b = g.constant("b", r.integers(-300, 300, 4).astype(np.int32),
                   scale=(np.float64(np.float32(0.05)) * ws).astype(np.float32),
                   zero_point=[0] * 4)
    y = g.tensor("y", (1, 6, 6, 4), "INT8", scale=0.08, zero_point=-10)
    g.operator("CONV_2D", [x, w, b], y, padding="SAME", fused_activation_function="RELU6")
    g.output(y)
    zoo["conv_per_channel"] = g.build()

    # CONV_2D grouped, per-tensor, VALID, stride 2, dilation 2, batch 2
    g = GraphBuilder()
    x = g.input("x", (2, 9, 9, 4), "INT8", scale=0.04, zero_point=5)
    w = g.constant("w", r.integers(-127, 128, (4, 2, 2, 2)).astype(np.int8), scale=0.02)
    b = g.constant("b", r.integers(-300, 300, 4).astype(np.int32), scale=0.0008)
    y = g.tensor("y", (2, 4, 4, 4), "INT8", scale=0.05, zero_point=0)
    g.operator("CONV_2D", [x, w, b], y, padding="VALID", stride_h=2, stride_w=2,
               dilation_hfactor=2, dilation_wfactor=2, fused_activation_function="RELU")
    g.output(y)
    zoo["conv_grouped"] = g.build()

    # MAX_POOL_2D then AVERAGE_POOL_2D, int8
    g = GraphBuilder()
    x = g.input("x", (1, 7, 7, 3), "INT8", scale=0.1, zero_point=2)
    m = g.tensor("m", (1, 4, 4, 3), "INT8", scale=0.1, zero_point=2)
    g.operator("MAX_POOL_2D", [x], m, padding="SAME", stride_h=2, stride_w=2,
               filter_height=3, filter_width=3)
    y = g.tensor("y", (1, 3, 3, 3), "INT8", scale=0.1, zero_point=2)
    g.operator("AVERAGE_POOL_2D", [m], y, padding="VALID", stride_h=1, stride_w=1,
               filter_height=2, filter_width=2, fused_activation_function="RELU")
    g.output(y)
    zoo["pools_int8"] = g.build()

    # AVERAGE_POOL_2D uint8, SAME
    g = GraphBuilder()
    x = g.input("x", (1, 5, 4, 2), "UINT8", scale=0.02, zero_point=128)
    y = g.tensor("y", (1, 3, 2, 2), "UINT8", scale=0.02, zero_point=128)
    g.operator("AVERAGE_POOL_2D", [x], y, padding="SAME", stride_h=2, stride_w=2,
               filter_height=3, filter_width=2)
    g.output(y)
    zoo["avg_pool_uint8"] = g.build()

    # CONCATENATION int8, axis 3 (same quantization)
    g = GraphBuilder()
    a = g.input("a", (1, 3, 3, 2), "INT8", scale=0.1, zero_point=-1)
    c = g.input("c", (1, 3, 3, 5), "INT8", scale=0.1, zero_point=-1)
    y = g.tensor("y", (1, 3, 3, 7), "INT8", scale=0.1, zero_point=-1)
    g.operator("CONCATENATION", [a, c], y, axis=3)
    g.output(y)
    zoo["concat_int8"] = g.build()

    # CONCATENATION uint8 with rescaling, negative axis
    g = GraphBuilder()
    a = g.input("a", (2, 3), "UINT8", scale=0.1, zero_point=100)
    c = g.input("c", (4, 3), "UINT8", scale=0.25, zero_point=7)
    y = g.tensor("y", (6, 3), "UINT8", scale=0.2, zero_point=120)
    g.operator("CONCATENATION", [a, c], y, axis=-2)
    g.output(y)
    zoo["concat_uint8"] = g.build()

    # ADD int8 with broadcasting, MUL uint8 with broadcasting
    g = GraphBuilder()
    a = g.input("a", (1, 4, 4, 3), "INT8", scale=0.05, zero_point=3)
    c = g.constant("c", r.integers(-128, 128, (3,)).astype(np.int8), scale=0.02,
                   zero_point=-5)
    y = g.tensor("y", (1, 4, 4, 3), "INT8", scale=0.07, zero_point=0)
    g.operator("ADD", [a, c], y, fused_activation_function="RELU")
    g.output(y)
    zoo["add_broadcast"] = g.build()

    g = GraphBuilder()
    a = g.input("a", (2, 1, 5), "UINT8", scale=0.05, zero_point=128)
    c = g.input("c", (3, 1), "UINT8", scale=0.03, zero_point=120)
    y = g.tensor("y", (2, 3, 5), "UINT8", scale=0.01, zero_point=128)
    g.operator("MUL", [a, c], y)
    g.output(y)
    zoo["mul_uint8"] = g.build()

    # MEAN int8 over axes {1, 2}, keep_dims; MEAN uint8 over the last axis
    g = GraphBuilder()
    x = g.input("x", (1, 5, 5, 4), "INT8", scale=0.1, zero_point=-4)
    ax = g.constant("axes", np.array([1, 2], np.int32))
    y = g.tensor("y", (1, 1, 1, 4), "INT8", scale=0.05, zero_point=1)
    g.operator("MEAN", [x, ax], y, keep_dims=True)
    g.output(y)
    zoo["mean_int8"] = g.build()

    g = GraphBuilder()
    x = g.input("x", (3, 6), "UINT8", scale=0.1, zero_point=128)
    ax = g.constant("axes", np.array([-1], np.int32))
    y = g.tensor("y", (3,), "UINT8", scale=0.1, zero_point=128)
    g.operator("MEAN", [x, ax], y, keep_dims=False)
    g.output(y)
    zoo["mean_uint8"] = g.build()

    # SOFTMAX int8 and uint8
    g = GraphBuilder()
    x = g.input("x", (2, 10), "INT8", scale=0.1, zero_point=0)
    y = g.tensor("y", (2, 10), "INT8", scale=1.0 / 256, zero_point=-128)
    g.operator("SOFTMAX", [x], y, beta=1.0)
    g.output(y)
    zoo["softmax_int8"] = g.build()

    g = GraphBuilder()
    x = g.input("x", (1, 1, 7), "UINT8", scale=0.05, zero_point=128)
    y = g.tensor("y", (1, 1, 7), "UINT8", scale=1.0 / 256, zero_point=0)
    g.operator("SOFTMAX", [x], y, beta=0.5)
    g.output(y)
    zoo["softmax_uint8"] = g.build()

    # QUANTIZE float -> uint8 -> int8 (requantize), DEQUANTIZE
    g = GraphBuilder()
    x = g.input("x", (2, 3, 4), "FLOAT32")
    q = g.tensor("q", (2, 3, 4), "UINT8", scale=0.03, zero_point=128)
    g.operator("QUANTIZE", [x], q)
    s = g.tensor("s", (2, 3, 4), "INT8", scale=0.05, zero_point=-2)
    g.operator("QUANTIZE", [q], s)
    y = g.tensor("y", (2, 3, 4), "FLOAT32")
    g.operator("DEQUANTIZE", [s], y)
    g.output(y)
    zoo["quantize_chain"] = g.build()

    # a small image classifier with every operator (the CLI runs it too)
    g = GraphBuilder()
    x = g.input("image", (1, 8, 8, 3), "UINT8", scale=1.0 / 255, zero_point=0)
    xq = g.tensor("xq", (1, 8, 8, 3), "INT8", scale=1.0 / 255, zero_point=-128)
    g.operator("QUANTIZE", [x], xq)
    ws = np.float32([0.02, 0.01, 0.03, 0.02, 0.025, 0.015])
    w = g.constant("w1", r.integers(-127, 128, (6, 3, 3, 3)).astype(np.int8), scale=ws,
                   zero_point=[0] * 6, quantized_dimension=0)
    b = g.constant("b1", r.integers(-200, 200, 6).astype(np.int32),
                   scale=(np.float64(np.float32(1.0 / 255)) * ws).astype(np.float32),
                   zero_point=[0] * 6)
    c1 = g.tensor("c1", (1, 4, 4, 6), "INT8", scale=0.02, zero_point=-128)
    g.operator("CONV_2D", [xq, w, b], c1, padding="SAME", stride_h=2, stride_w=2,
               fused_activation_function="RELU")
    p1 = g.tensor("p1", (1, 2, 2, 6), "INT8", scale=0.02, zero_point=-128)
    g.operator("MAX_POOL_2D", [c1], p1, padding="VALID", stride_h=2, stride_w=2,
               filter_height=2, filter_width=2)
    k = g.constant("k", r.integers(-128, 128, (6,)).astype(np.int8), scale=0.01, zero_point=0)
    m1 = g.tensor("m1", (1, 2, 2, 6), "INT8", scale=0.01, zero_point=0)
    g.operator("MUL", [p1, k], m1)
    a1 = g.tensor("a1", (1, 2, 2, 6), "INT8", scale=0.02, zero_point=-10)
    g.operator("ADD", [m1, p1], a1)
    cc = g.tensor("cc", (1, 2, 2, 12), "INT8", scale=0.02, zero_point=-10)
    g.operator("CONCATENATION", [a1, a1], cc, axis=3)
    ap = g.tensor("ap", (1, 1, 1, 12), "INT8", scale=0.02, zero_point=-10)
    g.operator("AVERAGE_POOL_2D", [cc], ap, padding="VALID", stride_h=1, stride_w=1,
               filter_height=2, filter_width=2)
    axes = g.constant("axes", np.array([1, 2], np.int32))
    mn = g.tensor("mn", (1, 12), "INT8", scale=0.02, zero_point=-10)
    g.operator("MEAN", [ap, axes], mn, keep_dims=False)
    sm = g.tensor("sm", (1, 12), "INT8", scale=1.0 / 256, zero_point=-128)
    g.operator("SOFTMAX", [mn], sm, beta=1.0)
    out = g.tensor("probs", (1, 12), "FLOAT32")
    g.operator("DEQUANTIZE", [sm], out)
    g.output(out)
    zoo["classifier"] = g.build()

    # SUB uint8 with broadcasting and RELU6; MAXIMUM / MINIMUM int8 with a constant
    g = GraphBuilder()
    a = g.input("a", (2, 3, 4), "UINT8", scale=0.05, zero_point=128)
    c = g.input("c", (3, 1), "UINT8", scale=0.03, zero_point=120)
    y = g.tensor("y", (2, 3, 4), "UINT8", scale=0.04, zero_point=10)
    g.operator("SUB", [a, c], y, fused_activation_function="RELU6")
    g.output(y)
    zoo["sub_uint8"] = g.build()

    g = GraphBuilder()
    a = g.input("a", (1, 3, 3, 4), "INT8", scale=0.1, zero_point=-2)
    k = g.constant("k", r.integers(-128, 128, (4,)).astype(np.int8), scale=0.1, zero_point=-2)
    m = g.tensor("m", (1, 3, 3, 4), "INT8", scale=0.1, zero_point=-2)
    g.operator("MAXIMUM", [a, k], m)
    y = g.tensor("y", (1, 3, 3, 4), "INT8", scale=0.1, zero_point=-2)
    g.operator("MINIMUM", [m, a], y)
    g.output(y)
    zoo["max_min_int8"] = g.build()

    # RELU and RELU6 requantizing int8, then LOGISTIC; RELU6 float32
    g = GraphBuilder()
    x = g.input("x", (2, 8), "INT8", scale=0.1, zero_point=3)
    r1 = g.tensor("r1", (2, 8), "INT8", scale=0.05, zero_point=-128)
    g.operator("RELU", [x], r1)
    r6 = g.tensor("r6", (2, 8), "INT8", scale=6.0 / 255, zero_point=-128)
    g.operator("RELU6", [r1], r6)
    y = g.tensor("y", (2, 8), "INT8", scale=1.0 / 256, zero_point=-128)
    g.operator("LOGISTIC", [r6], y)
    g.output(y)
    zoo["relu_logistic_int8"] = g.build()

    g = GraphBuilder()
    x = g.input("x", (3, 5), "FLOAT32")
    y = g.tensor("y", (3, 5), "FLOAT32")
    g.operator("RELU6", [x], y)
    g.output(y)
    zoo["relu6_float"] = g.build()

    g = GraphBuilder()
    x = g.input("x", (1, 1, 10), "UINT8", scale=0.2, zero_point=128)
    y = g.tensor("y", (1, 1, 10), "UINT8", scale=1.0 / 256, zero_point=0)
    g.operator("LOGISTIC", [x], y)
    g.output(y)
    zoo["logistic_uint8"] = g.build()

    # REDUCE_MAX int8 over the time axis (the zoo's gmp model); float32 over all axes
    g = GraphBuilder()
    x = g.input("x", (1, 6, 3, 4), "INT8", scale=0.07, zero_point=-5)
    ax = g.constant("axes", np.array([1, 2], np.int32))
    y = g.tensor("y", (1, 4), "INT8", scale=0.07, zero_point=-5)
    g.operator("REDUCE_MAX", [x, ax], y, keep_dims=False)
    g.output(y)
    zoo["reduce_max_int8"] = g.build()

    g = GraphBuilder()
    x = g.input("x", (2, 3), "FLOAT32")
    ax = g.constant("axes", np.array([0, -1], np.int32))
    y = g.tensor("y", (1, 1), "FLOAT32")
    g.operator("REDUCE_MAX", [x, ax], y, keep_dims=True)
    g.output(y)
    zoo["reduce_max_float"] = g.build()

    # RESIZE_BILINEAR int8 (integer path) up, uint8 half-pixel down
    g = GraphBuilder()
    x = g.input("x", (1, 3, 4, 2), "INT8", scale=0.1, zero_point=0)
    size = g.constant("size", np.array([6, 7], np.int32))
    y = g.tensor("y", (1, 6, 7, 2), "INT8", scale=0.1, zero_point=0)
    g.operator("RESIZE_BILINEAR", [x, size], y, align_corners=True)
    g.output(y)
    zoo["resize_bilinear_int8"] = g.build()

    g = GraphBuilder()
    x = g.input("x", (1, 6, 5, 3), "UINT8", scale=1.0 / 255, zero_point=0)
    size = g.constant("size", np.array([4, 3], np.int32))
    y = g.tensor("y", (1, 4, 3, 3), "UINT8", scale=1.0 / 255, zero_point=0)
    g.operator("RESIZE_BILINEAR", [x, size], y, half_pixel_centers=True)
    g.output(y)
    zoo["resize_bilinear_uint8"] = g.build()

    # DEPTHWISE_CONV_2D per-channel, depth multiplier 2, SAME, stride 2, dilation 2,
    # RELU6, batch 2
    g = GraphBuilder()
    x = g.input("x", (2, 7, 6, 3), "INT8", scale=0.05, zero_point=-3)
    ws = np.float32(r.uniform(0.005, 0.03, 6))
    w = g.constant("w", r.integers(-127, 128, (1, 3, 3, 6)).astype(np.int8), scale=ws,
                   zero_point=[0] * 6, quantized_dimension=3)
    b = g.constant("b", r.integers(-300, 300, 6).astype(np.int32),
                   scale=(np.float64(np.float32(0.05)) * ws).astype(np.float32),
                   zero_point=[0] * 6)
    y = g.tensor("y", (2, 4, 3, 6), "INT8", scale=0.06, zero_point=-20)
    g.operator("DEPTHWISE_CONV_2D", [x, w, b], y, padding="SAME", stride_h=2, stride_w=2,
               dilation_hfactor=2, dilation_wfactor=2, depth_multiplier=2,
               fused_activation_function="RELU6")
    g.output(y)
    zoo["depthwise_multiplier"] = g.build()

    # DEPTHWISE_CONV_2D per-tensor, no bias, VALID, 20 channels (a partial vector)
    g = GraphBuilder()
    x = g.input("x", (1, 5, 5, 20), "INT8", scale=0.1, zero_point=4)
    w = g.constant("w", r.integers(-127, 128, (1, 3, 2, 20)).astype(np.int8), scale=0.01)
    y = g.tensor("y", (1, 3, 4, 20), "INT8", scale=0.2, zero_point=0)
    g.operator("DEPTHWISE_CONV_2D", [x, w], y, padding="VALID")
    g.output(y)
    zoo["depthwise_no_bias"] = g.build()

    # FULLY_CONNECTED int8, per-channel weights, keep_num_dims, RELU
    g = GraphBuilder()
    x = g.input("x", (2, 3, 10), "INT8", scale=0.05, zero_point=-5)
    ws = np.float32(r.uniform(0.005, 0.02, 4))
    w = g.constant("w", r.integers(-127, 128, (4, 10)).astype(np.int8), scale=ws,
                   zero_point=[0] * 4, quantized_dimension=0)
    b = g.constant("b", r.integers(-500, 500, 4).astype(np.int32),
                   scale=(np.float64(np.float32(0.05)) * ws).astype(np.float32),
                   zero_point=[0] * 4)
    y = g.tensor("y", (2, 3, 4), "INT8", scale=0.08, zero_point=-128)
    g.operator("FULLY_CONNECTED", [x, w, b], y, keep_num_dims=True,
               fused_activation_function="RELU")
    g.output(y)
    zoo["fc_per_channel"] = g.build()

    # FULLY_CONNECTED uint8 per tensor (weights zero point 128), no bias, a 4-D input
    # flattened into rows
    g = GraphBuilder()
    x = g.input("x", (2, 2, 2, 3), "UINT8", scale=0.1, zero_point=128)
    w = g.constant("w", r.integers(0, 256, (5, 12)).astype(np.uint8), scale=0.02,
                   zero_point=128)
    y = g.tensor("y", (2, 5), "UINT8", scale=0.3, zero_point=120)
    g.operator("FULLY_CONNECTED", [x, w], y)
    g.output(y)
    zoo["fc_uint8"] = g.build()
    zoo.update(_movement_zoo())
    return zoo


def _movement_zoo() -> dict:
    """The data-movement operators and int32 shape arithmetic. Versions the
    reference registration lacks (int8 TILE is 3, STRIDED_SLICE with an
    ellipsis 6) are written as the versions it takes: the seeds must run in
    both runtimes."""
    from int8sqz.testing.writer import GraphBuilder

    zoo = {}
    # SHAPE -> STRIDED_SLICE -> PACK -> RESHAPE (FD-MobileNet, SSD), then
    # TRANSPOSE, SQUEEZE, EXPAND_DIMS, and a RESHAPE by its new_shape option
    g = GraphBuilder()
    q = dict(scale=0.05, zero_point=-7)
    x = g.input("x", (1, 2, 3, 4), "INT8", **q)
    s = g.tensor("shape", (4,), "INT32")
    g.operator("SHAPE", [x], s, out_type=2)
    b = g.tensor("batch", (), "INT32")
    g.operator("STRIDED_SLICE", [s, g.constant("b", np.array([0], np.int32)),
                                 g.constant("e", np.array([1], np.int32)),
                                 g.constant("st", np.array([1], np.int32))], b, shrink_axis_mask=1)
    p = g.tensor("target", (3,), "INT32")
    g.operator("PACK", [b, g.constant("d1", np.array(12, np.int32)),
                        g.constant("d2", np.array(2, np.int32))], p, values_count=3, axis=0)
    y = g.tensor("reshaped", (1, 12, 2), "INT8", **q)
    g.operator("RESHAPE", [x, p], y)
    t = g.tensor("transposed", (1, 2, 12), "INT8", **q)
    g.operator("TRANSPOSE", [y, g.constant("perm", np.array([0, -1, 1], np.int32))], t)
    sq = g.tensor("squeezed", (2, 12), "INT8", **q)
    g.operator("SQUEEZE", [t], sq, squeeze_dims=[0])
    e = g.tensor("expanded", (2, 1, 12), "INT8", **q)
    g.operator("EXPAND_DIMS", [sq, g.constant("axis", np.array([-2], np.int32))], e)
    o = g.tensor("flat", (24,), "INT8", **q)
    g.operator("RESHAPE", [e], o, new_shape=[-1])
    g.output(o)
    zoo["shape_arithmetic"] = g.build()

    # STRIDED_SLICE uint8 with negative strides and masks, PACK, TILE (int64 multiples)
    g = GraphBuilder()
    q = dict(scale=0.1, zero_point=128)
    x = g.input("x", (2, 5, 3), "UINT8", **q)
    s = g.tensor("slice", (2, 3, 3), "UINT8", **q)
    g.operator("STRIDED_SLICE", [x, g.constant("b", np.array([0, -1, 0], np.int32)),
                                 g.constant("e", np.array([2, 0, 3], np.int32)),
                                 g.constant("st", np.array([1, -2, 1], np.int32))], s,
               begin_mask=1, end_mask=2)
    k = g.tensor("packed", (2, 2, 3, 3), "UINT8", **q)
    g.operator("PACK", [s, s], k, values_count=2, axis=1)
    y = g.tensor("tiled", (2, 4, 3, 6), "UINT8", **q)
    g.operator("TILE", [k, g.constant("m", np.array([1, 2, 1, 2], np.int64))], y)
    g.output(y)
    zoo["slice_pack_tile_uint8"] = g.build()

    # STRIDED_SLICE int8 with an ellipsis and a new axis, int8 TILE (written as version 1)
    g = GraphBuilder()
    q = dict(scale=0.02, zero_point=3)
    x = g.input("x", (2, 3, 4), "INT8", **q)
    s = g.tensor("slice", (2, 3, 1, 2), "INT8", **q)
    g.operator("STRIDED_SLICE", [x, g.constant("b", np.array([0, 0, 1], np.int32)),
                                 g.constant("e", np.array([0, 1, 4], np.int32)),
                                 g.constant("st", np.array([1, 1, 2], np.int32))], s,
               ellipsis_mask=1, new_axis_mask=2, version=2)
    y = g.tensor("tiled", (2, 6, 1, 2), "INT8", **q)
    g.operator("TILE", [s, g.constant("m", np.array([1, 2, 1, 1], np.int32))], y, version=1)
    g.output(y)
    zoo["slice_masks_int8"] = g.build()

    # PAD int8 (the output's zero point), PADV2 with a constant, float32 PAD by int64 paddings
    g = GraphBuilder()
    q = dict(scale=0.03, zero_point=-20)
    x = g.input("x", (1, 4, 5, 3), "INT8", **q)
    p1 = g.tensor("padded", (1, 6, 7, 3), "INT8", **q)
    g.operator("PAD", [x, g.constant("p", np.array([[0, 0], [1, 1], [2, 0], [0, 0]],
                                                    np.int32))], p1)
    p2 = g.tensor("padded2", (1, 7, 7, 5), "INT8", **q)
    g.operator("PADV2", [p1, g.constant("p2", np.array([[0, 0], [0, 1], [0, 0], [1, 1]],
                                                       np.int32)),
                         g.constant("v", np.array([-100], np.int8), **q)], p2)
    g.output(p2)
    zoo["pad_int8"] = g.build()

    g = GraphBuilder()
    x = g.input("x", (2, 3), "FLOAT32")
    y = g.tensor("y", (3, 6), "FLOAT32")
    g.operator("PAD", [x, g.constant("p", np.array([[0, 1], [2, 1]], np.int64))], y)
    g.output(y)
    zoo["pad_float"] = g.build()
    return zoo


@lru_cache(maxsize=None)
def seeds() -> dict:
    """name -> model bytes: the small zoo, then the real SqueezeNet models."""
    out = dict(_zoo())
    for name, path in REAL_SEEDS.items():
        if not path.is_file():
            raise FileNotFoundError(f"seed model missing: {path}")
        out[name] = path.read_bytes()
    return out


def seed_names(real: bool = True) -> list:
    names = list(seeds())
    return names if real else [n for n in names if n not in REAL_SEEDS]


# ---------------------------------------------------------------------------------------
# where the flatbuffer's fields are
# ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Site:
    """A field of the flatbuffer: its byte position, ``struct`` format and path."""

    pos: int
    fmt: str
    label: str


_FORMATS = {
    "Bool": "<B", "Int8": "<b", "Uint8": "<B", "Int16": "<h", "Uint16": "<H",
    "Int32": "<i", "Uint32": "<I", "Int64": "<q", "Uint64": "<Q", "Float32": "<f",
    "Float64": "<d",
}
_UNIONS = {"BuiltinOptions": "BuiltinOptions", "BuiltinOptions2": "BuiltinOptions2",
           "Details": "QuantizationDetails", "ArraySegments": "SparseIndexVector",
           "ArrayIndices": "SparseIndexVector"}
_SKIP_SUFFIXES = ("Length", "AsNumpy", "IsNone", "BufferHasIdentifier")


@lru_cache(maxsize=None)
def _accessors(cls) -> tuple:
    """(name, slot, kind, detail) of every field accessor of a ``tflite`` table
    class, read from the generated code: kind is scalar, vector (of scalars),
    tables (vector of tables), table, string or union."""
    out = []
    for name, fn in sorted(vars(cls).items()):
        if (not callable(fn) or not name[:1].isupper() or name == "Init"
                or name.startswith("GetRoot") or name.endswith(_SKIP_SUFFIXES)):
            continue
        src = inspect.getsource(fn)
        slot = re.search(r"_tab\.Offset\((\d+)\)", src)
        if slot is None:
            continue
        slot = int(slot.group(1))
        flags = re.search(r"Get\(flatbuffers\.number_types\.(\w+)Flags", src)
        sub = re.search(r"obj = (\w+)\(\)", src)
        if "Union(" in src:
            out.append((name, slot, "union", _UNIONS.get(name)))
        elif "Vector(o)" in src and "Indirect(x)" in src and sub:
            out.append((name, slot, "tables", sub.group(1)))
        elif "Vector(o)" in src and flags:
            out.append((name, slot, "vector", _FORMATS[flags.group(1)]))
        elif "Indirect(" in src and sub:
            out.append((name, slot, "table", sub.group(1)))
        elif "String(" in src:
            out.append((name, slot, "string", None))
        elif flags:
            out.append((name, slot, "scalar", _FORMATS[flags.group(1)]))
    return tuple(out)


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def walk(content: bytes, max_elements: int = 24, unique: bool = True):
    """The fields of a valid model: (sites, data_ranges).

    ``sites`` lists every scalar field present in a table, every vector's
    length word and its first and last elements (up to ``max_elements``),
    every offset to a table, vector or string, every table's vtable offset
    and every vtable entry (with ``unique``, once each: tables share vtables,
    and the label is the first table's). ``data_ranges`` lists the byte ranges of the
    buffers' data (the weights), which are not sites."""
    import tflite

    n = len(content)
    sites = [Site(0, "<I", "root")]
    data = []
    seen = set()

    def u32(pos):
        return struct.unpack_from("<I", content, pos)[0]

    def table(cls_name, pos, label):
        if pos in seen or not 0 <= pos <= n - 4:
            return
        seen.add(pos)
        cls = getattr(tflite, cls_name)
        obj = cls()
        obj.Init(content, pos)
        tab = obj._tab
        sites.append(Site(pos, "<i", f"{label}.<vtable offset>"))
        vt = pos - struct.unpack_from("<i", content, pos)[0]
        vt_len = struct.unpack_from("<H", content, vt)[0]
        sites.append(Site(vt, "<H", f"{label}.<vtable size>"))
        sites.append(Site(vt + 2, "<H", f"{label}.<table size>"))
        fields = {slot: name for name, slot, _, _ in _accessors(cls)}
        for k in range(4, vt_len, 2):
            sites.append(Site(vt + k, "<H", f"{label}.<vtable {_snake(fields.get(k, '?'))}>"))
        for name, slot, kind, detail in _accessors(cls):
            o = tab.Offset(slot)
            if not o:
                continue
            where = f"{label}.{_snake(name)}"
            fpos = pos + o
            if kind == "scalar":
                sites.append(Site(fpos, detail, where))
                continue
            sites.append(Site(fpos, "<I", f"{where}.<offset>"))
            target = fpos + u32(fpos)
            if kind == "table":
                table(detail, target, where)
            elif kind == "union":
                if detail is None:
                    continue
                code = getattr(obj, name + "Type")()
                enum = getattr(tflite, detail)
                names = {v: k for k, v in vars(enum).items() if not k.startswith("_")}
                cls_name = names.get(code)
                if cls_name and hasattr(tflite, cls_name):
                    table(cls_name, target, where)
            elif kind == "string":
                sites.append(Site(target, "<I", f"{where}.<length>"))
            else:  # vectors
                length = u32(target)
                start = target + 4
                sites.append(Site(target, "<I", f"{where}.<length>"))
                if kind == "vector" and cls.__name__ == "Buffer" and name == "Data":
                    data.append((start, start + length))
                    continue
                picks = range(length) if length <= max_elements or kind == "tables" else \
                    list(range(max_elements // 2)) + list(range(length - max_elements // 2,
                                                               length))
                for j in picks:
                    if kind == "vector":
                        size = struct.calcsize(detail)
                        sites.append(Site(start + j * size, detail, f"{where}[{j}]"))
                    else:
                        epos = start + 4 * j
                        sites.append(Site(epos, "<I", f"{where}[{j}].<offset>"))
                        table(detail, epos + u32(epos), f"{where}[{j}]")

    table("Model", u32(0), "model")
    sites = [s for s in sites if 0 <= s.pos <= n - struct.calcsize(s.fmt)]
    if unique:  # vtables are shared between tables: one site each
        sites = list({(s.pos, s.fmt): s for s in reversed(sites)}.values())[::-1]
    return sites, sorted(data)


def schema_source() -> str:
    """The source of ``int8sqz/_tflite_schema.py``: every table reachable
    from ``Model`` in the installed ``tflite`` package, with the vtable slot,
    kind and type of each field, and every union's members."""
    import tflite

    tables, unions = {}, {}
    todo = ["Model"]
    while todo:
        name = todo.pop()
        if name in tables:
            continue
        accessors = _accessors(getattr(tflite, name))
        slots = {field: slot for field, slot, _, _ in accessors}
        fields = []
        for field, slot, kind, detail in sorted(accessors, key=lambda a: a[1]):
            if kind == "union":
                enum = getattr(tflite, detail)
                members = {v: k for k, v in vars(enum).items()
                           if not k.startswith("_") and isinstance(v, int) and k != "NONE"}
                unions[detail] = dict(sorted(members.items()))
                todo.extend(m for m in members.values() if hasattr(tflite, m))
                detail = (detail, slots[field + "Type"])
            elif kind in ("table", "tables"):
                todo.append(detail)
            fields.append((_snake(field), slot, kind, detail))
        tables[name] = tuple(fields)
    lines = [
        '"""The tables of the TFLite flatbuffer schema, for the verifier in',
        "int8sqz.verifier: each field's name, vtable slot, kind and type.",
        "",
        "Generated from the ``tflite`` package by ``python tests/fuzzing.py schema``;",
        "tests/operators/test_validation.py checks that it matches the installed package.",
        '"""',
        "",
        "# kind: scalar / vector (of scalars): detail is the struct format;",
        "# string; table / tables (a vector of tables): detail is the table;",
        "# union: detail is (union, slot of its type field)",
        "TABLES = {",
    ]
    for name in sorted(tables):
        lines.append(f"    {name!r}: (")
        for field in tables[name]:
            lines.append(f"        {field!r},")
        lines.append("    ),")
    lines.append("}")
    lines.append("")
    lines.append("# union -> {type code: table}")
    lines.append("UNIONS = {")
    for name in sorted(unions):
        lines.append(f"    {name!r}: {{")
        for code, member in unions[name].items():
            lines.append(f"        {code}: {member!r},")
        lines.append("    },")
    lines.append("}")
    return "\n".join(lines) + "\n"


@lru_cache(maxsize=None)
def seed_sites(name: str):
    return walk(seeds()[name])


@lru_cache(maxsize=None)
def structure_positions(name: str) -> np.ndarray:
    """Byte positions of a seed model outside its weight data."""
    content = seeds()[name]
    mask = np.ones(len(content), bool)
    for a, b in seed_sites(name)[1]:
        mask[a:b] = False
    return np.flatnonzero(mask)


# hostile values per field type
_INT_HOSTILE = (0, 1, -1, 2, 3, 4, 7, 8, 16, 127, 128, 255, 256, 1000, 32767, 65535, 65536,
                1 << 20, (1 << 30) - 1, 1 << 30, (1 << 31) - 1, -(1 << 31), 1 << 31,
                (1 << 32) - 1, -(1 << 15), -2, -128, -129, 1 << 62, -(1 << 63))
_FLOAT_HOSTILE = (0.0, -0.0, 1.0, -1.0, 0.5, 1.0 / 256, math.nan, math.inf, -math.inf,
                  1e-45, 1e-40, 1e-38, 1e-20, 1e20, 3.4028235e38, -3.4028235e38, 2.0 ** -31,
                  2.0 ** 31, 6.0, 1e-7)


def hostile_values(fmt: str, current, content_size: int) -> list:
    if fmt in ("<f", "<d"):
        vals = list(_FLOAT_HOSTILE)
        if math.isfinite(current):
            vals += [current * 2, current / 2, -current, current * 1e6, current * 1e-6,
                     float(np.nextafter(np.float32(current), np.float32(np.inf)))]
        return vals
    vals = list(_INT_HOSTILE) + [current + 1, current - 1, current * 2, current * 1000,
                                 -current, content_size, content_size - 1, content_size + 8]
    bits = 8 * struct.calcsize(fmt)
    out = []
    for v in vals:
        v &= (1 << bits) - 1  # wrap into the field's width
        if fmt[-1].islower() and v >= 1 << (bits - 1):
            v -= 1 << bits
        out.append(v)
    return out


def patch(content: bytearray, site: Site, value) -> None:
    struct.pack_into(site.fmt, content, site.pos, value)


# ---------------------------------------------------------------------------------------
# cases
# ---------------------------------------------------------------------------------------

@dataclass
class Case:
    kind: str  # the fuzz test it comes from
    content: bytes
    what: str  # how it was made, for failure reports
    input_seed: int = 0
    cli: bool = False  # also run `int8sqz run` on it
    file_kind: str | None = None  # and hand the model over so (MODEL_FILE_KINDS)

    def describe(self) -> str:
        digest = hashlib.sha1(self.content).hexdigest()[:12]
        how = f", model as {self.file_kind}" if self.cli and self.file_kind else ""
        return f"[{self.kind}] {self.what} ({len(self.content)} bytes, sha1 {digest}{how})"

    __repr__ = describe

    def _repr_pretty_(self, printer, cycle):
        printer.text(self.describe())

    def save(self, directory) -> Path:
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        stem = d / f"fuzz_{self.kind}_{hashlib.sha1(self.content).hexdigest()[:12]}"
        stem.with_suffix(".tflite").write_bytes(self.content)
        stem.with_suffix(".txt").write_text(self.describe() + f"\ninput seed {self.input_seed}\n")
        return stem


def make_inputs(specs, seed: int) -> list:
    """Seeded random inputs for ``specs`` [(shape, dtype string)], identical
    in both runtimes."""
    rng = np.random.default_rng(seed)
    out = []
    for shape, dtype in specs:
        dt = np.dtype(dtype)
        shape = tuple(int(d) for d in shape)
        if dt.kind in "iu":
            info = np.iinfo(dt)
            lo, hi = (info.min, info.max) if dt.itemsize == 1 else \
                (max(info.min, -(1 << 15)), min(info.max, 1 << 15))
            out.append(rng.integers(lo, hi, shape, dtype=dt, endpoint=True))
        elif dt.kind == "f":
            out.append(rng.uniform(-4.0, 4.0, shape).astype(dt))
        elif dt.kind == "b":
            out.append(rng.integers(0, 2, shape).astype(dt))
        else:
            out.append(np.zeros(shape, dt))
    return out


def _summary(a: np.ndarray) -> tuple:
    a = np.ascontiguousarray(a)
    digest = hashlib.sha1(a.tobytes()).hexdigest()
    return (tuple(a.shape), a.dtype.str, digest, a if a.nbytes <= _SMALL_OUTPUT else None)


# ---------------------------------------------------------------------------------------
# the workers (run in subprocesses)
# ---------------------------------------------------------------------------------------

_CLI_IMAGE = None


def _cli_image(workdir: Path) -> Path:
    global _CLI_IMAGE
    if _CLI_IMAGE is None:
        from PIL import Image

        _CLI_IMAGE = workdir / "cli_image.png"  # not a name the image cases write
        px = np.random.default_rng(5).integers(0, 256, (12, 10, 3), dtype=np.uint8)
        Image.fromarray(px).save(_CLI_IMAGE)
    return _CLI_IMAGE


def _run_cli(content: bytes, workdir: Path, limit: int, file_kind: str | None = None) -> dict:
    import contextlib

    from int8sqz import cli

    path = workdir / "model.tflite"
    path.write_bytes(content)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(["run", "--max-activation-bytes", str(limit), str(path),
                         str(_cli_image(workdir))])
    result = {"code": code, "stderr": err.getvalue(), "stdout": out.getvalue()}
    # the memory planner reads any model the loader accepts
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        planner = ("tflm", "optimized", "streaming")[len(content) % 3]
        code = cli.main(["memplan", "--planner", planner, str(path)])
    result["memplan"] = {"code": code, "stderr": err.getvalue(), "stdout": out.getvalue(),
                         "planner": planner}
    if file_kind is not None:
        result["files"] = _run_cli_files(content, workdir, limit, file_kind)
    return result


# -- file kinds: what the file system hands over -------------------------------------------

#: how a fuzz case's model reaches the command: a regular file, a file whose
#: name is not UTF-8 (and holds a line end and an escape), standard input
MODEL_FILE_KINDS = ("regular", "odd_name", "stdin")
#: how an image case's image reaches it: the same, and /dev/stdin (a pipe)
IMAGE_FILE_KINDS = ("regular", "odd_name", "stdin", "dev_stdin")
#: bytes put in the odd names
ODD_NAME = b"\xff\n\x1b"
#: limit of --max-input-bytes in the file-kind runs (an endless stream stops there)
FILE_KIND_INPUT_BYTES = 1 << 20


def _companions(workdir: Path, endless: bool) -> list:
    """(argument, what the command must say) of the inputs that are not
    regular files, given beside each case's own: a FIFO nobody writes, a
    directory, a character device, and (when standard input is free) an
    endless stream on standard input."""
    fifo, folder = workdir / "fifo.jpg", workdir / "folder.jpg"
    if not fifo.exists():
        os.mkfifo(fifo)
    folder.mkdir(exist_ok=True)
    out = [(str(fifo), "is a FIFO (named pipe)"), (str(folder), "is a directory"),
           ("/dev/zero", "is a character device")]
    if endless:
        out.append(("-", f"a stream of more than {FILE_KIND_INPUT_BYTES} bytes"))
    return out


def _deliver(content: bytes, workdir: Path, kind: str, stem: str, suffix: str):
    """(argument, bytes for standard input or None) that hand ``content`` to
    the command as ``kind`` says."""
    if kind == "odd_name":
        name = os.path.join(os.fsencode(workdir), stem.encode() + ODD_NAME + suffix.encode())
        with open(name, "wb") as f:
            f.write(content)
        return os.fsdecode(name), None
    if kind in ("stdin", "dev_stdin"):
        return ("-" if kind == "stdin" else "/dev/stdin"), content
    path = workdir / f"{stem}{suffix}"
    path.write_bytes(content)
    return str(path), None


def _cli_call(argv: list, stdin: bytes | None = None, endless: bool = False) -> dict:
    """``int8sqz ARGV`` in this process: standard output strict UTF-8 (the
    bytes are checked), standard input a pipe fed ``stdin`` (then zeros
    without end when ``endless``) while it runs."""
    import contextlib
    import threading

    from int8sqz import cli

    raw = io.BytesIO()
    out = io.TextIOWrapper(raw, encoding="utf-8", errors="strict", newline="\n")
    err = io.StringIO()
    saved = feeder = None
    if stdin is not None or endless:
        r, w = os.pipe()
        saved = os.dup(0)
        os.dup2(r, 0)
        os.close(r)

        def feed():
            try:
                view = memoryview(stdin or b"")
                while view:
                    view = view[os.write(w, view):]
                while endless:
                    os.write(w, bytes(1 << 16))
            except OSError:
                pass  # the command stopped reading; fd 0 is restored below
            finally:
                os.close(w)

        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = cli.main(argv)
            except BaseException as exc:  # noqa: BLE001 - main() must never raise
                code = None
                err.write(f"{type(exc).__name__}: {exc}")
    finally:
        if saved is not None:
            os.dup2(saved, 0)  # closes the pipe's read end: the feeder stops
            os.close(saved)
            feeder.join(10)
    out.flush()
    data = raw.getvalue()
    try:
        text, utf8 = data.decode("utf-8"), True
    except UnicodeDecodeError:
        text, utf8 = data.decode("utf-8", "replace"), False
    return {"code": code, "stdout": text, "stdout_utf8": utf8, "stderr": err.getvalue()}


def _run_cli_files(content: bytes, workdir: Path, limit: int, kind: str) -> dict:
    """``int8sqz run`` with the model handed over as ``kind`` says, the CLI
    image, the companions and the image under an odd name; then ``memplan``
    the same way."""
    from int8sqz.files import display

    model, stdin = _deliver(content, workdir, kind, "model_kind", ".tflite")
    image = str(_cli_image(workdir))
    odd, _ = _deliver(_cli_image(workdir).read_bytes(), workdir, "odd_name", "image", ".png")
    companions = _companions(workdir, endless=False)
    json_out = kind == "odd_name"
    argv = (["run", "--max-activation-bytes", str(limit)] + (["--json"] if json_out else [])
            + [model, image] + [c for c, _ in companions] + [odd])
    result = _cli_call(argv, stdin)
    result.update(kind=kind, json=json_out, model=display(model),
                  images=[display(image), display(odd)],
                  companions=[(display(c), what) for c, what in companions])
    if kind != "regular":  # (the plain run planned the regular file)
        result["memplan"] = _cli_call(["memplan", model], stdin)
    return result


#: pixel limit of the image cases (the default, 50 M, would only make them slower)
IMAGE_MAX_PIXELS = 4_000_000


def _run_image(req: dict, workdir: Path) -> dict:
    """Decode an image as ``int8sqz run`` does, and run the command on it
    with the zoo's 8x8 classifier."""
    import traceback

    from int8sqz.errors import ImageError, Int8sqzError
    from int8sqz.image import load_image

    path = workdir / f"image{req['suffix']}"
    path.write_bytes(req["image"])
    result = {"path": str(path)}
    try:
        pixels = [load_image(path, 8, 8, channels, max_pixels=IMAGE_MAX_PIXELS)
                  for channels in (3, 1)]
        result.update(status="ok", outputs=[_summary(p) for p in pixels])
    except ImageError as exc:
        result.update(status="refused", error="ImageError", message=str(exc))
    except Int8sqzError as exc:
        result.update(status="bug", error=type(exc).__name__, message=str(exc),
                      traceback=traceback.format_exc())
    except Exception as exc:  # noqa: BLE001
        result.update(status="bug", error=type(exc).__name__, message=str(exc),
                      traceback=traceback.format_exc())
    if req.get("cli"):
        model = workdir / "classifier.tflite"
        if not model.exists():
            model.write_bytes(seeds()["classifier"])
        result["cli"] = _cli_call(["run", "--max-pixels", str(IMAGE_MAX_PIXELS), str(model),
                                   str(path)])
        if req.get("file_kind"):
            result["cli"]["files"] = _run_image_files(req, workdir, model)
    return result


def _run_image_files(req: dict, workdir: Path, model: Path) -> dict:
    """``int8sqz run`` with the image handed over as the case's file kind
    says, among the companions (an endless standard input when the image
    does not come through it)."""
    from int8sqz.files import display

    kind = req["file_kind"]
    image, stdin = _deliver(req["image"], workdir, kind, "image_kind", req["suffix"])
    companions = _companions(workdir, endless=stdin is None)
    json_out = kind == "odd_name"
    argv = (["run", "--max-pixels", str(IMAGE_MAX_PIXELS), "--max-input-bytes",
             str(FILE_KIND_INPUT_BYTES)] + (["--json"] if json_out else [])
            + [str(model), image] + [c for c, _ in companions])
    result = _cli_call(argv, stdin, endless=stdin is None)
    result.update(kind=kind, json=json_out, images=[display(image)],
                  companions=[(display(c), what) for c, what in companions])
    return result


_POISONED = False


def _run_selftest(req: dict) -> dict:
    """Requests that test the harness itself: die, hang, or corrupt the
    worker for a later request."""
    global _POISONED
    what = req["selftest"]
    if what == "abort" or (what == "abort_if_poisoned" and _POISONED):
        os.abort()
    if what == "hang":
        time.sleep(3600)
    if what == "poison":
        _POISONED = True
    return {"status": "refused", "error": "selftest", "message": "selftest"}


def _run_int8sqz(req: dict, workdir: Path) -> dict:
    import traceback

    if "selftest" in req:
        return _run_selftest(req)
    if "image" in req:
        return _run_image(req, workdir)

    from int8sqz import Interpreter
    from int8sqz.errors import Int8sqzError, InternalError

    result = {}
    try:
        it = Interpreter(model_content=req["content"], max_activation_bytes=req["limit"])
        it.allocate_tensors()
        details = it.get_input_details()
        specs = [(tuple(int(d) for d in det["shape"]), np.dtype(det["dtype"]).str)
                 for det in details]
        for det, value in zip(details, make_inputs(specs, req["seed"])):
            it.set_tensor(det["index"], value)
        it.invoke()
        outputs = [it.get_tensor(det["index"]) for det in it.get_output_details()]
        result.update(status="ok", inputs=specs, outputs=[_summary(o) for o in outputs])
    except Int8sqzError as exc:
        bug = isinstance(exc, InternalError)
        result.update(status="bug" if bug else "refused", error=type(exc).__name__,
                      message=str(exc), traceback=traceback.format_exc() if bug else "")
    except Exception as exc:  # noqa: BLE001 - what the fuzzer is looking for
        result.update(status="bug", error=type(exc).__name__, message=str(exc),
                      traceback=traceback.format_exc())
    if req.get("cli"):
        try:
            result["cli"] = _run_cli(req["content"], workdir, req["limit"],
                                     req.get("file_kind"))
        except BaseException as exc:  # noqa: BLE001 - main() must never raise
            result["cli"] = {"code": None, "stderr": f"{type(exc).__name__}: {exc}",
                             "stdout": ""}
    return result


def _run_reference(req: dict, workdir: Path) -> dict:
    from int8sqz.testing.reference import reference_interpreter

    try:
        it = reference_interpreter(req["content"], preserve_all_tensors=False)
        details = it.get_input_details()
        specs = req["inputs"]
        if specs is None:
            specs = [(tuple(int(d) for d in det["shape"]), np.dtype(det["dtype"]).str)
                     for det in details]
        if len(details) != len(specs):
            return {"status": "refused", "error": "inputs",
                    "message": f"{len(details)} inputs, int8sqz has {len(specs)}"}
        for det, value in zip(details, make_inputs(specs, req["seed"])):
            it.set_tensor(det["index"], value)
        it.invoke()
        outputs = [_reference_output(it, det) for det in it.get_output_details()]
        return {"status": "ok", "outputs": [_summary(o) for o in outputs]}
    except Exception as exc:  # noqa: BLE001 - the reference refusing the model
        return {"status": "refused", "error": type(exc).__name__, "message": str(exc)}


def _reference_output(it, det):
    """An output of the reference; one of zero elements whose buffer TFLite
    never allocated (its wrapper says "Invalid tensor size") is empty."""
    try:
        return it.get_tensor(det["index"])
    except ValueError:
        shape = tuple(int(d) for d in det["shape"])
        if math.prod(shape) == 0:
            return np.zeros(shape, det["dtype"])
        raise


def _read_exact(stream, n: int) -> bytes:
    chunks = []
    while n:
        chunk = stream.read(n)
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _warm_kernels() -> None:
    """Compile (or load) the kernels of every small seed model before the
    first case: the command says on stderr when it compiles for more than a
    second, which a case checking the command's stderr must not see (and
    with an empty cache in a loaded CI machine, it would)."""
    from int8sqz import Interpreter

    for name in seed_names(real=False):
        try:
            it = Interpreter(model_content=seeds()[name])
            it.allocate_tensors()
            for d in it.get_input_details():
                it.set_tensor(d["index"], np.zeros(d["shape"], d["dtype"]))
            it.invoke()
        except Exception:  # noqa: BLE001 - a seed int8sqz refuses: nothing to compile
            pass


def worker_main(kind: str) -> None:
    """The loop of a worker subprocess: length-prefixed pickles in on stdin,
    out on the file descriptor that was stdout (fd 1 then points to stderr,
    so that nothing else can write into the replies)."""
    reply_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    replies = os.fdopen(reply_fd, "wb", buffering=0)
    requests = sys.stdin.buffer
    run = _run_int8sqz if kind == "int8sqz" else _run_reference
    workdir = Path(tempfile.mkdtemp(prefix=f"int8sqz-fuzz-{kind}-"))
    if kind == "int8sqz":
        _warm_kernels()
    try:
        while True:
            try:
                size = struct.unpack("<Q", _read_exact(requests, 8))[0]
            except EOFError:
                return
            req = pickle.loads(_read_exact(requests, size))
            t0 = time.perf_counter()
            result = run(req, workdir)
            result["seconds"] = time.perf_counter() - t0
            data = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
            replies.write(struct.pack("<Q", len(data)) + data)
    finally:
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)


# ---------------------------------------------------------------------------------------
# the client side: persistent workers with time limits
# ---------------------------------------------------------------------------------------

def _limit_memory():  # runs in the child before exec
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (WORKER_ADDRESS_SPACE, WORKER_ADDRESS_SPACE))


class WorkerDied(Exception):
    """The worker was killed by a signal, exited, or exceeded the time limit."""

    def __init__(self, how: str, stderr: str):
        super().__init__(how)
        self.how = how
        self.stderr = stderr


class Worker:
    """One persistent worker subprocess (``int8sqz`` or ``reference``)."""

    def __init__(self, kind: str):
        self.kind = kind
        self.proc = None
        self.history = []  # requests run since the process started
        self.starts = 0

    def _start(self):
        self.errfile = tempfile.TemporaryFile()
        env = dict(os.environ, PYTHONFAULTHANDLER="1", TF_CPP_MIN_LOG_LEVEL="3")
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "worker", self.kind],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.errfile,
            env=env, preexec_fn=_limit_memory, cwd=str(ROOT),
        )
        self.history = []
        self.starts += 1
        self.fresh = True

    def _stderr_tail(self) -> str:
        try:
            self.errfile.seek(0)
            text = self.errfile.read().decode("utf-8", "replace")
        except (OSError, ValueError):
            return ""
        return "\n".join(text.strip().splitlines()[-25:])

    def stop(self):
        if self.proc is not None:
            p = self.proc
            self.proc = None
            try:
                p.stdin.close()
            except OSError:
                pass
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            self.errfile.close()

    def _kill(self) -> str:
        p = self.proc
        if p.poll() is None:
            p.kill()
        p.wait()
        tail = self._stderr_tail()
        self.proc = None
        self.errfile.close()
        return tail

    def run(self, req: dict, timeout: float | None = None) -> dict:
        """The worker's reply to ``req``; :class:`WorkerDied` when it dies or
        takes longer than ``timeout`` seconds (the worker is then gone)."""
        if self.proc is None:
            self._start()
        limit = timeout or (START_SECONDS if self.fresh else CASE_SECONDS)
        data = pickle.dumps(req, protocol=pickle.HIGHEST_PROTOCOL)
        self.history.append(req)
        try:
            self.proc.stdin.write(struct.pack("<Q", len(data)) + data)
            self.proc.stdin.flush()
            head = self._read(8, limit)
            reply = pickle.loads(self._read(struct.unpack("<Q", head)[0], limit))
        except (BrokenPipeError, EOFError, ConnectionResetError):
            code = self.proc.poll() if self.proc.poll() is not None else self.proc.wait()
            how = f"killed by signal {-code}" if code < 0 else f"exited with status {code}"
            raise WorkerDied(how, self._kill()) from None
        except TimeoutError:
            raise WorkerDied(f"no answer within {limit:.0f} s (hang)", self._kill()) from None
        self.fresh = False
        return reply

    def _read(self, n: int, limit: float) -> bytes:
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + limit
        chunks = []
        while n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                raise TimeoutError
            chunk = os.read(fd, n)
            if not chunk:
                raise EOFError
            chunks.append(chunk)
            n -= len(chunk)
        return b"".join(chunks)


_WORKERS: dict = {}


def worker(kind: str) -> Worker:
    if kind not in _WORKERS:
        import atexit

        _WORKERS[kind] = Worker(kind)
        atexit.register(_WORKERS[kind].stop)
    return _WORKERS[kind]


def _replay(kind: str, requests: list) -> str | None:
    """Run ``requests`` in a fresh worker; how it died, or None."""
    w = Worker(kind)
    try:
        for req in requests:
            w.run(req)
    except WorkerDied as exc:
        return exc.how
    finally:
        w.stop()
    return None


def _isolate(kind: str, history: list, died: WorkerDied) -> str:
    """Name the case that killed the worker: the last one alone, else the
    earliest one whose run before it reproduces the death (bisection)."""
    last = history[-1]
    alone = _replay(kind, [last])
    if alone is not None:
        return f"the worker died on this case alone: {alone}"
    before = history[:-1]
    if _replay(kind, before + [last]) is None:
        return (f"the worker died ({died.how}) but neither the case alone nor the "
                f"{len(before)} cases before it reproduce that (flaky)")
    lo, hi = 0, len(before)  # invariant: before[lo:] + [last] dies, before[hi:] + [last] not
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _replay(kind, before[mid:] + [last]) is not None:
            lo = mid
        else:
            hi = mid
    culprit = before[lo]
    return (f"the worker died ({died.how}) on this case only after running another "
            f"(which corrupted it): sha1 {hashlib.sha1(culprit['content']).hexdigest()[:12]}, "
            f"{culprit.get('what', '')}")


def outcome(content: bytes, *, seed: int = 0, cli: bool = False, reference: bool = False,
            limit: int = WORKER_ACTIVATION_LIMIT) -> dict:
    """What int8sqz does with ``content``, run in the worker: the reply
    (status ok / refused / bug, error, message, outputs, cli), or status
    "crash" with how the worker died. With ``reference``, the reply also holds
    the reference's ("reference": status ok / refused / crashed)."""
    req = {"content": content, "seed": seed, "cli": cli, "limit": limit, "what": "outcome"}
    try:
        result = worker("int8sqz").run(req)
    except WorkerDied as died:
        return {"status": "crash", "error": "crash", "message": died.how}
    if reference:
        specs = result.get("inputs")  # None: the reference uses its own input details
        try:
            result["reference"] = worker("reference").run(
                {"content": content, "seed": seed, "inputs": specs})
        except WorkerDied as died:
            result["reference"] = {"status": "crashed", "error": "crash", "message": died.how}
    return result


def find_site(content: bytes, label: str) -> Site:
    """The field of ``content`` whose path is ``label`` (see :func:`walk`)."""
    for s in walk(content, max_elements=1 << 30, unique=False)[0]:
        if s.label == label:
            return s
    raise KeyError(label)


def patched(content: bytes, label: str, value) -> bytes:
    """``content`` with the field ``label`` set to ``value``."""
    b = bytearray(content)
    patch(b, find_site(content, label), value)
    return bytes(b)


# ---------------------------------------------------------------------------------------
# checking one case
# ---------------------------------------------------------------------------------------

#: outcome -> number of cases, over the session
COUNTS: collections.Counter = collections.Counter()
#: kind of fuzz test -> number of cases
KIND_COUNTS: collections.Counter = collections.Counter()
_BUG_LINE = re.compile(r"^int8sqz: error: \S.*$")


class FuzzFailure(AssertionError):
    pass


#: Open bugs in files the fuzzer's owners do not edit (reported to their
#: owners): (name, what, predicate(result, reference result or None, model)). A case
#: that hits one counts as "known: <name>" instead of failing; each has a
#: regression test (a strict xfail while open). Remove the entry when the bug
#: is fixed. (The CONV_2D entries were fixed in b24dfe2.)
KNOWN_ISSUES = []  # memplan's arena mask was fixed in a9041ae


def _known(result: dict, ref: dict | None, content: bytes) -> str | None:
    for name, _, predicate in KNOWN_ISSUES:
        if predicate(result, ref, content):
            COUNTS[f"known: {name}"] += 1
            return name
    return None


_VERSION_REFUSAL = re.compile(r"Didn't find op for builtin opcode '(\w+)' version '(-?\d+)'")


def explain_reference_refusal(result: dict, ref: dict) -> str | None:
    """Why int8sqz's outputs are right where the reference refuses the model
    (None: no known reason, the case fails).

    - An operator version the reference does not register: int8sqz does not
      dispatch on versions. It checks the types, shapes and options each
      feature needs (an int16 CONV_2D, say, is refused by its types), and
      refuses versions below 1 as invalid; the operator is computed as every
      version computes it.
    - A name that is not UTF-8: see below."""
    m = _VERSION_REFUSAL.search(ref.get("message", ""))
    if m and int(m.group(2)) >= 1:
        return f"{m.group(1)} version {m.group(2)} is not registered in the reference"
    if ref.get("error") == "UnicodeDecodeError":
        # TFLite's C++ runtime takes any bytes as a name; its Python wrapper
        # cannot decode a name (of a signature or tensor) that is not UTF-8
        # and fails in its constructor. Names do not enter the computation;
        # int8sqz decodes them with replacement characters.
        return "the reference's Python wrapper cannot decode a name"
    return None


def _fail(case: Case, message: str):
    COUNTS["failed"] += 1
    if os.environ.get("INT8SQZ_FAILURES"):
        case.save(os.environ["INT8SQZ_FAILURES"])
    raise FuzzFailure(f"{case.describe()}: {message}")


def _check_message(case: Case, result: dict):
    msg = result.get("message", "")
    if not msg.strip() or "\n" in msg:
        _fail(case, f"{result['error']} with a message that is not one line: {msg!r}")


def _check_cli(case: Case, cli: dict, command: str = "int8sqz run"):
    code, err = cli["code"], cli["stderr"]
    lines = err.splitlines()
    if code == 0:
        if err:
            _fail(case, f"`{command}` exited 0 but wrote to stderr: {err!r}")
    elif code == 2:
        if len(lines) != 1 or not _BUG_LINE.match(lines[0]):
            _fail(case, f"`{command}` exited 2 with stderr {err!r}, expected one "
                        f"'int8sqz: error:' line")
    else:
        _fail(case, f"`{command}` exited {code!r}, expected 0 or 2; stderr: {err!r}")


def _check_files(case, r: dict, image_refused: bool | None = None):
    """The run with the case's file handed over as its file kind says, among
    inputs that are not regular files (see ``_run_cli_files``): exit 2; a
    model refused in one line, or one line for each companion saying what it
    is; each image named in one error line or printed (under its escaped
    name; in --json with the exact name's bytes when escaped); standard
    output strict UTF-8."""
    COUNTS[f"file kind: {r['kind']}"] += 1
    cmd = f"`int8sqz run` (file kind {r['kind']})"
    if r["code"] != 2:
        _fail(case, f"{cmd} exited {r['code']!r}, expected 2 (some inputs are not regular "
                    f"files); stderr: {r['stderr']!r}")
    if not r["stdout_utf8"]:
        _fail(case, f"{cmd} wrote standard output that is not UTF-8: {r['stdout'][:200]!r}")
    lines = r["stderr"].splitlines()
    if any(not _BUG_LINE.match(line) for line in lines):
        _fail(case, f"{cmd}: stderr lines that are not one error each: {r['stderr']!r}")
    inputs = r["images"] + [c for c, _ in r["companions"]]
    named = {}
    for line in lines:
        hits = [n for n in inputs if line.startswith(f"int8sqz: error: {n}: ")]
        if hits:
            named.setdefault(hits[0], []).append(line)
    if not named:  # the model was refused: that one line, nothing else
        if len(lines) != 1 or r["stdout"] or image_refused is not None:
            _fail(case, f"{cmd}: stderr {r['stderr']!r}, stdout {r['stdout'][:200]!r}, "
                        f"expected one line refusing the model")
        return
    if len(lines) != sum(len(v) for v in named.values()) or \
            any(len(v) != 1 for v in named.values()):
        _fail(case, f"{cmd}: each error line must name one input, once: {r['stderr']!r}")
    for name, what in r["companions"]:
        if name not in named or what not in named[name][0]:
            _fail(case, f"{cmd}: expected '{name}: ... {what}', stderr {r['stderr']!r}")
    if r["json"]:
        records = [json.loads(line) for line in r["stdout"].splitlines()]
        shown = [rec.get("file") for rec in records]
        if any(rec.get("file_hex") is None for rec in records if "\\x" in rec.get("file", "")):
            _fail(case, f"{cmd}: an escaped name without its file_hex: {r['stdout'][:300]!r}")
    else:
        shown = [line for line in r["stdout"].splitlines() if not line.startswith(" ")]
    for name in r["images"]:
        if (name in named) == (name in shown):
            _fail(case, f"{cmd}: {name} must be either printed or named in one error line; "
                        f"stdout {r['stdout'][:300]!r}, stderr {r['stderr']!r}")
        if image_refused is not None and (name in named) != image_refused:
            _fail(case, f"{cmd}: {name} {'refused' if name in named else 'decoded'} by the "
                        f"command, {'refused' if image_refused else 'decoded'} alone")


def _same_outputs(ours: list, theirs: list) -> str | None:
    if len(ours) != len(theirs):
        return f"{len(ours)} outputs, the reference has {len(theirs)}"
    for k, (a, b) in enumerate(zip(ours, theirs)):
        if a[:3] != b[:3]:
            detail = ""
            if a[3] is not None and b[3] is not None and a[3].shape == b[3].shape:
                diff = np.flatnonzero(a[3].reshape(-1) != b[3].reshape(-1))
                detail = (f"; {diff.size} elements differ, first at {diff[:5].tolist()}: "
                          f"{a[3].reshape(-1)[diff[:5]].tolist()} vs reference "
                          f"{b[3].reshape(-1)[diff[:5]].tolist()}")
            return (f"output {k}: {a[1]}{list(a[0])}, reference {b[1]}{list(b[0])}; "
                    f"contents {'equal' if a[2] == b[2] else 'differ'}{detail}")
    return None


def check(case: Case, *, compare: bool = True) -> str:
    """Run ``case``; raise :class:`FuzzFailure` unless it ends well. Returns
    the outcome: refused, equal, stricter (the reference refuses too), ..."""
    req = {"content": case.content, "seed": case.input_seed, "cli": case.cli,
           "limit": WORKER_ACTIVATION_LIMIT, "what": case.what,
           "file_kind": case.file_kind if case.cli else None}
    w = worker("int8sqz")
    KIND_COUNTS[case.kind] += 1
    COUNTS["cases"] += 1
    if case.cli:
        COUNTS["cli"] += 1
    try:
        result = w.run(req)
    except WorkerDied as died:
        history = list(w.history)
        _fail(case, f"{_isolate('int8sqz', history, died)}\n{died.stderr}")
    if result["status"] == "bug":
        if _known(result, None, case.content):
            return "known"
        _fail(case, f"{result['error']}: {result['message']}\n{result['traceback']}")
    if result["status"] == "refused":
        _check_message(case, result)
    if "cli" in result:
        _check_cli(case, result["cli"])
        if "memplan" in result["cli"] and not _known(result["cli"], None, case.content):
            _check_cli(case, result["cli"]["memplan"], "int8sqz memplan")
        if "files" in result["cli"]:
            _check_files(case, result["cli"]["files"])
            if "memplan" in result["cli"]["files"]:
                _check_cli(case, result["cli"]["files"]["memplan"], "int8sqz memplan")
    if result["status"] == "refused":
        COUNTS["refused"] += 1
        return "refused"
    if not compare:
        COUNTS["ran"] += 1
        return "ran"
    ref_req = {"content": case.content, "seed": case.input_seed, "inputs": result["inputs"]}
    try:
        ref = worker("reference").run(ref_req)
    except WorkerDied as died:
        ref = {"status": "crashed", "error": "crash", "message": died.how}
    if ref["status"] != "ok":
        reason = explain_reference_refusal(result, ref)
        if reason is None and _known(result, ref, case.content):
            return "known"
        if reason is None:
            _fail(case, f"int8sqz runs the model, the reference {ref['status']} "
                        f"({ref['error']}: {ref['message']})")
        COUNTS["reference refused, explained"] += 1
        return "explained"
    problem = _same_outputs(result["outputs"], ref["outputs"])
    if problem is not None:
        if _known(result, ref, case.content):
            return "known"
        _fail(case, f"outputs differ from the reference: {problem}")
    COUNTS["equal to reference"] += 1
    return "equal"


# ---------------------------------------------------------------------------------------
# mutations (hypothesis strategies)
# ---------------------------------------------------------------------------------------

def _strategies():
    from hypothesis import assume, strategies as st

    small = seed_names(real=False)
    real = list(REAL_SEEDS)

    def seed_choice(real_share: int):
        """A seed name; a real SqueezeNet ``real_share`` times in 10."""
        return st.integers(0, 9).flatmap(
            lambda k: st.sampled_from(real if k < real_share else small))

    common = dict(input_seed=st.integers(0, 2**16), cli=st.integers(0, 3).map(lambda k: k == 0))

    def cli_kind(draw) -> tuple:
        """(cli, file_kind): a quarter of the cases run the command too; half
        of those run it once more, the model handed over as a regular file,
        under an odd name or through standard input, among inputs that are
        not regular files"""
        cli = draw(common["cli"])
        kind = draw(st.sampled_from((None,) * 3 + MODEL_FILE_KINDS)) if cli else None
        return cli, kind

    @st.composite
    def random_bytes(draw):
        how = draw(st.sampled_from(["raw", "header", "spliced"]))
        body = draw(st.binary(max_size=4096))
        if how == "raw":
            content, what = body, "random bytes"
        elif how == "header":
            # a root offset inside the file and the identifier, then noise
            root = draw(st.integers(0, max(len(body) + 8, 8)))
            content = struct.pack("<I", root) + b"TFL3" + body
            what = f"random bytes after root offset {root} and TFL3"
        else:
            name = draw(seed_choice(2))
            c = seeds()[name]
            cut = draw(st.integers(8, len(c)))
            content = c[:cut] + body
            what = f"{name} cut at {cut}, then {len(body)} random bytes"
        return Case("random_bytes", content, what, draw(common["input_seed"]),
                    *cli_kind(draw))

    @st.composite
    def truncation(draw):
        name = draw(seed_choice(3))
        c = seeds()[name]
        sites = seed_sites(name)[0]
        if draw(st.booleans()):
            cut = draw(st.integers(0, len(c) - 1))
        else:  # inside or just after one of the fields
            site = sites[draw(st.integers(0, len(sites) - 1))]
            cut = min(len(c) - 1, site.pos + draw(st.integers(0, struct.calcsize(site.fmt))))
        return Case("truncation", c[:cut], f"{name} truncated to {cut} bytes",
                    draw(common["input_seed"]), *cli_kind(draw))

    @st.composite
    def field_sites(draw):
        name = draw(seed_choice(2))
        content = bytearray(seeds()[name])
        sites = seed_sites(name)[0]
        done = []
        for _ in range(draw(st.integers(1, 3))):
            site = sites[draw(st.integers(0, len(sites) - 1))]
            current = struct.unpack_from(site.fmt, content, site.pos)[0]
            size = struct.calcsize(site.fmt)
            how = draw(st.sampled_from(["hostile"] * 3 + ["flip", "random", "other"]))
            if how == "hostile":
                value = draw(st.sampled_from(hostile_values(site.fmt, current, len(content))))
            elif how == "flip":
                bit = draw(st.integers(0, 8 * size - 1))
                raw = int.from_bytes(content[site.pos:site.pos + size], "little") ^ (1 << bit)
                value = struct.unpack(site.fmt, raw.to_bytes(size, "little"))[0]
            elif how == "random":
                raw = draw(st.binary(min_size=size, max_size=size))
                value = struct.unpack(site.fmt, raw)[0]
            else:  # the value of another field of the same type
                same = [s for s in sites if s.fmt == site.fmt]
                other = same[draw(st.integers(0, len(same) - 1))]
                value = struct.unpack_from(other.fmt, content, other.pos)[0]
            patch(content, site, value)
            done.append(f"{site.label}: {current!r} -> {value!r}")
        return Case("field_sites", bytes(content), f"{name}: " + "; ".join(done),
                    draw(common["input_seed"]), *cli_kind(draw))

    @st.composite
    def region_flips(draw):
        name = draw(seed_choice(2))
        content = bytearray(seeds()[name])
        anywhere = draw(st.integers(0, 4)) == 0  # weights too, now and then
        positions = structure_positions(name)
        done = []
        for _ in range(draw(st.integers(1, 8))):
            if anywhere:
                pos = draw(st.integers(0, len(content) - 1))
            else:
                pos = int(positions[draw(st.integers(0, len(positions) - 1))])
            if draw(st.booleans()):
                bit = draw(st.integers(0, 7))
                content[pos] ^= 1 << bit
                done.append(f"flip bit {bit} of byte {pos}")
            else:
                value = draw(st.sampled_from([0, 0xFF, 0x7F, 0x80, 1])
                             | st.integers(0, 255))
                content[pos] = value
                done.append(f"byte {pos} = {value:#04x}")
        return Case("region_flips", bytes(content), f"{name}: " + ", ".join(done),
                    draw(common["input_seed"]), *cli_kind(draw))

    @st.composite
    def writer(draw):
        from int8sqz.model import load_model
        from int8sqz.testing.writer import model_def, write_model

        name = draw(seed_choice(1))
        md = model_def(load_model(seeds()[name]))
        done = []
        for _ in range(draw(st.integers(1, 3))):
            done.append(draw(_writer_mutation(md)))
        try:
            content = write_model(md)
        except (ValueError, TypeError, OverflowError, IndexError, KeyError, struct.error) as exc:
            # a value the builder cannot encode (a bool option set to 4, ...)
            assume(False)
            raise AssertionError from exc  # not reached
        return Case("writer", content, f"{name}: " + "; ".join(done),
                    draw(common["input_seed"]), *cli_kind(draw))

    return dict(random_bytes=random_bytes(), truncation=truncation(),
                field_sites=field_sites(), region_flips=region_flips(), writer=writer())


_MOVEMENT_OPS = ["RESHAPE", "SQUEEZE", "EXPAND_DIMS", "SHAPE", "STRIDED_SLICE", "PACK",
                 "TRANSPOSE", "TILE", "PAD", "PADV2"]
_WRITER_TYPES = ("INT8", "UINT8", "INT16", "INT32", "INT64", "FLOAT32", "FLOAT16", "BOOL",
                 "STRING", "UINT32", "COMPLEX64")
_DIM_HOSTILE = (0, 1, 2, 3, 7, 64, 1 << 12, 1 << 16, 1 << 20, (1 << 31) - 1, 1 << 30)
_I32_HOSTILE = (0, 1, -1, 2, 3, -2, 4, 8, 100, 32767, 32768, 65536, 65537, 1 << 16,
                (1 << 31) - 1, -(1 << 31), 1 << 30)
_ZP_HOSTILE = (0, -1, 1, 127, 128, -128, -129, 255, 256, -32768, 1 << 31, -(1 << 31) - 1,
               (1 << 63) - 1, -(1 << 63))


def _writer_mutation(md):
    """A strategy that changes ``md`` (a ModelDef) in place and returns what it did."""
    from hypothesis import strategies as st

    import tflite

    from int8sqz.testing.writer import _NUMPY, _option_adders, _options_class

    @st.composite
    def mutate(draw):
        nt, no = len(md.tensors), len(md.operators)
        kind = draw(st.sampled_from([
            "shape", "shape", "rank", "type", "scales", "zero_points", "qdim", "option",
            "option", "option", "axes", "op_io", "op_io", "graph_io", "order", "op_name",
            "data", "version", "variable"]))
        t_index = draw(st.integers(0, nt - 1))
        t = md.tensors[t_index]
        label = f"tensor {t_index} '{t.name}'"
        if kind in ("shape", "rank"):
            shape = list(t.shape)
            if kind == "shape" and shape:
                d = draw(st.integers(0, len(shape) - 1))
                shape[d] = draw(st.sampled_from(_DIM_HOSTILE + (shape[d] + 1, max(shape[d] - 1, 0))))
            elif draw(st.booleans()) or not shape:
                shape.insert(draw(st.integers(0, len(shape))), draw(st.sampled_from((1, 2, 0))))
            else:
                shape.pop(draw(st.integers(0, len(shape) - 1)))
            _set_shape(t, tuple(shape))
            return f"{label} shape -> {shape}"
        if kind == "type":
            new = draw(st.sampled_from(_WRITER_TYPES))
            if t.data is not None:
                dtype = _NUMPY.get(new)
                if dtype is None:
                    t.data = None
                else:
                    with warnings.catch_warnings():  # complex -> real drops the imaginary part
                        warnings.simplefilter("ignore")
                        t.data = np.asarray(t.data).astype(dtype)
            t.type = new
            return f"{label} type -> {new}"
        if kind == "scales":
            n = len(t.scales) if t.scales else 1
            how = draw(st.sampled_from(["value", "count", "none"]))
            if how == "none":
                t.scales, t.zero_points = None, None
                return f"{label} quantization removed"
            scales = list(t.scales) if t.scales else [0.1]
            if how == "value":
                k = draw(st.integers(0, len(scales) - 1))
                scales[k] = draw(st.sampled_from(_FLOAT_HOSTILE))
            else:
                m = draw(st.sampled_from([0, 1, 2, n - 1, n + 1, 2 * n]))
                scales = (scales * (m + 1))[:m]
            t.scales = tuple(scales)
            zps = list(t.zero_points or [])
            t.zero_points = tuple((zps + [0] * len(scales))[:len(scales)])
            return f"{label} scales -> {scales[:8]}{'...' if len(scales) > 8 else ''}"
        if kind == "zero_points":
            if not t.scales:
                t.scales = (0.1,)
                t.zero_points = (0,)
            zps = list(t.zero_points or [0] * len(t.scales))
            k = draw(st.integers(0, len(zps) - 1))
            zps[k] = draw(st.sampled_from(_ZP_HOSTILE))
            t.zero_points = tuple(zps)
            return f"{label} zero point {k} -> {zps[k]}"
        if kind == "qdim":
            t.quantized_dimension = draw(st.sampled_from((-1, 1, 2, 3, 4, (1 << 31) - 1, -(1 << 31))))
            if not t.scales or len(t.scales) < 2:
                t.scales = (0.1, 0.2)
                t.zero_points = (0, 0)
            return f"{label} quantized dimension -> {t.quantized_dimension}"
        if kind == "variable":
            t.is_variable = not t.is_variable
            return f"{label} is_variable -> {t.is_variable}"
        if kind == "data":
            if t.data is None:
                dtype = _NUMPY.get(t.type)
                n = math.prod(t.shape)
                if dtype is None or n > 1 << 16:
                    return "no change"
                t.data = np.zeros(t.shape, dtype)
                return f"{label} made a constant of zeros"
            a = np.array(t.data)
            how = draw(st.sampled_from(["min", "max", "zero", "random", "drop"]))
            if how == "drop":
                t.data = None
                return f"{label} constant data dropped"
            if a.dtype.kind in "iu":
                info = np.iinfo(a.dtype)
                fill = {"min": info.min, "max": info.max, "zero": 0}.get(how)
            elif a.dtype.kind == "f":
                fill = {"min": -np.inf, "max": np.nan, "zero": 0.0}.get(how)
            else:
                fill = 0
            if fill is None:
                raw = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).integers(
                    0, 256, a.nbytes, dtype=np.uint8)
                a = raw.view(a.dtype).reshape(a.shape) if a.nbytes else a
            else:
                a[...] = fill
            t.data = a
            return f"{label} data -> {how}"
        if no == 0:
            return "no operators"
        k = draw(st.integers(0, no - 1))
        op = md.operators[k]
        olabel = f"operator {k} ({op.name})"
        if kind == "option":
            cls = _options_class(op.name)
            keys = sorted(_option_adders(cls)) if cls else []
            if not keys:
                return f"{olabel} has no options"
            key = draw(st.sampled_from(keys))
            if key == "beta":
                value = draw(st.sampled_from(_FLOAT_HOSTILE))
            elif key in ("padding", "fused_activation_function", "quantized_bias_type"):
                value = draw(st.integers(-128, 127) | st.integers(0, 7))
            elif key in ("keep_dims", "pot_scale_int16"):
                value = draw(st.booleans())
            elif hasattr(tflite, f"{cls}Start{_option_adders(cls)[key][0]}Vector"):
                # a vector option (RESHAPE new_shape, SQUEEZE squeeze_dims)
                value = draw(st.lists(st.sampled_from(_I32_HOSTILE) | st.integers(-3, 3),
                                      max_size=10))
            else:
                value = draw(st.sampled_from(_I32_HOSTILE) | st.integers(-8, 8))
            op.options[key] = value
            return f"{olabel} option {key} -> {value!r}"
        if kind == "axes":
            consts = [i for i in op.inputs if i >= 0 and md.tensors[i].data is not None
                      and md.tensors[i].type == "INT32"]
            if not consts:
                return f"{olabel} has no int32 constant"
            # axes, shapes, begin/end/strides, permutations, multiples, paddings
            consts = consts[draw(st.integers(0, len(consts) - 1)):]
            a = md.tensors[consts[0]]
            values = draw(st.lists(st.sampled_from(_I32_HOSTILE) | st.integers(-5, 5),
                                   min_size=0, max_size=6))
            a.data = np.array(values, np.int32)
            a.shape = (len(values),)
            return f"{olabel} axes/constant tensor {consts[0]} -> {values}"
        if kind == "op_io":
            ins, outs = list(op.inputs), list(op.outputs)
            target = ins if draw(st.booleans()) or not outs else outs
            how = draw(st.sampled_from(["replace", "replace", "drop", "add"]))
            if how == "replace" and target:
                j = draw(st.integers(0, len(target) - 1))
                target[j] = draw(st.integers(-1, nt - 1))
            elif how == "drop" and target:
                target.pop(draw(st.integers(0, len(target) - 1)))
            else:
                target.append(draw(st.integers(-1, nt - 1)))
            op.inputs, op.outputs = tuple(ins), tuple(outs)
            return f"{olabel} inputs {list(op.inputs)} outputs {list(op.outputs)}"
        if kind == "graph_io":
            target = md.inputs if draw(st.booleans()) else md.outputs
            how = draw(st.sampled_from(["replace", "drop", "add"]))
            if how == "replace" and target:
                target[draw(st.integers(0, len(target) - 1))] = draw(st.integers(0, nt - 1))
            elif how == "drop" and target:
                target.pop(draw(st.integers(0, len(target) - 1)))
            else:
                target.append(draw(st.integers(0, nt - 1)))
            return f"graph inputs {md.inputs} outputs {md.outputs}"
        if kind == "order":
            how = draw(st.sampled_from(["swap", "drop", "repeat"]))
            j = draw(st.integers(0, no - 1))
            if how == "swap":
                md.operators[k], md.operators[j] = md.operators[j], md.operators[k]
            elif how == "drop":
                md.operators.pop(k)
            else:
                from copy import deepcopy
                md.operators.insert(j, deepcopy(op))
            return f"operators: {how} {k} {j}"
        if kind == "op_name":
            new = draw(st.sampled_from(["ADD", "MUL", "CONV_2D", "MAX_POOL_2D",
                                        "AVERAGE_POOL_2D", "CONCATENATION", "MEAN", "SOFTMAX",
                                        "QUANTIZE", "DEQUANTIZE", "DEPTHWISE_CONV_2D",
                                        "FULLY_CONNECTED", "CUSTOM:fuzz"]
                                       + _MOVEMENT_OPS))
            cls = _options_class(new) if not new.startswith("CUSTOM") else None
            keys = set(_option_adders(cls)) if cls else set()
            op.name = new
            op.options = {key: v for key, v in op.options.items() if key in keys}
            op.version = None
            return f"{olabel} -> {new}"
        op.version = draw(st.sampled_from(_I32_HOSTILE))
        return f"{olabel} version -> {op.version}"

    return mutate()


def _set_shape(t, shape) -> None:
    """Give tensor description ``t`` a new shape; a constant keeps data of
    that many elements (repeated or cut) when that is small, else stops being
    a constant."""
    t.shape = tuple(shape)
    if t.data is not None:
        n = math.prod(shape)
        if n <= 1 << 16:
            t.data = np.resize(np.asarray(t.data), shape)
        else:
            t.data = None


@lru_cache(maxsize=None)
def strategies() -> dict:
    """kind -> hypothesis strategy of :class:`Case`."""
    return _strategies()


# ---------------------------------------------------------------------------------------
# images
# ---------------------------------------------------------------------------------------

@dataclass
class ImageCase:
    kind: str
    image: bytes
    suffix: str
    what: str
    cli: bool = True
    file_kind: str | None = None  # also hand it to the command so (IMAGE_FILE_KINDS)

    def describe(self) -> str:
        digest = hashlib.sha1(self.image).hexdigest()[:12]
        how = f", as {self.file_kind}" if self.file_kind else ""
        return (f"[{self.kind}] {self.what} ({len(self.image)} bytes{self.suffix}, "
                f"sha1 {digest}{how})")

    __repr__ = describe

    def _repr_pretty_(self, printer, cycle):
        printer.text(self.describe())

    def save(self, directory) -> Path:
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        p = d / f"fuzz_image_{hashlib.sha1(self.image).hexdigest()[:12]}{self.suffix}"
        p.write_bytes(self.image)
        p.with_suffix(".txt").write_text(self.describe() + "\n")
        return p


@lru_cache(maxsize=None)
def image_seeds() -> dict:
    """name -> (bytes, suffix): a small crop of a real photo in the formats
    and modes a camera or a scraper delivers."""
    from PIL import Image

    photos = sorted((SHARED / "images" / "flowers").rglob("*.jpg"))
    if not photos:
        raise FileNotFoundError(f"no photos under {SHARED / 'images'}")
    with Image.open(photos[0]) as im:
        base = im.convert("RGB").resize((40, 30))

    def encode(im, fmt, **kw):
        out = io.BytesIO()
        im.save(out, format=fmt, **kw)
        return out.getvalue()

    exif = Image.Exif()
    exif[0x0112] = 6
    rgba = base.copy()
    rgba.putalpha(Image.linear_gradient("L").resize(base.size))
    grey16 = Image.fromarray((np.asarray(base.convert("L")).astype(np.uint16) * 257 + 3))
    return {
        "jpeg": (encode(base, "JPEG", quality=85), ".jpg"),
        "jpeg_progressive": (encode(base, "JPEG", quality=70, progressive=True), ".jpg"),
        "jpeg_exif_rotated": (encode(base, "JPEG", exif=exif.tobytes()), ".jpg"),
        "jpeg_cmyk": (encode(base.convert("CMYK"), "JPEG"), ".jpg"),
        "jpeg_grey": (encode(base.convert("L"), "JPEG"), ".jpg"),
        "png": (encode(base, "PNG"), ".png"),
        "png_rgba": (encode(rgba, "PNG"), ".png"),
        "png_palette": (encode(base.convert("P"), "PNG"), ".png"),
        "png_grey16": (encode(grey16, "PNG"), ".png"),
        "png_interlaced": (encode(base, "PNG", interlace=1), ".png"),
        "gif": (encode(base.convert("P"), "GIF"), ".gif"),
        "bmp": (encode(base, "BMP"), ".bmp"),
        "webp": (encode(base, "WEBP"), ".webp"),
        "tiff": (encode(base, "TIFF", compression="tiff_lzw"), ".tif"),
    }


def _dimension_sites(content: bytes, suffix: str) -> list:
    """(offset, struct format) of the declared width and height."""
    if suffix == ".png":
        return [(16, ">I"), (20, ">I")]
    if suffix == ".jpg":
        sites = []
        i = 2
        while i + 9 < len(content) and content[i] == 0xFF:
            marker, length = content[i + 1], struct.unpack_from(">H", content, i + 2)[0]
            if marker in (0xC0, 0xC1, 0xC2):  # SOF: precision, height, width
                sites += [(i + 5, ">H"), (i + 7, ">H")]
                break
            i += 2 + length
        return sites
    if suffix == ".gif":
        return [(6, "<H"), (8, "<H")]
    if suffix == ".bmp":
        return [(18, "<i"), (22, "<i")]
    return []


def _image_strategy():
    from hypothesis import strategies as st

    names = sorted(image_seeds())

    @st.composite
    def images(draw):
        name = draw(st.sampled_from(names))
        content, suffix = image_seeds()[name]
        data = bytearray(content)
        how = draw(st.sampled_from(["truncate", "flip", "bytes", "dimensions", "as_is"]))
        if how == "truncate":
            cut = draw(st.integers(0, len(data) - 1))
            data = data[:cut]
            what = f"{name} truncated to {cut} bytes"
        elif how == "flip":
            done = []
            for _ in range(draw(st.integers(1, 6))):
                pos = draw(st.integers(0, len(data) - 1))
                bit = draw(st.integers(0, 7))
                data[pos] ^= 1 << bit
                done.append(f"{pos}.{bit}")
            what = f"{name} with bits flipped at {', '.join(done)}"
        elif how == "bytes":
            pos = draw(st.integers(0, len(data) - 1))
            chunk = draw(st.binary(min_size=1, max_size=64))
            data[pos:pos + len(chunk)] = chunk
            what = f"{name} overwritten at {pos} with {len(chunk)} random bytes"
        elif how == "dimensions" and _dimension_sites(content, suffix):
            pos, fmt = draw(st.sampled_from(_dimension_sites(content, suffix)))
            bits = 8 * struct.calcsize(fmt)
            value = draw(st.sampled_from([0, 1, 2, 65535, 50000, 1 << (bits - 2),
                                          (1 << (bits - 1)) - 1]))
            struct.pack_into(fmt, data, pos, value)
            what = f"{name} with a declared dimension at byte {pos} set to {value}"
        else:
            what = f"{name} as it is"
        # half the cases also hand the image over in one of the file kinds
        kind = draw(st.sampled_from((None,) * 4 + IMAGE_FILE_KINDS))
        return ImageCase("images", bytes(data), suffix, what, file_kind=kind)

    return images()


def check_image(case: ImageCase) -> str:
    """Decode ``case`` in the worker: pixels, or an ImageError of one line
    that starts with the file's path; the command exits 0, or 2 with one
    error line naming the file; with a file kind, the command run on it so
    (:func:`_check_files`) refuses it exactly when the decoder alone does."""
    KIND_COUNTS[case.kind] += 1
    COUNTS["cases"] += 1
    w = worker("int8sqz")
    req = {"image": case.image, "suffix": case.suffix, "cli": case.cli,
           "content": case.image, "what": case.what, "file_kind": case.file_kind}
    try:
        result = w.run(req)
    except WorkerDied as died:
        history = list(w.history)
        _fail(case, f"{_isolate('int8sqz', history, died)}\n{died.stderr}")
    path = result["path"]
    if result["status"] == "bug":
        _fail(case, f"{result['error']}: {result['message']}\n{result['traceback']}")
    if result["status"] == "refused":
        msg = result["message"]
        if "\n" in msg or not msg.startswith(f"{path}: "):
            _fail(case, f"ImageError message is not one line naming the file: {msg!r}")
    cli = result.get("cli")
    if cli is not None:
        lines = cli["stderr"].splitlines()
        if cli["code"] == 0:
            if lines or result["status"] != "ok":
                _fail(case, f"`int8sqz run` exited 0 on an image it cannot read; stderr "
                            f"{cli['stderr']!r}")
        elif cli["code"] == 2:
            if len(lines) != 1 or not lines[0].startswith(f"int8sqz: error: {path}: "):
                _fail(case, f"`int8sqz run` exited 2 with stderr {cli['stderr']!r}, "
                            f"expected one line naming the file")
        else:
            _fail(case, f"`int8sqz run` exited {cli['code']!r}; stderr {cli['stderr']!r}")
        if "files" in cli:
            _check_files(case, cli["files"], image_refused=result["status"] != "ok")
    outcome = "decoded" if result["status"] == "ok" else "refused"
    COUNTS[f"images {outcome}"] += 1
    return outcome


@lru_cache(maxsize=None)
def image_strategy():
    return _image_strategy()


# ---------------------------------------------------------------------------------------
# the session summary
# ---------------------------------------------------------------------------------------

class _Report:
    def pytest_terminal_summary(self, terminalreporter):
        if not COUNTS:
            return
        tr = terminalreporter
        tr.section("int8sqz fuzzing: cases run in worker subprocesses")
        for kind in sorted(KIND_COUNTS):
            tr.write_line(f"{kind:16s} {KIND_COUNTS[kind]:7d}")
        parts = ", ".join(f"{k} {v}" for k, v in sorted(COUNTS.items()) if k != "cases")
        tr.write_line(f"{'total':16s} {COUNTS['cases']:7d}  ({parts})")
        for name, what, _ in KNOWN_ISSUES:
            if COUNTS[f"known: {name}"]:
                tr.write_line(f"known open issue {name} ({COUNTS[f'known: {name}']} cases): {what}")
        starts = sum(w.starts for w in _WORKERS.values())
        tr.write_line(f"worker processes started: {starts}")
        path = os.environ.get("INT8SQZ_FUZZ_REPORT")
        if path:
            with open(path, "w") as f:
                json.dump({"kinds": dict(KIND_COUNTS), "outcomes": dict(COUNTS),
                           "workers_started": starts}, f, indent=1, sort_keys=True)


def register_report(config) -> None:
    name = "int8sqz-fuzz-report"
    if not config.pluginmanager.has_plugin(name):
        config.pluginmanager.register(_Report(), name)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "worker":
        worker_main(sys.argv[2])
    elif sys.argv[1:] == ["schema"]:
        sys.stdout.write(schema_source())
    else:
        sys.exit("usage: fuzzing.py worker int8sqz|reference | fuzzing.py schema")
