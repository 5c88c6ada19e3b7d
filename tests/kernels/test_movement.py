"""Data movement (kernels/movement.py and the copies of RESHAPE, SQUEEZE,
EXPAND_DIMS): each operator, prepared and run by int8sqz, against the NumPy
oracle (tests/naive/movement.py) on every moved type, floats compared as
bits; the kernels' loop nests directly (negative and zero strides, offsets);
the same kernels as plain Python (NUMBA_DISABLE_JIT=1); the values recorded
at prepare time; the alias copy doing nothing on shared memory."""

import os
import subprocess
import sys

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from conftest import ROOT
from int8sqz.kernels import movement as k
from int8sqz.ops import _movement
from int8sqz.ops._pad import kernel_geometry
from int8sqz.testing.movement import data, shapes
from int8sqz.testing.strategies import run_int8sqz
from int8sqz.testing.writer import GraphBuilder
from naive import movement as naive

TYPES = ("INT8", "UINT8", "INT32", "FLOAT32")


def _same(got, want):
    assert got.dtype == want.dtype and got.shape == want.shape, (got.shape, want.shape)
    assert got.tobytes() == want.tobytes()


def _one_op(name, x, type_name, params, out_shape, **options):
    """Run one operator of input ``x`` and constant ``params`` in int8sqz."""
    g = GraphBuilder()
    xi = g.input("x", x.shape, type_name)
    ins = [xi] + [g.constant(f"p{k}", p) for k, p in enumerate(params)]
    y = g.tensor("y", out_shape, type_name)
    g.operator(name, ins, y, **options)
    g.output(y)
    return run_int8sqz(g.build(), [x])[0]


@st.composite
def typed(draw, min_rank=0, max_rank=4, max_dim=4):
    type_name = draw(st.sampled_from(TYPES))
    shape = draw(shapes(min_rank, max_rank, max_dim, zeros=True))
    return type_name, draw(data(type_name, shape))


@given(typed(), st.data())
def test_reshape_squeeze_expand_dims_copy_every_element(tx, d):
    type_name, x = tx
    target = (x.size,)
    _same(_one_op("RESHAPE", x, type_name, [np.array(target, np.int32)], target),
          naive.reshape(x, target))
    _same(_one_op("SQUEEZE", x, type_name, [], naive.squeeze(x, []).shape),
          naive.squeeze(x, []))
    axis = d.draw(st.integers(-x.ndim - 1, x.ndim))
    want = naive.expand_dims(x, axis)
    _same(_one_op("EXPAND_DIMS", x, type_name, [np.array(axis, np.int32)], want.shape), want)


@given(typed(1, 5, 5), st.data())
def test_strided_slice_matches_python_slicing(tx, d):
    type_name, x = tx
    begin, end, strides = [], [], []
    masks = dict(begin_mask=0, end_mask=0, shrink_axis_mask=0)
    for i, n in enumerate(x.shape):
        if n and d.draw(st.integers(0, 4)) == 0:
            masks["shrink_axis_mask"] |= 1 << i
            begin.append(d.draw(st.integers(-n, n - 1)))
            end.append(0)
            strides.append(1)
            continue
        begin.append(d.draw(st.integers(-n - 2, n + 2)))
        end.append(d.draw(st.integers(-n - 2, n + 2)))
        strides.append(d.draw(st.sampled_from([1, 2, 3, -1, -2, -3])))
        for key in ("begin_mask", "end_mask"):
            if d.draw(st.integers(0, 3)) == 0:
                masks[key] |= 1 << i
    want = naive.strided_slice(x, begin, end, strides, **masks)
    got = _one_op("STRIDED_SLICE", x, type_name,
                  [np.array(v, np.int32) for v in (begin, end, strides)], want.shape, **masks)
    _same(got, want)


@given(typed(1, 6, 3), st.data())
def test_transpose_matches_numpy(tx, d):
    type_name, x = tx
    perm = d.draw(st.permutations(range(x.ndim)))
    want = naive.transpose(x, perm)
    _same(_one_op("TRANSPOSE", x, type_name, [np.array(perm, np.int32)], want.shape), want)


