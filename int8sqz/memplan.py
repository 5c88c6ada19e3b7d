"""``int8sqz memplan``: how much RAM and flash a model needs.

Reports, for one planner: the activation arena (bytes and KiB), the weights
flash (bytes of the constant buffers), the multiply-accumulates of every
operator, every planned tensor (bytes, first and last operator, offset),
and the live bytes at every operator with the peak. ``--json`` prints the
same as one object; ``--svg FILE`` draws the arena over time
(:mod:`int8sqz.memplan_svg`).

Plans TFLite Micro runs itself (``--planner tflm-optimized``, and
``--planner tflm`` with ``--write-plan`` or on a model that carries an
offline plan) are reported as TFLite Micro will run them: operators in the
plan's order, every tensor at the offset TFLite Micro will use, and the
whole arena it needs (``kTensorArenaSize``: the plan plus its persistent
structures, int8sqz.planner.tflm_arena) on this host and, as an estimate,
on a 32-bit microcontroller. ``--write-plan OUT`` writes the model with the
plan in its ``OfflineMemoryAllocation`` metadata (int8sqz.offline_plan).

Planning reads the model with :func:`int8sqz.model.load_model` only, never
the interpreter, so it works on models whose operators int8sqz cannot run.

``add_arguments(parser)`` and ``run(args)`` are the CLI's entry points;
``python -m int8sqz.memplan MODEL`` runs it on its own.
"""

from __future__ import annotations

import argparse
import math
import sys

import numpy as np

from . import ops
from .constants import EXIT_BAD_INPUT, EXIT_OK
from .errors import Int8sqzError, InternalError, UnsupportedError
from .files import STDIN, display, emit, emit_json, one_line, path_fields, write_bytes, write_text
from .memplan_svg import format_svg
from .model import load_model
from .planner import PLANNERS, MemoryPlan, plan_model

PLANNER_HELP = {
    "tflm": "TFLite Micro's greedy memory planner, to the byte",
    "optimized": "shares bytes where the kernels' read/write order allows "
                 "(copy-free concatenation, in-place elementwise operators, "
                 "convolution and pool outputs over their spent input)",
    "tflm-optimized": "a smaller plan TFLite Micro itself runs once written into the "
                      "model (--write-plan): outputs over spent inputs as far as TFLite "
                      "Micro's reference kernels read and write, operators reordered "
                      "where that lowers the peak",
    "streaming": "the optimized plan, with stages of operators run a band of "
                 "output rows at a time so that their inner tensors never exist whole "
                 "(int8sqz runs it: Interpreter(arena='streaming'))",
}
#: the planners whose plan TFLite Micro runs: TFLite Micro's own, made
#: explicit, and tflm-optimized (--write-plan writes either into the model)
TFLM_PLANNERS = ("tflm", "tflm-optimized")
#: every planner memplan offers: int8sqz.planner's, then tflm-optimized
MEMPLAN_PLANNERS = tuple(PLANNERS) + tuple(p for p in TFLM_PLANNERS if p not in PLANNERS)
#: what a plan TFLite Micro runs is proven for
PROVEN_OVERLAP = ("TFLite Micro's reference kernels (the tflite_micro package's): tensors "
                  "overlap as far as their order of reads and writes allows; not proven for "
                  "CMSIS-NN or other optimized kernels")
PROVEN_ANY = "any kernels: no tensors overlap (only the operator order and the offsets change)"
PROVEN_NOT = "nothing: tensors live at the same time overlap where no rule allows it"


# ---------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------

def operator_macs(model, op, shapes=None) -> int:
    """Multiply-accumulates of one operator, as its unit counts them
    (int8sqz.ops; int8sqz.ops.foreign for operators int8sqz does not run):
    0 for operators whose integer core is not a multiply-accumulate."""
    return ops.macs(op, shapes if shapes is not None else [t.shape for t in model.tensors])


#: arenas up to this size get their live bytes counted byte by byte
_MASK_LIMIT = 1 << 28


