#!/usr/bin/env python
"""Benchmark int8sqz against TFLite's own runtimes, side by side.

    python tools/bench.py [--shared DIR] [--models flowers,food-101,...]
                          [--rounds R] [--batch N] [--no-cli] [--json]

On each seed model (``../shared/models`` beside the repository) and each zoo
model (``../shared/models/zoo``), with real photos (``../shared/images``,
preprocessed as ``int8sqz run`` does) for the image models and seeded
random tensors for the others (a model int8sqz refuses is skipped, with
the reason printed):

* int8sqz ``invoke()`` at batch 1, 1 thread; and in the desktop runtimes'
  numerics (``Interpreter(numerics="builtin")``, ``"xnnpack"``);
* int8sqz on a batch of N images (default 32), 1 and 2 threads;
* ai-edge-litert's default interpreter (XNNPACK delegate; not bit-exact)
  with 1 and 2 threads, one image at a time;
* ai-edge-litert ``BUILTIN_WITHOUT_DEFAULT_DELEGATES`` (TFLite's optimized
  integer kernels), 1 thread;
* ai-edge-litert ``BUILTIN_REF`` (the reference kernels int8sqz follows);
* the tflite-micro Python interpreter;
* on the first model, int8sqz ``invoke()`` with and without the lock that
  serialises an interpreter's calls, in pairs of alternating order.

The measurements are interleaved: R rounds, each running every engine in
turn (10 invokes of a fast engine, 1 of a slow one or of a batch), so that a
change in the machine's load hits every engine alike; each figure is the
median of its samples (int8sqz at batch 1: 10 R >= 50 samples after
warm-up). Then it checks that int8sqz's outputs on every input it timed
(batch 1, and the batches on 1 and 2 threads) equal BUILTIN_REF's, and
says so.

Then the whole ``int8sqz run MODEL PHOTO`` process on the first model: with
an empty numba cache (a fresh ``NUMBA_CACHE_DIR``: everything compiles),
then with that cache warm (median of 5), and the peak resident memory of
those processes. The MobileNet v2 flowers model has targets of its own.

Then ``int8sqz eval`` on each model's folder of labeled photos (flowers,
plant-village), interleaved with the loop a user would write without it: a
plain Python loop over ai-edge-litert's default interpreter (XNNPACK, its
default single thread) with the same decoding (``int8sqz.image``), and the
decoding alone: images per second each (eval's own figure, from its first
file opened to its last image classified), eval's whole process time and
the top-1 counts of both (XNNPACK's are not the reference's).

It prints a table (ms per image, images per second, int8sqz / other) and
the issue's targets, each marked met or not; ``--json`` prints the same
figures as one JSON object instead.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MODEL_FILES = {
    "flowers": "squeezenet_v1.0_128_int8_flowers.tflite",
    "food-101": "squeezenet_v1.0_128_int8_food-101.tflite",
    "plant-village": "squeezenet_v1.0_128_int8_plant-village.tflite",
}
def _tool(name: str):
    """Another script of tools/, as a module."""
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


#: the zoo's models (under models/zoo), keyed as tools/make_golden.py keys them
ZOO_FILES = dict(_tool("make_golden").ZOO)
MODEL_FILES.update(ZOO_FILES)
#: photos per model (food-101 and the zoo's image models have none of their
#: own: any RGB photo will do); the other models get random tensors
PHOTO_DIRS = {"flowers": "flowers", "food-101": "flowers", "plant-village": "plant_village",
              **{k: "flowers" for k in ("mobilenet_v2-flowers", "mobilenet_v2-person",
                                        "fdmobilenet-flowers", "resnet8-cifar10",
                                        "ssd-person")}}
#: the model of the MobileNet v2 targets
MOBILENET = "mobilenet_v2-flowers"
TARGET_MOBILENET_VS_XNNPACK = 1.5

#: the issue's targets, on the first model
TARGET_LATENCY_VS_XNNPACK = 1.0  # issue 15
TARGET_WARM_S = 0.5  # issue 15
TARGET_COLD_S = 30.0
TARGET_RSS_MIB = 200.0
#: issue 12: int8sqz eval's images/s at least this fraction of the XNNPACK loop's
TARGET_EVAL_VS_XNNPACK_LOOP = 0.9

#: labeled photo folders (one sub-folder per class) for int8sqz eval
EVAL_DIRS = {"flowers": "flowers", "plant-village": "plant_village"}


# -- engines ---------------------------------------------------------------------------
class Engine:
    """One way of running the model: ``step()`` runs ``per_round`` inputs
    (images) and returns nothing; ``images`` is the number of images one
    ``step`` call handles."""

    def __init__(self, key, label, images=1, per_round=10):
        self.key = key
        self.label = label
        self.images = images
        self.per_round = per_round
        self.samples = []  # seconds per call of step()

    def step(self):
        raise NotImplementedError


class Int8sqzEngine(Engine):
    def __init__(self, key, label, path, inputs, batch, threads, per_round,
                 numerics="reference"):
        from int8sqz import Interpreter

        super().__init__(key, label, images=batch, per_round=per_round)
        self.numerics = numerics
        self.it = Interpreter(model_path=str(path), num_threads=threads, numerics=numerics)
        self.inp = self.it.get_input_details()[0]["index"]
        self.outs = [d["index"] for d in self.it.get_output_details()]
        if batch > 1:
            self.it.resize_tensor_input(self.inp, (batch,) + inputs.shape[1:])
        self.it.allocate_tensors()
        self.inputs = inputs
        self.batch = batch
        self.k = 0
        self.outputs = {}

    def _feed(self):
        n = len(self.inputs)
        if self.batch == 1:
            j = self.k % n
            self.it.set_tensor(self.inp, self.inputs[j:j + 1])
            return [j]
        self.it.set_tensor(self.inp, self.inputs[:self.batch])
        return list(range(self.batch))

    def step(self):
        fed = self._feed()
        self.it.invoke()
        self.k += 1
        return fed

    def record(self):
        """Run every input once more, keeping the outputs (for the check)."""
        n = len(self.inputs)
        for _ in range(n if self.batch == 1 else 1):
            fed = self.step()
            outs = [self.it.get_tensor(o) for o in self.outs]
            for row, j in enumerate(fed):
                self.outputs[j] = [out[row] for out in outs]


class LiteEngine(Engine):
    def __init__(self, key, label, path, inputs, threads, resolver, per_round):
        from ai_edge_litert.interpreter import Interpreter

        from int8sqz.testing.reference import registered_versions

        super().__init__(key, label, per_round=per_round)
        kw = {"num_threads": threads}
        if resolver is not None:
            kw["experimental_op_resolver_type"] = resolver
        # operator versions the reference does not register (the SSD's TILE 3)
        # set to the registered version of the same kernel
        self.it = Interpreter(model_content=registered_versions(Path(path).read_bytes()), **kw)
        self.it.allocate_tensors()
        self.inp = self.it.get_input_details()[0]["index"]
        self.outs = [d["index"] for d in self.it.get_output_details()]
        self.inputs = inputs
        self.k = 0

    def step(self):
        j = self.k % len(self.inputs)
        self.it.set_tensor(self.inp, self.inputs[j:j + 1])
        self.it.invoke()
        self.k += 1
        return [j]

    def output(self, j):
        """Every output for input j (without its batch axis)."""
        self.it.set_tensor(self.inp, self.inputs[j:j + 1])
        self.it.invoke()
        return [self.it.get_tensor(o)[0] for o in self.outs]


class MicroEngine(Engine):
    def __init__(self, key, label, path, inputs, per_round):
        from tflite_micro.python.tflite_micro import runtime

        from int8sqz.testing.reference import registered_versions

        super().__init__(key, label, per_round=per_round)
        self.it = runtime.Interpreter.from_bytes(registered_versions(Path(path).read_bytes()))
        self.inputs = inputs
        self.k = 0

    def step(self):
        j = self.k % len(self.inputs)
        self.it.set_input(self.inputs[j:j + 1], 0)
        self.it.invoke()
        self.k += 1
        return [j]


# -- helpers -------------------------------------------------------------------------------
def conv_macs(model) -> int:
    """Multiply-accumulates of the model's convolutions at batch 1."""
    total = 0
    for op in model.operators:
        if op.name == "CONV_2D":
            out = model.tensors[op.outputs[0]].shape
            flt = model.tensors[op.inputs[1]].shape
            total += int(np.prod(out[1:])) * int(np.prod(flt[1:]))
    return total


