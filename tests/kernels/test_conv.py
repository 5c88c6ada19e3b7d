"""CONV_2D: the operator (prepare + kernel) against the naive oracle on random
shapes, windows, strides, dilations, paddings, groups, quantizations and
activations, on strided views and overlapping buffers (the aliasing rule);
against TFLite's reference kernels on generated models and on every CONV_2D
node of the seed models; and the prepare-time rejections.

The oracle tests also run with the JIT off (the kernels as plain Python,
kernels/simd.py's Python path included), fewer examples and slower::

    NUMBA_DISABLE_JIT=1 pytest -q tests/kernels/test_conv.py -k oracle
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from int8sqz.errors import ModelError, UnsupportedError
from int8sqz.kernels import conv as kconv
from int8sqz.kernels import fixedpoint as fp
from int8sqz.model import load_model
from int8sqz.ops._common import activation_range, quantize_multiplier
from int8sqz.testing.reference import run_reference
from int8sqz.testing.writer import GraphBuilder
from naive import conv as naive
from single_op import check_seed_nodes, prepare_op, run_single, run_single_bands, seed_inputs

ACTIVATIONS = ["NONE", "RELU", "RELU6", "RELU_N1_TO_1"]


# -- building and running one operator ---------------------------------------------------

def conv_model(x_shape, weights, bias, in_q, w_scales, out_q, *, stride=(1, 1),
               dilation=(1, 1), padding="SAME", activation="NONE", out_shape=None,
               w_zero_points=None, quantized_dimension=0, inputs=None, in_type="INT8",
               bias_type=None, options=None):
    """A one-CONV_2D model; ``in_q``/``out_q`` are (scale, zero point)."""
    n, h, w, _ = x_shape
    o, kh, kw, _ = weights.shape
    if out_shape is None:
        oh = naive.out_size(h, kh, stride[0], dilation[0], padding)
        ow = naive.out_size(w, kw, stride[1], dilation[1], padding)
        out_shape = (n, oh, ow, o)
    g = GraphBuilder()
    x = g.input("x", x_shape, in_type, scale=in_q[0], zero_point=in_q[1])
    w_scales = np.atleast_1d(np.asarray(w_scales, np.float32))
    zps = [0] * w_scales.size if w_zero_points is None else w_zero_points
    f = g.constant("w", np.asarray(weights, np.int8), scale=w_scales, zero_point=zps,
                   quantized_dimension=quantized_dimension)
    ins = [x, f]
    if bias is not None:
        bias = np.asarray(bias, np.int32 if bias_type is None else bias_type)
        bs = (np.float64(np.float32(in_q[0])) * w_scales.astype(np.float64)).astype(np.float32)
        if bs.size != bias.size:
            bs = bs[:1]
        ins.append(g.constant("b", bias, scale=bs, zero_point=[0] * bs.size))
    if inputs is not None:
        ins = [ins[i] if i >= 0 else -1 for i in inputs]
    y = g.tensor("y", out_shape, in_type, scale=out_q[0], zero_point=out_q[1])
    opts = dict(padding=padding, stride_h=stride[0], stride_w=stride[1],
                dilation_hfactor=dilation[0], dilation_wfactor=dilation[1],
                fused_activation_function=activation)
    opts.update(options or {})
    g.operator("CONV_2D", ins, y, **opts)
    g.output(y)
    return g.build()


def oracle(x, weights, bias, in_q, w_scales, out_q, *, stride=(1, 1), dilation=(1, 1),
           padding="SAME", activation="NONE"):
    """The naive convolution with TFLite's multipliers (double products of the
    float32 scales, QuantizeMultiplier) and activation range."""
    o = weights.shape[0]
    in_s, out_s = float(np.float32(in_q[0])), float(np.float32(out_q[0]))
    scales = np.broadcast_to(np.asarray(w_scales, np.float32), (o,))
    ms = [quantize_multiplier(in_s * float(s) / out_s) for s in scales]
    lo, hi = activation_range(activation, out_s, out_q[1], "INT8")
    return naive.conv(x, weights, bias, stride=stride, dilation=dilation, padding=padding,
                      input_offset=-in_q[1], multipliers=[m for m, _ in ms],
                      shifts=[s for _, s in ms], output_offset=out_q[1], act_min=lo, act_max=hi)


# -- against the naive oracle ---------------------------------------------------------------

@st.composite
def conv_cases(draw):
    kh, kw = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    dh, dw = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    padding = draw(st.sampled_from(["SAME", "VALID"]))
    lo_h = (kh - 1) * dh + 1 if padding == "VALID" else 1
    lo_w = (kw - 1) * dw + 1 if padding == "VALID" else 1
    h = draw(st.integers(lo_h, lo_h + 7))
    w = draw(st.integers(lo_w, lo_w + 7))
    n = draw(st.integers(1, 2))
    groups = draw(st.sampled_from([1, 1, 1, 2, 3]))
    cin_g = draw(st.integers(1, 6))
    per_group = draw(st.integers(1, 5 if groups == 1 else 3))
    cin, cout = cin_g * groups, per_group * groups
    per_channel = draw(st.booleans())
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n_scales = cout if per_channel else 1
    # filter scales spanning 1e-5 .. 1
    w_scales = np.float32(10.0 ** rng.uniform(-5, 0, n_scales))
    in_q = (float(np.float32(10.0 ** rng.uniform(-3, 0))),
            draw(st.one_of(st.sampled_from([-128, 0, 127, -1]), st.integers(-128, 127))))
    # an output scale that spreads the accumulators over the int8 range, give or take
    spread = 127.0 * 64.0 * np.sqrt(kh * kw * cin_g) * float(np.median(w_scales)) * in_q[0]
    out_q = (float(np.float32(spread / 64.0 * 2.0 ** draw(st.floats(-4, 4)))),
             draw(st.integers(-128, 127)))
    weights = rng.integers(-128 if draw(st.booleans()) else -127, 128,
                           (cout, kh, kw, cin_g)).astype(np.int8)
    bias = np.round(rng.normal(0, 2.0 ** draw(st.integers(0, 20)), cout)).astype(np.int32)
    mode = draw(st.sampled_from(["uniform", "extremes", "zero_point"]))
    if mode == "uniform":
        x = rng.integers(-128, 128, (n, h, w, cin))
    elif mode == "extremes":
        x = rng.choice([-128, 127], (n, h, w, cin))
    else:
        x = np.clip(in_q[1] + rng.integers(-3, 4, (n, h, w, cin)), -128, 127)
    return dict(x=x.astype(np.int8), weights=weights, bias=bias, in_q=in_q,
                w_scales=w_scales, out_q=out_q, stride=(sh, sw), dilation=(dh, dw),
                padding=padding, activation=draw(st.sampled_from(ACTIVATIONS)))


def _views(rng, shape, dtype):
    """A strided view of ``shape`` inside a larger buffer of sentinels, the buffer,
    and the view's position in it."""
    extra = [int(v) for v in rng.integers(0, 3, 4)]
    buf = np.full([d + 2 * e for d, e in zip(shape, extra)], 77, dtype)
    sl = tuple(slice(e, e + d) for d, e in zip(shape, extra))
    return buf[sl], buf, sl


