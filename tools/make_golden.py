#!/usr/bin/env python
"""Write the golden data in golden/: expected outputs and intermediate-tensor
digests of the three seed models and the nine zoo models, produced by
TFLite's reference kernels.

    python tools/make_golden.py [--shared DIR] [--out DIR] [--model KEY ...]

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

For each zoo model (``../shared/models/zoo``): the image models get the
constant images, a few synthetic ones and photos (any photo serves as a
real-world image, whatever the model's classes); the others (audio
spectrogram patches, accelerometer windows) get seeded random tensors of
their input's type (``tensor`` recipes: full-range integers, or float32
from a normal or uniform distribution).

Each input is run by ai-edge-litert with ``OpResolverType.BUILTIN_REF`` and
``experimental_preserve_all_tensors=True`` (never the default XNNPACK
interpreter, which rounds differently); its final outputs are cross-checked
against TFLite Micro (where TFLite Micro runs the model) and the script
stops if they differ. The SSD model uses TILE version 3, which neither
BUILTIN_REF nor TFLite Micro registers: its reference is BUILTIN_REF on a
copy with that operator version set to 1 (the same kernel), made by
:func:`int8sqz.testing.reference.registered_versions`.

Files written (deterministic: no timestamps, sorted keys, fixed zip entry
dates; running the script twice gives identical bytes):

* ``golden/<model>.json``: the model's file name and SHA-256, the reference
  versions, the operators and the shape and dtype of each operator output,
  and per input: the recipe, the SHA-256 of the input array, the expected
  first output (exact values, when it has at most 4096 elements), the
  SHA-256 of every graph output and of every operator output, in operator
  order (SHA-256 of the C-contiguous bytes);
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
#: the zoo models (under models/), golden data in golden/zoo/
ZOO = {
    "mobilenet_v2-flowers": "zoo/mobilenet_v2_0.35_128_int8_flowers.tflite",
    "mobilenet_v2-person": "zoo/mobilenet_v2_0.35_128_int8_person.tflite",
    "fdmobilenet-flowers": "zoo/fdmobilenet_0.25_128_int8_flowers.tflite",
    "resnet8-cifar10": "zoo/resnet_v1_8_32_int8_cifar10.tflite",
    "yamnet-esc10": "zoo/yamnet_256_64x96_int8_esc10.tflite",
    "miniresnet-esc10": "zoo/miniresnet_1stacks_64x50_int8_esc10.tflite",
    "gmp-wisdm": "zoo/gmp_wl_24_int8_wisdm.tflite",
    "ign-wisdm": "zoo/ign_wl_24_int8_wisdm.tflite",
    "ssd-person": "zoo/ssd_mobilenet_v1_0.25_192_int8_person.tflite",
}
ALL_MODELS = {**MODELS, **ZOO}
#: photo folder (under images/) for each model; food-101 has none
PHOTO_DIRS = {"flowers": "flowers", "plant-village": "plant_village",
              "mobilenet_v2-flowers": "flowers", "mobilenet_v2-person": "flowers",
              "fdmobilenet-flowers": "flowers", "resnet8-cifar10": "flowers",
              "ssd-person": "flowers"}
PHOTOS_PER_MODEL = 10
ZOO_PHOTOS = 5
#: graph outputs up to this many elements are stored as values in the JSON
MAX_STORED_OUTPUT = 4096
FORMAT_VERSION = 1


def golden_name(key: str) -> str:
    """The golden files' stem for a model, relative to golden/."""
    return f"zoo/{key}" if key in ZOO else key


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


def _tensor(recipe: dict, shape, dtype) -> np.ndarray:
    """A seeded random tensor: integers over the type's whole range
    (``uniform``), or float32 from N(0, scale) (``normal``) or
    U(-scale, scale) (``uniform``)."""
    rng = np.random.default_rng(recipe["seed"])
    dtype = np.dtype(dtype)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return rng.integers(int(info.min), int(info.max) + 1, shape, dtype=np.int64).astype(dtype)
    scale = float(recipe["scale"])
    if recipe["distribution"] == "normal":
        return (rng.standard_normal(shape) * scale).astype(np.float32)
    return rng.uniform(-scale, scale, shape).astype(np.float32)


