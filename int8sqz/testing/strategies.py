"""Hypothesis strategies that build one-operator TFLite models, and the
differential check that runs them in int8sqz and in TFLite's reference
kernels.

Each strategy draws a :class:`Case`: the bytes of a model written by
:mod:`int8sqz.testing.writer`, one input array per graph input, and a short
description of the parameters for failure reports. The models are the ones
TFLite's reference kernels accept (the strategies respect every check of the
kernels' Prepare); :func:`check_case` runs a case in both and requires equal
outputs (same dtype, same shape, same bytes).

:data:`MODEL_COUNTS` counts the cases run per operator; the differential test
modules report it at the end of the session (:func:`register_count_report`).
"""

from __future__ import annotations

import collections
import json
import math
import os
from dataclasses import dataclass, field

import numpy as np
from hypothesis import assume, strategies as st

from .reference import run_reference
from .writer import GraphBuilder

ACTIVATIONS = ("NONE", "RELU", "RELU6", "RELU_N1_TO_1")
PADDINGS = ("SAME", "VALID")
_NP = {"INT8": np.int8, "UINT8": np.uint8, "INT32": np.int32, "FLOAT32": np.float32}
_RANGE = {"INT8": (-128, 127), "UINT8": (0, 255)}

#: operator name -> number of generated models run in both runtimes
MODEL_COUNTS: collections.Counter = collections.Counter()
#: operator name -> number of generated models both runtimes refused
REFUSAL_COUNTS: collections.Counter = collections.Counter()


@dataclass
class Case:
    op: str  # the operator under test
    content: bytes  # the model
    inputs: list  # one array per graph input
    params: dict = field(default_factory=dict)  # what was drawn, for failure reports

    def describe(self) -> str:
        shapes = [f"{a.dtype.name}{list(a.shape)}" for a in self.inputs]
        return f"{self.op} inputs={shapes} " + ", ".join(f"{k}={v}" for k, v in self.params.items())

    # hypothesis prints the falsifying case as this description, without its bytes
    __repr__ = describe

    def _repr_pretty_(self, printer, cycle):
        printer.text(self.describe())

    def save(self, directory) -> str:
        """Write the model and its inputs (``<op>_<hash>.tflite`` and ``.npz``)."""
        import hashlib
        from pathlib import Path

        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        stem = d / f"{self.op.lower()}_{hashlib.sha1(self.content).hexdigest()[:10]}"
        stem.with_suffix(".tflite").write_bytes(self.content)
        np.savez(stem.with_suffix(".npz"), *self.inputs)
        stem.with_suffix(".txt").write_text(self.describe() + "\n")
        return str(stem)


def more_examples(factor: int):
    """Settings with ``factor`` times the loaded profile's max_examples (so the
    deep profile keeps its 10x): for the tests whose failures are rare
    rounding slips and whose examples cost a few milliseconds."""
    from hypothesis import settings

    return settings(max_examples=settings.default.max_examples * factor)


# -- building blocks ---------------------------------------------------------------------

def log_uniform(lo: float, hi: float):
    """A float32 between lo and hi, uniform in log2."""
    return st.floats(math.log2(lo), math.log2(hi)).map(lambda e: float(np.float32(2.0 ** e)))


def zero_points(type_name: str):
    lo, hi = _RANGE[type_name]
    mid = 0 if type_name == "INT8" else 128
    # mostly anywhere; often the converter's favourites (-128 after ReLU, 0 when
    # symmetric); sometimes the other edges
    return st.integers(0, 9).flatmap(
        lambda k: st.integers(lo, hi) if k < 5 else
        st.sampled_from([lo, mid]) if k < 8 else st.sampled_from([hi, lo + 1, mid - 1]))


def activations():
    return st.sampled_from(ACTIVATIONS)


@st.composite
def int_data(draw, type_name: str, shape, zero_point: int | None = None, mode=None):
    """Integer data of a tensor: uniform, extremes only, or near the zero point."""
    lo, hi = _RANGE[type_name] if type_name in _RANGE else (-(1 << 31), (1 << 31) - 1)
    seed = draw(st.integers(0, 2**32 - 1))
    if mode is None:
        mode = draw(st.sampled_from(["uniform"] * 6 + ["extremes", "near_zero_point"] * 2 +
                                    ["constant"]))
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape, dtype=np.int64))
    if mode == "uniform":
        v = rng.integers(lo, hi, n, endpoint=True)
    elif mode == "extremes":
        v = rng.choice([lo, hi, lo + 1, hi - 1], n)
    elif mode == "near_zero_point":
        zp = zero_point if zero_point is not None else (lo + hi) // 2
        v = np.clip(zp + rng.integers(-4, 5, n), lo, hi)
    else:
        v = np.full(n, rng.integers(lo, hi, endpoint=True))
    return v.astype(_NP[type_name]).reshape(shape)


@st.composite
def float_data(draw, shape, scale: float, zero_point: int, type_name: str):
    """Float input of a QUANTIZE: spread over the output range and beyond,
    with values on rounding ties (k + 0.5) * scale and exact multiples."""
    lo, hi = _RANGE[type_name]
    seed = draw(st.integers(0, 2**32 - 1))
    mode = draw(st.sampled_from(["uniform", "ties", "multiples", "wide"]))
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape, dtype=np.int64))
    k = rng.integers(lo - zero_point - 20, hi - zero_point + 21, n).astype(np.float64)
    if mode == "uniform":
        v = rng.uniform(lo - zero_point - 3, hi - zero_point + 3, n) * scale
    elif mode == "ties":
        v = (k + rng.choice([-0.5, 0.5], n)) * scale
    elif mode == "multiples":
        v = k * scale
    else:
        v = rng.normal(0, 1, n) * rng.choice([1e-3, 1.0, 1e3], n) * scale * 100
        v = np.clip(v, -1e6 * scale, 1e6 * scale)  # |x / scale| stays far below 2**31
    return v.astype(np.float32).reshape(shape)


def _conv_out(size: int, filt: int, stride: int, dilation: int, padding: str) -> int:
    eff = (filt - 1) * dilation + 1
    if padding == "SAME":
        return (size + stride - 1) // stride
    return (size - eff + stride) // stride


# -- CONV_2D -----------------------------------------------------------------------------

