"""Random small int8 graphs of varied topology, for the memory planner tests.

:func:`graphs` is a Hypothesis strategy drawing a model (bytes written by
int8sqz.testing.writer) whose tensors have varied sizes (often equal ones,
so that TFLite Micro's tie rule matters) and varied lifetimes: tensors read
by several later operators, graph outputs that are also read, unused graph
inputs, tensors nobody reads, concatenations (also of one tensor twice),
elementwise operators with a broadcast constant or two activations, pools
and convolutions that shrink or keep their input, MEAN (a kernel scratch
buffer in TFLite Micro) and DEQUANTIZE to float. Every activation shares one
int8 quantization, so every combination is valid for TFLite and TFLite Micro.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

from int8sqz.testing.writer import GraphBuilder

ACT = {"scale": 0.05, "zero_point": -3}
KINDS = ("CONV_2D", "MAX_POOL_2D", "AVERAGE_POOL_2D", "ADD", "MUL", "CONCATENATION", "FIRE")


@dataclass
class Graph:
    content: bytes
    inputs: list  # (shape, numpy dtype) per graph input
    description: str

    def random_inputs(self, seed: int) -> list:
        rng = np.random.default_rng(seed)
        out = []
        for shape, dtype in self.inputs:
            info = np.iinfo(dtype)
            out.append(rng.integers(info.min, info.max + 1, size=shape, dtype=dtype))
        return out


@st.composite
def graphs(draw, max_ops: int = 7, kinds=KINDS):
    g = GraphBuilder()
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    h = draw(st.sampled_from((4, 6, 8)))
    c = draw(st.sampled_from((2, 4, 8)))
    log = []
    acts = []  # 4-D int8 activations: (tensor, shape)
    inputs = []
    if draw(st.booleans()):
        x = g.input("in_u8", (1, h, h, c), "UINT8", scale=0.05, zero_point=125)
        q = g.tensor("quantized", (1, h, h, c), "INT8", **ACT)
        g.operator("QUANTIZE", [x], q)
        inputs.append(((1, h, h, c), np.uint8))
        acts.append((q, (1, h, h, c)))
        log.append("QUANTIZE")
    else:
        x = g.input("in", (1, h, h, c), "INT8", **ACT)
        inputs.append(((1, h, h, c), np.int8))
        acts.append((x, (1, h, h, c)))
    extra = draw(st.sampled_from((None, "used", "unused")))
    if extra is not None:
        c2 = draw(st.sampled_from((2, 4, 8)))
        x2 = g.input("in2", (1, h, h, c2), "INT8", **ACT)
        inputs.append(((1, h, h, c2), np.int8))
        if extra == "used":
            acts.append((x2, (1, h, h, c2)))
    produced = []

    def conv(k, src, shape, oc, kh, stride=1, padding="SAME", act="RELU"):
        _, sh, _, sc = shape
        oh = -(-sh // stride) if padding == "SAME" else (sh - kh) // stride + 1
        wscale = rng.uniform(0.005, 0.02, size=oc)
        w = g.constant(f"w{k}", rng.integers(-127, 128, size=(oc, kh, kh, sc), dtype=np.int8),
                       scale=wscale, quantized_dimension=0)
        b = g.constant(f"b{k}", rng.integers(-500, 500, size=oc, dtype=np.int32),
                       scale=ACT["scale"] * wscale, quantized_dimension=0)
        out_shape = (1, oh, oh, oc)
        y = g.tensor(f"conv{k}", out_shape, "INT8", **ACT)
        g.operator("CONV_2D", [src, w, b], y, padding=padding, stride_h=stride,
                   stride_w=stride, fused_activation_function=act)
        return y, out_shape

    n_ops = draw(st.integers(1, max_ops))
    for k in range(n_ops):
        kind = draw(st.sampled_from(kinds))
        src, shape = draw(st.sampled_from(acts))
        _, sh, sw, sc = shape
        if kind == "FIRE":  # SqueezeNet's fire module: squeeze, two expands, concatenation
            s, s_shape = conv(f"{k}s", src, shape, draw(st.sampled_from((2, 4))), 1)
            e1, e1_shape = conv(f"{k}e1", s, s_shape, draw(st.sampled_from((4, 8))), 1)
            e3, e3_shape = conv(f"{k}e3", s, s_shape, draw(st.sampled_from((4, 8))), 3)
            out_shape = (1, sh, sw, e1_shape[3] + e3_shape[3])
            y = g.tensor(f"fire{k}", out_shape, "INT8", **ACT)
            g.operator("CONCATENATION", [e1, e3], y, axis=3)
            produced += [s, e1, e3]
            log.append(f"FIRE {shape}->{out_shape}")
        elif kind == "CONV_2D":
            kh = draw(st.sampled_from((1, 3)))
            stride = draw(st.sampled_from((1, 2)))
            padding = draw(st.sampled_from(("SAME", "VALID")))
            if padding == "VALID" and sh < kh:
                padding = "SAME"
            oc = draw(st.sampled_from((2, 4, 8)))
            oh = -(-sh // stride) if padding == "SAME" else (sh - kh) // stride + 1
            wscale = rng.uniform(0.005, 0.02, size=oc)
            w = g.constant(f"w{k}", rng.integers(-127, 128, size=(oc, kh, kh, sc), dtype=np.int8),
                           scale=wscale, quantized_dimension=0)
            b = g.constant(f"b{k}", rng.integers(-500, 500, size=oc, dtype=np.int32),
                           scale=ACT["scale"] * wscale, quantized_dimension=0)
            out_shape = (1, oh, oh, oc)
            y = g.tensor(f"conv{k}", out_shape, "INT8", **ACT)
            g.operator("CONV_2D", [src, w, b], y, padding=padding, stride_h=stride,
                       stride_w=stride, fused_activation_function=draw(
                           st.sampled_from(("NONE", "RELU"))))
            log.append(f"CONV_2D {kh}x{kh}/{stride} {padding} {shape}->{out_shape}")
        elif kind in ("MAX_POOL_2D", "AVERAGE_POOL_2D"):
            f = draw(st.sampled_from((1, 2, 3)))
            stride = draw(st.sampled_from((1, 2)))
            padding = draw(st.sampled_from(("SAME", "VALID")))
            if padding == "VALID" and sh < f:
                padding = "SAME"
            oh = -(-sh // stride) if padding == "SAME" else (sh - f) // stride + 1
            out_shape = (1, oh, oh, sc)
            y = g.tensor(f"pool{k}", out_shape, "INT8", **ACT)
            g.operator(kind, [src], y, padding=padding, stride_h=stride, stride_w=stride,
                       filter_height=f, filter_width=f)
            log.append(f"{kind} {f}x{f}/{stride} {padding} {shape}->{out_shape}")
        elif kind in ("ADD", "MUL"):
            same = [a for a in acts if a[1] == shape]
            if draw(st.booleans()):
                other = g.constant(f"k{k}", rng.integers(-128, 128, size=(sc,), dtype=np.int8),
                                   **ACT)
                what = "constant"
            else:
                other, _ = draw(st.sampled_from(same))
                what = f"tensor {other}"
            operands = [src, other] if draw(st.booleans()) else [other, src]
            out_shape = shape
            y = g.tensor(f"{kind.lower()}{k}", out_shape, "INT8", **ACT)
            g.operator(kind, operands, y)
            log.append(f"{kind} {shape} with {what}")
        else:  # CONCATENATION along channels
            same = [a for a in acts if a[1][:3] == shape[:3]]
            parts = draw(st.lists(st.sampled_from(same), min_size=1, max_size=2))
            parts = [(src, shape)] + parts
            out_shape = (1, sh, sw, sum(p[1][3] for p in parts))
            y = g.tensor(f"concat{k}", out_shape, "INT8", **ACT)
            g.operator("CONCATENATION", [p[0] for p in parts], y,
                       axis=draw(st.sampled_from((3, -1))))
            log.append(f"CONCATENATION of {[p[0] for p in parts]} -> {out_shape}")
        acts.append((y, out_shape))
        produced.append(y)
    outputs = [produced[-1]]
    tail = draw(st.sampled_from((None, "MEAN", "DEQUANTIZE")))
    if tail is not None:
        src, shape = draw(st.sampled_from(acts[1:] or acts))
        if tail == "MEAN":
            axis = g.constant("axis", np.array([1, 2], np.int32))
            keep = draw(st.booleans())
            out_shape = (1, 1, 1, shape[3]) if keep else (1, shape[3])
            y = g.tensor("mean", out_shape, "INT8", **ACT)
            g.operator("MEAN", [src, axis], y, keep_dims=keep)
        else:
            y = g.tensor("dequantized", shape, "FLOAT32")
            g.operator("DEQUANTIZE", [src], y)
        log.append(f"{tail} of tensor {src}")
        outputs.append(y)
    if len(produced) > 1 and draw(st.booleans()):
        more = draw(st.sampled_from(produced[:-1]))
        if more not in outputs:
            outputs.append(more)
    g.output(*outputs)
    return Graph(g.build(), inputs, "; ".join(log))


def late_consumer_model() -> bytes:
    """A large tensor made first but read last: the 32-channel output of
    operator 0 waits for a chain of three 1x1 convolutions before its own
    consumer; running operator 0 later lowers the peak (the orders the
    tflm-optimized planner may choose)."""
    g = GraphBuilder()
    rng = np.random.default_rng(5)
    x = g.input("x", (1, 8, 8, 4), "INT8", **ACT)

    def conv(name, src, ic, oc):
        w = g.constant(f"w_{name}", rng.integers(-127, 128, size=(oc, 1, 1, ic), dtype=np.int8),
                       scale=0.01)
        b = g.constant(f"b_{name}", np.zeros(oc, np.int32), scale=ACT["scale"] * 0.01)
        y = g.tensor(name, (1, 8, 8, oc), "INT8", **ACT)
        g.operator("CONV_2D", [src, w, b], y, padding="SAME")
        return y

    big = conv("big", x, 4, 32)
    c = conv("c", conv("b", conv("a", x, 4, 16), 16, 16), 16, 4)
    out = g.tensor("out", (1, 8, 8, 4), "INT8", **ACT)
    g.operator("ADD", [conv("small", big, 32, 4), c], out)
    g.output(out)
    return g.build()
