"""``tflm-optimized``: memory plans that TFLite Micro itself runs.

A plan here is plain data: an operator order (a permutation of the main
subgraph's operators) and an arena offset for every tensor TFLite Micro
plans. :func:`int8sqz.offline_plan.write_offline_plan` writes it into the
model; TFLite Micro then uses those offsets and plans only its kernels'
scratch buffers itself, around them (:func:`tflm_head` predicts where, with
TFLite Micro's greedy planner, :class:`int8sqz.planner.GreedyPlanner`,
given the offline offsets).

Sharing rules. TFLite Micro runs an operator's kernel with the input and
output at their planned addresses. An output may share bytes with an input
that dies at that operator when every byte the kernel writes lies below
every byte of that input it reads afterwards. For each kernel that is a
bound ``D`` on ``offset(output) - offset(input)``, computed from the order
in which the kernel reads and writes. Each operator's unit states that
order for TFLite Micro's reference kernel (``OperatorUnit.tflm_sharing``:
an :class:`~int8sqz.ops.unit.AccessTrace`, one event per output element or
copied block, the lowest input byte it reads and the end of the bytes it
writes; int8sqz.ops.foreign for operators without a unit); this module
applies those facts to a graph (:func:`trace_bound`, :func:`sharing_rules`),
as int8sqz.planner.sharing applies the units' ``sharing`` facts for
int8sqz's own kernels. docs/tflm_plan.md states each rule with its source
and says which also hold for CMSIS-NN's optimized kernels. A plan using
them is proven for the reference kernels (those of the ``tflite_micro``
Python package). ``no_overlap=True`` drops them all: only operator order
and packing remain, which are safe with any kernels.

Time is counted in TFLite Micro's allocation scopes (0: graph start,
operator at position j of the order: j + 1), as int8sqz.planner does.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np

from .. import ops
from ..errors import UnsupportedError
from ..offline_plan import ONLINE, operator_order_problems
from ..ops.unit import AccessTrace, CopySkipped
from .lifetimes import needs_allocating, tensor_nbytes, tflm_lifetimes, tflm_scratch_requests
from .plan import plan_model
from .planners import ALIGNMENT, GreedyPlanner, OverlapPlanner, align_up, lifetimes_overlap

_INF = math.inf


def reordered(model, order):
    """The model with its operators in ``order`` (renumbered 0..n-1 in that
    order), for the lifetime and scratch rules of int8sqz.planner."""
    operators = tuple(dataclasses.replace(model.operators[k], index=j)
                      for j, k in enumerate(order))
    return dataclasses.replace(model, operators=operators)


def tflm_requests(model, offsets=None):
    """The buffers TFLite Micro plans for ``model`` (in its operator order),
    as ``(requests, offline, tensor_ids)``: requests ``(aligned size, first,
    last)`` for the planned tensors by index then the scratch buffers;
    ``offline`` from ``offsets`` (tensor index -> offset; ONLINE or absent:
    planned by TFLite Micro); ``tensor_ids``: the tensor of each request, or
    None for a scratch buffer."""
    offsets = offsets or {}
    lifetimes = tflm_lifetimes(model)
    requests, offline, ids = [], [], []
    for i in sorted(lifetimes):
        lt = lifetimes[i]
        requests.append((align_up(tensor_nbytes(model, i)), lt.first, lt.last))
        off = offsets.get(i, ONLINE)
        offline.append(None if off == ONLINE else off)
        ids.append(i)
    for op_index, size in tflm_scratch_requests(model):
        requests.append((align_up(size), op_index + 1, op_index + 1))
        offline.append(None)
        ids.append(None)
    return requests, offline, ids


def tflm_greedy(model, offsets=None) -> GreedyPlanner:
    """TFLite Micro's planner for ``model`` (in its operator order) with the
    offline ``offsets`` (tensor index -> offset): the buffers of
    :func:`tflm_requests` in a :class:`GreedyPlanner`, whose ``offsets``
    are where TFLite Micro puts every tensor and scratch buffer."""
    requests, offline, _ = tflm_requests(model, offsets)
    planner = GreedyPlanner()
    for (size, first, last), off in zip(requests, offline):
        planner.add_buffer(size, first, last, off)
    return planner


def tflm_head(model, offsets=None, order=None) -> int:
    """The arena head TFLite Micro will report for ``model`` written with
    ``offsets`` (tensor index -> offset) and ``order``: its planner's
    ``GetMaximumMemorySize``, the highest end of any buffer."""
    m = reordered(model, order) if order is not None else model
    return tflm_greedy(m, offsets).arena_size


# ---------------------------------------------------------------------------------
# Sharing rules: the units' tflm_sharing facts, applied to a graph
# ---------------------------------------------------------------------------------

def trace_bound(trace: AccessTrace) -> float:
    """The largest ``offset(output) - offset(input)`` at which no write of
    the kernel lands on an input byte it still reads: the minimum over events
    t of (the lowest input byte read after t, or at t for a memcpy) - (the
    end of t's writes). inf when nothing is read after any write."""
    r = np.asarray(trace.read_min, np.float64)
    if r.size == 0:
        return _INF
    later = np.minimum.accumulate(r[::-1])[::-1]
    if trace.reads_first:
        later = np.append(later[1:], _INF)
    return float(np.min(later - np.asarray(trace.write_end, np.float64)))


@dataclass(frozen=True)
class TflmRule:
    """An input and the output of one operator may share bytes when
    ``lo <= offset(output) - offset(input) <= hi``."""

    op: int
    input: int
    output: int
    lo: float
    hi: float
    rule: str


def sharing_rules(model, shapes=None) -> list:
    """Every (operator, input) pair with a sharing rule and its bound, for
    the reference kernels, whatever the operator order (whether the input
    dies there is checked per order by :func:`applicable`). Graph outputs
    are never given up: the caller reads them after the last operator."""
    shapes = shapes if shapes is not None else [t.shape for t in model.tensors]
    rules = []
    graph_outputs = set(model.outputs)
    for op in model.operators:
        if len(op.outputs) != 1:
            continue
        dst = op.outputs[0]
        for k, src in enumerate(op.inputs):
            # a graph output is read after the last operator: never overwritten
            if src < 0 or list(op.inputs).count(src) != 1 or src in graph_outputs:
                continue
            fact = ops.tflm_sharing(op, k, model, shapes)
            if isinstance(fact, CopySkipped):
                rules.append(TflmRule(op.index, src, dst, 0, 0, fact.rule))
            elif isinstance(fact, AccessTrace):
                d = trace_bound(fact)
                hi = d if d == _INF else (int(d) // ALIGNMENT) * ALIGNMENT
                rules.append(TflmRule(op.index, src, dst, -_INF, hi, fact.rule))
    return rules


def applicable(rule: TflmRule, lifetimes: dict, position: dict) -> bool:
    """A rule applies when the input dies at the operator and the output is
    born there (so they meet at that scope only), both planned."""
    if rule.input not in lifetimes or rule.output not in lifetimes:
        return False
    t = position[rule.op] + 1
    return lifetimes[rule.input].last == t and lifetimes[rule.output].first == t


# ---------------------------------------------------------------------------------
# Planning over plain data
# ---------------------------------------------------------------------------------

class TflmPacker(OverlapPlanner):
    """int8sqz.planner.OverlapPlanner (first fit from offset 0, several
    placement orders), plus placements that may also go below the buffers
    placed so far: each buffer takes the feasible position that keeps the
    span of the plan smallest, and the plan is shifted to start at 0. An
    output that must start below its input (a convolution that writes faster
    than it reads) then need not push every earlier tensor of a chain up."""

    name = "tflm-packer"

    def _spread(self, order: list) -> list:
        reqs = self.buffers
        offsets: dict = {}
        lo_all, hi_all = 0, 0
        for bid in order:
            want = reqs[bid]
            live = [p for p in offsets
                    if lifetimes_overlap(reqs[p].first_use, reqs[p].last_use,
                                         want.first_use, want.last_use)]
            cands = {lo_all, hi_all - want.size, 0}
            for p in live:
                op = offsets[p]
                cands.update((op + reqs[p].size, op - want.size))
                for key, sign in (((p, bid), 1), ((bid, p), -1)):
                    perm = self.permissions.get(key)
                    if perm is not None:
                        cands.update(op + sign * v for v in perm if v not in (-_INF, _INF))
            best = None
            for c in sorted(cands):
                if c % self.alignment:
                    continue
                if not all(self.relation_ok(p, offsets[p], bid, c) for p in live):
                    continue
                span = max(hi_all, c + want.size) - min(lo_all, c)
                key = (span, abs(c))
                if best is None or key < best[0]:
                    best = (key, c)
            c = best[1]  # the end of every live buffer is always feasible
            offsets[bid] = c
            if len(offsets) == 1:
                lo_all, hi_all = c, c + want.size
            else:
                lo_all, hi_all = min(lo_all, c), max(hi_all, c + want.size)
        return [offsets[i] - lo_all for i in range(len(reqs))]

    def _plan(self) -> list:
        best = super()._plan()
        top = max(o + b.size for o, b in zip(best, self.buffers))
        for order in self._orders():
            offs = self._spread(order)
            t = max(o + b.size for o, b in zip(offs, self.buffers))
            if t < top:
                best, top = offs, t
        return best


def pack(sizes: list, lifetimes: list, sharing: list = ()) -> list:
    """Offsets (multiples of 16) for buffers ``sizes[i]`` live over the
    scopes ``lifetimes[i] = (first, last)``: buffers live at the same time
    never share a byte, except a pair ``(a, b, lo, hi)`` of ``sharing``
    with ``lo <= offset(b) - offset(a) <= hi``. Several placement orders and
    two placement strategies are tried (:class:`TflmPacker`) and the lowest
    arena kept."""
    planner = TflmPacker()
    for size, (first, last) in zip(sizes, lifetimes):
        planner.add_buffer(size, first, last)
    for a, b, lo, hi in sharing:
        planner.allow_overlap(a, b, lo, hi)
    return planner.offsets


@dataclass
class TflmPlan:
    """A plan TFLite Micro runs: ``order`` of the original operators,
    ``offsets`` (original tensor index -> arena offset) for every tensor it
    plans, the head it will report, and the sharing used."""

    model: object
    order: list
    offsets: dict
    head: int
    greedy_head: int
    no_overlap: bool
    shared: list = field(default_factory=list)  # TflmRule rules whose bytes do meet
    tried_orders: int = 1

    @property
    def reordered(self) -> bool:
        return self.order != list(range(len(self.model.operators)))


def plan_for_order(model, order, rules, no_overlap=False):
    """The packed plan of ``model`` run in ``order``: (offsets, head, shared)."""
    m = reordered(model, order)
    lifetimes = tflm_lifetimes(m)
    position = {k: j for j, k in enumerate(order)}
    requests, _, ids = tflm_requests(m)
    index = {t: r for r, t in enumerate(ids) if t is not None}
    sharing, used = [], []
    if not no_overlap:
        for rule in rules:
            if applicable(rule, lifetimes, position):
                sharing.append((index[rule.input], index[rule.output], rule.lo, rule.hi))
                used.append(rule)
    offs = pack([r[0] for r in requests], [(r[1], r[2]) for r in requests], sharing)
    offsets = {t: offs[r] for t, r in index.items()}
    head = tflm_head(m, offsets)
    shared = [u for u in used
              if _meet(offsets[u.input], requests[index[u.input]][0],
                       offsets[u.output], requests[index[u.output]][0])]
    return offsets, head, shared


def _meet(a, a_size, b, b_size) -> bool:
    return a < b + b_size and b < a + a_size


def plan_tflm_optimized(model, *, no_overlap=False, reorder=True, max_orders=24) -> TflmPlan:
    """The smallest plan found for ``model``: TFLite Micro's own greedy plan
    made explicit, and packings with the sharing rules (none with
    ``no_overlap``) over the original order and, with ``reorder``, other
    orders the graph allows (:func:`candidate_orders`). Never larger than
    TFLite Micro's greedy head."""
    if model.num_subgraphs > 1:
        raise UnsupportedError(f"{model.source}: the model has {model.num_subgraphs} subgraphs; "
                               f"tflm-optimized plans only single-subgraph models")
    identity = list(range(len(model.operators)))
    greedy = plan_model(model, "tflm")
    greedy_offsets = {i: pl.offset for i, pl in greedy.placements.items()}
    greedy_head = tflm_head(model, greedy_offsets)
    best = TflmPlan(model, identity, greedy_offsets, greedy_head, greedy.arena_size, no_overlap)
    rules = [] if no_overlap else sharing_rules(model)
    orders = candidate_orders(model, rules, limit=max_orders) if reorder else [identity]
    for order in orders:
        offsets, head, shared = plan_for_order(model, order, rules, no_overlap)
        if head < best.head:
            best = TflmPlan(model, order, offsets, head, greedy.arena_size, no_overlap, shared)
    best.tried_orders = len(orders)
    return best


# ---------------------------------------------------------------------------------
# Operator orders
# ---------------------------------------------------------------------------------

def _live_peak(model, order, rules=()):
    """A quick estimate of an order's arena: the largest sum of the aligned
    sizes of the buffers live at one scope, less what applicable sharing
    rules let an output and its dying input share at that scope."""
    m = reordered(model, order)
    requests, _, ids = tflm_requests(m)
    lifetimes = tflm_lifetimes(m)
    position = {k: j for j, k in enumerate(order)}
    n_scopes = len(order) + 1
    live = np.zeros(n_scopes + 1, np.int64)
    for size, first, last in requests:
        if first >= 0:
            live[first:last + 1] += size
    for rule in rules:
        if applicable(rule, lifetimes, position):
            t = position[rule.op] + 1
            a = align_up(tensor_nbytes(model, rule.input))
            b = align_up(tensor_nbytes(model, rule.output))
            # the two may share up to min(a, b + hi) bytes (output below input)
            saved = min(a, b, max(0, b + rule.hi) if rule.hi != _INF else b)
            live[t] -= saved
    return int(live.max())


def _ready_order(model, choose):
    """A topological order built one operator at a time: ``choose(ready,
    state)`` picks among the operators whose inputs all exist."""
    n = len(model.operators)
    producer = {}
    for op in model.operators:
        for t in op.outputs:
            producer[t] = op.index
    needs = [{producer[t] for t in op.inputs if t >= 0 and t in producer} for op in model.operators]
    done, order = set(), []
    while len(order) < n:
        ready = [k for k in range(n) if k not in done and needs[k] <= done]
        k = choose(ready, order)
        order.append(k)
        done.add(k)
    return order


def candidate_orders(model, rules=(), limit=24):
    """Operator orders to try: the original, memory-aware list schedules
    (run next the ready operator that frees the most bytes / keeps working
    on the newest tensor), then local moves of single operators that lower
    :func:`_live_peak`. Every order is checked with
    :func:`int8sqz.offline_plan.operator_order_problems`; the original comes
    first, then the others by increasing estimate."""
    n = len(model.operators)
    identity = list(range(n))
    if n < 2:
        return [identity]
    size = {}
    for i, t in enumerate(model.tensors):
        size[i] = align_up(t.nbytes) if t.nbytes is not None and needs_allocating(model, i) else 0
    readers = {}
    for op in model.operators:
        for t in op.inputs:
            if t >= 0:
                readers.setdefault(t, set()).add(op.index)

    def frees(k, order):
        done = set(order) | {k}
        freed = sum(size[t] for t in set(model.operators[k].inputs)
                    if t >= 0 and readers[t] <= done and t not in model.outputs)
        made = sum(size[t] for t in model.operators[k].outputs)
        return made - freed

    def newest(k, order):
        recent = {t: j for j, o in enumerate(order) for t in model.operators[o].outputs}
        return -max((recent.get(t, -1) for t in model.operators[k].inputs), default=-1)

    schedules = [
        _ready_order(model, lambda ready, order: min(ready, key=lambda k: (frees(k, order), k))),
        _ready_order(model, lambda ready, order: min(
            ready, key=lambda k: (newest(k, order), frees(k, order), k))),
        _ready_order(model, lambda ready, order: min(
            ready, key=lambda k: (frees(k, order), newest(k, order), k))),
    ]
    found = {tuple(identity): _live_peak(model, identity, rules)}
    for s in schedules:
        if not operator_order_problems(model, s):
            found.setdefault(tuple(s), _live_peak(model, s, rules))
    # local search from the best order so far: move one operator at a time
    best = min(found, key=lambda o: (found[o], o != tuple(identity)))
    current, score = list(best), found[best]
    improved, rounds = True, 0
    while improved and rounds < 3 and len(found) < 20 * limit:
        improved, rounds = False, rounds + 1
        for j in range(n):
            for dest in (j - 1, j + 1, j - 2, j + 2):
                if not 0 <= dest < n:
                    continue
                cand = current[:j] + current[j + 1:]
                cand.insert(dest, current[j])
                key = tuple(cand)
                if key in found or operator_order_problems(model, cand):
                    continue
                found[key] = _live_peak(model, cand, rules)
                if found[key] < score:
                    current, score, improved = cand, found[key], True
    ranked = sorted((o for o in found if o != tuple(identity)), key=lambda o: found[o])
    return [identity] + [list(o) for o in ranked[:max(0, limit - 1)]]


# ---------------------------------------------------------------------------------
# Checking a plan
# ---------------------------------------------------------------------------------

def plan_problems(model, offsets, order=None, rules=None) -> list:
    """Every pair of tensors live at the same scope (in ``order``) whose
    bytes meet without a sharing rule that allows their placement; empty for
    a valid plan. ``rules``: the sharing rules allowed (default: all of
    :func:`sharing_rules`; ``[]`` checks a plan without overlaps)."""
    order = list(range(len(model.operators))) if order is None else list(order)
    m = reordered(model, order)
    lifetimes = tflm_lifetimes(m)
    position = {k: j for j, k in enumerate(order)}
    rules = sharing_rules(model) if rules is None else rules
    allowed = {}
    for r in rules:
        if applicable(r, lifetimes, position):
            allowed[(r.input, r.output)] = (r.lo, r.hi)
    problems = []
    planned = sorted(lifetimes)
    missing = [i for i in planned if offsets.get(i, ONLINE) == ONLINE]
    if missing:
        problems.append(f"tensors {missing} have no offset")
    size = {i: align_up(tensor_nbytes(model, i)) for i in planned}
    for x, i in enumerate(planned):
        if i in missing:
            continue
        for j in planned[x + 1:]:
            if j in missing:
                continue
            li, lj = lifetimes[i], lifetimes[j]
            if not lifetimes_overlap(li.first, li.last, lj.first, lj.last):
                continue
            oi, oj = offsets[i], offsets[j]
            if not _meet(oi, size[i], oj, size[j]):
                continue
            ok = False
            for a, b in ((i, j), (j, i)):
                if (a, b) in allowed:
                    lo, hi = allowed[(a, b)]
                    ok = ok or lo <= offsets[b] - offsets[a] <= hi
            if not ok:
                problems.append(f"{model.tensor_label(i)} at {oi} and {model.tensor_label(j)} "
                                f"at {oj} are live together and share bytes")
    return problems


# ---------------------------------------------------------------------------------
# Plans made explicit: TFLite Micro's own, one a model carries, as a MemoryPlan
# ---------------------------------------------------------------------------------

def greedy_plan(model) -> TflmPlan:
    """TFLite Micro's greedy plan of ``model`` made explicit (the offsets it
    chooses itself, operators in their order)."""
    if model.num_subgraphs > 1:
        raise UnsupportedError(f"{model.source}: the model has {model.num_subgraphs} subgraphs; "
                               f"TFLite Micro plans them together, int8sqz only the main one")
    greedy = plan_model(model, "tflm")
    offsets = {i: pl.offset for i, pl in greedy.placements.items()}
    return TflmPlan(model, list(range(len(model.operators))), offsets, greedy.arena_size,
                    greedy.arena_size, True)


def carried_plan(model):
    """The offline plan ``model`` carries (its ``OfflineMemoryAllocation``
    metadata), as TFLite Micro runs it, or None without one. TFLite Micro
    refuses a plan whose count of offsets is not the count of tensors."""
    from ..errors import ModelError
    from ..offline_plan import read_offline_plan

    found = read_offline_plan(model.content, label=model.source)
    if found is None:
        return None
    if len(found.offsets) != len(model.tensors) or model.num_subgraphs > 1:
        raise ModelError(
            f"{model.source}: its offline plan has {len(found.offsets)} offsets for "
            f"{len(model.tensors)} tensors of the main subgraph ({model.num_subgraphs} "
            f"subgraph(s)); TFLite Micro refuses a plan without one offset per tensor")
    lifetimes = tflm_lifetimes(model)
    offsets = {i: found.offsets[i] for i in lifetimes if found.offsets[i] != ONLINE}
    greedy = plan_model(model, "tflm").arena_size
    plan = TflmPlan(model, list(range(len(model.operators))), offsets,
                    tflm_head(model, offsets), greedy, False)
    rules = sharing_rules(model)
    shared = []
    for r in rules:
        if r.input in offsets and r.output in offsets and _meet(
                offsets[r.input], align_up(tensor_nbytes(model, r.input)),
                offsets[r.output], align_up(tensor_nbytes(model, r.output))):
            shared.append(r)
    plan.shared = shared
    return plan


def memory_plan(plan: TflmPlan, name: str = "tflm-optimized", notes=()):
    """``plan`` as TFLite Micro runs it, as an int8sqz.planner.MemoryPlan
    (for memplan's report and picture): the model with its operators in the
    plan's order (renumbered), every tensor at its offset (a tensor the plan
    leaves to TFLite Micro where its planner puts it), the kernels' scratch
    buffers where TFLite Micro's planner puts them around the plan."""
    from .plan import MemoryPlan, Placement, Scratch, c_strides
    from .lifetimes import Lifetime

    model = reordered(plan.model, plan.order) if plan.reordered else plan.model
    shapes = [t.shape for t in model.tensors]
    lifetimes = tflm_lifetimes(model)
    greedy = tflm_greedy(model, plan.offsets)
    requests, _, ids = tflm_requests(model, plan.offsets)
    offsets = greedy.offsets
    overlaps = {r.output: r.input for r in plan.shared}
    placements, scratch = {}, []
    scratch_ops = iter(tflm_scratch_requests(model))
    for k, i in enumerate(ids):
        if i is None:
            op_index, size = next(scratch_ops)
            scratch.append(Scratch(op_index, size, offsets[k],
                                   Lifetime(op_index + 1, op_index + 1)))
            continue
        t = model.tensors[i]
        placements[i] = Placement(i, tensor_nbytes(model, i), offsets[k],
                                  c_strides(shapes[i], t.dtype.itemsize), k,
                                  overlaps=overlaps.get(i))
    return MemoryPlan(model, name, shapes, lifetimes, placements, list(greedy.buffers), offsets,
                      greedy.arena_size, set(), list(notes), scratch)