def input_spec_of(model):
    """:class:`int8sqz.image.InputSpec` of an image model, else a plain
    (shape, dtype) spec of its single input."""
    from types import SimpleNamespace

    from int8sqz.errors import UnsupportedError
    from int8sqz.image import input_spec

    try:
        return input_spec(model)
    except UnsupportedError:
        t = model.tensors[model.inputs[0]]
        return SimpleNamespace(shape=tuple(t.shape), dtype=t.dtype)


def make_input(recipe: dict, spec, shared: Path) -> np.ndarray:
    """The input tensor's value for ``recipe`` (a dict from the golden JSON)
    and ``spec`` (:class:`int8sqz.image.InputSpec`, or a (shape, dtype)
    namespace for ``tensor`` recipes)."""
    from int8sqz.image import preprocess, to_model_input

    kind = recipe["kind"]
    if kind == "tensor":
        return _tensor(recipe, spec.shape, spec.dtype)
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


#: synthetic recipes of the zoo's image models
ZOO_SYNTHETIC = [("uniform", range(3)), ("gradient", range(2)), ("sinusoid", range(2)),
                 ("checkerboard", range(1))]
#: tensor recipes of the zoo's other models, by input type: (distribution, scale, seeds)
ZOO_TENSORS = {
    "int": [("uniform", None, range(12))],
    "float": [("normal", 4.0, range(6)), ("normal", 12.0, range(6, 9)),
              ("uniform", 20.0, range(9, 12))],
}


def recipes_for(key: str, shared: Path, dtype=None) -> list:
    """The (id, recipe) pairs of one model's golden inputs (``dtype``: the
    input's, for the zoo's models without image input)."""
    if key in ZOO and key not in PHOTO_DIRS:
        kind = "float" if np.dtype(dtype).kind == "f" else "int"
        out = []
        for dist, scale, seeds in ZOO_TENSORS[kind]:
            for seed in seeds:
                recipe = {"kind": "tensor", "distribution": dist, "seed": seed}
                if scale is not None:
                    recipe["scale"] = scale
                out.append((f"{dist}-{seed}", recipe))
        return out
    out = [("const-000", {"kind": "constant", "value": 0}),
           ("const-255", {"kind": "constant", "value": 255})]
    if key in ZOO:
        plan = ZOO_SYNTHETIC
    else:
        plan = SYNTHETIC + (EXTRA_SYNTHETIC if key not in PHOTO_DIRS else [])
    for gen, seeds in plan:
        for seed in seeds:
            out.append((f"{gen}-{seed}", {"kind": "synthetic", "generator": gen, "seed": seed}))
    if key in PHOTO_DIRS:
        count = ZOO_PHOTOS if key in ZOO else PHOTOS_PER_MODEL
        for k, rel in enumerate(pick_photos(shared, PHOTO_DIRS[key], count)):
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
    "mobilenet_v2-flowers": ("photo-00",),
    "mobilenet_v2-person": ("photo-01",),
    "fdmobilenet-flowers": ("photo-00",),
    "resnet8-cifar10": ("photo-00", "const-255"),
    "yamnet-esc10": ("uniform-0",),
    "miniresnet-esc10": ("uniform-0",),
    "gmp-wisdm": ("normal-0", "uniform-9"),
    "ign-wisdm": ("normal-0", "uniform-9"),
    "ssd-person": ("photo-00",),
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
            # np.array keeps a 0-d tensor 0-d (np.ascontiguousarray makes it 1-d)
            np.lib.format.write_array(f, np.array(arrays[name], order="C"), allow_pickle=False)
            info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_LZMA
            info.external_attr = 0o644 << 16
            z.writestr(info, f.getvalue())
    Path(path).write_bytes(buf.getvalue())


def write_json(path: Path, obj) -> None:
    Path(path).write_text(json.dumps(obj, indent=1, sort_keys=True) + "\n", encoding="utf-8")


# -- the work -------------------------------------------------------------------------
#: zoo models TFLite Micro does not run, and why (no cross-check for them)
NO_MICRO = {"ssd-person": "TFLite Micro does not register TILE version 3"}


