"""Hypothesis strategies for the numerics tests: one-operator models whose
parameters make the runtimes' rounding differences happen (power-of-two
scale ratios put the requantized values on exact ties; vectors longer than
the kernels' blocks exercise both their vector loops and scalar tails; channel
counts around 8 and 16 cross the block boundaries), beside ordinary random
ones. They complement int8sqz.testing.strategies, whose cases are also run;
each returns a :class:`~int8sqz.testing.strategies.Case`."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from int8sqz.testing.strategies import Case, int_data, log_uniform, zero_points
from int8sqz.testing.writer import GraphBuilder

ACTIVATIONS = ("NONE", "RELU", "RELU6", "RELU_N1_TO_1")


def _f32(x) -> float:
    return float(np.float32(x))


@st.composite
def scale_pair(draw, base_lo=2**-10, base_hi=1.0, octaves=(-3, 3)):
    """(a, b): a log-uniform scale and a second one at an exact power-of-two
    ratio (ties) or anywhere near it."""
    a = draw(log_uniform(base_lo, base_hi))
    if draw(st.booleans()):
        b = a * 2.0 ** draw(st.integers(*octaves))
    else:
        b = a * 2.0 ** draw(st.floats(*octaves))
    return _f32(a), _f32(b)


@st.composite
def lengths(draw, blocks=(8, 16)):
    """A length around a multiple of the kernels' block sizes."""
    block = draw(st.sampled_from(blocks))
    return max(1, block * draw(st.integers(0, 3)) + draw(st.integers(-2, 5)))


# -- QUANTIZE / DEQUANTIZE ------------------------------------------------------------------

@st.composite
def quantize_tie_cases(draw):
    """QUANTIZE with values on rounding ties: float inputs at (k + 1/2) *
    scale, integer inputs at power-of-two scale ratios, 1 to 70 elements
    (the 8- and 16-element vector loops and their tails)."""
    src, dst = draw(st.sampled_from([("FLOAT32", "INT8"), ("FLOAT32", "UINT8"),
                                     ("INT8", "INT8"), ("UINT8", "UINT8"),
                                     ("INT8", "UINT8"), ("UINT8", "INT8")]))
    n = draw(lengths())
    out_scale = _f32(2.0 ** draw(st.integers(-8, 2)) *
                     (1.0 if draw(st.booleans()) else draw(st.floats(0.5, 1.0))))
    out_zp = draw(zero_points(dst))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    g = GraphBuilder()
    if src == "FLOAT32":
        x = g.input("x", (n,), "FLOAT32")
        k = rng.integers(-150, 150, n) + rng.choice([0.0, 0.5, -0.5, 0.25], n)
        data = (k * out_scale).astype(np.float32)
        in_q = None
    else:
        ratio = 2.0 ** draw(st.integers(-4, 4)) if draw(st.booleans()) else \
            2.0 ** draw(st.floats(-6, 6))
        in_q = (_f32(out_scale * ratio), draw(zero_points(src)))
        x = g.input("x", (n,), src, scale=in_q[0], zero_point=in_q[1])
        data = draw(int_data(src, (n,), in_q[1]))
    y = g.tensor("y", (n,), dst, scale=out_scale, zero_point=out_zp)
    g.operator("QUANTIZE", [x], y)
    g.output(y)
    return Case("QUANTIZE", g.build(), [data], dict(types=(src, dst), n=n, in_q=in_q,
                                                    out_q=(out_scale, out_zp)))


@st.composite
def dequantize_long_cases(draw):
    """DEQUANTIZE of 1 to 70 values (the 8-element vector loop and its tail)."""
    src = draw(st.sampled_from(["INT8", "UINT8"]))
    n = draw(lengths((8,)))
    scale = draw(log_uniform(1e-5, 16.0))
    zp = draw(zero_points(src))
    g = GraphBuilder()
    x = g.input("x", (n,), src, scale=scale, zero_point=zp)
    y = g.tensor("y", (n,), "FLOAT32")
    g.operator("DEQUANTIZE", [x], y)
    g.output(y)
    return Case("DEQUANTIZE", g.build(), [draw(int_data(src, (n,), zp))],
                dict(type=src, n=n, q=(scale, zp)))


# -- convolutions and FULLY_CONNECTED ---------------------------------------------------------

@st.composite
def _filter_quantization(draw, channels, per_channel, in_scale):
    """Per-channel (or one) filter scales at power-of-two ratios to the input
    scale (exact multipliers, ties) or anywhere; an output scale putting the
    multipliers between 2**-7 and 2**1.5."""
    k = channels if per_channel else 1
    exact = draw(st.booleans())
    if exact:
        w_scales = [_f32(2.0 ** draw(st.integers(-12, -2))) for _ in range(k)]
        mult = 2.0 ** draw(st.integers(-7, 1))
    else:
        base = draw(log_uniform(1e-4, 0.05))
        w_scales = [_f32(base * 2.0 ** draw(st.floats(-1, 1))) for _ in range(k)]
        mult = 2.0 ** draw(st.floats(-7, 1.5))
    out_scale = _f32(in_scale * float(np.median(w_scales)) / mult)
    return np.array(w_scales, np.float32), out_scale, exact


