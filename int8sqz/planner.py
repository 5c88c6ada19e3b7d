"""Memory planners: where each activation lives in one arena.

Two layers:

* Planners with TFLite Micro's interface: ``add_buffer(size, first_use,
  last_use)`` for every buffer, then ``offsets`` and ``arena_size``.
  :class:`GreedyPlanner` reproduces TFLite Micro's ``GreedyMemoryPlanner``
  decision for decision; :class:`LinearPlanner` puts every buffer after the
  previous one (TFLite Micro's ``LinearMemoryPlanner``); :class:`OverlapPlanner`
  is a first-fit planner that also honours explicit permissions for two
  buffers to overlap (``allow_overlap``).
* :func:`plan_model` turns a model into buffers: the lifetimes, the 16-byte
  aligned sizes, and for the ``optimized`` planner the aliasing rules (which
  tensor may share bytes with which), each stated next to the code that uses
  it and referring to the kernel it depends on.

Time is counted in TFLite Micro's allocation scopes: 0 is the start of the
graph (graph inputs are created there), operator ``i`` runs at time ``i + 1``.
Two buffers are live at the same time when their closed intervals
``[first_use, last_use]`` intersect.

Only shapes, types and the operator list are used: planning works on any
valid model, including one whose operators int8sqz cannot run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .errors import InternalError, ModelError

#: TFLite Micro's ``MicroArenaBufferAlignment()``: every planned size is rounded up to it
ALIGNMENT = 16

PLANNERS = ("tflm", "optimized")


def align_up(n: int, alignment: int = ALIGNMENT) -> int:
    return -(-int(n) // alignment) * alignment


def lifetimes_overlap(a_first: int, a_last: int, b_first: int, b_last: int) -> bool:
    """TFLite Micro's ``DoesEntryOverlapInTime``: closed intervals intersect."""
    return not (a_first > b_last or b_first > a_last)


# ---------------------------------------------------------------------------------
# Planners (TFLite Micro interface)
# ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class BufferRequest:
    size: int
    first_use: int
    last_use: int


class Planner:
    """The interface: add buffers, then read their offsets and the arena size.

    ``add_buffer`` returns the buffer's id (0, 1, ... in the order added).
    The plan is computed on first access to ``offsets`` or ``arena_size``
    and again after any later ``add_buffer``.
    """

    name = "planner"

    def __init__(self):
        self.buffers: list[BufferRequest] = []
        self._offsets: list[int] | None = None

    def add_buffer(self, size: int, first_use: int, last_use: int) -> int:
        size, first_use, last_use = int(size), int(first_use), int(last_use)
        if size < 0:
            raise ValueError(f"buffer size {size} is negative")
        if last_use < first_use:
            raise ValueError(f"buffer last use {last_use} is before its first use {first_use}")
        self.buffers.append(BufferRequest(size, first_use, last_use))
        self._offsets = None
        return len(self.buffers) - 1

    @property
    def offsets(self) -> list[int]:
        if self._offsets is None:
            self._offsets = self._plan() if self.buffers else []
        return list(self._offsets)

    def offset(self, buffer_id: int) -> int:
        return self.offsets[buffer_id]

    @property
    def arena_size(self) -> int:
        """TFLite Micro's ``GetMaximumMemorySize``: the highest end of any buffer."""
        offs = self.offsets
        return max((o + b.size for o, b in zip(offs, self.buffers)), default=0)

    def _plan(self) -> list[int]:
        raise NotImplementedError


class LinearPlanner(Planner):
    """Every buffer after the previous one, no reuse (TFLite Micro's
    ``LinearMemoryPlanner``): the upper bound every other plan must beat."""

    name = "linear"

    def _plan(self) -> list[int]:
        offsets, top = [], 0
        for b in self.buffers:
            offsets.append(top)
            top += b.size
        return offsets


