"""Whole networks with seeded random weights, quantized as TFLite's converter
quantizes a trained network: SqueezeNet, a MobileNet-v2-like and a
ResNet-like family.

:func:`squeezenet` writes a ``.tflite`` model for a :class:`SqueezeNetSpec`:
SqueezeNet v1.0 or v1.1, any input size and class count, with or without the
unfolded batch norm (a MUL and an ADD by per-channel constants after every
squeeze layer and after conv10, as in the seed models), with or without the
simple bypass (an ADD around fire modules 3, 5, 7 and 9).

The float network is built first (He-initialised weights from the seed) and
run in NumPy on a few random calibration images; every activation then gets
the converter's post-training quantization: int8, asymmetric, scale and zero
point from the calibration range (which always includes 0). Weights are int8
symmetric per output channel in -127..127, biases int32 at input scale times
weight scale, the batch-norm constants per-tensor asymmetric int8. The two
expand convolutions of a fire module share the quantization of their
concatenation, max pooling keeps its input's, softmax outputs 1/256 and
-128, as the converter does.

:func:`mobilenet_v2` (a :class:`MobileNetV2Spec`) writes a MobileNet-v2-like
network: a 3x3 stride-2 stem, inverted residual blocks (1x1 expansion with
RELU6, 3x3 depthwise with RELU6, stride 1 or 2 with SAME padding, so no PAD
operator, 1x1 linear projection, an ADD around the block where shapes
match), a last 1x1 expansion, MEAN, FULLY_CONNECTED and SOFTMAX; depthwise
weights per channel along their last dimension.

:func:`resnet` (a :class:`ResNetSpec`) writes a ResNet-v1-like network: a 3x3
stem, residual blocks of two 3x3 convolutions whose sum with the shortcut
(a 1x1 stride-2 convolution where the block downsamples) is an ADD with a
fused RELU, AVERAGE_POOL_2D over the whole map, FULLY_CONNECTED on the
pooled [1, 1, 1, C] tensor, SOFTMAX.

FULLY_CONNECTED weights are per tensor, symmetric, as the converter writes
them; average pooling keeps its input's quantization.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .writer import GraphBuilder

#: (squeeze, expand) channels of fire modules 2..9
FIRES = {2: (16, 64), 3: (16, 64), 4: (32, 128), 5: (32, 128), 6: (48, 192), 7: (48, 192),
         8: (64, 256), 9: (64, 256)}
#: the fire modules a max pool precedes
POOL_BEFORE = {"1.0": (5, 9), "1.1": (4, 6)}
BYPASS_FIRES = (3, 5, 7, 9)


@dataclass(frozen=True)
class SqueezeNetSpec:
    version: str = "1.0"  # "1.0" (conv1 96 x 7x7) or "1.1" (conv1 64 x 3x3)
    height: int = 224
    width: int = 224
    num_classes: int = 1000
    batch_norm: bool = True  # unfolded batch norm: MUL and ADD after squeeze layers and conv10
    bypass: bool = False  # ADD around fire modules 3, 5, 7, 9
    input_type: str = "UINT8"  # UINT8 or FLOAT32 (then a QUANTIZE to int8), or INT8
    output_type: str = "FLOAT32"  # FLOAT32 (DEQUANTIZE), UINT8 (QUANTIZE) or INT8
    seed: int = 0

    @property
    def name(self) -> str:
        parts = [f"squeezenet_v{self.version}", f"{self.height}x{self.width}",
                 f"{self.num_classes}cls", "bn" if self.batch_norm else "nobn"]
        if self.bypass:
            parts.append("bypass")
        parts += [f"{self.input_type.lower()}_to_{self.output_type.lower()}", f"seed{self.seed}"]
        return "_".join(parts)

    def input_array(self, rng) -> np.ndarray:
        """A random input of the model's input type (the image is [0, 1])."""
        shape = (1, self.height, self.width, 3)
        if self.input_type == "FLOAT32":
            return rng.random(shape, dtype=np.float32)
        if self.input_type == "UINT8":
            return rng.integers(0, 256, shape, dtype=np.uint8)
        return rng.integers(-128, 128, shape, dtype=np.int8)


# -- the float network -----------------------------------------------------------------

