#!/usr/bin/env python
"""Write the golden data in golden/: expected outputs and intermediate-tensor
digests of the three seed models, produced by TFLite's reference kernels.

    python tools/make_golden.py [--shared DIR] [--out DIR]

For each seed model (``../shared/models`` beside the repository) it builds
a list of inputs:

* constant images 0 and 255;
* synthetic images, each given by a recipe (generator name + seed) that
  :func:`make_input` turns back into the exact same array: uniform noise,
  narrow-band noise, integer linear gradients, sinusoids, checkerboards;
* real photos from ``../shared/images`` (flowers and plant-village models),
  stored as their path relative to the shared directory and preprocessed
  with :func:`int8sqz.image.preprocess` exactly as ``int8sqz run`` does
  (nearest-neighbour resize to 128x128, RGB).

Each input is run by ai-edge-litert with ``OpResolverType.BUILTIN_REF`` and
``experimental_preserve_all_tensors=True`` (never the default XNNPACK
interpreter, which rounds differently); its final output is cross-checked
against TFLite Micro and the script stops if they differ.

Files written (deterministic: no timestamps, sorted keys, fixed zip entry
dates; running the script twice gives identical bytes):

* ``golden/<model>.json``: the model's file name and SHA-256, the reference
  versions, the operators and the shape and dtype of each operator output,
  and per input: the recipe, the SHA-256 of the input array, the expected
  output (exact values) and the SHA-256 of every operator output, in
  operator order (SHA-256 of the C-contiguous bytes);
* ``golden/<model>.full.npz``: every operator output for two inputs per
  model (``<input id>__t<tensor index>``), LZMA-compressed .npy entries.

tests/models/test_golden.py checks int8sqz against these files.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SHARED = ROOT.parent / "shared"
DEFAULT_OUT = ROOT / "golden"

MODELS = {
    "flowers": "squeezenet_v1.0_128_int8_flowers.tflite",
    "food-101": "squeezenet_v1.0_128_int8_food-101.tflite",
    "plant-village": "squeezenet_v1.0_128_int8_plant-village.tflite",
}
#: photo folder (under images/) for each model; food-101 has none
PHOTO_DIRS = {"flowers": "flowers", "plant-village": "plant_village"}
PHOTOS_PER_MODEL = 10
FORMAT_VERSION = 1


# -- synthetic inputs -----------------------------------------------------------------
# Each generator maps (seed, height, width, channels) to a uint8 array
# (height, width, channels). Integer arithmetic wherever it decides a pixel,
# so that the same recipe gives the same bytes on every machine; the sinusoid
# uses float64 sin, and the tests check every input's SHA-256 before use.

def _uniform(seed, h, w, c):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (h, w, c), dtype=np.uint8)


def _band(seed, h, w, c):
    """Uniform noise in a narrow band (low contrast, like real photos)."""
    rng = np.random.default_rng(seed)
    lo = int(rng.integers(0, 224))
    width = int(rng.integers(4, 33))
    return rng.integers(lo, min(lo + width, 255) + 1, (h, w, c), dtype=np.int64).astype(np.uint8)


def _gradient(seed, h, w, c):
    """A linear ramp per channel along an integer direction, from a to b."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.int64)
    out = np.empty((h, w, c), np.uint8)
    for ch in range(c):
        dx, dy = 0, 0
        while dx == 0 and dy == 0:
            dx, dy = (int(v) for v in rng.integers(-4, 5, 2))
        a, b = (int(v) for v in rng.integers(0, 256, 2))
        proj = dx * x + dy * y
        num = proj - proj.min()
        den = max(int(proj.max() - proj.min()), 1)
        out[:, :, ch] = a + ((b - a) * num * 2 + den) // (2 * den)  # rounded a + (b - a) * t
    return out