@st.composite
def conv_2d_cases(draw, per_channel: bool | None = None, small_accumulators: bool = False):
    """CONV_2D with int8 input and output, int8 weights (per-channel or
    per-tensor), int32 bias. ``small_accumulators``: short windows, small
    weights, inputs near the zero point and output multipliers between 2**-7
    and 2**1.5, so that the final rounding right shift is short and its ties
    and the negative values (no ReLU) actually occur."""
    small = small_accumulators
    n = draw(st.integers(1, 2))
    kmax = 3 if small else 7
    kh, kw = draw(st.integers(1, kmax)), draw(st.integers(1, kmax))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    dh, dw = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    padding = draw(st.sampled_from(PADDINGS))
    if padding == "VALID":
        h = draw(st.integers((kh - 1) * dh + 1, (kh - 1) * dh + 9))
        w = draw(st.integers((kw - 1) * dw + 1, (kw - 1) * dw + 9))
    else:
        h, w = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    cin, cout = draw(st.integers(1, 3 if small else 6)), draw(st.integers(1, 6))
    oh, ow = _conv_out(h, kh, sh, dh, padding), _conv_out(w, kw, sw, dw, padding)
    if small:
        activation = draw(st.sampled_from(["NONE", "NONE", "RELU_N1_TO_1", "RELU6", "RELU"]))
    else:
        activation = draw(activations())

    if per_channel is None:
        per_channel = draw(st.booleans())
    k_scales = cout if per_channel else 1
    # with powers of two for every scale the multipliers are exact powers of two
    # and the rounding ties of the requantization are frequent
    exact = small and draw(st.booleans())
    if exact:
        in_scale = 2.0 ** draw(st.integers(-12, 0))
        exps = draw(st.lists(st.integers(-16, 0), min_size=k_scales, max_size=k_scales))
        w_scales = np.exp2(np.array(exps, np.float64)).astype(np.float32)
    else:
        in_scale = draw(log_uniform(2**-12, 1.0))
        base = draw(log_uniform(1e-5, 1.0))
        spread = draw(st.sampled_from([0.0, 1.0] if small else [0.0, 1.0, 4.0, 17.0]))
        exps = draw(st.lists(st.floats(-spread, spread) if spread else st.just(0.0),
                             min_size=k_scales, max_size=k_scales))
        w_scales = np.clip(base * np.exp2(exps), 1e-5, 1.0).astype(np.float32)
    in_zp = draw(zero_points("INT8"))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    if small:
        weights = rng.integers(-8, 9, (cout, kh, kw, cin)).astype(np.int8)
        bias_bits = draw(st.integers(0, 6))
    else:
        wlo = -128 if draw(st.booleans()) else -127
        weights = rng.integers(wlo, 128, (cout, kh, kw, cin)).astype(np.int8)
        bias_bits = draw(st.integers(0, 22))
    bias = np.clip(np.round(rng.normal(0, 2.0 ** bias_bits, cout)), -(1 << 24), 1 << 24)
    bias = bias.astype(np.int32)
    full_w_scales = np.broadcast_to(w_scales, (cout,))
    bias_scales = (np.float64(in_scale) * full_w_scales.astype(np.float64)).astype(np.float32)
    if not per_channel:
        bias_scales = bias_scales[:1]
    if small:
        # the output multiplier in_scale * filter_scale / out_scale of the median channel
        if exact:
            multiplier = 2.0 ** draw(st.integers(-7, 1))
            out_scale = float(np.float32(in_scale * float(w_scales[0]) / multiplier))
        else:
            multiplier = 2.0 ** draw(st.floats(-7.0, 1.5))
            out_scale = float(np.float32(in_scale * float(np.median(w_scales)) / multiplier))
    else:
        # spread the accumulators over the int8 range, give or take a few octaves
        acc_std = 147.0 * 73.0 * math.sqrt(kh * kw * cin)
        jitter = draw(st.floats(-4.0, 3.0))
        out_scale = float(np.float32(in_scale * float(np.median(w_scales)) * acc_std / 64.0
                                     * 2.0 ** jitter))
    out_zp = draw(zero_points("INT8"))

    g = GraphBuilder()
    x = g.input("input", (n, h, w, cin), "INT8", scale=in_scale, zero_point=in_zp)
    f = g.constant("filter", weights, scale=w_scales, zero_point=[0] * k_scales,
                   quantized_dimension=0)
    b = g.constant("bias", bias, scale=bias_scales, zero_point=[0] * k_scales,
                   quantized_dimension=0)
    y = g.tensor("output", (n, oh, ow, cout), "INT8", scale=out_scale, zero_point=out_zp)
    g.operator("CONV_2D", [x, f, b], y, padding=padding, stride_h=sh, stride_w=sw,
               dilation_hfactor=dh, dilation_wfactor=dw, fused_activation_function=activation)
    g.output(y)
    data = draw(int_data("INT8", (n, h, w, cin), in_zp,
                         mode="near_zero_point" if small else None))
    return Case("CONV_2D", g.build(), [data], dict(
        small_accumulators=small, exact_scales=exact, input=(n, h, w, cin),
        filter=(cout, kh, kw, cin), stride=(sh, sw), dilation=(dh, dw),
        padding=padding, activation=activation, per_channel=per_channel,
        in_q=(in_scale, in_zp), out_q=(out_scale, out_zp),
        filter_scales=w_scales.tolist(), bias_bits=bias_bits, weight_seed=seed,
    ))


# -- pooling -----------------------------------------------------------------------------

@st.composite
def pool_cases(draw, op: str):
    n = draw(st.integers(1, 2))
    fh, fw = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    padding = draw(st.sampled_from(PADDINGS))
    if padding == "VALID":
        h, w = draw(st.integers(fh, fh + 9)), draw(st.integers(fw, fw + 9))
    else:
        h, w = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    c = draw(st.integers(1, 6))
    oh, ow = _conv_out(h, fh, sh, 1, padding), _conv_out(w, fw, sw, 1, padding)
    activation = draw(activations())
    scale = draw(log_uniform(2**-10, 2.0))
    zp = draw(zero_points("INT8"))
    g = GraphBuilder()
    x = g.input("input", (n, h, w, c), "INT8", scale=scale, zero_point=zp)
    y = g.tensor("output", (n, oh, ow, c), "INT8", scale=scale, zero_point=zp)
    g.operator(op, [x], y, padding=padding, stride_h=sh, stride_w=sw, filter_height=fh,
               filter_width=fw, fused_activation_function=activation)
    g.output(y)
    data = draw(int_data("INT8", (n, h, w, c), zp))
    return Case(op, g.build(), [data], dict(
        input=(n, h, w, c), filter=(fh, fw), stride=(sh, sw), padding=padding,
        activation=activation, q=(scale, zp)))


# -- CONCATENATION -----------------------------------------------------------------------