@st.composite
def _layer(draw, weight_shape, channels):
    """The quantization and constants of a convolution-like layer: input
    scale (a power of two) and zero point, small int8 weights with
    :func:`_filter_quantization`'s scales, an int32 bias at in_scale *
    w_scale, the output zero point; and the seed for the data."""
    in_scale = _f32(2.0 ** draw(st.integers(-10, -2)))
    per_channel = draw(st.booleans())
    w_scales, out_scale, exact = draw(_filter_quantization(channels, per_channel, in_scale))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return dict(
        in_scale=in_scale, in_zp=draw(zero_points("INT8")), per_channel=per_channel,
        w_scales=w_scales, out_scale=out_scale, exact=exact, out_zp=draw(zero_points("INT8")),
        weights=rng.integers(-8, 9, weight_shape).astype(np.int8),
        bias=rng.integers(-64, 65, channels).astype(np.int32),
        bias_scales=(np.float64(in_scale) * w_scales.astype(np.float64)).astype(np.float32))


@st.composite
def depthwise_cases(draw):
    """DEPTHWISE_CONV_2D, int8, per-channel or per-tensor: 1 to 20 output
    channels (the 8-channel groups and the rest), depth multiplier 1 to 3,
    stride, dilation, padding, activation; small weights and inputs near
    the zero point so that the final rounding shifts are short and hit ties."""
    n = draw(st.integers(1, 2))
    c = draw(st.integers(1, 10))
    dm = draw(st.sampled_from([1, 1, 1, 2, 3]))
    cout = c * dm
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    sh, sw = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    dh, dw = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    padding = draw(st.sampled_from(["SAME", "VALID"]))
    h = draw(st.integers((kh - 1) * dh + 1, (kh - 1) * dh + 6))
    w = draw(st.integers((kw - 1) * dw + 1, (kw - 1) * dw + 6))
    q = draw(_layer((1, kh, kw, cout), cout))
    in_scale, in_zp, out_scale, out_zp = q["in_scale"], q["in_zp"], q["out_scale"], q["out_zp"]
    activation = draw(st.sampled_from(ACTIVATIONS))

    def out_size(size, k, s, d):
        eff = (k - 1) * d + 1
        return (size + s - 1) // s if padding == "SAME" else (size - eff + s) // s

    oh, ow = out_size(h, kh, sh, dh), out_size(w, kw, sw, dw)
    g = GraphBuilder()
    x = g.input("input", (n, h, w, c), "INT8", scale=in_scale, zero_point=in_zp)
    f = g.constant("filter", q["weights"], scale=q["w_scales"], quantized_dimension=3)
    # TFLite requires the bias for int8
    inputs = [x, f, g.constant("bias", q["bias"], scale=q["bias_scales"])]
    y = g.tensor("output", (n, oh, ow, cout), "INT8", scale=out_scale, zero_point=out_zp)
    g.operator("DEPTHWISE_CONV_2D", inputs, y, padding=padding, stride_h=sh, stride_w=sw,
               dilation_hfactor=dh, dilation_wfactor=dw, depth_multiplier=dm,
               fused_activation_function=activation, version=3)
    g.output(y)
    data = draw(int_data("INT8", (n, h, w, c), in_zp, mode="near_zero_point"))
    return Case("DEPTHWISE_CONV_2D", g.build(), [data], dict(
        input=(n, h, w, c), filter=(kh, kw), dm=dm, stride=(sh, sw), dilation=(dh, dw),
        padding=padding, activation=activation, per_channel=q["per_channel"], exact=q["exact"],
        in_q=(in_scale, in_zp), out_q=(out_scale, out_zp)))


@st.composite
def conv_gemv_cases(draw):
    """CONV_2D whose output has one pixel (the GEMM has one column: the
    builtin kernels take the NEON custom GEMV when there are >= 4 output
    channels and >= 8 values per window), with tie-prone scales."""
    c = draw(st.integers(1, 6))
    k = draw(st.integers(1, 3))
    cout = draw(st.integers(1, 12))
    q = draw(_layer((cout, k, k, c), cout))
    in_scale, in_zp, out_scale, out_zp = q["in_scale"], q["in_zp"], q["out_scale"], q["out_zp"]
    g = GraphBuilder()
    x = g.input("input", (1, k, k, c), "INT8", scale=in_scale, zero_point=in_zp)
    f = g.constant("filter", q["weights"], scale=q["w_scales"])
    b = g.constant("bias", q["bias"], scale=q["bias_scales"])
    y = g.tensor("output", (1, 1, 1, cout), "INT8", scale=out_scale, zero_point=out_zp)
    activation = draw(st.sampled_from(ACTIVATIONS))
    g.operator("CONV_2D", [x, f, b], y, padding="VALID", fused_activation_function=activation)
    g.output(y)
    data = draw(int_data("INT8", (1, k, k, c), in_zp, mode="near_zero_point"))
    return Case("CONV_2D", g.build(), [data], dict(
        window=(k, k, c), cout=cout, per_channel=q["per_channel"], exact=q["exact"],
        activation=activation, in_q=(in_scale, in_zp), out_q=(out_scale, out_zp)))