@given(typed(0, 4, 3), st.data())
def test_tile_matches_numpy(tx, d):
    type_name, x = tx
    multiples = d.draw(st.lists(st.integers(0, 3), min_size=x.ndim, max_size=x.ndim))
    want = naive.tile(x, multiples)
    _same(_one_op("TILE", x, type_name, [np.array(multiples, np.int64)], want.shape), want)


@given(typed(0, 4, 3), st.integers(1, 4), st.data())
def test_pack_matches_numpy(tx, count, d):
    type_name, x = tx
    axis = d.draw(st.integers(-x.ndim - 1, x.ndim))
    others = [d.draw(data(type_name, x.shape)) for _ in range(count - 1)]
    g = GraphBuilder()
    ins = [g.input("x", x.shape, type_name)] + [g.constant(f"c{k}", o)
                                                for k, o in enumerate(others)]
    want = naive.pack([x] + others, axis)
    y = g.tensor("y", want.shape, type_name)
    g.operator("PACK", ins, y, values_count=count, axis=axis)
    g.output(y)
    _same(run_int8sqz(g.build(), [x])[0], want)


@given(typed(0, 5, 4), st.data())
def test_pad_matches_numpy(tx, d):
    type_name, x = tx
    pads = np.array(d.draw(st.lists(st.integers(0, 3), min_size=2 * x.ndim,
                                    max_size=2 * x.ndim)), np.int32).reshape(x.ndim, 2)
    value = d.draw(data(type_name, ()))
    want = naive.pad(x, pads, value)
    got = _one_op("PADV2", x, type_name, [pads, value], want.shape)
    _same(got, want)
    zero = naive.pad(x, pads, np.zeros((), x.dtype))
    _same(_one_op("PAD", x, type_name, [pads], want.shape), zero)


@given(st.lists(st.integers(1, 4), min_size=1, max_size=5), st.data())
def test_pad_geometry_merges_unpadded_trailing_dimensions(shape, d):
    """kernel_geometry gives the kernel the same elements in longer rows."""
    rank = len(shape)
    before = d.draw(st.lists(st.integers(0, 2), min_size=rank, max_size=rank))
    after = d.draw(st.lists(st.integers(0, 2), min_size=rank, max_size=rank))
    x = np.arange(np.prod(shape), dtype=np.int32).reshape(shape)
    in5, left5, out5 = kernel_geometry(shape, before, after)
    out = np.zeros(int(np.prod(out5)), np.uint32)
    k.pad(out, x.reshape(-1).view(np.uint32), np.uint32(7), in5, left5, out5)
    want = np.pad(x, list(zip(before, after)), constant_values=7)
    assert np.array_equal(out.view(np.int32), want.reshape(-1))


def test_strided_copy_walks_backwards_and_repeats():
    src = np.arange(12, dtype=np.uint8)
    # rows of 3 read backwards from the end, each row twice (stride 0)
    plan = _movement.CopyPlan((2, 2, 3), (6, 3, 1), (-3, 0, -1), 0, 11, 12, 12)
    out = np.zeros(12, np.uint8)
    plan.run(out, src)
    assert out.tolist() == [11, 10, 9, 11, 10, 9, 8, 7, 6, 8, 7, 6]


def test_copy_plan_refuses_positions_outside_the_arrays():
    from int8sqz.errors import InternalError

    for args in (((4,), (1,), (1,), 0, 1, 4, 4), ((4,), (1,), (-1,), 0, 2, 4, 4)):
        try:
            _movement.CopyPlan(*args)
        except InternalError:
            continue
        raise AssertionError(f"CopyPlan{args} was accepted")


def test_alias_copy_does_nothing_on_shared_memory():
    from int8sqz.model import load_model
    from int8sqz.ops.context import PrepareContext
    from int8sqz.ops import prepare

    g = GraphBuilder()
    x = g.input("x", (2, 3), "INT8")
    y = g.tensor("y", (3, 2), "INT8")
    g.operator("RESHAPE", [x], y, new_shape=[3, 2])
    g.output(y)
    model = load_model(g.build())
    node = prepare(model.operators[0], PrepareContext(model, [t.shape for t in model.tensors]))
    buf = np.arange(6, dtype=np.int8)
    tensors = [buf.reshape(2, 3), buf.reshape(3, 2)]

    class Watch(np.ndarray):
        def __setitem__(self, *a):  # noqa: D401 - any write is a failure
            raise AssertionError("the aliased copy wrote")

    tensors[1] = buf.reshape(3, 2).view(Watch)
    node(tensors)  # the output is the input's bytes: no write
    watched = np.zeros((3, 2), np.int8).view(Watch)
    try:
        node([tensors[0], watched])
    except AssertionError:
        pass
    else:
        raise AssertionError("a copy into other memory was not seen")
    other = np.zeros((3, 2), np.int8)
    node([tensors[0], other])
    assert other.reshape(-1).tolist() == list(range(6))


