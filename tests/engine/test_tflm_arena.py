"""The whole arena TFLite Micro needs (int8sqz.planner.tflm_arena): the C
struct layouts it adds up, against a compiler; the one struct the installed
tflite_micro package lays out differently from the sources read, measured;
the refusals; the 32-bit estimate's direction. The predictions against
tflite-micro on the seeds, the zoo and generated graphs, written plans
included, are in test_offline_plan.py; each operator unit's allocations on
the models its strategy draws, in tests/operators/test_conformance.py."""

import numpy as np
import pytest
from conftest import SEED_MODELS
from memplan_graphs import ACT

from int8sqz.errors import UnsupportedError
from int8sqz.model import load_model
from int8sqz.ops import (
    _pad, _pool, _tflm, add, concatenation, conv_2d, depthwise_conv_2d, dequantize,
    fully_connected, logistic, mean, mul, pack, quantize, relu, relu6, reshape, resize_bilinear,
    shape, softmax, squeeze, strided_slice, sub,
)
from int8sqz.ops.unit import CStruct
from int8sqz.planner import plan_model
from int8sqz.planner import tflm_arena as A
from int8sqz.testing import tflm
from int8sqz.testing.writer import GraphBuilder

#: sizeof and alignof on x86-64, printed by g++ 12 for the headers of
#: tflite-micro 90b983c2 with TF_LITE_STATIC_MEMORY and USE_TFLM_COMPRESSION
#: defined, as the Python package builds them (the structs local to a .cc
#: file copied into the test program)
COMPILER = {
    "TfLiteTensor": (64, 8), "TfLiteEvalTensor": (24, 8), "NodeAndRegistration": (64, 8),
    "TfLiteAffineQuantization": (24, 8), "SubgraphAllocations": (24, 8),
    "ScratchBufferHandle": (8, 8), "ScratchBufferRequest": (16, 8), "AllocationInfo": (32, 8),
    "SingleArenaBufferAllocator": (72, 8), "RecordingSingleArenaBufferAllocator": (104, 8),
    "GreedyMemoryPlanner": (72, 8), "MicroAllocator": (72, 8),
    "RecordingMicroAllocator": (272, 8), "TfLiteConvParams": (28, 4),
    "TfLiteDepthwiseConvParams": (28, 4), "TfLitePoolParams": (40, 4),
    "TfLiteAddParams": (8, 4), "TfLiteMulParams": (4, 4), "TfLiteSubParams": (8, 4),
    "TfLiteConcatenationParams": (8, 4), "TfLiteSoftmaxParams": (4, 4),
    "TfLiteReshapeParams": (36, 4), "TfLiteReducerParams": (1, 1), "TfLiteShapeParams": (4, 4),
    "TfLiteStridedSliceParams": (24, 4), "TfLitePackParams": (8, 4),
    "TfLiteSqueezeParams": (36, 4), "TfLiteResizeBilinearParams": (2, 1),
    "OpDataConv": (80, 8), "OpDataPooling": (32, 4), "OpDataAdd": (60, 4), "OpDataMul": (36, 4),
    "OpDataSub": (52, 4), "SoftmaxParams": (80, 8), "DequantizeOpData": (32, 8),
    "OpDataQuantizeReference": (32, 8), "OpDataLogistic": (16, 4), "OpDataReduce": (44, 4),
    "OpDataFullyConnected": (72, 8), "StridedSliceParams": (84, 4), "ReluOpData": (28, 4),
    "Relu6OpData": (8, 4), "OpData (pad)": (56, 4), "OpData (concatenation)": (80, 8),
    "TfLiteFullyConnectedParams (source)": (16, 4),
}

