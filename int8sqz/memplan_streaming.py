"""What ``int8sqz memplan --planner streaming`` adds to the report: the
stages (operators, band height, halo kept or recomputed, steps, the block
of band buffers and each buffer), where the peak is, and the extra
multiply-accumulates against the model's; its lines of text, and the
bands in the picture (as many rectangles as steps, side by side within
the stage's operators).

Used by :mod:`int8sqz.memplan` and :mod:`int8sqz.memplan_svg`.
"""

from __future__ import annotations

import html


def section(plan, live: list) -> dict:
    """The ``streaming`` part of the report of a StreamingPlan; ``live``:
    the live bytes at each operator (whole tensors and blocks)."""
    model = plan.model
    stages = []
    for s, off in zip(plan.stages, plan.block_offsets):
        bufs = []
        for t, b in sorted(s.buffers.items(), key=lambda kv: kv[1].offset):
            bufs.append({"tensor": t, "name": model.tensors[t].name,
                         "shape": list(plan.shapes[t]), "rows": b.rows,
                         "row_bytes": b.row_bytes, "bytes": b.nbytes,
                         "offset": off + b.offset, "keeps_rows": b.keeps,
                         "written_by": model.operators[s.first + b.first_pos].index})
        stage_peak = max(live[s.first:s.last + 1], default=0)
        stages.append({
            "first_op": s.first, "last_op": s.last,
            "operators": [model.operators[j].name for j in s.ops],
            "band_rows": s.band, "halo": "recomputed" if s.recompute else "kept",
            "steps": len(s.steps), "driver": s.driver,
            "block_offset": off, "block_bytes": s.block_size,
            "whole_inputs": list(s.inputs), "whole_outputs": list(s.outputs),
            "macs": s.macs, "extra_macs": s.extra_macs, "live_bytes": stage_peak,
            "buffers": bufs,
            # the band rows each step makes: op -> [first, last) per step
            "schedule": [[[a.op, a.first, a.last] for a in acts] for acts in s.steps],
        })
    total = plan.model_macs
    extra = plan.extra_macs
    return {
        "max_extra_macs_percent": round(100 * plan.max_extra_macs, 3),
        "model_macs": total,
        "extra_macs": extra,
        "extra_macs_percent": round(100 * extra / total, 3) if total else 0.0,
        "stages": stages,
    }


def peak_place(rep: dict) -> str | None:
    """Where the peak is, in words: the operator, and its stage if any."""
    pk = rep.get("peak")
    if pk is None:
        return None
    for k, s in enumerate(rep.get("streaming", {}).get("stages", ())):
        if s["first_op"] <= pk["operator"] <= s["last_op"]:
            return (f"in stage {k} (operators {s['first_op']}..{s['last_op']}): its whole "
                    f"tensors and {s['block_bytes']:,} bytes of band buffers")
    return "an operator run whole"


def format_section(rep: dict) -> list:
    """The text lines of the streaming part."""
    st = rep["streaming"]
    lines = [
        f"extra MACs:      {st['extra_macs']:,} ({st['extra_macs_percent']:+.3f} % of "
        f"{st['model_macs']:,}; budget {st['max_extra_macs_percent']:g} %)",
    ]
    where = peak_place(rep)
    if where:
        lines.append(f"peak is:         {where}")
    if not st["stages"]:
        lines.append("stages:          none (no stage lowers the peak)")
        return lines
    lines += ["", "stages (operators run a band of output rows at a time; their inner "
              "tensors never whole)"]
    for k, s in enumerate(st["stages"]):
        ops = " -> ".join(s["operators"])
        lines.append(
            f"  stage {k}: operators {s['first_op']}..{s['last_op']} ({ops}); "
            f"{s['band_rows']} row(s) of tensor {s['driver']} per step, {s['steps']} steps; "
            f"halo {s['halo']}; band buffers {s['block_bytes']:,} bytes at "
            f"{s['block_offset']:,}; extra MACs {s['extra_macs']:,}")
        for b in s["buffers"]:
            keep = ", keeps rows between steps" if b["keeps_rows"] else ""
            lines.append(f"    tensor {b['tensor']:>4} {b['shape']}: {b['rows']} rows x "
                         f"{b['row_bytes']:,} bytes = {b['bytes']:,} at {b['offset']:,}{keep}")
    return lines


def svg_bands(rep: dict, x, y) -> list:
    """SVG elements for the band buffers: within each stage's operators, one
    column per step, a rectangle per band buffer (``x(op)``, ``y(offset)``
    map to the picture)."""
    out = []
    for k, s in enumerate(rep.get("streaming", {}).get("stages", ())):
        x0, x1 = x(s["first_op"]), x(s["last_op"] + 1)
        steps = max(s["steps"], 1)
        w = (x1 - x0 - 2) / steps
        top, bottom = y(s["block_offset"] + s["block_bytes"]), y(s["block_offset"])
        out.append(f'<rect x="{x0 + 1}" y="{top:.2f}" width="{x1 - x0 - 2}" '
                   f'height="{max(bottom - top, 0.8):.2f}" fill="#eef8f5" stroke="#2e6b5e" '
                   f'stroke-width="0.8"><title>stage {k}: band buffers of operators '
                   f'{s["first_op"]}..{s["last_op"]}, {s["block_bytes"]:,} bytes, '
                   f'{s["steps"]} steps</title></rect>')
        for b in s["buffers"]:
            b_top, b_bottom = y(b["offset"] + b["bytes"]), y(b["offset"])
            h = max(b_bottom - b_top, 0.6)
            fill = "#5aa897" if b["keeps_rows"] else "#a8dcd1"
            tip = html.escape(f'tensor {b["tensor"]} {b["name"]}: {b["rows"]} rows '
                              f'({b["bytes"]:,} bytes) at offset {b["offset"]:,}, written '
                              f'by operator {b["written_by"]}'
                              + (", rows kept between steps" if b["keeps_rows"] else ""))
            for j in range(steps):
                bx = x0 + 1 + j * w
                out.append(f'<rect x="{bx + 0.3:.2f}" y="{b_top:.2f}" '
                           f'width="{max(w - 0.6, 0.4):.2f}" height="{h:.2f}" fill="{fill}" '
                           f'stroke="#2e6b5e" stroke-width="0.3"><title>{tip}, step {j}'
                           f'</title></rect>')
        label = (f'stage {k}: {s["band_rows"]} row(s)/step x {s["steps"]}, halo '
                 f'{s["halo"]}')
        out.append(f'<text x="{x0 + 2}" y="{top - 3:.2f}" font-size="10" fill="#2e6b5e">'
                   f'{html.escape(label)}</text>')
    return out