@st.composite
def fully_connected_cases(draw):
    """FULLY_CONNECTED, int8 weights per-tensor or per-channel, with or
    without bias, keep_num_dims, 1 to 3 batch rows (one row: the NEON custom
    GEMV when depth >= 8 and units >= 4; else ruy), tie-prone scales."""
    depth = draw(st.integers(1, 20))
    units = draw(st.integers(1, 12))
    lead = draw(st.sampled_from([(1,), (2,), (3,), (1, 2), (2, 1, 2)]))
    keep = draw(st.booleans())
    q = draw(_layer((units, depth), units))
    in_scale, in_zp, out_scale, out_zp = q["in_scale"], q["in_zp"], q["out_scale"], q["out_zp"]
    g = GraphBuilder()
    x = g.input("input", lead + (depth,), "INT8", scale=in_scale, zero_point=in_zp)
    f = g.constant("filter", q["weights"], scale=q["w_scales"])
    with_bias = draw(st.booleans())
    inputs = [x, f, g.constant("bias", q["bias"], scale=q["bias_scales"]) if with_bias else -1]
    rows = int(np.prod(lead))
    out_shape = lead + (units,) if keep else (rows, units)
    y = g.tensor("output", out_shape, "INT8", scale=out_scale, zero_point=out_zp)
    activation = draw(st.sampled_from(ACTIVATIONS))
    g.operator("FULLY_CONNECTED", inputs, y, fused_activation_function=activation,
               keep_num_dims=keep, version=4)
    g.output(y)
    data = draw(int_data("INT8", lead + (depth,), in_zp, mode="near_zero_point"))
    return Case("FULLY_CONNECTED", g.build(), [data], dict(
        input=lead + (depth,), units=units, keep_num_dims=keep, bias=with_bias,
        per_channel=q["per_channel"], exact=q["exact"], activation=activation,
        in_q=(in_scale, in_zp), out_q=(out_scale, out_zp)))


# -- pooling, MEAN ------------------------------------------------------------------------------

@st.composite
def max_pool_tie_cases(draw):
    """MAX_POOL_2D whose activation bounds fall on rounding ties (scale 2 or
    4 with RELU_N1_TO_1 / RELU6 / RELU), strides up to 3 (beyond the filter:
    not delegated)."""
    fh, fw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    h, w = draw(st.integers(fh, fh + 5)), draw(st.integers(fw, fw + 5))
    c = draw(st.integers(1, 4))
    scale = _f32(draw(st.sampled_from([2.0, 4.0, 0.8, 12.0, 0.5])))
    zp = draw(zero_points("INT8"))
    activation = draw(st.sampled_from(ACTIVATIONS))
    padding = draw(st.sampled_from(["SAME", "VALID"]))

    def out_size(size, k, s):
        return (size + s - 1) // s if padding == "SAME" else (size - k + s) // s

    g = GraphBuilder()
    x = g.input("input", (1, h, w, c), "INT8", scale=scale, zero_point=zp)
    y = g.tensor("output", (1, out_size(h, fh, sh), out_size(w, fw, sw), c), "INT8",
                 scale=scale, zero_point=zp)
    g.operator("MAX_POOL_2D", [x], y, padding=padding, stride_h=sh, stride_w=sw,
               filter_height=fh, filter_width=fw, fused_activation_function=activation)
    g.output(y)
    mode = draw(st.sampled_from(["near_zero_point", "near_zero_point", None]))
    data = draw(int_data("INT8", (1, h, w, c), zp, mode=mode))
    return Case("MAX_POOL_2D", g.build(), [data], dict(
        input=(1, h, w, c), filter=(fh, fw), stride=(sh, sw), padding=padding,
        activation=activation, q=(scale, zp)))


@st.composite
def mean_hw_cases(draw):
    """MEAN over H and W of an NHWC tensor with keep_dims (the optimized int8
    MEAN: its 16-channel blocks, tails and per-thread channel ranges), with
    power-of-two scale ratios and window sizes (ties)."""
    c = draw(st.integers(1, 48))
    h, w = draw(st.sampled_from([1, 2, 4, 3, 7])), draw(st.sampled_from([1, 2, 4, 5]))
    n = draw(st.integers(1, 2))
    in_scale = draw(log_uniform(2**-8, 1.0))
    out_scale = _f32(in_scale * 2.0 ** draw(st.integers(-2, 2))) if draw(st.booleans()) \
        else _f32(in_scale * 2.0 ** draw(st.floats(-2, 2)))
    in_zp, out_zp = draw(zero_points("INT8")), draw(zero_points("INT8"))
    axes = draw(st.sampled_from([[1, 2], [2, 1], [-3, -2]]))
    keep = draw(st.sampled_from([True, True, False]))
    g = GraphBuilder()
    x = g.input("input", (n, h, w, c), "INT8", scale=in_scale, zero_point=in_zp)
    ax = g.constant("axes", np.array(axes, np.int32))
    y = g.tensor("output", (n, 1, 1, c) if keep else (n, c), "INT8", scale=out_scale,
                 zero_point=out_zp)
    g.operator("MEAN", [x, ax], y, keep_dims=keep)
    g.output(y)
    return Case("MEAN", g.build(), [draw(int_data("INT8", (n, h, w, c), in_zp))], dict(
        input=(n, h, w, c), axes=axes, keep_dims=keep, in_q=(in_scale, in_zp),
        out_q=(out_scale, out_zp)))


# -- ADD, MUL, SUB --------------------------------------------------------------------------------

_BROADCASTS = (((2, 3, 5, 16), (16,)), ((1, 4, 4, 17), (17,)), ((16,), (1,)), ((33,), (33,)),
               ((1,), (3, 9)), ((2, 1, 24), (2, 5, 24)), ((4, 1), (1, 40)),
               ((3, 2, 1, 5), (1, 2, 7, 1)), ((), (20,)), ((2, 9, 1), (9, 1)),
               ((1, 2, 2, 32), (1, 1, 1, 32)), ((64,), (64,)), ((8, 8), (8, 1)))