@given(conv_cases(), st.booleans())
def test_conv_matches_oracle(case, strided):
    x = case.pop("x")
    content = conv_model(x.shape, case["weights"], case["bias"], case["in_q"],
                         case["w_scales"], case["out_q"], stride=case["stride"],
                         dilation=case["dilation"], padding=case["padding"],
                         activation=case["activation"])
    want = oracle(x, **case)
    if not strided:
        got = run_single(content, x)
    else:
        rng = np.random.default_rng(want.size)
        xv, _, _ = _views(rng, x.shape, np.int8)
        xv[...] = x
        out, buf, sl = _views(rng, want.shape, np.int8)
        got = run_single(content, xv, out=out)
        outside = np.ones(buf.shape, bool)
        outside[sl] = False
        assert np.all(buf[outside] == 77), "wrote outside the output view"
    assert got.shape == want.shape
    assert np.array_equal(got, want)


@given(conv_cases(), st.lists(st.integers(1, 4), min_size=1, max_size=3))
def test_bands_of_rows_match_oracle(case, heights):
    """Streaming: the output made a band of rows at a time (conv_2d_rows,
    each band given only the input rows its window reads, its padding rows
    made in the band's own padded image) equals the oracle's, whatever the
    window, stride, dilation, padding, groups and band heights."""
    x = case.pop("x")[:1]
    content = conv_model(x.shape, case["weights"], case["bias"], case["in_q"],
                         case["w_scales"], case["out_q"], stride=case["stride"],
                         dilation=case["dilation"], padding=case["padding"],
                         activation=case["activation"])
    assert np.array_equal(run_single_bands(content, x, heights), oracle(x, **case))


