"""Placing the activations in one preallocated byte array.

``Interpreter(..., arena="tflm" | "optimized")`` calls :func:`place_activations`:
it plans the model (:func:`int8sqz.planner.plan_model`), checks the plan
against the tensors' lifetimes (:func:`validate_plan`) and makes every
planned tensor a NumPy view of one ``uint8`` arena at its planned offset
(with its planned strides: a slice of a concatenation's output is a
strided view into that output). The operators then run unchanged, so a
wrong plan shows as wrong results: the execution proves the plan.

The check is independent of how the planner chose the offsets: for every
two tensors that are live at the same operator and share any byte, it asks
the model (not the plan's own annotations) whether the sharing facts of the
operators' units (int8sqz.ops, applied as in int8sqz.planner.sharing) allow
exactly that sharing; if not, the plan is refused before anything runs.

With an arena, intermediate tensors are overwritten once their bytes are
reused, and an input consumed in place no longer holds its value after
``invoke()``; graph outputs are kept to the end.
"""

from __future__ import annotations

import math

import numpy as np

from . import ops
from .errors import InternalError
from .ops.unit import band_rows
from .planner import (
    MemoryPlan, c_strides, lifetimes_overlap, overlap_shift, plan_model, same_quantization,
    tensor_nbytes, tflm_lifetimes,
)


class PlanError(InternalError):
    """A memory plan would let a tensor overwrite another that is still needed."""


# ---------------------------------------------------------------------------------
# Byte sets
# ---------------------------------------------------------------------------------

def _extent(pl, shape, itemsize):
    """(lowest byte, one past the highest byte) a placement touches."""
    if math.prod(shape) == 0:
        return pl.offset, pl.offset
    lo = pl.offset + sum((d - 1) * s for d, s in zip(shape, pl.strides) if s < 0)
    hi = pl.offset + sum((d - 1) * s for d, s in zip(shape, pl.strides) if s > 0) + itemsize
    return lo, hi


def _mask_view(mask, pl, shape, itemsize) -> np.ndarray:
    """The bytes of ``mask`` (one bool per arena byte) that a placement touches."""
    return np.ndarray(tuple(shape) + (itemsize,), np.bool_, buffer=mask, offset=pl.offset,
                      strides=tuple(pl.strides) + (1,))


def _strides_disjoint(pl, shape, itemsize) -> bool:
    """A sufficient condition for no two elements to share a byte: taken by
    increasing stride, each stride steps over everything the smaller ones
    span (true for C order and for slices of it)."""
    dims = sorted((abs(s), d) for s, d in zip(pl.strides, shape) if d > 1)
    span = itemsize
    for s, d in dims:
        if s < span:
            return False
        span = s * (d - 1) + span
    return True


def _is_c_contiguous(pl, shape, itemsize) -> bool:
    return tuple(pl.strides) == c_strides(shape, itemsize)


# ---------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------

