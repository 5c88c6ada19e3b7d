"""A memory plan (where each activation lives in one arena) and the
``tflm`` plan: TFLite Micro's, to the byte."""

from __future__ import annotations

from dataclasses import dataclass, field

from .lifetimes import Lifetime, tflm_lifetimes, tflm_scratch_requests, tensor_nbytes
from .planners import GreedyPlanner, align_up

PLANNERS = ("tflm", "optimized", "streaming")


@dataclass
class Placement:
    """Where one tensor's elements are in the arena.

    ``offset`` is the byte offset of element [0, 0, ...]; ``strides`` are
    NumPy byte strides (C-contiguous unless the tensor is a slice of a
    concatenation's output). ``root`` is the planner buffer holding it.
    """

    tensor: int
    nbytes: int
    offset: int
    strides: tuple
    root: int
    view_of: int | None = None  # concatenation output this tensor is a slice of
    inplace_of: int | None = None  # tensor whose bytes this one reuses in place
    overlaps: int | None = None  # input this output may partly overwrite


@dataclass
class Scratch:
    """A kernel's scratch buffer in TFLite Micro's arena (not a tensor)."""

    op: int
    nbytes: int
    offset: int
    lifetime: Lifetime


@dataclass
class MemoryPlan:
    model: object
    planner: str
    shapes: list
    lifetimes: dict  # tensor index -> Lifetime, for every planned tensor
    placements: dict  # tensor index -> Placement
    buffers: list  # planner buffers: BufferRequest, one per root
    buffer_offsets: list
    arena_size: int
    skip_ops: set = field(default_factory=set)  # operators that need not run (no-op copies)
    notes: list = field(default_factory=list)
    scratch: list = field(default_factory=list)  # Scratch buffers (TFLite Micro's kernels)
    extra_offsets: list = field(default_factory=list)  # offsets of plan_optimized's extra buffers

    @property
    def tensors(self) -> list:
        return sorted(self.placements)


def c_strides(shape, itemsize) -> tuple:
    strides, acc = [], itemsize
    for d in reversed(shape):
        strides.append(acc)
        acc *= max(int(d), 1)
    return tuple(reversed(strides))


def plan_model(model, planner: str = "tflm", shapes=None) -> MemoryPlan:
    """Plan every activation of ``model`` (main subgraph) with ``planner``.

    ``tflm`` is TFLite Micro's plan, to the byte. ``optimized`` shares bytes
    between tensors where a kernel's order of reads and writes makes it safe
    (int8sqz.planner.sharing), and is never larger than ``tflm``.
    ``streaming`` runs stages of operators in bands of rows
    (int8sqz.planner.streaming, its default budget of extra MACs), never
    larger than ``optimized``.
    """
    if planner not in PLANNERS:
        raise ValueError(f"unknown planner {planner!r}; expected one of {', '.join(PLANNERS)}")
    shapes = list(shapes) if shapes is not None else [t.shape for t in model.tensors]
    if planner == "streaming":
        from .streaming import plan_streaming

        return plan_streaming(model, shapes)
    lifetimes = tflm_lifetimes(model, shapes)
    nbytes = {i: tensor_nbytes(model, i, shapes) for i in lifetimes}
    notes = []
    if model.num_subgraphs > 1:
        notes.append(
            f"the model has {model.num_subgraphs} subgraphs; only the main subgraph is planned"
        )
    tflm = _plan_tflm(model, shapes, lifetimes, nbytes, notes)
    if planner == "tflm":
        return tflm
    from .sharing import plan_optimized

    opt = plan_optimized(model, shapes, lifetimes, nbytes, notes)
    if opt.arena_size > tflm.arena_size:
        tflm.planner = "optimized"
        tflm.notes = notes + ["no sharing beyond TFLite Micro's plan made the arena smaller"]
        return tflm
    return opt


def _plan_tflm(model, shapes, lifetimes, nbytes, notes) -> MemoryPlan:
    g = GreedyPlanner()
    order = sorted(lifetimes)  # TFLite Micro adds the tensors by index, then the scratch buffers
    for i in order:
        lt = lifetimes[i]
        g.add_buffer(align_up(nbytes[i]), lt.first, lt.last)
    requests = tflm_scratch_requests(model, shapes)
    for op_index, size in requests:
        g.add_buffer(align_up(size), op_index + 1, op_index + 1)
    offsets = g.offsets
    placements = {}
    for k, i in enumerate(order):
        t = model.tensors[i]
        strides = c_strides(shapes[i], t.dtype.itemsize)
        placements[i] = Placement(i, nbytes[i], offsets[k], strides, k)
    scratch = [
        Scratch(op_index, size, offsets[len(order) + k], Lifetime(op_index + 1, op_index + 1))
        for k, (op_index, size) in enumerate(requests)
    ]
    return MemoryPlan(model, "tflm", shapes, lifetimes, placements, list(g.buffers),
                      offsets, g.arena_size, set(), list(notes), scratch)