def photo_inputs(shared: Path, key: str, spec, n: int):
    from int8sqz.image import preprocess

    photos = sorted((shared / "images" / PHOTO_DIRS[key]).rglob("*.jpg"))
    if not photos:
        raise SystemExit(f"no photos under {shared / 'images' / PHOTO_DIRS[key]}")
    values = [preprocess(str(photos[k % len(photos)]), spec) for k in range(n)]
    return np.concatenate(values), [str(photos[k % len(photos)]) for k in range(n)]


def tensor_inputs(model, n: int):
    """n seeded random inputs of the model's (non-image) input: integers over
    the type's range, floats normal with standard deviation 4."""
    t = model.tensors[model.inputs[0]]
    rng = np.random.default_rng(n)
    shape = (n,) + tuple(t.shape[1:])
    if t.dtype.kind == "f":
        values = (rng.standard_normal(shape) * 4).astype(t.dtype)
    else:
        info = np.iinfo(t.dtype)
        values = rng.integers(info.min, info.max + 1, shape).astype(t.dtype)
    return values, [f"random {t.dtype} tensor {k}" for k in range(n)]


def _same(a, b) -> bool:
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


def time_engines(engines, rounds: int) -> None:
    """Warm-up, then ``rounds`` rounds running every engine in turn."""
    for e in engines:
        for _ in range(min(3, e.per_round)):
            e.step()
    gc_was = gc.isenabled()
    gc.disable()
    try:
        for _ in range(rounds):
            for e in engines:
                for _ in range(e.per_round):
                    t = time.perf_counter()
                    e.step()
                    e.samples.append(time.perf_counter() - t)
    finally:
        if gc_was:
            gc.enable()