#: scales (a, b, out) found to separate the builtin ADD's NEON paths from the
#: reference (one rounding instead of two on the 20-bit scaled inputs)
_ADD_RECIPES = ((0.5, 0.3571428656578064, 1.0), (0.25, 0.1875, 0.5), (1.0, 0.6, 2.0))


@st.composite
def binary_tie_cases(draw, op):
    """ADD, MUL or SUB of int8 tensors: broadcast patterns of the five-fold
    loop (inner runs below, at and above 8 and 16 elements, scalar
    broadcasts, generic ones), power-of-two scales (ties), known separating
    scale sets, tiny output scales (int16 wrap in the NEON paths), a constant
    or a second input, any activation."""
    s1, s2 = draw(st.sampled_from(_BROADCASTS))
    if draw(st.booleans()):
        s1, s2 = s2, s1
    kind = draw(st.sampled_from(["pow2", "pow2", "any", "recipe", "tiny"]))
    if kind == "recipe" and op != "MUL":
        sa, sb, so = draw(st.sampled_from(_ADD_RECIPES))
    else:
        sa = _f32(2.0 ** draw(st.integers(-8, -1)))
        sb = _f32(2.0 ** draw(st.integers(-8, -1)))
        if op == "MUL":
            so = sa * sb * 2.0 ** draw(st.integers(-3, 8))
        else:
            so = max(sa, sb) * 2.0 ** draw(st.integers(-2, 2))
        if kind == "any":
            so *= draw(st.floats(0.5, 1.0))
        elif kind == "tiny":
            so *= 2.0 ** -draw(st.integers(4, 9))
    so = _f32(so)
    za, zb, zo = (draw(zero_points("INT8")) for _ in range(3))
    activation = draw(st.sampled_from(ACTIVATIONS))
    constant = draw(st.booleans())
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    bdata = rng.integers(-128, 128, s2).astype(np.int8)
    g = GraphBuilder()
    a = g.input("a", s1, "INT8", scale=sa, zero_point=za)
    b = g.constant("b", bdata, scale=sb, zero_point=zb) if constant else \
        g.input("b", s2, "INT8", scale=sb, zero_point=zb)
    y = g.tensor("y", np.broadcast_shapes(s1, s2), "INT8", scale=so, zero_point=zo)
    g.operator(op, [a, b], y, fused_activation_function=activation)
    g.output(y)
    data = [rng.integers(-128, 128, s1).astype(np.int8)] + ([] if constant else [bdata])
    return Case(op, g.build(), data, dict(shapes=(s1, s2), kind=kind, constant=constant,
                                          activation=activation, q=(sa, za, sb, zb, so, zo)))


# -- the operators that move or pick values ---------------------------------------------------

@st.composite
def pad_cases(draw):
    """PAD (border = output zero point) and PADV2 (border = a constant)."""
    op = draw(st.sampled_from(["PAD", "PADV2"]))
    rank = draw(st.integers(1, 4))
    shape = tuple(draw(st.lists(st.integers(1, 5), min_size=rank, max_size=rank)))
    pads = np.array(draw(st.lists(st.integers(0, 3), min_size=2 * rank, max_size=2 * rank)),
                    np.int32).reshape(rank, 2)
    scale, zp = draw(log_uniform(2**-8, 1.0)), draw(zero_points("INT8"))
    g = GraphBuilder()
    x = g.input("x", shape, "INT8", scale=scale, zero_point=zp)
    p = g.constant("paddings", pads)
    inputs = [x, p]
    if op == "PADV2":
        inputs.append(g.constant("value", np.array([draw(st.integers(-128, 127))], np.int8),
                                 scale=scale, zero_point=zp))
    out_shape = tuple(d + int(a) + int(b) for d, (a, b) in zip(shape, pads))
    y = g.tensor("y", out_shape, "INT8", scale=scale, zero_point=zp)
    g.operator(op, inputs, y)
    g.output(y)
    return Case(op, g.build(), [draw(int_data("INT8", shape, zp))],
                dict(shape=shape, pads=pads.tolist()))