def live_bytes(plan: MemoryPlan) -> list:
    """Bytes of the arena in use at each operator: the union of the bytes of
    the tensors live there (shared bytes count once).

    Beyond ``_MASK_LIMIT`` (only models with absurd declared shapes get there)
    the union is taken over each tensor's extent, first to last byte, so as
    not to allocate a mask as large as the arena; that is exact for every
    tensor but the strided slices of a copy-free concatenation."""
    if plan.arena_size > _MASK_LIMIT:
        return _live_extents(plan)
    model = plan.model
    size = plan.arena_size
    result = []
    for op in model.operators:
        t = op.index + 1
        mask = np.zeros(size, np.bool_)
        for i, pl in plan.placements.items():
            lt = plan.lifetimes[i]
            if lt.first <= t <= lt.last:
                _mark(mask, pl, plan.shapes[i], model.tensors[i].dtype.itemsize)
        for sc in plan.scratch:
            if sc.lifetime.first <= t <= sc.lifetime.last:
                mask[sc.offset:sc.offset + sc.nbytes] = True
        for lo, hi, off, nbytes in _blocks(plan):
            if lo <= t <= hi:
                mask[off:off + nbytes] = True
        result.append(int(mask.sum()))
    return result


def _blocks(plan) -> list:
    """A streaming plan's blocks of band buffers: (first scope, last scope,
    offset, bytes)."""
    return [(*s.scopes, off, s.block_size)
            for s, off in zip(getattr(plan, "stages", ()), getattr(plan, "block_offsets", ()))]


def _live_extents(plan: MemoryPlan) -> list:
    model = plan.model
    result = []
    for op in model.operators:
        t = op.index + 1
        spans = []
        for i, pl in plan.placements.items():
            lt = plan.lifetimes[i]
            if lt.first <= t <= lt.last:
                extent = _extent(pl, plan.shapes[i], model.tensors[i].dtype.itemsize)
                spans.append((pl.offset, pl.offset + extent))
        for sc in plan.scratch:
            if sc.lifetime.first <= t <= sc.lifetime.last:
                spans.append((sc.offset, sc.offset + sc.nbytes))
        spans += [(off, off + n) for lo, hi, off, n in _blocks(plan) if lo <= t <= hi]
        total, reach = 0, None
        for lo, hi in sorted(s for s in spans if s[1] > s[0]):
            if reach is None or lo >= reach:
                total += hi - lo
                reach = hi
            elif hi > reach:
                total += hi - reach
                reach = hi
        result.append(total)
    return result


def _mark(mask, pl, shape, itemsize):
    view = np.ndarray(tuple(shape) + (itemsize,), np.bool_, buffer=mask, offset=pl.offset,
                      strides=tuple(pl.strides) + (1,))
    view[...] = True


def report(model, planner: str = "tflm", *, no_overlap: bool = False,
           write_plan: bool = False, max_extra_macs: float | None = None) -> dict:
    """Everything ``memplan`` prints, as one JSON-ready dict. A plan TFLite
    Micro runs (see the module docstring) also gets a ``tflm`` entry
    (:func:`tflm_report`); a streaming plan a ``streaming`` entry
    (int8sqz.memplan_streaming; ``max_extra_macs``: its budget, a
    fraction)."""
    return report_and_plan(model, planner, no_overlap=no_overlap, write_plan=write_plan,
                           max_extra_macs=max_extra_macs)[0]


def report_and_plan(model, planner: str = "tflm", *, no_overlap: bool = False,
                    write_plan: bool = False, max_extra_macs: float | None = None):
    """(:func:`report`, the plan TFLite Micro runs (a
    int8sqz.planner.tflm_optimized.TflmPlan, for ``--write-plan``) or None)."""
    if planner not in MEMPLAN_PLANNERS:
        raise ValueError(f"unknown planner {planner!r}; expected one of "
                         f"{', '.join(MEMPLAN_PLANNERS)}")
    problem = option_problem(planner, no_overlap, write_plan, max_extra_macs is not None)
    if problem:
        raise ValueError(problem)
    if planner == "streaming":
        from .planner.streaming import DEFAULT_MAX_EXTRA_MACS, plan_streaming

        budget = DEFAULT_MAX_EXTRA_MACS if max_extra_macs is None else max_extra_macs
        return plan_report(plan_streaming(model, None, budget)), None
    carried = None
    if planner == "tflm":
        from .planner.tflm_optimized import carried_plan

        carried = carried_plan(model)
    if planner == "tflm-optimized" or write_plan or carried is not None:
        return tflm_report(model, planner, no_overlap, carried)
    return plan_report(plan_model(model, planner)), None


def option_problem(planner: str, no_overlap: bool, write_plan: bool,
                   max_extra_macs: bool = False) -> str | None:
    """Why these options do not go together, or None."""
    if max_extra_macs and planner != "streaming":
        return (f"--max-extra-macs is an option of --planner streaming, not of "
                f"--planner {planner}")
    if no_overlap and planner != "tflm-optimized":
        return "--no-overlap applies to --planner tflm-optimized only"
    if write_plan and planner not in TFLM_PLANNERS:
        return (f"--write-plan needs --planner tflm or tflm-optimized: the {planner!r} plan "
                f"relies on int8sqz's own kernels (copy-free concatenation, their order of "
                f"reads and writes), which TFLite Micro does not run")
    return None