@dataclass
class _Node:
    op: str
    inputs: tuple
    params: dict
    name: str


class _Net:
    """A float graph: nodes in topological order, evaluated in NumPy."""

    def __init__(self):
        self.nodes: list = []

    def add(self, op, inputs, name, **params) -> int:
        self.nodes.append(_Node(op, tuple(inputs), params, name))
        return len(self.nodes) - 1

    def run(self, x: np.ndarray) -> list:
        values = []
        for node in self.nodes:
            args = [values[i] for i in node.inputs]
            values.append(_EVAL[node.op](*args, **node.params) if node.op != "input" else x)
        return values


def _pad_same(size, k, stride):
    out = (size + stride - 1) // stride
    total = max((out - 1) * stride + k - size, 0)
    return total // 2, total - total // 2


def _activate(y, act):
    if act == "RELU":
        return np.maximum(y, 0)
    if act == "RELU6":
        return np.clip(y, 0, 6)
    return y


def _windows(x, kh, kw, stride, padding):
    """(n, oh, ow, c, kh, kw) windows of an NHWC array."""
    if padding == "SAME":
        ph, pw = _pad_same(x.shape[1], kh, stride), _pad_same(x.shape[2], kw, stride)
        x = np.pad(x, ((0, 0), ph, pw, (0, 0)))
    win = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(1, 2))
    return win[:, ::stride, ::stride]


def _conv(x, w, b, stride, padding, act):
    cout, kh, kw, cin = w.shape
    win = _windows(x, kh, kw, stride, padding)
    y = np.tensordot(win, w.transpose(3, 1, 2, 0), axes=([3, 4, 5], [0, 1, 2])) + b
    return _activate(y, act)


def _dwconv(x, w, b, stride, act):
    """Depthwise, SAME padding; w [1, kh, kw, c] (depth multiplier 1)."""
    _, kh, kw, c = w.shape
    win = _windows(x, kh, kw, stride, "SAME")  # (n, oh, ow, c, kh, kw)
    y = np.einsum("nyxcij,ijc->nyxc", win, w[0]) + b
    return _activate(y, act)


def _maxpool(x, k=3, stride=2):
    win = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(1, 2))
    return win[:, ::stride, ::stride].max(axis=(-1, -2))


def _softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


_EVAL = {
    "conv": _conv,
    "maxpool": _maxpool,
    "dwconv": _dwconv,
    "bn": lambda x, m, beta: x * m + beta,
    "concat": lambda a, b: np.concatenate([a, b], axis=-1),
    "add": lambda a, b, act="NONE": _activate(a + b, act),
    "mean": lambda x: x.mean(axis=(1, 2)),
    "avgpool": lambda x: x.mean(axis=(1, 2), keepdims=True),
    "fc": lambda x, w, b: x.reshape(x.shape[0], -1) @ w.T + b,
    "softmax": _softmax,
}


def _float_network(spec: SqueezeNetSpec, rng) -> _Net:
    net = _Net()

    def conv(x, cin, cout, k, stride, padding, name, gain=1.0):
        std = gain * math.sqrt(2.0 / (k * k * cin))
        w = rng.normal(0, std, (cout, k, k, cin)).astype(np.float32)
        b = rng.normal(0, 0.05, cout).astype(np.float32)
        return net.add("conv", [x], name, w=w, b=b, stride=stride, padding=padding, act="RELU")

    def bn(x, c, name):
        m = rng.uniform(0.5, 2.0, c).astype(np.float32)
        beta = rng.normal(0, 0.3, c).astype(np.float32)
        return net.add("bn", [x], name, m=m, beta=beta)

    x = net.add("input", [], "input")
    if spec.version == "1.0":
        x = conv(x, 3, 96, 7, 2, "VALID", "conv1")
        channels = 96
    elif spec.version == "1.1":
        x = conv(x, 3, 64, 3, 2, "VALID", "conv1")
        channels = 64
    else:
        raise ValueError(f"SqueezeNet version {spec.version!r}, expected '1.0' or '1.1'")
    x = net.add("maxpool", [x], "pool1")
    for fire in range(2, 10):
        if fire in POOL_BEFORE[spec.version]:
            x = net.add("maxpool", [x], f"pool_before_fire{fire}")
        squeeze, expand = FIRES[fire]
        s = conv(x, channels, squeeze, 1, 1, "VALID", f"fire{fire}_squeeze")
        if spec.batch_norm:
            s = bn(s, squeeze, f"fire{fire}_squeeze_bn")
        e1 = conv(s, squeeze, expand, 1, 1, "VALID", f"fire{fire}_expand_1x1")
        e3 = conv(s, squeeze, expand, 3, 1, "SAME", f"fire{fire}_expand_3x3")
        out = net.add("concat", [e1, e3], f"fire{fire}_concat")
        if spec.bypass and fire in BYPASS_FIRES:
            out = net.add("add", [x, out], f"fire{fire}_bypass")
        x, channels = out, 2 * expand
    x = conv(x, channels, spec.num_classes, 1, 1, "VALID", "conv10")
    if spec.batch_norm:
        x = bn(x, spec.num_classes, "conv10_bn")
    logits = net.add("mean", [x], "avgpool10")
    net.add("softmax", [logits], "softmax")
    return net