def summary(e: Engine) -> dict:
    s = sorted(e.samples)
    med = statistics.median(s)
    return {
        "label": e.label,
        "samples": len(s),
        "images_per_call": e.images,
        "ms_per_image": 1e3 * med / e.images,
        "ms_per_image_p10": 1e3 * s[len(s) // 10] / e.images,
        "ms_per_image_p90": 1e3 * s[(9 * len(s)) // 10] / e.images,
        "images_per_s": e.images / med,
    }


def _numerics_engines(path, inputs) -> list:
    """int8sqz in the desktop runtimes' numerics, batch 1, 1 thread (each
    left out when int8sqz does not model one of the model's operators in
    it)."""
    from int8sqz.errors import UnsupportedError

    engines = []
    for numerics in ("builtin", "xnnpack"):
        try:
            engines.append(Int8sqzEngine(f"int8sqz_{numerics}_b1_t1",
                                         f"int8sqz invoke, numerics {numerics}, 1 thread",
                                         path, inputs, 1, 1, 3, numerics=numerics))
        except UnsupportedError:
            pass
    return engines


def bench_model(key: str, shared: Path, rounds: int, batch: int) -> dict:
    from ai_edge_litert.interpreter import OpResolverType

    from int8sqz import Interpreter
    from int8sqz.image import input_spec

    from int8sqz.errors import Int8sqzError

    path = shared / "models" / MODEL_FILES[key]
    try:
        model = Interpreter(model_path=str(path)).model
    except Int8sqzError as exc:
        return {"model": MODEL_FILES[key], "skipped": str(exc)}
    if key in PHOTO_DIRS:
        inputs, photos = photo_inputs(shared, key, input_spec(model), batch)
    else:
        inputs, photos = tensor_inputs(model, batch)
    engines = [
        Int8sqzEngine("int8sqz_b1_t1", "int8sqz invoke, batch 1, 1 thread", path, inputs, 1, 1,
                      10),
        Int8sqzEngine("int8sqz_bN_t1", f"int8sqz batch {batch}, 1 thread", path, inputs, batch,
                      1, 1),
        Int8sqzEngine("int8sqz_bN_t2", f"int8sqz batch {batch}, 2 threads", path, inputs, batch,
                      2, 1),
        *_numerics_engines(path, inputs),
        LiteEngine("xnnpack_t1", "litert default (XNNPACK), 1 thread", path, inputs, 1, None, 10),
        LiteEngine("xnnpack_t2", "litert default (XNNPACK), 2 threads", path, inputs, 2, None, 10),
        LiteEngine("builtin_t1", "litert BUILTIN_WITHOUT_DEFAULT_DELEGATES, 1 thread", path,
                   inputs, 1, OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES, 10),
        LiteEngine("builtin_ref", "litert BUILTIN_REF (reference kernels)", path, inputs, 1,
                   OpResolverType.BUILTIN_REF, 1),
    ]
    not_timed = {}
    try:
        engines.append(MicroEngine("micro", "tflite-micro Python interpreter", path, inputs, 1))
    except RuntimeError as exc:  # a model TFLite Micro cannot run (SSD: no TILE kernel)
        not_timed["micro"] = f"tflite-micro cannot run it: {str(exc).strip().splitlines()[-1]}"
    load_before = os.getloadavg()
    time_engines(engines, rounds)
    load_after = os.getloadavg()
    results = {e.key: summary(e) for e in engines}

    # the check: every input timed, int8sqz against BUILTIN_REF (its desktop
    # numerics against the runtime they reproduce)
    ref = next(e for e in engines if e.key == "builtin_ref")
    xnn = next(e for e in engines if e.key == "xnnpack_t1")
    opt = next(e for e in engines if e.key == "builtin_t1")
    want = {j: ref.output(j) for j in range(len(inputs))}
    truth = {"reference": want, "builtin": {j: opt.output(j) for j in want},
             "xnnpack": {j: xnn.output(j) for j in want}}
    checks = {}
    for e in engines:
        if isinstance(e, Int8sqzEngine):
            e.record()
            same = sum(_same(e.outputs[j], truth[e.numerics][j]) for j in want)
            checks[e.key] = {"equal": int(same), "inputs": len(want), "against": e.numerics}
    xnn_same = sum(_same(xnn.output(j), want[j]) for j in want)
    macs = conv_macs(model)
    b1 = results["int8sqz_b1_t1"]
    return {
        "model": MODEL_FILES[key],
        "conv_macs": macs,
        "int8sqz_gmac_per_s": macs / (b1["ms_per_image"] * 1e-3) / 1e9,
        "inputs": photos,
        "engines": results,
        "check": checks,
        "all_equal": all(c["equal"] == c["inputs"] for c in checks.values()),
        "xnnpack_equal_to_reference": {"equal": int(xnn_same), "inputs": len(want)},
        "loadavg_before": load_before,
        "loadavg_after": load_after,
        "not_timed": not_timed,
    }


# -- the lock around invoke() ---------------------------------------------------------------
def lock_cost(key: str, shared: Path, pairs: int = 300) -> dict:
    """invoke() at batch 1 with and without the lock that serialises an
    interpreter's calls (int8sqz.interpreter._serialised), timed in pairs
    whose order alternates, so that neither gets the other's warm cache."""
    from int8sqz import Interpreter
    from int8sqz.image import input_spec

    path = shared / "models" / MODEL_FILES[key]
    it = Interpreter(model_path=str(path))
    it.allocate_tensors()
    inputs, _ = photo_inputs(shared, key, input_spec(it.model), 1)
    it.set_tensor(it.get_input_details()[0]["index"], inputs[:1])
    locked = it.invoke
    unlocked = Interpreter.invoke.__wrapped__.__get__(it)
    for _ in range(10):
        locked()
    times = {locked: [], unlocked: []}
    for k in range(pairs):
        for f in ((locked, unlocked) if k % 2 == 0 else (unlocked, locked)):
            t = time.perf_counter()
            f()
            times[f].append(time.perf_counter() - t)
    a, b = times[locked], times[unlocked]
    return {
        "model": MODEL_FILES[key], "pairs": pairs,
        "locked_ms": statistics.median(a) * 1e3, "unlocked_ms": statistics.median(b) * 1e3,
        "median_difference_us": statistics.median(x - y for x, y in zip(a, b)) * 1e6,
        "call_overhead_us": _serialised_overhead() * 1e6,
    }


def lock_line(lock: dict) -> str:
    return (f"the lock around invoke() ({lock['model']}, batch 1, {lock['pairs']} pairs in "
            f"alternating order): {lock['locked_ms']:.3f} ms with it, "
            f"{lock['unlocked_ms']:.3f} ms without; median difference "
            f"{lock['median_difference_us']:+.1f} us; the lock adds "
            f"{lock['call_overhead_us']:.2f} us to a call")


def _serialised_overhead(calls: int = 200_000) -> float:
    """Seconds the lock wrapper adds to one call (uncontended): a method
    that does nothing, with and without it, best of 5."""
    import threading

    from int8sqz.interpreter import _serialised

    class Thing:
        def __init__(self):
            self._lock = threading.Lock()

        def bare(self):
            pass

        wrapped = _serialised(bare)

    thing = Thing()
    best = {}
    for name in ("bare", "wrapped") * 5:
        f = getattr(thing, name)
        t = time.perf_counter()
        for _ in range(calls):
            f()
        best[name] = min(best.get(name, 1e9), (time.perf_counter() - t) / calls)
    return best["wrapped"] - best["bare"]


# -- the command line process ------------------------------------------------------------------
def _int8sqz_command():
    script = Path(sys.executable).with_name("int8sqz")
    if script.is_file():
        return [str(script)]
    found = shutil.which("int8sqz")
    return [found] if found else [sys.executable, "-m", "int8sqz"]


#: runs argv in a child of this small process: a child of the benchmark itself
#: would inherit its peak resident memory (Linux keeps the high-water mark
#: across fork and exec)
_LAUNCHER = """
import json, os, sys, time
t = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - t
sys.stderr.write("\\n@@bench " + json.dumps([wall, usage.ru_maxrss]) + "\\n")
sys.exit(os.waitstatus_to_exitcode(status))
"""


def _run_measured(argv, env):
    proc = subprocess.run([sys.executable, "-c", _LAUNCHER] + argv, env=env,
                          capture_output=True, text=True)
    err, _, tail = proc.stderr.rpartition("\n@@bench ")
    wall, rss_kib = json.loads(tail)
    return {
        "wall_s": wall,
        "max_rss_mib": rss_kib / 1024.0,  # ru_maxrss is in KiB on Linux
        "returncode": proc.returncode,
        "stdout": proc.stdout,
        "stderr": err,
    }


def bench_cli(shared: Path, key: str, warm_runs: int = 5) -> dict:
    model = shared / "models" / MODEL_FILES[key]
    photo = sorted((shared / "images" / PHOTO_DIRS[key]).rglob("*.jpg"))[0]
    argv = _int8sqz_command() + ["run", str(model), str(photo)]
    with tempfile.TemporaryDirectory(prefix="int8sqz-bench-cache-") as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        cold = _run_measured(argv, env)
        warm = [_run_measured(argv, env) for _ in range(warm_runs)]
    bad = [r for r in [cold] + warm if r["returncode"] != 0]
    return {
        "command": "int8sqz run " + " ".join(Path(a).name for a in argv[-2:]),
        "cold_s": cold["wall_s"],
        "cold_max_rss_mib": cold["max_rss_mib"],
        "cold_stderr": cold["stderr"].strip(),
        "warm_s": statistics.median(r["wall_s"] for r in warm),
        "warm_runs": [r["wall_s"] for r in warm],
        "warm_max_rss_mib": max(r["max_rss_mib"] for r in warm),
        "warm_stderr": warm[0]["stderr"].strip(),
        "same_output": len({r["stdout"] for r in [cold] + warm}) == 1,
        "failed": [r["stderr"] for r in bad],
    }


# -- int8sqz eval against a plain XNNPACK loop ---------------------------------------------
def _xnnpack_loop(path, entries, spec) -> dict:
    """What a user writes without int8sqz eval: decode each file as
    int8sqz does, invoke ai-edge-litert's default interpreter, count."""
    from ai_edge_litert.interpreter import Interpreter

    from int8sqz.errors import ImageError
    from int8sqz.image import preprocess

    it = Interpreter(model_path=str(path))
    it.allocate_tensors()
    inp = it.get_input_details()[0]["index"]
    out = it.get_output_details()[0]["index"]
    images = correct = 0
    t, cpu = time.perf_counter(), time.thread_time()
    for file, true, _ in entries:
        try:
            x = preprocess(file, spec)
        except ImageError:
            continue
        it.set_tensor(inp, x)
        it.invoke()
        correct += int(np.argmax(it.get_tensor(out)[0])) == true  # ties: lower index
        images += 1
    seconds = time.perf_counter() - t
    return {"images": images, "top1_correct": correct, "seconds": seconds,
            "images_per_s": images / seconds,
            "cpu_ms_per_image": 1e3 * (time.thread_time() - cpu) / images}


def _decode_only(entries, spec) -> dict:
    from int8sqz.errors import ImageError
    from int8sqz.image import preprocess

    images = 0
    t, cpu = time.perf_counter(), time.thread_time()
    for file, _, _ in entries:
        try:
            preprocess(file, spec)
            images += 1
        except ImageError:
            pass
    seconds = time.perf_counter() - t
    return {"images": images, "seconds": seconds, "images_per_s": images / seconds,
            "cpu_ms_per_image": 1e3 * (time.thread_time() - cpu) / images}


def bench_eval(key: str, shared: Path, rounds: int) -> dict:
    """int8sqz eval (the whole command, a process of its own), the XNNPACK
    loop and the decoding alone, in ``rounds`` interleaved rounds."""
    from int8sqz import Interpreter
    from int8sqz.classify import resolve_labels
    from int8sqz.evaluate import class_names, load_dataset
    from int8sqz.image import input_spec

    path = shared / "models" / MODEL_FILES[key]
    folder = shared / "images" / EVAL_DIRS[key]
    spec = input_spec(Interpreter(model_path=str(path)).model)
    n = _output_classes(path)
    dataset = load_dataset(str(folder), class_names(resolve_labels(str(path), n), n))
    argv = _int8sqz_command() + ["eval", str(path), str(folder), "--json"]
    evals, loops, decodes = [], [], []
    _xnnpack_loop(path, dataset.entries[:4], spec)  # warm-up (page cache, delegate)
    for _ in range(rounds):
        r = _run_measured(argv, dict(os.environ))
        if r["returncode"] != 0:
            raise SystemExit(f"int8sqz eval failed: {r['stderr']}")
        doc = json.loads(r["stdout"])
        doc["process_s"] = r["wall_s"]
        doc["cpu_ms_per_image"] = 1e3 * doc["cpu_seconds"] / doc["images"]
        doc["cores_used"] = doc["cpu_seconds"] / doc["wall_seconds"]
        doc["max_rss_mib"] = r["max_rss_mib"]
        evals.append(doc)
        loops.append(_xnnpack_loop(path, dataset.entries, spec))
        decodes.append(_decode_only(dataset.entries, spec))

    def med(rows, k):
        return statistics.median(r[k] for r in rows)

    first = evals[0]
    return {
        "folder": str(folder),
        "files": len(dataset.entries),
        "rounds": rounds,
        "eval": {
            "images": first["images"],
            "top1_correct": first["top1_correct"],
            "top5_correct": first["top5_correct"],
            "images_per_s": med(evals, "images_per_second"),
            "wall_s": med(evals, "wall_seconds"),
            "decode_s": med(evals, "decode_seconds"),
            "inference_s": med(evals, "inference_seconds"),
            "cpu_ms_per_image": med(evals, "cpu_ms_per_image"),
            "cores_used": med(evals, "cores_used"),
            "process_s": med(evals, "process_s"),
            "max_rss_mib": max(r["max_rss_mib"] for r in evals),
            "threads": first["threads"],
            "batch_size": first["batch_size"],
            "same_counts": len({(r["top1_correct"], r["top5_correct"]) for r in evals}) == 1,
        },
        "xnnpack_loop": {
            "images": loops[0]["images"],
            "top1_correct": loops[0]["top1_correct"],
            "images_per_s": med(loops, "images_per_s"),
            "seconds": med(loops, "seconds"),
            "cpu_ms_per_image": med(loops, "cpu_ms_per_image"),
        },
        "decode_only": {"images_per_s": med(decodes, "images_per_s"),
                        "seconds": med(decodes, "seconds"),
                        "cpu_ms_per_image": med(decodes, "cpu_ms_per_image")},
        "loadavg": os.getloadavg(),
    }


def _output_classes(path) -> int:
    from int8sqz import load_model

    m = load_model(str(path))
    return int(m.tensors[m.outputs[0]].shape[-1])


# -- report ---------------------------------------------------------------------------------
def _latency_targets(r: dict, ratio: float, prefix: str = "") -> list:
    """int8sqz at batch 1 within ``ratio`` x XNNPACK, and faster than builtin."""
    e = r["engines"]
    b1 = e["int8sqz_b1_t1"]["ms_per_image"]
    xnn, builtin = e["xnnpack_t1"]["ms_per_image"], e["builtin_t1"]["ms_per_image"]
    return [
        (f"{prefix}invoke() batch 1, 1 thread <= {ratio} x XNNPACK 1 thread",
         f"{b1 / xnn:.2f}x ({b1:.2f} vs {xnn:.2f} ms)", b1 <= ratio * xnn),
        (f"{prefix}invoke() batch 1, 1 thread faster than litert builtin 1 thread",
         f"{b1:.2f} vs {builtin:.2f} ms", b1 < builtin),
    ]


def _equal_target(r: dict, prefix: str = ""):
    return (f"{prefix}outputs equal BUILTIN_REF on every timed input",
            "yes" if r["all_equal"] else "NO", r["all_equal"])


def targets(first: dict, cli: dict | None, mobilenet: dict | None = None,
            ev: dict | None = None) -> list:
    """The issue's targets on the first model benchmarked (and on MobileNet v2
    when it ran)."""
    e = first["engines"]
    rows = _latency_targets(first, TARGET_LATENCY_VS_XNNPACK) + [
        ("batch throughput, 2 threads >= XNNPACK 2 threads one at a time",
         f"{e['int8sqz_bN_t2']['images_per_s']:.0f} vs "
         f"{e['xnnpack_t2']['images_per_s']:.0f} images/s",
         e["int8sqz_bN_t2"]["images_per_s"] >= e["xnnpack_t2"]["images_per_s"]),
        _equal_target(first),
    ]
    if mobilenet is not None:
        rows += _latency_targets(mobilenet, TARGET_MOBILENET_VS_XNNPACK, "MobileNet v2 ")
        rows.append(_equal_target(mobilenet, "MobileNet v2 "))
    if cli is not None:
        rows += [
            (f"int8sqz run, warm cache <= {TARGET_WARM_S} s", f"{cli['warm_s']:.2f} s",
             cli["warm_s"] <= TARGET_WARM_S),
            (f"int8sqz run, empty cache <= {TARGET_COLD_S:.0f} s", f"{cli['cold_s']:.1f} s",
             cli["cold_s"] <= TARGET_COLD_S),
            (f"int8sqz run, peak resident memory <= {TARGET_RSS_MIB:.0f} MiB",
             f"{cli['warm_max_rss_mib']:.0f} MiB warm, {cli['cold_max_rss_mib']:.0f} MiB cold",
             cli["warm_max_rss_mib"] <= TARGET_RSS_MIB),
        ]
    if ev:
        for key, r in ev.items():
            mine, loop = r["eval"]["images_per_s"], r["xnnpack_loop"]["images_per_s"]
            rows.append((f"int8sqz eval >= {TARGET_EVAL_VS_XNNPACK_LOOP} x the XNNPACK loop's "
                         f"images/s ({key} folder)",
                         f"{mine:.0f} vs {loop:.0f} images/s ({mine / loop:.2f}x)",
                         mine >= TARGET_EVAL_VS_XNNPACK_LOOP * loop))
    return [{"target": t, "measured": m, "met": bool(ok)} for t, m, ok in rows]


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for name in ("numpy", "numba", "ai_edge_litert", "tflite_micro"):
        try:
            from importlib.metadata import version

            versions[name] = version(name.replace("_", "-"))
        except Exception:  # noqa: BLE001 - informative only
            versions[name] = None
    from int8sqz.kernels.simd import target_has_vnni

    return {"cpu": cpu, "cpus": os.cpu_count(), "python": platform.python_version(),
            "vnni": target_has_vnni(), **versions}


def print_table(doc: dict) -> None:
    m = doc["machine"]
    print(f"int8sqz benchmark: {m['cpu']}, {m['cpus']} CPUs, AVX-512 VNNI "
          f"{'yes' if m['vnni'] else 'no'}; python {m['python']}, numba {m['numba']}, "
          f"ai-edge-litert {m['ai_edge_litert']}")
    print(f"medians of interleaved samples ({doc['rounds']} rounds)")
    for key, r in doc["models"].items():
        if "skipped" in r:
            print()
            print(f"{key}: {r['model']}: skipped, int8sqz refuses it: {r['skipped']}")
            continue
        e = r["engines"]
        b1 = e["int8sqz_b1_t1"]
        print()
        print(f"{key}: {r['model']}, {r['conv_macs'] / 1e6:.1f} M MACs "
              f"(int8sqz {r['int8sqz_gmac_per_s']:.0f} GMAC/s at batch 1); load average "
              f"{r['loadavg_before'][0]:.2f} -> {r['loadavg_after'][0]:.2f}")
        print(f"  {'':52s} {'ms/image':>9s} {'images/s':>9s} {'int8sqz/this':>13s} {'n':>4s}")
        for k, s in e.items():
            if k == "int8sqz_b1_t1":
                ratio = "-"
            elif k.startswith("int8sqz_bN"):
                ratio = f"{s['images_per_s'] / b1['images_per_s']:.2f}x thr"
            elif k == "xnnpack_t2":
                thr = e["int8sqz_bN_t2"]["images_per_s"] / s["images_per_s"]
                ratio = f"{b1['ms_per_image'] / s['ms_per_image']:.2f}x, thr {thr:.2f}x"
            else:
                ratio = f"{b1['ms_per_image'] / s['ms_per_image']:.3f}x"
            print(f"  {s['label']:52s} {s['ms_per_image']:9.2f} {s['images_per_s']:9.1f} "
                  f"{ratio:>13s} {s['samples']:4d}")
        for why in r.get("not_timed", {}).values():
            print(f"  not timed: {why}")
        checks = ", ".join(f"{k}: {c['equal']}/{c['inputs']}" for k, c in r["check"].items())
        verdict = "EQUAL to" if r["all_equal"] else "DIFFERENT from"
        x = r["xnnpack_equal_to_reference"]
        print(f"  outputs: int8sqz {verdict} BUILTIN_REF on every timed input, its builtin "
              f"and xnnpack numerics to litert's ({checks}); XNNPACK equals BUILTIN_REF on "
              f"{x['equal']}/{x['inputs']}")
    if doc.get("lock"):
        print()
        print(lock_line(doc["lock"]))
    cli = doc.get("cli")
    if cli:
        print()
        print(f"{cli['command']} (whole process): empty cache {cli['cold_s']:.1f} s, "
              f"{cli['cold_max_rss_mib']:.0f} MiB; warm cache {cli['warm_s']:.2f} s (median of "
              f"{len(cli['warm_runs'])}), {cli['warm_max_rss_mib']:.0f} MiB; same output: "
              f"{'yes' if cli['same_output'] else 'NO'}")
        if cli["cold_stderr"]:
            print(f"  stderr of the empty-cache run: {cli['cold_stderr']}")
    for key, r in (doc.get("eval") or {}).items():
        e, x, d = r["eval"], r["xnnpack_loop"], r["decode_only"]
        print()
        print(f"int8sqz eval on {r['folder']} ({key} model, {r['files']} files; medians of "
              f"{r['rounds']} interleaved rounds):")
        eval_label = f"int8sqz eval ({e['threads']} threads, batch {e['batch_size']})"
        print(f"  {'':52s} {'images/s':>9s} {'seconds':>8s} {'CPU ms/img':>10s} {'top-1':>7s}")
        for label, row, top in [
                (eval_label, e, f"{e['top1_correct']:>3}/{e['images']:<3}"),
                ("plain loop: int8sqz.image + litert XNNPACK, 1 thread", x,
                 f"{x['top1_correct']:>3}/{x['images']:<3}"),
                ("decoding alone (int8sqz.image, 1 thread)", d, "")]:
            secs = row.get("wall_s", row.get("seconds"))
            print(f"  {label:52s} {row['images_per_s']:9.1f} {secs:8.3f} "
                  f"{row['cpu_ms_per_image']:10.2f} {top:>7s}")
        print(f"  eval: decoding {e['decode_s']:.3f} s summed over its threads, inference "
              f"{e['inference_s']:.3f} s, {e['cores_used']:.2f} CPUs busy on average; whole "
              f"process {e['process_s']:.2f} s, {e['max_rss_mib']:.0f} MiB; counts the same in "
              f"every round: {'yes' if e['same_counts'] else 'NO'}; load average "
              f"{r['loadavg'][0]:.2f}")
    print()
    first = next(k for k, r in doc["models"].items() if "skipped" not in r)
    extra = MOBILENET in _benchmarked(doc) and MOBILENET != first
    print(f"targets ({first}{', ' + MOBILENET if extra else ''}):")
    for t in doc["targets"]:
        print(f"  {'met    ' if t['met'] else 'NOT met'}  {t['target']}: {t['measured']}")


def print_markdown(doc: dict) -> None:
    """The first model's table and the targets, as Markdown (docs/performance.md)."""
    key = next(k for k, r in doc["models"].items() if "skipped" not in r)
    r = doc["models"][key]
    e = r["engines"]
    b1 = e["int8sqz_b1_t1"]
    print("| engine | ms / image | images / s | int8sqz batch 1 / this |")
    print("|---|---:|---:|---:|")
    for k, s in e.items():
        ratio = "" if k == "int8sqz_b1_t1" else f"{b1['ms_per_image'] / s['ms_per_image']:.3f}"
        print(f"| {s['label']} | {s['ms_per_image']:.2f} | {s['images_per_s']:.1f} | {ratio} |")
    x = r["xnnpack_equal_to_reference"]
    checks = ", ".join(f"{c['equal']}/{c['inputs']}" for c in r["check"].values())
    print()
    print(f"Outputs: int8sqz {'equal to' if r['all_equal'] else 'DIFFERENT from'} "
          f"BUILTIN_REF on every timed input ({checks} for batch 1, batch "
          f"{doc['batch']} on 1 and 2 threads; then the builtin and xnnpack numerics against "
          f"litert's); XNNPACK's equal BUILTIN_REF on {x['equal']}/{x['inputs']}. "
          f"Load average {r['loadavg_before'][0]:.2f} before, {r['loadavg_after'][0]:.2f} after.")
    if doc.get("lock"):
        print()
        print(lock_line(doc["lock"]))
    cli = doc.get("cli")
    if cli:
        print()
        print(f"`{cli['command']}`, whole process: empty cache {cli['cold_s']:.1f} s "
              f"({cli['cold_max_rss_mib']:.0f} MiB), warm cache {cli['warm_s']:.2f} s "
              f"({cli['warm_max_rss_mib']:.0f} MiB).")
    for k, r in (doc.get("eval") or {}).items():
        e, x, d = r["eval"], r["xnnpack_loop"], r["decode_only"]
        print()
        print(f"`int8sqz eval` on `{Path(r['folder']).name}` ({k} model, {r['files']} files), "
              f"medians of {r['rounds']} interleaved rounds:")
        print()
        print("| | images / s | seconds | CPU ms / image | top-1 |")
        print("|---|---:|---:|---:|---:|")
        print(f"| int8sqz eval ({e['threads']} threads, batch {e['batch_size']}) | "
              f"{e['images_per_s']:.1f} | {e['wall_s']:.3f} | {e['cpu_ms_per_image']:.2f} | "
              f"{e['top1_correct']}/{e['images']} |")
        print(f"| plain loop: int8sqz.image + litert XNNPACK, 1 thread | {x['images_per_s']:.1f} "
              f"| {x['seconds']:.3f} | {x['cpu_ms_per_image']:.2f} | "
              f"{x['top1_correct']}/{x['images']} |")
        print(f"| decoding alone (int8sqz.image, 1 thread) | {d['images_per_s']:.1f} | "
              f"{d['seconds']:.3f} | {d['cpu_ms_per_image']:.2f} | |")
        print()
        print(f"eval: decoding {e['decode_s']:.3f} s (summed over its threads), inference "
              f"{e['inference_s']:.3f} s, {e['cores_used']:.2f} CPUs busy on average; whole "
              f"process {e['process_s']:.2f} s; load average {r['loadavg'][0]:.2f}.")
    print()
    print("| target | measured | |")
    print("|---|---|---|")
    for t in doc["targets"]:
        print(f"| {t['target']} | {t['measured']} | {'met' if t['met'] else '**not met**'} |")


def _benchmarked(doc: dict) -> dict:
    """The models that ran (not skipped), in order."""
    return {k: r for k, r in doc["models"].items() if "skipped" not in r}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--shared", type=Path, default=Path(os.environ.get(
        "INT8SQZ_SHARED", ROOT.parent / "shared")), help="directory with models/ and images/")
    p.add_argument("--models", default=",".join(MODEL_FILES),
                   help="comma-separated seed models (the first one gets the targets and "
                        "the command-line timing)")
    p.add_argument("--rounds", type=int, default=8,
                   help="interleaved rounds (10 samples of each fast engine per round)")
    p.add_argument("--batch", type=int, default=32, help="images per batch (and inputs timed)")
    p.add_argument("--no-cli", action="store_true", help="skip the int8sqz run process timings")
    p.add_argument("--no-eval", action="store_true",
                   help="skip int8sqz eval against the XNNPACK loop")
    p.add_argument("--eval-rounds", type=int, default=5,
                   help="interleaved rounds of int8sqz eval and the XNNPACK loop")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--markdown", action="store_true",
                   help="print the first model's table and the targets in Markdown")
    args = p.parse_args(argv)
    keys = [k.strip() for k in args.models.split(",") if k.strip()]
    for k in keys:
        if k not in MODEL_FILES:
            p.error(f"unknown model {k!r}; known: {', '.join(MODEL_FILES)}")
    doc = {"machine": machine(), "rounds": args.rounds, "batch": args.batch, "models": {}}
    for k in keys:
        doc["models"][k] = bench_model(k, args.shared, args.rounds, args.batch)
    ran = _benchmarked(doc)
    if not ran:
        raise SystemExit("int8sqz refuses every model asked for: nothing to benchmark")
    first = next(iter(ran))
    doc["lock"] = lock_cost(first, args.shared)
    doc["cli"] = None if args.no_cli or first not in PHOTO_DIRS else bench_cli(args.shared,
                                                                               first)
    doc["eval"] = None if args.no_eval else {
        k: bench_eval(k, args.shared, args.eval_rounds) for k in ran if k in EVAL_DIRS}
    doc["targets"] = targets(ran[first], doc["cli"], ran.get(MOBILENET), doc["eval"])
    if args.json:
        print(json.dumps(doc, indent=1))
    elif args.markdown:
        print_markdown(doc)
    else:
        print_table(doc)
    ok = all(r["all_equal"] for r in _benchmarked(doc).values())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
