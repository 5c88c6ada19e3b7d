"""Accuracy of an image classifier over a folder of labeled images:
``int8sqz eval MODEL DATA_DIR``.

The data are laid out as Keras' ``image_dataset_from_directory`` reads
them: one sub-folder of DATA_DIR per class, its images anywhere below it.
Every image goes through the preprocessing and the classifier of
``int8sqz run`` (:class:`int8sqz.classify.Classifier`, the same code), so
``eval`` and ``run`` agree image by image::

    from int8sqz.classify import Classifier, resolve_labels
    from int8sqz.evaluate import class_names, evaluate, load_dataset

    clf = Classifier("model.tflite", threads=2)
    names = class_names(resolve_labels("model.tflite", clf.num_classes), clf.num_classes)
    result = evaluate(clf, load_dataset("photos/", names), decoders=2)
    print(result["top1"], result["top5"])

Public names:

- :func:`load_dataset`: DATA_DIR's class folders matched to the class
  names (:func:`match_folders`) and the files below them, a
  :class:`Dataset`;
- :func:`match_folders`: folder names -> class indices: exact, then
  ignoring case, the separators ``_``, ``-`` and space, and a plural ``s``
  (:func:`name_key`); when no folder matches by name and there are as many
  folders as classes, sorted folder order is class order (as Keras assigns
  it);
- :func:`evaluate`: decodes in threads beside the inference, classifies in
  batches, counts; returns the results as a JSON-ready dict (the keys are
  listed in its docstring);
- :func:`against`: a result compared with the same data set's result in
  another numerics (the images whose top-1 class differs);
- :func:`summary_text`, :func:`result_json`, :func:`images_csv`,
  :func:`write_report`: the human summary, the JSON object, the CSV of
  every image, the report folder (JSON, CSV, confusion matrix picture from
  :mod:`int8sqz.confusion_svg`).

The ``int8sqz eval`` command (its arguments and exit statuses) is in
:mod:`int8sqz.cli`.

Files whose name starts with a dot (and such folders) are not data, as
elsewhere on Unix; files at the top of DATA_DIR are not in any class and
are left alone. Every other file below a class folder is an image to
classify: one that does not decode (not an image, truncated, corrupt,
refused as a possible decompression bomb) is counted in ``unreadable``,
listed and skipped.
"""

from __future__ import annotations

import csv
import io
import json
import os
import stat
import sys
import time
from collections import deque

from .constants import (
    DEFAULT_BATCH_SIZE, DEFAULT_MAX_INPUT_BYTES, DEFAULT_MAX_PIXELS, DEFAULT_TOP_K, NUMERICS,
    RESIZE_METHODS,
)
from .errors import ComputeError, DataError, ImageError
from .files import display, path_fields, write_text

__all__ = [
    "Dataset", "NUMERICS", "REPORT_FILES", "against", "class_folders", "class_names", "evaluate",
    "images_csv", "load_dataset", "match_folders", "name_key", "result_json", "summary_text",
    "write_report",
]

#: the files ``--report DIR`` writes
REPORT_FILES = ("eval.json", "images.csv", "confusion.svg")

_SEPARATORS = "_- "


# -- data --------------------------------------------------------------------------------
class Dataset:
    """A folder of labeled images.

    - ``root``: DATA_DIR as given;
    - ``names``: the class names, in class order;
    - ``folders``: per class, the name of its folder, or None (no folder);
    - ``entries``: ``(path, class index, problem)`` per file, in order;
      ``problem`` is None, or why the file cannot be an image (a dangling
      symbolic link, a FIFO, a folder that cannot be read);
    - ``sorted_order``: True when no folder name matched a label and the
      folders were taken in sorted order (Keras' class order).
    """

    def __init__(self, root, names, folders, entries, sorted_order):
        self.root = root
        self.names = list(names)
        self.folders = list(folders)
        self.entries = list(entries)
        self.sorted_order = sorted_order


def class_names(labels, num_classes: int) -> list:
    """The labels, or the class indices as names ("0", "1", ...) without labels."""
    return list(labels) if labels is not None else [str(i) for i in range(num_classes)]