class GreedyPlanner(Planner):
    """TFLite Micro's ``GreedyMemoryPlanner`` (online-planned buffers only).

    The decisions it reproduces, each of which changes offsets:

    * Order: TFLite Micro writes the buffer ids into its sort array from the
      back (the first buffer added lands last), then runs a stable bubble
      sort by decreasing size. So: largest first, and among equal sizes the
      buffer added *later* comes first.
    * The first buffer in that order is put at offset 0.
    * Each next buffer walks the already placed buffers in increasing offset
      order, looking only at those whose lifetime intersects its own. The
      candidate offset starts at 0 and becomes the highest end seen so far;
      it is taken as soon as the gap before the next such buffer is at least
      the wanted size (a gap may be negative: buffers are sorted by start,
      not end), or when there is no further such buffer.
    * A newly placed buffer goes into the offset-ordered list after every
      buffer with the same offset, which decides the walk order later.
    """

    name = "tflm"

    def _order(self) -> list[int]:
        ids = list(range(len(self.buffers)))[::-1]
        # Python's sort is stable, as TFLite Micro's bubble sort is
        ids.sort(key=lambda i: -self.buffers[i].size)
        return ids

    def _plan(self) -> list[int]:
        reqs = self.buffers
        order = self._order()
        offsets = [0] * len(reqs)
        placed: list[int] = []  # buffer ids by increasing offset (insertion after equals)
        for k, bid in enumerate(order):
            want = reqs[bid]
            candidate = 0
            if k > 0:
                for other in placed:
                    o = reqs[other]
                    if not lifetimes_overlap(o.first_use, o.last_use,
                                             want.first_use, want.last_use):
                        continue
                    if offsets[other] - candidate >= want.size:
                        break  # the gap before this buffer is large enough
                    candidate = max(candidate, offsets[other] + o.size)
            offsets[bid] = candidate
            pos = len(placed)
            for j, other in enumerate(placed):
                if offsets[other] > candidate:
                    pos = j
                    break
            placed.insert(pos, bid)
        return offsets