def golden_for_model(key: str, shared: Path, out: Path) -> dict:
    from int8sqz.model import load_model
    from int8sqz.testing.micro import run_micro
    from int8sqz.testing.reference import reference_interpreter, registered_versions

    path = Path(shared) / "models" / ALL_MODELS[key]
    model = load_model(path)
    spec = input_spec_of(model)
    content = path.read_bytes()
    ref_content = registered_versions(content)
    ref = reference_interpreter(ref_content, preserve_all_tensors=True)
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
    stem = golden_name(key)
    (out / stem).parent.mkdir(parents=True, exist_ok=True)

    records = []
    full = {}
    photos = {}
    for input_id, recipe in recipes_for(key, shared, spec.dtype):
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
        results = [ref.get_tensor(i) for i in model.outputs]
        if key not in NO_MICRO:
            micro = run_micro(content, [value], len(results))
            for k, (m, r) in enumerate(zip(micro, results)):
                if not (m.dtype == r.dtype and np.array_equal(m.reshape(r.shape), r)):
                    raise SystemExit(
                        f"make_golden: {key} input {input_id}: TFLite Micro's output {k} "
                        f"differs from the reference's; refusing to write golden data"
                    )
        record = {
            "id": input_id,
            "recipe": recipe,
            "input_sha256": sha256(value),
            "output_sha256": sha256(results[0]),
            "digests": digests,
            "full": input_id in FULL[key],
        }
        if results[0].size <= MAX_STORED_OUTPUT:
            record["output"] = exact_values(results[0])
        if len(results) > 1:
            record["outputs_sha256"] = [sha256(r) for r in results]
        records.append(record)
        if input_id in FULL[key]:
            for t, a in tensors.items():
                full[f"{input_id}__t{t}"] = a
        print(f"{key}: {input_id}: argmax {int(np.argmax(results[0].reshape(-1)))}",
              file=sys.stderr)

    missing = set(FULL[key]) - {r["id"] for r in records}
    if missing:
        raise SystemExit(f"make_golden: {key}: full-intermediate inputs {sorted(missing)} not made")
    full_name = f"{stem}.full.npz"
    write_npz(out / full_name, full)
    photos_name = f"{stem}.photos.npz" if photos else None
    if photos:
        write_npz(out / photos_name, photos)
    reference = ("ai-edge-litert Interpreter, OpResolverType.BUILTIN_REF, "
                 "experimental_preserve_all_tensors=True; outputs cross-checked with "
                 "TFLite Micro")
    if key in NO_MICRO:
        reference = ("ai-edge-litert Interpreter, OpResolverType.BUILTIN_REF, "
                     "experimental_preserve_all_tensors=True, on a copy with TILE version 3 "
                     "set to 1 (int8sqz.testing.reference.registered_versions); no TFLite "
                     f"Micro cross-check: {NO_MICRO[key]}")
    doc = {
        "format": FORMAT_VERSION,
        "model": {"file": ALL_MODELS[key], "sha256": file_sha256(path), "bytes": len(content)},
        "reference": reference,
        "versions": versions(),
        "input": {"tensor": model.inputs[0], "shape": list(spec.shape),
                  "dtype": np.dtype(spec.dtype).name},
        "output": {"tensor": model.outputs[0], "shape": list(out_tensor.shape),
                   "dtype": out_tensor.dtype.name},
        "operators": operators,
        "full_intermediates": full_name,
        "photo_inputs": photos_name,
        "inputs": records,
    }
    if len(model.outputs) > 1:
        doc["outputs"] = [{"tensor": i, "shape": list(model.tensors[i].shape),
                           "dtype": model.tensors[i].dtype.name} for i in model.outputs]
    write_json(out / f"{stem}.json", doc)
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
- `zoo/`: the same for the nine models of ../shared/models/zoo. Their first output's values
  are stored when it has at most 4096 elements; every graph output's SHA-256 is. The SSD
  detector's reference is BUILTIN_REF on a copy with TILE version 3 set to 1 (the same
  kernel), and TFLite Micro does not run it (no cross-check).

Checked by tests/models/test_golden.py.
"""


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--shared", type=Path, default=DEFAULT_SHARED,
                   help="the shared directory with models/ and images/ (default ../shared)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory (golden/)")
    p.add_argument("--model", action="append", choices=sorted(ALL_MODELS),
                   help="only this model (repeatable; default all)")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for key in args.model or sorted(ALL_MODELS):
        doc = golden_for_model(key, args.shared.resolve(), args.out)
        n = len(doc["inputs"])
        t = sum(len(op["outputs"]) for op in doc["operators"])
        print(f"{key}: {n} inputs, {t} operator outputs each", file=sys.stderr)
    (args.out / "README.md").write_text(README, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