def name_key(name: str) -> str:
    """``name`` compared loosely: case folded, without ``_``, ``-`` and
    spaces, and without one trailing ``s`` (``"Sun_Flowers"`` ->
    ``"sunflower"``)."""
    key = "".join(c for c in name.casefold() if c not in _SEPARATORS)
    return key[:-1] if len(key) > 1 and key.endswith("s") else key


def match_folders(folders, names, where: str = "DATA_DIR"):
    """The class index of each folder name in ``folders`` (sorted), and
    whether sorted order was used: ``(classes, sorted_order)``.

    A folder takes the class whose name equals its own, else the one whose
    :func:`name_key` equals its own. When no folder matches by name and
    there are as many folders as classes, the folders in sorted order are
    the classes in order. Otherwise a folder that matches no class, matches
    several, or shares its class with another folder is a
    :class:`DataError` naming it and the class names.
    """
    folders = list(folders)
    exact, loose = {}, {}
    for i, n in enumerate(names):
        exact.setdefault(n, []).append(i)
        loose.setdefault(name_key(n), []).append(i)
    found, unmatched, ambiguous = {}, [], []
    for f in folders:
        hits = exact.get(f) or loose.get(name_key(f), [])
        if len(hits) == 1:
            found[f] = hits[0]
        elif hits:
            ambiguous.append((f, hits))
        else:
            unmatched.append(f)
    listing = f"{len(names)} classes: {', '.join(names)}"
    if not found and not ambiguous:
        if len(folders) == len(names):
            return list(range(len(folders))), True
        raise DataError(
            f"{where}: no folder name matches a class ({_quoted(folders)}; {listing}), and "
            f"there {'is' if len(folders) == 1 else 'are'} {len(folders)} "
            f"folder{'s' if len(folders) != 1 else ''} for {len(names)} classes, so sorted "
            f"folder order cannot be the class order either"
        )
    if unmatched:
        which = "folder" if len(unmatched) == 1 else "folders"
        raise DataError(
            f"{where}: {which} {_quoted(unmatched)} {'matches' if len(unmatched) == 1 else 'match'}"
            f" no class ({listing}); folder names are compared with the class names exactly, "
            f"then ignoring case, '_', '-', spaces and a plural 's'"
        )
    if ambiguous:
        f, hits = ambiguous[0]
        raise DataError(
            f"{where}: folder '{f}' matches {len(hits)} classes ("
            f"{', '.join(f'{i} {names[i]}' for i in hits)}), expected one"
        )
    owner = {}
    for f in folders:
        c = found[f]
        if c in owner:
            raise DataError(
                f"{where}: folders '{owner[c]}' and '{f}' both match class {c} '{names[c]}', "
                f"expected one folder per class"
            )
        owner[c] = f
    return [found[f] for f in folders], False


def _quoted(items) -> str:
    return ", ".join(f"'{x}'" for x in items)


def _visible(name: str) -> bool:
    return not name.startswith(".")


def class_folders(root) -> list:
    """The class folders of ``root``: its visible sub-folders, sorted by
    name (as Keras sorts them); :class:`DataError` when ``root`` is missing,
    not a folder, or has none."""
    label = os.fspath(root)
    if not os.path.exists(root):
        raise DataError(f"{label}: no such folder")
    if not os.path.isdir(root):
        raise DataError(f"{label}: is a file, expected a folder with one sub-folder of images "
                        f"per class")
    try:
        names = os.listdir(root)
    except OSError as exc:
        raise DataError(f"{label}: cannot read the folder ({exc.strerror})") from None
    folders = sorted(n for n in names if _visible(n) and os.path.isdir(os.path.join(root, n)))
    if not folders:
        files = sum(1 for n in names if _visible(n))
        what = f"only {files} file{'s' if files != 1 else ''}" if files else "the folder is empty"
        raise DataError(f"{label}: no class folders ({what}); expected one sub-folder of images "
                        f"per class")
    return folders


