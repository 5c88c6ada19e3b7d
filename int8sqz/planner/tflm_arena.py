"""The whole arena TFLite Micro asks for: what ``kTensorArenaSize`` must be.

TFLite Micro's arena holds two things. The head, from the arena's start, is
the memory plan of the tensors and scratch buffers (int8sqz.planner's
``tflm`` plan, or an offline plan; :func:`tflm_head`). The tail, from the
arena's end downwards, holds what it allocates persistently: its allocator
objects, one ``TfLiteEvalTensor`` per tensor, one ``NodeAndRegistration``
per operator, each operator's options struct, OpData and per-channel arrays,
the scratch buffer handles, and the ``TfLiteTensor`` structs of the graph's
inputs and outputs. Between them, while the model is prepared, the kernels'
temporary ``TfLiteTensor`` structs and the planner's working arrays come and
go; for a model with a tiny head they can need more room than the plan.

:func:`tflm_arena` replays ``MicroInterpreter::AllocateTensors`` allocation
by allocation (micro_allocator.cc, single_arena_buffer_allocator.cc,
micro_interpreter.cc, micro_interpreter_graph.cc, micro_allocation_info.cc,
greedy_memory_planner.cc at tflite-micro 90b983c2), with each operator's
allocations as its unit states them (``OperatorUnit.tflm_persistent``,
int8sqz.ops.foreign for operators without a unit), and checks every step
as the allocator does:

* persistent allocations are aligned *down* from the current tail and fail
  when they would cross the head (not the temporaries: TFLite Micro checks
  the head only);
* temporary allocations are aligned up from the last one and fail when
  they would cross the tail;
* the head is a resizable buffer: during Prepare the array of scratch buffer
  requests (12 more than those made so far), at the end the memory plan.

The arena's start is taken 16-aligned (``alignas(16)``; the Python
package's ``new[]`` is). Its end decides the tail's alignment padding, so
the smallest working size is found for each of the 16 residues of the size:
lowering a size by 16 moves every tail address by 16 and keeps every
decision, so each residue's smallest size follows from the smallest slack
of any check, and :func:`tflm_arena` confirms the answer by replaying it
and the sizes just below.

:data:`HOST` is the ``tflite_micro`` Python package on this 64-bit host (a
``RecordingMicroAllocator``; tests/engine/test_tflm_arena.py compares every
figure with it, to the byte). :data:`MCU32` is an estimate for a firmware on
a 32-bit microcontroller (a plain ``MicroAllocator``, pointers of 4 bytes):
the head does not change, the structs shrink.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import ops
from ..errors import InternalError, UnsupportedError
from ..ops.unit import CStruct, PersistentBuffer, TempTensor
from .lifetimes import tflm_lifetimes, tflm_scratch_requests

#: MicroArenaBufferAlignment() (micro_arena_constants.h), on every platform
ALIGNMENT = 16
#: kMaxScratchBuffersPerOp (micro_allocator.cc): the scratch request array
#: always has room for this many more requests
MAX_SCRATCH_BUFFERS_PER_OP = 12
#: GreedyMemoryPlanner::per_buffer_size(): BufferRequirements (4 ints), a
#: sorted size, a sorted id, a ListEntry (3 ints) and an offset per buffer
GREEDY_BYTES_PER_BUFFER = 16 + 4 + 4 + 12 + 4

#: what decides the arena of most models: the memory plan and the persistent
#: structures, the last of which (the graph's input and output tensors) are
#: allocated after the plan
HEAD_AND_TAIL = "the memory plan and the persistent structures (head + tail)"

# -- the structs TFLite Micro allocates (TF_LITE_STATIC_MEMORY definitions) ------------

_QUANTIZATION = CStruct("TfLiteQuantization", ("enum", "ptr"))
_QUANTIZATION_PARAMS = CStruct("TfLiteQuantizationParams", ("float", "int32"))
#: TfLiteTensor (core/c/common.h): quantization, params, data, dims, bytes,
#: type, allocation type, is_variable
TFLITE_TENSOR = CStruct("TfLiteTensor", (_QUANTIZATION, _QUANTIZATION_PARAMS, "ptr", "ptr", "ptr",
                                         "enum", "enum", "bool"), "core/c/common.h")
#: TfLiteAffineQuantization (core/c/common.h): scale, zero_point, quantized_dimension
AFFINE_QUANTIZATION = CStruct("TfLiteAffineQuantization", ("ptr", "ptr", "int32"),
                              "core/c/common.h")
#: TfLiteEvalTensor (core/c/common.h): data, dims, type
EVAL_TENSOR = CStruct("TfLiteEvalTensor", ("ptr", "ptr", "enum"), "core/c/common.h")
#: NodeAndRegistration (micro_allocator.h): TfLiteNode (six pointers and
#: an int) and a registration pointer
NODE_AND_REGISTRATION = CStruct("NodeAndRegistration", (
    CStruct("TfLiteNode", ("ptr",) * 6 + ("int32",)), "ptr"), "micro_allocator.h")
#: SubgraphAllocations (micro_allocator.h): nodes, tensors, compressed tensors
SUBGRAPH_ALLOCATIONS = CStruct("SubgraphAllocations", ("ptr", "ptr", "ptr"), "micro_allocator.h")
#: internal::ScratchBufferRequest (micro_allocator.h): bytes, node, subgraph
SCRATCH_REQUEST = CStruct("ScratchBufferRequest", ("ptr", "int32", "int32"), "micro_allocator.h")
#: ScratchBufferHandle (micro_allocator.h): data
SCRATCH_HANDLE = CStruct("ScratchBufferHandle", ("ptr",), "micro_allocator.h")
#: AllocationInfo (micro_allocation_info.h): bytes, output_ptr, first
#: created, last used, offline offset, needs_allocating
ALLOCATION_INFO = CStruct("AllocationInfo", ("ptr", "ptr", "int32", "int32", "int32", "bool"),
                          "micro_allocation_info.h")
#: the allocator objects, created in the arena's tail in this order
SINGLE_ARENA_ALLOCATOR = CStruct("SingleArenaBufferAllocator", (
    "ptr", "ptr", "ptr", "ptr", "ptr", "ptr", "ptr", "ptr", "int32"),
    "arena_allocator/single_arena_buffer_allocator.h: two interfaces' vtables, five "
    "pointers, the temp checksum and count")
RECORDING_SINGLE_ARENA_ALLOCATOR = CStruct("RecordingSingleArenaBufferAllocator", (
    SINGLE_ARENA_ALLOCATOR, "ptr", "ptr", "ptr", "ptr"),
    "recording_single_arena_buffer_allocator.h: four size_t counters")
GREEDY_MEMORY_PLANNER = CStruct("GreedyMemoryPlanner", (
    "ptr", "int32", "int32", "ptr", "ptr", "ptr", "ptr", "int32", "int32", "ptr", "bool"),
    "memory_planner/greedy_memory_planner.h")
MICRO_ALLOCATOR = CStruct("MicroAllocator", (
    "ptr", "ptr", "ptr", "ptr", "ptr", "bool", "ptr", "ptr", "ptr"),
    "micro_allocator.h: vtable, two buffer allocators, builtin data allocator, planner, "
    "model_is_allocating_, request count, scratch head, max head usage")
RECORDING_MICRO_ALLOCATOR = CStruct("RecordingMicroAllocator", (
    MICRO_ALLOCATOR, "ptr", (CStruct("RecordedAllocation", ("ptr", "ptr", "ptr")), 8)),
    "recording_micro_allocator.h: eight RecordedAllocation records (with compression)")
BUILTIN_DATA_ALLOCATOR = CStruct("MicroBuiltinDataAllocator", ("ptr", "ptr"), "micro_allocator.cc")


@dataclass(frozen=True)
class Build:
    """Which TFLite Micro: the pointer size and whether the allocator is
    the recording one of the Python package."""

    name: str
    pointer: int
    recording: bool


#: the tflite_micro Python package on this 64-bit host (measured)
HOST = Build("tflite_micro on this 64-bit host", 8, True)
#: a firmware on a 32-bit microcontroller, plain MicroAllocator (an estimate)
MCU32 = Build("a 32-bit microcontroller (estimate)", 4, False)


@dataclass
class TflmArena:
    """``head``: the memory plan; ``tail``: the persistent structures, as
    TFLite Micro reports them for an arena whose end is 16-aligned;
    ``arena_size``: the smallest arena (``kTensorArenaSize``, arena start
    16-aligned) in which ``AllocateTensors`` succeeds; ``decided_by``: the
    step that needs its last byte."""

    head: int
    tail: int
    arena_size: int
    decided_by: str
    build: Build


class _Replay:
    """SingleArenaBufferAllocator over an arena [0, end), recording the
    smallest slack of any check (bytes the arena could lose at its end with
    the check still passing) and the step that has it."""

    def __init__(self, end: int, strict: bool):
        self.head = self.temp = 0
        self.tail = end
        self.strict = strict
        self.slack, self.step = None, ""
        self.failed = None

    def check(self, slack, step):
        if self.slack is None or slack < self.slack:
            self.slack, self.step = slack, step
        if slack < 0 and self.failed is None:
            self.failed = step

    def persistent(self, size, align, step):
        result = (self.tail - size) // align * align
        self.check(result - self.head, step)
        self.tail = result

    def temporary(self, size, align, step):
        result = -(-self.temp // align) * align
        self.check(self.tail - result - size, step)
        self.temp = result + size

    def resize_head(self, size, step, fatal=True):
        """ResizeBuffer of the one resizable buffer, at the arena's start.
        Not ``fatal`` (FinishPrepareNodeAllocations ignores its status): a
        failure leaves the head as it was, and only a ``strict`` replay
        counts it as one."""
        if fatal or self.strict:
            self.check(self.tail - size, step)
        if self.tail >= size:
            self.head = self.temp = size

    def reset_temporaries(self):
        self.temp = self.head


def _allocations(model, shapes):
    """Each operator's TflmAllocations; refuses operators TFLite Micro has
    no kernel for or whose allocations are not known."""
    found = []
    for op in model.operators:
        fact = ops.tflm_persistent(op, model, shapes)
        if fact is None:
            raise UnsupportedError(
                f"{model.source}: operator {op.index} ({op.name}): what TFLite Micro's kernel "
                f"allocates is not known to int8sqz, so its whole arena cannot be predicted")
        if not fact.registered:
            raise UnsupportedError(
                f"{model.source}: operator {op.index} ({op.name}): TFLite Micro has no "
                f"kernel for it ({fact.kernel}) and refuses the model")
        found.append(fact)
    return found


def _replay(model, head, build, end, strict, facts, shapes, scratch):
    """AllocateTensors in an arena of ``end`` bytes; returns the _Replay."""
    p = build.pointer
    a = _Replay(end, strict)

    def struct(s, step, count=1):
        size, align = s.layout(p)
        a.persistent(size * count, align, step)

    def temp_tensor(i, step):
        size, align = TFLITE_TENSOR.layout(p)
        a.temporary(size, align, step)
        channels = model.tensors[i].quantization.scales.size
        if channels:
            size, align = AFFINE_QUANTIZATION.layout(p)
            a.temporary(size, align, step)
            a.temporary(4 + 4 * channels, 4, step)

    # MicroAllocator::Create (RecordingMicroAllocator::Create)
    if build.recording:
        struct(RECORDING_SINGLE_ARENA_ALLOCATOR, "the allocator objects")
        struct(GREEDY_MEMORY_PLANNER, "the allocator objects")
        struct(RECORDING_MICRO_ALLOCATOR, "the allocator objects")
    else:
        struct(SINGLE_ARENA_ALLOCATOR, "the allocator objects")
        struct(GREEDY_MEMORY_PLANNER, "the allocator objects")
        struct(MICRO_ALLOCATOR, "the allocator objects")
    # StartModelAllocation
    struct(BUILTIN_DATA_ALLOCATOR, "the allocator objects")
    req_size = SCRATCH_REQUEST.layout(p)[0]
    a.resize_head(req_size * MAX_SCRATCH_BUFFERS_PER_OP, "the scratch request array")
    struct(SUBGRAPH_ALLOCATIONS, "the subgraph table", model.num_subgraphs)
    struct(EVAL_TENSOR, "the TfLiteEvalTensor array", len(model.tensors))
    struct(NODE_AND_REGISTRATION, "the NodeAndRegistration array", len(model.operators))
    # PrepareNodeAndRegistrationDataFromFlatbuffer: each operator's options
    for op, fact in zip(model.operators, facts):
        if fact.params is not None:
            struct(fact.params, f"operator {op.index} ({op.name}): options")
    # InitSubgraphs: each kernel's OpData (AllocatePersistentBuffer: 16-aligned)
    for op, fact in zip(model.operators, facts):
        if fact.init is not None:
            a.persistent(fact.init.layout(p)[0], ALIGNMENT, f"operator {op.index} ({op.name}): "
                                                           f"OpData")
    # PrepareSubgraphs: each Prepare, then FinishPrepareNodeAllocations
    requests = 0
    for op, fact in zip(model.operators, facts):
        step = f"operator {op.index} ({op.name}): Prepare"
        for event in fact.prepare:
            if isinstance(event, TempTensor):
                temp_tensor(event.tensor, step + "'s temporary tensors")
            elif isinstance(event, PersistentBuffer):
                a.persistent(event.nbytes, ALIGNMENT, step + "'s persistent buffers")
        requests += scratch.get(op.index, 0)
        a.reset_temporaries()
        a.resize_head(req_size * (requests + MAX_SCRATCH_BUFFERS_PER_OP),
                      step + ": the scratch request array", fatal=False)
    # FinishModelAllocation: scratch handles, then CommitStaticMemoryPlan
    if requests:
        struct(SCRATCH_HANDLE, "the scratch buffer handles", requests)
    step = "planning: the AllocationInfo array and the planner's working arrays"
    size, align = CStruct("", ("ptr",)).layout(p)
    a.temporary(size * model.num_subgraphs, align, step)
    size, align = ALLOCATION_INFO.layout(p)
    a.temporary(size * (len(model.tensors) + requests), align, step)
    planned = len(tflm_lifetimes(model, shapes)) + requests
    available = a.tail // ALIGNMENT * ALIGNMENT - -(-a.temp // ALIGNMENT) * ALIGNMENT
    a.check(available - GREEDY_BYTES_PER_BUFFER * planned, step)
    a.reset_temporaries()
    a.head = a.temp = 0  # DeallocateResizableBuffer
    a.resize_head(head, HEAD_AND_TAIL)
    # the TfLiteTensor structs of the graph's inputs and outputs
    for group in (model.inputs, model.outputs):
        a.persistent(p * len(group), ALIGNMENT, HEAD_AND_TAIL)
        for i in group:
            struct(TFLITE_TENSOR, HEAD_AND_TAIL)
            channels = model.tensors[i].quantization.scales.size
            if channels:
                struct(AFFINE_QUANTIZATION, HEAD_AND_TAIL)
                a.persistent(4 + 4 * channels, 4, HEAD_AND_TAIL)
    return a


def tflm_arena(model, head: int, build: Build = HOST) -> TflmArena:
    """The arena TFLite Micro needs for ``model`` (operators in their
    order) when its memory plan needs ``head`` bytes (int8sqz's ``tflm``
    plan, or the head of an offline plan). Raises UnsupportedError when an
    operator's allocations are not known or TFLite Micro has no kernel for
    it."""
    if model.num_subgraphs > 1:
        raise UnsupportedError(f"{model.source}: the model has {model.num_subgraphs} subgraphs; "
                               f"int8sqz predicts TFLite Micro's arena for one subgraph only")
    shapes = [t.shape for t in model.tensors]
    facts = _allocations(model, shapes)
    scratch = {}
    for op_index, _ in tflm_scratch_requests(model, shapes):
        scratch[op_index] = scratch.get(op_index, 0) + 1
    big = 1 << 40

    def replay(end, strict=True):
        return _replay(model, head, build, end, strict, facts, shapes, scratch)

    tail = big - replay(big).tail
    best = None
    for residue in range(ALIGNMENT):
        r = replay(big + residue)
        size = big + residue - r.slack // ALIGNMENT * ALIGNMENT
        if best is None or size < best[0]:
            best = (size, r.step)
    size, step = best
    # confirm on the exact sizes (a failed resize of the request array is
    # not fatal in TFLite Micro): the size works, and none of the 16 below
    if replay(size, strict=False).failed is not None:  # pragma: no cover - a bug here
        raise InternalError(f"{model.source}: the predicted arena {size} fails its own replay")
    below = [n for n in range(max(size - ALIGNMENT, 0), size)
             if replay(n, strict=False).failed is None]
    if below:  # only a failed, ignored resize of the request array gets here
        size, step = below[0], "the scratch request array (its resize fails, ignored)"
    return TflmArena(head, tail, size, step, build)
