"""The ``streaming`` plan: stages of consecutive operators that run a band
of output rows at a time, so that the large tensors inside a stage never
exist whole.

A *stage* is a run of consecutive operators that each can compute a band of
their output rows (``OperatorUnit.bands``, int8sqz.ops.unit.Bands). Its
tensors are of three kinds:

* *inputs*: read by the stage, made before it (or graph inputs): whole;
* *outputs*: made by the stage and read after it (or graph outputs): whole,
  written a band at a time;
* *internal*: made and read inside the stage only: never whole. Each lives
  in a *band buffer* of a few rows.

The stage runs in *steps*: step k makes the rows ``k * band .. (k + 1) *
band - 1`` of the stage's last tensor (the *driver*), and every operator
before it makes the rows its consumers need for that (the rows a band reads
are its window's: :func:`int8sqz.ops.unit.band_rows`, the receptive-field
halo included). A band buffer either *keeps* the rows that the next steps
read again (the halo: the buffer slides, rows moved to its start, no
multiply-accumulate done twice) or *recomputes* them (each step makes
every row it reads, the halo again: extra MACs, but nothing is carried from
step to step).

Within a step, the band buffers are placed in one *block* by their
lifetimes over the step's operators (a buffer that keeps rows lives for
the whole step); the block is one buffer of the global plan, live during
the stage. The global plan is the ``optimized`` plan
(int8sqz.planner.sharing) of the whole tensors, their lifetimes stretched
over the stages they take part in, with the blocks.

:func:`plan_streaming` searches the stage boundaries for the lowest peak
(a dynamic programme over the operators: a segment is one operator run
whole or one stage), then the largest bands that keep that peak (fewer
steps), within a budget of extra multiply-accumulates (recomputed halos).
:func:`stage_schedule` gives any stage's schedule, for tests and tools.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .. import ops
from .lifetimes import Lifetime, tensor_nbytes, tflm_lifetimes
from .plan import MemoryPlan
from .planners import GreedyPlanner, OverlapPlanner, align_up

#: the longest stage searched (operators)
MAX_STAGE_OPS = 24
#: the most steps a stage searched takes (a taller driver gets taller bands)
MAX_STEPS = 256
#: models of more operators are not searched (the plan without stages)
MAX_SEARCH_OPS = 2000
#: the default budget of extra multiply-accumulates, a fraction of the model's
DEFAULT_MAX_EXTRA_MACS = 0.10


# ---------------------------------------------------------------------------------
# One stage: its schedule
# ---------------------------------------------------------------------------------

@dataclass
class BandBuffer:
    """The rows of one internal tensor that a stage holds at a time."""

    tensor: int
    rows: int  # capacity
    row_bytes: int
    keeps: bool  # rows survive from one step to the next (a sliding window)
    first_pos: int  # positions in the stage of the operators that write and last read it
    last_pos: int
    offset: int = 0  # bytes into the stage's block

    @property
    def nbytes(self) -> int:
        return self.rows * self.row_bytes


@dataclass
class Action:
    """One operator's work in one step: output rows ``first..last - 1``.
    ``origins`` gives, for every band buffer the operator reads or writes,
    the image row held in its row 0 during the action; ``move`` is
    ``(rows kept, from buffer row)``: before the operator runs, that many
    rows are moved to the start of its output's buffer (the slide)."""

    op: int
    pos: int
    first: int
    last: int
    origins: dict
    move: tuple | None = None


@dataclass
class StageSchedule:
    first: int  # operator indices, inclusive
    last: int
    band: int  # rows of the driver per step
    recompute: bool
    driver: int
    inputs: tuple  # whole tensors read
    outputs: tuple  # whole tensors written
    buffers: dict  # internal tensor -> BandBuffer
    steps: list  # per step: a list of Action
    block_size: int
    max_rows: dict  # operator -> the most output rows of one action
    computed_rows: dict  # operator -> output rows made over all steps
    macs: int  # the stage's operators' multiply-accumulates, run whole
    extra_macs: int  # made by this schedule beyond ``macs`` (recomputed halos; <= 0 when none)

    @property
    def ops(self) -> range:
        return range(self.first, self.last + 1)

    @property
    def scopes(self) -> tuple:
        """The stage's allocation scopes (operator i runs at scope i + 1)."""
        return (self.first + 1, self.last + 1)