@st.composite
def concatenation_cases(draw, type_name: str = "INT8", same_quantization: bool = True):
    """int8 needs every input quantized as the output (TFLite refuses
    otherwise); with ``same_quantization=False`` each input has its own."""
    rank = draw(st.integers(1, 4))
    k = draw(st.integers(2, 4))
    axis = draw(st.integers(-rank, rank - 1))
    base = draw(st.lists(st.integers(1, 4), min_size=rank, max_size=rank))
    sizes = draw(st.lists(st.integers(1, 4), min_size=k, max_size=k))
    out_scale = draw(log_uniform(2**-10, 2.0))
    out_zp = draw(zero_points(type_name))
    quants = []
    for _ in range(k):
        if same_quantization:
            quants.append((out_scale, out_zp))
        else:
            # the input's scale: the output's, a power of two times it (the
            # rescaled values then land on rounding ties), or anything near
            kind = draw(st.sampled_from(["same", "power_of_two", "any"]))
            ratio = {"same": lambda: 1.0,
                     "power_of_two": lambda: 2.0 ** draw(st.integers(-4, 4)),
                     "any": lambda: 2.0 ** draw(st.floats(-4, 4))}[kind]()
            quants.append((float(np.float32(out_scale * ratio)), draw(zero_points(type_name))))
    g = GraphBuilder()
    ins, datas, shapes = [], [], []
    reuse = same_quantization and draw(st.booleans())  # the same tensor more than once
    for i in range(k):
        shape = list(base)
        shape[axis] = sizes[i]
        if reuse and i > 0 and tuple(shape) == shapes[0]:
            ins.append(ins[0])
            shapes.append(shapes[0])
            continue
        s, z = quants[i]
        ins.append(g.input(f"in{i}", shape, type_name, scale=s, zero_point=z))
        shapes.append(tuple(shape))
        datas.append(draw(int_data(type_name, tuple(shape), z)))
    out_shape = list(base)
    out_shape[axis] = sum(s[axis] for s in shapes)
    y = g.tensor("output", out_shape, type_name, scale=out_scale, zero_point=out_zp)
    g.operator("CONCATENATION", ins, y, axis=axis, fused_activation_function="NONE")
    g.output(y)
    return Case("CONCATENATION", g.build(), datas, dict(
        type=type_name, axis=axis, shapes=[list(s) for s in shapes], inputs=ins,
        in_q=quants, out_q=(out_scale, out_zp)))


# -- MEAN ----------------------------------------------------------------------------------

@st.composite
def mean_cases(draw, realistic: bool = False, type_name: str = "INT8"):
    """MEAN over any set of axes (negative, repeated, none, all), or with
    ``realistic`` the global average pool of a CNN (axes 1 and 2 of NHWC)."""
    if realistic:
        rank = 4
        shape = (draw(st.integers(1, 2)), draw(st.integers(1, 14)), draw(st.integers(1, 14)),
                 draw(st.integers(1, 24)))
        axes = draw(st.sampled_from([[1, 2], [2, 1], [-3, -2]]))
    else:
        rank = draw(st.integers(1, 4))
        shape = tuple(draw(st.lists(st.integers(1, 8), min_size=rank, max_size=rank)))
        chosen = draw(st.lists(st.integers(0, rank - 1), unique=True, max_size=rank))
        axes = [a - rank if draw(st.booleans()) else a for a in chosen]
        if axes and draw(st.integers(0, 4)) == 0:
            axes.append(axes[0])  # a repeated axis
    keep_dims = draw(st.booleans())
    reduced = {a % rank for a in axes}
    if keep_dims:
        out_shape = tuple(1 if i in reduced else d for i, d in enumerate(shape))
    else:
        out_shape = tuple(d for i, d in enumerate(shape) if i not in reduced)
    in_scale = draw(log_uniform(2**-10, 2.0))
    in_zp = draw(zero_points(type_name))
    same = draw(st.booleans())
    out_scale = in_scale if same else float(np.float32(in_scale * 2.0 ** draw(st.floats(-3, 3))))
    out_zp = in_zp if same and draw(st.booleans()) else draw(zero_points(type_name))
    g = GraphBuilder()
    x = g.input("input", shape, type_name, scale=in_scale, zero_point=in_zp)
    ax = g.constant("axes", np.array(axes, np.int32).reshape(len(axes)))
    y = g.tensor("output", out_shape, type_name, scale=out_scale, zero_point=out_zp)
    g.operator("MEAN", [x, ax], y, keep_dims=keep_dims)
    g.output(y)
    data = draw(int_data(type_name, shape, in_zp))
    return Case("MEAN", g.build(), [data], dict(
        type=type_name, realistic=realistic, shape=shape, axes=axes, keep_dims=keep_dims,
        in_q=(in_scale, in_zp), out_q=(out_scale, out_zp)))


# -- SOFTMAX -------------------------------------------------------------------------------

@st.composite
def softmax_cases(draw, realistic: bool = False, type_name: str = "INT8",
                  many_rows: bool = False):
    """SOFTMAX over the last axis; ``realistic``: a classifier's logits
    (1, classes), beta 1, logits spanning a few units; ``many_rows``: 16 to
    64 rows of up to 64 values (many chances for a 1-unit rounding slip)."""
    if many_rows:
        shape = (draw(st.integers(16, 64)), draw(st.integers(2, 64)))
        beta = draw(st.one_of(st.just(1.0), log_uniform(2**-4, 2**4)))
        in_scale = draw(log_uniform(2**-8, 2.0))
        in_zp = draw(zero_points(type_name))
    elif realistic:
        shape = (1, draw(st.integers(2, 1000)))
        beta = 1.0
        in_scale = draw(log_uniform(2**-6, 0.5))
        in_zp = draw(st.integers(-128, 40)) + (0 if type_name == "INT8" else 128)
    else:
        rank = draw(st.integers(1, 4))
        shape = tuple(draw(st.lists(st.integers(1, 4), min_size=rank - 1, max_size=rank - 1)))
        shape += (draw(st.integers(1, 40)),)
        beta = draw(st.one_of(st.just(1.0), log_uniform(2**-4, 2**4)))
        in_scale = draw(log_uniform(2**-10, 2.0))
        in_zp = draw(zero_points(type_name))
    g = GraphBuilder()
    x = g.input("input", shape, type_name, scale=in_scale, zero_point=in_zp)
    # TFLite requires the output scale 1/256 and zero point -128 (int8) or 0 (uint8)
    y = g.tensor("output", shape, type_name, scale=1.0 / 256,
                 zero_point=-128 if type_name == "INT8" else 0)
    g.operator("SOFTMAX", [x], y, beta=beta)
    g.output(y)
    data = draw(int_data(type_name, shape, in_zp))
    # TFLite's reference aborts the process (gemmlowp's RoundingDivideByPOT asserts
    # an exponent <= 31) when a row's sum of exponentials reaches 512, e.g. 512
    # equal logits: such inputs have no reference output. Keep well below.
    assume(softmax_sum_of_exps(data, in_scale, beta).max(initial=0.0) < 448.0)
    return Case("SOFTMAX", g.build(), [data], dict(
        type=type_name, realistic=realistic, many_rows=many_rows, shape=shape, beta=beta,
        in_q=(in_scale, in_zp)))


def softmax_sum_of_exps(q, scale: float, beta: float) -> np.ndarray:
    """Per row (last axis), the sum of exp(beta * scale * (q - max)) in floats."""
    q = np.asarray(q, np.float64)
    if q.size == 0:
        return np.zeros(0)
    d = (q - q.max(axis=-1, keepdims=True)) * (float(scale) * float(beta))
    return np.exp(d).sum(axis=-1).reshape(-1)


# -- MUL and ADD ---------------------------------------------------------------------------