@st.composite
def movement_cases(draw):
    """RESHAPE, TRANSPOSE, TILE, PACK, REDUCE_MAX, MAXIMUM, MINIMUM on int8
    (one operator per case)."""
    op = draw(st.sampled_from(["RESHAPE", "TRANSPOSE", "TILE", "PACK", "REDUCE_MAX",
                               "MAXIMUM", "MINIMUM"]))
    rank = draw(st.integers(1, 4))
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=rank, max_size=rank)))
    scale, zp = draw(log_uniform(2**-8, 1.0)), draw(zero_points("INT8"))
    g = GraphBuilder()
    x = g.input("x", shape, "INT8", scale=scale, zero_point=zp)
    inputs, datas = [x], [draw(int_data("INT8", shape, zp))]
    opts = {}
    if op == "RESHAPE":
        out_shape = (int(np.prod(shape)),) if draw(st.booleans()) else tuple(reversed(shape))
        inputs.append(g.constant("shape", np.array(out_shape, np.int32)))
    elif op == "TRANSPOSE":
        perm = draw(st.permutations(range(rank)))
        inputs.append(g.constant("perm", np.array(perm, np.int32)))
        out_shape = tuple(shape[p] for p in perm)
    elif op == "TILE":
        mult = draw(st.lists(st.integers(1, 3), min_size=rank, max_size=rank))
        inputs.append(g.constant("multiples", np.array(mult, np.int32)))
        out_shape = tuple(d * m for d, m in zip(shape, mult))
    elif op == "PACK":
        k = draw(st.integers(1, 3))
        axis = draw(st.integers(0, rank))
        for i in range(1, k):
            inputs.append(g.input(f"x{i}", shape, "INT8", scale=scale, zero_point=zp))
            datas.append(draw(int_data("INT8", shape, zp)))
        out_shape = shape[:axis] + (k,) + shape[axis:]
        opts = dict(axis=axis, values_count=k)
    elif op == "REDUCE_MAX":
        axes = draw(st.lists(st.integers(-rank, rank - 1), min_size=1, max_size=rank,
                             unique_by=lambda a: a % rank))
        keep = draw(st.booleans())
        inputs.append(g.constant("axes", np.array(axes, np.int32)))
        red = {a % rank for a in axes}
        out_shape = tuple(1 if i in red else d for i, d in enumerate(shape)) if keep else \
            tuple(d for i, d in enumerate(shape) if i not in red)
        opts = dict(keep_dims=keep)
    else:
        inputs.append(g.input("y", shape, "INT8", scale=scale, zero_point=zp))
        datas.append(draw(int_data("INT8", shape, zp)))
        out_shape = shape
    y = g.tensor("out", out_shape, "INT8", scale=scale, zero_point=zp)
    g.operator(op, inputs, y, **opts)
    g.output(y)
    return Case(op, g.build(), datas, dict(shape=shape, options=opts))


@st.composite
def strided_slice_cases(draw):
    """STRIDED_SLICE of int8 or int32 with every mask, negative strides and
    offset; the output shape computed by slicing a NumPy array the way
    TensorFlow's rules say (the reference runtime checks it)."""
    type_name = draw(st.sampled_from(["INT8", "INT32"]))
    rank = draw(st.integers(1, 4))
    shape = tuple(draw(st.lists(st.integers(1, 6), min_size=rank, max_size=rank)))
    begin, end, strides = [], [], []
    for d in shape:
        s = draw(st.sampled_from([1, 1, 2, -1, -2, 3]))
        begin.append(draw(st.integers(-d, d - 1)))
        end.append(draw(st.integers(-d - 1, d)))
        strides.append(s)
    bits = st.integers(0, 2**rank - 1)
    begin_mask, end_mask = draw(bits), draw(bits)
    shrink = draw(bits) if draw(st.booleans()) else 0
    for i in range(rank):
        if shrink >> i & 1:
            strides[i] = 1
            begin_mask &= ~(1 << i)
    probe = np.zeros(shape)
    index = []
    for i in range(rank):
        if shrink >> i & 1:
            index.append(begin[i])
        else:
            index.append(slice(None if begin_mask >> i & 1 else begin[i],
                               None if end_mask >> i & 1 else end[i], strides[i]))
    out_shape = probe[tuple(index)].shape
    g = GraphBuilder()
    if type_name == "INT8":
        scale, zp = draw(log_uniform(2**-8, 1.0)), draw(zero_points("INT8"))
        x = g.input("x", shape, "INT8", scale=scale, zero_point=zp)
        data = draw(int_data("INT8", shape, zp))
        y = g.tensor("y", out_shape, "INT8", scale=scale, zero_point=zp)
    else:
        x = g.input("x", shape, "INT32")
        data = np.arange(int(np.prod(shape)), dtype=np.int32).reshape(shape) - 7
        y = g.tensor("y", out_shape, "INT32")
    ins = [x] + [g.constant(n, np.array(v, np.int32))
                 for n, v in (("begin", begin), ("end", end), ("strides", strides))]
    g.operator("STRIDED_SLICE", ins, y, begin_mask=begin_mask, end_mask=end_mask,
               shrink_axis_mask=shrink)
    g.output(y)
    return Case("STRIDED_SLICE", g.build(), [data], dict(
        type=type_name, shape=shape, begin=begin, end=end, strides=strides,
        begin_mask=begin_mask, end_mask=end_mask, shrink=shrink))


# -- RESIZE_BILINEAR, LOGISTIC, RELU ------------------------------------------------------------

@st.composite
def resize_bilinear_cases(draw):
    """RESIZE_BILINEAR, int8, up- and downscaling, each flag combination,
    the size constant (delegated) or a graph input (not delegated)."""
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 5))
    h, w = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    oh, ow = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    mode = draw(st.sampled_from(["legacy", "align_corners", "half_pixel"]))
    scale, zp = draw(log_uniform(2**-8, 1.0)), draw(zero_points("INT8"))
    g = GraphBuilder()
    x = g.input("x", (n, h, w, c), "INT8", scale=scale, zero_point=zp)
    datas = [draw(int_data("INT8", (n, h, w, c), zp))]
    size = np.array([oh, ow], np.int32)
    if draw(st.booleans()):
        s = g.constant("size", size)
    else:
        s = g.input("size", (2,), "INT32")
        datas.append(size)
    y = g.tensor("y", (n, oh, ow, c), "INT8", scale=scale, zero_point=zp)
    g.operator("RESIZE_BILINEAR", [x, s], y, align_corners=mode == "align_corners",
               half_pixel_centers=mode == "half_pixel")
    g.output(y)
    return Case("RESIZE_BILINEAR", g.build(), datas, dict(
        input=(n, h, w, c), size=(oh, ow), mode=mode, q=(scale, zp)))


