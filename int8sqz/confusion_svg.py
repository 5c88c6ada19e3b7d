"""The confusion matrix of an evaluation as a picture: :func:`format_svg`
draws the result of :func:`int8sqz.evaluate.evaluate` as an SVG heat map
with the class names (``int8sqz eval --report DIR``: ``confusion.svg``)."""

from __future__ import annotations

import html
import os

__all__ = ["format_svg"]

_LOW = (255, 255, 255)
_HIGH = (8, 48, 107)


def _shade(fraction: float) -> str:
    rgb = (round(lo + (hi - lo) * fraction) for lo, hi in zip(_LOW, _HIGH))
    return "#" + "".join(f"{v:02x}" for v in rgb)


def format_svg(result: dict) -> str:
    """Rows: true class, columns: predicted class, for every class that has
    images or was predicted, in class order. A cell's colour is its share of
    the row's images (a row is one class's recall spread over the
    predictions); its number is the count; the diagonal is outlined."""
    classes = result["classes"]
    conf = result["confusion"]
    shown = [c["index"] for c in classes if c["images"] or c["predicted"]]
    names = [classes[c]["label"] for c in shown]
    n = max(len(shown), 1)
    cell = max(12, min(44, 880 // n))
    font = max(7, min(12, cell - 3))
    char = 0.62 * font
    longest = max((len(s) for s in names), default=5)
    left = 24 + int(char * longest) + 8
    top = 84 + int(char * longest) + 8
    tails = [_row_tail(sum(conf[t]), classes[t]["recall"]) for t in shown]
    right = 16 + int(char * max((len(s) for s in tails), default=0)) + 16
    total = result["images"]
    head = (f"{os.path.basename(result['model'])}: top-1 {result['top1_correct']} / {total}"
            + (f" ({100.0 * result['top1_correct'] / total:.2f} %)" if total else ""))
    about = (f"Confusion matrix of {result['data']}: rows are the true classes, columns the "
             f"predicted ones.")
    width = max(left + n * cell + right, 32 + int(0.62 * 16 * len(head)),
                32 + int(0.62 * 12 * len(about)))
    height = top + n * cell + 40
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, sans-serif" '
        f'font-size="{font}">',
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="white"/>',
        f'<text x="16" y="26" font-size="16" font-weight="bold">{html.escape(head)}</text>',
        f'<text x="16" y="46" font-size="12" fill="#444">{html.escape(about)}</text>',
        '<text x="16" y="62" font-size="12" fill="#444">Colour: the share of the row\'s '
        'images; number: images; outlined: correct. Hover for details.</text>',
    ]
    for r, t in enumerate(shown):
        row_total = sum(conf[t])
        y = top + r * cell
        out.append(f'<text x="{left - 6}" y="{y + cell / 2 + font / 3:.1f}" '
                   f'text-anchor="end">{html.escape(names[r])}</text>')
        for col, p in enumerate(shown):
            count = conf[t][p]
            share = count / row_total if row_total else 0.0
            x = left + col * cell
            tip = (f"true {names[r]}, predicted {names[col]}: {count} image"
                   f"{'s' if count != 1 else ''}"
                   + (f" ({100.0 * share:.1f} % of {names[r]})" if row_total else ""))
            out.append(f'<rect x="{x}" y="{y}" width="{cell}" height="{cell}" '
                       f'fill="{_shade(share)}" stroke="#ddd" stroke-width="0.5">'
                       f'<title>{html.escape(tip)}</title></rect>')
            if count and cell >= 14:
                colour = "white" if share > 0.5 else "black"
                out.append(f'<text x="{x + cell / 2}" y="{y + cell / 2 + font / 3:.1f}" '
                           f'text-anchor="middle" fill="{colour}">{count}</text>')
        out.append(f'<text x="{left + n * cell + 8}" y="{y + cell / 2 + font / 3:.1f}" '
                   f'fill="#444">{html.escape(tails[r])}</text>')
    for col in range(len(shown)):
        x = left + col * cell + cell / 2 + font / 3
        y = top - 6
        out.append(f'<text x="{x:.1f}" y="{y}" transform="rotate(-90 {x:.1f} {y})">'
                   f'{html.escape(names[col])}</text>')
    for d in range(len(shown)):
        out.append(f'<rect x="{left + d * cell}" y="{top + d * cell}" width="{cell}" '
                   f'height="{cell}" fill="none" stroke="#c00000" stroke-width="1.5"/>')
    out.append(f'<rect x="{left}" y="{top}" width="{n * cell}" height="{n * cell}" '
               f'fill="none" stroke="black"/>')
    out.append(f'<text x="{left - 6}" y="{top - 6}" text-anchor="end" font-size="12">'
               f'true class</text>')
    out.append(f'<text x="{left + n * cell / 2}" y="{top + n * cell + 24}" '
               f'text-anchor="middle" font-size="12">predicted class</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _row_tail(images: int, recall) -> str:
    if recall is None:
        return "no images (predicted only)"
    return f"{images} image{'s' if images != 1 else ''}, recall {recall:.3f}"