@pytest.mark.parametrize("block_pixels", [1, 7, 10**6])
@pytest.mark.parametrize("shape,filt,stride,dilation,padding,groups", [
    ((2, 7, 9, 6), (5, 3, 3), (1, 1), (1, 1), "SAME", 1),
    ((1, 9, 8, 4), (4, 1, 1), (2, 3), (1, 1), "VALID", 1),
    ((1, 6, 11, 6), (6, 2, 5), (1, 2), (2, 1), "SAME", 3),
    ((1, 5, 5, 3), (7, 5, 5), (3, 1), (1, 1), "SAME", 1),
    ((2, 6, 5, 40), (70, 3, 3), (1, 1), (1, 1), "SAME", 1),
])
def test_any_block_of_rows_matches_oracle(monkeypatch, block_pixels, shape, filt, stride,
                                          dilation, padding, groups):
    """The kernel works in blocks of whole output rows (one row, a few rows, the
    whole image; more than one tile of rows and of columns): same results."""
    monkeypatch.setattr(kconv, "BLOCK_PIXELS", block_pixels)
    rng = np.random.default_rng(sum(shape) + block_pixels % 1000)
    o, kh, kw = filt
    w = rng.integers(-128, 128, (o * groups, kh, kw, shape[3])).astype(np.int8)
    x = rng.integers(-128, 128, (shape[0], shape[1], shape[2], shape[3] * groups)).astype(np.int8)
    b = rng.integers(-5000, 5000, o * groups).astype(np.int32)
    q = dict(in_q=(0.05, -7), w_scales=np.float32(rng.uniform(0.001, 0.01, o * groups)),
             out_q=(0.6, 3), stride=stride, dilation=dilation, padding=padding)
    content = conv_model(x.shape, w, b, q["in_q"], q["w_scales"], q["out_q"], stride=stride,
                         dilation=dilation, padding=padding)
    assert np.array_equal(run_single(content, x), oracle(x, w, b, **q))


def test_output_with_channel_stride_matches_oracle():
    """An output view whose channels are not adjacent (the kernel then
    requantizes one channel at a time instead of 16) gets the same values."""
    rng = np.random.default_rng(11)
    x = rng.integers(-128, 128, (2, 5, 6, 8)).astype(np.int8)
    w = rng.integers(-128, 128, (20, 3, 3, 8)).astype(np.int8)
    b = rng.integers(-5000, 5000, 20).astype(np.int32)
    q = dict(in_q=(0.05, 9), w_scales=np.float32(rng.uniform(0.001, 0.01, 20)), out_q=(0.4, -3))
    content = conv_model(x.shape, w, b, q["in_q"], q["w_scales"], q["out_q"])
    buf = np.full((2, 5, 6, 40), 77, np.int8)
    out = buf[..., ::2]
    got = run_single(content, x, out=out)
    assert np.array_equal(got, oracle(x, w, b, **q))
    assert np.all(buf[..., 1::2] == 77), "wrote between the output's channels"


def conv_params(**fields):
    """Kernel parameters: ``fields``, the others 0."""
    return kconv.ConvParams(**{**dict.fromkeys(kconv.ConvParams._fields, 0), **fields})


@given(st.integers(-(2**31), 2**31 - 1), st.integers(-(2**31), 2**31 - 1),
       st.integers(0, 2**31 - 1), st.integers(-31, 30), st.integers(-128, 127))
def test_branchless_requantization_matches_fixedpoint(acc, bias, multiplier, shift, offset):
    """The kernel's requantization is MultiplyByQuantizedMultiplier for every
    multiplier QuantizeMultiplier can produce (0 <= multiplier < 2**31), plus
    the output offset added in int32 as the reference adds it (wrapping)."""
    params = conv_params(output_offset=offset, act_min=-(2**40), act_max=2**40)
    out32 = np.zeros((1, 1, 1, 1), np.int64)
    kconv._requantize(np.array([[acc]], np.int32), 0, np.array([bias], np.int32),
                      np.array([multiplier], np.int64), np.array([max(shift, 0)], np.int64),
                      np.array([max(-shift, 0)], np.int64), params, out32, 0, 0, 0, 1)
    want = fp.multiply_by_quantized_multiplier(fp.wrap_int32(acc + bias), multiplier, shift)
    assert out32[0, 0, 0, 0] == fp.wrap_int32(want + offset)