class OverlapPlanner(Planner):
    """First-fit planning with permitted overlaps.

    ``allow_overlap(a, b, lo, hi)`` declares that buffers ``a`` and ``b`` may
    share bytes although both are live, provided ``offset(b) - offset(a)``
    lies in ``[lo, hi]`` (``None`` for an open end). Without such a
    permission, two buffers live at the same time never share a byte.

    Offsets are multiples of ``alignment``. Several placement orders are
    tried (TFLite Micro's order among them) and the smallest arena is kept;
    each order places every buffer at the lowest offset that satisfies every
    already placed buffer.
    """

    name = "overlap"

    def __init__(self, alignment: int = ALIGNMENT):
        super().__init__()
        self.alignment = alignment
        self.permissions: dict[tuple[int, int], tuple[float, float]] = {}

    def allow_overlap(self, a: int, b: int, lo=None, hi=None) -> None:
        for i in (a, b):
            if not 0 <= i < len(self.buffers):
                raise ValueError(f"no buffer {i}")
        if a == b:
            raise ValueError("a buffer cannot be given an overlap with itself")
        lo = -math.inf if lo is None or lo == -math.inf else int(lo)
        hi = math.inf if hi is None or hi == math.inf else int(hi)
        if lo > hi:
            raise ValueError(f"empty overlap range [{lo}, {hi}]")
        self.permissions[(a, b)] = (lo, hi)
        self._offsets = None

    def relation_ok(self, a: int, oa: int, b: int, ob: int) -> bool:
        """May buffers a and b (both live at some time) sit at oa and ob?"""
        sa, sb = self.buffers[a].size, self.buffers[b].size
        if oa + sa <= ob or ob + sb <= oa or sa == 0 or sb == 0:
            return True
        p = self.permissions.get((a, b))
        if p is not None and p[0] <= ob - oa <= p[1]:
            return True
        p = self.permissions.get((b, a))
        if p is not None and p[0] <= oa - ob <= p[1]:
            return True
        return False

    def _orders(self) -> list[list[int]]:
        n = len(self.buffers)
        b = self.buffers
        greedy = list(range(n))[::-1]
        greedy.sort(key=lambda i: -b[i].size)
        orders = [
            greedy,
            sorted(range(n), key=lambda i: (-b[i].size, b[i].first_use, i)),
            sorted(range(n), key=lambda i: (-b[i].size * (b[i].last_use - b[i].first_use + 1), i)),
            sorted(range(n), key=lambda i: (b[i].first_use, -b[i].size, i)),
            sorted(range(n), key=lambda i: (-(b[i].last_use - b[i].first_use), -b[i].size, i)),
            # consumers before producers: an output that may reach into its
            # input is placed first, the input then finds its place above
            sorted(range(n), key=lambda i: (-b[i].last_use, -b[i].size, i)),
            sorted(range(n), key=lambda i: (-b[i].first_use, -b[i].size, i)),
        ]
        unique = []
        for o in orders:
            if o not in unique:
                unique.append(o)
        return unique

    def _place(self, order: list[int]) -> list[int]:
        reqs, al = self.buffers, self.alignment
        offsets: dict[int, int] = {}
        for bid in order:
            want = reqs[bid]
            live = [p for p in offsets
                    if lifetimes_overlap(reqs[p].first_use, reqs[p].last_use,
                                         want.first_use, want.last_use)]
            # the lowest feasible offset is 0 or the left end of some feasible interval
            cands = {0}
            for p in live:
                op = offsets[p]
                cands.add(op + reqs[p].size)
                perm = self.permissions.get((p, bid))
                if perm is not None and perm[0] != -math.inf:
                    cands.add(op + perm[0])
                perm = self.permissions.get((bid, p))
                if perm is not None and perm[1] != math.inf:
                    cands.add(op - perm[1])
            for c in sorted({align_up(c, al) for c in cands if c >= 0} | {0}):
                if all(self.relation_ok(p, offsets[p], bid, c) for p in live):
                    offsets[bid] = c
                    break
            else:  # pragma: no cover - the end of every live buffer is always feasible
                raise InternalError("overlap planner found no offset")
        return [offsets[i] for i in range(len(reqs))]

    def _plan(self) -> list[int]:
        best = None
        for order in self._orders():
            offs = self._place(order)
            top = max(o + b.size for o, b in zip(offs, self.buffers))
            if best is None or top < best[0]:
                best = (top, offs)
        return best[1]


# ---------------------------------------------------------------------------------
# Model -> plan
# ---------------------------------------------------------------------------------

@dataclass
class Placement:
    """Where one tensor's elements are in the arena.

    ``offset`` is the byte offset of element [0, 0, ...]; ``strides`` are
    NumPy byte strides (C-contiguous unless the tensor is a slice of a
    concatenation's output). ``root`` is the planner buffer holding it.
    """

    tensor: int
    nbytes: int
    offset: int
    strides: tuple
    root: int
    view_of: int | None = None  # concatenation output this tensor is a slice of
    inplace_of: int | None = None  # tensor whose bytes this one reuses in place
    overlaps: int | None = None  # input this output may partly overwrite


@dataclass
class Lifetime:
    first: int  # allocation scope: 0 = graph start, operator i = i + 1
    last: int

    @property
    def first_op(self) -> int:
        return max(self.first - 1, 0)

    @property
    def last_op(self) -> int:
        return max(self.last - 1, 0)


@dataclass
class Scratch:
    """A kernel's scratch buffer in TFLite Micro's arena (not a tensor)."""

    op: int
    nbytes: int
    offset: int
    lifetime: Lifetime


@dataclass
class MemoryPlan:
    model: object
    planner: str
    shapes: list
    lifetimes: dict  # tensor index -> Lifetime, for every planned tensor
    placements: dict  # tensor index -> Placement
    buffers: list  # planner buffers: BufferRequest, one per root
    buffer_offsets: list
    arena_size: int
    skip_ops: set = field(default_factory=set)  # operators that need not run (no-op copies)
    notes: list = field(default_factory=list)
    scratch: list = field(default_factory=list)  # Scratch buffers (TFLite Micro's kernels)

    @property
    def tensors(self) -> list:
        return sorted(self.placements)


