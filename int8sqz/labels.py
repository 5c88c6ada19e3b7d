"""Class-label files: one label a line, in the order of the model's outputs.

A file may be UTF-8 with or without a byte-order mark, with ``\\n`` or
``\\r\\n`` line ends; each label is stripped of surrounding blanks and blank
lines at the end of the file are ignored (blank lines elsewhere count, as
classes with an empty name).
"""

from __future__ import annotations

import os

from .errors import LabelsError

#: suffix of the label file found beside a model: ``x.tflite`` -> ``x.labels.txt``
LABELS_SUFFIX = ".labels.txt"


def labels_path_for(model_path) -> str:
    """The label file that belongs beside ``model_path``: its ``.tflite``
    suffix (if any) replaced by ``.labels.txt``."""
    path = os.fspath(model_path)
    if path.endswith(".tflite"):
        path = path[: -len(".tflite")]
    return path + LABELS_SUFFIX


def read_labels(path, num_classes: int | None = None) -> list:
    """The labels in ``path``; with ``num_classes``, their number must match."""
    label = os.fspath(path)
    if os.path.isdir(path):
        raise LabelsError(f"{label}: is a directory, expected a label file (one label a line)")
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as exc:
        raise LabelsError(f"{label}: cannot read the label file ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LabelsError(
            f"{label}: not UTF-8 text (invalid byte at offset {exc.start}); expected a "
            f"label file with one label a line"
        ) from None
    labels = [line.strip() for line in text.splitlines()]
    while labels and not labels[-1]:
        labels.pop()
    if num_classes is not None and len(labels) != num_classes:
        raise LabelsError(
            f"{label}: {len(labels)} labels, expected {num_classes} (one a line, one per "
            f"class of the model's output)"
        )
    return labels