def test_offset_wraps_as_the_reference():
    """The case hypothesis found: (0 + 8) << 28 wraps to INT32_MIN, times a
    multiplier of 2**31 - 127 is about INT32_MIN, and the offset -128 wraps
    the sum past it: the reference clamps to act_max (measured with
    BUILTIN_REF on CONV_2D and DEPTHWISE_CONV_2D models hitting it), and so
    do the vector and the scalar paths."""
    params = conv_params(output_offset=-128, act_min=0, act_max=1)
    for name in ("_requantize", "_requantize_vec"):
        out = np.full((1, 1, 1, 4), 99, np.int8)
        lanes = [np.zeros(17, np.int32) for _ in range(4)]
        for lane, v in zip(lanes, (8, 2147483521, 28, 0)):
            lane[0] = v
        getattr(kconv, name)(np.zeros((1, 16), np.int32), 0, *lanes, params, out, 0, 0, 0, 1)
        assert out[0, 0, 0, 0] == 1, name


@given(st.lists(st.tuples(st.integers(-(2**31), 2**31 - 1), st.integers(-(2**31), 2**31 - 1),
                         st.integers(0, 2**31 - 1), st.integers(-31, 30)),
                min_size=1, max_size=40),
       st.integers(-128, 127), st.integers(-128, 127), st.integers(0, 255))