STRUCTS = {
    "TfLiteTensor": A.TFLITE_TENSOR, "TfLiteEvalTensor": A.EVAL_TENSOR,
    "NodeAndRegistration": A.NODE_AND_REGISTRATION,
    "TfLiteAffineQuantization": A.AFFINE_QUANTIZATION,
    "SubgraphAllocations": A.SUBGRAPH_ALLOCATIONS, "ScratchBufferHandle": A.SCRATCH_HANDLE,
    "ScratchBufferRequest": A.SCRATCH_REQUEST, "AllocationInfo": A.ALLOCATION_INFO,
    "SingleArenaBufferAllocator": A.SINGLE_ARENA_ALLOCATOR,
    "RecordingSingleArenaBufferAllocator": A.RECORDING_SINGLE_ARENA_ALLOCATOR,
    "GreedyMemoryPlanner": A.GREEDY_MEMORY_PLANNER, "MicroAllocator": A.MICRO_ALLOCATOR,
    "RecordingMicroAllocator": A.RECORDING_MICRO_ALLOCATOR,
    "TfLiteConvParams": conv_2d.TFLM_PARAMS, "TfLiteDepthwiseConvParams": depthwise_conv_2d.DEPTHWISE_PARAMS,
    "TfLitePoolParams": _pool.POOL_PARAMS, "TfLiteAddParams": add.TFLM_PARAMS,
    "TfLiteMulParams": mul.TFLM_PARAMS, "TfLiteSubParams": sub.TFLM_PARAMS,
    "TfLiteConcatenationParams": concatenation.TFLM_PARAMS,
    "TfLiteSoftmaxParams": softmax.TFLM_PARAMS, "TfLiteReshapeParams": reshape.TFLM_PARAMS,
    "TfLiteReducerParams": mean.REDUCER_PARAMS, "TfLiteShapeParams": shape.TFLM_PARAMS,
    "TfLiteStridedSliceParams": strided_slice.TFLM_PARAMS, "TfLitePackParams": pack.TFLM_PARAMS,
    "TfLiteSqueezeParams": squeeze.TFLM_PARAMS,
    "TfLiteResizeBilinearParams": resize_bilinear.TFLM_PARAMS,
    "OpDataConv": _tflm.OP_DATA_CONV, "OpDataPooling": _pool.OP_DATA_POOLING,
    "OpDataAdd": add.TFLM_OP_DATA, "OpDataMul": mul.TFLM_OP_DATA, "OpDataSub": sub.TFLM_OP_DATA,
    "SoftmaxParams": softmax.TFLM_OP_DATA, "DequantizeOpData": dequantize.TFLM_OP_DATA,
    "OpDataQuantizeReference": quantize.TFLM_OP_DATA, "OpDataLogistic": logistic.TFLM_OP_DATA,
    "OpDataReduce": mean.OP_DATA_REDUCE,
    "OpDataFullyConnected": fully_connected.FULLY_CONNECTED_OP_DATA,
    "StridedSliceParams": strided_slice.TFLM_OP_DATA, "ReluOpData": relu.TFLM_OP_DATA,
    "Relu6OpData": relu6.TFLM_OP_DATA, "OpData (pad)": _pad.OP_DATA_PAD,
    "OpData (concatenation)": concatenation.TFLM_OP_DATA,
    "TfLiteFullyConnectedParams (source)": CStruct(
        "TfLiteFullyConnectedParams", fully_connected.FULLY_CONNECTED_PARAMS.fields),
}


@pytest.mark.parametrize("name", sorted(COMPILER))
def test_struct_layouts_are_the_compiler_s(name):
    assert STRUCTS[name].layout(8) == COMPILER[name], name


def test_layout_rules():
    s = CStruct("s", ("int8", "double", "int16"))
    assert s.layout(8) == (24, 8) and s.layout(4) == (24, 8)  # AAPCS: doubles 8-aligned
    p = CStruct("p", ("int32", "ptr", ("int8", 3)))
    assert p.layout(8) == (24, 8) and p.layout(4) == (12, 4)
    assert CStruct("n", (p, "bool")).layout(4) == (16, 4)


# -- the struct the installed package lays out differently --------------------------------

def _conv_fc_mean(extra_constants):
    """CONV_2D (28-byte options), FULLY_CONNECTED, MEAN (1-byte options);
    with an odd number of tensors the tail is 16-aligned where the options
    begin, and an 8-aligned FULLY_CONNECTED struct then costs 16 bytes more
    than a 4-aligned one."""
    g = GraphBuilder()
    rng = np.random.default_rng(0)
    x = g.input("x", (1, 1, 1, 8), "INT8", **ACT)
    w = g.constant("cw", rng.integers(-127, 128, size=(8, 1, 1, 8), dtype=np.int8), scale=0.01)
    b = g.constant("cb", np.zeros(8, np.int32), scale=0.0005)
    y = g.tensor("y", (1, 1, 1, 8), "INT8", **ACT)
    g.operator("CONV_2D", [x, w, b], y, padding="VALID")
    w2 = g.constant("fw", rng.integers(-127, 128, size=(8, 8), dtype=np.int8), scale=0.01)
    z = g.tensor("z", (1, 8), "INT8", **ACT)
    g.operator("FULLY_CONNECTED", [y, w2], z)
    o = g.tensor("o", (1, 1), "INT8", **ACT)
    g.operator("MEAN", [z, g.constant("axis", np.array([1], np.int32))], o, keep_dims=True)
    for j in range(extra_constants):
        g.constant(f"unused{j}", np.zeros(4, np.int8))
    g.output(o)
    return g.build()


