"""``int8sqz memplan``: how much RAM and flash a model needs.

Reports, for one planner: the activation arena (bytes and KiB), the weights
flash (bytes of the constant buffers), the multiply-accumulates of every
operator, every planned tensor (bytes, first and last operator, offset),
and the live bytes at every operator with the peak. ``--json`` prints the
same as one object; ``--svg FILE`` draws the arena over time
(:mod:`int8sqz.memplan_svg`).

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
from .errors import Int8sqzError, InternalError
from .files import STDIN, emit, emit_json, one_line, path_fields, write_text
from .memplan_svg import format_svg
from .model import load_model
from .planner import PLANNERS, MemoryPlan, plan_model

PLANNER_HELP = {
    "tflm": "TFLite Micro's greedy memory planner, to the byte",
    "optimized": "shares bytes where the kernels' read/write order allows "
                 "(copy-free concatenation, in-place elementwise operators, "
                 "convolution and pool outputs over their spent input)",
    "streaming": "the optimized plan, with stages of operators run a band of "
                 "output rows at a time so that their inner tensors never exist whole",
}


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


def report(model, planner: str = "tflm", max_extra_macs: float | None = None) -> dict:
    """Everything ``memplan`` prints, as one JSON-ready dict;
    ``max_extra_macs``: the streaming planner's budget (a fraction)."""
    if planner == "streaming":
        from .planner.streaming import DEFAULT_MAX_EXTRA_MACS, plan_streaming

        plan = plan_streaming(model, None, DEFAULT_MAX_EXTRA_MACS if max_extra_macs is None
                              else max_extra_macs)
    else:
        plan = plan_model(model, planner)
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
    if planner == "streaming":
        from .memplan_streaming import section

        rep["streaming"] = section(plan, live)
    return rep


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
    parser.add_argument("--planner", choices=PLANNERS, default="tflm",
                        help="tflm: " + PLANNER_HELP["tflm"] + "; optimized: "
                        + PLANNER_HELP["optimized"] + "; streaming: "
                        + PLANNER_HELP["streaming"] + " (default: tflm)")
    parser.add_argument("--max-extra-macs", metavar="PERCENT", type=_percent, default=None,
                        help="streaming: the most multiply-accumulates the stages may add "
                        "by recomputing halos, in percent of the model's (default 10; 0: "
                        "every halo kept, none recomputed)")
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
    budget = getattr(args, "max_extra_macs", None)
    if budget is not None and args.planner != "streaming":
        return _fail(f"--max-extra-macs is an option of --planner streaming, not of "
                     f"--planner {args.planner}")
    try:
        model = load_model(source)
        rep = report(model, args.planner, None if budget is None else budget / 100)
    except InternalError:
        raise
    except Int8sqzError as exc:
        return _fail(str(exc))
    rep.update(path_fields("model", source))
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