@st.composite
def broadcast_shapes(draw, max_rank: int = 4):
    """Two input shapes that broadcast (NumPy rules, as TFLite's) and the output shape."""
    rank = draw(st.integers(0, max_rank))
    top = 8 if rank <= 4 else 3
    out = draw(st.lists(st.integers(1, top), min_size=rank, max_size=rank))
    shapes = []
    for _ in range(2):
        r = draw(st.integers(0, rank)) if draw(st.booleans()) else rank
        dims = out[rank - r:]
        shapes.append(tuple(d if draw(st.booleans()) else 1 for d in dims)
                      if draw(st.booleans()) else tuple(dims))
    # the output is the broadcast of the two (a dimension kept by neither shrinks to 1)
    out_shape = np.broadcast_shapes(shapes[0], shapes[1])
    return shapes[0], shapes[1], tuple(out_shape)


@st.composite
def nhwc_broadcast_shapes(draw):
    """The shapes a converted CNN gives MUL and ADD: a feature map with a
    per-channel vector, a scalar, or another feature map."""
    n, h, w, c = (draw(st.integers(1, 2)), draw(st.integers(1, 9)), draw(st.integers(1, 9)),
                  draw(st.integers(1, 16)))
    full = (n, h, w, c)
    other = draw(st.sampled_from([(c,), full, (1, 1, 1, c), (), (1,), (1, h, w, 1)]))
    if draw(st.booleans()):
        return other, full, full
    return full, other, full


@st.composite
def binary_cases(draw, op: str, max_rank: int = 4, realistic: bool = False,
                 type_name: str = "INT8"):
    """MUL, ADD or SUB of two int8 (or uint8) tensors (SUB's scales as ADD's).
    ``realistic``: NHWC feature
    maps, moderate zero points and scales, NONE or RELU; otherwise any
    broadcast pattern up to ``max_rank`` and any quantization."""
    t = type_name
    shift = 0 if t == "INT8" else 128
    if realistic:
        s1, s2, so = draw(nhwc_broadcast_shapes())
        a_scale = draw(log_uniform(2**-8, 0.5))
        b_scale = float(np.float32(a_scale * 2.0 ** draw(st.floats(-3, 3))))
    else:
        s1, s2, so = draw(broadcast_shapes(max_rank))
        a_scale = draw(log_uniform(2**-10, 2.0))
        b_scale = draw(log_uniform(2**-10, 2.0))
    if op == "MUL":
        lo, hi = (5, 9) if realistic else (2, 11)
        out_scale = a_scale * b_scale * 2.0 ** draw(st.floats(lo, hi))
    else:
        lo, hi = (0, 2) if realistic else (-3, 4)
        out_scale = max(a_scale, b_scale) * 2.0 ** draw(st.floats(lo, hi))
    out_scale = float(np.float32(out_scale))
    if realistic:
        a_zp, b_zp, o_zp = (draw(st.integers(-128, 40)) + shift for _ in range(3))
        activation = draw(st.sampled_from(["NONE", "RELU"]))
    else:
        a_zp, b_zp, o_zp = (draw(zero_points(t)) for _ in range(3))
        activation = draw(activations())
    second_constant = draw(st.booleans())
    g = GraphBuilder()
    a = g.input("a", s1, t, scale=a_scale, zero_point=a_zp)
    b_data = draw(int_data(t, s2, b_zp))
    if second_constant:
        b = g.constant("b", b_data, scale=b_scale, zero_point=b_zp)
    else:
        b = g.input("b", s2, t, scale=b_scale, zero_point=b_zp)
    y = g.tensor("output", so, t, scale=out_scale, zero_point=o_zp)
    g.operator(op, [a, b], y, fused_activation_function=activation)
    g.output(y)
    datas = [draw(int_data(t, s1, a_zp))]
    if not second_constant:
        datas.append(b_data)
    return Case(op, g.build(), datas, dict(
        type=t, realistic=realistic, shapes=(s1, s2, so), constant_b=second_constant,
        activation=activation, a_q=(a_scale, a_zp), b_q=(b_scale, b_zp), out_q=(out_scale, o_zp)))


# -- QUANTIZE and DEQUANTIZE ---------------------------------------------------------------

QUANTIZE_PAIRS = (("FLOAT32", "INT8"), ("FLOAT32", "UINT8"), ("UINT8", "INT8"),
                  ("INT8", "UINT8"), ("INT8", "INT8"), ("UINT8", "UINT8"))


@st.composite
def small_shapes(draw, max_rank: int = 4):
    rank = draw(st.integers(0, max_rank))
    return tuple(draw(st.lists(st.integers(1, 8), min_size=rank, max_size=rank)))


@st.composite
def quantize_cases(draw, pair=None):
    src, dst = pair if pair is not None else draw(st.sampled_from(QUANTIZE_PAIRS))
    shape = draw(small_shapes())
    out_scale = draw(log_uniform(1e-4, 4.0))
    out_zp = draw(zero_points(dst))
    g = GraphBuilder()
    if src == "FLOAT32":
        x = g.input("input", shape, "FLOAT32")
        data = draw(float_data(shape, out_scale, out_zp, dst))
        in_q = None
    else:
        if draw(st.integers(0, 3)) == 0 and src != dst:
            # the converter's int8 <-> uint8 pattern: same scale, zero point moved by 128
            in_scale = out_scale
            in_zp = out_zp - 128 if dst == "UINT8" else out_zp + 128
            lo, hi = _RANGE[src]
            if not lo <= in_zp <= hi:
                in_zp = out_zp
        else:
            in_scale = float(np.float32(out_scale * 2.0 ** draw(st.floats(-8, 8))))
            in_zp = draw(zero_points(src))
        x = g.input("input", shape, src, scale=in_scale, zero_point=in_zp)
        data = draw(int_data(src, shape, in_zp))
        in_q = (in_scale, in_zp)
    y = g.tensor("output", shape, dst, scale=out_scale, zero_point=out_zp)
    g.operator("QUANTIZE", [x], y)
    g.output(y)
    return Case("QUANTIZE", g.build(), [data], dict(
        types=(src, dst), shape=shape, in_q=in_q, out_q=(out_scale, out_zp)))


@st.composite
def dequantize_cases(draw, src=None):
    src = src or draw(st.sampled_from(["INT8", "UINT8"]))
    shape = draw(small_shapes())
    scale = draw(log_uniform(1e-5, 16.0))
    zp = draw(zero_points(src))
    g = GraphBuilder()
    x = g.input("input", shape, src, scale=scale, zero_point=zp)
    y = g.tensor("output", shape, "FLOAT32")
    g.operator("DEQUANTIZE", [x], y)
    g.output(y)
    data = draw(int_data(src, shape, zp))
    return Case("DEQUANTIZE", g.build(), [data], dict(type=src, shape=shape, q=(scale, zp)))


# -- MAXIMUM, MINIMUM, RELU, RELU6, LOGISTIC, REDUCE_MAX, RESIZE_BILINEAR --------------------