def tensor_nbytes(model, index: int, shapes=None) -> int:
    t = model.tensors[index]
    shape = shapes[index] if shapes is not None else t.shape
    if t.dtype is None:
        raise ModelError(
            f"{model.source}: {model.tensor_label(index)} has type {t.type_name}, whose "
            f"size in bytes is not fixed: it cannot be planned"
        )
    return math.prod(shape) * t.dtype.itemsize


def needs_allocating(model, index: int, shapes=None) -> bool:
    """TFLite Micro plans a tensor when it has no constant data, is not a
    variable (variables live in the persistent area) and is not empty."""
    t = model.tensors[index]
    if t.is_constant or t.is_variable:
        return False
    shape = shapes[index] if shapes is not None else t.shape
    if math.prod(shape) == 0:
        return False
    return True


def tflm_lifetimes(model, shapes=None) -> dict:
    """Lifetimes of the planned tensors by TFLite Micro's rules
    (``AllocationInfoBuilder::MarkAllocationLifetimes``, main subgraph):

    * graph inputs and graph outputs are created at scope 0;
    * operator i is scope i + 1; its outputs are (re)created there, then
      every input and output gets its last use there;
    * at the end every graph output gets last use at the final scope.

    A tensor that is never created or used keeps the lifetime [-1, -1]
    (TFLite Micro's uninitialised marker) and is still planned.
    """
    n = len(model.tensors)
    first = [-1] * n
    last = [-1] * n

    def created(i, scope):
        first[i] = scope
        last[i] = scope

    scope = 0
    for i in model.inputs:
        created(i, scope)
    for i in model.outputs:
        created(i, scope)
    for op in model.operators:
        scope += 1
        for i in op.outputs:
            created(i, scope)
        for i in op.inputs:
            if i >= 0:
                last[i] = scope
        for i in op.outputs:
            last[i] = scope
    for i in model.outputs:
        last[i] = scope
    return {
        i: Lifetime(first[i], last[i])
        for i in range(n) if needs_allocating(model, i, shapes)
    }


def tflm_scratch_requests(model, shapes=None) -> list:
    """The scratch buffers TFLite Micro's reference kernels request in the
    arena (``RequestScratchBufferInArena`` during Prepare), as
    ``(operator index, bytes)`` in request order. TFLite Micro plans them
    with the tensors (after them), each live during its operator only.

    Known requests (tensorflow/lite/micro/kernels/reduce_common.cc, as the
    installed tflite-micro measures): MEAN and SUM ask for one int32 per
    output element when the input is int8 or int16, then one int per input
    dimension, then one int per axis element; REDUCE_MAX and REDUCE_MIN ask
    for one int per input dimension and one per axis element. The kernels
    of the other operators int8sqz runs ask for none.
    """
    shapes = shapes if shapes is not None else [t.shape for t in model.tensors]
    requests = []
    for op in model.operators:
        if len(op.inputs) < 2 or op.inputs[0] < 0 or op.inputs[1] < 0 or not op.outputs:
            continue
        src = model.tensors[op.inputs[0]]
        rank = len(shapes[op.inputs[0]])
        naxis = math.prod(shapes[op.inputs[1]])
        if op.name in ("MEAN", "SUM"):
            if src.type_name in ("INT8", "INT16"):
                requests.append((op.index, math.prod(shapes[op.outputs[0]]) * 4))
            requests.append((op.index, 4 * rank))
            requests.append((op.index, 4 * naxis))
        elif op.name in ("REDUCE_MAX", "REDUCE_MIN"):
            requests.append((op.index, 4 * rank))
            requests.append((op.index, 4 * naxis))
    return requests


def _c_strides(shape, itemsize) -> tuple:
    strides, acc = [], itemsize
    for d in reversed(shape):
        strides.append(acc)
        acc *= max(int(d), 1)
    return tuple(reversed(strides))