def _sinusoid(seed, h, w, c):
    """A plane wave per channel: 127.5 + amplitude * sin(2 pi (fx x / w + fy y / h) + phase)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    out = np.empty((h, w, c), np.uint8)
    for ch in range(c):
        fx, fy = (int(v) for v in rng.integers(-12, 13, 2))
        phase = float(rng.integers(0, 360)) * np.pi / 180.0
        amp = float(rng.integers(32, 128))
        v = 127.5 + amp * np.sin(2.0 * np.pi * (fx * x / w + fy * y / h) + phase)
        out[:, :, ch] = np.clip(np.floor(v + 0.5), 0, 255).astype(np.uint8)
    return out


def _checkerboard(seed, h, w, c):
    """Two colours in square cells of 1 to 32 pixels, offset."""
    rng = np.random.default_rng(seed)
    cell = int(rng.choice([1, 2, 3, 4, 5, 8, 16, 32]))
    oy, ox = (int(v) for v in rng.integers(0, cell, 2)) if cell > 1 else (0, 0)
    c0 = rng.integers(0, 256, c).astype(np.uint8)
    c1 = rng.integers(0, 256, c).astype(np.uint8)
    y, x = np.mgrid[0:h, 0:w]
    odd = (((y + oy) // cell + (x + ox) // cell) % 2).astype(bool)
    return np.where(odd[:, :, None], c1[None, None, :], c0[None, None, :]).astype(np.uint8)


GENERATORS = {
    "uniform": _uniform,
    "band": _band,
    "gradient": _gradient,
    "sinusoid": _sinusoid,
    "checkerboard": _checkerboard,
}

#: synthetic recipes for every model: (generator, seeds)
SYNTHETIC = [
    ("uniform", range(6)),
    ("gradient", range(4)),
    ("sinusoid", range(4)),
    ("checkerboard", range(4)),
]
#: more for the model without photos
EXTRA_SYNTHETIC = [
    ("uniform", range(6, 8)),
    ("band", range(3)),
    ("gradient", range(4, 6)),
    ("sinusoid", range(4, 7)),
]


def make_input(recipe: dict, spec, shared: Path) -> np.ndarray:
    """The input tensor's value for ``recipe`` (a dict from the golden JSON)
    and ``spec`` (:class:`int8sqz.image.InputSpec`)."""
    from int8sqz.image import preprocess, to_model_input

    kind = recipe["kind"]
    if kind == "photo":
        return preprocess(Path(shared) / recipe["path"], spec, resize=recipe["resize"],
                          max_pixels=None)
    if kind == "constant":
        pixels = np.full((spec.height, spec.width, spec.channels), recipe["value"], np.uint8)
    elif kind == "synthetic":
        gen = GENERATORS[recipe["generator"]]
        pixels = gen(recipe["seed"], spec.height, spec.width, spec.channels)
    else:
        raise ValueError(f"unknown input kind {kind!r}")
    return to_model_input(pixels, spec)


def recipes_for(key: str, shared: Path) -> list:
    """The (id, recipe) pairs of one model's golden inputs."""
    out = [("const-000", {"kind": "constant", "value": 0}),
           ("const-255", {"kind": "constant", "value": 255})]
    plan = SYNTHETIC + (EXTRA_SYNTHETIC if key not in PHOTO_DIRS else [])
    for gen, seeds in plan:
        for seed in seeds:
            out.append((f"{gen}-{seed}", {"kind": "synthetic", "generator": gen, "seed": seed}))
    if key in PHOTO_DIRS:
        for k, rel in enumerate(pick_photos(shared, PHOTO_DIRS[key], PHOTOS_PER_MODEL)):
            out.append((f"photo-{k:02d}", {"kind": "photo", "path": rel, "resize": "nearest"}))
    return out


