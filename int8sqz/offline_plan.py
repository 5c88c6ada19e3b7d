"""TFLite Micro's offline memory plan: written into a model, and read back.

TFLite Micro (``AllocationInfoBuilder::GetOfflinePlannedOffsets`` in
micro_allocation_info.cc, format in docs/memory_management.md) looks for a
model metadata entry named ``OfflineMemoryAllocation``. Its buffer holds
little-endian int32 words:

====== =========================================================
word   meaning
====== =========================================================
0      format version (TFLite Micro ignores it; written: 0)
1      number of subgraphs (ignored; older docs call it the
       subgraph index; written: the number of subgraphs, as Arm's
       Vela writes it)
2      n, the number of offsets that follow; TFLite Micro refuses
       the model unless n is the number of tensors of all subgraphs
3 + i  arena offset of tensor i (subgraphs concatenated in order),
       counted from the start of the arena's head, or -1: TFLite
       Micro plans that tensor itself
====== =========================================================

TFLite Micro checks only n. It does not check alignment, overlap or range
of the offsets, so :func:`write_offline_plan` does: every offset is -1 or a
non-negative multiple of 16 (``MicroArenaBufferAlignment``), and only
tensors that TFLite Micro plans in the head get one (constants, variables
and empty tensors keep -1; an offset would make TFLite Micro plan a
variable in the head, where it would not persist between invocations).
Whether the tensors placed at those offsets may share bytes is the
planner's business (:mod:`int8sqz.planner.tflm_optimized`), not the format's.

The copy is written by adding bytes in front of the original model and
changing nothing in it: a new root ``Model`` table (every field of the
original, with the new ``metadata`` and ``buffers`` vectors), a new
``SubGraph`` table with the operators in the new order when operators are
reordered, the metadata entry and its buffer. Every other table, vector and
buffer of the original is used where it is, byte for byte (the prefix is a
multiple of 16 bytes long, so every alignment is kept). The original root
table stays in the file unreferenced. Models that keep data at absolute file
offsets (buffers of models larger than 2 GB, large custom options, external
buffers) are refused, since the prefix would move that data.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Mapping
from dataclasses import dataclass

from .errors import ModelError, UnsupportedError
from .model import load_model
from .planner import needs_allocating
from .verifier import TABLES

METADATA_NAME = "OfflineMemoryAllocation"
FORMAT_VERSION = 0
HEADER_WORDS = 3
#: the offset that leaves a tensor to TFLite Micro's own planner (kOnlinePlannedBuffer)
ONLINE = -1
#: MicroArenaBufferAlignment(): every offset written is a multiple of it
ALIGNMENT = 16
#: operators whose relative order is kept by any reordering: they read or
#: write state other than their input and output tensors
ORDERED_OPERATORS = frozenset({
    "VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE", "CALL_ONCE", "IF", "WHILE",
    "CALL", "CUSTOM",
})

_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")


@dataclass(frozen=True)
class OfflinePlan:
    version: int
    subgraphs: int
    offsets: tuple  # one per tensor of every subgraph, in order; ONLINE = planned by TFLM

    def words(self) -> list:
        return [self.version, self.subgraphs, len(self.offsets), *self.offsets]


def encode_plan(plan: OfflinePlan) -> bytes:
    """The metadata buffer's bytes (little-endian int32 words)."""
    words = plan.words()
    return struct.pack(f"<{len(words)}i", *words)


def decode_plan(data: bytes, label: str = "<model>") -> OfflinePlan:
    """Read a metadata buffer; refuses what TFLite Micro would misread."""
    data = bytes(data)
    if len(data) < 4 * HEADER_WORDS or len(data) % 4:
        raise ModelError(
            f"{label}: the {METADATA_NAME} buffer has {len(data)} bytes, expected "
            f"{4 * HEADER_WORDS} or more, a multiple of 4 (int32 words)")
    words = struct.unpack(f"<{len(data) // 4}i", data)
    version, subgraphs, n = words[:HEADER_WORDS]
    if n != len(words) - HEADER_WORDS:
        raise ModelError(
            f"{label}: the {METADATA_NAME} buffer announces {n} offsets but holds "
            f"{len(words) - HEADER_WORDS}")
    return OfflinePlan(version, subgraphs, tuple(words[HEADER_WORDS:]))