def plan_model(model, planner: str = "tflm", shapes=None) -> MemoryPlan:
    """Plan every activation of ``model`` (main subgraph) with ``planner``.

    ``tflm`` is TFLite Micro's plan, to the byte. ``optimized`` shares bytes
    between tensors where a kernel's order of reads and writes makes it safe
    (see :func:`aliasing`), and is never larger than ``tflm``.
    """
    if planner not in PLANNERS:
        raise ValueError(f"unknown planner {planner!r}; expected one of {', '.join(PLANNERS)}")
    shapes = list(shapes) if shapes is not None else [t.shape for t in model.tensors]
    lifetimes = tflm_lifetimes(model, shapes)
    nbytes = {i: tensor_nbytes(model, i, shapes) for i in lifetimes}
    notes = []
    if model.num_subgraphs > 1:
        notes.append(
            f"the model has {model.num_subgraphs} subgraphs; only the main subgraph is planned"
        )
    tflm = _plan_tflm(model, shapes, lifetimes, nbytes, notes)
    if planner == "tflm":
        return tflm
    opt = _plan_optimized(model, shapes, lifetimes, nbytes, notes)
    if opt.arena_size > tflm.arena_size:
        tflm.planner = "optimized"
        tflm.notes = notes + ["no sharing beyond TFLite Micro's plan made the arena smaller"]
        return tflm
    return opt


def _plan_tflm(model, shapes, lifetimes, nbytes, notes) -> MemoryPlan:
    g = GreedyPlanner()
    order = sorted(lifetimes)  # TFLite Micro adds the tensors by index, then the scratch buffers
    for i in order:
        lt = lifetimes[i]
        g.add_buffer(align_up(nbytes[i]), lt.first, lt.last)
    requests = tflm_scratch_requests(model, shapes)
    for op_index, size in requests:
        g.add_buffer(align_up(size), op_index + 1, op_index + 1)
    offsets = g.offsets
    placements = {}
    for k, i in enumerate(order):
        t = model.tensors[i]
        strides = _c_strides(shapes[i], t.dtype.itemsize)
        placements[i] = Placement(i, nbytes[i], offsets[k], strides, k)
    scratch = [
        Scratch(op_index, size, offsets[len(order) + k], Lifetime(op_index + 1, op_index + 1))
        for k, (op_index, size) in enumerate(requests)
    ]
    return MemoryPlan(model, "tflm", shapes, lifetimes, placements, list(g.buffers),
                      offsets, g.arena_size, set(), list(notes), scratch)


# ---------------------------------------------------------------------------------
# Aliasing rules of the optimized planner
# ---------------------------------------------------------------------------------

#: producers whose kernels write their output through 4-D indexing, so the
#: output may be a strided slice of a concatenation's buffer: kernels/conv.py
#: ("either may be a strided view (both are indexed 4-D, never reshaped)")
#: and kernels/pool.py ("x and out may be strided views; both are indexed
#: 4-D, never reshaped").
STRIDED_OUTPUT_PRODUCERS = ("CONV_2D", "MAX_POOL_2D", "AVERAGE_POOL_2D")

#: operators that may run in place (output at its input's offset):
#: kernels/elementwise.py and kernels/quantize.py compute each output element
#: from the input elements at the same position only, reading them before
#: writing it, so an output sharing the input's bytes gets the same values.
INPLACE_OPERATORS = ("MUL", "ADD", "SUB", "QUANTIZE")


def _consumers(model) -> dict:
    uses: dict[int, list] = {}
    for op in model.operators:
        for k, i in enumerate(op.inputs):
            if i >= 0:
                uses.setdefault(i, []).append((op.index, k))
    return uses


def _is_activation(model, i, lifetimes) -> bool:
    return i >= 0 and i in lifetimes


