"""``int8sqz memplan``: how much RAM and flash a model needs.

Reports, for one planner: the activation arena (bytes and KiB), the weights
flash (bytes of the constant buffers), the multiply-accumulates of every
operator, every planned tensor (bytes, first and last operator, offset),
and the live bytes at every operator with the peak. ``--json`` prints the
same as one object; ``--svg FILE`` draws the arena over time.

Planning reads the model with :func:`int8sqz.model.load_model` only, never
the interpreter, so it works on models whose operators int8sqz cannot run.

``add_arguments(parser)`` and ``run(args)`` are the CLI's entry points;
``python -m int8sqz.memplan MODEL`` runs it on its own.
"""

from __future__ import annotations

import argparse
import html
import json
import math
import sys

import numpy as np

from . import ops
from .errors import Int8sqzError, InternalError
from .model import load_model
from .planner import PLANNERS, MemoryPlan, plan_model

PLANNER_HELP = {
    "tflm": "TFLite Micro's greedy memory planner, to the byte",
    "optimized": "shares bytes where the kernels' read/write order allows "
                 "(copy-free concatenation, in-place elementwise operators, "
                 "convolution and pool outputs over their spent input)",
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
        result.append(int(mask.sum()))
    return result


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


def report(model, planner: str = "tflm") -> dict:
    """Everything ``memplan`` prints, as one JSON-ready dict."""
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
    return {
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
                     f"{t['offset']:>9,}  {t['name']}{suffix}")
    for sc in rep.get("scratch", ()):
        lines.append(f"{'-':>6}  {sc['bytes']:>9,}  {sc['first_op']:>5}  {sc['last_op']:>4}  "
                     f"{sc['offset']:>9,}  {sc['name']}  [kernel scratch, TFLite Micro]")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------
# SVG
# ---------------------------------------------------------------------------------

_COLORS = {
    "CONV_2D": "#8fb8de", "DEPTHWISE_CONV_2D": "#8fb8de", "MAX_POOL_2D": "#9ed39e",
    "AVERAGE_POOL_2D": "#9ed39e", "CONCATENATION": "#f2c57c", "MUL": "#d7b7e8",
    "ADD": "#d7b7e8", "QUANTIZE": "#e8e3a0", "DEQUANTIZE": "#e8e3a0",
}


def format_svg(rep: dict, title: str | None = None) -> str:
    """The arena over time: operators left to right, arena offsets bottom to
    top, one rectangle per tensor (labelled with its tensor number, the
    operator that writes it and its size), the peak operator marked."""
    ops, tensors = rep["operators"], rep["tensors"]
    producer = {}
    for o in ops:
        for i in o["outputs"]:
            producer[i] = o["name"]
    nops = max(len(ops), 1)
    arena = max(rep["arena_bytes"], 1)
    left, right, top, bottom = 90, 30, 100, 70
    col = max(36, min(60, 1400 // nops))
    width = left + right + col * nops
    height = 720
    plot_h = height - top - bottom

    def x(op_index):
        return left + op_index * col

    def y(offset):
        return top + plot_h - offset * plot_h / arena

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, sans-serif" '
        f'font-size="11">',
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="white"/>',
    ]
    head = title or rep["model"].rsplit("/", 1)[-1]
    out.append(f'<text x="{left}" y="24" font-size="16" font-weight="bold">'
               f'{html.escape(head)}: {html.escape(rep["planner"])} plan, arena '
               f'{rep["arena_bytes"]:,} bytes ({rep["arena_bytes"] / 1024:,.2f} KiB)</text>')
    out.append(f'<text x="{left}" y="44" fill="#444">Each rectangle is one tensor: it spans '
               f'the operators during which it must be kept (left to right) and the arena '
               f'bytes it occupies (bottom to top).</text>')
    out.append(f'<text x="{left}" y="60" fill="#444">Label: tensor number, the operator '
               f'that writes it, its size. Dashed outline: a slice of a concatenation\'s '
               f'output, written there directly. Hover for tensor names.</text>')
    # peak
    pk = rep["peak"]
    if pk is not None:
        px = x(pk["operator"])
        out.append(f'<rect x="{px}" y="{top}" width="{col}" height="{plot_h}" '
                   f'fill="#ffdddd" stroke="none"/>')
        anchor = "start" if px < width / 2 else "end"
        tx = px if anchor == "start" else px + col
        out.append(f'<text x="{tx}" y="{top - 10}" text-anchor="{anchor}" fill="#c00000" '
                   f'font-weight="bold">peak: operator {pk["operator"]} ({pk["name"]}), '
                   f'{pk["live_bytes"]:,} bytes live</text>')
    # tensors, slices last so that they sit on top of their concatenation;
    # the labels after every rectangle, so that none is hidden
    labels = []
    for t in sorted(tensors, key=lambda t: "slice_of" in t):
        x0, x1 = x(t["first_op"]), x(t["last_op"] + 1)
        y0, y1 = y(t["end"]), y(t["offset"])
        h = max(y1 - y0, 0.8)
        fill = _COLORS.get(producer.get(t["index"], ""), "#cccccc")
        dashed = "slice_of" in t
        what = producer.get(t["index"], "graph input")
        tip = (f'tensor {t["index"]} {t["name"]}: {t["bytes"]:,} bytes at offset '
               f'{t["offset"]:,}, operators {t["first_op"]}..{t["last_op"]}, written by {what}')
        style = ('fill="none" stroke="#555" stroke-dasharray="4 2"' if dashed
                 else f'fill="{fill}" fill-opacity="0.85" stroke="#333" stroke-width="0.6"')
        out.append(f'<rect x="{x0 + 1}" y="{y0:.2f}" width="{x1 - x0 - 2}" height="{h:.2f}" '
                   f'{style}><title>{html.escape(tip)}</title></rect>')
        if dashed:
            lines = [f'#{t["index"]}', f'slice of #{t["slice_of"]}']
        else:
            lines = [f'#{t["index"]}', what, _short_bytes(t["bytes"])]
        # room for the label: up to the next rectangle that starts further
        # right within this one's span and shares some of its offsets
        stop = t["last_op"] + 1
        for u in tensors:
            if (t["first_op"] < u["first_op"] < stop and u["offset"] < t["end"]
                    and t["offset"] < u["end"]):
                stop = u["first_op"]
        wpx = x(stop) - x0 - 4
        written = 0
        for k, text in enumerate(lines):
            if (k + 1) * 12 + 2 > h or 6.3 * len(text) > wpx:
                break
            labels.append(f'<text x="{x0 + 3}" y="{y0 + 12 * (k + 1):.2f}">'
                          f'{html.escape(text)}</text>')
            written += 1
        rest = " ".join(lines[written:])
        if 0 < written < len(lines) and wpx >= 12 and 6.3 * len(rest) + 12 * written + 6 <= h:
            # a tall narrow tensor: the rest of its label runs down its left side
            cx, cy = x0 + 5, y0 + 12 * written + 6
            labels.append(f'<text x="{cx:.2f}" y="{cy:.2f}" transform="rotate(90 {cx:.2f} '
                          f'{cy:.2f})">{html.escape(rest)}</text>')
    for sc in rep.get("scratch", ()):
        x0, x1 = x(sc["first_op"]), x(sc["last_op"] + 1)
        y0, y1 = y(sc["end"]), y(sc["offset"])
        out.append(f'<rect x="{x0 + 1}" y="{y0:.2f}" width="{x1 - x0 - 2}" '
                   f'height="{max(y1 - y0, 0.8):.2f}" fill="#888888" stroke="#333" '
                   f'stroke-width="0.6"><title>{html.escape(sc["name"])}: {sc["bytes"]} bytes '
                   f'at offset {sc["offset"]}</title></rect>')
    out.append('<g paint-order="stroke" stroke="white" stroke-width="3" '
               'stroke-linejoin="round">')
    out.extend(labels)
    out.append("</g>")
    if pk is not None:  # the peak column's outline on top of the tensors
        px = x(pk["operator"])
        out.append(f'<rect x="{px}" y="{top}" width="{col}" height="{plot_h}" fill="none" '
                   f'stroke="#c00000" stroke-width="2" stroke-dasharray="6 3"/>')
    out.append(f'<line x1="{left}" y1="{y(arena):.2f}" x2="{left + col * nops}" '
               f'y2="{y(arena):.2f}" stroke="#c00000" stroke-dasharray="2 2"/>')
    out.append(f'<text x="{left + col * nops}" y="{y(arena) - 4:.2f}" text-anchor="end" '
               f'fill="#c00000">arena size {rep["arena_bytes"]:,} bytes</text>')
    # axes
    out.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{left + col * nops}" '
               f'y2="{top + plot_h}" stroke="black"/>')
    out.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="black"/>')
    step = max(1, math.ceil(nops / 30))
    for o in ops:
        if o["index"] % step == 0:
            cx = x(o["index"]) + col / 2
            out.append(f'<text x="{cx}" y="{top + plot_h + 14}" text-anchor="middle">'
                       f'{o["index"]}</text>')
    out.append(f'<text x="{left + col * nops / 2}" y="{height - 20}" text-anchor="middle" '
               f'font-size="13">operator (execution order)</text>')
    tick = _nice_step(arena / 1024 / 8) * 1024
    v = 0.0
    while v <= arena + 1e-9:
        out.append(f'<line x1="{left - 4}" y1="{y(v):.2f}" x2="{left}" y2="{y(v):.2f}" '
                   f'stroke="black"/>')
        out.append(f'<text x="{left - 6}" y="{y(v) + 4:.2f}" text-anchor="end">'
                   f'{v / 1024:g} KiB</text>')
        v += tick
    cy = top + plot_h / 2
    out.append(f'<text x="18" y="{cy}" text-anchor="middle" font-size="13" '
               f'transform="rotate(-90 18 {cy})">arena offset</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _short_bytes(n) -> str:
    return f"{n / 1024:.1f} KiB" if n >= 1024 else f"{n} B"


def _nice_step(raw: float) -> float:
    if raw <= 0:
        return 1.0
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


# ---------------------------------------------------------------------------------
# TFLite Micro's own figure (needs the test extra: tflite-micro)
# ---------------------------------------------------------------------------------

def measure_tflm_arena(model) -> int:
    """TFLite Micro's activation arena for ``model`` (a path or bytes): the
    "Arena allocation head" that its recording allocator prints, i.e. the
    largest memory plan (tensors and scratch buffers) of the model."""
    import ctypes
    import os
    import re
    import tempfile

    from tflite_micro.python.tflite_micro import runtime

    content = bytes(model) if isinstance(model, (bytes, bytearray)) else open(model, "rb").read()
    # room for every activation without sharing, plus TFLite Micro's own structures
    m = load_model(content)
    room = sum(t.nbytes or 0 for t in m.tensors if not t.is_constant)
    it = runtime.Interpreter.from_bytes(content, arena_size=2 * room + (1 << 20))
    # print_allocations writes with C stdio to file descriptor 2; flush C's
    # buffers before switching the descriptor back
    libc = ctypes.CDLL(None)
    sys.stderr.flush()
    libc.fflush(None)
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as f:
        os.dup2(f.fileno(), 2)
        try:
            it.print_allocations()
        finally:
            libc.fflush(None)
            os.dup2(saved, 2)
            os.close(saved)
        f.seek(0)
        text = f.read().decode("utf-8", "replace")
    m = re.search(r"Arena allocation head (\d+) bytes", text)
    if m is None:
        raise RuntimeError(f"no 'Arena allocation head' in TFLite Micro's output: {text!r}")
    return int(m.group(1))


# ---------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL", help="a .tflite file")
    parser.add_argument("--planner", choices=PLANNERS, default="tflm",
                        help="tflm: " + PLANNER_HELP["tflm"] + "; optimized: "
                        + PLANNER_HELP["optimized"] + " (default: tflm)")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object instead of text")
    parser.add_argument("--svg", metavar="FILE",
                        help="also draw the arena over time into FILE")


#: exit statuses, as the ``int8sqz`` command uses them
EXIT_OK, EXIT_BAD_INPUT = 0, 2


def _fail(message: str) -> int:
    print(f"int8sqz: error: {' '.join(str(message).split())}", file=sys.stderr, flush=True)
    return EXIT_BAD_INPUT


def run(args) -> int:
    """Plan and print; 0 on success, 2 when the model (or the SVG file) is
    unusable. Bugs (InternalError) propagate to the caller."""
    try:
        model = load_model(args.model)
        rep = report(model, args.planner)
    except InternalError:
        raise
    except Int8sqzError as exc:
        return _fail(str(exc))
    if args.svg:
        try:
            with open(args.svg, "w", encoding="utf-8") as f:
                f.write(format_svg(rep))
        except OSError as exc:
            return _fail(f"cannot write {args.svg}: {exc.strerror}")
    if args.json:
        json.dump(rep, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(format_text(rep))
    return EXIT_OK


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="int8sqz memplan", description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