@st.composite
def logistic_cases(draw):
    """LOGISTIC, int8 in, the converter's output quantization (1/256, -128):
    every input value once (the whole table), at scales from 2**-6 to 1."""
    in_scale = draw(log_uniform(2**-6, 1.0))
    in_zp = draw(zero_points("INT8"))
    data = np.arange(-128, 128, dtype=np.int8).reshape(16, 16)
    g = GraphBuilder()
    x = g.input("x", data.shape, "INT8", scale=in_scale, zero_point=in_zp)
    y = g.tensor("y", data.shape, "INT8", scale=1.0 / 256, zero_point=-128)
    g.operator("LOGISTIC", [x], y)
    g.output(y)
    return Case("LOGISTIC", g.build(), [data], dict(in_q=(in_scale, in_zp)))


@st.composite
def relu_cases(draw):
    """RELU and RELU6, int8, input and output quantized alike or not."""
    op = draw(st.sampled_from(["RELU", "RELU6"]))
    n = draw(lengths())
    si, so = draw(scale_pair(2**-6, 0.5, (-2, 2)))
    zi, zo = draw(zero_points("INT8")), draw(zero_points("INT8"))
    if draw(st.booleans()):
        so, zo = si, zi
    g = GraphBuilder()
    x = g.input("x", (n,), "INT8", scale=si, zero_point=zi)
    y = g.tensor("y", (n,), "INT8", scale=so, zero_point=zo)
    g.operator(op, [x], y)
    g.output(y)
    return Case(op, g.build(), [draw(int_data("INT8", (n,), zi))],
                dict(n=n, in_q=(si, zi), out_q=(so, zo)))




# -- every operator's cases, for the oracle tests and the engine's ------------------------

def operator_cases(types: bool = False) -> dict:
    """Test name -> (hypothesis strategy of cases, factor of the profile's
    examples) for each operator group of the numerics tests. ``types``: also
    the generic strategies' other tensor types (uint8 and float32 models of
    the operators that take them)."""
    S = _strategies()
    cases = {
        "quantize": (st.one_of(S.quantize_cases(), quantize_tie_cases()), 3),
        "dequantize": (st.one_of(S.dequantize_cases(), dequantize_long_cases()), 3),
        "conv_2d": (st.one_of(S.conv_2d_cases(small_accumulators=True), S.conv_2d_cases()), 3),
        "conv_2d_one_output_pixel": (conv_gemv_cases(), 3),
        "max_pool_2d": (st.one_of(S.pool_cases("MAX_POOL_2D"), max_pool_tie_cases()), 3),
        "average_pool_2d": (S.pool_cases("AVERAGE_POOL_2D"), 2),
        "concatenation": (S.concatenation_cases(), 2),
        "mean": (st.one_of(S.mean_cases(), S.mean_cases(realistic=True), mean_hw_cases()), 3),
        "softmax": (st.one_of(S.softmax_cases(many_rows=True),
                              S.softmax_cases(realistic=True)), 2),
        "add": (st.one_of(S.binary_cases("ADD"), S.binary_cases("ADD", realistic=True),
                          binary_tie_cases("ADD")), 3),
        "mul": (st.one_of(S.binary_cases("MUL"), S.binary_cases("MUL", realistic=True),
                          binary_tie_cases("MUL")), 3),
        "depthwise_conv_2d": (depthwise_cases(), 3),
        "fully_connected": (fully_connected_cases(), 3),
        "pad_padv2": (pad_cases(), 2),
        "reshape_transpose_tile_pack_reduce_max_maximum_minimum": (movement_cases(), 3),
        "strided_slice": (strided_slice_cases(), 3),
        "resize_bilinear": (resize_bilinear_cases(), 3),
        "logistic": (logistic_cases(), 2),
        "sub": (binary_tie_cases("SUB"), 3),
        "relu_relu6": (relu_cases(), 2),
    }
    if types:
        cases.update({
            "softmax_uint8": (S.softmax_cases(type_name="UINT8"), 1),
            "logistic_types": (S.logistic_cases(), 1),
            "resize_bilinear_types": (S.resize_bilinear_cases(), 1),
            "relu_relu6_types": (st.one_of(S.relu_cases("RELU"), S.relu_cases("RELU6")), 1),
            "binary_uint8": (st.one_of(S.binary_cases("ADD", type_name="UINT8"),
                                       S.binary_cases("MUL", type_name="UINT8"),
                                       S.binary_cases("SUB", type_name="UINT8")), 1),
            "mean_uint8": (st.one_of(S.mean_cases(type_name="UINT8"),
                                     S.mean_cases(realistic=True, type_name="UINT8")), 1),
            "concatenation_types": (S.concatenation_cases("UINT8", same_quantization=False), 1),
            "maximum_minimum_types": (st.one_of(S.extremum_cases("MAXIMUM"),
                                                S.extremum_cases("MINIMUM")), 1),
            "depthwise_conv_2d_generic": (st.one_of(
                S.depthwise_conv_2d_cases(), S.depthwise_conv_2d_cases(small_accumulators=True)),
                1),
            "fully_connected_types": (S.fully_connected_cases(), 1),
        })
    return cases