def validate_plan(plan: MemoryPlan, lifetimes=None, frozen=frozenset()) -> None:
    """Raise :class:`PlanError` unless ``plan`` is safe to run.

    Checks: every tensor that needs memory has a placement of the right
    size inside the arena; no tensor's elements overlap each other; and two
    tensors live at the same time share bytes only as an aliasing rule
    allows (a concatenation slice at its exact place in the output; an
    elementwise output exactly on its input; a convolution or pool output
    reaching no further into its input than the kernel's order allows).
    Operators the plan skips must be concatenations whose inputs all are
    such slices, with the output's quantization.

    ``lifetimes`` (default: TFLite Micro's, from the model) are the tensors
    that need memory and when; no rule lets tensors share bytes at an
    operator in ``frozen`` (the streamed ones).
    """
    model, shapes = plan.model, plan.shapes
    lifetimes = lifetimes if lifetimes is not None else tflm_lifetimes(model, shapes)
    items = {}
    for i, lt in lifetimes.items():
        label = model.tensor_label(i)
        pl = plan.placements.get(i)
        if pl is None:
            raise PlanError(
                f"{model.source}: {label} needs memory but the plan has no place for it")
        t = model.tensors[i]
        itemsize = t.dtype.itemsize
        nbytes = tensor_nbytes(model, i, shapes)
        if pl.nbytes != nbytes:
            raise PlanError(f"{model.source}: {label} needs {nbytes} bytes, the plan gives "
                            f"{pl.nbytes}")
        if len(pl.strides) != len(shapes[i]):
            raise PlanError(f"{model.source}: {label} has {len(shapes[i])} dimensions, the plan "
                            f"gives {len(pl.strides)} strides")
        lo, hi = _extent(pl, shapes[i], itemsize)
        if lo < 0 or hi > plan.arena_size:
            raise PlanError(
                f"{model.source}: {label} occupies arena bytes {lo}..{hi}, outside the "
                f"arena of {plan.arena_size} bytes")
        if not _strides_disjoint(pl, shapes[i], itemsize):
            raise PlanError(f"{model.source}: {label}: its strides {pl.strides} make "
                            f"elements overlap each other")
        items[i] = (lt, pl, itemsize, lo, hi)

    mask = np.zeros(max(plan.arena_size, 1), np.bool_)

    def share_bytes(a, b):
        """Exact test, for strided placements whose ranges intersect."""
        mask[...] = False
        _mask_view(mask, items[a][1], shapes[a], items[a][2])[...] = True
        return bool(_mask_view(mask, items[b][1], shapes[b], items[b][2]).any())

    order = sorted(items, key=lambda i: items[i][3])
    for k, a in enumerate(order):
        lta, pla, isa, loa, hia = items[a]
        for b in order[k + 1:]:
            ltb, plb, isb, lob, hib = items[b]
            if lob >= hia:
                break  # sorted by start: no later tensor reaches back into a
            if hib <= loa or not lifetimes_overlap(lta.first, lta.last, ltb.first, ltb.last):
                continue
            if hia - loa == 0 or hib - lob == 0:
                continue
            both_contiguous = (_is_c_contiguous(pla, shapes[a], isa)
                               and _is_c_contiguous(plb, shapes[b], isb))
            if not both_contiguous and not share_bytes(a, b):
                continue
            reason = (allowed_sharing(plan, lifetimes, a, b, frozen)
                      or allowed_sharing(plan, lifetimes, b, a, frozen))
            if reason is None:
                la, lb = lta, ltb
                raise PlanError(
                    f"{model.source}: the plan puts {model.tensor_label(a)} (bytes "
                    f"{loa}..{hia}, operators {la.first_op}..{la.last_op}) and "
                    f"{model.tensor_label(b)} (bytes {lob}..{hib}, operators "
                    f"{lb.first_op}..{lb.last_op}) in shared bytes while both are live, "
                    f"and no aliasing rule allows it"
                )

    for k in sorted(plan.skip_ops):
        op = model.operators[k]
        ok = (ops.sharing(op).output_slices and len(op.outputs) == 1
              and op.options.get("fused_activation_function", "NONE") == "NONE")
        if ok:
            out = op.outputs[0]
            ins = [i for i in op.inputs if i >= 0]
            ok = out in items and all(
                i in items and _concat_slice_ok(plan, lifetimes, i, out, k)
                and same_quantization(model.tensors[i].quantization,
                                       model.tensors[out].quantization)
                for i in ins)
        if not ok:
            raise PlanError(f"{model.source}: the plan skips {op.describe()}, but its inputs "
                            f"are not all slices of its output with its quantization")


