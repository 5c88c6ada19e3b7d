"""The fixed-point kernels against plain Python-integer oracles."""

from hypothesis import given
from hypothesis import strategies as st

from int8sqz.kernels import fixedpoint as fp
from int8sqz.ops._common import quantize_multiplier
from naive import fixedpoint as naive

int32 = st.integers(naive.INT32_MIN, naive.INT32_MAX)
# accumulators that a convolution can produce, and the extremes
acc = st.one_of(int32, st.integers(-(2**20), 2**20), st.sampled_from([naive.INT32_MIN, naive.INT32_MAX, 0, -1, 1]))
multiplier = st.integers(2**30, naive.INT32_MAX)


@given(int32, int32)
def test_saturating_rounding_doubling_high_mul(a, b):
    assert fp.saturating_rounding_doubling_high_mul(a, b) == naive.srdhm(a, b)


def test_srdhm_saturates_only_at_min_min():
    assert fp.saturating_rounding_doubling_high_mul(naive.INT32_MIN, naive.INT32_MIN) == naive.INT32_MAX
    assert fp.saturating_rounding_doubling_high_mul(naive.INT32_MIN, naive.INT32_MAX) == naive.srdhm(
        naive.INT32_MIN, naive.INT32_MAX)


@given(int32, st.integers(0, 31))
def test_rounding_divide_by_pot(x, e):
    assert fp.rounding_divide_by_pot(x, e) == naive.rdbpot(x, e)


def test_rounding_divide_by_pot_ties_away_from_zero():
    assert [fp.rounding_divide_by_pot(v, 1) for v in (-3, -1, 1, 3)] == [-2, -1, 1, 2]
    assert [fp.rounding_divide_by_pot(v, 2) for v in (-6, -2, 2, 6, 5, -5)] == [-2, -1, 1, 2, 1, -1]


@given(acc, multiplier, st.integers(-31, 8))
def test_multiply_by_quantized_multiplier(x, m, shift):
    assert fp.multiply_by_quantized_multiplier(x, m, shift) == naive.mbqm(x, m, shift)


@given(st.floats(-3e9, 3e9, allow_nan=False, width=32))
def test_round_half_away_matches_std_round(x):
    assert fp.round_half_away(x) == naive.round_half_away(x)


def test_round_half_away_halves():
    assert [fp.round_half_away(v) for v in (0.5, 1.5, 2.5, -0.5, -2.5, 0.49999997)] == [1, 2, 3, -1, -3, 0]


def test_float_to_int32_out_of_range_is_int32_min():
    for v in (float("nan"), float("inf"), -float("inf"), 2.0**31, -(2.0**31) - 256):
        assert fp.float_to_int32(v) == naive.INT32_MIN
    assert fp.float_to_int32(-(2.0**31)) == naive.INT32_MIN
    assert fp.float_to_int32(2.0**31 - 128) == 2**31 - 128


@given(st.floats(1e-12, 1e6, allow_nan=False, allow_infinity=False))
def test_quantize_multiplier_represents_the_real_number(real):
    q, shift = quantize_multiplier(real)
    if q == 0:
        assert real < 2.0**-31
        return
    assert 2**30 <= q < 2**31
    # q * 2**(shift-31) is within half a unit of the last place of q
    assert abs(q * 2.0 ** (shift - 31) - real) <= 2.0 ** (shift - 32) * 1.0000001