def plan_report(plan: MemoryPlan) -> dict:
    """The report of one MemoryPlan (of ``plan.model``: for a plan TFLite
    Micro runs, the model with its operators in the plan's order)."""
    model = plan.model
    live = live_bytes(plan)
    macs = [operator_macs(model, op) for op in model.operators]
    peak = int(np.argmax(live)) if live else None
    tensors = []
    for i in plan.tensors:
        pl, lt, t = plan.placements[i], plan.lifetimes[i], model.tensors[i]
        row = {
            "index": i, "name": t.name, "shape": list(plan.shapes[i]), "type": t.type_name,
            "bytes": pl.nbytes, "first_op": lt.first_op, "last_op": lt.last_op,
            "offset": pl.offset, "end": pl.offset + _extent(pl, plan.shapes[i], t.dtype.itemsize),
        }
        if i in model.inputs:
            row["graph_input"] = True
        if i in model.outputs:
            row["graph_output"] = True
        if pl.view_of is not None:
            row["slice_of"] = pl.view_of
            row["strides"] = list(pl.strides)
        if pl.inplace_of is not None:
            row["in_place_of"] = pl.inplace_of
        if pl.overlaps is not None:
            row["overlaps_input"] = pl.overlaps
        tensors.append(row)
    scratch = [
        {"operator": sc.op, "name": f"scratch of operator {sc.op} "
                                    f"({model.operators[sc.op].name})",
         "bytes": sc.nbytes, "first_op": sc.lifetime.first_op, "last_op": sc.lifetime.last_op,
         "offset": sc.offset, "end": sc.offset + sc.nbytes}
        for sc in plan.scratch
    ]
    ops = []
    for op, m, lv in zip(model.operators, macs, live):
        row = {"index": op.index, "name": op.name, "macs": m, "live_bytes": lv,
               "inputs": [i for i in op.inputs if i >= 0], "outputs": list(op.outputs)}
        if op.index in plan.skip_ops:
            row["no_copy"] = True
        ops.append(row)
    rep = {
        "model": model.source,
        "planner": plan.planner,
        "arena_bytes": plan.arena_size,
        "arena_kib": round(plan.arena_size / 1024, 2),
        "weights_bytes": model.buffer_bytes,
        "weights_kib": round(model.buffer_bytes / 1024, 2),
        "macs_total": int(sum(macs)),
        "peak": None if peak is None else {
            "operator": peak, "name": model.operators[peak].name, "live_bytes": live[peak],
        },
        "operators": ops,
        "tensors": tensors,
        "scratch": scratch,
        "notes": list(plan.notes),
    }
    if hasattr(plan, "stages"):  # a streaming plan
        from .memplan_streaming import section

        rep["streaming"] = section(plan, live)
    return rep


def tflm_report(model, planner: str, no_overlap: bool, carried=None):
    """The report of a plan TFLite Micro runs, and the plan: :func:`plan_report`
    of it as TFLite Micro will run it, with ``tflm``: the head TFLite Micro
    will report, its own greedy head, the whole arena it needs (this host;
    a 32-bit estimate), what the plan is proven for, the operator order and
    the sharing it uses."""
    from .planner.tflm_arena import HOST, MCU32, tflm_arena
    from .planner.tflm_optimized import (
        greedy_plan, memory_plan, plan_problems, plan_tflm_optimized,
    )

    notes, problems = [], []
    if carried is not None:
        tp = carried
        notes.append("the model carries an offline plan (OfflineMemoryAllocation metadata): "
                     "TFLite Micro uses its offsets")

    elif planner == "tflm-optimized":
        tp = plan_tflm_optimized(model, no_overlap=no_overlap)
    else:
        tp = greedy_plan(model)
    mplan = memory_plan(tp, planner, notes)
    if carried is not None:  # someone else's plan: check it (TFLite Micro does not)
        problems = plan_problems(model, {i: pl.offset for i, pl in mplan.placements.items()})
        mplan.notes += [f"unsafe: {p} (no rule of TFLite Micro's reference kernels allows "
                        f"it)" for p in problems[:5]]
    rep = plan_report(mplan)
    for row, original in zip(rep["operators"], tp.order):
        row["original_index"] = original
    arenas = {}
    for key, build in (("host", HOST), ("mcu32", MCU32)):
        try:
            arenas[key] = tflm_arena(mplan.model, tp.head, build)
        except UnsupportedError as exc:
            arenas[key] = None
            if key == "host":
                rep["notes"].append(str(exc))
    host, mcu = arenas["host"], arenas["mcu32"]
    rep["tflm"] = {
        "head": tp.head,
        "greedy_head": tp.greedy_head,
        "arena_size": None if host is None else host.arena_size,
        "tail": None if host is None else host.tail,
        "arena_size_decided_by": None if host is None else host.decided_by,
        "arena_size_32bit_estimate": None if mcu is None else mcu.arena_size,
        "tail_32bit_estimate": None if mcu is None else mcu.tail,
        "proven_for": (PROVEN_NOT if problems else PROVEN_OVERLAP if tp.shared
                       else PROVEN_ANY),
        "no_overlap": bool(no_overlap),
        "order": list(tp.order),
        "reordered": tp.reordered,
        "sharing": [{"operator": tp.order.index(r.op), "original_operator": r.op,
                     "input": r.input, "output": r.output, "rule": r.rule}
                    for r in tp.shared],
    }
    return rep, tp


