"""Activation RAM of every model in ../shared/models, as a Markdown table.

For each model: int8sqz's tflm plan, its optimized plan, TFLite Micro's own
arena (measured: the "Arena allocation head" of tflite-micro's recording
allocator), the published STM32Cube.AI figure where one exists, and the
ratios. Needs the test extra (tflite-micro).

    python tools/memplan_report.py            # the table
    python tools/memplan_report.py --svg      # also rewrite docs/memplan_flowers*.svg
    python tools/memplan_report.py --check    # exit 1 unless the issue's targets hold
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from int8sqz import memplan  # noqa: E402
from int8sqz.memplan_svg import format_svg  # noqa: E402
from int8sqz.model import load_model  # noqa: E402
from int8sqz.planner import plan_model  # noqa: E402
from int8sqz.testing.micro import measure_tflm_arena  # noqa: E402

MODELS_DIR = ROOT.parent / "shared" / "models"
SEED_ARENA = 460_800
TARGET_OPTIMIZED = 360 * 1024

#: STM32Cube.AI 7.3.0 on STM32H7, activation RAM, from the STM32 model zoo
#: (quoted in ../shared/models/README.md); none is published for the others
PUBLISHED = {"squeezenet_v1.0_128_int8_flowers.tflite": 450 * 1024}

SVGS = {
    "memplan_flowers.svg": ("squeezenet_v1.0_128_int8_flowers.tflite", "optimized"),
    "memplan_flowers_tflm.svg": ("squeezenet_v1.0_128_int8_flowers.tflite", "tflm"),
    "memplan_flowers_tflm_optimized.svg": ("squeezenet_v1.0_128_int8_flowers.tflite",
                                           "tflm-optimized"),
}


def _kib(n):
    return f"{n:,} ({n / 1024:,.2f} KiB)"


def measure(path: Path) -> dict:
    model = load_model(path)
    tflm = plan_model(model, "tflm").arena_size
    opt = plan_model(model, "optimized").arena_size
    micro = measure_tflm_arena(path)
    return {"model": path.name, "tflm": tflm, "optimized": opt, "micro": micro,
            "published": PUBLISHED.get(path.name)}


def table(rows) -> str:
    head = ("| model | tflm plan (bytes) | optimized plan (bytes) | TFLite Micro (measured) "
            "| STM32Cube.AI (published) | tflm / TFLite Micro | optimized / tflm "
            "| optimized / published |")
    lines = [head, "|" + "---|" * 8]
    for r in rows:
        pub = r["published"]
        ratio = f"{r['optimized'] / pub:.4f}" if pub else "-"
        lines.append(
            f"| {r['model']} | {_kib(r['tflm'])} | {_kib(r['optimized'])} | {_kib(r['micro'])} "
            f"| {_kib(pub) if pub else 'not published'} | {r['tflm'] / r['micro']:.4f} "
            f"| {r['optimized'] / r['tflm']:.4f} "
            f"| {ratio} |"
        )
    return "\n".join(lines)


def check(rows) -> list:
    problems = []
    for r in rows:
        if r["tflm"] != r["micro"]:
            problems.append(f"{r['model']}: tflm plan {r['tflm']} != TFLite Micro {r['micro']}")
        if r["optimized"] > r["tflm"]:
            problems.append(f"{r['model']}: optimized plan larger than the tflm plan")
        if r["model"].startswith("squeezenet_v1.0_128_int8_"):
            if r["micro"] != SEED_ARENA:
                problems.append(f"{r['model']}: TFLite Micro measures {r['micro']}, "
                                f"expected {SEED_ARENA}")
            if r["optimized"] > TARGET_OPTIMIZED:
                problems.append(f"{r['model']}: optimized plan {r['optimized']} > 360 KiB")
    return problems


def write_svgs() -> None:
    docs = ROOT / "docs"
    docs.mkdir(exist_ok=True)
    for name, (model_name, planner) in SVGS.items():
        model = load_model(MODELS_DIR / model_name)
        svg = format_svg(memplan.report(model, planner), title=model_name)
        (docs / name).write_text(svg, encoding="utf-8")
        print(f"wrote docs/{name}", file=sys.stderr)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--svg", action="store_true", help="rewrite docs/memplan_flowers*.svg")
    ap.add_argument("--check", action="store_true", help="exit 1 unless the targets hold")
    args = ap.parse_args(argv)
    paths = sorted(MODELS_DIR.glob("*.tflite"))
    if not paths:
        print(f"no .tflite files in {MODELS_DIR}", file=sys.stderr)
        return 1
    rows = [measure(p) for p in paths]
    print(table(rows))
    if args.svg:
        write_svgs()
    if args.check:
        problems = check(rows)
        for p in problems:
            print(f"target missed: {p}", file=sys.stderr)
        return 1 if problems else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
