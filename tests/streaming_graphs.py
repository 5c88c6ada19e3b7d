"""Random small int8 networks for the streaming tests: a chain of windowed
and elementwise operators over one tall, narrow image (so that bands of
rows matter), with the geometry that decides which rows a band reads drawn
widely: convolutions and depthwise convolutions of any height, stride and
dilation with SAME or VALID padding, both pools, PAD with rows above and
below, elementwise operators with a per-channel constant or a second
activation (a residual), RELU, and SqueezeNet's fire module (squeeze, two
expands, concatenation).

:func:`chains` draws one (int8sqz.testing.writer bytes, as
memplan_graphs.Graph). Every activation shares one quantization, so every
combination prepares in TFLite.
"""

from __future__ import annotations

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st
from memplan_graphs import Graph

from int8sqz.ops._window import padding_height_width
from int8sqz.testing.writer import GraphBuilder

ACT = {"scale": 0.05, "zero_point": -3}
KINDS = ("CONV_2D", "CONV_2D", "DEPTHWISE_CONV_2D", "DEPTHWISE_CONV_2D", "MAX_POOL_2D",
         "AVERAGE_POOL_2D", "PAD", "ADD", "MUL", "RELU", "FIRE", "RESIDUAL")


@st.composite
def chains(draw, max_ops: int = 6, kinds=KINDS):
    g = GraphBuilder(description="tests/streaming_graphs.py")
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    h = draw(st.integers(5, 24))
    w = draw(st.integers(1, 5))
    c = draw(st.sampled_from((1, 2, 3, 4, 8)))
    x = g.input("in", (1, h, w, c), "INT8", **ACT)
    cur, shape = x, (1, h, w, c)
    log = [f"input {list(shape)}"]

    def conv(name, src, shape, oc, kh, kw, stride=(1, 1), dilation=(1, 1), padding="SAME",
             act="NONE"):
        _, sh, sw, sc = shape
        win = padding_height_width(stride[0], stride[1], dilation[0], dilation[1], sh, sw,
                                   kh, kw, padding)
        assume(win.out_height > 0 and win.out_width > 0)
        wscale = rng.uniform(0.005, 0.02, size=oc)
        wt = g.constant(f"{name}/w", rng.integers(-127, 128, size=(oc, kh, kw, sc),
                                                  dtype=np.int8),
                        scale=wscale, quantized_dimension=0)
        b = g.constant(f"{name}/b", rng.integers(-500, 500, size=oc, dtype=np.int32),
                       scale=ACT["scale"] * wscale, quantized_dimension=0)
        out_shape = (1, win.out_height, win.out_width, oc)
        y = g.tensor(name, out_shape, "INT8", **ACT)
        g.operator("CONV_2D", [src, wt, b], y, padding=padding, stride_h=stride[0],
                   stride_w=stride[1], dilation_hfactor=dilation[0],
                   dilation_wfactor=dilation[1], fused_activation_function=act)
        return y, out_shape

    for k in range(draw(st.integers(2, max_ops))):
        kind = draw(st.sampled_from(kinds))
        _, sh, sw, sc = shape
        if kind == "CONV_2D":
            kh, kw = draw(st.integers(1, 5)), draw(st.integers(1, 3))
            stride = (draw(st.integers(1, 3)), draw(st.integers(1, 2)))
            dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 2)))
            padding = draw(st.sampled_from(("SAME", "VALID")))
            y, out_shape = conv(f"conv{k}", cur, shape, draw(st.integers(1, 8)), kh, kw, stride,
                                dilation, padding, draw(st.sampled_from(("NONE", "RELU"))))
            what = f"CONV_2D {kh}x{kw} /{stride} dil {dilation} {padding}"
        elif kind == "DEPTHWISE_CONV_2D":
            kh, kw = draw(st.integers(1, 5)), draw(st.integers(1, 3))
            stride = (draw(st.integers(1, 3)), draw(st.integers(1, 2)))
            dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 2)))
            padding = draw(st.sampled_from(("SAME", "VALID")))
            mult = draw(st.sampled_from((1, 1, 2)))
            win = padding_height_width(stride[0], stride[1], dilation[0], dilation[1], sh, sw,
                                       kh, kw, padding)
            assume(win.out_height > 0 and win.out_width > 0)
            oc = sc * mult
            wscale = rng.uniform(0.005, 0.02, size=oc)
            wt = g.constant(f"dw{k}/w", rng.integers(-127, 128, size=(1, kh, kw, oc),
                                                     dtype=np.int8),
                            scale=wscale, quantized_dimension=3)
            b = g.constant(f"dw{k}/b", rng.integers(-500, 500, size=oc, dtype=np.int32),
                           scale=ACT["scale"] * wscale, quantized_dimension=0)
            out_shape = (1, win.out_height, win.out_width, oc)
            y = g.tensor(f"dw{k}", out_shape, "INT8", **ACT)
            g.operator("DEPTHWISE_CONV_2D", [cur, wt, b], y, padding=padding,
                       stride_h=stride[0], stride_w=stride[1], dilation_hfactor=dilation[0],
                       dilation_wfactor=dilation[1], depth_multiplier=mult,
                       fused_activation_function=draw(st.sampled_from(("NONE", "RELU6"))))
            what = f"DEPTHWISE_CONV_2D {kh}x{kw} x{mult} /{stride} dil {dilation} {padding}"
        elif kind in ("MAX_POOL_2D", "AVERAGE_POOL_2D"):
            fh, fw = draw(st.integers(1, 4)), draw(st.integers(1, 3))
            stride = (draw(st.integers(1, 3)), draw(st.integers(1, 2)))
            padding = draw(st.sampled_from(("SAME", "VALID")))
            win = padding_height_width(stride[0], stride[1], 1, 1, sh, sw, fh, fw, padding)
            assume(win.out_height > 0 and win.out_width > 0)
            if kind == "AVERAGE_POOL_2D":  # TFLite fails on a window without a pixel
                assume(fh > win.pad_height and fw > win.pad_width)
            out_shape = (1, win.out_height, win.out_width, sc)
            y = g.tensor(f"pool{k}", out_shape, "INT8", **ACT)
            g.operator(kind, [cur], y, padding=padding, stride_h=stride[0],
                       stride_w=stride[1], filter_height=fh, filter_width=fw)
            what = f"{kind} {fh}x{fw} /{stride} {padding}"
        elif kind == "PAD":
            pads = [[0, 0], [draw(st.integers(0, 3)), draw(st.integers(0, 3))],
                    [draw(st.integers(0, 2)), draw(st.integers(0, 2))],
                    [0, draw(st.integers(0, 1))]]
            out_shape = tuple(d + a + b for d, (a, b) in zip(shape, pads))
            p = g.constant(f"pad{k}/paddings", np.array(pads, np.int32))
            y = g.tensor(f"pad{k}", out_shape, "INT8", **ACT)
            g.operator("PAD", [cur, p], y)
            what = f"PAD {pads}"
        elif kind in ("ADD", "MUL"):
            other = g.constant(f"k{k}", rng.integers(-128, 128, size=(sc,), dtype=np.int8),
                               **ACT)
            operands = [cur, other] if draw(st.booleans()) else [other, cur]
            out_shape = shape
            y = g.tensor(f"{kind.lower()}{k}", out_shape, "INT8", **ACT)
            g.operator(kind, operands, y)
            what = f"{kind} by a per-channel constant"
        elif kind == "RELU":
            out_shape = shape
            y = g.tensor(f"relu{k}", out_shape, "INT8", **ACT)
            g.operator("RELU", [cur], y)
            what = "RELU"
        elif kind == "RESIDUAL":  # x + conv(x), two activations
            r, _ = conv(f"res{k}", cur, shape, sc, draw(st.sampled_from((1, 3))), 3,
                        act="RELU")
            out_shape = shape
            y = g.tensor(f"sum{k}", out_shape, "INT8", **ACT)
            g.operator("ADD", [cur, r] if draw(st.booleans()) else [r, cur], y)
            what = "residual ADD"
        else:  # FIRE
            s, s_shape = conv(f"fire{k}/squeeze", cur, shape, draw(st.integers(1, 4)), 1, 1,
                              act="RELU")
            e1, e1_shape = conv(f"fire{k}/e1", s, s_shape, draw(st.integers(1, 6)), 1, 1,
                                act="RELU")
            e3, e3_shape = conv(f"fire{k}/e3", s, s_shape, draw(st.integers(1, 6)), 3, 3,
                                act="RELU")
            out_shape = s_shape[:3] + (e1_shape[3] + e3_shape[3],)
            y = g.tensor(f"fire{k}", out_shape, "INT8", **ACT)
            g.operator("CONCATENATION", [e1, e3], y, axis=draw(st.sampled_from((3, -1))))
            what = "FIRE"
        log.append(f"{what} -> {list(out_shape)}")
        cur, shape = y, out_shape
    g.output(cur)
    return Graph(g.build(), [((1, h, w, c), np.int8)], "; ".join(log))