def pick_photos(shared: Path, folder: str, count: int) -> list:
    """``count`` photos spread over the class folders (sorted by name): with
    fewer photos than classes, the first photo of evenly spaced classes; else
    the first photo of every class, then the second, and so on. Paths relative
    to ``shared``, with '/'."""
    base = Path(shared) / "images" / folder
    classes = sorted(p for p in base.iterdir() if p.is_dir())
    files = [sorted(f for f in d.iterdir() if f.suffix.lower() in (".jpg", ".jpeg", ".png"))
             for d in classes]
    if count < len(classes):
        order = [files[i * len(classes) // count][:1] for i in range(count)]
        flat = [f for fs in order for f in fs]
    else:
        depth = max(len(fs) for fs in files)
        flat = [fs[r] for r in range(depth) for fs in files if r < len(fs)]
    if len(flat) < count:
        raise SystemExit(f"make_golden: fewer than {count} photos in {base}")
    return [f.relative_to(shared).as_posix() for f in flat[:count]]


#: inputs whose every operator output goes into <model>.full.npz
FULL = {
    "flowers": ("photo-00", "const-255"),
    "food-101": ("sinusoid-0", "const-255"),
    "plant-village": ("photo-00", "const-255"),
}


# -- helpers ------------------------------------------------------------------------
def sha256(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def versions() -> dict:
    import PIL

    return {
        "ai-edge-litert": metadata.version("ai-edge-litert"),
        "tflite-micro": metadata.version("tflite-micro"),
        "numpy": np.__version__,
        "pillow": PIL.__version__,
    }


def exact_values(a: np.ndarray) -> list:
    """The array's values as JSON numbers that read back exactly (float32
    values are exact as doubles)."""
    if a.dtype.kind == "f":
        return [float(v) for v in a.reshape(-1)]
    return [int(v) for v in a.reshape(-1)]


def write_npz(path: Path, arrays: dict) -> None:
    """A .npz that np.load reads, byte-for-byte reproducible: sorted entries,
    fixed dates, LZMA."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name in sorted(arrays):
            f = io.BytesIO()
            np.lib.format.write_array(f, np.ascontiguousarray(arrays[name]), allow_pickle=False)
            info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_LZMA
            info.external_attr = 0o644 << 16
            z.writestr(info, f.getvalue())
    Path(path).write_bytes(buf.getvalue())


def write_json(path: Path, obj) -> None:
    Path(path).write_text(json.dumps(obj, indent=1, sort_keys=True) + "\n", encoding="utf-8")


# -- the work -------------------------------------------------------------------------
def golden_for_model(key: str, shared: Path, out: Path) -> dict:
    from int8sqz.image import input_spec
    from int8sqz.model import load_model
    from int8sqz.testing.micro import run_micro
    from int8sqz.testing.reference import reference_interpreter

    path = Path(shared) / "models" / MODELS[key]
    model = load_model(path)
    spec = input_spec(model)
    content = path.read_bytes()
    ref = reference_interpreter(content, preserve_all_tensors=True)
    (in_detail,) = ref.get_input_details()
    out_details = ref.get_output_details()
    if in_detail["index"] != model.inputs[0] or [d["index"] for d in out_details] != list(model.outputs):
        raise SystemExit(f"make_golden: {path}: the reference and int8sqz disagree on the "
                         f"graph inputs/outputs")
    operators = []
    for op in model.operators:
        outs = []
        for t in op.outputs:
            tensor = model.tensors[t]
            outs.append({"tensor": t, "name": tensor.name, "shape": list(tensor.shape),
                         "dtype": tensor.dtype.name})
        operators.append({"index": op.index, "name": op.name, "outputs": outs})
    out_tensor = model.tensors[model.outputs[0]]

    records = []
    full = {}
    photos = {}
    for input_id, recipe in recipes_for(key, shared):
        value = make_input(recipe, spec, shared)
        if recipe["kind"] == "photo":
            # kept as pixels too: the engine check must not depend on the JPEG
            # decoder of whatever Pillow the tests run with
            photos[input_id] = value
        ref.set_tensor(in_detail["index"], value)
        ref.invoke()
        tensors = {}
        digests = []
        for op in operators:
            for o in op["outputs"]:
                a = ref.get_tensor(o["tensor"])
                if list(a.shape) != o["shape"] or a.dtype.name != o["dtype"]:
                    raise SystemExit(
                        f"make_golden: {key}: operator {op['index']} ({op['name']}) output "
                        f"{o['tensor']} is {a.dtype.name}{list(a.shape)} in the reference, "
                        f"the file says {o['dtype']}{o['shape']}"
                    )
                tensors[o["tensor"]] = a
                digests.append(sha256(a))
        result = ref.get_tensor(model.outputs[0])
        micro = run_micro(content, [value])[0]
        if not (micro.dtype == result.dtype and np.array_equal(micro.reshape(result.shape), result)):
            raise SystemExit(
                f"make_golden: {key} input {input_id}: TFLite Micro gives {micro.reshape(-1)}, "
                f"the reference {result.reshape(-1)}; refusing to write golden data"
            )
        records.append({
            "id": input_id,
            "recipe": recipe,
            "input_sha256": sha256(value),
            "output": exact_values(result),
            "output_sha256": sha256(result),
            "digests": digests,
            "full": input_id in FULL[key],
        })
        if input_id in FULL[key]:
            for t, a in tensors.items():
                full[f"{input_id}__t{t}"] = a
        print(f"{key}: {input_id}: top-1 {int(np.argmax(result.reshape(-1)))}", file=sys.stderr)

    missing = set(FULL[key]) - {r["id"] for r in records}
    if missing:
        raise SystemExit(f"make_golden: {key}: full-intermediate inputs {sorted(missing)} not made")
    full_name = f"{key}.full.npz"
    write_npz(out / full_name, full)
    photos_name = f"{key}.photos.npz" if photos else None
    if photos:
        write_npz(out / photos_name, photos)
    doc = {
        "format": FORMAT_VERSION,
        "model": {"file": MODELS[key], "sha256": file_sha256(path), "bytes": len(content)},
        "reference": "ai-edge-litert Interpreter, OpResolverType.BUILTIN_REF, "
                     "experimental_preserve_all_tensors=True; outputs cross-checked with "
                     "TFLite Micro",
        "versions": versions(),
        "input": {"tensor": model.inputs[0], "shape": list(spec.shape),
                  "dtype": spec.dtype.name},
        "output": {"tensor": model.outputs[0], "shape": list(out_tensor.shape),
                   "dtype": out_tensor.dtype.name},
        "operators": operators,
        "full_intermediates": full_name,
        "photo_inputs": photos_name,
        "inputs": records,
    }
    write_json(out / f"{key}.json", doc)
    return doc


README = """\
# Golden data (written by tools/make_golden.py; do not edit)

Produced by TFLite's reference kernels (ai-edge-litert, OpResolverType.BUILTIN_REF,
experimental_preserve_all_tensors=True), final outputs cross-checked with TFLite Micro.
Regenerate with `python tools/make_golden.py`; the output is deterministic.

- `<model>.json`: model file name and SHA-256, reference versions, the operators with the
  shape and dtype of each output, and for every input: its recipe (`constant` value,
  `synthetic` generator + seed from tools/make_golden.py, or `photo` path relative to
  ../shared with the int8sqz.image preprocessing), the input's SHA-256, the exact expected
  output, and the SHA-256 of every operator output (C-contiguous bytes) in operator order.
- `<model>.full.npz`: every operator output (`<input id>__t<tensor index>`) for the inputs
  marked `"full": true`.
- `<model>.photos.npz`: the preprocessed pixels of every photo input (`<input id>`), so the
  engine is checked on them whatever JPEG decoder the tests run with.

Checked by tests/models/test_golden.py.
"""


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--shared", type=Path, default=DEFAULT_SHARED,
                   help="the shared directory with models/ and images/ (default ../shared)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory (golden/)")
    p.add_argument("--model", action="append", choices=sorted(MODELS),
                   help="only this model (repeatable; default all)")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for key in args.model or sorted(MODELS):
        doc = golden_for_model(key, args.shared.resolve(), args.out)
        n = len(doc["inputs"])
        t = sum(len(op["outputs"]) for op in doc["operators"])
        print(f"{key}: {n} inputs, {t} operator outputs each", file=sys.stderr)
    (args.out / "README.md").write_text(README, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