def _files_below(top) -> list:
    """``(path, problem)`` for every visible file below ``top``, folders and
    files in name order; symbolic links followed, each folder once."""
    out, seen = [], set()

    def unreadable(exc):
        out.append((exc.filename, f"cannot read the folder ({exc.strerror})"))

    for dirpath, dirnames, filenames in os.walk(top, onerror=unreadable, followlinks=True):
        try:
            st = os.stat(dirpath)
        except OSError as exc:
            unreadable(exc)
            dirnames[:] = []
            continue
        if (st.st_dev, st.st_ino) in seen:  # a link back up: walked already
            dirnames[:] = []
            continue
        seen.add((st.st_dev, st.st_ino))
        dirnames[:] = sorted(d for d in dirnames if _visible(d))
        for name in sorted(filenames):
            if _visible(name):
                path = os.path.join(dirpath, name)
                out.append((path, _not_a_file(path)))
    return out


def _not_a_file(path):
    """Why ``path`` cannot be opened as an image file without risk (a FIFO
    would block the reader), or None for a regular file."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return "a dangling symbolic link, expected an image file"
    except OSError as exc:
        return f"cannot read the file ({exc.strerror})"
    return None if stat.S_ISREG(st.st_mode) else "not a regular file, expected an image file"


def load_dataset(root, names, *, limit: int | None = None) -> Dataset:
    """The class folders of ``root`` matched to the class ``names``
    (:func:`match_folders`) and the files below them.

    With ``limit``, at most that many files, taken in turn from each class
    folder (the first file of each, then the second, ...), so that a quick
    run sees every class. :class:`DataError` when ``root`` is not a folder
    of class folders that fit the names, or holds no file at all.
    """
    label = os.fspath(root)
    folders = class_folders(root)
    classes, sorted_order = match_folders(folders, names, label)
    per_folder = [_files_below(os.path.join(root, f)) for f in folders]
    if not any(per_folder):
        raise DataError(f"{label}: no files in its {len(folders)} class folder"
                        f"{'s' if len(folders) != 1 else ''} ({_quoted(folders)}); expected "
                        f"images")
    entries, turn = [], []
    for c, files in zip(classes, per_folder):
        for j, (path, problem) in enumerate(files):
            turn.append((j, len(turn)))
            entries.append((path, c, problem))
    if limit is not None and limit < len(entries):
        # the first file of every folder, then the second, ...; kept in folder order
        keep = sorted(k for _, k in sorted(turn)[:limit])
        entries = [entries[k] for k in keep]
    by_class = [None] * len(names)
    for f, c in zip(folders, classes):
        by_class[c] = f
    return Dataset(label, names, by_class, entries, sorted_order)


# -- counting ----------------------------------------------------------------------------
class _Tally:
    """The counts of one evaluation, image by image."""

    def __init__(self, names, folders, k: int):
        n = len(names)
        self.names = names
        self.folders = folders
        self.k = k
        self.confusion = [[0] * n for _ in range(n)]
        self.top5 = [0] * n
        self.topk = [0] * n
        self.files = []  # per file: its row of images_csv
        self.unreadable = []  # (path, message)
        self.failed = []  # (path, message): the model could not compute the image

    def add(self, path, true: int, scores) -> None:
        from .classify import top_k

        order = top_k(scores, len(scores))
        rank = order.index(true) + 1
        predicted = order[0]
        self.confusion[true][predicted] += 1
        self.top5[true] += rank <= min(5, len(scores))
        self.topk[true] += rank <= self.k
        self.files.append({**path_fields("file", path), "true": true, "predicted": predicted,
                           "score": scores[predicted], "rank": rank, "error": None})

    def skip(self, path, true: int, message: str, failed: bool) -> None:
        (self.failed if failed else self.unreadable).append((path, message))
        self.files.append({**path_fields("file", path), "true": true, "predicted": None,
                           "score": None, "rank": None, "error": message})

    def result(self) -> dict:
        n = len(self.names)
        conf = self.confusion
        images = [sum(row) for row in conf]
        predicted = [sum(conf[t][p] for t in range(n)) for p in range(n)]
        total = sum(images)
        top1 = sum(conf[c][c] for c in range(n))
        top5 = sum(self.top5)
        out = {
            "images": total,
            "unreadable": len(self.unreadable),
            "failed": len(self.failed),
            "top1_correct": top1,
            "top5_correct": top5,
        }
        if self.k != 5:
            out["topk_correct"] = sum(self.topk)
        out["top1"] = top1 / total if total else None
        out["top5"] = top5 / total if total else None
        if self.k != 5:
            out["topk"] = out["topk_correct"] / total if total else None
        out["top_k"] = self.k
        out["classes"] = [
            {
                "index": c,
                "label": self.names[c],
                "folder": None if self.folders[c] is None else display(self.folders[c]),
                "images": images[c],
                "top1_correct": conf[c][c],
                "top5_correct": self.top5[c],
                "predicted": predicted[c],
                "precision": conf[c][c] / predicted[c] if predicted[c] else None,
                "recall": conf[c][c] / images[c] if images[c] else None,
            }
            for c in range(n)
        ]
        out["confusion"] = [list(row) for row in conf]
        out["unreadable_files"] = [{**path_fields("file", p), "error": m}
                                   for p, m in self.unreadable]
        out["failed_files"] = [{**path_fields("file", p), "error": m} for p, m in self.failed]
        out["files"] = self.files
        return out


# -- the evaluation ----------------------------------------------------------------------
def evaluate(classifier, dataset: Dataset, *, k: int = DEFAULT_TOP_K,
             resize: str = RESIZE_METHODS[0], max_pixels: int | None = DEFAULT_MAX_PIXELS,
             batch_size: int = DEFAULT_BATCH_SIZE, decoders: int = 1,
             max_bytes: int = DEFAULT_MAX_INPUT_BYTES, on_skip=None, on_progress=None) -> dict:
    """Classify every file of ``dataset`` with ``classifier`` and count.

    ``decoders`` threads decode the images (``classifier.preprocess``, as
    ``int8sqz run``) while the calling thread classifies them in batches of
    ``batch_size`` (``classifier.scores_batch``, shared among the
    classifier's own threads). A file that does not decode is counted in
    ``unreadable``, an image the model cannot compute in ``failed``; each
    calls ``on_skip(message)`` (one line naming the file) when given.
    ``on_progress(n)`` is called as each n more files are done.

    Returns a dict (JSON-ready): ``images`` (classified), ``unreadable``,
    ``failed``, ``top1_correct``, ``top5_correct`` (and ``topk_correct``
    when ``k`` != 5), ``top1``, ``top5`` (and ``topk``: fractions of
    ``images``, None without images), ``top_k``, ``classes`` (per class in
    class order: ``index``, ``label``, ``folder`` (None without one),
    ``images``, ``top1_correct``, ``top5_correct``, ``predicted`` (images
    predicted as it), ``precision``, ``recall`` (None when undefined)),
    ``confusion`` (rows: true class, columns: predicted class, both in class
    order), ``unreadable_files`` and ``failed_files`` (``file``,
    ``error``), ``files`` (one record per file, in order: ``file``,
    ``true``, ``predicted``, ``score``, ``rank``, ``error``; classes as
    indices; left out of :func:`result_json`), ``images_per_second``
    (images classified over ``wall_seconds``, from the first file opened to
    the last image classified), ``decode_seconds`` (summed over the decoding
    threads), ``inference_seconds``, ``wait_seconds`` (the calling thread
    waiting for decoded images), ``cpu_seconds`` (the CPU time of the whole
    process over ``wall_seconds``: above ``wall_seconds`` when threads ran at
    once, below when other processes had the CPUs), ``warmup_seconds``
    (before the clock starts: the first file decoded once, so Pillow loads
    its plugins, and one blank batch, so the kernels are compiled or loaded
    and the model is prepared for the batch size), and the settings. Ties
    between equal scores rank the lower class index first
    (:func:`int8sqz.classify.top_k`).
    """
    if batch_size < 1 or decoders < 1 or k < 1:
        raise ValueError(f"batch_size, decoders and k must be >= 1, got {batch_size}, "
                         f"{decoders}, {k}")
    names = dataset.names
    if len(names) != classifier.num_classes:
        raise ValueError(f"the data set has {len(names)} classes, the model "
                         f"{classifier.num_classes}")
    tally = _Tally(names, dataset.folders, min(k, len(names)))
    # batches of one size (a new size prepares the model again: ~0.1 s)
    batches = -(-len(dataset.entries) // batch_size)
    per = max(1, -(-len(dataset.entries) // max(batches, 1)))
    first = next((path for path, _, problem in dataset.entries if problem is None), None)
    warmup, padded = _warm_up(classifier, per, first, resize=resize, max_pixels=max_pixels,
                              max_bytes=max_bytes)
    timing = _classify_all(classifier, dataset.entries, tally, resize=resize,
                           max_pixels=max_pixels, max_bytes=max_bytes, batch_size=per,
                           padded=padded,
                           decoders=decoders,
                           on_skip=on_skip or (lambda message: None),
                           on_progress=on_progress or (lambda n: None))
    out = {**path_fields("model", classifier.interpreter.model.source),
           **path_fields("data", dataset.root),
           "numerics": getattr(classifier, "numerics", "reference")}
    out.update(tally.result())
    out["folder_order"] = "sorted" if dataset.sorted_order else "names"
    wall = timing["wall"]
    out.update({
        "images_per_second": out["images"] / wall if wall > 0 else None,
        "wall_seconds": wall,
        "decode_seconds": timing["decode"],
        "inference_seconds": timing["inference"],
        "wait_seconds": timing["wait"],
        "cpu_seconds": timing["cpu"],
        "warmup_seconds": warmup,
        "resize": resize,
        "batch_size": per,
        "decoders": decoders,
    })
    return out


def _warm_up(classifier, batch: int, path, *, resize, max_pixels, max_bytes):
    """Decode the image ``path`` (Pillow loads its format plugins on first
    use: ~50 ms) and run one blank batch, so that the kernels are compiled
    (or loaded from numba's cache) and the model is prepared for that batch
    size, all before the clock starts: its seconds, and whether the model
    took the batch as one (then a shorter last batch is padded to that size
    rather than preparing the model again for it)."""
    import numpy as np

    blank = np.zeros(classifier.spec.shape, classifier.spec.dtype)
    t = time.perf_counter()
    if path is not None:
        try:
            classifier.preprocess(path, resize=resize, max_pixels=max_pixels,
                                  max_bytes=max_bytes)
        except ImageError:
            pass  # counted when its turn comes
    if batch == 1:
        try:
            classifier.scores(blank)
        except ComputeError:
            pass  # a blank input the model refuses still loaded the kernels it reached
    else:
        classifier.scores_batch([blank] * batch)
    seconds = time.perf_counter() - t
    held = classifier.interpreter.get_input_details()[0]["shape"][0]
    return seconds, batch > 1 and int(held) == batch


def _classify_all(classifier, entries, tally, *, resize, max_pixels, max_bytes, batch_size,
                  padded, decoders, on_skip, on_progress) -> dict:
    """The pipeline: decoders ahead of the inference by up to two batches;
    results taken in file order. With ``padded``, a last batch shorter than
    ``batch_size`` is filled up with copies of its last input, whose
    results are dropped (each image's scores are those it has alone)."""
    from concurrent.futures import ThreadPoolExecutor

    spent = {"decode": 0.0, "inference": 0.0, "wait": 0.0}

    def decode(path):
        t = time.perf_counter()
        try:
            value = classifier.preprocess(path, resize=resize, max_pixels=max_pixels,
                                          max_bytes=max_bytes)
        except ImageError as exc:
            value = exc
        return value, time.perf_counter() - t

    pending = []  # (path, true class, input)

    def flush():
        if not pending:
            return
        values = [v for _, _, v in pending]
        if padded:
            values += values[-1:] * (batch_size - len(values))
        t = time.perf_counter()
        scores = classifier.scores_batch(values)[:len(pending)]
        spent["inference"] += time.perf_counter() - t
        for (path, true, _), s in zip(pending, scores):
            if isinstance(s, ComputeError):
                message = f"{path}: {s}"
                tally.skip(path, true, message, failed=True)
                on_skip(message)
            else:
                tally.add(path, true, s)
        on_progress(len(pending))
        pending.clear()

    start, cpu = time.perf_counter(), time.process_time()
    window = 2 * batch_size + decoders
    queue = deque()
    todo = iter(entries)
    with ThreadPoolExecutor(max_workers=decoders, thread_name_prefix="int8sqz-decode") as pool:
        def fill():
            while len(queue) < window:
                entry = next(todo, None)
                if entry is None:
                    return
                path, true, problem = entry
                queue.append((path, true, problem, None if problem else pool.submit(decode, path)))

        try:
            fill()
            while queue:
                path, true, problem, future = queue.popleft()
                if future is None:
                    value = ImageError(f"{path}: {problem}")
                else:
                    t = time.perf_counter()
                    value, seconds = future.result()
                    spent["wait"] += time.perf_counter() - t
                    spent["decode"] += seconds
                fill()
                if isinstance(value, ImageError):
                    tally.skip(path, true, str(value), failed=False)
                    on_skip(str(value))
                    on_progress(1)
                    continue
                pending.append((path, true, value))
                if len(pending) >= batch_size:
                    flush()
            flush()
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    spent["wall"] = time.perf_counter() - start
    spent["cpu"] = time.process_time() - cpu
    return spent


# -- reports -----------------------------------------------------------------------------
def result_json(result: dict) -> str:
    """The result as one JSON object, without the per-file records of
    ``files`` (those are :func:`images_csv`): what ``--json`` prints."""
    return json.dumps({k: v for k, v in result.items() if k != "files"},
                      ensure_ascii=False, indent=1)


def images_csv(result: dict) -> str:
    """One CSV row per file: ``file``, ``true`` and ``predicted`` (class
    names), ``score`` (the predicted class's), ``correct`` (top-1),
    ``rank`` (of the true class: 1 is top-1), ``error`` (why a file was
    skipped; its other columns are then empty)."""
    names = [c["label"] for c in result["classes"]]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["file", "true", "predicted", "score", "correct", "rank", "error"])
    for r in result["files"]:
        true, predicted = r["true"], r["predicted"]
        if predicted is None:
            w.writerow([r["file"], names[true], "", "", "", "", r["error"]])
        else:
            w.writerow([r["file"], names[true], names[predicted], repr(r["score"]),
                        "true" if predicted == true else "false", r["rank"], ""])
    return buf.getvalue()


def write_report(result: dict, folder) -> list:
    """Write ``eval.json`` (:func:`result_json`), ``images.csv``
    (:func:`images_csv`) and ``confusion.svg`` into ``folder`` (made if
    missing); the paths written. OSError when it cannot."""
    from .confusion_svg import format_svg

    os.makedirs(folder, exist_ok=True)
    texts = (result_json(result) + "\n", images_csv(result), format_svg(result))
    paths = []
    for name, text in zip(REPORT_FILES, texts):
        path = os.path.join(folder, name)
        write_text(path, text, what="a report file")
        paths.append(path)
    return paths


def _percent(part, whole) -> str:
    return f"{100.0 * part / whole:6.2f} %" if whole else "     - %"


def against(result: dict, other: dict) -> dict:
    """``result`` (one numerics) compared with ``other`` (the same data set
    classified with another numerics, :func:`evaluate`): the other's
    ``numerics``, ``images``, ``top1_correct``, ``top5_correct``, ``top1``,
    ``top5``; ``top1_differs``, the images whose top-1 class differs (among
    those both classified), ``only_this_correct`` and ``only_other_correct``
    (of those, the images only one of them classifies right), and
    ``differing_files`` (``file``, ``true``, ``predicted``, ``other``;
    classes as indices)."""
    theirs = {r["file"]: r for r in other["files"] if r["predicted"] is not None}
    differing = []
    for r in result["files"]:
        o = theirs.get(r["file"])
        if r["predicted"] is None or o is None or o["predicted"] == r["predicted"]:
            continue
        differing.append({"file": r["file"], "true": r["true"], "predicted": r["predicted"],
                          "other": o["predicted"]})
    return {
        "numerics": other["numerics"],
        **{k: other[k] for k in ("images", "top1_correct", "top5_correct", "top1", "top5")},
        "top1_differs": len(differing),
        "only_this_correct": sum(d["predicted"] == d["true"] for d in differing),
        "only_other_correct": sum(d["other"] == d["true"] for d in differing),
        "differing_files": differing,
    }


#: differing images the summary lists (the JSON has them all)
SUMMARY_DIFFERING = 10


def _against_lines(result: dict) -> list:
    a = result.get("against")
    if a is None:
        return []
    n, names = a["images"], [c["label"] for c in result["classes"]]
    lines = [f"against {a['numerics']}: top-1 {a['top1_correct']} / {n} "
             f"{_percent(a['top1_correct'], n).strip()}, top-5 {a['top5_correct']} / {n} "
             f"{_percent(a['top5_correct'], n).strip()}; top-1 differs on {a['top1_differs']} "
             f"image{'s' if a['top1_differs'] != 1 else ''} (right with {result['numerics']} "
             f"only: {a['only_this_correct']}, with {a['numerics']} only: "
             f"{a['only_other_correct']})"]
    for d in a["differing_files"][:SUMMARY_DIFFERING]:
        lines.append(f"  {d['file']}: {names[d['predicted']]} with {result['numerics']}, "
                     f"{names[d['other']]} with {a['numerics']} (true: {names[d['true']]})")
    if len(a["differing_files"]) > SUMMARY_DIFFERING:
        lines.append(f"  ... ({len(a['differing_files']) - SUMMARY_DIFFERING} more in --json)")
    return lines


def _ratio(x) -> str:
    return "-" if x is None else f"{x:.3f}"


def summary_text(result: dict) -> str:
    """The short human summary: totals, accuracy, speed, one row per class
    with a folder."""
    n = result["images"]
    model = os.path.basename(result["model"])
    folders = [c for c in result["classes"] if c["folder"] is not None]
    skipped = [f"{result['unreadable']} unreadable"]
    if result["failed"]:
        skipped.append(f"{result['failed']} the model could not compute")
    k = result["top_k"]
    lines = [
        f"model   {model} (numerics: {result['numerics']})",
        f"data    {result['data']}: {len(folders)} class folders, {n} images classified, "
        + ", ".join(skipped),
        f"top-1   {result['top1_correct']:>6} / {n:<6} {_percent(result['top1_correct'], n)}",
        f"top-5   {result['top5_correct']:>6} / {n:<6} {_percent(result['top5_correct'], n)}",
    ]
    if k != 5:
        lines.append(f"top-{k:<4}{result['topk_correct']:>6} / {n:<6} "
                     f"{_percent(result['topk_correct'], n)}")
    lines += _against_lines(result)
    ips = result["images_per_second"]
    lines.append(
        f"speed   {ips or 0:.1f} images/s: {result['wall_seconds']:.2f} s (decoding "
        f"{result['decode_seconds']:.2f} s over {result['decoders']} thread"
        f"{'s' if result['decoders'] != 1 else ''}, inference "
        f"{result['inference_seconds']:.2f} s; warm-up {result['warmup_seconds']:.2f} s "
        f"before)")
    lines.append("")
    cw = max([len("class")] + [len(c["label"]) for c in folders])
    fw = max([len("folder")] + [len(c["folder"]) for c in folders])
    lines.append(f"{'class':<{cw}}  {'folder':<{fw}}  {'images':>6}  {'top-1':>5}  "
                 f"{'%':>8}  {'precision':>9}  {'recall':>6}")
    for c in folders:
        lines.append(f"{c['label']:<{cw}}  {c['folder']:<{fw}}  {c['images']:>6}  "
                     f"{c['top1_correct']:>5}  {_percent(c['top1_correct'], c['images'])}  "
                     f"{_ratio(c['precision']):>9}  {_ratio(c['recall']):>6}")
    elsewhere = sum(c["predicted"] for c in result["classes"] if c["folder"] is None)
    if elsewhere:
        lines.append(f"({elsewhere} image{'s' if elsewhere != 1 else ''} predicted as classes "
                     f"without a folder)")
    return "\n".join(lines) + "\n"


# -- the command -------------------------------------------------------------------------
def _progress_bar(total: int):
    """A tqdm progress bar on stderr when stderr is a terminal, else None."""
    try:
        if not sys.stderr.isatty():
            return None
        from tqdm import tqdm
    except (ImportError, AttributeError, ValueError):
        return None
    return tqdm(total=total, file=sys.stderr, unit="image", leave=False, dynamic_ncols=True)