def allowed_sharing(plan, lifetimes, a: int, b: int, frozen=frozenset()) -> str | None:
    """The aliasing rule that lets ``b`` share bytes with ``a`` (a name), or
    None. Derived from the model and both placements only; operators in
    ``frozen`` give no rule."""
    model = plan.model
    la, lb = lifetimes[a], lifetimes[b]
    for op in model.operators:
        t = op.index + 1
        if b not in op.outputs or a not in op.inputs or op.index in frozen:
            continue
        if la.last != t or list(op.inputs).count(a) != 1 or a in model.outputs:
            continue
        if ops.sharing(op).output_slices and _concat_slice_ok(plan, lifetimes, a, b, op.index):
            return "concatenation slice"
        if lb.first != t:
            continue
        pa, pb = plan.placements[a], plan.placements[b]
        ta, tb = model.tensors[a], model.tensors[b]
        rule = ops.sharing(op)
        if rule.inplace:
            # Sharing.inplace: safe when the output has the input's shape and
            # layout (see planner.sharing.inplace_pairs)
            if (tuple(plan.shapes[a]) == tuple(plan.shapes[b])
                    and ta.dtype.itemsize == tb.dtype.itemsize
                    and pa.offset == pb.offset and tuple(pa.strides) == tuple(pb.strides)):
                return "in place"
        if rule.alias and op.inputs[0] == a:
            # Sharing.alias: the output is input 0's bytes, both contiguous
            if (pa.offset == pb.offset and pa.nbytes == pb.nbytes
                    and _is_c_contiguous(pa, plan.shapes[a], ta.dtype.itemsize)
                    and _is_c_contiguous(pb, plan.shapes[b], tb.dtype.itemsize)):
                return "alias"
        d = overlap_shift(model, op, plan.shapes)
        if d is not None and op.inputs[0] == a:
            # Sharing.rows: see planner.sharing.overlap_shift
            if (_is_c_contiguous(pa, plan.shapes[a], ta.dtype.itemsize)
                    and _is_c_contiguous(pb, plan.shapes[b], tb.dtype.itemsize)
                    and pb.offset - pa.offset <= d):
                return "output over spent input"
    return None


def _concat_slice_ok(plan, lifetimes, a, out, op_index) -> bool:
    """Is ``a`` placed exactly where the concatenation puts it in ``out``,
    written there by a producer that can write a strided slice?"""
    model = plan.model
    op = model.operators[op_index]
    if (not ops.sharing(op).output_slices or op.outputs != (out,)
            or list(op.inputs).count(a) != 1):
        return False
    if lifetimes[a].last != op_index + 1 or a in model.outputs or a in model.inputs:
        return False
    if model.tensors[a].dtype != model.tensors[out].dtype or not same_quantization(
            model.tensors[a].quantization, model.tensors[out].quantization):
        return False  # kernels/concat.py: a rescaling copy cannot run in place
    producers = [p for p in model.operators if a in p.outputs]
    if len(producers) != 1 or not ops.sharing(producers[0]).strided_output:
        return False
    if any(a in p.inputs for p in model.operators if p.index != op_index):
        return False
    shapes = plan.shapes
    rank = len(shapes[out])
    axis = op.options.get("axis", 0)
    axis = axis + rank if axis < 0 else axis
    if not 0 <= axis < rank:
        return False
    start = 0
    for i in op.inputs:
        if i == a:
            break
        start += shapes[i][axis]
    po, pa = plan.placements[out], plan.placements[a]
    isz = model.tensors[out].dtype.itemsize
    if not _is_c_contiguous(po, shapes[out], isz):
        return False
    return (pa.offset == po.offset + start * po.strides[axis]
            and tuple(pa.strides) == tuple(po.strides))


# ---------------------------------------------------------------------------------
# Streaming plans
# ---------------------------------------------------------------------------------