# ---------------------------------------------------------------------------------
# Reading the flatbuffer's tables (after int8sqz.verifier has checked the file)
# ---------------------------------------------------------------------------------

class _Table:
    """One table of the original file: its fields by name, as the schema
    (int8sqz.verifier.TABLES) describes them."""

    def __init__(self, buf: bytes, pos: int, name: str, copied: bool = False):
        self.buf, self.pos, self.name = buf, pos, name
        vt = pos - _I32.unpack_from(buf, pos)[0]
        vsize = _U16.unpack_from(buf, vt)[0]
        self.fields = {}  # name -> (slot, kind, detail, absolute position)
        known = set()
        for field, slot, kind, detail in TABLES[name]:
            known.add(slot)
            fo = _U16.unpack_from(buf, vt + slot)[0] if slot < vsize else 0
            if fo:
                self.fields[field] = (slot, kind, detail, pos + fo)
        # a table copied into the prefix must not have fields int8sqz cannot copy
        for slot in range(4, vsize if copied else 4, 2):
            if slot not in known and _U16.unpack_from(buf, vt + slot)[0]:
                raise UnsupportedError(
                    f"the model's {name} table has a field (vtable slot {slot}) of a "
                    f"schema newer than int8sqz knows; it cannot be copied safely")

    def target(self, field: str):
        """Where an offset field points, or None when the field is absent."""
        f = self.fields.get(field)
        if f is None:
            return None
        return f[3] + _U32.unpack_from(self.buf, f[3])[0]

    def scalar(self, field: str, default=0):
        f = self.fields.get(field)
        if f is None:
            return default
        return struct.unpack_from(f[2], self.buf, f[3])[0]

    def table_vector(self, field: str) -> list:
        """Positions of the tables of a vector-of-tables field."""
        v = self.target(field)
        if v is None:
            return []
        n = _U32.unpack_from(self.buf, v)[0]
        return [v + 4 + 4 * j + _U32.unpack_from(self.buf, v + 4 + 4 * j)[0] for j in range(n)]

    def byte_vector(self, field: str):
        """The bytes of a ``[ubyte]`` or ``string`` field, or None."""
        v = self.target(field)
        if v is None:
            return None
        n = _U32.unpack_from(self.buf, v)[0]
        return bytes(self.buf[v + 4:v + 4 + n])


# ---------------------------------------------------------------------------------
# Writing the prefix: new tables that point forward into the original bytes
# ---------------------------------------------------------------------------------