def _extent(pl, shape, itemsize) -> int:
    if math.prod(shape) == 0:
        return 0
    return sum((d - 1) * s for d, s in zip(shape, pl.strides)) + itemsize


# ---------------------------------------------------------------------------------
# Text
# ---------------------------------------------------------------------------------

def _kib(n) -> str:
    return f"{n / 1024:,.2f} KiB"


def format_text(rep: dict) -> str:
    lines = [
        f"model:           {rep['model']}",
        f"planner:         {rep['planner']} ({PLANNER_HELP[rep['planner']]})",
        f"activation RAM:  {rep['arena_bytes']:,} bytes = {_kib(rep['arena_bytes'])}",
    ]
    t = rep.get("tflm")
    if t is not None:
        lines[-1] += (f" (the arena head TFLite Micro reports; its own plan: "
                      f"{t['greedy_head']:,} bytes)")
        if t["arena_size"] is not None:
            lines.append(
                f"TFLite Micro:    kTensorArenaSize {t['arena_size']:,} bytes on this 64-bit "
                f"host (head {t['head']:,} + persistent tail {t['tail']:,}; decided by "
                f"{t['arena_size_decided_by']}); a 32-bit microcontroller needs about "
                f"{t['arena_size_32bit_estimate']:,} (an estimate)")
        lines.append(f"proven for:      {t['proven_for']}")
        if t["reordered"]:
            lines.append("order:           operators reordered; 'was' gives each one's index "
                         "in the original model")
        if rep.get("written"):
            lines.append(f"written:         {rep['written']} (the plan in its "
                         f"OfflineMemoryAllocation metadata)")
    lines += [
        f"weights flash:   {rep['weights_bytes']:,} bytes = {_kib(rep['weights_bytes'])}",
        f"MACs:            {rep['macs_total']:,}",
    ]
    pk = rep["peak"]
    if pk is not None:
        lines.append(
            f"peak:            operator {pk['operator']} ({pk['name']}), "
            f"{pk['live_bytes']:,} bytes live"
        )
    for note in rep["notes"]:
        lines.append(f"note:            {note}")
    if "streaming" in rep:
        from .memplan_streaming import format_section

        lines += format_section(rep)
    lines += ["", "operators (live = bytes of the arena in use while the operator runs)"]
    lines.append(f"{'op':>4}  {'operator':<18} {'MACs':>14}  {'live bytes':>11}")
    for o in rep["operators"]:
        mark = "  <- peak" if pk is not None and o["index"] == pk["operator"] else ""
        extra = "  (no copy)" if o.get("no_copy") else ""
        if t is not None and t["reordered"]:
            extra += f"  (was {o['original_index']})"
        lines.append(f"{o['index']:>4}  {o['name']:<18} {o['macs']:>14,}  "
                     f"{o['live_bytes']:>11,}{mark}{extra}")
    lines.append(f"{'':>4}  {'total':<18} {rep['macs_total']:>14,}")
    lines += ["", "tensors (first/last: operators; offset: bytes into the arena)"]
    lines.append(f"{'tensor':>6}  {'bytes':>9}  {'first':>5}  {'last':>4}  {'offset':>9}  name")
    for t in rep["tensors"]:
        how = []
        if t.get("graph_input"):
            how.append("graph input")
        if t.get("graph_output"):
            how.append("graph output")
        if "slice_of" in t:
            how.append(f"slice of tensor {t['slice_of']}")
        if "in_place_of" in t:
            how.append(f"in place of tensor {t['in_place_of']}")
        if "overlaps_input" in t:
            how.append(f"overlaps spent input {t['overlaps_input']}")
        suffix = f"  [{', '.join(how)}]" if how else ""
        lines.append(f"{t['index']:>6}  {t['bytes']:>9,}  {t['first_op']:>5}  {t['last_op']:>4}  "
                     f"{t['offset']:>9,}  {one_line(t['name'])}{suffix}")
    for sc in rep.get("scratch", ()):
        lines.append(f"{'-':>6}  {sc['bytes']:>9,}  {sc['first_op']:>5}  {sc['last_op']:>4}  "
                     f"{sc['offset']:>9,}  {sc['name']}  [kernel scratch, TFLite Micro]")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL", help="a .tflite file (- : standard input)")
    parser.add_argument("--planner", choices=MEMPLAN_PLANNERS, default="tflm",
                        help="; ".join(f"{name}: {PLANNER_HELP[name]}"
                                       for name in MEMPLAN_PLANNERS) + " (default: tflm)")
    parser.add_argument("--no-overlap", action="store_true",
                        help="with --planner tflm-optimized: no tensors overlap, only the "
                        "operator order and the packing change (safe with any kernels, "
                        "CMSIS-NN's too)")
    parser.add_argument("--write-plan", metavar="OUT",
                        help="with --planner tflm or tflm-optimized: write the model with the "
                        "plan in its OfflineMemoryAllocation metadata (and the chosen operator "
                        "order) to OUT; TFLite Micro then uses it")
    parser.add_argument("--max-extra-macs", metavar="PERCENT", type=_percent, default=None,
                        help="with --planner streaming: the most multiply-accumulates the "
                        "stages may add by recomputing halos, in percent of the model's "
                        "(default 10; 0: every halo kept, none recomputed)")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object instead of text")
    parser.add_argument("--svg", metavar="FILE",
                        help="also draw the arena over time into FILE")