#: float32 values whose comparisons and rounding differ between careless
#: implementations: NaN of both signs, signed zeros, infinities, the extremes
FLOAT_SPECIALS = np.array([np.nan, -np.nan, 0.0, -0.0, np.inf, -np.inf, 6.0, -1.0,
                           np.finfo(np.float32).max, np.finfo(np.float32).min,
                           np.finfo(np.float32).tiny], np.float32)


@st.composite
def any_data(draw, type_name: str, shape, zero_point: int | None = None):
    """Data of any supported type: :func:`int_data` for integers; for
    float32 normal values of varied magnitude, now and then with special
    values (:data:`FLOAT_SPECIALS`) mixed in."""
    if type_name != "FLOAT32":
        return draw(int_data(type_name, shape, zero_point))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n = int(np.prod(shape, dtype=np.int64))
    v = rng.normal(0, 1, n) * 10.0 ** rng.integers(-3, 4, n)
    if draw(st.booleans()):
        mask = rng.random(n) < 0.3
        v[mask] = rng.choice(FLOAT_SPECIALS, int(mask.sum()))
    if draw(st.integers(0, 4)) == 0:
        v = np.round(v)  # ties between equal values
    return v.astype(np.float32).reshape(shape)


def _maybe_quantized(draw, type_name: str):
    """(scale, zero point) keywords for a tensor of ``type_name``: any
    quantization for 8-bit types (the operators below never read it), none
    for the others."""
    if type_name not in _RANGE:
        return {}
    return dict(scale=draw(log_uniform(2**-10, 2.0)), zero_point=draw(zero_points(type_name)))


@st.composite
def extremum_cases(draw, op: str, type_name: str | None = None, max_rank: int = 4):
    """MAXIMUM or MINIMUM of two tensors of one type with any broadcast
    pattern; the quantizations (which TFLite ignores) differ at random."""
    t = type_name or draw(st.sampled_from(["INT8", "UINT8", "INT32", "FLOAT32"]))
    s1, s2, so = draw(broadcast_shapes(max_rank))
    g = GraphBuilder()
    a = g.input("a", s1, t, **_maybe_quantized(draw, t))
    b_data = draw(any_data(t, s2))
    second_constant = draw(st.booleans())
    if second_constant:
        b = g.constant("b", b_data, t, **_maybe_quantized(draw, t))
    else:
        b = g.input("b", s2, t, **_maybe_quantized(draw, t))
    y = g.tensor("output", so, t, **_maybe_quantized(draw, t))
    g.operator(op, [a, b], y)
    g.output(y)
    datas = [draw(any_data(t, s1))] + ([] if second_constant else [b_data])
    return Case(op, g.build(), datas, dict(type=t, shapes=(s1, s2, so),
                                            constant_b=second_constant))


@st.composite
def relu_cases(draw, op: str, type_name: str | None = None):
    """RELU or RELU6 of int8, uint8 (any requantization: the output scale
    within a few octaves of the input's, or equal) or float32."""
    t = type_name or draw(st.sampled_from(["INT8", "UINT8", "FLOAT32"]))
    shape = draw(small_shapes())
    g = GraphBuilder()
    if t == "FLOAT32":
        x = g.input("input", shape, t)
        y = g.tensor("output", shape, t)
        q = None
    else:
        in_scale = draw(log_uniform(2**-10, 2.0))
        same = draw(st.integers(0, 3)) == 0
        out_scale = in_scale if same else \
            float(np.float32(in_scale * 2.0 ** draw(st.floats(-4, 4))))
        in_zp, out_zp = draw(zero_points(t)), draw(zero_points(t))
        x = g.input("input", shape, t, scale=in_scale, zero_point=in_zp)
        y = g.tensor("output", shape, t, scale=out_scale, zero_point=out_zp)
        q = ((in_scale, in_zp), (out_scale, out_zp))
    g.operator(op, [x], y)
    g.output(y)
    data = draw(any_data(t, shape, None if q is None else q[0][1]))
    return Case(op, g.build(), [data], dict(type=t, shape=shape, q=q))


@st.composite
def logistic_cases(draw, type_name: str | None = None, every_value: bool = False):
    """LOGISTIC of int8 or uint8; output scale 1/256 (TFLite requires it),
    the output zero point usually the type's minimum, sometimes any.
    ``every_value``: the input holds each of the 256 values once."""
    t = type_name or draw(st.sampled_from(["INT8", "UINT8"]))
    lo, hi = _RANGE[t]
    in_scale = draw(st.one_of(log_uniform(2**-12, 4.0), log_uniform(4.0, 2**20)))
    in_zp = draw(zero_points(t))
    out_zp = lo if draw(st.integers(0, 3)) else draw(zero_points(t))
    shape = (256,) if every_value else draw(small_shapes())
    g = GraphBuilder()
    x = g.input("input", shape, t, scale=in_scale, zero_point=in_zp)
    y = g.tensor("output", shape, t, scale=1.0 / 256, zero_point=out_zp)
    g.operator("LOGISTIC", [x], y)
    g.output(y)
    if every_value:
        data = np.arange(lo, hi + 1).astype(_NP[t])
    else:
        data = draw(int_data(t, shape, in_zp))
    return Case("LOGISTIC", g.build(), [data], dict(
        type=t, shape=shape, in_q=(in_scale, in_zp), out_zero_point=out_zp))


@st.composite
def reduce_max_cases(draw, type_name: str | None = None):
    """REDUCE_MAX over any set of axes (negative, repeated, none, all),
    keep_dims both ways; input and output quantized alike (TFLite requires
    it); float32 with special values now and then."""
    t = type_name or draw(st.sampled_from(["INT8", "UINT8", "INT32", "FLOAT32"]))
    rank = draw(st.integers(0, 4))
    shape = tuple(draw(st.lists(st.integers(1, 6), min_size=rank, max_size=rank)))
    if rank:
        chosen = draw(st.lists(st.integers(0, rank - 1), unique=True, min_size=1,
                               max_size=rank))
        axes = [a - rank if draw(st.booleans()) else a for a in chosen]
        if draw(st.integers(0, 4)) == 0:
            axes.append(axes[0])  # a repeated axis
    else:
        axes = [draw(st.integers(-2, 2))]  # a scalar ignores its axes
    keep_dims = draw(st.booleans())
    reduced = {a % rank for a in axes} if rank else set()
    if keep_dims:
        out_shape = tuple(1 if i in reduced else d for i, d in enumerate(shape))
    else:
        out_shape = tuple(d for i, d in enumerate(shape) if i not in reduced)
    quant = _maybe_quantized(draw, t)
    g = GraphBuilder()
    x = g.input("input", shape, t, **quant)
    ax = g.constant("axes", np.array(axes, np.int32).reshape(len(axes)))
    y = g.tensor("output", out_shape, t, **quant)
    g.operator("REDUCE_MAX", [x, ax], y, keep_dims=keep_dims)
    g.output(y)
    data = draw(any_data(t, shape, quant.get("zero_point")))
    return Case("REDUCE_MAX", g.build(), [data], dict(
        type=t, shape=shape, axes=axes, keep_dims=keep_dims))