def validate_streaming_plan(plan) -> None:
    """Raise :class:`PlanError` unless a streaming plan
    (int8sqz.planner.streaming.StreamingPlan) is safe to run.

    Everything is derived again from the model and the stages' operator
    ranges and actions, not from the planner's own bookkeeping: which
    tensors each stage keeps whole and which only in bands, how long the
    whole ones live (a tensor a stage reads lives to its end, one it
    writes from its start); the whole tensors are then checked as by
    :func:`validate_plan` (no sharing rule at a streamed operator); each
    block must lie in the arena and share no byte with a whole tensor live
    during its stage; and each stage's steps are replayed: every band an
    action reads must be rows of its input that are valid in the band
    buffer at that moment (made earlier, neither slid out nor overwritten
    by any buffer sharing those bytes), every write must fit its buffer,
    and every whole output must be complete at the stage's end.
    """
    model, shapes = plan.model, plan.shapes
    lifetimes = tflm_lifetimes(model, shapes)
    stages = sorted(plan.stages, key=lambda s: s.first)
    if len(plan.block_offsets) != len(plan.stages):
        raise PlanError(f"{model.source}: {len(plan.stages)} stages but "
                        f"{len(plan.block_offsets)} block offsets")
    blocks = dict(zip((id(s) for s in plan.stages), plan.block_offsets))
    readers = {}
    for op in model.operators:
        for i in op.inputs:
            if i >= 0:
                readers.setdefault(i, set()).add(op.index)
    classes = []
    end = -1
    for s in stages:
        if not (end < s.first < s.last < len(model.operators)):
            raise PlanError(f"{model.source}: stage of operators {s.first}..{s.last} overlaps "
                            f"another or lies outside the model")
        end = s.last
        written = {model.operators[j].outputs[0] for j in s.ops}
        internal = {t for t in written if t in lifetimes and t not in model.outputs
                    and readers.get(t, set()) <= set(s.ops)}
        if internal != set(s.buffers):
            raise PlanError(f"{model.source}: stage {s.first}..{s.last} keeps tensors "
                            f"{sorted(s.buffers)} in bands, but {sorted(internal)} are made "
                            f"and read inside it only")
        classes.append((s, internal, written))
    for s, internal, written in classes:
        for t in internal:
            lifetimes.pop(t, None)
    for s, internal, written in classes:
        lo, hi = s.first + 1, s.last + 1
        read = {i for j in s.ops for i in model.operators[j].inputs if i >= 0}
        for t in (read | written) - internal:
            if t in lifetimes:
                lt = lifetimes[t]
                first = min(lt.first, lo) if t in written else lt.first
                lifetimes[t] = type(lt)(first, max(lt.last, hi))
    frozen = frozenset(j for s in stages for j in s.ops)
    validate_plan(plan, lifetimes, frozen)
    for s, internal, _ in classes:
        off = blocks[id(s)]
        lo, hi = s.first + 1, s.last + 1
        if off < 0 or off + s.block_size > plan.arena_size:
            raise PlanError(f"{model.source}: the block of stage {s.first}..{s.last} "
                            f"(bytes {off}..{off + s.block_size}) lies outside the arena")
        for i, lt in lifetimes.items():
            if not lifetimes_overlap(lt.first, lt.last, lo, hi):
                continue
            pl = plan.placements[i]
            a, b = _extent(pl, shapes[i], model.tensors[i].dtype.itemsize)
            if a < off + s.block_size and off < b and b > a:
                raise PlanError(
                    f"{model.source}: {model.tensor_label(i)} (bytes {a}..{b}) is live during "
                    f"stage {s.first}..{s.last} and shares bytes with its band buffers "
                    f"(bytes {off}..{off + s.block_size})")
        _replay_stage(model, shapes, s, internal)
    # TFLite Micro's kernel scratch: apart from everything live at its time
    regions = [(lt.first, lt.last,
                *_extent(plan.placements[i], shapes[i], model.tensors[i].dtype.itemsize),
                model.tensor_label(i)) for i, lt in lifetimes.items()]
    regions += [(*s.scopes, off, off + s.block_size,
                 f"the band buffers of stage {s.first}..{s.last}")
                for s, off in zip(plan.stages, plan.block_offsets)]
    for k, sc in enumerate(plan.scratch):
        lo, hi = sc.offset, sc.offset + sc.nbytes
        if lo < 0 or hi > plan.arena_size:
            raise PlanError(f"{model.source}: scratch of operator {sc.op} lies outside the arena")
        others = regions + [(o.lifetime.first, o.lifetime.last, o.offset, o.offset + o.nbytes,
                             f"scratch of operator {o.op}") for o in plan.scratch[k + 1:]]
        for first, last, a, b, what in others:
            if (lifetimes_overlap(first, last, sc.lifetime.first, sc.lifetime.last)
                    and a < hi and lo < b and b > a and hi > lo):
                raise PlanError(f"{model.source}: scratch of operator {sc.op} (bytes {lo}..{hi})"
                                f" shares bytes with {what} while both are live")


