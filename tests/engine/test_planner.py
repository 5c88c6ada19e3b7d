"""The planners (int8sqz.planner): the TFLite Micro interface, the invariant
that buffers live at the same time never share a byte unless a permission
says so, and the kernel-order rule that lets a convolution or pool output
overlap its spent input, checked against a simulation of the kernels'
documented order of reads and writes."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from memplan_graphs import graphs

from int8sqz.model import load_model
from int8sqz.ops import REGISTRY
from int8sqz.planner import (
    ALIGNMENT, GreedyPlanner, LinearPlanner, OverlapPlanner, align_up,
    lifetimes_overlap, overlap_shift, plan_model,
)
from int8sqz.testing.writer import GraphBuilder

PLANNERS = [LinearPlanner, GreedyPlanner, OverlapPlanner]
#: operators whose units state a row-order sharing rule
ROW_ORDER = sorted(name for name, unit in REGISTRY.items() if unit.sharing.rows is not None)
#: row-ordered operators without a window of their own (test_pad_overlap_shift_is_safe)
PADS = ("PAD", "PADV2")

buffers = st.lists(
    st.tuples(st.integers(0, 300), st.integers(0, 12), st.integers(0, 6)).map(
        lambda t: (t[0], t[1], t[1] + t[2])),
    max_size=25,
)


def _check_no_live_overlap(planner, allowed=lambda a, b, oa, ob: False):
    offs = planner.offsets
    bufs = planner.buffers
    assert len(offs) == len(bufs)
    assert all(o >= 0 for o in offs)
    top = max((o + b.size for o, b in zip(offs, bufs)), default=0)
    assert planner.arena_size == top
    for a in range(len(bufs)):
        for b in range(a + 1, len(bufs)):
            A, B = bufs[a], bufs[b]
            if not lifetimes_overlap(A.first_use, A.last_use, B.first_use, B.last_use):
                continue
            disjoint = offs[a] + A.size <= offs[b] or offs[b] + B.size <= offs[a]
            if A.size and B.size and not disjoint:
                assert allowed(a, b, offs[a], offs[b]), (
                    f"buffers {a} {A} at {offs[a]} and {b} {B} at {offs[b]} share bytes "
                    f"while both are live")


@pytest.mark.parametrize("cls", PLANNERS, ids=lambda c: c.__name__)
@given(bufs=buffers)
def test_no_two_live_buffers_overlap(cls, bufs):
    p = cls()
    for size, first, last in bufs:
        p.add_buffer(size, first, last)
    _check_no_live_overlap(p)


@given(bufs=buffers)
def test_greedy_never_worse_than_linear(bufs):
    g, lin = GreedyPlanner(), LinearPlanner()
    for b in bufs:
        g.add_buffer(*b)
        lin.add_buffer(*b)
    assert g.arena_size <= lin.arena_size


@given(bufs=buffers, data=st.data())
def test_overlap_planner_keeps_within_permissions(bufs, data):
    p = OverlapPlanner()
    for b in bufs:
        p.add_buffer(*b)
    perms = {}
    if len(bufs) >= 2:
        for _ in range(data.draw(st.integers(0, 6))):
            a = data.draw(st.integers(0, len(bufs) - 1))
            b = data.draw(st.integers(0, len(bufs) - 1))
            if a == b:
                continue
            lo = data.draw(st.one_of(st.none(), st.integers(-400, 400)))
            hi = data.draw(st.one_of(st.none(), st.integers(-400, 400)))
            if lo is not None and hi is not None and lo > hi:
                lo, hi = hi, lo
            p.allow_overlap(a, b, lo, hi)
            perms[(a, b)] = (-math.inf if lo is None else lo, math.inf if hi is None else hi)

    def allowed(a, b, oa, ob):
        pa, pb = perms.get((a, b)), perms.get((b, a))
        return bool((pa and pa[0] <= ob - oa <= pa[1]) or (pb and pb[0] <= oa - ob <= pb[1]))

    _check_no_live_overlap(p, allowed)
    assert all(o % ALIGNMENT == 0 for o in p.offsets)


def test_interface_rejects_bad_buffers():
    p = GreedyPlanner()
    with pytest.raises(ValueError):
        p.add_buffer(-1, 0, 1)
    with pytest.raises(ValueError):
        p.add_buffer(16, 3, 2)
    assert p.offsets == [] and p.arena_size == 0
    q = OverlapPlanner()
    q.add_buffer(16, 0, 1)
    with pytest.raises(ValueError):
        q.allow_overlap(0, 0)
    with pytest.raises(ValueError):
        q.allow_overlap(0, 1)


def test_offsets_follow_later_buffers():
    p = GreedyPlanner()
    p.add_buffer(32, 0, 1)
    assert p.offsets == [0] and p.arena_size == 32
    p.add_buffer(48, 1, 2)  # live with the first: must go beside it
    assert p.arena_size == 80
    assert sorted(p.offsets) == [0, 48]


def test_align_up():
    assert [align_up(n) for n in (0, 1, 15, 16, 17, 357216)] == [0, 16, 16, 16, 32, 357216]


@given(graphs(max_ops=6))
def test_model_plans_keep_live_tensors_apart(graph):
    """Every planner's model plan: tensors live at the same time share bytes
    only through a declared aliasing relation (checked in full, with the
    kernels' rules, by tests/models/test_arena.py)."""
    model = load_model(graph.content)
    tflm = plan_model(model, "tflm")
    opt = plan_model(model, "optimized")
    assert opt.arena_size <= tflm.arena_size
    for plan in (tflm, opt):
        pls = plan.placements
        for a in pls:
            for b in pls:
                if a >= b:
                    continue
                la, lb = plan.lifetimes[a], plan.lifetimes[b]
                if not lifetimes_overlap(la.first, la.last, lb.first, lb.last):
                    continue
                pa, pb = pls[a], pls[b]
                if pa.root == pb.root and plan.planner == "optimized":
                    continue  # the same root: a concatenation slice or an in-place pair
                ra = (plan.buffer_offsets[pa.root], plan.buffers[pa.root].size)
                rb = (plan.buffer_offsets[pb.root], plan.buffers[pb.root].size)
                if pa.overlaps == b or pb.overlaps == a:
                    continue
                assert ra[0] + ra[1] <= rb[0] or rb[0] + rb[1] <= ra[0], (plan.planner, a, b)


# -- the overlap rule against a simulation of the kernels' order ---------------------

def _simulate(ih, iw, ic, oh, ow, oc, stride, pad, fh, dil, n, own_first, shift):
    """Run the documented order of reads and writes on byte intervals, with
    the output placed ``shift`` bytes above the input's start; True when no
    input byte is read after an output write clobbered it."""
    in_row, out_row = iw * ic, ow * oc
    clobbered = []  # input-relative intervals written so far

    def read_ok(lo, hi):
        return all(hi <= a or b <= lo for a, b in clobbered)

    for b in range(n):
        for y in range(oh):
            rows = [y * stride - pad + k * dil for k in range(fh)]
            rows = [r for r in rows if 0 <= r < ih]
            reads = [((b * ih + r) * in_row, (b * ih + r + 1) * in_row) for r in rows]
            w = (shift + (b * oh + y) * out_row, shift + (b * oh + y + 1) * out_row)
            if own_first:
                if not all(read_ok(*r) for r in reads):
                    return False
                clobbered.append(w)
            else:
                # reads and writes of the row may interleave in any order
                clobbered.append(w)
                if not all(read_ok(*r) for r in reads):
                    return False
    return True


@given(
    op=st.sampled_from([name for name in ROW_ORDER if name not in PADS]),
    n=st.integers(1, 2), h=st.integers(1, 9), c=st.integers(1, 5), oc=st.integers(1, 5),
    f=st.integers(1, 4), stride=st.integers(1, 3), dil=st.integers(1, 2),
    padding=st.sampled_from(("SAME", "VALID")),
)
def test_overlap_shift_is_safe_and_tight(op, n, h, c, oc, f, stride, dil, padding):
    if op == "DEPTHWISE_CONV_2D":
        oc = c * (oc % 3 + 1)  # a depth multiplier of 1 to 3
    elif op != "CONV_2D":
        oc, dil = c, 1
    eff = (f - 1) * dil + 1
    if padding == "VALID" and eff > h:
        return
    oh = -(-h // stride) if padding == "SAME" else (h - eff) // stride + 1
    g = GraphBuilder()
    x = g.input("x", (n, h, h, c), "INT8", scale=0.1)
    y = g.tensor("y", (n, oh, oh, oc), "INT8", scale=0.1)
    if op == "CONV_2D":
        w = g.constant("w", np.ones((oc, f, f, c), np.int8), scale=0.1)
        g.operator(op, [x, w, -1], y, padding=padding, stride_h=stride, stride_w=stride,
                   dilation_hfactor=dil, dilation_wfactor=dil)
    elif op == "DEPTHWISE_CONV_2D":
        w = g.constant("w", np.ones((1, f, f, oc), np.int8), scale=0.1)
        g.operator(op, [x, w], y, padding=padding, stride_h=stride, stride_w=stride,
                   dilation_hfactor=dil, dilation_wfactor=dil)
    else:
        g.operator(op, [x], y, padding=padding, stride_h=stride, stride_w=stride,
                   filter_height=f, filter_width=f)
    g.output(y)
    model = load_model(g.build())
    d = overlap_shift(model, model.operators[0], [t.shape for t in model.tensors])
    pad = 0
    if padding == "SAME":
        pad = max((oh - 1) * stride + eff - h, 0) // 2
    own_first = REGISTRY[op].sharing.rows_read_first
    args = (h, h, c, oh, oh, oc, stride, pad, f, dil, n, own_first)
    if d == math.inf:
        assert _simulate(*args, shift=10**9) and _simulate(*args, shift=-10**9)
        return
    assert _simulate(*args, shift=d), "the allowed shift lets the output clobber unread input"
    assert _simulate(*args, shift=d - 7)
    assert not _simulate(*args, shift=d + 1), "the allowed shift is not the largest safe one"


@given(op=st.sampled_from(PADS), n=st.integers(1, 2), h=st.integers(1, 9), w=st.integers(1, 5),
       c=st.integers(1, 4), pads=st.lists(st.integers(0, 3), min_size=6, max_size=6))
def test_pad_overlap_shift_is_safe(op, n, h, w, c, pads):
    """PAD's rows rule takes the whole height padding as the top one (the
    shapes do not tell the split): safe for every split, and the largest
    safe shift when there is no bottom padding."""
    top, bottom, left, right, before, after = pads
    g = GraphBuilder()
    x = g.input("x", (n, h, w, c), "INT8", scale=0.1)
    out = (n, h + top + bottom, w + left + right, c + before + after)
    y = g.tensor("y", out, "INT8", scale=0.1)
    paddings = np.array([[0, 0], [top, bottom], [left, right], [before, after]], np.int32)
    g.operator(op, [x, g.constant("p", paddings)], y)
    g.output(y)
    model = load_model(g.build())
    d = overlap_shift(model, model.operators[0], [t.shape for t in model.tensors])
    own_first = REGISTRY[op].sharing.rows_read_first
    args = (h, w, c, out[1], out[2], out[3], 1, top, 1, 1, n, own_first)
    assert d != math.inf
    assert _simulate(*args, shift=d), "the allowed shift lets the output clobber unread input"
    assert _simulate(*args, shift=d - 7)
    if bottom == 0:
        assert not _simulate(*args, shift=d + 1), "the allowed shift is not the largest safe one"