def _spread_logits(net: _Net, calib: np.ndarray, target_std: float = 1.5,
                   classifier: str = "conv10") -> None:
    """Scale the classifier layer so that the logits spread over a few units: a
    classifier's softmax is then far from uniform (and TFLite's reference
    softmax, which aborts when a row's sum of exponentials reaches 512, stays
    defined)."""
    values = net.run(calib)
    logits = values[-2]
    spread = float(np.mean(np.std(logits, axis=-1)))
    k = target_std / max(spread, 1e-6)
    layer = next(n for n in net.nodes if n.name == classifier)
    layer.params["w"] = (layer.params["w"] * k).astype(np.float32)
    layer.params["b"] = (layer.params["b"] * k).astype(np.float32)
    bn = [n for n in net.nodes if n.name == "conv10_bn"]
    if bn:  # y = m * k * relu(..) + k * beta keeps the whole affine map scaled
        bn[0].params["beta"] = (bn[0].params["beta"] * k).astype(np.float32)


# -- quantization ----------------------------------------------------------------------

def _asymmetric(lo: float, hi: float):
    """The converter's int8 activation quantization of a range [lo, hi]."""
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    if hi - lo < 1e-8:
        hi = lo + 1e-8
    scale = np.float32((hi - lo) / 255.0)
    zp = int(np.clip(round(-128 - lo / float(scale)), -128, 127))
    return float(scale), zp


def _quantize_vector(v):
    scale, zp = _asymmetric(v.min(), v.max())
    q = np.clip(np.round(v / scale) + zp, -128, 127).astype(np.int8)
    return q, scale, zp


def _symmetric_per_channel(w, axis: int = 0):
    """int8 weights in -127..127, one scale per index of ``axis``."""
    others = tuple(d for d in range(w.ndim) if d != axis)
    m = np.abs(w).max(axis=others)
    scales = np.where(m > 0, m / 127.0, 1e-8).astype(np.float32)
    shape = [1] * w.ndim
    shape[axis] = -1
    q = np.clip(np.round(w / scales.reshape(shape)), -127, 127).astype(np.int8)
    return q, scales


def _symmetric_per_tensor(w):
    m = float(np.abs(w).max())
    scale = np.float32(m / 127.0 if m > 0 else 1e-8)
    return np.clip(np.round(w / scale), -127, 127).astype(np.int8), np.array([scale])


def squeezenet(spec: SqueezeNetSpec, calibration_images: int = 2) -> bytes:
    """The bytes of the quantized model described by ``spec``."""
    return _build(spec, _float_network, calibration_images, "conv10")


def _build(spec, float_network, calibration_images: int, classifier: str) -> bytes:
    """The float network ``float_network(spec, rng)`` (seeded with
    ``spec.seed``), its ``classifier`` layer scaled so that the logits
    spread, quantized on random calibration images."""
    rng = np.random.default_rng(spec.seed)
    net = float_network(spec, rng)
    calib = rng.random((calibration_images, spec.height, spec.width, 3)).astype(np.float32)
    _spread_logits(net, calib, classifier=classifier)
    return _write(net, spec, calib)