def concat_views(model, shapes, lifetimes) -> dict:
    """Concatenation without copies: {input tensor: (concat op, output tensor,
    start index along the axis)}.

    Rule (CONCATENATION): an input may be a slice of the output buffer when
    the concatenation is its only use (nothing else reads it, it is not a
    graph input or output and it appears once among the inputs), its
    producer is in :data:`STRIDED_OUTPUT_PRODUCERS` (the kernel writes the
    strided slice in place of a contiguous array), and it has the output's
    type and quantization: the concatenation would copy every element onto
    itself, so it need not run when all its inputs are such slices. (An
    input with another scale is not aliased: kernels/concat.py,
    rescale_uint8, "the rescaling cannot run in place".)
    """
    uses = _consumers(model)
    producer = {}
    for op in model.operators:
        for i in op.outputs:
            producer[i] = op
    graph_io = set(model.inputs) | set(model.outputs)
    views = {}
    for op in model.operators:
        if op.name != "CONCATENATION" or len(op.outputs) != 1:
            continue
        out = op.outputs[0]
        if not _is_activation(model, out, lifetimes):
            continue
        rank = len(shapes[out])
        axis = op.options.get("axis", 0)
        if rank == 0:
            continue
        axis = axis + rank if axis < 0 else axis
        if not 0 <= axis < rank:
            continue
        start = 0
        ins = [i for i in op.inputs if i >= 0]
        for i in ins:
            ok = (
                _is_activation(model, i, lifetimes)
                and i not in graph_io
                and ins.count(i) == 1
                and len(uses.get(i, ())) == 1
                and i in producer
                and producer[i].name in STRIDED_OUTPUT_PRODUCERS
                and len(producer[i].outputs) == 1
                and model.tensors[i].dtype == model.tensors[out].dtype
                and _same_quantization(model.tensors[i].quantization,
                                       model.tensors[out].quantization)
                and len(shapes[i]) == rank
                and all(shapes[i][d] == shapes[out][d] for d in range(rank) if d != axis)
            )
            if ok:
                views[i] = (op.index, out, start)
            start += shapes[i][axis] if len(shapes[i]) == rank else 0
        if start != shapes[out][axis]:  # inconsistent shapes: alias nothing here
            for i in ins:
                views.pop(i, None)
    return views


def inplace_pairs(model, shapes, lifetimes, excluded) -> dict:
    """In-place elementwise operators: {output tensor: input tensor}.

    Rule (MUL, ADD, SUB: kernels/elementwise.py; QUANTIZE between types of
    the same size: kernels/quantize.py): the output may take the input's
    bytes when the input has the output's shape and element size (the other
    operand, e.g. a broadcast per-channel constant, is read at its own
    place), this operator is the input's last use and reads it only once,
    and the input is not a graph output. Each output element depends only on
    the input element at the same position, which the kernel reads before it
    writes the output element: whatever order the elements are visited in,
    no element is overwritten before it is read.
    """
    pairs = {}
    outs = set(model.outputs)
    for op in model.operators:
        if op.name not in INPLACE_OPERATORS or len(op.outputs) != 1:
            continue
        out = op.outputs[0]
        if not _is_activation(model, out, lifetimes) or out in excluded:
            continue
        ot = model.tensors[out]
        t_op = op.index + 1
        for i in op.inputs:
            if not _is_activation(model, i, lifetimes) or i in excluded:
                continue
            it = model.tensors[i]
            if (tuple(shapes[i]) == tuple(shapes[out])
                    and it.dtype.itemsize == ot.dtype.itemsize
                    and lifetimes[i].last == t_op
                    and list(op.inputs).count(i) == 1
                    and i not in outs):
                pairs[out] = i
                break
    return pairs


def _same_padding(in_size, filt, stride, dilation):
    eff = (filt - 1) * dilation + 1
    out = (in_size + stride - 1) // stride
    total = max((out - 1) * stride + eff - in_size, 0)
    return total // 2