def test_vector_requantization_matches_fixedpoint(lanes, offset, lo, span):
    """16 channels at a time (kernels/simd.py vrequantize): the output offset
    and clamp of MultiplyByQuantizedMultiplier for any accumulator, bias,
    multiplier and shift, over whole and partial vectors."""
    n = len(lanes)
    hi = min(lo + span, 127)
    acc, bias, mult, shift = (np.array(v, np.int64) for v in zip(*lanes))

    def padded(v):
        p = np.zeros(n + 16, np.int32)
        p[:n] = v
        return p

    params = conv_params(output_offset=offset, act_min=lo, act_max=hi)
    cols = -(-n // 16) * 16
    acc_buf = np.zeros((1, cols), np.int32)
    acc_buf[0, :n] = acc
    out = np.full((1, 1, 1, n + 3), 99, np.int8)
    kconv._requantize_vec(acc_buf, 0, padded(bias), padded(mult), padded(np.maximum(shift, 0)),
                          padded(np.maximum(-shift, 0)), params, out, 0, 0, 0, n)
    # the output offset is added in int32, as the reference adds it (wrapping)
    want = [min(max(fp.wrap_int32(fp.multiply_by_quantized_multiplier(
        fp.wrap_int32(int(a) + int(b)), int(m), int(s)) + offset), lo), hi)
            for a, b, m, s in zip(acc, bias, mult, shift)]
    assert out[0, 0, 0, :n].tolist() == want
    assert out[0, 0, 0, n:].tolist() == [99, 99, 99], "wrote past the channels"


@pytest.mark.parametrize("x_shape,out_shape", [
    ((1, 4, 0, 3), (1, 4, 0, 4)),  # no input column
    ((1, 0, 4, 3), (1, 0, 4, 4)),  # no input row
])
def test_empty_inputs_are_refused_as_tflite_does(x_shape, out_shape):
    """TFLite's conv.cc Prepare refuses an input without rows or columns."""
    w = np.ones((4, 1, 1, 3), np.int8)
    content = conv_model(x_shape, w, np.zeros(4, np.int32), (0.1, 0), [0.1] * 4, (0.5, 0),
                         padding="VALID", out_shape=out_shape)
    with pytest.raises(RuntimeError):
        run_reference(content, [np.ones(x_shape, np.int8)])
    with pytest.raises(ModelError, match=r"operator 0 \(CONV_2D\): input (height|width) is 0"):
        prepare_op(content)


# -- the aliasing rule ------------------------------------------------------------------------

@pytest.mark.parametrize("filt,stride,padding,shift_rows", [
    ((3, 3), (1, 1), "SAME", 1),  # output row y may overwrite input row y - 1
    ((1, 1), (1, 1), "VALID", 0),  # a 1x1 convolution may run in place
    ((3, 3), (2, 2), "VALID", 0),  # stride 2: output row y reads input rows 2y..2y+2
])
def test_output_may_overlap_consumed_input_rows(filt, stride, padding, shift_rows):
    """Output and input in one buffer, the output ``shift_rows`` rows ahead of the
    input: writing output row y clobbers only input rows no later row reads."""
    rng = np.random.default_rng(5)
    n, h, w, c = 2, 9, 8, 6
    x = rng.integers(-128, 128, (n, h, w, c)).astype(np.int8)
    weights = rng.integers(-127, 128, (c, filt[0], filt[1], c)).astype(np.int8)
    bias = rng.integers(-300, 300, c).astype(np.int32)
    content = conv_model(x.shape, weights, bias, (0.05, 2), np.full(c, 0.01), (0.5, -4),
                         stride=stride, padding=padding)
    want = run_single(content, x)
    for b in range(n):
        # one batch at a time: the rule is per batch image (batches run in order)
        oh, ow = want.shape[1:3]
        buf = np.zeros(h * w * c + shift_rows * w * c, np.int8)
        xin = buf[shift_rows * w * c:].reshape(1, h, w, c)
        xin[...] = x[b:b + 1]
        # output rows padded to the input's row length, so that row y of the
        # output lies over input row y - shift_rows
        out = buf[:oh * w * c].reshape(1, oh, w, c)[:, :, :ow, :]
        got = run_single(content, xin, out=out)
        assert np.array_equal(got, want[b:b + 1]), f"batch {b}"


# -- against TFLite's reference kernels -------------------------------------------------------

REFERENCE_CASES = [
    # (input shape, (out, kh, kw, cin/groups), stride, dilation, padding, activation, per-channel)
    ((1, 9, 9, 8), (6, 3, 3, 4), (1, 1), (1, 1), "SAME", "RELU", True),  # 2 groups
    ((2, 8, 7, 6), (6, 3, 2, 2), (2, 1), (1, 2), "SAME", "NONE", False),  # 3 groups, per-tensor
    ((1, 10, 11, 3), (5, 7, 7, 3), (2, 3), (1, 1), "VALID", "RELU6", True),
    ((1, 12, 9, 5), (4, 3, 3, 5), (1, 2), (2, 2), "SAME", "RELU_N1_TO_1", True),
    ((1, 6, 6, 64), (40, 1, 1, 64), (1, 1), (1, 1), "SAME", "RELU", True),
    ((1, 3, 4, 2), (3, 5, 6, 2), (1, 1), (1, 1), "SAME", "NONE", True),  # window > image
    ((2, 5, 5, 4), (8, 2, 2, 4), (3, 3), (1, 1), "SAME", "TANH", True),  # ignored, as TFLite does
]


@pytest.mark.parametrize("x_shape,f_shape,stride,dilation,padding,activation,per_channel",
                         REFERENCE_CASES)
def test_conv_matches_reference(x_shape, f_shape, stride, dilation, padding, activation,
                                per_channel):
    rng = np.random.default_rng(sum(x_shape) * 31 + sum(f_shape))
    o = f_shape[0]
    w = rng.integers(-127, 128, f_shape).astype(np.int8)
    w_scales = np.float32(10.0 ** rng.uniform(-3, -1, o if per_channel else 1))
    b = rng.integers(-20000, 20000, o).astype(np.int32)
    content = conv_model(x_shape, w, b, (0.02, -5), w_scales, (0.3, 7), stride=stride,
                         dilation=dilation, padding=padding, activation=activation)
    for x in (rng.integers(-128, 128, x_shape).astype(np.int8), np.full(x_shape, -128, np.int8)):
        want = run_reference(content, [x])[0]
        assert np.array_equal(run_single(content, x), want)


@pytest.mark.parametrize("name", ["flowers", "food-101", "plant-village"])
def test_seed_model_conv_nodes_match_reference(seed_models, name):
    """Every CONV_2D node, fed the reference's own inputs."""
    path = seed_models[name]
    assert check_seed_nodes(path, ("CONV_2D",), seed_inputs(path, len(name), 200)) == 2 * 23


# -- prepare-time rejections ------------------------------------------------------------------

def _rejected(content, error, match, reference_refuses=True, x_shape=None):
    if reference_refuses:
        model = load_model(content)
        shape = x_shape or model.tensors[model.inputs[0]].shape
        with pytest.raises((RuntimeError, ValueError)):
            run_reference(content, [np.zeros(shape, model.tensors[model.inputs[0]].dtype)])
    with pytest.raises(error, match=r"operator 0 \(CONV_2D\).*" + match):
        prepare_op(content)


W = np.ones((4, 3, 3, 4), np.int8)
B = np.zeros(4, np.int32)
Q = ((0.05, 0), np.full(4, 0.01), (0.1, 0))


def test_filter_channels_must_divide_input_channels():
    _rejected(conv_model((1, 5, 5, 4), np.ones((4, 3, 3, 3), np.int8), B, *Q,
                         out_shape=(1, 5, 5, 4)), ModelError, "multiple of the 3 input channels")


def test_output_channels_must_divide_into_groups():
    _rejected(conv_model((1, 5, 5, 6), np.ones((4, 3, 3, 2), np.int8), B, *Q),
              ModelError, "multiple of the 3 groups")


def test_filter_zero_point_must_be_zero():
    _rejected(conv_model((1, 5, 5, 4), W, B, *Q, w_zero_points=[0, 1, 0, 0]),
              ModelError, "zero points")


def test_bias_is_required():
    _rejected(conv_model((1, 5, 5, 4), W, None, *Q), ModelError, "no bias")
    _rejected(conv_model((1, 5, 5, 4), W, B, *Q, inputs=[0, 1, -1]), ModelError, "no bias")


def test_bias_must_have_one_value_per_output_channel():
    _rejected(conv_model((1, 5, 5, 4), W, np.zeros(3, np.int32), *Q), ModelError, "3 elements")


def test_bias_must_be_int32():
    _rejected(conv_model((1, 5, 5, 4), W, np.zeros(4, np.int64), *Q, bias_type=np.int64),
              UnsupportedError, "bias.*INT64")


@pytest.mark.parametrize("key", ["stride_h", "stride_w", "dilation_hfactor", "dilation_wfactor"])
def test_strides_and_dilations_must_be_positive(key):
    _rejected(conv_model((1, 5, 5, 4), W, B, *Q, out_shape=(1, 5, 5, 4), options={key: 0}),
              ModelError, key)


def test_input_must_be_4d():
    g = GraphBuilder()
    x = g.input("x", (5, 5, 4), "INT8", scale=0.05, zero_point=0)
    f = g.constant("w", W, scale=np.full(4, 0.01, np.float32), zero_point=[0] * 4)
    b = g.constant("b", B)
    y = g.tensor("y", (1, 5, 5, 4), "INT8", scale=0.1, zero_point=0)
    g.operator("CONV_2D", [x, f, b], y, padding="SAME")
    g.output(y)
    _rejected(g.build(), ModelError, "expected rank 4")


def test_filter_scales_must_be_one_or_per_output_channel():
    # two scales along the filter's input-channel axis: the loader accepts it
    w = np.ones((4, 1, 1, 2), np.int8)
    _rejected(conv_model((1, 3, 3, 2), w, B, (0.05, 0), [0.01, 0.02], (0.1, 0),
                         quantized_dimension=3), ModelError, "2 scales")


def test_declared_output_shape_must_match():
    _rejected(conv_model((1, 5, 5, 4), W, B, *Q, padding="VALID", out_shape=(1, 5, 5, 4)),
              ModelError, r"\[1, 3, 3, 4\]", reference_refuses=False)


def test_uint8_convolution_is_unsupported():
    _rejected(conv_model((1, 5, 5, 4), W, B, (0.05, 128), np.full(4, 0.01), (0.1, 128),
                         in_type="UINT8"), UnsupportedError, "UINT8", reference_refuses=False)


def test_filter_computed_at_run_time_is_unsupported():
    g = GraphBuilder()
    x = g.input("x", (1, 5, 5, 4), "INT8", scale=0.05, zero_point=0)
    f = g.input("w", (4, 3, 3, 4), "INT8", scale=np.full(4, 0.01), zero_point=[0] * 4)
    b = g.constant("b", B)
    y = g.tensor("y", (1, 5, 5, 4), "INT8", scale=0.1, zero_point=0)
    g.operator("CONV_2D", [x, f, b], y, padding="SAME")
    g.output(y)
    with pytest.raises(UnsupportedError, match=r"operator 0 \(CONV_2D\).*filter.*constant"):
        prepare_op(g.build())


def test_activation_bound_that_overflows_int32_is_rejected():
    _rejected(conv_model((1, 5, 5, 4), W, B, (0.05, 0), np.full(4, 0.01), (1e-9, 0),
                         activation="RELU6"), ModelError, "does not fit an int32")


def test_resized_input_recomputes_the_output_shape():
    content = conv_model((1, 5, 5, 4), W, B, *Q, stride=(2, 2))
    model = load_model(content)
    shapes = [t.shape for t in model.tensors]
    shapes[model.inputs[0]] = (3, 9, 4, 4)
    _, op, ctx, _ = prepare_op(model, shapes=shapes, resized=True)
    assert ctx.shape(op.outputs[0]) == (3, 5, 2, 4)

