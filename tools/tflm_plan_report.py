#!/usr/bin/env python
"""The arena TFLite Micro needs for every shared model, and the plans int8sqz
writes for it, each run by TFLite Micro (tflite-micro's Python interpreter).

    python tools/tflm_plan_report.py [--shared DIR] [--inputs N]

For each model in ``../shared/models`` and ``../shared/models/zoo`` it
prints one row of docs/tflm_plan.md's tables:

* TFLite Micro's own arena: head (its greedy plan), tail (persistent
  structures), their total, and the smallest ``arena_size`` with which it
  allocates the model (bisection, every size below checked to fail over the
  last 64 bytes), on this 64-bit host, each beside int8sqz's prediction
  (int8sqz.planner.tflm_arena); then int8sqz's estimate of tail and
  smallest arena on a 32-bit microcontroller;
* the head TFLite Micro reports for the ``tflm-optimized`` plan written into
  the model (int8sqz.planner.tflm_optimized, int8sqz.offline_plan), with
  and without overlaps, whether the search chose another operator order,
  and the smallest ``arena_size`` the written model needs, measured and
  predicted;
* int8sqz's own ``optimized`` plan (int8sqz.planner) for comparison.

Every written model is run by TFLite Micro on ``--inputs`` golden-like
inputs (the type's extremes, then seeded noise) and must give the original
model's outputs exactly; its head must equal int8sqz's prediction, and so
must its tail and smallest arena. The script stops otherwise.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from int8sqz.model import load_model  # noqa: E402
from int8sqz.offline_plan import write_offline_plan  # noqa: E402
from int8sqz.planner import plan_model  # noqa: E402
from int8sqz.planner.tflm_arena import MCU32, tflm_arena  # noqa: E402
from int8sqz.planner.tflm_optimized import plan_tflm_optimized, reordered  # noqa: E402
from int8sqz.testing import tflm  # noqa: E402


def measured_arena(content, model, head, what):
    """TFLite Micro's tail and smallest arena for ``content``, stopping the
    script unless they are int8sqz's prediction for ``model``."""
    usage = tflm.arena_usage(content)
    minimal = tflm.minimal_arena_size(content)
    predicted = tflm_arena(model, head)
    if (usage["head"], usage["tail"], minimal) != (head, predicted.tail,
                                                    predicted.arena_size):
        raise SystemExit(f"{model.source} ({what}): TFLite Micro head/tail/smallest arena "
                         f"{usage['head']}/{usage['tail']}/{minimal}, int8sqz predicted "
                         f"{head}/{predicted.tail}/{predicted.arena_size}")
    return usage, minimal, predicted


def proven(content, model, plan, sets, want):
    """The model written with ``plan`` and its smallest arena, once TFLite
    Micro has run it with the predicted head, tail and smallest arena and
    the original outputs."""
    written = write_offline_plan(content, plan.offsets,
                                 order=plan.order if plan.reordered else None)
    _, minimal, _ = measured_arena(written, reordered(model, plan.order), plan.head,
                                   "tflm-optimized")
    for got, exp in zip(tflm.run(written, sets), want):
        if not all(np.array_equal(a, b) for a, b in zip(got, exp)):
            raise SystemExit(f"{model.source}: the written plan changes TFLite Micro's outputs")
    return minimal


def row(path: Path, count: int) -> dict:
    content = path.read_bytes()
    model = load_model(content, name=path.name)
    try:
        with tflm.captured_stderr():
            tflm.arena_usage(content)
    except RuntimeError as exc:
        return {"model": path.name, "refused": str(exc)}
    greedy = plan_model(model, "tflm").arena_size
    usage, minimal, _ = measured_arena(content, model, greedy, "TFLite Micro's own plan")
    mcu = tflm_arena(model, greedy, MCU32)
    sets = tflm.golden_like_inputs(model, count)
    want = tflm.run(content, sets)
    opt = plan_tflm_optimized(model)
    flat = plan_tflm_optimized(model, no_overlap=True)
    opt_minimal = proven(content, model, opt, sets, want)
    proven(content, model, flat, sets, want)
    opt_mcu = tflm_arena(reordered(model, opt.order), opt.head, MCU32)
    return {
        "model": path.name, "head": usage["head"], "tail": usage["tail"],
        "total": usage["total"], "minimal": minimal,
        "tail32": mcu.tail, "minimal32": mcu.arena_size,
        "optimized": opt.head, "optimized_minimal": opt_minimal,
        "optimized_minimal32": opt_mcu.arena_size,
        "no_overlap": flat.head,
        "reordered": opt.reordered or flat.reordered,
        "int8sqz": plan_model(model, "optimized").arena_size,
        "inputs": count,
    }


def _n(v):
    return f"{v:,}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    ap.add_argument("--inputs", type=int, default=4)
    args = ap.parse_args(argv)
    paths = sorted((args.shared / "models").glob("*.tflite")) + \
        sorted((args.shared / "models" / "zoo").glob("*.tflite"))
    rows = [row(p, args.inputs) for p in paths]
    print("measured by tflite-micro = predicted by int8sqz (the script stops otherwise)")
    print()
    print("| model | head | tail | head + tail | minimal arena_size | 32-bit tail (est.) "
          "| 32-bit minimal (est.) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        if "refused" in r:
            print(f"| {r['model']} | refused by tflite-micro | | | | | |")
            continue
        print(f"| {r['model']} | {_n(r['head'])} | {_n(r['tail'])} | {_n(r['total'])} | "
              f"{_n(r['minimal'])} | ~{_n(r['tail32'])} | ~{_n(r['minimal32'])} |")
    print()
    print("| model | TFLM greedy head | tflm-optimized (run by TFLM) | vs greedy | "
          "its minimal arena_size | 32-bit (est.) | --no-overlap (run by TFLM) | order changed "
          "| int8sqz optimized |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        if "refused" in r:
            continue
        print(f"| {r['model']} | {_n(r['head'])} | {_n(r['optimized'])} | "
              f"{(r['optimized'] / r['head'] - 1) * 100:+.1f} % | {_n(r['optimized_minimal'])} | "
              f"~{_n(r['optimized_minimal32'])} | {_n(r['no_overlap'])} | "
              f"{'yes' if r['reordered'] else 'no'} | {_n(r['int8sqz'])} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