#: operators whose output may overlap their spent input, with the kernel
#: whose order of reads and writes the rule depends on, and whether that
#: kernel reads every input row an output row needs before it writes any
#: element of that row (then the row may overwrite its own input rows)
ROW_ORDER_KERNELS = {
    # kernels/conv.py, conv_2d: "outputs are produced in row-major order
    # (batch, then output row y, then x); for each output row, every input
    # row that row needs is read (gathered into cols) before any element of
    # output row y is written, and nothing outside output row y is written
    # while it is produced"
    "CONV_2D": ("kernels/conv.py", True),
    # kernels/pool.py, max_pool_2d and average_pool_2d: "outputs are
    # produced in row-major order (batch, then output row y, then x); every
    # input row that output row y needs is read before any element of output
    # row y is written, and nothing outside output row y is written while it
    # is produced" (the row is accumulated in a scratch row first)
    "MAX_POOL_2D": ("kernels/pool.py", True),
    "AVERAGE_POOL_2D": ("kernels/pool.py", True),
}


def overlap_shift(model, op, shapes):
    """How far an operator's output may reach into its spent input.

    Returns ``D``: the output may start anywhere at or below ``input offset
    + D`` (a negative ``D``: the output must start ``-D`` bytes below the
    input; ``math.inf``: anywhere), or None when the operator has no rule.

    Rule (:data:`ROW_ORDER_KERNELS`): the kernel produces the output rows in
    row-major order (batch, row) and finishes a row before it starts the
    next. Output row r therefore must not overwrite an input row that a
    later row reads (and, unless the kernel reads all of row r's input
    before writing row r, none that row r reads itself). An output row y
    reads the input rows ``stride * y - pad_top + k * dilation`` that fall
    inside the image; later batches read only their own, higher, rows.
    ``D`` is the minimum over output rows r of (the lowest input byte that a
    protected row reads) - (the end of output row r), both relative to the
    tensors' starts.
    """
    rule = ROW_ORDER_KERNELS.get(op.name)
    if rule is None or len(op.inputs) < 1 or len(op.outputs) != 1:
        return None
    own_rows_first = rule[1]
    src, dst = op.inputs[0], op.outputs[0]
    if src < 0:
        return None
    ish, osh = shapes[src], shapes[dst]
    if len(ish) != 4 or len(osh) != 4 or ish[0] != osh[0]:
        return None
    it, ot = model.tensors[src], model.tensors[dst]
    if it.dtype is None or ot.dtype is None:
        return None
    n, ih, iw, ic = ish
    _, oh, ow, oc = osh
    sh = int(op.options.get("stride_h", 1))
    if op.name == "CONV_2D":
        if len(op.inputs) < 2 or op.inputs[1] < 0 or len(shapes[op.inputs[1]]) != 4:
            return None
        fh = int(shapes[op.inputs[1]][1])
        dh = int(op.options.get("dilation_hfactor", 1))
    else:
        fh = int(op.options.get("filter_height", 1))
        dh = 1
    if sh < 1 or dh < 1 or fh < 1 or n == 0 or oh == 0 or ow == 0 or oc == 0:
        return None
    pad_top = _same_padding(ih, fh, sh, dh) if op.options.get("padding") == "SAME" else 0
    in_row = iw * ic * it.dtype.itemsize
    out_row = ow * oc * ot.dtype.itemsize

    def first_read(y):  # the lowest input row output row y reads (taps in the image)
        for k in range(fh):
            r = y * sh - pad_top + k * dh
            if 0 <= r < ih:
                return r
        return None

    first = [first_read(y) for y in range(oh)]
    # needed[r]: the lowest input row (all batches counted) read by output rows >= r
    rows = n * oh
    needed = [math.inf] * (rows + 1)
    for r in range(rows - 1, -1, -1):
        b, y = divmod(r, oh)
        own = math.inf if first[y] is None else b * ih + first[y]
        needed[r] = min(needed[r + 1], own)
    d = math.inf
    for r in range(rows):
        protected = needed[r + 1] if own_rows_first else needed[r]
        if protected != math.inf:
            d = min(d, protected * in_row - (r + 1) * out_row)
    return d