def resize_reads_outside(in_size: int, out_size: int, align_corners: bool,
                         half_pixel: bool) -> bool:
    """Whether TFLite's ``ResizeBilinearInteger`` (int8) takes a source row
    (column) past the input along an axis: its scale in 1/1024, rounded to
    nearest, can exceed the true ratio enough for the last rows."""
    n, d = (in_size - 1, out_size - 1) if align_corners and out_size > 1 else (in_size, out_size)
    scale = (1024 * n + d // 2) // d
    last = (out_size - 1) * scale + (scale // 2 - 512 if half_pixel else 0)
    return last >= 0 and last // 1024 > in_size - 1


@st.composite
def resize_bilinear_cases(draw, type_name: str | None = None):
    """RESIZE_BILINEAR of NHWC int8, uint8 or float32 to a constant size, up
    or down, with each option combination TFLite accepts; any quantization
    (never read). int8 sizes at which the reference reads outside the input
    (``resize_reads_outside``) are left out: its outputs are then garbage."""
    t = type_name or draw(st.sampled_from(["INT8", "UINT8", "FLOAT32"]))
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 4))
    h, w = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    big = draw(st.integers(0, 5)) == 0
    out_h, out_w = (draw(st.integers(1, 70 if big else 20)) for _ in range(2))
    align_corners, half_pixel = draw(st.sampled_from([(False, False), (True, False),
                                                      (False, True)]))
    if t == "INT8":
        assume(not resize_reads_outside(h, out_h, align_corners, half_pixel))
        assume(not resize_reads_outside(w, out_w, align_corners, half_pixel))
    quant = _maybe_quantized(draw, t)
    g = GraphBuilder()
    x = g.input("input", (n, h, w, c), t, **quant)
    size = g.constant("size", np.array([out_h, out_w], np.int32))
    y = g.tensor("output", (n, out_h, out_w, c), t, **quant)
    g.operator("RESIZE_BILINEAR", [x, size], y, align_corners=align_corners,
               half_pixel_centers=half_pixel)
    g.output(y)
    data = draw(any_data(t, (n, h, w, c), quant.get("zero_point")))
    return Case("RESIZE_BILINEAR", g.build(), [data], dict(
        type=t, input=(n, h, w, c), size=(out_h, out_w), align_corners=align_corners,
        half_pixel_centers=half_pixel))
# -- DEPTHWISE_CONV_2D and FULLY_CONNECTED ---------------------------------------------------

def _channel_scales(draw, count: int, exact: bool, spread_choices=(0.0, 1.0, 4.0, 17.0)):
    """Per-channel (or one) weight scales: powers of two (``exact``), or
    around a base, spread over up to 17 octaves."""
    if exact:
        exps = draw(st.lists(st.integers(-16, 0), min_size=count, max_size=count))
        return np.exp2(np.array(exps, np.float64)).astype(np.float32)
    base = draw(log_uniform(1e-5, 1.0))
    spread = draw(st.sampled_from(spread_choices))
    exps = draw(st.lists(st.floats(-spread, spread) if spread else st.just(0.0),
                         min_size=count, max_size=count))
    return np.clip(base * np.exp2(exps), 1e-5, 1.0).astype(np.float32)


def _bias_quantization(in_scale: float, w_scales, count: int):
    """The converter's bias scales: input scale x each weight scale (double
    product of the float32 scales, stored as float32)."""
    full = np.broadcast_to(w_scales, (count,)).astype(np.float64)
    scales = (np.float64(np.float32(in_scale)) * full).astype(np.float32)
    return scales if len(w_scales) > 1 else scales[:1]


@st.composite
def depthwise_conv_2d_cases(draw, per_channel: bool | None = None,
                            small_accumulators: bool = False):
    """DEPTHWISE_CONV_2D, int8, weights [1, KH, KW, C * M] per channel or per
    tensor, with or without bias, any depth multiplier (the option sometimes
    contradicting the shapes: TFLite reads the shapes), filter zero points
    (TFLite ignores them), stride, dilation, padding, activation, batch;
    sometimes many channels (several 16-lane blocks, a partial one).
    ``small_accumulators``: short windows, small weights, inputs near the
    zero point, multipliers near 1, so that the rounding ties show."""
    small = small_accumulators
    n = draw(st.integers(1, 2))
    kmax = 3 if small else 6
    kh, kw = draw(st.integers(1, kmax)), draw(st.integers(1, kmax))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    dh, dw = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    padding = draw(st.sampled_from(PADDINGS))
    wide = not small and draw(st.integers(0, 4)) == 0
    top = 6 if wide else 12
    if padding == "VALID":
        h = draw(st.integers((kh - 1) * dh + 1, (kh - 1) * dh + top))
        w = draw(st.integers((kw - 1) * dw + 1, (kw - 1) * dw + top))
    else:
        h, w = draw(st.integers(1, top)), draw(st.integers(1, top))
    c = draw(st.integers(17, 70)) if wide else draw(st.integers(1, 6))
    mult = 1 if wide else draw(st.sampled_from([1, 1, 1, 2, 3]))
    co = c * mult
    oh, ow = _conv_out(h, kh, sh, dh, padding), _conv_out(w, kw, sw, dw, padding)
    activation = draw(st.sampled_from(["NONE", "NONE", "RELU_N1_TO_1", "RELU6", "RELU"])
                      if small else activations())
    if per_channel is None:
        per_channel = draw(st.booleans())
    k_scales = co if per_channel else 1
    exact = small and draw(st.booleans())
    in_scale = 2.0 ** draw(st.integers(-12, 0)) if exact else draw(log_uniform(2**-12, 1.0))
    w_scales = _channel_scales(draw, k_scales, exact,
                               (0.0, 1.0) if small else (0.0, 1.0, 4.0, 17.0))
    in_zp = draw(zero_points("INT8"))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if small:
        weights = rng.integers(-8, 9, (1, kh, kw, co)).astype(np.int8)
    else:
        weights = rng.integers(-128 if draw(st.booleans()) else -127, 128,
                               (1, kh, kw, co)).astype(np.int8)
    has_bias = draw(st.integers(0, 3)) > 0
    bias_bits = draw(st.integers(0, 6 if small else 22))
    bias = np.clip(np.round(rng.normal(0, 2.0 ** bias_bits, co)), -(1 << 24), 1 << 24)
    if small:
        multiplier = 2.0 ** (draw(st.integers(-7, 1)) if exact else draw(st.floats(-7.0, 1.5)))
        out_scale = float(np.float32(in_scale * float(np.median(w_scales)) / multiplier))
    else:
        acc_std = 147.0 * 73.0 * math.sqrt(kh * kw)
        out_scale = float(np.float32(in_scale * float(np.median(w_scales)) * acc_std / 64.0
                                     * 2.0 ** draw(st.floats(-4.0, 3.0))))
    out_zp = draw(zero_points("INT8"))
    # TFLite reads neither the filter's zero points nor the depth_multiplier option
    f_zps = [0] * k_scales if draw(st.integers(0, 5)) else \
        draw(st.lists(st.integers(-128, 127), min_size=k_scales, max_size=k_scales))
    option_mult = mult if draw(st.integers(0, 5)) else draw(st.integers(0, 4))

    g = GraphBuilder()
    x = g.input("input", (n, h, w, c), "INT8", scale=in_scale, zero_point=in_zp)
    f = g.constant("filter", weights, scale=w_scales, zero_point=f_zps, quantized_dimension=3)
    ins = [x, f]
    if has_bias:
        b_scales = _bias_quantization(in_scale, w_scales, co)
        ins.append(g.constant("bias", bias.astype(np.int32), scale=b_scales,
                              zero_point=[0] * b_scales.size, quantized_dimension=0))
    y = g.tensor("output", (n, oh, ow, co), "INT8", scale=out_scale, zero_point=out_zp)
    g.operator("DEPTHWISE_CONV_2D", ins, y, padding=padding, stride_h=sh, stride_w=sw,
               dilation_hfactor=dh, dilation_wfactor=dw, depth_multiplier=option_mult,
               fused_activation_function=activation)
    g.output(y)
    data = draw(int_data("INT8", (n, h, w, c), in_zp,
                         mode="near_zero_point" if small else None))
    return Case("DEPTHWISE_CONV_2D", g.build(), [data], dict(
        small_accumulators=small, exact_scales=exact, input=(n, h, w, c),
        filter=(1, kh, kw, co), multiplier=mult, option_multiplier=option_mult,
        stride=(sh, sw), dilation=(dh, dw), padding=padding, activation=activation,
        per_channel=per_channel, bias=has_bias, in_q=(in_scale, in_zp),
        out_q=(out_scale, out_zp), filter_scales=w_scales.tolist(), filter_zero_points=f_zps,
        bias_bits=bias_bits))