def _quantization(net: _Net, values) -> list:
    """Each node's (scale, zero point) as the converter chooses them: from
    the calibration range, the pools keeping their input's, softmax 1/256 and
    -128, the inputs of a concatenation taking its own."""
    ranges = [(float(v.min()), float(v.max())) for v in values]
    quant = [None] * len(net.nodes)
    for i, node in enumerate(net.nodes):
        if node.op in ("maxpool", "avgpool"):
            quant[i] = quant[node.inputs[0]]
        elif node.op == "softmax":
            quant[i] = (1.0 / 256, -128)
        elif node.op == "input":
            quant[i] = (float(np.float32(1 / 255)), -128)
        else:
            quant[i] = _asymmetric(*ranges[i])
    for i, node in enumerate(net.nodes):
        if node.op == "concat":
            for j in node.inputs:
                quant[j] = quant[i]
    return quant


def _weights_and_bias(g, node, in_scale: float, kind: str):
    """The node's weights and bias as constants: ``kind`` "conv" (per channel,
    OHWI), "depthwise" (per channel along the last axis) or "fc" (per tensor)."""
    if kind == "conv":
        wq, wscales = _symmetric_per_channel(node.params["w"])
    elif kind == "depthwise":
        wq, wscales = _symmetric_per_channel(node.params["w"], axis=3)
    else:
        wq, wscales = _symmetric_per_tensor(node.params["w"])
    bscales = np.float64(np.float32(in_scale)) * wscales.astype(np.float64)
    bq = np.round(node.params["b"] / bscales).astype(np.int32)
    n = wscales.size
    wt = g.constant(f"{node.name}/weights", wq, scale=wscales, zero_point=[0] * n,
                    quantized_dimension=3 if kind == "depthwise" else 0)
    bt = g.constant(f"{node.name}/bias", bq, scale=bscales.astype(np.float32),
                    zero_point=[0] * n, quantized_dimension=0)
    return wt, bt