def _chain(k):
    g = GraphBuilder()
    rng = np.random.default_rng(k)
    x = g.input("x", (1, 8), "INT8", **ACT)
    for j in range(k):
        w = g.constant(f"w{j}", rng.integers(-127, 128, size=(8, 8), dtype=np.int8), scale=0.01)
        y = g.tensor(f"y{j}", (1, 8), "INT8", **ACT)
        g.operator("FULLY_CONNECTED", [x, w], y)
        x = y
    g.output(x)
    return g.build()


def _tails(models):
    out = []
    for content in models:
        model = load_model(content)
        out.append((tflm.arena_usage(content)["tail"],
                    A.tflm_arena(model, plan_model(model, "tflm").arena_size).tail))
    return out


def test_fully_connected_options_struct_is_32_bytes_8_aligned(monkeypatch):
    """TfLiteFullyConnectedParams is 16 bytes, 4-aligned, in the sources
    read; the installed package allocates 32 bytes, 8-aligned: chains of 1
    to 6 FULLY_CONNECTED tell the size (a 16- or 24-byte struct misses some
    chain by 16 bytes), CONV_2D's 28-byte options before one tell the
    alignment (a 4-aligned one misses by 16)."""
    models = [_chain(k) for k in range(1, 7)] + [_conv_fc_mean(n) for n in (0, 1)]
    assert all(measured == predicted for measured, predicted in _tails(models))
    fields = fully_connected.FULLY_CONNECTED_PARAMS.fields
    for wrong in (CStruct("TfLiteFullyConnectedParams", fields),  # the source's 16
                  CStruct("TfLiteFullyConnectedParams", fields, measured=(24, 8)),
                  CStruct("TfLiteFullyConnectedParams", fields, measured=(32, 4))):
        monkeypatch.setattr(fully_connected, "FULLY_CONNECTED_PARAMS", wrong)
        assert any(measured != predicted for measured, predicted in _tails(models)), wrong


# -- refusals and the 32-bit estimate -------------------------------------------------------

def test_operators_without_a_known_kernel_are_refused():
    g = GraphBuilder()
    x = g.input("x", (1, 4), "FLOAT32")
    y = g.tensor("y", (1, 4), "FLOAT32")
    g.operator("TANH", [x], y)
    g.output(y)
    model = load_model(g.build())
    with pytest.raises(UnsupportedError, match=r"operator 0 \(TANH\).*not known"):
        A.tflm_arena(model, 32)
    g = GraphBuilder()
    x = g.input("x", (1, 4), "INT8", **ACT)
    y = g.tensor("y", (2, 4), "INT8", **ACT)
    g.operator("TILE", [x, g.constant("m", np.array([2, 1], np.int32))], y)
    g.output(y)
    content = g.build()
    with pytest.raises(UnsupportedError, match=r"operator 0 \(TILE\).*no kernel"):
        A.tflm_arena(load_model(content), 64)
    with tflm.captured_stderr() as err, pytest.raises(RuntimeError):
        tflm.interpreter(content)  # and tflite-micro refuses it indeed
    assert "TILE" in err[0]


@pytest.mark.parametrize("key", sorted(SEED_MODELS))
def test_32_bit_estimate_keeps_the_head_and_shrinks_the_tail(key):
    model = load_model(SEED_MODELS[key])
    head = plan_model(model, "tflm").arena_size
    host, mcu = A.tflm_arena(model, head), A.tflm_arena(model, head, A.MCU32)
    assert mcu.head == host.head == head
    # pointers halve, int32 arrays (per-channel multipliers) do not
    assert host.tail / 2 < mcu.tail < host.tail
    assert mcu.arena_size - mcu.tail <= host.arena_size - host.tail + 16
