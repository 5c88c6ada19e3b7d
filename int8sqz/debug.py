"""``INT8SQZ_DEBUG``: what runs, as it runs (on stderr).

* ``INT8SQZ_DEBUG=1``: one line per operator as ``invoke()`` runs it: its
  index, name, input and output shapes and types, and the time it took;
* ``INT8SQZ_DEBUG=2``: also the parameters its prepare step computed (the
  node's ``params``: multipliers, shifts, ranges, geometry), once per
  interpreter, before the first run of each operator.

The level is read when an :class:`~int8sqz.interpreter.Interpreter` is made.
To step through a kernel in a debugger, run with ``NUMBA_DISABLE_JIT=1``:
every kernel then runs as the plain Python it is written in.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np


def level() -> int:
    """The debug level from ``INT8SQZ_DEBUG`` (0 when unset or not a number)."""
    try:
        return max(0, int(os.environ.get("INT8SQZ_DEBUG", "0") or 0))
    except ValueError:
        return 0


def _tensor(model, shapes, i) -> str:
    if i < 0:
        return "-"
    t = model.tensors[i]
    kind = "const " if t.is_constant else ""
    return f"{kind}{t.type_name.lower()}{list(shapes[i])}"


def _value(v) -> str:
    if isinstance(v, np.ndarray):
        if v.size <= 8:
            return f"{v.dtype}{list(v.shape)} {v.reshape(-1).tolist()}"
        head = ", ".join(str(x) for x in v.reshape(-1)[:6].tolist())
        return f"{v.dtype}{list(v.shape)} [{head}, ...]"
    if isinstance(v, tuple) and hasattr(v, "_asdict"):  # a named tuple of parameters
        return "(" + ", ".join(f"{k}={x}" for k, x in v._asdict().items()) + ")"
    if isinstance(v, (list, tuple)) and len(v) > 8:
        return f"[{', '.join(str(x) for x in v[:6])}, ... ({len(v)} items)]"
    return repr(v)


def describe_params(node) -> str:
    return "\n".join(f"      {k} = {_value(v)}" for k, v in node.params.items())


def run_traced(nodes, tensors, model, shapes, lvl: int, skip=frozenset(), shown=None,
               out=None) -> None:
    """Run ``nodes`` in order on ``tensors``, printing each as it runs.
    ``shown``: a set of operator indices whose parameters were printed."""
    out = out or sys.stderr
    total = 0.0
    for k, node in enumerate(nodes):
        op = node.op
        ins = ", ".join(_tensor(model, shapes, i) for i in op.inputs)
        outs = ", ".join(_tensor(model, shapes, i) for i in op.outputs)
        if k in skip:
            print(f"int8sqz: op {op.index:3d} {op.name:<16} skipped (its outputs are "
                  f"already in place)", file=out)
            continue
        if lvl >= 2 and (shown is None or op.index not in shown):
            print(f"int8sqz: op {op.index:3d} {op.name} prepared:\n{describe_params(node)}",
                  file=out)
            if shown is not None:
                shown.add(op.index)
        start = time.perf_counter()
        node(tensors)
        spent = time.perf_counter() - start
        total += spent
        print(f"int8sqz: op {op.index:3d} {op.name:<16} {ins} -> {outs}  "
              f"{spent * 1e3:8.3f} ms", file=out)
    print(f"int8sqz: invoke {total * 1e3:.3f} ms", file=out, flush=True)
