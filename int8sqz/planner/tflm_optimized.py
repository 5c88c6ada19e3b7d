"""``tflm-optimized``: memory plans that TFLite Micro itself runs.

A plan here is plain data: an operator order (a permutation of the main
subgraph's operators) and an arena offset for every tensor TFLite Micro
plans. :func:`int8sqz.offline_plan.write_offline_plan` writes it into the
model; TFLite Micro then uses those offsets and plans only its kernels'
scratch buffers itself, around them (:func:`tflm_head` predicts where).

Sharing rules. TFLite Micro runs an operator's kernel with the input and
output at their planned addresses. An output may share bytes with an input
that dies at that operator when every byte the kernel writes lies below
every byte of that input it reads afterwards. For each kernel that is a
bound ``D`` on ``offset(output) - offset(input)``, computed from the order
in which the kernel reads and writes (:func:`access_trace`: one event per
output element or copied block, the lowest input byte it reads and the
end of the bytes it writes; :func:`trace_bound`). The traces follow TFLite
Micro's reference kernels (tensorflow/lite/micro/kernels/*.cc and the
TFLite reference functions they call, tensorflow/lite/kernels/internal/
reference/); docs/tflm_plan.md states each rule with its source and says
which also hold for CMSIS-NN's optimized kernels. A plan using them is
proven for the reference kernels (those of the ``tflite_micro`` Python
package). ``no_overlap=True`` drops them all: only operator order and
packing remain, which are safe with any kernels.

Time is counted in TFLite Micro's allocation scopes (0: graph start,
operator at position j of the order: j + 1), as int8sqz.planner does.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np

from .offline_plan import ONLINE, operator_order_problems
from .ops._window import padding_height_width
from .planner import (
    ALIGNMENT, OverlapPlanner, align_up, lifetimes_overlap, needs_allocating, plan_model,
    tensor_nbytes, tflm_lifetimes, tflm_scratch_requests,
)

_INF = math.inf


# ---------------------------------------------------------------------------------
# TFLite Micro's greedy planner with offline-planned buffers
# ---------------------------------------------------------------------------------

def tflm_greedy(requests, offline=None):
    """TFLite Micro's ``GreedyMemoryPlanner::CalculateOffsetsIfNeeded``.

    ``requests``: ``(size, first_use, last_use)`` in the order TFLite Micro
    adds them (planned tensors by index, then scratch buffers). ``offline``:
    per request an offset, or None (``kOnlinePlannedBuffer``). Returns
    ``(offsets, head)``; the head is ``GetMaximumMemorySize``: the highest
    end of any buffer.

    Offline buffers come first, in the order added, each at its offset;
    then the online ones, largest first (equal sizes: the one added later
    first), each at the first gap in the offset-ordered list of placed
    buffers that overlap it in time (int8sqz.planner.GreedyPlanner gives
    the same offsets when nothing is offline).
    """
    n = len(requests)
    offline = list(offline) if offline is not None else [None] * n
    fixed = [i for i in range(n) if offline[i] is not None]
    online = [i for i in range(n) if offline[i] is None][::-1]
    online.sort(key=lambda i: -requests[i][0])  # stable, as TFLite Micro's bubble sort
    offsets = [0] * n
    placed = []  # request ids by offset; a new one goes after those of equal offset
    for k, i in enumerate(fixed + online):
        size, first, last = requests[i]
        if offline[i] is not None:
            candidate = offline[i]
        else:
            candidate = 0
            if k > 0:
                for other in placed:
                    o_size, o_first, o_last = requests[other]
                    if not lifetimes_overlap(o_first, o_last, first, last):
                        continue
                    if offsets[other] - candidate >= size:
                        break
                    candidate = max(candidate, offsets[other] + o_size)
        offsets[i] = candidate
        pos = next((j for j, other in enumerate(placed) if offsets[other] > candidate),
                   len(placed))
        placed.insert(pos, i)
    head = max((offsets[i] + requests[i][0] for i in range(n)), default=0)
    return offsets, head


def reordered(model, order):
    """The model with its operators in ``order`` (renumbered 0..n-1 in that
    order), for the lifetime and scratch rules of int8sqz.planner."""
    ops = tuple(dataclasses.replace(model.operators[k], index=j) for j, k in enumerate(order))
    return dataclasses.replace(model, operators=ops)


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


def tflm_head(model, offsets=None, order=None) -> int:
    """The arena head TFLite Micro will report for ``model`` written with
    ``offsets`` (tensor index -> offset) and ``order``."""
    m = reordered(model, order) if order is not None else model
    requests, offline, _ = tflm_requests(m, offsets)
    return tflm_greedy(requests, offline)[1]


# ---------------------------------------------------------------------------------
# Kernel access traces
# ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Trace:
    """How a kernel reads one input and writes its output, event by event in
    execution order: ``read_min[t]`` the lowest byte of the input event t
    reads (relative to the input's start; inf: none), ``write_end[t]`` one
    past the highest byte it writes (relative to the output's start).
    ``reads_first``: an event reads all it reads before it writes (an
    element's arithmetic); otherwise its read and write are one ``memcpy``,
    whose source and destination must not overlap at all."""

    read_min: np.ndarray
    write_end: np.ndarray
    reads_first: bool
    rule: str


def trace_bound(trace: Trace) -> float:
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
    d = float(np.min(later - np.asarray(trace.write_end, np.float64)))
    return d


def _first_tap(out_n, stride, pad, filt, dilation, in_n):
    """For each output position along one axis, the first input position
    its window reads inside the image, or -1 when none is inside."""
    origin = np.arange(out_n) * stride - pad
    # the smallest tap k with origin + k * dilation >= 0
    k0 = np.where(origin >= 0, 0, (-origin + dilation - 1) // dilation)
    first = origin + k0 * dilation
    ok = (k0 < filt) & (first < in_n)
    return np.where(ok, first, -1)


def _itemsize(model, i):
    return model.tensors[i].dtype.itemsize


def _window_trace(model, op, shapes, channel_of_output, fh, fw, dh, dw, rule):
    src, dst = op.inputs[0], op.outputs[0]
    n, ih, iw, ic = shapes[src]
    _, oh, ow, oc = shapes[dst]
    sh, sw = int(op.options.get("stride_h", 1)), int(op.options.get("stride_w", 1))
    win = padding_height_width(sh, sw, dh, dw, ih, iw, fh, fw, op.options.get("padding"))
    if (win.out_height, win.out_width) != (oh, ow):
        return None
    ys = _first_tap(oh, sh, win.pad_height, fh, dh, ih)
    xs = _first_tap(ow, sw, win.pad_width, fw, dw, iw)
    b = np.arange(n).reshape(n, 1, 1, 1)
    y = ys.reshape(1, oh, 1, 1)
    x = xs.reshape(1, 1, ow, 1)
    c = channel_of_output(np.arange(oc)).reshape(1, 1, 1, oc)
    first = ((b * ih + y) * iw + x) * ic + c
    inside = (y >= 0) & (x >= 0)
    read = np.where(np.broadcast_to(inside, first.shape), first * _itemsize(model, src), _INF)
    write = (np.arange(n * oh * ow * oc) + 1) * _itemsize(model, dst)
    return Trace(read.reshape(-1).astype(np.float64), write, True, rule)


def _conv_trace(model, op, k, shapes):
    # CONV_2D (micro/kernels/conv.cc -> reference_integer_ops::ConvPerChannel):
    # for batch, out_y, out_x, out_channel: read the window (rows and columns
    # inside the image, the channels of the output channel's group), then
    # write that one output element.
    if k != 0 or len(op.inputs) < 2 or model.tensors[op.inputs[0]].type_name not in ("INT8", "INT16"):
        return None
    f = shapes[op.inputs[1]]
    ic, oc = shapes[op.inputs[0]][3], shapes[op.outputs[0]][3]
    if len(f) != 4 or f[3] <= 0 or ic % f[3] or oc % (ic // f[3]):
        return None
    per_group = oc // (ic // f[3])
    return _window_trace(model, op, shapes, lambda c: (c // per_group) * f[3], f[1], f[2],
                         int(op.options.get("dilation_hfactor", 1)),
                         int(op.options.get("dilation_wfactor", 1)),
                         "CONV_2D: window read, then one output element written")


def _depthwise_trace(model, op, k, shapes):
    # DEPTHWISE_CONV_2D (micro/kernels/depthwise_conv.cc ->
    # reference_integer_ops::DepthwiseConvPerChannel): for batch, out_y,
    # out_x, in_channel, m: read the window of in_channel, write output
    # channel in_channel * multiplier + m.
    if k != 0 or len(op.inputs) < 2 or model.tensors[op.inputs[0]].type_name not in ("INT8", "INT16"):
        return None
    f = shapes[op.inputs[1]]
    ic, oc = shapes[op.inputs[0]][3], shapes[op.outputs[0]][3]
    if len(f) != 4 or ic <= 0 or oc % ic:
        return None
    mult = oc // ic
    return _window_trace(model, op, shapes, lambda c: c // mult, f[1], f[2],
                         int(op.options.get("dilation_hfactor", 1)),
                         int(op.options.get("dilation_wfactor", 1)),
                         "DEPTHWISE_CONV_2D: one channel's window read, then one element written")


def _pool_trace(model, op, k, shapes):
    # MAX_POOL_2D / AVERAGE_POOL_2D (micro/kernels/pooling_common.cc ->
    # reference_integer_ops::MaxPool / AveragePool): for batch, out_y, out_x,
    # channel: read the channel's window clipped to the image, write one
    # element.
    if k != 0 or model.tensors[op.inputs[0]].type_name not in ("INT8", "INT16"):
        return None
    return _window_trace(model, op, shapes, lambda c: c,
                         int(op.options.get("filter_height", 1)),
                         int(op.options.get("filter_width", 1)), 1, 1,
                         f"{op.name}: one channel's window read, then one element written")


def _elementwise_trace(model, op, k, shapes):
    # Element i of the input is read, then element i of the output written,
    # in increasing i: ADD and MUL int8 (reference_integer_ops::Add/Mul
    # ElementWise, and BroadcastBinaryOpSimple for the operand that has the
    # output's shape), QUANTIZE (reference_ops::AffineQuantize, Requantize),
    # DEQUANTIZE (reference_ops::Dequantize), LOGISTIC int8
    # (reference_integer_ops::Logistic), SOFTMAX int8 (reference_ops::
    # Softmax: each row is read twice before its first write, then element
    # c is read and written; the row's reads lie at or above its first
    # element, so the per-element trace covers them).
    src, dst = op.inputs[k], op.outputs[0]
    if tuple(shapes[src]) != tuple(shapes[dst]):
        return None
    if op.name in ("ADD", "MUL", "LOGISTIC", "SOFTMAX") and \
            model.tensors[src].type_name != "INT8":
        return None
    if op.name == "QUANTIZE" and model.tensors[dst].quantization.scales.size > 1 or \
            op.name == "DEQUANTIZE" and model.tensors[src].quantization.scales.size > 1:
        return None  # per-channel (de)quantization walks the tensor by channel
    if op.name in ("QUANTIZE", "DEQUANTIZE", "LOGISTIC", "SOFTMAX") and k != 0:
        return None
    count = math.prod(shapes[dst])
    i = np.arange(count, dtype=np.float64)
    return Trace(i * _itemsize(model, src), (i + 1) * _itemsize(model, dst), True,
                 f"{op.name}: element i read, then element i written")


def _concat_trace(model, op, k, shapes):
    # CONCATENATION (micro/kernels/concatenation.cc -> reference_ops::
    # Concatenation): for each outer index, for each input in order, one
    # memcpy of that input's block to the output's next bytes.
    dst = op.outputs[0]
    rank = len(shapes[dst])
    axis = int(op.options.get("axis", 0))
    axis = axis + rank if axis < 0 else axis
    ins = list(op.inputs)
    if not 0 <= axis < rank or any(len(shapes[i]) != rank for i in ins):
        return None
    outer = math.prod(shapes[dst][:axis])
    inner = math.prod(shapes[dst][axis + 1:])
    blocks = [shapes[i][axis] * inner for i in ins]
    size = _itemsize(model, dst)
    total = sum(blocks)
    if total != shapes[dst][axis] * inner or any(_itemsize(model, i) != size for i in ins):
        return None
    starts = np.cumsum([0] + blocks[:-1])
    o = np.arange(outer).reshape(outer, 1)
    write = ((o * total + starts + np.array(blocks)) * size).reshape(-1)
    read = np.full((outer, len(ins)), _INF)
    read[:, k] = (np.arange(outer) * blocks[k] * size)
    return Trace(read.reshape(-1), write, False,
                 "CONCATENATION: one memcpy per input block, inputs in order")


def _pad_trace(model, op, k, shapes):
    # PAD (micro/kernels/pad.cc -> reference_ops::Pad / PadImageStyle ->
    # PadImpl): the output is written element by element in order; an
    # element inside the input's region copies the input's next element.
    if k != 0 or len(op.inputs) < 2 or model.tensors[op.inputs[1]].data is None:
        return None
    src, dst = op.inputs[0], op.outputs[0]
    pads = np.asarray(model.tensors[op.inputs[1]].data).reshape(-1, 2)
    if len(pads) != len(shapes[src]) or np.any(pads < 0):
        return None
    inside = np.zeros(shapes[dst], bool)
    region = tuple(slice(int(a), int(a) + int(n)) for (a, _), n in zip(pads, shapes[src]))
    if tuple(int(n + a + b) for (a, b), n in zip(pads, shapes[src])) != tuple(shapes[dst]):
        return None
    inside[region] = True
    inside = inside.reshape(-1)
    k_in = np.cumsum(inside) - 1
    read = np.where(inside, k_in * _itemsize(model, src), _INF).astype(np.float64)
    write = (np.arange(inside.size) + 1) * _itemsize(model, dst)
    return Trace(read, write, True, "PAD: output in order, input elements copied in order")


def _transpose_trace(model, op, k, shapes):
    # TRANSPOSE (micro/kernels/transpose.cc -> reference_ops::Transpose ->
    # TransposeImpl): the output is written element by element in order,
    # each from the input element the permutation maps to it.
    if k != 0 or len(op.inputs) < 2 or model.tensors[op.inputs[1]].data is None:
        return None
    src, dst = op.inputs[0], op.outputs[0]
    perm = [int(p) for p in np.asarray(model.tensors[op.inputs[1]].data).reshape(-1)]
    if sorted(perm) != list(range(len(shapes[src]))):
        return None
    index = np.arange(math.prod(shapes[src])).reshape(shapes[src]).transpose(perm).reshape(-1)
    if index.size != math.prod(shapes[dst]):
        return None
    read = (index * _itemsize(model, src)).astype(np.float64)
    write = (np.arange(index.size) + 1) * _itemsize(model, dst)
    return Trace(read, write, True, "TRANSPOSE: output in order, input in permuted order")


def _fully_connected_trace(model, op, k, shapes):
    # FULLY_CONNECTED int8 (micro/kernels/fully_connected.cc ->
    # reference_integer_ops::FullyConnected[PerChannel]): for batch b, for
    # output channel: read the whole input row b, write one element.
    if k != 0 or len(op.inputs) < 2 or model.tensors[op.inputs[0]].type_name != "INT8":
        return None
    src, dst = op.inputs[0], op.outputs[0]
    depth = shapes[op.inputs[1]][-1]
    count = math.prod(shapes[src])
    out_depth = shapes[dst][-1] if shapes[dst] else 1
    if depth <= 0 or count % depth or math.prod(shapes[dst]) != (count // depth) * out_depth:
        return None
    batches = count // depth
    b = np.repeat(np.arange(batches), out_depth)
    read = (b * depth * _itemsize(model, src)).astype(np.float64)
    write = (np.arange(batches * out_depth) + 1) * _itemsize(model, dst)
    return Trace(read, write, True, "FULLY_CONNECTED: input row read, then one element written")


TRACES = {
    "CONV_2D": _conv_trace,
    "DEPTHWISE_CONV_2D": _depthwise_trace,
    "MAX_POOL_2D": _pool_trace,
    "AVERAGE_POOL_2D": _pool_trace,
    "ADD": _elementwise_trace,
    "MUL": _elementwise_trace,
    "QUANTIZE": _elementwise_trace,
    "DEQUANTIZE": _elementwise_trace,
    "LOGISTIC": _elementwise_trace,
    "SOFTMAX": _elementwise_trace,
    "CONCATENATION": _concat_trace,
    "PAD": _pad_trace,
    "TRANSPOSE": _transpose_trace,
    "FULLY_CONNECTED": _fully_connected_trace,
}

#: RESHAPE (micro/kernels/reshape.cc, EvalReshapeReference): copies with one
#: memcpy unless the output's data pointer is the input's, then does
#: nothing. So the output may sit exactly on the input (a memcpy between
#: partly overlapping buffers would be undefined): offset difference 0.
ALIAS_OPERATORS = ("RESHAPE",)


def access_trace(model, op, k, shapes=None):
    """The trace of ``op``'s kernel for its input number ``k``, or None
    when no rule is known for it."""
    shapes = shapes if shapes is not None else [t.shape for t in model.tensors]
    fn = TRACES.get(op.name)
    if fn is None or len(op.outputs) != 1 or not 0 <= k < len(op.inputs) or op.inputs[k] < 0:
        return None
    dst = op.outputs[0]
    if any(model.tensors[i].dtype is None for i in (op.inputs[k], dst)):
        return None
    if math.prod(shapes[dst]) == 0:
        return None
    if op.name in ("CONV_2D", "DEPTHWISE_CONV_2D", "MAX_POOL_2D", "AVERAGE_POOL_2D") and (
            len(shapes[op.inputs[0]]) != 4 or len(shapes[dst]) != 4
            or shapes[op.inputs[0]][0] != shapes[dst][0]):
        return None
    return fn(model, op, k, shapes)


@dataclass(frozen=True)
class Sharing:
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
        if op.name in ALIAS_OPERATORS and op.inputs and op.inputs[0] >= 0:
            src = op.inputs[0]
            if src in graph_outputs:
                continue
            if all(model.tensors[i].dtype is not None for i in (src, dst)) and \
                    tensor_nbytes(model, src, shapes) == tensor_nbytes(model, dst, shapes):
                rules.append(Sharing(op.index, src, dst, 0, 0,
                                     "RESHAPE: no copy when output and input coincide"))
            continue
        for k, src in enumerate(op.inputs):
            # a graph output is read after the last operator: never overwritten
            if src < 0 or list(op.inputs).count(src) != 1 or src in graph_outputs:
                continue
            trace = access_trace(model, op, k, shapes)
            if trace is None:
                continue
            d = trace_bound(trace)
            hi = d if d == _INF else (int(d) // ALIGNMENT) * ALIGNMENT
            rules.append(Sharing(op.index, src, dst, -_INF, hi, trace.rule))
    return rules


def applicable(rule: Sharing, lifetimes: dict, position: dict) -> bool:
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
    shared: list = field(default_factory=list)  # Sharing rules whose bytes do meet
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
        from .errors import UnsupportedError
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
