"""QUANTIZE and DEQUANTIZE: kernels against the oracle, operators against the
reference runtime on the seed models' own QUANTIZE/DEQUANTIZE nodes."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from int8sqz.kernels import quantize as k
from int8sqz.ops._common import quantize_multiplier
from single_op import check_seed_nodes, seed_inputs
from naive import quantize as naive

RANGES = {np.int8: (-128, 127), np.uint8: (0, 255)}
scales = st.floats(9.999999747378752e-06, 10.0, allow_nan=False, allow_infinity=False, width=32)
out_types = st.sampled_from([np.int8, np.uint8])


@given(hnp.arrays(np.float32, st.integers(1, 64),
                  elements=st.floats(-1e4, 1e4, width=32) | st.sampled_from([np.inf, -np.inf, np.nan, 0.5, -0.5])),
       scales, out_types, st.data())
def test_affine_quantize_matches_oracle(x, scale, dtype, data):
    qmin, qmax = RANGES[dtype]
    zp = data.draw(st.integers(qmin, qmax))
    out = np.zeros(x.shape, dtype)
    k.affine_quantize(x, np.float32(scale), zp, qmin, qmax, out)
    assert np.array_equal(out, naive.affine_quantize(x, scale, zp, qmin, qmax).astype(dtype))


@given(st.sampled_from([np.int8, np.uint8]), out_types, scales, scales, st.data())
def test_requantize_matches_oracle(in_type, out_type, in_scale, out_scale, data):
    imin, imax = RANGES[in_type]
    qmin, qmax = RANGES[out_type]
    x = data.draw(hnp.arrays(in_type, st.integers(1, 64)))
    in_zp = data.draw(st.integers(imin, imax))
    out_zp = data.draw(st.integers(qmin, qmax))
    m, shift = quantize_multiplier(float(np.float32(in_scale)) / float(np.float32(out_scale)))
    out = np.zeros(x.shape, out_type)
    k.requantize(x, in_zp, m, shift, out_zp, qmin, qmax, out)
    assert np.array_equal(out, naive.requantize(x, in_zp, m, shift, out_zp, qmin, qmax).astype(out_type))


@given(st.sampled_from([np.int8, np.uint8]), out_types,
       st.sampled_from([1.0, 2.0, 0.5, 3.0, 1.0 / 3.0]) | scales, st.data())
def test_requantize_every_value_matches_oracle(in_type, out_type, ratio, data):
    """Every input value, twice over (512 elements: the 16-lane path), at
    exact ratios (1.0: the uint8 -> int8 QUANTIZE of image models) and at
    any other."""
    imin, imax = RANGES[in_type]
    qmin, qmax = RANGES[out_type]
    x = np.tile(np.arange(imin, imax + 1), 2).astype(in_type)
    in_zp = data.draw(st.integers(imin, imax))
    out_zp = data.draw(st.integers(qmin, qmax))
    m, shift = quantize_multiplier(float(ratio))
    out = np.zeros(x.shape, out_type)
    k.requantize(x, in_zp, m, shift, out_zp, qmin, qmax, out)
    assert np.array_equal(out, naive.requantize(x, in_zp, m, shift, out_zp, qmin, qmax).astype(out_type))


@pytest.mark.parametrize("in_type,in_zp,out_type,out_zp", [
    (np.uint8, 128, np.int8, 0), (np.uint8, 127, np.int8, -1), (np.int8, -128, np.uint8, 0),
    (np.int8, 5, np.int8, 5), (np.uint8, 0, np.uint8, 0), (np.uint8, 100, np.int8, 0),
    (np.int8, 0, np.int8, -3),
])
def test_requantize_ratio_one_matches_oracle(in_type, in_zp, out_type, out_zp):
    """Scale ratio exactly 1: zero points that move every value inside the
    output's range (the kernel's unclamped path) and ones that clamp some."""
    imin, imax = RANGES[in_type]
    qmin, qmax = RANGES[out_type]
    x = np.tile(np.arange(imin, imax + 1), 3).astype(in_type)
    m, shift = quantize_multiplier(1.0)
    out = np.zeros(x.shape, out_type)
    k.requantize(x, in_zp, m, shift, out_zp, qmin, qmax, out)
    assert np.array_equal(out, naive.requantize(x, in_zp, m, shift, out_zp, qmin, qmax).astype(out_type))


@given(st.sampled_from([np.int8, np.uint8]), scales, st.data())
def test_dequantize_matches_oracle(in_type, scale, data):
    lo, hi = RANGES[in_type]
    x = data.draw(hnp.arrays(in_type, st.integers(1, 64)))
    zp = data.draw(st.integers(lo, hi))
    out = np.zeros(x.shape, np.float32)
    k.dequantize(x, zp, float(np.float32(scale)), out)
    assert np.array_equal(out, naive.dequantize(x, zp, np.float32(scale)))


@pytest.mark.parametrize("name", ["flowers", "food-101", "plant-village"])
def test_seed_model_quantize_nodes_match_reference(seed_models, name):
    path = seed_models[name]
    assert check_seed_nodes(path, ("QUANTIZE", "DEQUANTIZE"), seed_inputs(path, 7, 255)) == 2 * 2