def _write(net: _Net, spec, calib) -> bytes:
    """The TFLite model of float network ``net`` quantized on ``calib``, with
    ``spec``'s input and output types (``spec`` has height, width,
    num_classes, input_type, output_type and name)."""
    values = net.run(calib)
    quant = _quantization(net, values)
    g = GraphBuilder(description=f"int8sqz.testing.networks {spec.name}")
    h, w = spec.height, spec.width
    if spec.input_type == "UINT8":
        raw = g.input("input", (1, h, w, 3), "UINT8", scale=1 / 255, zero_point=0)
    elif spec.input_type == "FLOAT32":
        raw = g.input("input", (1, h, w, 3), "FLOAT32")
    elif spec.input_type == "INT8":
        raw = None
    else:
        raise ValueError(f"input type {spec.input_type!r}, expected UINT8, FLOAT32 or INT8")

    tensors = [None] * len(net.nodes)
    shapes = [v.shape[1:] for v in values]
    for i, node in enumerate(net.nodes):
        scale, zp = quant[i]
        shape = (1,) + tuple(shapes[i])
        if node.op == "input":
            if raw is None:
                tensors[i] = g.input("input", shape, "INT8", scale=scale, zero_point=zp)
            else:
                tensors[i] = g.tensor("input_int8", shape, "INT8", scale=scale, zero_point=zp)
                g.operator("QUANTIZE", [raw], tensors[i])
            continue
        out = g.tensor(node.name, shape, "INT8", scale=scale, zero_point=zp)
        ins = [tensors[j] for j in node.inputs]
        in_scale = quant[node.inputs[0]][0]
        p = node.params
        if node.op == "conv":
            wt, bt = _weights_and_bias(g, node, in_scale, "conv")
            g.operator("CONV_2D", [ins[0], wt, bt], out, padding=p["padding"],
                       stride_w=p["stride"], stride_h=p["stride"],
                       fused_activation_function=p["act"])
        elif node.op == "dwconv":
            wt, bt = _weights_and_bias(g, node, in_scale, "depthwise")
            g.operator("DEPTHWISE_CONV_2D", [ins[0], wt, bt], out, padding="SAME",
                       stride_w=p["stride"], stride_h=p["stride"], depth_multiplier=1,
                       fused_activation_function=p["act"])
        elif node.op == "fc":
            wt, bt = _weights_and_bias(g, node, in_scale, "fc")
            g.operator("FULLY_CONNECTED", [ins[0], wt, bt], out)
        elif node.op == "maxpool":
            g.operator("MAX_POOL_2D", ins, out, padding="VALID", stride_w=2, stride_h=2,
                       filter_width=3, filter_height=3)
        elif node.op == "avgpool":
            g.operator("AVERAGE_POOL_2D", ins, out, padding="VALID", stride_w=1, stride_h=1,
                       filter_height=shapes[node.inputs[0]][0],
                       filter_width=shapes[node.inputs[0]][1])
        elif node.op == "bn":
            mq, ms, mz = _quantize_vector(p["m"])
            bq, bs, bz = _quantize_vector(p["beta"])
            # the converter quantizes x * m into its own tensor before the ADD
            mid = values[i] - p["beta"]
            mscale, mzp = _asymmetric(float(mid.min()), float(mid.max()))
            prod = g.tensor(f"{node.name}/mul", shape, "INT8", scale=mscale, zero_point=mzp)
            g.operator("MUL", [ins[0], g.constant(f"{node.name}/multiplier", mq, scale=ms,
                                                  zero_point=mz)], prod)
            g.operator("ADD", [prod, g.constant(f"{node.name}/offset", bq, scale=bs,
                                                zero_point=bz)], out)
        elif node.op == "concat":
            g.operator("CONCATENATION", ins, out, axis=3)
        elif node.op == "add":
            g.operator("ADD", ins, out, fused_activation_function=p.get("act", "NONE"))
        elif node.op == "mean":
            axes = g.constant(f"{node.name}/axes", np.array([1, 2], np.int32))
            g.operator("MEAN", [ins[0], axes], out, keep_dims=False)
        elif node.op == "softmax":
            g.operator("SOFTMAX", ins, out, beta=1.0)
        tensors[i] = out

    last = tensors[-1]
    if spec.output_type == "FLOAT32":
        y = g.tensor("probabilities", (1, spec.num_classes), "FLOAT32")
        g.operator("DEQUANTIZE", [last], y)
    elif spec.output_type == "UINT8":
        y = g.tensor("probabilities", (1, spec.num_classes), "UINT8", scale=1 / 256,
                     zero_point=0)
        g.operator("QUANTIZE", [last], y)
    elif spec.output_type == "INT8":
        y = last
    else:
        raise ValueError(f"output type {spec.output_type!r}, expected FLOAT32, UINT8 or INT8")
    g.output(y)
    return g.build()


# -- MobileNet v2 and ResNet -----------------------------------------------------------

@dataclass(frozen=True)
class _ImageSpec:
    """What every family's spec has: the input and output, the seed."""

    height: int = 32
    width: int = 32
    num_classes: int = 10
    input_type: str = "UINT8"  # UINT8 or FLOAT32 (then a QUANTIZE to int8), or INT8
    output_type: str = "FLOAT32"  # FLOAT32 (DEQUANTIZE), UINT8 (QUANTIZE) or INT8
    seed: int = 0

    def _suffix(self) -> list:
        return [f"{self.height}x{self.width}", f"{self.num_classes}cls",
                f"{self.input_type.lower()}_to_{self.output_type.lower()}", f"seed{self.seed}"]

    def input_array(self, rng) -> np.ndarray:
        """A random input of the model's input type (the image is [0, 1])."""
        return SqueezeNetSpec.input_array(self, rng)


#: (expansion, output channels, stride) of each inverted residual block
MOBILENET_V2_BLOCKS = ((1, 8, 1), (4, 12, 2), (4, 12, 1), (4, 16, 2), (4, 16, 1), (4, 24, 1))


@dataclass(frozen=True)
class MobileNetV2Spec(_ImageSpec):
    stem: int = 8  # channels of the stem convolution
    blocks: tuple = MOBILENET_V2_BLOCKS
    last: int = 48  # channels of the last 1x1 expansion

    @property
    def name(self) -> str:
        return "_".join(["mobilenet_v2_like", f"stem{self.stem}",
                         f"{len(self.blocks)}blocks"] + self._suffix())


