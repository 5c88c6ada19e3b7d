"""Whole networks written by int8sqz.testing.networks (SqueezeNet variants, a
MobileNet-v2-like and a ResNet-like family): every tensor int8sqz computes
equals TFLite's reference kernels' on random inputs, also inside the
planned arenas."""

import functools

import numpy as np
import pytest
from hypothesis import settings

from int8sqz import Interpreter, load_model
from int8sqz.testing.networks import (
    MobileNetV2Spec, ResNetSpec, SqueezeNetSpec, mobilenet_v2, resnet, squeezenet,
)
from int8sqz.testing.reference import run_reference
from int8sqz.testing.strategies import softmax_sum_of_exps

VARIANTS = [
    # the seed models' topology at 224x224 and 1000 classes
    SqueezeNetSpec("1.0", batch_norm=True, input_type="UINT8", output_type="FLOAT32", seed=1),
    SqueezeNetSpec("1.0", batch_norm=False, input_type="UINT8", output_type="UINT8", seed=2),
    SqueezeNetSpec("1.1", batch_norm=True, input_type="FLOAT32", output_type="INT8", seed=3),
    SqueezeNetSpec("1.1", batch_norm=False, bypass=True, input_type="INT8",
                   output_type="FLOAT32", seed=4),
    # non-square inputs, other class counts
    SqueezeNetSpec("1.0", height=192, width=256, num_classes=101, batch_norm=False, bypass=True,
                   input_type="FLOAT32", output_type="UINT8", seed=5),
    SqueezeNetSpec("1.1", height=160, width=224, num_classes=37, batch_norm=True, bypass=True,
                   input_type="INT8", output_type="INT8", seed=6),
]


#: the MobileNet-v2-like and ResNet-like families: small inputs, every input
#: and output type, other block lists
OTHERS = [
    MobileNetV2Spec(seed=11),
    MobileNetV2Spec(height=40, width=24, num_classes=7, input_type="FLOAT32",
                    output_type="INT8", seed=12),
    MobileNetV2Spec(height=17, width=33, num_classes=3, stem=16, last=80, input_type="INT8",
                    output_type="UINT8", blocks=((1, 16, 1), (6, 16, 1), (6, 24, 2), (6, 24, 1),
                                                 (6, 40, 2), (6, 40, 1)), seed=13),
    ResNetSpec(seed=21),
    ResNetSpec(height=24, width=40, num_classes=5, stem=16, input_type="INT8",
               output_type="UINT8", blocks=((16, 1), (16, 1), (32, 2), (32, 1), (48, 2)),
               seed=22),
]
ALL = VARIANTS + OTHERS


