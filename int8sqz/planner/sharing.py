"""The ``optimized`` plan: tensors share bytes where the kernels' order of
reads and writes makes it safe. Each operator's unit states how its kernel
allows sharing (``OperatorUnit.sharing``, int8sqz.ops.unit.Sharing, with the
rule in full next to the kernel); this module applies those facts to a graph:
which tensors alias which, and how far an output may reach into its spent
input. int8sqz.arena checks every plan against the same facts before it
runs.
"""

from __future__ import annotations

import math

from .. import ops
from .plan import MemoryPlan, Placement, c_strides
from .planners import OverlapPlanner, align_up


def _consumers(model) -> dict:
    uses: dict[int, list] = {}
    for op in model.operators:
        for k, i in enumerate(op.inputs):
            if i >= 0:
                uses.setdefault(i, []).append((op.index, k))
    return uses


def _is_activation(model, i, lifetimes) -> bool:
    return i >= 0 and i in lifetimes


def concat_views(model, shapes, lifetimes, frozen=frozenset()) -> dict:
    """Concatenation without copies: {input tensor: (concat op, output tensor,
    start index along the axis)}.

    Rule (``Sharing.output_slices``: CONCATENATION): an input may be a slice
    of the output buffer when the concatenation is its only use (nothing
    else reads it, it is not a graph input or output and it appears once
    among the inputs), its producer's kernel writes its output through its
    strides (``Sharing.strided_output``: it writes the strided slice in place
    of a contiguous array), and it has the output's
    type and quantization: the concatenation would copy every element onto
    itself, so it need not run when all its inputs are such slices. (An
    input with another scale is not aliased: kernels/concat.py,
    rescale_uint8, "the rescaling cannot run in place".) A concatenation
    in ``frozen`` (streamed in bands) takes no slices; a streamed producer
    may write its slice (its band kernel writes through the same strides).
    """
    uses = _consumers(model)
    producer = {}
    for op in model.operators:
        for i in op.outputs:
            producer[i] = op
    graph_io = set(model.inputs) | set(model.outputs)
    views = {}
    for op in model.operators:
        if not ops.sharing(op).output_slices or len(op.outputs) != 1 or op.index in frozen:
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
                and ops.sharing(producer[i]).strided_output
                and len(producer[i].outputs) == 1
                and model.tensors[i].dtype == model.tensors[out].dtype
                and same_quantization(model.tensors[i].quantization,
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


def inplace_pairs(model, shapes, lifetimes, excluded, frozen=frozenset()) -> dict:
    """In-place operators: {output tensor: input tensor}.

    Rule (``Sharing.inplace``: elementwise kernels such as
    kernels/elementwise.py and kernels/quantize.py): the output may take the
    input's bytes when the input has the output's shape and element size (the
    other operand, e.g. a broadcast per-channel constant, is read at its own
    place), this operator is the input's last use and reads it only once,
    and the input is not a graph output. Each output element depends only on
    the input element at the same position, which the kernel reads before it
    writes the output element: whatever order the elements are visited in,
    no element is overwritten before it is read.

    Rule (``Sharing.alias``: RESHAPE and its kin): the output may take the
    bytes of input 0 when they have the same size, on the same conditions:
    the output's bytes are the input's bytes, so the copy has nothing to do.
    """
    pairs = {}
    outs = set(model.outputs)
    for op in model.operators:
        rule = ops.sharing(op)
        if not (rule.inplace or rule.alias) or len(op.outputs) != 1 or op.index in frozen:
            continue
        out = op.outputs[0]
        if not _is_activation(model, out, lifetimes) or out in excluded:
            continue
        ot = model.tensors[out]
        t_op = op.index + 1
        for i in (op.inputs if rule.inplace else op.inputs[:1]):
            if not _is_activation(model, i, lifetimes) or i in excluded:
                continue
            it = model.tensors[i]
            if rule.inplace:
                fits = (tuple(shapes[i]) == tuple(shapes[out])
                        and it.dtype.itemsize == ot.dtype.itemsize)
            else:
                fits = (math.prod(shapes[i]) * it.dtype.itemsize
                        == math.prod(shapes[out]) * ot.dtype.itemsize)
            if (fits and lifetimes[i].last == t_op and list(op.inputs).count(i) == 1
                    and i not in outs):
                pairs[out] = i
                break
    return pairs


def overlap_shift(model, op, shapes):
    """How far an operator's output may reach into its spent input.

    Returns ``D``: the output may start anywhere at or below ``input offset
    + D`` (a negative ``D``: the output must start ``-D`` bytes below the
    input; ``math.inf``: anywhere), or None when the operator has no rule.

    Rule (``Sharing.rows``, int8sqz.ops.unit): the kernel produces the
    output rows in row-major order (batch, row) and finishes a row before it
    starts the next. Output row r therefore must not overwrite an input row that a
    later row reads (and, unless the kernel reads all of row r's input
    before writing row r, none that row r reads itself). An output row y
    reads the input rows ``stride * y - pad_top + k * dilation`` that fall
    inside the image; later batches read only their own, higher, rows.
    ``D`` is the minimum over output rows r of (the lowest input byte that a
    protected row reads) - (the end of output row r), both relative to the
    tensors' starts.
    """
    rule = ops.sharing(op)
    if rule.rows is None or len(op.inputs) < 1 or len(op.outputs) != 1:
        return None
    own_rows_first = rule.rows_read_first
    src, dst = op.inputs[0], op.outputs[0]
    if src < 0:
        return None
    ish, osh = shapes[src], shapes[dst]
    if len(ish) != 4 or len(osh) != 4 or ish[0] != osh[0]:
        return None
    it, ot = model.tensors[src], model.tensors[dst]
    if it.dtype is None or ot.dtype is None:
        return None
    window = rule.rows(op, shapes)
    if window is None:
        return None
    n, ih, iw, ic = ish
    _, oh, ow, oc = osh
    fh, sh, dh, pad_top = window.filter_height, window.stride, window.dilation, window.pad_top
    if sh < 1 or dh < 1 or fh < 1 or n == 0 or oh == 0 or ow == 0 or oc == 0:
        return None
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


def plan_optimized(model, shapes, lifetimes, nbytes, notes, frozen=frozenset(),
                   extra=()) -> MemoryPlan:
    """The optimized plan of the tensors in ``lifetimes``. ``frozen``:
    operators whose tensors share no bytes by the rules here (the streaming
    plan runs them in bands); ``extra``: more buffers ``(size, first, last)``
    to place (the streaming plan's band buffers), their offsets in the
    plan's ``extra_offsets``."""
    views = concat_views(model, shapes, lifetimes, frozen)
    view_roots = {out for (_, out, _) in views.values()}
    # a concatenation's output may itself be consumed in place or overlapped;
    # its slices may not (their producers write strided views)
    pairs = inplace_pairs(model, shapes, lifetimes, excluded=set(views), frozen=frozen)

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
    extra_ids = [planner.add_buffer(size, first, last) for size, first, last in extra]

    overlaps = {}
    for op in model.operators:
        if op.index in frozen:
            continue
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
                ostr = c_strides(shapes[out], t.dtype.itemsize)
                placements[i] = Placement(i, nbytes[i], base + start * ostr[axis], ostr,
                                          root_id[r], view_of=out)
            else:
                placements[i] = Placement(i, nbytes[i], base,
                                          c_strides(shapes[i], t.dtype.itemsize), root_id[r],
                                          inplace_of=pairs.get(i), overlaps=overlaps.get(i))
    for dst, src in overlaps.items():  # keep the note only where the bytes do meet
        a, b = placements[src], placements[dst]
        if not (a.offset < b.offset + b.nbytes and b.offset < a.offset + a.nbytes):
            b.overlaps = None
    skip = set()
    for op in model.operators:
        if ops.sharing(op).output_slices and op.outputs and op.outputs[0] in view_roots:
            out = op.outputs[0]
            ins = [i for i in op.inputs if i >= 0]
            qo = model.tensors[out].quantization
            if op.options.get("fused_activation_function", "NONE") == "NONE" and all(
                    i in views for i in ins) and all(
                    same_quantization(model.tensors[i].quantization, qo) for i in ins):
                skip.add(op.index)
    plan = MemoryPlan(model, "optimized", shapes, lifetimes, placements, list(planner.buffers),
                      offsets, planner.arena_size, skip, list(notes))
    plan.extra_offsets = [offsets[b] for b in extra_ids]
    return plan


def same_quantization(a, b) -> bool:
    return (a.scales.tobytes() == b.scales.tobytes()
            and a.zero_points.tobytes() == b.zero_points.tobytes())
