"""MAX_POOL_2D and AVERAGE_POOL_2D: generated models in int8sqz and in TFLite's reference."""

import numpy as np
import pytest
from hypothesis import given

from int8sqz.testing import strategies as S
from int8sqz.testing.writer import GraphBuilder

#: the operators this module tests against the reference (tests/operators/test_conformance.py)
OPERATORS = ("MAX_POOL_2D", "AVERAGE_POOL_2D")


@pytest.fixture(autouse=True, scope="module")
def _count_report(pytestconfig):
    S.register_count_report(pytestconfig)


@S.more_examples(3)
@given(S.pool_cases("MAX_POOL_2D"))
def test_max_pool_2d(case):
    S.check_case(case)


@S.more_examples(3)
@given(S.pool_cases("AVERAGE_POOL_2D"))
def test_average_pool_2d(case):
    S.check_case(case)


def _pool(op, in_shape=(1, 5, 5, 2), out_shape=(1, 2, 2, 2), filt=2, out_q=(0.1, 3)):
    g = GraphBuilder()
    x = g.input("x", in_shape, "INT8", scale=0.1, zero_point=3)
    y = g.tensor("y", out_shape, "INT8", scale=out_q[0], zero_point=out_q[1])
    g.operator(op, [x], y, padding="VALID", stride_w=2, stride_h=2, filter_width=filt,
               filter_height=filt)
    g.output(y)
    data = np.random.default_rng(1).integers(-128, 128, in_shape).astype(np.int8)
    return S.Case(op, g.build(), [data], {})


@pytest.mark.parametrize("op", ["MAX_POOL_2D", "AVERAGE_POOL_2D"])
@pytest.mark.parametrize("kwargs, outcome", [
    (dict(), "equal"),
    (dict(in_shape=(1, 5, 5), out_shape=(1, 2, 2)), "refused"),  # not 4-D
    (dict(filt=6, out_shape=(1, 0, 0, 2)), None),  # window larger than the input
    # TFLite only DCHECKs that input and output share their quantization
    (dict(out_q=(0.2, 3)), None),
    (dict(out_q=(0.1, -7)), None),
])
def test_pool_prepare_agrees_with_reference(op, kwargs, outcome):
    result = S.check_agreement(_pool(op, **kwargs))
    if outcome is not None:
        assert result == outcome
