"""Class-label files: one label a line, in the order of the model's outputs.

A file is UTF-8, with or without a byte-order mark. Lines end with ``\\n``
or ``\\r\\n`` and nowhere else: any other control character in a label (a
lone ``\\r``, a tab, a vertical tab, a form feed, NUL, U+0085, the line and
paragraph separators U+2028 and U+2029) is refused with its line number,
since splitting there (as ``str.splitlines`` does) would shift every label
after it. Each label is stripped of surrounding blanks; blank lines at the
end of the file are ignored (blank lines elsewhere count, as classes with an
empty name). The file is read through :mod:`int8sqz.files` (no FIFOs or
devices, at most ``max_bytes`` bytes).
"""

from __future__ import annotations

import os

from .constants import DEFAULT_MAX_LABELS_BYTES
from .errors import LabelsError
from .files import display, is_control, read_bytes

#: suffix of the label file found beside a model: ``x.tflite`` -> ``x.labels.txt``
LABELS_SUFFIX = ".labels.txt"

_CONTROL_NAMES = {
    "\t": "a tab", "\x0b": "a vertical tab", "\x0c": "a form feed",
    "\r": "a carriage return not followed by a line feed", "\x00": "a NUL character",
    "\x1c": "a file separator", "\x1d": "a group separator", "\x1e": "a record separator",
    "\x85": "a next-line character (U+0085)", "\u2028": "a line separator (U+2028)",
    "\u2029": "a paragraph separator (U+2029)",
}


def labels_path_for(model_path) -> str:
    """The label file that belongs beside ``model_path``: its ``.tflite``
    suffix (if any) replaced by ``.labels.txt``."""
    path = os.fspath(model_path)
    if path.endswith(".tflite"):
        path = path[: -len(".tflite")]
    return path + LABELS_SUFFIX


def parse_labels(text: str, label: str = "<labels>") -> list:
    """The labels of a label file's text (see the module's docstring);
    :class:`LabelsError` for a control character inside a line."""
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.split("\n")
    labels = []
    for number, line in enumerate(lines, 1):
        if line.endswith("\r"):
            line = line[:-1]
        for column, ch in enumerate(line, 1):
            if is_control(ch):
                what = _CONTROL_NAMES.get(ch, f"the control character U+{ord(ch):04X}")
                raise LabelsError(
                    f"{label}: line {number}, column {column}: {what} inside a label; "
                    f"expected one label a line, lines ending with \\n or \\r\\n"
                )
        labels.append(line.strip())
    while labels and not labels[-1]:
        labels.pop()
    return labels


def read_labels(path, num_classes: int | None = None, *,
                max_bytes: int = DEFAULT_MAX_LABELS_BYTES) -> list:
    """The labels in ``path`` (a file name, or :data:`int8sqz.files.STDIN`);
    with ``num_classes``, their number must match. Files larger than
    ``max_bytes`` are refused."""
    label = display(path)
    raw = read_bytes(path, limit=max_bytes, error=LabelsError,
                     what="a label file (one label a line)", limit_name="--max-labels-bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LabelsError(
            f"{label}: not UTF-8 text (invalid byte at offset {exc.start}); expected a "
            f"label file with one label a line"
        ) from None
    labels = parse_labels(text, label)
    if num_classes is not None and len(labels) != num_classes:
        raise LabelsError(
            f"{label}: {len(labels)} labels, expected {num_classes} (one a line, one per "
            f"class of the model's output)"
        )
    return labels