def _strategies():
    from int8sqz.testing import strategies

    return strategies


# -- fixed cases: each modelled difference exists --------------------------------------------------

def one_operator_model(op, shapes_types, out, options=None, constants=None):
    """One operator: ``shapes_types`` lists the graph inputs as (shape, type,
    scale, zero point); ``constants`` (name -> (array, scale, zero point))
    follow them; ``out`` is (shape, type, scale, zero point)."""
    g = GraphBuilder()
    ins = []
    for k, (shape, type_name, scale, zp) in enumerate(shapes_types):
        q = {} if scale is None else dict(scale=scale, zero_point=zp)
        ins.append(g.input(f"in{k}", shape, type_name, **q))
    for name, (data, scale, zp) in (constants or {}).items():
        q = {} if scale is None else dict(scale=scale, zero_point=zp)
        ins.append(g.constant(name, data, **q))
    shape, type_name, scale, zp = out
    q = {} if scale is None else dict(scale=scale, zero_point=zp)
    y = g.tensor("out", shape, type_name, **q)
    g.operator(op, ins, y, **(options or {}))
    g.output(y)
    return g.build()


def _rng(seed=0):
    return np.random.default_rng(seed)


def _quantize_ties():
    x = ((np.arange(-40, 40) + 0.5) * 0.25).astype(np.float32)
    return Case("QUANTIZE", one_operator_model("QUANTIZE", [((80,), "FLOAT32", None, None)],
                                     ((80,), "INT8", 0.25, 3)), [x])


def _dequantize_block():
    x = np.arange(-128, 128, dtype=np.int8)
    content = one_operator_model("DEQUANTIZE", [((256,), "INT8", 0.0010957220802083611, -106)],
                                 ((256,), "FLOAT32", None, None))
    return Case("DEQUANTIZE", content, [x])


def _requantize_int8():
    x = np.arange(-128, 128, dtype=np.int8)
    return Case("QUANTIZE", one_operator_model("QUANTIZE", [((256,), "INT8", 0.3, 5)],
                                     ((256,), "INT8", 0.5, -3)), [x])


def add_recipe_case():
    rng = _rng(0)
    data = [rng.integers(-128, 128, (4096,)).astype(np.int8) for _ in range(2)]
    content = one_operator_model(
        "ADD", [((4096,), "INT8", 0.5, 51), ((4096,), "INT8", 0.3571428656578064, -63)],
        ((4096,), "INT8", 1.0, 95))
    return Case("ADD", content, data)


def _mul_ties(seed):
    # power-of-two scales; seeds 0 and 2 are the first whose XNNPACK and
    # builtin outputs part from the reference
    rng = _rng(seed)
    sa, sb = (float(2.0 ** -rng.integers(1, 8)) for _ in range(2))
    so = float(sa * sb * 2.0 ** rng.integers(-2, 6))
    za, zb, zo = (int(v) for v in rng.integers(-128, 128, 3))
    content = one_operator_model("MUL", [((64,), "INT8", sa, za), ((64,), "INT8", sb, zb)],
                     ((64,), "INT8", so, zo))
    data = [rng.integers(-128, 128, 64).astype(np.int8) for _ in range(2)]
    return Case("MUL", content, data)


def mean_threads_case():
    rng = _rng(2)
    x = rng.integers(-128, 128, (1, 2, 2, 24)).astype(np.int8)
    content = one_operator_model(
        "MEAN", [((1, 2, 2, 24), "INT8", 0.5, 0)], ((1, 1, 1, 24), "INT8", 0.5, 0),
        dict(keep_dims=True), dict(axes=(np.array([1, 2], np.int32), None, None)))
    return Case("MEAN", content, [x])


def _softmax_rows():
    # 64 rows; seed 21 is the first whose float table and fixed-point
    # reference round apart somewhere
    rng = _rng(21)
    scale = float(np.float32(2.0 ** rng.uniform(-6, 0)))
    content = one_operator_model(
        "SOFTMAX", [((64, 64), "INT8", scale, 0)], ((64, 64), "INT8", 1 / 256, -128),
        dict(beta=1.0))
    return Case("SOFTMAX", content, [rng.integers(-128, 128, (64, 64)).astype(np.int8)])


def _logistic_table():
    x = np.arange(-128, 128, dtype=np.int8)
    content = one_operator_model("LOGISTIC", [((256,), "INT8", 0.06902189552783966, 62)],
                     ((256,), "INT8", 1 / 256, -128))
    return Case("LOGISTIC", content, [x])


def _max_pool_bounds():
    x = np.array([99, 100, 101, 98], np.int8).reshape(1, 2, 2, 1)
    content = one_operator_model("MAX_POOL_2D", [((1, 2, 2, 1), "INT8", 2.0, 100)],
                     ((1, 2, 2, 1), "INT8", 2.0, 100),
                     dict(padding="SAME", stride_h=1, stride_w=1, filter_height=1,
                          filter_width=1, fused_activation_function="RELU_N1_TO_1"))
    return Case("MAX_POOL_2D", content, [x])