def test_values_known_at_prepare_feed_reshape():
    """SHAPE -> STRIDED_SLICE -> PACK recorded values give RESHAPE its shape
    when int8sqz prepares; they are the tensors' values after invoke."""
    from int8sqz import Interpreter

    g = GraphBuilder()
    x = g.input("x", (2, 3, 4), "INT8")
    s = g.tensor("s", (3,), "INT32")
    g.operator("SHAPE", [x], s, out_type=2)
    b = g.tensor("b", (), "INT32")
    g.operator("STRIDED_SLICE", [s, g.constant("b0", np.array([-1], np.int32)),
                                 g.constant("e0", np.array([0], np.int32)),
                                 g.constant("s0", np.array([1], np.int32))], b, shrink_axis_mask=1)
    p = g.tensor("p", (2,), "INT32")
    g.operator("PACK", [g.constant("m", np.array(-1, np.int32)), b], p, values_count=2)
    y = g.tensor("y", (6, 4), "INT8")
    g.operator("RESHAPE", [x, p], y)
    g.output(y)
    it = Interpreter(model_content=g.build())
    it.allocate_tensors()
    x_value = np.arange(24, dtype=np.int8).reshape(2, 3, 4)
    it.set_tensor(0, x_value)
    it.invoke()
    assert it.get_tensor(s).tolist() == [2, 3, 4]
    assert it.get_tensor(b).tolist() == 4
    assert it.get_tensor(p).tolist() == [-1, 4]
    assert np.array_equal(it.get_tensor(y), x_value.reshape(6, 4))
    it.resize_tensor_input(0, [4, 3, 4])
    it.allocate_tensors()
    assert it.get_output_details()[0]["shape"].tolist() == [12, 4]


def test_kernels_run_as_plain_python():
    """NUMBA_DISABLE_JIT=1: the same outputs from every movement kernel."""
    script = r"""
import numpy as np
from int8sqz.testing.movement import shape_arithmetic_cases
from int8sqz.testing.writer import GraphBuilder
from int8sqz.testing.strategies import run_int8sqz
g = GraphBuilder()
x = g.input("x", (2, 3, 4), "FLOAT32")
t = g.tensor("t", (4, 3, 2), "FLOAT32")
g.operator("TRANSPOSE", [x, g.constant("p", np.array([2, 1, 0], np.int32))], t)
s = g.tensor("s", (4, 2, 2), "FLOAT32")
g.operator("STRIDED_SLICE", [t, g.constant("b", np.array([0, -1, 0], np.int32)),
           g.constant("e", np.array([4, 0, 2], np.int32)),
           g.constant("st", np.array([1, -2, 1], np.int32))], s, end_mask=2)
u = g.tensor("u", (8, 2, 2), "FLOAT32")
g.operator("TILE", [s, g.constant("m", np.array([2, 1, 1], np.int32))], u)
v = g.tensor("v", (2, 8, 2, 2), "FLOAT32")
g.operator("PACK", [u, u], v, values_count=2, axis=0)
w = g.tensor("w", (2, 9, 3, 2), "FLOAT32")
g.operator("PAD", [v, g.constant("pd", np.array([[0, 0], [1, 0], [0, 1], [0, 0]], np.int32))], w)
g.output(w)
x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
print(run_int8sqz(g.build(), [x])[0].tobytes().hex())
"""
    outs = []
    for jit in ("0", "1"):
        env = dict(os.environ, NUMBA_DISABLE_JIT=jit, PYTHONPATH=str(ROOT))
        r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                           env=env, timeout=300)
        assert r.returncode == 0, r.stderr
        outs.append(r.stdout)
    assert outs[0] == outs[1] and len(outs[0]) > 100