def _he(rng, shape, fan_in: int, gain: float = 1.0):
    return (rng.normal(0, gain * math.sqrt(2.0 / fan_in), shape)).astype(np.float32)


def _bias(rng, n: int):
    return rng.normal(0, 0.05, n).astype(np.float32)


def _conv_adder(net: _Net, rng):
    """``conv(x, cin, cout, k, stride, act, name, gain=1)``: adds a SAME
    convolution with He-initialised weights to ``net``."""
    def conv(x, cin, cout, k, stride, act, name, gain=1.0):
        return net.add("conv", [x], name, w=_he(rng, (cout, k, k, cin), k * k * cin, gain),
                       b=_bias(rng, cout), stride=stride, padding="SAME", act=act)
    return conv


def _mobilenet_float(spec: MobileNetV2Spec, rng) -> _Net:
    net = _Net()
    conv = _conv_adder(net, rng)

    x = net.add("input", [], "input")
    x = conv(x, 3, spec.stem, 3, 2, "RELU6", "stem")
    channels = spec.stem
    for k, (expansion, cout, stride) in enumerate(spec.blocks):
        block_in = x
        hidden = channels * expansion
        if expansion != 1:
            x = conv(x, channels, hidden, 1, 1, "RELU6", f"block{k}_expand")
        x = net.add("dwconv", [x], f"block{k}_depthwise", w=_he(rng, (1, 3, 3, hidden), 9),
                    b=_bias(rng, hidden), stride=stride, act="RELU6")
        x = conv(x, hidden, cout, 1, 1, "NONE", f"block{k}_project")
        if stride == 1 and cout == channels:
            x = net.add("add", [block_in, x], f"block{k}_add")
        channels = cout
    x = conv(x, channels, spec.last, 1, 1, "RELU6", "last")
    return _classifier(net, rng, net.add("mean", [x], "pool"), spec.last, spec.num_classes)


def _classifier(net: _Net, rng, x: int, channels: int, classes: int) -> _Net:
    """FULLY_CONNECTED ("logits") and SOFTMAX after node x."""
    x = net.add("fc", [x], "logits", w=_he(rng, (classes, channels), channels),
                b=_bias(rng, classes))
    net.add("softmax", [x], "softmax")
    return net


def mobilenet_v2(spec: MobileNetV2Spec, calibration_images: int = 2) -> bytes:
    """The bytes of the quantized MobileNet-v2-like model described by ``spec``."""
    return _build(spec, _mobilenet_float, calibration_images, "logits")


#: (output channels, stride) of each residual block
RESNET_BLOCKS = ((8, 1), (16, 2), (16, 1), (24, 2))


@dataclass(frozen=True)
class ResNetSpec(_ImageSpec):
    stem: int = 8
    blocks: tuple = RESNET_BLOCKS

    @property
    def name(self) -> str:
        return "_".join(["resnet_like", f"stem{self.stem}", f"{len(self.blocks)}blocks"]
                        + self._suffix())


def _resnet_float(spec: ResNetSpec, rng) -> _Net:
    net = _Net()
    conv = _conv_adder(net, rng)

    x = net.add("input", [], "input")
    x = conv(x, 3, spec.stem, 3, 1, "RELU", "stem")
    channels = spec.stem
    for k, (cout, stride) in enumerate(spec.blocks):
        shortcut = x
        y = conv(x, channels, cout, 3, stride, "RELU", f"block{k}_conv1")
        y = conv(y, cout, cout, 3, 1, "NONE", f"block{k}_conv2", gain=0.5)
        if stride != 1 or cout != channels:
            shortcut = conv(x, channels, cout, 1, stride, "NONE", f"block{k}_shortcut")
        x = net.add("add", [shortcut, y], f"block{k}_add", act="RELU")
        channels = cout
    return _classifier(net, rng, net.add("avgpool", [x], "pool"), channels, spec.num_classes)


def resnet(spec: ResNetSpec, calibration_images: int = 2) -> bytes:
    """The bytes of the quantized ResNet-like model described by ``spec``."""
    return _build(spec, _resnet_float, calibration_images, "logits")