def _strided_slice_end_zero():
    x = np.array([1, 2, 3], np.int8)
    content = one_operator_model("STRIDED_SLICE", [((3,), "INT8", 1.0, 0)], ((0,), "INT8", 1.0, 0),
                     constants=dict(begin=(np.array([0], np.int32), None, None),
                                    end=(np.array([0], np.int32), None, None),
                                    strides=(np.array([1], np.int32), None, None)))
    return Case("STRIDED_SLICE", content, [x])


def _add_scalar_lut():
    content = one_operator_model("ADD", [((), "INT8", 1.0, -128)], ((1,), "INT8", 2.49, 127),
                     dict(fused_activation_function="RELU6"),
                     dict(b=(np.array([5], np.int8), 1.0, -19)))
    return Case("ADD", content, [np.array(3, np.int8)])


def _resize():
    # 7x6 -> 5x3, TensorFlow's legacy coordinates
    rng = _rng(0)
    h, w, oh, ow = (int(v) for v in rng.integers(1, 9, 4))
    content = one_operator_model("RESIZE_BILINEAR", [((1, h, w, 2), "INT8", 0.1, 0)],
                     ((1, oh, ow, 2), "INT8", 0.1, 0), {},
                     dict(size=(np.array([oh, ow], np.int32), None, None)))
    return Case("RESIZE_BILINEAR", content,
                  [rng.integers(-128, 128, (1, h, w, 2)).astype(np.int8)])


def _conv_exact():
    rng = _rng(5)
    w = rng.integers(-8, 9, (16, 1, 1, 4)).astype(np.int8)
    content = one_operator_model(
        "CONV_2D", [((1, 8, 8, 4), "INT8", 2.0**-6, 0)], ((1, 8, 8, 16), "INT8", 2.0**-9, 0),
        dict(padding="SAME"),
        dict(w=(w, 2.0**-6, 0), b=(np.zeros(16, np.int32), 2.0**-12, 0)))
    x = rng.integers(-6, 7, (1, 8, 8, 4)).astype(np.int8)
    return Case("CONV_2D", content, [x])


def _depthwise_exact():
    rng = _rng(6)
    w = rng.integers(-8, 9, (1, 3, 3, 12)).astype(np.int8)
    content = one_operator_model("DEPTHWISE_CONV_2D", [((1, 6, 6, 12), "INT8", 2.0**-6, 0)],
                     ((1, 6, 6, 12), "INT8", 2.0**-9, 0),
                     dict(padding="SAME", depth_multiplier=1, stride_h=1, stride_w=1,
                          version=3),
                     dict(w=(w, 2.0**-6, 0), b=(np.zeros(12, np.int32), 2.0**-12, 0)))
    x = rng.integers(-6, 7, (1, 6, 6, 12)).astype(np.int8)
    return Case("DEPTHWISE_CONV_2D", content, [x])


def _fully_connected_exact():
    rng = _rng(7)
    w = rng.integers(-8, 9, (16, 12)).astype(np.int8)
    content = one_operator_model("FULLY_CONNECTED", [((3, 12), "INT8", 2.0**-6, 0)],
                     ((3, 16), "INT8", 2.0**-9, 0), dict(version=4),
                     dict(w=(w, 2.0**-6, 0), b=(np.zeros(16, np.int32), 2.0**-12, 0)))
    x = rng.integers(-6, 7, (3, 12)).astype(np.int8)
    return Case("FULLY_CONNECTED", content, [x])


def large_scale_conv_case():
    """A CONV_2D whose second channel's requantization scale in_scale *
    w_scale / out_scale is 512: XNNPACK cannot create it, and the default
    interpreter refuses the model."""
    content = one_operator_model(
        "CONV_2D", [((1, 2, 2, 1), "INT8", 1.0, 0)], ((1, 2, 2, 2), "INT8", 2**-9, 0),
        dict(padding="SAME"), dict(w=(np.ones((2, 1, 1, 1), np.int8), [1.0, 2**-10], 0),
                                   b=(np.zeros(2, np.int32), [1.0, 2**-10], 0)))
    return Case("CONV_2D", content, [np.zeros((1, 2, 2, 1), np.int8)])


SEPARATING = {
    # name: (case, modes in which the runtime must differ from the reference)
    "quantize float ties": (_quantize_ties, ("builtin", "xnnpack")),
    "quantize int8 8-bit multiplier": (_requantize_int8, ("xnnpack",)),
    "dequantize vector loop": (_dequantize_block, ("builtin",)),
    "conv half-up / fp32": (_conv_exact, ("builtin", "xnnpack")),
    "depthwise half-up / fp32": (_depthwise_exact, ("builtin", "xnnpack")),
    "fully connected half-up / fp32": (_fully_connected_exact, ("builtin", "xnnpack")),
    "add single rounding": (add_recipe_case, ("builtin",)),
    "mul ties (builtin)": (lambda: _mul_ties(2), ("builtin",)),
    "mul ties (xnnpack)": (lambda: _mul_ties(0), ("xnnpack",)),
    "mean hw blocks": (mean_threads_case, ("builtin", "xnnpack")),
    "softmax float table": (_softmax_rows, ("builtin", "xnnpack")),
    "logistic double exp": (_logistic_table, ("xnnpack",)),
    "max pool bounds ties to even": (_max_pool_bounds, ("xnnpack",)),
    "strided slice end 0": (_strided_slice_end_zero, ("xnnpack",)),
    "add scalar lookup table shape": (_add_scalar_lut, ("xnnpack",)),
    "resize bilinear 11-bit": (_resize, ("xnnpack",)),
}
