"""Running a streaming plan (int8sqz.planner.streaming) inside one byte
array: ``Interpreter(..., arena="streaming")``.

The whole tensors are views of the arena at their planned offsets (as in
int8sqz.arena); each stage's band buffers are views of ``[1, rows, W, C]``
at its block's offset plus theirs. ``invoke()`` runs the operators outside
the stages whole (the windowed ones through their band kernels, a few rows
at a time, so that int8sqz's own scratch is band-sized there too), and
each stage step by step: every action runs one
operator on a band of output rows (``Node.rows`` or, for the operators
whose unit says ``Bands.views``, the node's own ``run`` on views of the
band's rows), after sliding its output's band buffer (the rows kept for
the next steps moved to its start) when the schedule says so.

Nothing here decides anything: the schedule is the plan's, checked by
:func:`int8sqz.arena.validate_streaming_plan` before the first run; the
Python side checks every band's rows against the arrays before a kernel
runs (numba checks no bounds).
"""

from __future__ import annotations

import numpy as np

from . import ops
from .errors import InternalError
from .ops.unit import band_rows


class _Overlay:
    """The tensor list a node reads, with some entries replaced."""

    __slots__ = ("base", "sub")

    def __init__(self, base, sub):
        self.base = base
        self.sub = sub

    def __getitem__(self, i):
        a = self.sub.get(i)
        return self.base[i] if a is None else a


def _views_runner(node, windows, shapes):
    """run_rows for an operator whose node runs unchanged on views of the
    band's rows (``Bands.views``): the output's rows first..last - 1 and
    the same rows of each windowed input."""
    op = node.op
    out = op.outputs[0]
    banded = [(i, w) for i, w in zip(op.inputs, windows) if i >= 0 and w is not None]

    def run_rows(t, origins, first, last):
        sub = {}
        for i, w in banded:
            lo, hi = band_rows(w, shapes[i][1], first, last)
            o = origins.get(i, 0)
            v = t[i][:, lo - o:hi - o]
            if v.shape[1] != last - first or lo != first:
                raise InternalError(f"{op.describe()}: input rows {lo}..{hi - 1} of tensor {i} "
                                    f"are not at hand for output rows {first}..{last - 1}")
            sub[i] = v
        o = origins.get(out, 0)
        v = t[out][:, first - o:last - o]
        if v.shape[1] != last - first:
            raise InternalError(f"{op.describe()}: output rows {first}..{last - 1} are not in "
                                f"its array")
        sub[out] = v
        node.run(_Overlay(t, sub))
    return run_rows


#: output pixels per band of an operator run whole in streaming mode
BAND_PIXELS = 256


class _Whole:
    """An operator outside the stages, run in bands of its output rows."""

    __slots__ = ("op", "run")

    def __init__(self, op, run):
        self.op, self.run = op, run

    def __call__(self, tensors):
        self.run(tensors)


class StreamingRun:
    """The program of a streaming plan over the interpreter's nodes and
    arrays (whole tensors already placed in ``arena``)."""

    def __init__(self, plan, nodes, arrays, arena):
        model = plan.model
        self.plan = plan
        shapes = plan.shapes
        self.program = []  # ("op", node or _Whole) or ("stage", steps)
        # the tensors that exist in band buffers only: tensor -> (first, last operator)
        self.streamed = {t: (s.first, s.last) for s in plan.stages for t in s.buffers}
        first_of = {s.first: (s, off) for s, off in zip(plan.stages, plan.block_offsets)}
        self.band_arrays = {}
        # bytes of scratch int8sqz's own band kernels hold (outside the arena)
        self.band_scratch = {}
        k = 0
        n = len(nodes)
        while k < n:
            if k in first_of:
                stage, off = first_of[k]
                self.program.append(("stage", self._compile(stage, off, nodes, arrays, arena,
                                                            shapes, model)))
                k = stage.last + 1
                continue
            if k not in plan.skip_ops:
                self.program.append(("op", self._whole(nodes[k], shapes, model)))
            k += 1

    def _whole(self, node, shapes, model):
        """An operator outside the stages: run whole, but a windowed one
        through its band kernel, ``BAND_PIXELS`` output pixels at a time,
        so that its scratch too is band-sized (the same rows in the same
        order, each band's input rows read before any of it is written: the
        order the plan's sharing rules assume)."""
        op = node.op
        unit = ops.REGISTRY[op.name]
        if node.rows is None or unit.bands is None or unit.bands.views:
            return node
        if unit.bands.windows(op, model, shapes) is None:
            return node
        out_h, out_w = shapes[op.outputs[0]][1:3]
        chunk = max(1, min(out_h, BAND_PIXELS // max(out_w, 1)))
        run_rows = node.rows(chunk)
        self.band_scratch[op.index] = getattr(run_rows, "scratch_bytes", 0)
        no_origins = {}

        def run(t):
            for first in range(0, out_h, chunk):
                run_rows(t, no_origins, first, min(out_h, first + chunk))
        return _Whole(op, run)

    def _compile(self, stage, block_offset, nodes, arrays, arena, shapes, model):
        bufs = {}
        for t, b in stage.buffers.items():
            shape = (1, b.rows) + tuple(shapes[t][2:])
            dtype = model.tensors[t].dtype
            bufs[t] = np.ndarray(shape, dtype, buffer=arena, offset=block_offset + b.offset)
        self.band_arrays.update(bufs)
        tensors = _Overlay(arrays, bufs)
        runners = {}
        for j in stage.ops:
            node = nodes[j]
            unit = ops.REGISTRY[node.op.name]
            max_rows = stage.max_rows.get(j, 1)
            if unit.bands.views:
                windows = unit.bands.windows(node.op, model, shapes)
                runners[j] = _views_runner(node, windows, shapes)
            elif node.rows is not None:
                runners[j] = node.rows(max_rows)
                self.band_scratch[j] = getattr(runners[j], "scratch_bytes", 0)
            else:
                raise InternalError(f"{node.op.describe()}: its node cannot run a band")
        steps = []
        for acts in stage.steps:
            step = []
            for a in acts:
                out = model.operators[a.op].outputs[0]
                move = None
                if a.move is not None:
                    count, src = a.move
                    move = (bufs[out], count, src)
                step.append((runners[a.op], a.origins, a.first, a.last, move, a.op, out))
            steps.append(step)
        return tensors, steps

    def invoke(self, arrays, observe=None) -> None:
        """Run the program. ``observe(op, tensor, rows, first)``, when given,
        is called after every operator run whole (``rows`` its whole output,
        ``first`` 0) and every action (``rows`` the output rows just made,
        from image row ``first``), before anything can overwrite them."""
        for kind, item in self.program:
            if kind == "op":
                item(arrays)
                if observe is not None:
                    for t in item.op.outputs:
                        observe(item.op.index, t, arrays[t], 0)
                continue
            tensors, steps = item
            for step in steps:
                for run, origins, first, last, move, op, out in step:
                    if move is not None:
                        buf, count, src = move
                        # the rows kept for later steps to the buffer's start
                        # (NumPy copies overlapping ranges as memmove does)
                        buf[:, :count] = buf[:, src:src + count]
                    run(tensors, origins, first, last)
                    if observe is not None:
                        o = origins.get(out, 0)
                        observe(op, out, tensors[out][:, first - o:last - o], first)
