"""The operator unit: everything int8sqz knows about one TFLite builtin, in
the operator's own module (``int8sqz/ops/<op>.py``), as one
:class:`OperatorUnit` named ``UNIT`` there.

A unit holds

* ``prepare(op, ctx)``: validation and every float computation, done once;
  returns a :class:`Node`;
* the flatbuffer options table the operator reads, and the options the model
  writer fills in when a test leaves them out;
* the operator version TFLite's converter writes (the writer uses it);
* the facts the rest of the engine asks for: whether a batch may run image by
  image (batch threading, int8sqz.parallel), how its output may share memory
  with its inputs under its kernel's order of reads and writes (the planners,
  int8sqz.planner), its multiply-accumulates and the scratch buffers TFLite
  Micro's kernel asks for (int8sqz memplan);
* what TFLite's two desktop runtimes compute for it (``numerics``, a
  :class:`Numerics` per runtime): its optimized builtin kernels
  (``"builtin"``) and the XNNPACK delegate (``"xnnpack"``), with which
  operators the delegate takes. ``prepare`` itself is the reference
  (``"reference"``, TFLite's reference kernels, as TFLite Micro computes);
* two facts about TFLite Micro's reference kernel for the operator: what it
  allocates in TFLite Micro's arena besides the tensors (``tflm_persistent``:
  its options struct, its OpData, the temporary tensors and persistent
  buffers of its Prepare; int8sqz.planner.tflm_arena adds them up into the
  arena size TFLite Micro needs) and in which order it reads its inputs and
  writes its output (``tflm_sharing``: the ``tflm-optimized`` planner,
  int8sqz.planner.tflm_optimized, lets an output overlap a spent input only
  as far as that order allows).

Every field is required: a unit that forgets a fact fails when it is built,
not later with a bigger arena or a batch that silently runs on one thread.
Facts about operators int8sqz does not run (for ``memplan`` on any model)
live in :mod:`int8sqz.ops.foreign`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Mapping

from ..constants import NUMERICS as _NUMERICS
from ..errors import InternalError


class Node:
    """One prepared operator: the operator, the parameters its prepare step
    computed (names and values, shown by ``INT8SQZ_DEBUG=2``), and ``run``,
    which calls the kernel on the list of every tensor's array (indexed by
    tensor index; outputs preallocated). Calling the node runs it.

    ``fuse``: what int8sqz/fusion.py may build from this operator's
    prepared kernel when it implements a sequence of operators in one
    (names the fusion rules know, e.g. ``"conv_2d"``), or None."""

    __slots__ = ("op", "run", "params", "rows", "fuse")

    def __init__(self, op, run: Callable, params: Mapping | None = None,
                 rows: Callable | None = None, fuse: Mapping | None = None):
        self.op = op
        self.run = run
        self.params = dict(params or {})
        # rows(max_rows) -> run_rows(tensors, origins, first, last): output
        # rows first..last - 1 only (streaming execution; see Bands)
        self.rows = rows
        self.fuse = fuse

    def __call__(self, tensors) -> None:
        self.run(tensors)

    def __repr__(self) -> str:
        return f"<Node {self.op.describe()}>"


@dataclass(frozen=True)
class RowWindow:
    """Which input rows each output row of a windowed operator reads: output
    row y reads input rows ``y * stride - pad_top + k * dilation`` for
    ``k < filter_height`` that fall inside the input."""

    filter_height: int
    stride: int
    dilation: int
    pad_top: int


@dataclass(frozen=True)
class Sharing:
    """How an operator's output may share bytes with its inputs, given the
    order in which its kernel reads and writes (int8sqz's ``optimized``
    planner). Each rule is stated in full next to the kernel it relies on;
    ``kernel`` names that place.

    * ``inplace``: the output may take the bytes of an input of its shape and
      element size that this operator reads last: each output element depends
      only on the input elements at its own position, read before it is
      written.
    * ``alias``: the output holds the input's bytes unchanged (RESHAPE,
      SQUEEZE, EXPAND_DIMS: a copy of input 0): it may take input 0's bytes
      when this operator reads input 0 last; the copy then finds source and
      destination in the same memory and does nothing.
    * ``strided_output``: the kernel writes its output through its strides,
      so the output may be a slice of a concatenation's output buffer.
    * ``output_slices``: CONCATENATION: an input may be its own slice of the
      output buffer (its producer writes it there; the copy is then skipped).
    * ``rows``: ``rows(op, shapes)`` gives the :class:`RowWindow` of an
      operator that produces its output rows in order (batch, then row), never
      writing outside the row being produced; the output may then overlap the
      input rows already consumed. With ``rows_read_first`` the kernel reads
      every input row an output row needs before writing any element of that
      row, so the row may also overwrite its own input rows.
    """

    kernel: str = ""
    inplace: bool = False
    alias: bool = False
    strided_output: bool = False
    output_slices: bool = False
    rows: Callable | None = None
    rows_read_first: bool = False


#: the output never shares bytes with an input
NO_SHARING = Sharing()


@dataclass(frozen=True)
class Bands:
    """How an operator computes a band of its output rows (streaming
    execution, int8sqz.streaming): the rows a band reads, and how the kernel
    runs on them. Only for batch 1 and 4-D (NHWC) outputs.

    ``windows(op, model, shapes)`` gives, for each input of the operator, the
    :class:`RowWindow` of the input rows each output row reads (exactly:
    output row y reads the rows ``y * stride - pad_top + k * dilation``,
    ``k < filter_height``, that fall inside the input, and no other), or
    None for an input that is read whole (a constant, or an activation
    broadcast over the rows); None instead of the tuple when the operator
    cannot run in bands with these shapes.

    How a band runs:

    * ``views``: the node's own ``run`` computes the band when every
      windowed input and the output are given as views of the band's rows
      (row y of the output from row y of the inputs: elementwise operators,
      concatenation along the channels);
    * otherwise the node made by ``prepare`` has ``rows(max_rows)``, which
      returns ``run_rows(tensors, origins, first, last)``: it computes output
      rows ``first..last - 1`` (at most ``max_rows`` of them), each windowed
      input and the output being an array of some of the image's rows,
      ``origins[tensor]`` the image row of its row 0 (a tensor missing from
      ``origins`` is whole). Its scratch is sized for ``max_rows`` output
      rows, not for the whole image. The windowed inputs hold every row the
      band reads; the image's own height (for padding and window clamping)
      is the operator's input shape.

    ``kernel`` names the place where the rule is stated.
    """

    kernel: str
    windows: Callable
    views: bool = False


#: RowWindow of an input whose row y is read by output row y only
SAME_ROW = RowWindow(1, 1, 1, 0)


def band_rows(window: RowWindow, in_h: int, first: int, last: int) -> tuple:
    """The input rows ``(lo, hi)`` that a band of output rows
    ``first..last - 1`` may read through ``window`` in an input of ``in_h``
    rows: from the first tap of row ``first`` to the last tap of row
    ``last - 1``, clamped to the image (the rows a band kernel is given;
    ``(0, 0)`` when there are none)."""
    if last <= first:
        return (0, 0)
    lo = max(first * window.stride - window.pad_top, 0)
    hi = min((last - 1) * window.stride - window.pad_top
             + (window.filter_height - 1) * window.dilation + 1, in_h)
    return (lo, hi) if lo < hi else (0, 0)


def check_band(op, window, in_shape, x, x_row0, out_shape, y, y_row0, first, last,
               max_rows) -> None:
    """Before a band kernel runs (numba checks no bounds): output rows
    ``first..last - 1`` (at most ``max_rows``) lie in the output (of
    ``out_shape``) and in ``y`` (whose row 0 is output row ``y_row0``), and
    ``x`` (whose row 0 is input row ``x_row0``) holds every input row they
    read; both arrays have their tensor's batch 1, width and channels.
    Raises InternalError naming the operator otherwise."""
    lo, hi = band_rows(window, in_shape[1], first, last)
    ok = (0 <= first < last <= out_shape[1] and last - first <= max_rows
          and x.ndim == 4 and y.ndim == 4 and x.shape[0] == 1 and y.shape[0] == 1
          and tuple(x.shape[2:]) == tuple(in_shape[2:])
          and tuple(y.shape[2:]) == tuple(out_shape[2:])
          and y_row0 <= first and last <= y_row0 + y.shape[1]
          and (lo == hi or (x_row0 <= lo and hi <= x_row0 + x.shape[1])))
    if not ok:
        raise InternalError(
            f"{op.describe()}: band of output rows {first}..{last - 1} (at most {max_rows} of "
            f"{out_shape[1]}) with output rows {y_row0}..{y_row0 + y.shape[1] - 1} of "
            f"{list(y.shape)} and input rows {x_row0}..{x_row0 + x.shape[1] - 1} of "
            f"{list(x.shape)} at hand; it reads input rows {lo}..{hi - 1}")


def row_band_windows(op, model, shapes, same_row_inputs=None):
    """The windows of an operator whose output row y reads row y of each
    activation input of its height (elementwise operators, concatenation
    along the channels), for :class:`Bands`: ``SAME_ROW`` for an input (a
    constant too) of the output's height, None (read whole) for an input of
    height 1 or rank 2 or less, broadcast over the rows; None for the
    whole answer unless the output is 4-D with batch 1 and every input
    either has the output's height or is broadcast over the rows.
    ``same_row_inputs`` restricts the windowed inputs to those positions."""
    if len(op.outputs) != 1:
        return None
    out = shapes[op.outputs[0]]
    if len(out) != 4 or out[0] != 1:
        return None
    windows = []
    for k, i in enumerate(op.inputs):
        shape = shapes[i] if i >= 0 else ()
        if i < 0 or (same_row_inputs is not None and k not in same_row_inputs):
            windows.append(None)
        elif len(shape) == 4 and shape[0] == 1 and shape[1] == out[1]:
            windows.append(SAME_ROW)
        elif (len(shape) == 4 and shape[0] == 1 and shape[1] == 1) or len(shape) <= 2:
            windows.append(None)
        else:
            return None
    return tuple(windows)


# ---------------------------------------------------------------------------------
# TFLite Micro's reference kernels: what they allocate, how they read and write
# ---------------------------------------------------------------------------------

#: bytes and alignment of the C types TFLite Micro's structs are made of, for
#: a pointer size of 8 (x86-64, LP64) or 4 (32-bit Arm, AAPCS: 64-bit types
#: are 8-aligned there too); ``enum`` is a C enum (an int)
_C_TYPES = {
    "bool": (1, 1), "int8": (1, 1), "uint8": (1, 1), "int16": (2, 2), "int32": (4, 4),
    "uint32": (4, 4), "enum": (4, 4), "float": (4, 4), "int64": (8, 8), "double": (8, 8),
}


@dataclass(frozen=True)
class CStruct:
    """A C struct or class of TFLite Micro, by its members' types in
    declaration order: a name of ``_C_TYPES``, ``"ptr"`` (a pointer, a
    ``size_t``, a virtual table pointer), a nested :class:`CStruct`, or
    ``(member, count)`` for an array. :meth:`layout` gives ``(sizeof,
    alignof)`` as C lays it out for a pointer size of 8 or 4.

    ``measured``: ``(sizeof, alignof)`` on x86-64 when the installed
    tflite_micro package was built from a newer source than the one read
    (tests/engine/test_tflm_arena.py measures it); the 32-bit layout of such
    a struct is then an estimate (the fields read, padded to the measured
    growth)."""

    name: str
    fields: tuple
    source: str = ""
    measured: tuple | None = None

    def layout(self, pointer: int = 8) -> tuple:
        size, align = 0, 1
        for member in self.fields:
            count = 1
            if isinstance(member, tuple):
                member, count = member
            if isinstance(member, CStruct):
                m_size, m_align = member.layout(pointer)
            elif member == "ptr":
                m_size = m_align = pointer
            else:
                m_size, m_align = _C_TYPES[member]
            size = -(-size // m_align) * m_align + m_size * count
            align = max(align, m_align)
        size = -(-size // align) * align
        if self.measured is not None:
            m_size, m_align = self.measured
            if pointer == 8:
                return m_size, m_align
            grown = m_size - CStruct(self.name, self.fields).layout(8)[0]
            return -(-(size + grown) // align) * align, align
        return size, align


@dataclass(frozen=True)
class TempTensor:
    """A ``TfLiteTensor`` that the kernel's Prepare takes for tensor
    ``tensor`` (``AllocateTempInputTensor`` / ``AllocateTempOutputTensor``):
    allocated after the head with its quantization (when the tensor has
    one), released only when Prepare ends."""

    tensor: int


@dataclass(frozen=True)
class PersistentBuffer:
    """``context->AllocatePersistentBuffer(nbytes)`` during Prepare: from the
    arena's tail, 16-aligned, kept for the model's lifetime."""

    nbytes: int


@dataclass(frozen=True)
class TflmAllocations:
    """What TFLite Micro allocates in its arena for one operator, besides
    the tensors and the scratch buffers of ``tflm_scratch``, in the order it
    allocates them:

    * ``params``: the builtin options struct the operator's parser allocates
      from the tail (at the struct's alignment) when the model is read, or
      None when its parser allocates none;
    * ``init``: the OpData struct the kernel's Init allocates from the tail
      (``AllocatePersistentBuffer``: 16-aligned), or None without one;
    * ``prepare``: what the kernel's Prepare allocates, in order
      (:class:`TempTensor`, :class:`PersistentBuffer`).

    ``kernel`` names the sources read. ``registered`` is False when
    tflite-micro has no kernel for the operator (it refuses the model)."""

    kernel: str
    params: CStruct | None = None
    init: CStruct | None = None
    prepare: tuple = ()
    registered: bool = True


@dataclass(frozen=True)
class AccessTrace:
    """How TFLite Micro's reference kernel reads one input and writes its
    output, event by event in execution order: ``read_min[t]`` the lowest
    byte of the input that event t reads (relative to the input's start;
    inf: none), ``write_end[t]`` one past the highest byte it writes
    (relative to the output's start). ``reads_first``: an event reads all it
    reads before it writes (an element's arithmetic); otherwise its read and
    write are one ``memcpy``, whose source and destination must not overlap
    at all. ``rule`` says it in words. The ``tflm-optimized`` planner lets
    the output start at most :func:`int8sqz.planner.tflm_optimized.trace_bound`
    bytes above the input (a negative bound: below it)."""

    read_min: object  # np.ndarray of float64
    write_end: object  # np.ndarray
    reads_first: bool
    rule: str


@dataclass(frozen=True)
class CopySkipped:
    """The kernel copies its input to its output unless both are the same
    bytes, and then does nothing: the output may sit exactly on the input
    (offset difference 0), never partly over it."""

    rule: str


def no_tflm_sharing(op, k, model, shapes):
    """No rule: the output never overlaps an input in a ``tflm-optimized``
    plan (the kernel's order was not read, or it allows none)."""
    return None


def no_macs(op, shapes) -> int:
    return 0


def no_scratch(op, model, shapes) -> list:
    return []


def never_per_image(op, model, shapes) -> bool:
    return False


def version_1(op, tensors) -> int:
    return 1


#: the arithmetic an Interpreter computes (``Interpreter(numerics=...)``):
#: TFLite's reference kernels (``OpResolverType.BUILTIN_REF``, TFLite Micro's
#: integers), its optimized builtin kernels as ai-edge-litert's x86-64 build
#: runs them (``BUILTIN_WITHOUT_DEFAULT_DELEGATES``), and its default
#: interpreter (the XNNPACK delegate, falling back to the builtin kernels for
#: the operators it does not take). docs/numerics.md has the facts.
NUMERICS = _NUMERICS


@dataclass(frozen=True)
class Numerics:
    """What one of TFLite's runtimes computes for an operator.

    ``says``: the fact in a sentence (what the runtime computes differently
    from the reference, or why it computes the same integers): required, so
    that "same as the reference" is a statement, not an omission.
    ``prepare(op, ctx)``: the prepare step whose node computes it; None when
    the unit's own (reference) prepare does. ``delegated(op, ctx)``, for the
    ``"xnnpack"`` entry only: whether the XNNPACK delegate takes this
    operator (called before anything is validated: it returns False on
    anything it cannot read); when it does not, the operator runs the
    ``"builtin"`` entry, as the default interpreter runs it."""

    says: str
    prepare: Callable | None = None
    delegated: Callable | None = None

    def __post_init__(self):
        if not isinstance(self.says, str) or not self.says.strip():
            raise TypeError("Numerics: 'says' must state the fact")


def always(op, ctx) -> bool:
    return True


def never(op, ctx) -> bool:
    return False


def constant_second_input(op, ctx) -> bool:
    """Input 1 is a constant (XNNPACK takes FULLY_CONNECTED only with
    constant weights, RESIZE_BILINEAR only with a constant size)."""
    return ctx.model.tensors[op.inputs[1]].is_constant


def float_operands(op, ctx) -> bool:
    """Every input and output is float32 (XNNPACK takes some operators only
    in float)."""
    t = ctx.model.tensors
    return all(t[i].type_name == "FLOAT32" for i in list(op.inputs) + list(op.outputs) if i >= 0)


def same_as_reference(says: str, delegated: Callable | None = None) -> Numerics:
    """A runtime that computes the reference's integers for this operator
    (``says``: why)."""
    return Numerics(says, None, delegated)


def not_modelled(says: str, delegated: Callable | None = None) -> Numerics:
    """A runtime whose integers for this operator int8sqz does not compute
    (``says``: what is known): its prepare refuses the operator
    (UnsupportedError)."""

    def refuse(op, ctx):
        raise ctx.unsupported(op, f"under numerics {ctx.numerics!r}: what that runtime "
                                  f"computes for it is not modelled ({says})")

    return Numerics(says, refuse, delegated)


def not_delegated(says: str) -> Numerics:
    """The ``"xnnpack"`` entry of an operator the delegate never takes: the
    default interpreter runs the builtin kernel."""
    return Numerics(says, None, never)


@dataclass(frozen=True)
class OperatorUnit:
    """See the module docstring. ``per_image(op, model, shapes)``: True when
    image b of every output depends on image b of the activation inputs only
    (the batch is the first dimension of every activation; the caller checks
    that); ``macs(op, shapes)``: multiply-accumulates of one run;
    ``tflm_scratch(op, model, shapes)``: bytes of each scratch buffer TFLite
    Micro's kernel requests in the arena during Prepare, in request order;
    ``version(op_def, tensor_defs)``: the version TFLite's converter gives the
    operator (``op_version.cc``), for the model writer;
    ``tflm_persistent(op, model, shapes)``: the :class:`TflmAllocations` of
    TFLite Micro's reference kernel; ``tflm_sharing(op, k, model, shapes)``:
    an :class:`AccessTrace` or :class:`CopySkipped` for input ``k`` under
    TFLite Micro's reference kernel, or None (no overlap allowed); ``bands``:
    how it runs on a band of output rows (:class:`Bands`; None: it does
    not); ``numerics``: a :class:`Numerics` for ``"builtin"`` and one for
    ``"xnnpack"`` (see :meth:`numerics_for`)."""

    name: str
    prepare: Callable
    options: str | None
    defaults: Mapping
    version: Callable
    per_image: Callable
    macs: Callable
    sharing: Sharing
    numerics: Mapping
    tflm_persistent: Callable
    tflm_sharing: Callable
    tflm_scratch: Callable = field(default=no_scratch)
    bands: Bands | None = None

    def __post_init__(self):
        keys = set(self.numerics)
        if keys != {"builtin", "xnnpack"} or not all(
                isinstance(n, Numerics) for n in self.numerics.values()):
            raise TypeError(f"{self.name}: numerics must map 'builtin' and 'xnnpack' to "
                            f"Numerics, got {sorted(keys)}")
        if not callable(self.numerics["xnnpack"].delegated):
            raise TypeError(f"{self.name}: the 'xnnpack' Numerics must say which operators "
                            f"the delegate takes (delegated)")

    def numerics_for(self, mode: str) -> Numerics:
        """The :class:`Numerics` of ``mode`` (one of :data:`NUMERICS`);
        ``"reference"`` is the unit's own ``prepare``."""
        if mode == "reference":
            return Numerics("TFLite's reference kernel (BUILTIN_REF, as TFLite Micro)",
                            self.prepare)
        return self.numerics[mode]


def output_elements(op, shapes) -> int:
    """Elements of the operator's first output (0 when it has none)."""
    return math.prod(shapes[op.outputs[0]]) if op.outputs else 0


def def_type(op, tensors, k: int, output: bool = False):
    """For the model writer's ``version``: the type name of input (or
    output) ``k`` of an operator description, None when it is absent."""
    indices = op.outputs if output else op.inputs
    if k >= len(indices) or indices[k] < 0:
        return None
    return tensors[indices[k]].type


def int8_version(op, tensors) -> int:
    """Version 2 with int8 input 0, else 1 (most quantized builtins)."""
    return 2 if def_type(op, tensors, 0) == "INT8" else 1
