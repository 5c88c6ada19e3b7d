"""Where two numerics part: ``int8sqz compare MODEL INPUT... [--numerics A B]``.

The same input runs through two interpreters of one model (two of
``reference``, ``builtin``, ``xnnpack``: int8sqz.constants.NUMERICS; the
default is the reference, what a microcontroller computes, against XNNPACK,
what the TFLite Python interpreter computes on a desktop by default), or
through one interpreter and tensors dumped elsewhere (a device, another
runtime: ``.npy`` files named by tensor index or name). Every operator's
output tensor is compared element by element: how many differ, by how many
steps of the quantized type (LSB) and by how much as real values at most.
The first operator whose output differs is where the numerics part; for a
classifier the top-1 class of each side says whether it matters.

Public names:

- :class:`Row`: one operator's comparison;
- :func:`compare_run`: the rows of one input, from two tensor getters;
- :func:`first_parting`: the first row that differs;
- :func:`top1`: each side's best class of a classifier;
- :class:`Dumped`: the tensor getter of a folder of ``.npy`` files;
- :func:`litert_outputs`: the outputs of ai-edge-litert in a numerics
  (``--against litert``; ai-edge-litert is not a dependency of int8sqz);
- :func:`record` and :func:`text`: one input's comparison as a JSON-ready
  dict and as text.

The command's arguments, inputs and exit statuses are in :mod:`int8sqz.cli`.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np

from .files import display, one_line

__all__ = ["Dumped", "Row", "compare_run", "first_parting", "litert_outputs", "record",
           "text", "top1"]


@dataclass
class Row:
    """One operator's output tensor, compared. ``differ`` is the number of
    elements that differ (None when the two cannot be compared: ``note``
    says why: a shape, a missing or misshaped file); ``max_lsb`` the largest
    difference in steps of the stored type (None for float tensors);
    ``max_value`` the largest difference as a real value (the stored values
    dequantized with the tensor's scale; float tensors as they are; None
    when nothing differs or the tensor has no scale)."""

    index: int  # the operator's index
    operator: str
    tensor: int  # the output tensor's index
    name: str
    elements: int
    differ: int | None
    max_lsb: int | None
    max_value: float | None
    note: str = ""

    @property
    def parts(self) -> bool:
        """Whether the two sides differ here (different shapes included)."""
        return bool(self.differ) or self.note.startswith("shape")


def _difference(a: np.ndarray, b: np.ndarray, tensor) -> tuple:
    """``(differ, max_lsb, max_value)`` of two arrays of one shape."""
    if a.dtype.kind == "f" or b.dtype.kind == "f":
        if a.dtype == b.dtype:  # bit patterns: -0.0 against 0.0, NaN payloads
            bits = np.dtype(f"u{a.itemsize}")
            mask = np.ascontiguousarray(a).view(bits) != np.ascontiguousarray(b).view(bits)
        else:
            mask = ~((a == b) | (np.isnan(a) & np.isnan(b)))
        if not mask.any():
            return 0, None, None
        with np.errstate(invalid="ignore", over="ignore"):
            d = np.abs(a.astype(np.float64) - b.astype(np.float64))[mask]
        d = np.where(np.isnan(d), np.inf, d)
        return int(mask.sum()), None, float(d.max())
    d = np.abs(a.astype(np.int64) - b.astype(np.int64))
    differ = int(np.count_nonzero(d))
    if not differ:
        return 0, 0, None
    q = tensor.quantization
    if q.scales.size == 1:
        value = float(d.max()) * float(q.scales[0])
    elif q.scales.size > 1 and a.ndim > q.quantized_dimension \
            and a.shape[q.quantized_dimension] == q.scales.size:
        shape = [1] * a.ndim
        shape[q.quantized_dimension] = -1
        value = float((d * np.asarray(q.scales, np.float64).reshape(shape)).max())
    else:
        value = None
    return differ, int(d.max()), value


def compare_run(model, get_a, get_b) -> list:
    """The :class:`Row` of every operator output of ``model`` (an
    int8sqz.model.Model), in operator order, from ``get_a(index)`` and
    ``get_b(index)``: each returns the tensor's array, or a string saying
    why there is none."""
    rows = []
    for op in model.operators:
        for o in op.outputs:
            t = model.tensors[o]
            a, b = get_a(o), get_b(o)
            held = a if not isinstance(a, str) else b
            n = held.size if not isinstance(held, str) else math.prod(t.shape)
            row = Row(op.index, op.name, o, t.name, n, None, None, None)
            if isinstance(a, str) or isinstance(b, str):
                row.note = a if isinstance(a, str) else b
            elif a.shape != b.shape:
                row.note = f"shape {list(a.shape)} against {list(b.shape)}"
            else:
                row.differ, row.max_lsb, row.max_value = _difference(a, b, t)
            rows.append(row)
    return rows


def first_parting(rows):
    """The first row where the two sides differ, or None."""
    return next((r for r in rows if r.parts), None)


def top1(model, outputs_a, outputs_b, labels=None):
    """For a classifier (int8sqz.predict.output_kind "classes"): each side's
    best class ``{"index", "label", "score"}`` and whether it changes; None
    for other models (or when a side has no output value)."""
    from .classify import class_scores, top_k
    from .predict import output_kind

    if output_kind(model) != "classes":
        return None
    tensor = model.tensors[model.outputs[0]]
    best = []
    for values in (outputs_a, outputs_b):
        v = values[0]
        if isinstance(v, str):
            return None
        scores = class_scores(v, tensor)
        i = top_k(scores, 1)[0]
        best.append({"index": i, "label": labels[i] if labels else None, "score": scores[i]})
    return {"a": best[0], "b": best[1], "changed": best[0]["index"] != best[1]["index"]}


class Dumped:
    """A folder of ``.npy`` files holding a model's tensors, dumped
    elsewhere: tensor ``i`` named ``t`` is ``i.npy``, else ``t.npy``, else
    ``t`` with ``/``, ``\\``, ``:`` and control characters as ``_`` plus
    ``.npy``. Calling it with a tensor index gives the array (its type
    converted only when every value stays the same, a missing batch axis of
    1 added: int8sqz.inputs.fit_array), or a string naming the missing or
    misshaped file."""

    def __init__(self, directory, model, max_bytes: int):
        self.directory = directory
        self.model = model
        self.max_bytes = max_bytes

    def candidates(self, index: int) -> list:
        name = self.model.tensors[index].name
        names = [f"{index}.npy"]
        safe = "".join("_" if c in "/\\:" or ord(c) < 32 or c == "\x7f" else c for c in name)
        if name and "/" not in name and "\0" not in name and name not in (".", ".."):
            names.append(f"{name}.npy")
        if safe and safe not in (".", "..") and f"{safe}.npy" not in names:
            names.append(f"{safe}.npy")
        return names

    def __call__(self, index: int):
        from .errors import Int8sqzError
        from .inputs import load_arrays

        names = self.candidates(index)
        for n in names:
            path = os.path.join(self.directory, n)
            if os.path.lexists(path):
                try:
                    return load_arrays(path, [self.model.tensors[index]],
                                       max_bytes=self.max_bytes, role="tensor")[0]
                except Int8sqzError as exc:
                    return f"file {one_line(str(exc))}"
        return f"missing: no {' or '.join(repr(n) for n in names)} in {display(self.directory)}"


def litert_outputs(content: bytes, numerics: str, inputs, threads: int = 1) -> list:
    """The outputs ai-edge-litert computes for ``inputs`` in ``numerics``
    (BUILTIN_REF, BUILTIN_WITHOUT_DEFAULT_DELEGATES or its default
    interpreter: int8sqz.testing.runtimes). ImportError when ai-edge-litert
    is not installed."""
    import ai_edge_litert.interpreter  # noqa: F401 - ImportError when missing

    from .testing.runtimes import run_runtime

    return run_runtime(bytes(content), inputs, numerics, num_threads=threads)


def record(file_fields: dict, sides, rows, first, best, litert=None) -> dict:
    """One input's comparison as a JSON-ready dict: the file, the two sides
    (``a``, ``b``), every operator (``operators``: ``index``, ``operator``,
    ``tensor``, ``tensor_index``, ``elements``, ``differ``, ``max_lsb``,
    ``max_value``, ``note``), the first that parts (``first_difference``:
    ``index``, ``operator``, ``tensor``, or None), ``top1`` (None for
    models that are not classifiers) and ``litert`` (``--against litert``:
    per side, ``outputs`` compared and ``equal``)."""

    def op(r):
        return {"index": r.index, "operator": r.operator, "tensor": r.name,
                "tensor_index": r.tensor, "elements": r.elements, "differ": r.differ,
                "max_lsb": r.max_lsb, "max_value": r.max_value, "note": r.note or None}

    out = {**file_fields, "a": sides[0], "b": sides[1], "operators": [op(r) for r in rows],
           "first_difference": None if first is None else
           {"index": first.index, "operator": first.operator, "tensor": first.name},
           "top1": best}
    if litert is not None:
        out["litert"] = litert
    return out


#: the widest tensor name the text table shows (the JSON has them whole)
NAME_WIDTH = 40


def _short(name: str) -> str:
    name = one_line(name)
    return name if len(name) <= NAME_WIDTH else name[:NAME_WIDTH - 3] + "..."


def _value(v) -> str:
    return "-" if v is None else f"{v:.6g}"


def text(title: str, sides, rows, first, best, litert=None) -> str:
    """One input's comparison as text: a title line, one row per operator
    (index, operator, output tensor, elements that differ, largest
    difference in LSB and as a real value), the first operator that parts,
    the top-1 classes, the ai-edge-litert check."""
    a, b = sides
    lines = [f"{title}: {a} against {b}"]
    width = max([len("operator")] + [len(r.operator) for r in rows])
    counts = [("-" if r.differ is None else f"{r.differ}/{r.elements}") for r in rows]
    cw = max([len("differ")] + [len(c) for c in counts])
    lines.append(f"  {'#':>4}  {'operator':<{width}}  {'output tensor':<{NAME_WIDTH}}  "
                 f"{'differ':>{cw}}  {'LSB':>5}  {'value':>10}")
    for r, c in zip(rows, counts):
        lsb = "-" if r.max_lsb is None else str(r.max_lsb)
        line = (f"  {r.index:>4}  {r.operator:<{width}}  {_short(r.name):<{NAME_WIDTH}}  "
                f"{c:>{cw}}  {lsb:>5}  {_value(r.max_value):>10}")
        lines.append(line + (f"  {r.note}" if r.note else ""))
    if first is None:
        missing = sum(1 for r in rows if r.differ is None)
        lines.append("no operator parts: every compared tensor is equal"
                     + (f" ({missing} not compared)" if missing else ""))
    else:
        how = first.note if first.differ is None else (
            f"{first.differ} of {first.elements} elements, up to {first.max_lsb} LSB"
            if first.max_lsb is not None else f"{first.differ} of {first.elements} elements")
        lines.append(f"first operator that parts: #{first.index} {first.operator} "
                     f"(output '{_short(first.name)}'): {how}")
    if best is not None:
        def cls(x):
            return f"{x['label'] if x['label'] is not None else x['index']} ({x['score']:.6f})"

        lines.append(f"top-1: {cls(best['a'])} with {a}, {cls(best['b'])} with {b}: "
                     f"{'CHANGED' if best['changed'] else 'unchanged'}")
    for side, check in (litert or {}).items():
        lines.append(f"ai-edge-litert {side}: {check['equal']} of {check['outputs']} outputs "
                     f"equal int8sqz's" + ("" if check["equal"] == check["outputs"] else
                                           "  MISMATCH"))
    return "\n".join(lines) + "\n"