def _percent(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (0 <= value <= 1e6):
        raise argparse.ArgumentTypeError(f"{text} is not a percentage >= 0")
    return value


#: exit statuses, as the ``int8sqz`` command uses them


def _fail(message: str) -> int:
    print(f"int8sqz: error: {' '.join(str(message).split())}", file=sys.stderr, flush=True)
    return EXIT_BAD_INPUT


def run(args) -> int:
    """Plan and print; 0 on success, 2 when the model (or the SVG file) is
    unusable. Bugs (InternalError) propagate to the caller. ``-`` as the
    model reads it from standard input; the model's name is printed (and
    drawn) escaped as int8sqz.files escapes names, and ``--json`` adds
    ``model_hex`` (the exact name's bytes) when it had to be escaped."""
    source = STDIN if args.model == "-" else args.model
    write_plan = getattr(args, "write_plan", None)
    no_overlap = getattr(args, "no_overlap", False)
    budget = getattr(args, "max_extra_macs", None)
    problem = option_problem(args.planner, no_overlap, bool(write_plan), budget is not None)
    if problem:
        return _fail(problem)
    try:
        model = load_model(source)
        rep, tp = report_and_plan(model, args.planner, no_overlap=no_overlap,
                                  write_plan=bool(write_plan),
                                  max_extra_macs=None if budget is None else budget / 100)
        content = None
        if write_plan:
            from .offline_plan import write_offline_plan

            content = write_offline_plan(model.content, tp.offsets,
                                         order=tp.order if tp.reordered else None,
                                         label=model.source)
    except InternalError:
        raise
    except Int8sqzError as exc:
        return _fail(str(exc))
    rep.update(path_fields("model", source))
    if content is not None:
        try:
            write_bytes(write_plan, content, error=Int8sqzError, what="a model file")
        except Int8sqzError as exc:
            return _fail(str(exc))
        rep["written"] = display(write_plan)
    if args.svg:
        svg = format_svg(rep)  # complete before the file is opened
        try:
            write_text(args.svg, svg, error=Int8sqzError, what="an SVG file")
        except Int8sqzError as exc:
            return _fail(str(exc))
    if args.json:
        emit_json(rep, indent=1)
    else:
        emit(format_text(rep))
    return EXIT_OK


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="int8sqz memplan", description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