@st.composite
def fully_connected_cases(draw, type_name: str | None = None, per_channel: bool | None = None):
    """FULLY_CONNECTED, int8 (weights per channel or per tensor) or uint8
    (per tensor, weights zero point usually 128), with a bias, without one
    (2 inputs, or input 2 omitted), keep_num_dims, inputs of rank 1 to 4
    whose elements are not always a whole number of rows, 1 to ~130 rows
    (several blocks), depths and unit counts across the GEMM's tiles."""
    t = type_name or draw(st.sampled_from(["INT8", "INT8", "INT8", "UINT8"]))
    depth = draw(st.sampled_from([draw(st.integers(1, 40)), draw(st.integers(41, 300))]))
    units = draw(st.sampled_from([draw(st.integers(1, 40)), draw(st.integers(41, 100))]))
    keep = draw(st.booleans())
    rank = draw(st.integers(1, 4))
    if keep:
        lead = draw(st.lists(st.integers(1, 5), min_size=rank - 1, max_size=rank - 1))
        if draw(st.integers(0, 5)) == 0:
            lead = [draw(st.integers(65, 130))] + lead[1:]
        in_shape = tuple(lead) + (depth,)
        out_shape = tuple(lead) + (units,)
    else:
        rows = draw(st.integers(1, 130 if draw(st.integers(0, 5)) == 0 else 6))
        extra = draw(st.integers(1, depth - 1)) if depth > 1 and draw(st.integers(0, 5)) == 0 \
            else 0
        total = rows * depth + extra
        # a shape of ``rank`` dimensions holding ``total`` elements (the first
        # takes what the others leave)
        dims = []
        rest = total
        for _ in range(rank - 1):
            d = draw(st.sampled_from([v for v in (1, 2, 3, 4, 5) if rest % v == 0]))
            dims.append(d)
            rest //= d
        in_shape = (rest,) + tuple(dims)
        out_shape = (total // depth, units)
    if per_channel is None:
        per_channel = t == "INT8" and draw(st.booleans())
    k_scales = units if per_channel else 1
    in_scale = draw(log_uniform(2**-12, 1.0))
    w_scales = _channel_scales(draw, k_scales, False)
    in_zp = draw(zero_points(t))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if t == "INT8":
        weights = rng.integers(-128 if draw(st.booleans()) else -127, 128,
                               (units, depth)).astype(np.int8)
        w_zp = 0 if per_channel or draw(st.integers(0, 3)) else draw(st.integers(-128, 127))
    else:
        weights = rng.integers(0, 256, (units, depth)).astype(np.uint8)
        w_zp = 128 if draw(st.integers(0, 2)) else draw(st.integers(0, 255))
    bias_mode = draw(st.sampled_from(["bias", "bias", "none", "omitted"]))
    bias = np.clip(np.round(rng.normal(0, 2.0 ** draw(st.integers(0, 22)), units)),
                   -(1 << 24), 1 << 24).astype(np.int32)
    acc_std = 147.0 * 73.0 * math.sqrt(depth)
    out_scale = float(np.float32(in_scale * float(np.median(w_scales)) * acc_std / 64.0
                                 * 2.0 ** draw(st.floats(-4.0, 3.0))))
    out_zp = draw(zero_points(t))
    activation = draw(activations())

    g = GraphBuilder()
    x = g.input("input", in_shape, t, scale=in_scale, zero_point=in_zp)
    wt = g.constant("weights", weights, scale=w_scales,
                    zero_point=[w_zp] * k_scales, quantized_dimension=0)
    ins = [x, wt]
    if bias_mode == "bias":
        b_scales = _bias_quantization(in_scale, w_scales, units)
        ins.append(g.constant("bias", bias, scale=b_scales, zero_point=[0] * b_scales.size))
    elif bias_mode == "omitted":
        ins.append(-1)
    y = g.tensor("output", out_shape, t, scale=out_scale, zero_point=out_zp)
    g.operator("FULLY_CONNECTED", ins, y, keep_num_dims=keep,
               fused_activation_function=activation)
    g.output(y)
    data = draw(int_data(t, in_shape, in_zp))
    return Case("FULLY_CONNECTED", g.build(), [data], dict(
        type=t, input=in_shape, weights=(units, depth), keep_num_dims=keep,
        per_channel=per_channel, bias=bias_mode, activation=activation,
        in_q=(in_scale, in_zp), weights_q=(w_scales.tolist(), w_zp),
        out_q=(out_scale, out_zp)))


# -- running -------------------------------------------------------------------------------

def run_int8sqz(content: bytes, inputs) -> list:
    from .. import Interpreter

    it = Interpreter(model_content=content)
    it.allocate_tensors()
    for detail, value in zip(it.get_input_details(), inputs):
        it.set_tensor(detail["index"], np.asarray(value))
    it.invoke()
    return [it.get_tensor(d["index"]) for d in it.get_output_details()]


def compare_outputs(want: list, got: list, what: str = "") -> None:
    """Raise AssertionError unless the outputs are identical, with a summary."""
    assert len(got) == len(want), f"{what}: {len(got)} outputs, expected {len(want)}"
    for k, (w, o) in enumerate(zip(want, got)):
        assert o.dtype == w.dtype, f"{what}: output {k} is {o.dtype}, expected {w.dtype}"
        assert o.shape == w.shape, f"{what}: output {k} has shape {o.shape}, expected {w.shape}"
        if o.tobytes() == w.tobytes():
            continue
        wi, oi = w.astype(np.float64), o.astype(np.float64)
        bad = np.argwhere(wi != oi) if w.ndim else np.zeros((1, 0), int)
        first = [tuple(int(i) for i in idx) for idx in bad[:5]]
        detail = [(i, w[i].item(), o[i].item()) for i in first] if w.ndim else \
            [((), w.item(), o.item())]
        raise AssertionError(
            f"{what}: output {k} differs from the reference in {len(bad)} of {w.size} "
            f"elements (max |diff| {np.max(np.abs(wi - oi))}); first (index, expected, got): "
            f"{detail}"
        )


def check_case(case: Case) -> None:
    """Run ``case`` in the reference and in int8sqz; the outputs must be equal.

    When INT8SQZ_FAILURES names a directory, every failing case (including
    hypothesis's shrinking steps) is saved there for a regression model."""
    want = run_reference(case.content, case.inputs)
    MODEL_COUNTS[case.op] += 1
    try:
        got = run_int8sqz(case.content, case.inputs)
        compare_outputs(want, got, case.describe())
    except Exception:
        if os.environ.get("INT8SQZ_FAILURES"):
            case.save(os.environ["INT8SQZ_FAILURES"])
        raise


def reference_outcome(content: bytes, inputs):
    """The reference's outputs, or the exception with which it refused the model."""
    try:
        return run_reference(content, inputs), None
    except (RuntimeError, ValueError) as exc:
        return None, exc


def check_agreement(case: Case, *, allow_unsupported: bool = True,
                    allow_stricter: bool = False) -> str:
    """For models that may be invalid. When the reference refuses the model,
    int8sqz must refuse it too (ModelError or UnsupportedError). When the
    reference runs it, int8sqz must give the same outputs, or refuse it with
    UnsupportedError (``allow_unsupported``) or, for a model that contradicts
    itself, with ModelError (``allow_stricter``).

    Returns "refused" (both refused), "unsupported" or "stricter" (only
    int8sqz refused), or "equal"."""
    from ..errors import ModelError, UnsupportedError

    want, ref_error = reference_outcome(case.content, case.inputs)
    try:
        got = run_int8sqz(case.content, case.inputs)
        error = None
    except ModelError as exc:  # UnsupportedError is a ModelError
        got, error = None, exc
    if ref_error is not None:
        assert error is not None, (
            f"{case.describe()}: the reference refuses the model ({ref_error}) "
            f"but int8sqz runs it"
        )
        REFUSAL_COUNTS[case.op] += 1
        return "refused"
    if error is not None:
        unsupported = isinstance(error, UnsupportedError)
        assert (allow_unsupported and unsupported) or (allow_stricter and not unsupported), (
            f"{case.describe()}: the reference runs the model but int8sqz refuses it: "
            f"{type(error).__name__}: {error}"
        )
        return "unsupported" if unsupported else "stricter"
    MODEL_COUNTS[case.op] += 1
    compare_outputs(want, got, case.describe())
    return "equal"


# -- the session summary -------------------------------------------------------------------

class _CountReport:
    """A pytest plugin that prints MODEL_COUNTS at the end of the session and,
    when INT8SQZ_MODEL_COUNTS names a file, writes them there as JSON."""

    def pytest_terminal_summary(self, terminalreporter):
        if not MODEL_COUNTS and not REFUSAL_COUNTS:
            return
        tr = terminalreporter
        tr.section("int8sqz: generated models run in both runtimes, per operator")
        for op in sorted(set(MODEL_COUNTS) | set(REFUSAL_COUNTS)):
            extra = f" (+{REFUSAL_COUNTS[op]} refused by both)" if REFUSAL_COUNTS[op] else ""
            tr.write_line(f"{op:16s} {MODEL_COUNTS[op]:6d}{extra}")
        tr.write_line(f"{'total':16s} {sum(MODEL_COUNTS.values()):6d}")
        path = os.environ.get("INT8SQZ_MODEL_COUNTS")
        if path:
            with open(path, "w") as f:
                json.dump({"equal": dict(MODEL_COUNTS), "refused": dict(REFUSAL_COUNTS)}, f,
                          indent=1, sort_keys=True)


def register_count_report(config) -> None:
    """Register the summary plugin once per session (call from a fixture)."""
    name = "int8sqz-model-counts"
    if not config.pluginmanager.has_plugin(name):
        config.pluginmanager.register(_CountReport(), name)


#: operator -> a function returning a strategy of :class:`Case` for it (the
#: conformance test asks every registered unit for one)
OPERATOR_CASES = {
    "ADD": lambda: binary_cases("ADD"),
    "AVERAGE_POOL_2D": lambda: pool_cases("AVERAGE_POOL_2D"),
    "CONCATENATION": lambda: concatenation_cases(),
    "CONV_2D": lambda: conv_2d_cases(),
    "DEQUANTIZE": lambda: dequantize_cases(),
    "MAX_POOL_2D": lambda: pool_cases("MAX_POOL_2D"),
    "MEAN": lambda: mean_cases(),
    "MUL": lambda: binary_cases("MUL"),
    "QUANTIZE": lambda: quantize_cases(),
    "SOFTMAX": lambda: softmax_cases(),
    "SUB": lambda: binary_cases("SUB"),
    "MAXIMUM": lambda: extremum_cases("MAXIMUM"),
    "MINIMUM": lambda: extremum_cases("MINIMUM"),
    "RELU": lambda: relu_cases("RELU"),
    "RELU6": lambda: relu_cases("RELU6"),
    "LOGISTIC": lambda: logistic_cases(),
    "REDUCE_MAX": lambda: reduce_max_cases(),
    "RESIZE_BILINEAR": lambda: resize_bilinear_cases(),
    # data movement: int8sqz/testing/movement.py
    "EXPAND_DIMS": lambda: _movement().expand_dims_cases(),
    "PACK": lambda: _movement().pack_cases(),
    "PAD": lambda: _movement().pad_cases("PAD"),
    "PADV2": lambda: _movement().pad_cases("PADV2"),
    "RESHAPE": lambda: _movement().reshape_cases(),
    "SHAPE": lambda: _movement().shape_cases(),
    "SQUEEZE": lambda: _movement().squeeze_cases(),
    "STRIDED_SLICE": lambda: _movement().strided_slice_cases(),
    "TILE": lambda: _movement().tile_cases(),
    "TRANSPOSE": lambda: _movement().transpose_cases(),
    "DEPTHWISE_CONV_2D": lambda: depthwise_conv_2d_cases(),
    "FULLY_CONNECTED": lambda: fully_connected_cases(),
}


def _movement():
    from . import movement

    return movement