def inputs_per_variant() -> int:
    """2 random inputs per variant; 10x as many under the deep hypothesis profile."""
    return max(2, settings.default.max_examples // 25)


@functools.lru_cache(maxsize=None)
def _model(spec):
    if isinstance(spec, MobileNetV2Spec):
        return mobilenet_v2(spec)
    if isinstance(spec, ResNetSpec):
        return resnet(spec)
    return squeezenet(spec)


def _run_int8sqz(content, x):
    it = Interpreter(model_content=content)
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    return it


@pytest.mark.parametrize("spec", ALL, ids=lambda s: s.name)
def test_network_is_bit_exact(spec):
    content = _model(spec)
    model = load_model(content)
    softmax = next(op for op in model.operators if op.name == "SOFTMAX")
    logits_q = model.tensors[softmax.inputs[0]].quantization
    rng = np.random.default_rng(1000 + spec.seed)
    for _ in range(inputs_per_variant()):
        x = spec.input_array(rng)
        it = _run_int8sqz(content, x)
        # TFLite's reference softmax aborts the process when a row's sum of
        # exponentials reaches 512; the networks are built far from that
        logits = it.get_tensor(softmax.inputs[0])
        assert softmax_sum_of_exps(logits - logits_q.zero_point, logits_q.scale, 1.0).max() < 448
        want = run_reference(content, [x], all_tensors=True)
        for op in model.operators:
            for t in op.outputs:
                got = it.get_tensor(t)
                assert got.dtype == want[t].dtype and got.shape == want[t].shape
                if not np.array_equal(got, want[t]):
                    diff = np.abs(got.astype(np.float64) - want[t].astype(np.float64))
                    pytest.fail(
                        f"{spec.name}: {op.describe()} output {model.tensor_label(t)} differs "
                        f"from the reference in {int(np.count_nonzero(diff))} of {diff.size} "
                        f"elements (max |diff| {diff.max()})"
                    )
        assert np.array_equal(it.get_tensor(model.outputs[0]), want[model.outputs[0]])


@pytest.mark.parametrize("spec", VARIANTS, ids=lambda s: s.name)
def test_network_is_a_realistic_quantized_model(spec):
    """The variants exercise the kernels as a trained network would: the
    activations use the int8 range, the classifier's output is not flat."""
    content = _model(spec)
    model = load_model(content)
    names = [op.name for op in model.operators]
    assert names.count("CONV_2D") == 26
    assert names.count("MAX_POOL_2D") == 3 and names.count("CONCATENATION") == 8
    assert names.count("MUL") == (9 if spec.batch_norm else 0)
    assert names.count("ADD") == (9 if spec.batch_norm else 0) + (4 if spec.bypass else 0)
    assert model.tensors[model.inputs[0]].shape == (1, spec.height, spec.width, 3)
    assert model.tensors[model.outputs[0]].shape == (1, spec.num_classes)
    x = spec.input_array(np.random.default_rng(spec.seed))
    values = run_reference(content, [x], all_tensors=True)
    probabilities = set()  # the softmax output and its conversion to the output type
    for op in model.operators:
        t = op.outputs[0]
        if op.name == "SOFTMAX" or op.inputs[0] in probabilities:
            probabilities.add(t)
        distinct = len(np.unique(values[t]))
        least = 3 if t in probabilities else 16
        assert distinct >= least, f"{op.describe()}: {distinct} distinct values"
    # per-channel weights, biases at input scale x weight scale
    conv = next(op for op in model.operators if op.name == "CONV_2D")
    w, b = model.tensors[conv.inputs[1]], model.tensors[conv.inputs[2]]
    assert w.quantization.scales.size == w.shape[0] > 1
    assert int(np.abs(w.data).max()) == 127
    s_in = np.float64(model.tensors[conv.inputs[0]].quantization.scale)
    assert np.allclose(b.quantization.scales, s_in * w.quantization.scales, rtol=1e-6)


def test_networks_are_deterministic():
    spec = SqueezeNetSpec("1.1", height=64, width=48, num_classes=10, seed=9)
    assert squeezenet(spec) == squeezenet(spec)
    assert squeezenet(spec) != squeezenet(SqueezeNetSpec("1.1", height=64, width=48,
                                                         num_classes=10, seed=10))


@pytest.mark.parametrize("arena", ["tflm", "optimized"])
@pytest.mark.parametrize("spec", ALL, ids=lambda s: s.name)
def test_network_in_an_arena_is_bit_exact(spec, arena):
    """With the activations in one planned byte array (the expand convolutions
    then write straight into their concatenation's channels, a strided
    output) the final output is still the reference's."""
    content = _model(spec)
    rng = np.random.default_rng(2000 + spec.seed)
    for _ in range(inputs_per_variant()):
        x = spec.input_array(rng)
        it = Interpreter(model_content=content, arena=arena)
        it.allocate_tensors()
        it.set_tensor(it.get_input_details()[0]["index"], x)
        it.invoke()
        got = it.get_tensor(it.get_output_details()[0]["index"])
        want = run_reference(content, [x])[0]
        assert got.dtype == want.dtype and np.array_equal(got, want)


@pytest.mark.parametrize("spec", OTHERS, ids=lambda s: s.name)
def test_other_families_are_realistic_quantized_models(spec):
    """The MobileNet-v2-like and ResNet-like variants have their operators
    (residual ADDs where shapes match, no PAD), spread activations, per-channel
    depthwise weights along their last dimension and per-tensor
    FULLY_CONNECTED weights, as the converter writes them."""
    content = _model(spec)
    model = load_model(content)
    names = [op.name for op in model.operators]
    if isinstance(spec, MobileNetV2Spec):
        residual = sum(s == 1 and c == prev for (_, c, s), prev in
                       zip(spec.blocks, (spec.stem,) + tuple(b[1] for b in spec.blocks)))
        assert names.count("DEPTHWISE_CONV_2D") == len(spec.blocks)
        assert names.count("ADD") == residual > 0
        assert "MEAN" in names and "PAD" not in names
        dw = next(op for op in model.operators if op.name == "DEPTHWISE_CONV_2D")
        q = model.tensors[dw.inputs[1]].quantization
        assert q.quantized_dimension == 3 and q.scales.size == model.tensors[dw.inputs[1]].shape[3]
    else:
        assert names.count("ADD") == len(spec.blocks)
        assert all(op.options["fused_activation_function"] == "RELU"
                   for op in model.operators if op.name == "ADD")
        pool = next(op for op in model.operators if op.name == "AVERAGE_POOL_2D")
        assert model.tensors[pool.outputs[0]].shape[1:3] == (1, 1)
    fc = next(op for op in model.operators if op.name == "FULLY_CONNECTED")
    assert model.tensors[fc.inputs[1]].quantization.scales.size == 1
    assert model.tensors[fc.outputs[0]].shape == (1, spec.num_classes)
    x = spec.input_array(np.random.default_rng(spec.seed))
    values = run_reference(content, [x], all_tensors=True)
    for op in model.operators:
        if op.name in ("CONV_2D", "DEPTHWISE_CONV_2D", "ADD"):
            distinct = len(np.unique(values[op.outputs[0]]))
            assert distinct >= 16, f"{op.describe()}: {distinct} distinct values"


@pytest.mark.parametrize("spec", [OTHERS[0], OTHERS[3]], ids=lambda s: s.name)
def test_invoke_allocates_no_arrays(spec):
    """DEPTHWISE_CONV_2D and FULLY_CONNECTED size their scratch when they are
    prepared: invoke() creates a few Python objects, no array."""
    import tracemalloc

    it = Interpreter(model_content=_model(spec))
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"],
                  spec.input_array(np.random.default_rng(0)))
    it.invoke()
    tracemalloc.start()
    try:
        it.invoke()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16_384, f"invoke() allocated up to {peak} bytes"