def _replay_stage(model, shapes, stage, internal) -> None:
    """Run a stage's actions on row bookkeeping only (see
    :func:`validate_streaming_plan`)."""
    where = f"{model.source}: stage {stage.first}..{stage.last}"
    bufs = stage.buffers
    for t, b in bufs.items():
        if b.offset < 0 or b.offset + b.nbytes > stage.block_size or b.rows < 1:
            raise PlanError(f"{where}: the band buffer of {model.tensor_label(t)} lies outside "
                            f"its block")
        if b.row_bytes != shapes[t][2] * shapes[t][3] * model.tensors[t].dtype.itemsize:
            raise PlanError(f"{where}: the band buffer of {model.tensor_label(t)} has rows of "
                            f"the wrong size")
    sharing = {t: [u for u, c in bufs.items() if u != t and b.offset < c.offset + c.nbytes
                   and c.offset < b.offset + b.nbytes] for t, b in bufs.items()}
    origin = dict.fromkeys(bufs, 0)
    valid = {t: (0, 0) for t in bufs}  # image rows held, [lo, hi)
    written = {}
    in_stage = set(stage.ops)
    for j in stage.ops:
        t = model.operators[j].outputs[0]
        if t not in internal:
            written[t] = np.zeros(shapes[t][1], np.bool_)

    def clobber(t, row_lo, row_hi):
        """Buffer t's rows row_lo..row_hi - 1 (buffer rows) are written:
        the rows other buffers held in those bytes are gone (what stays
        valid is the part of their rows above the lost ones, else below)."""
        b = bufs[t]
        lo, hi = b.offset + row_lo * b.row_bytes, b.offset + row_hi * b.row_bytes
        for u in sharing[t]:
            c = bufs[u]
            v = valid[u]
            if not (c.offset < hi and lo < c.offset + c.nbytes and v[0] < v[1]):
                continue
            lost_lo = origin[u] + max(lo - c.offset, 0) // c.row_bytes
            lost_hi = origin[u] + -(-(min(hi, c.offset + c.nbytes) - c.offset) // c.row_bytes)
            if lost_hi <= v[0] or v[1] <= lost_lo:
                continue
            if lost_hi < v[1]:
                valid[u] = (lost_hi, v[1])
            elif v[0] < lost_lo:
                valid[u] = (v[0], lost_lo)
            else:
                valid[u] = (0, 0)

    for k, acts in enumerate(stage.steps):
        for a in acts:
            if a.op not in in_stage:
                raise PlanError(f"{where}: step {k} runs operator {a.op}, outside the stage")
            op = model.operators[a.op]
            out = op.outputs[0]
            h_out = shapes[out][1]
            if not 0 <= a.first < a.last <= h_out:
                raise PlanError(f"{where}: step {k}: {op.describe()} makes rows "
                                f"{a.first}..{a.last - 1} of {h_out}")
            windows = ops.REGISTRY[op.name].bands.windows(op, model, shapes)
            for i, w in zip(op.inputs, windows):
                if i < 0 or (i not in bufs and i not in written):
                    continue  # a constant or a whole input made before the stage
                lo, hi = ((0, shapes[i][1]) if w is None
                          else band_rows(w, shapes[i][1], a.first, a.last))
                if lo >= hi:
                    continue
                if i in bufs:
                    v = valid[i]
                    if a.origins.get(i) != origin[i] or not (v[0] <= lo and hi <= v[1]):
                        raise PlanError(
                            f"{where}: step {k}: {op.describe()} reads rows {lo}..{hi - 1} "
                            f"of {model.tensor_label(i)}, but its band buffer holds rows "
                            f"{v[0]}..{v[1] - 1} then")
                elif not written[i][lo:hi].all():
                    raise PlanError(f"{where}: step {k}: {op.describe()} reads rows "
                                    f"{lo}..{hi - 1} of {model.tensor_label(i)} before they "
                                    f"are made")
            if out in bufs:
                b = bufs[out]
                new = a.origins.get(out)
                if new is None:
                    raise PlanError(f"{where}: step {k}: no origin for the band of "
                                    f"{model.tensor_label(out)}")
                v = valid[out]
                if a.move is not None:
                    count, src = a.move
                    if (count < 1 or src < 1 or src + count > b.rows
                            or new != origin[out] + src
                            or not (v[0] <= new and new + count <= v[1])):
                        raise PlanError(f"{where}: step {k}: the slide of "
                                        f"{model.tensor_label(out)} moves rows it does not hold")
                    clobber(out, 0, count)
                    v = (new, new + count)
                elif new != origin[out]:
                    v = (0, 0)  # a new origin and nothing kept
                origin[out] = new
                if not (new <= a.first and a.last - new <= b.rows):
                    raise PlanError(f"{where}: step {k}: rows {a.first}..{a.last - 1} of "
                                    f"{model.tensor_label(out)} do not fit its band buffer "
                                    f"(rows {new}..{new + b.rows - 1})")
                clobber(out, a.first - new, a.last - new)
                if v[0] < v[1] and v[0] <= a.first <= v[1]:
                    valid[out] = (v[0], max(v[1], a.last))
                else:
                    valid[out] = (a.first, a.last)
            else:
                written[out][a.first:a.last] = True
    for t, w in written.items():
        if not w.all():
            raise PlanError(f"{where}: the rows {np.flatnonzero(~w).tolist()[:8]} of "
                            f"{model.tensor_label(t)} are never made")


# ---------------------------------------------------------------------------------
# Placement
# ---------------------------------------------------------------------------------

def arena_arrays(plan: MemoryPlan):
    """The arena (``uint8``) and a dict: tensor index -> its array (a view of
    the arena at the planned offset and strides)."""
    model = plan.model
    arena = np.zeros(max(plan.arena_size, 1), np.uint8)
    arrays = {}
    for i, pl in plan.placements.items():
        t = model.tensors[i]
        arrays[i] = np.ndarray(tuple(plan.shapes[i]), t.dtype, buffer=arena,
                               offset=pl.offset, strides=tuple(pl.strides))
    return arena, arrays


def place_activations(model, shapes, planner, arrays: list):
    """Plan (``planner`` a planner's name, or a plan made for this model),
    check, and fill ``arrays`` (indexed by tensor) with arena views for
    every planned tensor. Returns ``(plan, arena)``; ``plan.skip_ops``
    lists the operators that need not run (copy-free concatenations); a
    streaming plan's stages run by int8sqz.streaming."""
    if isinstance(planner, str):
        plan = plan_model(model, planner, shapes)
    else:
        plan = planner
        if plan.model.content != model.content or [tuple(s) for s in plan.shapes] != [
                tuple(s) for s in shapes]:
            raise PlanError(f"{model.source}: the plan was made for another model or for "
                            f"other shapes")
    if hasattr(plan, "stages"):  # a streaming plan, with stages or none
        validate_streaming_plan(plan)
    else:
        validate_plan(plan)
    arena, views = arena_arrays(plan)
    for i, a in views.items():
        arrays[i] = a
    return plan, arena