class StageError(ValueError):
    """A range of operators that cannot run as a stage (said why)."""


def _windows(model, shapes, op):
    unit = ops.REGISTRY.get(op.name)
    if unit is None or unit.bands is None or len(op.outputs) != 1:
        return None
    out = shapes[op.outputs[0]]
    if len(out) != 4 or out[0] != 1 or math.prod(out) == 0:
        return None
    try:
        w = unit.bands.windows(op, model, shapes)
    except (IndexError, KeyError, TypeError, ValueError):
        return None
    if w is None or len(w) != len(op.inputs):
        return None
    return w


def streamable(model, shapes=None) -> list:
    """For each operator: its input windows (a tuple) when it can run in a
    stage, else None."""
    shapes = shapes if shapes is not None else [t.shape for t in model.tensors]
    return [_windows(model, shapes, op) for op in model.operators]


def _row_bytes(model, shapes, t) -> int:
    s = shapes[t]
    return s[2] * s[3] * model.tensors[t].dtype.itemsize


class Facts:
    """What the schedules of one model ask again and again: each operator's
    windows (None: it cannot run in bands) and MACs, each tensor's lifetime
    and the operators that read it."""

    def __init__(self, model, shapes):
        self.model, self.shapes = model, list(shapes)
        self.windows = streamable(model, self.shapes)
        self.lifetimes = tflm_lifetimes(model, self.shapes)
        self.macs = [ops.macs(op, self.shapes) for op in model.operators]
        self.readers: dict[int, list] = {}
        for op in model.operators:
            for i in set(op.inputs):
                if i >= 0:
                    self.readers.setdefault(i, []).append(op.index)