def _plan_optimized(model, shapes, lifetimes, nbytes, notes) -> MemoryPlan:
    views = concat_views(model, shapes, lifetimes)
    view_roots = {out for (_, out, _) in views.values()}
    # a concatenation's output may itself be consumed in place or overlapped;
    # its slices may not (their producers write strided views)
    pairs = inplace_pairs(model, shapes, lifetimes, excluded=set(views))

    # union the tensors into roots: in-place pairs share a root at offset 0,
    # concatenation slices sit inside their output's root
    parent = {i: i for i in lifetimes}

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for out, i in pairs.items():
        parent[find(out)] = find(i)
    for i, (_, out, _) in views.items():
        parent[find(i)] = find(out)
    groups: dict[int, list] = {}
    for i in lifetimes:
        groups.setdefault(find(i), []).append(i)

    planner = OverlapPlanner()
    root_id = {}
    for r in sorted(groups):
        members = groups[r]
        size = max(align_up(nbytes[i]) for i in members)
        first = min(lifetimes[i].first for i in members)
        last = max(lifetimes[i].last for i in members)
        root_id[r] = planner.add_buffer(size, first, last)

    overlaps = {}
    for op in model.operators:
        d = overlap_shift(model, op, shapes)
        if d is None:
            continue
        src, dst = op.inputs[0], op.outputs[0]
        if not (_is_activation(model, src, lifetimes) and _is_activation(model, dst, lifetimes)):
            continue
        if src in views or dst in views or src in model.outputs:
            continue
        rs, rd = find(src), find(dst)
        if rs == rd:
            continue
        t_op = op.index + 1
        # the input's root must die here and the output's root be born here,
        # so that they meet at this operator only
        bs, bd = planner.buffers[root_id[rs]], planner.buffers[root_id[rd]]
        if bs.last_use != t_op or bd.first_use != t_op:
            continue
        if list(op.inputs).count(src) != 1:
            continue
        planner.allow_overlap(root_id[rs], root_id[rd], None, d)
        overlaps[dst] = src

    offsets = planner.offsets
    placements = {}
    for r, members in groups.items():
        base = offsets[root_id[r]]
        for i in members:
            t = model.tensors[i]
            if i in views:
                _, out, start = views[i]
                op = model.operators[views[i][0]]
                rank = len(shapes[out])
                axis = op.options.get("axis", 0)
                axis = axis + rank if axis < 0 else axis
                ostr = _c_strides(shapes[out], t.dtype.itemsize)
                placements[i] = Placement(i, nbytes[i], base + start * ostr[axis], ostr,
                                          root_id[r], view_of=out)
            else:
                placements[i] = Placement(i, nbytes[i], base,
                                          _c_strides(shapes[i], t.dtype.itemsize), root_id[r],
                                          inplace_of=pairs.get(i), overlaps=overlaps.get(i))
    for dst, src in overlaps.items():  # keep the note only where the bytes do meet
        a, b = placements[src], placements[dst]
        if not (a.offset < b.offset + b.nbytes and b.offset < a.offset + a.nbytes):
            b.overlaps = None
    skip = set()
    for op in model.operators:
        if op.name == "CONCATENATION" and op.outputs and op.outputs[0] in view_roots:
            out = op.outputs[0]
            ins = [i for i in op.inputs if i >= 0]
            qo = model.tensors[out].quantization
            if op.options.get("fused_activation_function", "NONE") == "NONE" and all(
                    i in views for i in ins) and all(
                    _same_quantization(model.tensors[i].quantization, qo) for i in ins):
                skip.add(op.index)
    return MemoryPlan(model, "optimized", shapes, lifetimes, placements, list(planner.buffers),
                      offsets, planner.arena_size, skip, list(notes))


def _same_quantization(a, b) -> bool:
    return (a.scales.tobytes() == b.scales.tobytes()
            and a.zero_points.tobytes() == b.zero_points.tobytes())