class _Prefix:
    """Bytes written in front of the original model. An offset is recorded
    as a fix-up to a position in the original (``("old", position)``) or to
    a label of an object of the prefix (``("new", label)``, placed later with
    :meth:`place`), and resolved once the prefix length is known."""

    def __init__(self, identifier: bytes):
        self.b = bytearray(8)
        self.b[4:8] = identifier
        self.labels = {}
        self.fixups = []  # (position of a uoffset, "new" | "old", label | position)

    def pad(self, alignment: int, extra: int = 0) -> None:
        while (len(self.b) + extra) % alignment:
            self.b.append(0)

    def place(self, label: str, pos: int) -> int:
        self.labels[label] = pos
        return pos

    def table(self, label: str, fields: list) -> int:
        """Write a table; ``fields`` are ``(slot, size, payload)`` with payload
        the raw bytes of a scalar or a fix-up target (a uoffset)."""
        fields = sorted(fields, key=lambda f: -f[1])  # larger fields first: no padding
        inline, layout = 4, []
        for slot, size, payload in fields:
            inline = -(-inline // size) * size
            layout.append((slot, inline, size, payload))
            inline += size
        nslots = max((f[0] for f in fields), default=2) // 2 - 1
        self.pad(2)
        vt = len(self.b)
        entries = [0] * nslots
        for slot, at, _, _ in layout:
            entries[slot // 2 - 2] = at
        self.b += struct.pack(f"<{2 + nslots}H", 4 + 2 * nslots, inline, *entries)
        self.pad(max([4] + [f[1] for f in fields]))
        pos = len(self.b)
        self.b += bytes(inline)
        _I32.pack_into(self.b, pos, pos - vt)
        for slot, at, size, payload in layout:
            if isinstance(payload, tuple):
                self.fixups.append((pos + at, *payload))
            else:
                self.b[pos + at:pos + at + size] = payload
        return self.place(label, pos)

    def offsets_vector(self, label: str, targets: list) -> int:
        self.pad(4)
        pos = len(self.b)
        self.b += _U32.pack(len(targets)) + bytes(4 * len(targets))
        for j, t in enumerate(targets):
            self.fixups.append((pos + 4 + 4 * j, *t))
        return self.place(label, pos)

    def byte_vector(self, label: str, payload: bytes, alignment: int = ALIGNMENT) -> int:
        self.pad(alignment, extra=4)  # the data, after the length, is aligned
        pos = len(self.b)
        self.b += _U32.pack(len(payload)) + payload
        return self.place(label, pos)

    def string(self, label: str, text: bytes) -> int:
        self.pad(4)
        pos = len(self.b)
        self.b += _U32.pack(len(text)) + text + b"\0"
        return self.place(label, pos)

    def finish(self, original: bytes, root: str) -> bytes:
        self.fixups.append((0, "new", root))
        self.pad(ALIGNMENT)
        shift = len(self.b)
        for pos, where, target in self.fixups:
            absolute = self.labels[target] if where == "new" else shift + target
            if absolute <= pos:  # pragma: no cover - every object is laid out after its parent
                raise AssertionError("a flatbuffer offset must point forward")
            _U32.pack_into(self.b, pos, absolute - pos)
        return bytes(self.b) + original


def _copy_fields(table: _Table, replace: dict) -> list:
    """The fields of ``table`` for _Prefix.table: scalars copied as bytes,
    offsets pointing to the original objects, except those in ``replace``
    (field name -> ("new", position))."""
    out = []
    for field, slot, kind, detail in TABLES[table.name]:
        if field in replace:
            out.append((slot, 4, replace[field]))
            continue
        f = table.fields.get(field)
        if f is None:
            continue
        if kind == "scalar":
            size = struct.calcsize(detail)
            out.append((slot, size, bytes(table.buf[f[3]:f[3] + size])))
        else:
            out.append((slot, 4, ("old", table.target(field))))
    return out


def _slot(table_name: str, field: str) -> int:
    return next(s for f, s, _, _ in TABLES[table_name] if f == field)


# ---------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------

def _content(source, label):
    """(the model's bytes, its label) for a path or bytes."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), label or "<bytes>"
    label = label or os.fspath(source)
    try:
        with open(source, "rb") as f:
            return f.read(), label
    except OSError as exc:
        raise ModelError(f"{label}: cannot read the file ({exc.strerror})") from None


def read_offline_plan(source, *, label: str | None = None):
    """The offline plan in a model (path or bytes), or None without one.

    As TFLite Micro does, the last metadata entry named
    ``OfflineMemoryAllocation`` is the one that counts.
    """
    content, label = _content(source, label)
    load_model(content, name=label)  # verified before any table is read
    model = _Table(content, _U32.unpack_from(content, 0)[0], "Model")
    buffers = model.table_vector("buffers")
    found = None
    for pos in model.table_vector("metadata"):
        md = _Table(content, pos, "Metadata")
        if md.byte_vector("name") == METADATA_NAME.encode():
            index = md.scalar("buffer")
            if index >= len(buffers):
                raise ModelError(f"{label}: the {METADATA_NAME} entry names buffer {index}, "
                                 f"but the model has {len(buffers)} buffers")
            data = _Table(content, buffers[index], "Buffer").byte_vector("data")
            if data is None:
                raise ModelError(f"{label}: the {METADATA_NAME} buffer {index} has no data")
            found = decode_plan(data, label)
    return found


def operator_order_problems(model, order) -> list:
    """Why ``order`` (a list of the main subgraph's operator indices) cannot
    be the new execution order; empty when it can.

    It must be a permutation in which every tensor is produced before any
    operator reads it, and in which the operators of
    :data:`ORDERED_OPERATORS` (and those reading or writing a variable
    tensor) keep their relative order."""
    n = len(model.operators)
    order = [int(k) for k in order]
    if sorted(order) != list(range(n)):
        return [f"the order {order} is not a permutation of the {n} operators 0..{n - 1}"]
    problems = []
    producer = {}
    for op in model.operators:
        for t in op.outputs:
            if t in producer:
                problems.append(f"tensor {t} is produced by operators {producer[t]} and "
                                f"{op.index}")
            producer[t] = op.index
    position = {k: j for j, k in enumerate(order)}
    for op in model.operators:
        for t in op.inputs:
            if t >= 0 and t in producer and position[producer[t]] > position[op.index]:
                p = model.operators[producer[t]]
                problems.append(
                    f"operator {op.index} ({op.name}) reads {model.tensor_label(t)}, which "
                    f"operator {p.index} ({p.name}) produces later in the new order")
    stateful = [op.index for op in model.operators
                if op.name in ORDERED_OPERATORS or op.name.startswith("CUSTOM")
                or any(t >= 0 and model.tensors[t].is_variable
                       for t in list(op.inputs) + list(op.outputs))]
    moved = [k for k in order if k in set(stateful)]
    if moved != stateful:
        problems.append(f"operators with state {stateful} would run in the order {moved}")
    return problems


def plan_offsets_problems(model, offsets: dict) -> list:
    """Why ``offsets`` (main-subgraph tensor index -> offset) cannot be
    written; empty when they can."""
    problems = []
    n = len(model.tensors)
    for i, off in sorted(offsets.items()):
        if not 0 <= i < n:
            problems.append(f"tensor {i} does not exist (the main subgraph has {n} tensors)")
            continue
        if off == ONLINE:
            continue
        if not isinstance(off, int) or off < 0 or off % ALIGNMENT or off >= 1 << 31:
            problems.append(f"{model.tensor_label(i)}: offset {off!r}, expected -1 or a "
                            f"non-negative multiple of {ALIGNMENT} below 2**31")
        elif not needs_allocating(model, i):
            problems.append(f"{model.tensor_label(i)} is not planned by TFLite Micro "
                            f"(a constant, variable or empty tensor): its offset must be -1")
    return problems


def write_offline_plan(source, offsets, *, order=None, label: str | None = None) -> bytes:
    """A copy of the model (path or bytes) with ``offsets`` as its offline
    plan and, with ``order``, its main subgraph's operators in that order.

    ``offsets``: a mapping main-subgraph tensor index -> arena offset (the
    others get -1), or a sequence with one offset per tensor of every
    subgraph. Any earlier ``OfflineMemoryAllocation`` entry is replaced.
    Nothing else changes: tensors, buffers, operator tables, other metadata
    and subgraphs are the original bytes.
    """
    content, label = _content(source, label)
    model = load_model(content, name=label)
    root = _Table(content, _U32.unpack_from(content, 0)[0], "Model", copied=True)
    for field in ("external_buffers", "external_buffer_groups"):
        if root.target(field) is not None:
            raise UnsupportedError(f"{label}: the model uses {field}, which lie at absolute "
                                   f"file offsets; an offline plan cannot be added to it")
    subgraph_pos = root.table_vector("subgraphs")
    subgraphs = [_Table(content, p, "SubGraph", copied=True) for p in subgraph_pos]
    counts = [len(s.table_vector("tensors")) for s in subgraphs]
    for b, pos in enumerate(root.table_vector("buffers")):
        if _Table(content, pos, "Buffer").scalar("offset") > 1:
            raise UnsupportedError(f"{label}: buffer {b} lies at an absolute file offset "
                                   f"(a model larger than 2 GB); an offline plan cannot be "
                                   f"added to it")
    for s in subgraphs:
        for pos in s.table_vector("operators"):
            if _Table(content, pos, "Operator").scalar("large_custom_options_offset") > 1:
                raise UnsupportedError(f"{label}: an operator keeps its custom options at an "
                                       f"absolute file offset; an offline plan cannot be "
                                       f"added to it")

    if isinstance(offsets, Mapping):
        plan_map = {int(k): int(v) for k, v in offsets.items()}
        words = [ONLINE] * sum(counts)
        for i, off in plan_map.items():
            if 0 <= i < counts[0]:
                words[i] = off
    else:
        words = [int(v) for v in offsets]
        if len(words) != sum(counts):
            raise ModelError(f"{label}: {len(words)} offsets given, expected one per tensor "
                             f"of every subgraph: {sum(counts)} ({' + '.join(map(str, counts))})")
        extra = [i for i, w in enumerate(words[counts[0]:]) if w != ONLINE]
        if extra:
            raise UnsupportedError(f"{label}: offsets for tensors of subgraphs other than the "
                                   f"main one are not supported")
        plan_map = dict(enumerate(words[:counts[0]]))
    problems = plan_offsets_problems(model, plan_map)
    if order is not None:
        order = [int(k) for k in order]
        problems += operator_order_problems(model, order)
    if problems:
        raise ModelError(f"{label}: cannot write the offline plan: " + "; ".join(problems))
    data = encode_plan(OfflinePlan(FORMAT_VERSION, len(counts), tuple(words)))

    # the metadata: every entry but the old plan, then the plan
    buffers = root.table_vector("buffers")
    metadata = []
    old_plan_buffers = []
    for pos in root.table_vector("metadata"):
        md = _Table(content, pos, "Metadata")
        if md.byte_vector("name") == METADATA_NAME.encode():
            old_plan_buffers.append(md.scalar("buffer"))
        else:
            metadata.append(pos)
    # reuse the old plan's buffer when nothing else refers to it
    used = {_Table(content, p, "Metadata").scalar("buffer") for p in metadata}
    used |= {_Table(content, t, "Tensor").scalar("buffer")
             for s in subgraphs for t in s.table_vector("tensors")}
    reuse = next((b for b in reversed(old_plan_buffers)
                  if b < len(buffers) and b not in used), None)
    plan_index = reuse if reuse is not None else len(buffers)

    # every object is laid out after those that point to it (offsets point forward)
    out = _Prefix(content[4:8])
    replace = {"buffers": ("new", "buffers"), "metadata": ("new", "metadata")}
    if order is not None:
        replace["subgraphs"] = ("new", "subgraphs")
    out.table("model", _copy_fields(root, replace))
    if order is not None:
        main = subgraphs[0]
        ops = main.table_vector("operators")
        out.offsets_vector("subgraphs", [("new", "main")] + [("old", p) for p in subgraph_pos[1:]])
        out.table("main", _copy_fields(main, {"operators": ("new", "operators")}))
        out.offsets_vector("operators", [("old", ops[k]) for k in order])
    buffer_targets = [("old", p) for p in buffers]
    if plan_index == len(buffers):
        buffer_targets.append(("new", "plan buffer"))
    else:
        buffer_targets[plan_index] = ("new", "plan buffer")
    out.offsets_vector("buffers", buffer_targets)
    out.offsets_vector("metadata", [("old", p) for p in metadata] + [("new", "entry")])
    out.table("entry", [(_slot("Metadata", "name"), 4, ("new", "name")),
                        (_slot("Metadata", "buffer"), 4, _U32.pack(plan_index))])
    out.string("name", METADATA_NAME.encode())
    out.table("plan buffer", [(_slot("Buffer", "data"), 4, ("new", "data"))])
    out.byte_vector("data", data)
    return out.finish(content, "model")