def stage_schedule(model, shapes, first: int, last: int, band: int = 1,
                   recompute: bool = False, facts: Facts | None = None,
                   exact: bool = True) -> StageSchedule:
    """The schedule of operators ``first..last`` run as one stage, ``band``
    rows of the last operator's output per step, the halos recomputed or
    kept. Raises :class:`StageError` when these operators cannot form a
    stage. ``exact=False`` (the search) leaves out the steps' actions
    (``steps`` is a list of empty lists) and places the band buffers in
    the greedy planner's order only."""
    facts = facts if facts is not None else Facts(model, shapes)
    shapes, windows, lifetimes = facts.shapes, facts.windows, facts.lifetimes
    if not 0 <= first < last < len(model.operators):
        raise StageError(f"operators {first}..{last}: a stage has at least two operators")
    if band < 1:
        raise StageError(f"band of {band} rows, expected at least 1")
    stage_ops = [model.operators[j] for j in range(first, last + 1)]
    for op in stage_ops:
        if windows[op.index] is None:
            raise StageError(f"{op.describe()} cannot run in bands")
    produced = {op.outputs[0]: p for p, op in enumerate(stage_ops)}
    consumers: dict[int, list] = {}  # tensor -> [(position, input slot)]
    for p, op in enumerate(stage_ops):
        for slot, i in enumerate(op.inputs):
            if i >= 0:
                consumers.setdefault(i, []).append((p, slot))
    graph_outputs = set(model.outputs)
    internal = set()
    for t, p in produced.items():
        if t in graph_outputs or t not in lifetimes:
            continue
        if lifetimes[t].last <= last + 1 and all(
                first <= c <= last for c in facts.readers.get(t, ())):
            internal.add(t)
    if not internal:
        raise StageError(f"operators {first}..{last} leave no tensor inside the stage")
    driver = stage_ops[-1].outputs[0]
    inputs = sorted({i for i in consumers if i not in produced and i in lifetimes})
    outputs = sorted(t for t in produced if t not in internal and t in lifetimes)
    height = {t: shapes[t][1] for t in produced}
    n = len(stage_ops)
    out_of = [op.outputs[0] for op in stage_ops]
    # per position: (input, stride, top, span, height) of each activation
    # input read through a window (span: rows from a row's first tap to its
    # last, stride None: read whole)
    taps = []
    for op in stage_ops:
        entry = []
        for slot, i in enumerate(op.inputs):
            if i < 0 or i not in lifetimes:
                continue
            w = windows[op.index][slot]
            if w is None:
                entry.append((i, None, 0, 0, shapes[i][1]))
            else:
                entry.append((i, w.stride, w.pad_top, (w.filter_height - 1) * w.dilation + 1,
                              shapes[i][1]))
        taps.append(entry)

    n_steps = -(-height[driver] // band)
    made = dict.fromkeys(produced, 0)  # rows made so far (kept and whole tensors)
    ranges_at = []  # per step: {position: (first, last)}
    read_lo = {t: [math.inf] * n_steps for t in internal}  # the lowest row read per step
    for k in range(n_steps):
        lastk = k == n_steps - 1
        ranges = {}
        lo_t, hi_t = {}, {}  # rows of each tensor read at this step
        for p in range(n - 1, -1, -1):
            t = out_of[p]
            lo, hi = lo_t.get(t), hi_t.get(t)
            if t == driver:
                a, b = k * band, min((k + 1) * band, height[t])
            elif recompute and t in internal:
                a, b = (lo, hi) if lo is not None else (0, 0)
            else:
                b = made[t] if hi is None else max(made[t], hi)
                if lastk and t not in internal:
                    b = height[t]
                a = made[t]
            if a >= b:
                continue
            ranges[p] = (a, b)
            made[t] = max(made[t], b)
            for i, stride, top, span, h in taps[p]:
                if stride is None:
                    rlo, rhi = 0, h
                else:
                    rlo = max(a * stride - top, 0)
                    rhi = min((b - 1) * stride - top + span, h)
                    if rlo >= rhi:
                        continue
                if i in lo_t:
                    lo_t[i], hi_t[i] = min(lo_t[i], rlo), max(hi_t[i], rhi)
                else:
                    lo_t[i], hi_t[i] = rlo, rhi
        for t in internal:
            if t in lo_t:
                read_lo[t][k] = lo_t[t]
        ranges_at.append(ranges)
    for t in produced:
        if t not in internal and made[t] != height[t]:
            # never: the last step makes every row left (a check of this code)
            raise StageError(f"the stage does not make every row of tensor {t}")

    # band buffers: the rows held at each step
    buffers = {}
    origins_at = {t: [0] * n_steps for t in internal}
    moves = {}
    for t in internal:
        p_make = produced[t]
        readers = consumers.get(t, ())
        reads = read_lo[t]
        future = [math.inf] * (n_steps + 1)  # the lowest row read at step k or later
        for k in range(n_steps - 1, -1, -1):
            future[k] = min(future[k + 1], reads[k])
        origin = top = cap = 0
        keeps = False
        orig = origins_at[t]
        for k in range(n_steps):
            made_k = ranges_at[k].get(p_make)
            if k > 0 and reads[k] < (made_k[0] if made_k else top):
                keeps = True  # a row made at an earlier step is read again
            if made_k and recompute:
                origin, top = made_k
            elif made_k:
                new_origin = min(future[k], made_k[0])
                if top > new_origin > origin:
                    moves[(k, t)] = (top - new_origin, new_origin - origin)
                origin, top = max(origin, new_origin), made_k[1]
            orig[k] = origin
            cap = max(cap, top - origin)
        buffers[t] = BandBuffer(t, max(cap, 1), _row_bytes(model, shapes, t), keeps,
                                p_make, max((c for c, _ in readers), default=p_make))

    # block: the band buffers by their lifetimes within a step (the search
    # places them in TFLite Micro's order only, the final plan in every
    # order the overlap planner tries)
    bp = OverlapPlanner() if exact else GreedyPlanner()
    ids = {}
    for t, buf in sorted(buffers.items()):
        span = (0, len(stage_ops) - 1) if buf.keeps else (buf.first_pos, buf.last_pos)
        ids[t] = bp.add_buffer(align_up(buf.nbytes), *span)
    for t, b in ids.items():
        buffers[t].offset = bp.offsets[b]
    block = bp.arena_size

    steps, computed, max_rows = [], {}, {}
    for k, ranges in enumerate(ranges_at):
        acts = []
        for p, (a, b) in ranges.items():
            j = first + p
            computed[j] = computed.get(j, 0) + (b - a)
            max_rows[j] = max(max_rows.get(j, 0), b - a)
            if exact:
                op = stage_ops[p]
                touched = [i for i in op.inputs if i in internal] + [out_of[p]]
                origins = {t: origins_at[t][k] for t in touched if t in internal}
                acts.append(Action(j, p, a, b, origins, moves.get((k, out_of[p]))))
        acts.sort(key=lambda x: x.pos)
        steps.append(acts)
    macs = sum(facts.macs[first:last + 1])
    done = 0
    for p in range(n):
        h = height[out_of[p]]
        done += facts.macs[first + p] * computed.get(first + p, 0) // h if h else 0
    return StageSchedule(first, last, band, recompute, driver, tuple(inputs), tuple(outputs),
                         buffers, steps, block, max_rows, computed, macs, done - macs)


# ---------------------------------------------------------------------------------
# The whole model
# ---------------------------------------------------------------------------------

@dataclass
class StreamingPlan(MemoryPlan):
    """A memory plan whose stages run in bands: ``placements`` hold the whole
    tensors, ``stages`` the schedules (StageSchedule), ``block_offsets`` where
    each stage's band buffers start."""

    stages: list = field(default_factory=list)
    block_offsets: list = field(default_factory=list)
    max_extra_macs: float = DEFAULT_MAX_EXTRA_MACS
    model_macs: int = 0

    @property
    def extra_macs(self) -> int:
        return sum(s.extra_macs for s in self.stages)

    def stage_of(self, op_index: int):
        for s in self.stages:
            if s.first <= op_index <= s.last:
                return s
        return None


def streaming_lifetimes(model, shapes, stages, lifetimes=None) -> dict:
    """The whole tensors' lifetimes (TFLite Micro's scopes) with each stage
    run as one piece: a tensor a stage reads lives to its end, one it writes
    from its start; the stages' internal tensors are left out."""
    lifetimes = dict(lifetimes if lifetimes is not None else tflm_lifetimes(model, shapes))
    for s in stages:
        for t in s.buffers:
            lifetimes.pop(t, None)
    for s in stages:
        lo, hi = s.scopes
        for t in s.inputs:
            if t in lifetimes:
                lt = lifetimes[t]
                lifetimes[t] = Lifetime(lt.first, max(lt.last, hi))
        for t in s.outputs:
            if t in lifetimes:
                lt = lifetimes[t]
                lifetimes[t] = Lifetime(min(lt.first, lo), max(lt.last, hi))
    return lifetimes


def place(model, shapes, stages, notes=(), max_extra_macs=DEFAULT_MAX_EXTRA_MACS
          ) -> StreamingPlan:
    """The global plan of a set of stages (StageSchedule, disjoint, in
    order): the optimized plan of the whole tensors with each stage's block
    and the scratch buffers TFLite Micro's reference kernels request (each
    live during its operator, or its stage), so that the arena is what a
    microcontroller running those kernels band by band needs."""
    from .lifetimes import tflm_scratch_requests
    from .plan import Scratch
    from .sharing import plan_optimized

    base = tflm_lifetimes(model, shapes)
    lifetimes = streaming_lifetimes(model, shapes, stages, base)
    nbytes = {i: tensor_nbytes(model, i, shapes) for i in lifetimes}
    frozen = frozenset(j for s in stages for j in s.ops)
    extra = [(s.block_size, *s.scopes) for s in stages]
    requests = []
    for op_index, size in tflm_scratch_requests(model, shapes):
        scopes = next((s.scopes for s in stages if s.first <= op_index <= s.last),
                      (op_index + 1, op_index + 1))
        requests.append((op_index, size, Lifetime(*scopes)))
        extra.append((align_up(size), *scopes))
    opt = plan_optimized(model, shapes, lifetimes, nbytes, list(notes), frozen, extra)
    plan = StreamingPlan(model, "streaming", shapes, lifetimes, opt.placements, opt.buffers,
                         opt.buffer_offsets, opt.arena_size, opt.skip_ops, list(opt.notes))
    plan.stages = list(stages)
    plan.block_offsets = list(opt.extra_offsets[:len(stages)])
    plan.scratch = [Scratch(op_index, size, off, lt) for (op_index, size, lt), off
                    in zip(requests, opt.extra_offsets[len(stages):])]
    plan.max_extra_macs = max_extra_macs
    plan.model_macs = sum(ops.macs(op, shapes) for op in model.operators)
    return plan


class _Search:
    """The costs the search compares: the bytes live at an operator run
    whole (the optimized plan's), and a stage's whole tensors plus its
    block."""

    def __init__(self, model, shapes, max_stage_ops):
        from .plan import plan_model

        self.model, self.shapes = model, shapes
        self.facts = Facts(model, shapes)
        self.windows = self.facts.windows
        self.lifetimes = self.facts.lifetimes
        opt = plan_model(model, "optimized", shapes)
        self.base = opt
        self.single = _live_bytes(opt)
        # whole tensors grouped as the optimized plan shares them (in place,
        # slices of a concatenation): a group's buffer is as large as its
        # largest member whenever any member lives; each link is made by an
        # operator, and a stage's operators make none
        self.size = {i: align_up(pl.nbytes) for i, pl in opt.placements.items()}
        producer = {op.outputs[0]: op.index for op in model.operators if op.outputs}
        readers = self.facts.readers
        self.links = []  # (tensor, tensor, operator)
        for i, pl in opt.placements.items():
            if pl.inplace_of is not None:
                self.links.append((i, pl.inplace_of, producer.get(i, -1)))
            if pl.view_of is not None:
                self.links.append((i, pl.view_of, max(readers.get(i, [-1]))))
        self.max_stage_ops = max_stage_ops
        self.cache = {}
        self.bounds = {}

    def whole_bytes(self, first, last, internal) -> int:
        """Bytes of the whole tensors live during operators first..last, the
        groups that share bytes counted once (those linked by operators
        outside the range)."""
        lo, hi = first + 1, last + 1
        parent = {}

        def find(i):
            while parent.get(i, i) != i:
                i = parent[i]
            return i

        for a, b, op in self.links:
            if not first <= op <= last:
                ra, rb = find(a), find(b)
                if ra != rb:
                    parent[ra] = rb
        group_size = {}
        for i, n in self.size.items():
            r = find(i)
            group_size[r] = max(group_size.get(r, 0), n)
        roots = set()
        for i, lt in self.lifetimes.items():
            if i in internal or lt.last < lo or lt.first > hi:
                continue
            roots.add(find(i))
        return sum(group_size.get(r, 0) for r in roots)

    def stage(self, first, last, band=1, recompute=False):
        """(cost, schedule) of a stage, (inf, None) when it cannot be one.
        Bands at least as tall as keep the stage within MAX_STEPS steps."""
        out = self.model.operators[last].outputs
        if out:
            band = max(band, -(-self.shapes[out[0]][1] // MAX_STEPS) if len(
                self.shapes[out[0]]) == 4 else 1)
        key = (first, last, band, recompute)
        if key not in self.cache:
            try:
                s = stage_schedule(self.model, self.shapes, first, last, band, recompute,
                                   self.facts, exact=False)
                cost = self.whole_bytes(first, last, s.buffers) + s.block_size
                self.cache[key] = (cost, s)
            except StageError:
                self.cache[key] = (math.inf, None)
        return self.cache[key]

    def lower_bound(self, first, last) -> int:
        """Bytes of a stage's whole tensors (its cost without the block)."""
        key = (first, last)
        if key not in self.bounds:
            internal = set()
            for j in range(first, last + 1):
                t = self.model.operators[j].outputs[0]
                lt = self.lifetimes.get(t)
                if lt is not None and lt.last <= last + 1 and t not in self.model.outputs:
                    internal.add(t)
            self.bounds[key] = self.whole_bytes(first, last, internal)
        return self.bounds[key]

    def options(self, first, last, cap, budget):
        """The ways to run operators first..last as a stage within ``cap``
        bytes: [(extra MACs, band, recompute)], the halos kept first."""
        if self.lower_bound(first, last) > cap:
            return []
        cost, s = self.stage(first, last, 1, False)
        if s is None:
            return []
        if cost <= cap:
            return [(max(s.extra_macs, 0), 1, False)]
        found = []
        if budget > 0:
            for band in (1, 2, 4, 8, 16):
                c, r = self.stage(first, last, band, True)
                if r is not None and c <= cap and r.extra_macs <= budget:
                    found.append((r.extra_macs, band, True))
        return found

    def partition(self, cap, budget):
        """Segments covering every operator, each within ``cap`` bytes, with
        at most ``budget`` extra MACs, the fewest operators streamed (then the
        fewest extra MACs): [None (one operator, whole) or (first, last,
        band, recompute)], or None when there are none."""
        n = len(self.model.operators)
        hot = [c > cap for c in self.single]
        # best[i]: (extra MACs, streamed operators, back pointer) for operators 0..i - 1
        best = [None] * (n + 1)
        best[0] = (0, 0, None)
        for i in range(1, n + 1):
            cands = []
            if best[i - 1] is not None and not hot[i - 1]:
                e, k, _ = best[i - 1]
                cands.append((e, k, (i - 1, None)))
            j = i - 1
            if self.windows[j] is not None:
                # a stage ending at j must hold an operator that cannot run whole
                f, seen_hot = j - 1, hot[j]
                while f >= 0 and self.windows[f] is not None and j - f < self.max_stage_ops:
                    seen_hot = seen_hot or hot[f]
                    if seen_hot and best[f] is not None:
                        for extra, band, rec in self.options(f, j, cap, budget - best[f][0]):
                            cands.append((best[f][0] + extra, best[f][1] + j - f + 1,
                                          (f, (band, rec))))
                    f -= 1
            if cands:
                best[i] = min(cands, key=lambda x: (x[1], x[0]))
        if best[n] is None:
            return None
        segs, i = [], n
        while i > 0:
            f, how = best[i][2]
            segs.append(None if how is None else (f, i - 1, how[0], how[1]))
            i = f if how is not None else i - 1
        segs.reverse()
        return segs


def _live_bytes(plan) -> list:
    from ..memplan import live_bytes

    return live_bytes(plan)


def plan_streaming(model, shapes=None, max_extra_macs: float = DEFAULT_MAX_EXTRA_MACS,
                   max_stage_ops: int = MAX_STAGE_OPS) -> StreamingPlan:
    """The streaming plan of lowest peak with at most ``max_extra_macs``
    (a fraction of the model's MACs) recomputed: stages where they lower
    the peak, bands as tall as that peak allows.

    The search: the lowest cap (bytes, by bisection) for which every
    operator runs whole within the cap or inside a stage that does; for that
    cap, the fewest streamed operators; then each stage's band doubled while
    it stays within the cap. The arena is then the optimized plan of the
    whole tensors and the stages' blocks (:func:`place`)."""
    shapes = list(shapes) if shapes is not None else [t.shape for t in model.tensors]
    if not (max_extra_macs >= 0 and math.isfinite(max_extra_macs)):
        raise ValueError(f"max_extra_macs={max_extra_macs!r}: expected a fraction >= 0")
    if len(model.operators) > MAX_SEARCH_OPS:
        plain = place(model, shapes, [], [], max_extra_macs)
        plain.notes.append(f"the model has {len(model.operators)} operators: more than the "
                           f"{MAX_SEARCH_OPS} the search takes on; no stage")
        return plain
    search = _Search(model, shapes, max_stage_ops)
    total = sum(ops.macs(op, shapes) for op in model.operators)
    budget = int(max_extra_macs * total)
    top = max(search.single, default=0)
    lo, hi, segs = 0, top, None
    while hi - lo > ALIGN_STEP:
        mid = (lo + hi) // 2
        found = search.partition(mid, budget)
        if found is not None:
            hi, segs = mid, found
        else:
            lo = mid
    notes = list(search.base.notes)
    plain = place(model, shapes, [], notes, max_extra_macs)
    best = None
    # the placement may not reach the cap (the costs are live bytes, not
    # offsets): a few caps above it are tried too, the smallest arena kept
    tried = set()
    for factor in CAP_FACTORS:
        cap = hi if factor == 1 else int(hi * factor)
        found = segs if factor == 1 else search.partition(cap, budget)
        key = tuple(found or ())
        if found is None or key in tried:
            continue
        tried.add(key)
        stages = _stages(search, model, shapes, found, cap)
        if not stages:
            continue
        plan = place(model, shapes, stages, notes, max_extra_macs)
        if best is None or plan.arena_size < best.arena_size:
            best = plan
        if best.arena_size <= hi:
            break
    if best is None:
        plain.notes.append("no stage lowers the peak")
        return plain
    if best.arena_size >= plain.arena_size:
        plain.notes.append("no stage makes the arena smaller than the optimized plan")
        return plain
    return best


#: caps tried, as multiples of the lowest, when the placement misses it
CAP_FACTORS = (1, 1.03, 1.07, 1.15, 1.3)


def _stages(search, model, shapes, segs, cap) -> list:
    """The schedules of a partition's stages, each band doubled while the
    stage stays within ``cap`` (fewer steps), their blocks placed in every
    order the overlap planner tries."""
    stages = []
    for seg in segs:
        if seg is None:
            continue
        f, j, band, rec = seg
        cost, s = search.stage(f, j, band, rec)
        while True:
            c2, s2 = search.stage(f, j, s.band * 2, rec)
            if (s2 is None or c2 > cap or len(s2.steps) == len(s.steps)
                    or s2.extra_macs > max(s.extra_macs, 0)):
                break
            s = s2
        stages.append(stage_schedule(model, shapes, s.first, s.last, s.band, s.recompute,
                                     search.facts))
    return stages


#: the resolution of the search for the lowest cap (bytes)
ALIGN_STEP = 64

_CACHE: dict = {}


def cached_plan(model, shapes, max_extra_macs: float = DEFAULT_MAX_EXTRA_MACS):
    """:func:`plan_streaming`, its stages remembered for the model's bytes
    and shapes (the interpreters of one model search once; the search takes
    a second or two). A remembered choice is scheduled and placed again for
    ``model``."""
    import hashlib

    key = (hashlib.sha256(model.content).hexdigest(), tuple(map(tuple, shapes)),
           float(max_extra_macs))
    hit = _CACHE.get(key)
    if hit is None:
        plan = plan_streaming(model, shapes, max_extra_macs)
        if len(_CACHE) >= 32:
            _CACHE.clear()
        _CACHE[key] = ([(s.first, s.last, s.band, s.recompute) for s in plan.stages],
                       list(plan.notes))
        return plan
    chosen, notes = hit
    return plan_stages(model, shapes, chosen, notes, max_extra_macs)


def plan_stages(model, shapes, chosen, notes=(), max_extra_macs=DEFAULT_MAX_EXTRA_MACS):
    """The streaming plan of given stages: ``chosen`` is a list of
    ``(first, last, band, recompute)`` (disjoint operator ranges). Raises
    StageError when a range cannot be a stage."""
    shapes = list(shapes) if shapes is not None else [t.shape for t in model.tensors]
    facts = Facts(model, shapes)
    stages = [stage_schedule(model, shapes, *c, facts=facts) for c in sorted(chosen)]
    for a, b in zip(stages, stages[1:]):
        if b.first <= a.last:
            raise StageError(f"stages {a.first}..{a.last} and {b.first}..{b.last} overlap")
    return place(model, shapes, stages, notes, max_extra_macs)
