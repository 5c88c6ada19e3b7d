"""The picture of a memory plan: :func:`format_svg` draws the report of
:func:`int8sqz.memplan.report` (the arena over time) as an SVG document,
for ``int8sqz memplan --svg FILE`` and ``tools/memplan_report.py``."""

from __future__ import annotations

import html
import math

from .files import one_line

__all__ = ["format_svg"]

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
    if "streaming" in rep:
        out.append(f'<text x="{left}" y="76" fill="#2e6b5e">Streaming stages: the outlined '
                   f'block holds the band buffers, drawn once per step (left to right); '
                   f'darker: rows kept from step to step.</text>')
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
        tip = (f'tensor {t["index"]} {one_line(t["name"])}: {t["bytes"]:,} bytes at offset '
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
    if "streaming" in rep:  # each stage's band buffers, once per step
        from .memplan_streaming import svg_bands

        out.extend(svg_bands(rep, x, y))
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
