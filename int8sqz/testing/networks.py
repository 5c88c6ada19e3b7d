"""Whole SqueezeNet models with seeded random weights, quantized as TFLite's
converter quantizes a trained network.

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


def _conv(x, w, b, stride, padding, relu):
    cout, kh, kw, cin = w.shape
    if padding == "SAME":
        ph, pw = _pad_same(x.shape[1], kh, stride), _pad_same(x.shape[2], kw, stride)
        x = np.pad(x, ((0, 0), ph, pw, (0, 0)))
    win = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(1, 2))
    win = win[:, ::stride, ::stride]  # (n, oh, ow, cin, kh, kw)
    y = np.tensordot(win, w.transpose(3, 1, 2, 0), axes=([3, 4, 5], [0, 1, 2])) + b
    return np.maximum(y, 0) if relu else y


def _maxpool(x, k=3, stride=2):
    win = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(1, 2))
    return win[:, ::stride, ::stride].max(axis=(-1, -2))


def _softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


_EVAL = {
    "conv": _conv,
    "maxpool": _maxpool,
    "bn": lambda x, m, beta: x * m + beta,
    "concat": lambda a, b: np.concatenate([a, b], axis=-1),
    "add": lambda a, b: a + b,
    "mean": lambda x: x.mean(axis=(1, 2)),
    "softmax": _softmax,
}


def _float_network(spec: SqueezeNetSpec, rng) -> _Net:
    net = _Net()

    def conv(x, cin, cout, k, stride, padding, name, gain=1.0):
        std = gain * math.sqrt(2.0 / (k * k * cin))
        w = rng.normal(0, std, (cout, k, k, cin)).astype(np.float32)
        b = rng.normal(0, 0.05, cout).astype(np.float32)
        return net.add("conv", [x], name, w=w, b=b, stride=stride, padding=padding, relu=True)

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


def _spread_logits(net: _Net, calib: np.ndarray, target_std: float = 1.5) -> None:
    """Scale conv10 so that the logits spread over a few units: a classifier's
    softmax is then far from uniform (and TFLite's reference softmax, which
    aborts when a row's sum of exponentials reaches 512, stays defined)."""
    values = net.run(calib)
    logits = values[-2]
    spread = float(np.mean(np.std(logits, axis=-1)))
    k = target_std / max(spread, 1e-6)
    conv10 = next(n for n in net.nodes if n.name == "conv10")
    conv10.params["w"] = (conv10.params["w"] * k).astype(np.float32)
    conv10.params["b"] = (conv10.params["b"] * k).astype(np.float32)
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


def _symmetric_per_channel(w):
    m = np.abs(w.reshape(w.shape[0], -1)).max(axis=1)
    scales = np.where(m > 0, m / 127.0, 1e-8).astype(np.float32)
    q = np.clip(np.round(w / scales.reshape(-1, 1, 1, 1)), -127, 127).astype(np.int8)
    return q, scales


def squeezenet(spec: SqueezeNetSpec, calibration_images: int = 2) -> bytes:
    """The bytes of the quantized model described by ``spec``."""
    rng = np.random.default_rng(spec.seed)
    net = _float_network(spec, rng)
    calib = rng.random((calibration_images, spec.height, spec.width, 3)).astype(np.float32)
    _spread_logits(net, calib)
    values = net.run(calib)
    ranges = [(float(v.min()), float(v.max())) for v in values]

    # the expand convolutions take their concatenation's quantization
    quant = [None] * len(net.nodes)
    for i, node in enumerate(net.nodes):
        if node.op in ("conv", "bn", "add", "mean", "concat"):
            quant[i] = _asymmetric(*ranges[i])
        elif node.op == "maxpool":
            quant[i] = quant[node.inputs[0]]
        elif node.op == "softmax":
            quant[i] = (1.0 / 256, -128)
        elif node.op == "input":
            quant[i] = (float(np.float32(1 / 255)), -128)
    for i, node in enumerate(net.nodes):
        if node.op == "concat":
            for j in node.inputs:
                quant[j] = quant[i]

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
        if node.op == "conv":
            in_scale = quant[node.inputs[0]][0]
            wq, wscales = _symmetric_per_channel(node.params["w"])
            bscales = (np.float64(np.float32(in_scale)) * wscales.astype(np.float64))
            bq = np.round(node.params["b"] / bscales).astype(np.int32)
            cout = wq.shape[0]
            wt = g.constant(f"{node.name}/weights", wq, scale=wscales, zero_point=[0] * cout,
                            quantized_dimension=0)
            bt = g.constant(f"{node.name}/bias", bq, scale=bscales.astype(np.float32),
                            zero_point=[0] * cout, quantized_dimension=0)
            g.operator("CONV_2D", [ins[0], wt, bt], out, padding=node.params["padding"],
                       stride_w=node.params["stride"], stride_h=node.params["stride"],
                       fused_activation_function="RELU")
        elif node.op == "maxpool":
            g.operator("MAX_POOL_2D", ins, out, padding="VALID", stride_w=2, stride_h=2,
                       filter_width=3, filter_height=3)
        elif node.op == "bn":
            mq, ms, mz = _quantize_vector(node.params["m"])
            bq, bs, bz = _quantize_vector(node.params["beta"])
            # the converter quantizes x * m into its own tensor before the ADD
            mid = values[i] - node.params["beta"]
            mscale, mzp = _asymmetric(float(mid.min()), float(mid.max()))
            prod = g.tensor(f"{node.name}/mul", shape, "INT8", scale=mscale, zero_point=mzp)
            g.operator("MUL", [ins[0], g.constant(f"{node.name}/multiplier", mq, scale=ms,
                                                  zero_point=mz)], prod)
            g.operator("ADD", [prod, g.constant(f"{node.name}/offset", bq, scale=bs,
                                                zero_point=bz)], out)
        elif node.op == "concat":
            g.operator("CONCATENATION", ins, out, axis=3)
        elif node.op == "add":
            g.operator("ADD", ins, out)
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
