"""Checks that run before anything reads a model's structure.

:func:`verify_flatbuffer` applies the rules of FlatBuffers' verifier (the C++
``flatbuffers::Verifier`` that TFLite runs on every model before it reads
one) to the whole TFLite schema (:mod:`int8sqz._tflite_schema`): every
offset points inside the file, every table's vtable lies inside the file
with an even size, every scalar field, vector and string lies inside the
file and is aligned to its size, every string has its terminating zero,
vectors cannot overflow in size, tables nest at most 64 deep and at most a
million are visited. After it, the ``tflite`` accessors that
:mod:`int8sqz.model` uses cannot read outside the file, whatever field they
read, and a model that TFLite refuses as "not a valid Flatbuffer buffer" is
refused here too, with the path of the field at fault.

Union members of a type code the schema does not know are not verified, as
in FlatBuffers (their offset is); int8sqz then reads no options for them.
The schema is the ``tflite`` package's plus the fields of newer TFLite
schemas listed here (``_NEWER_*``), so that int8sqz is never more lenient
than a runtime that knows them.
"""

from __future__ import annotations

import struct

from ._tflite_schema import TABLES as _PACKAGE_TABLES, UNIONS as _PACKAGE_UNIONS
from .errors import ModelError

# Fields of TFLite schemas newer than the ``tflite`` package's (TFLite's
# schema.fbs): verified too, so that a file whose bytes there are corrupt is
# refused as the runtime refuses it. int8sqz reads none of them; the loader
# refuses tensors that use them.
_NEWER_TABLES = {
    "ExternalBufferGroup": (("name", 4, "string", None),),
    "ExternalBuffer": (
        ("id", 4, "scalar", "<I"), ("group", 6, "scalar", "<I"), ("offset", 8, "scalar", "<Q"),
        ("length", 10, "scalar", "<Q"), ("packing", 12, "string", None),
    ),
    "BlockwiseQuantization": (
        ("scales", 4, "scalar", "<i"), ("zero_points", 6, "scalar", "<i"),
        ("block_size", 8, "scalar", "<i"),
    ),
    "MultiAxisQuantization": (
        ("scales", 4, "scalar", "<i"), ("zero_points", 6, "scalar", "<i"),
        ("block_size", 8, "scalar", "<i"), ("quantized_dimensions", 10, "vector", "<i"),
    ),
    "StablehloCaseOptions": (("branch_subgraph_indices", 4, "vector", "<i"),),
}
_NEWER_FIELDS = {
    "Model": (("external_buffer_groups", 20, "tables", "ExternalBufferGroup"),
              ("external_buffers", 22, "tables", "ExternalBuffer")),
    "Tensor": (("external_buffer", 24, "scalar", "<I"),),
}
_NEWER_MEMBERS = {
    "QuantizationDetails": {2: "BlockwiseQuantization", 3: "MultiAxisQuantization"},
    "BuiltinOptions2": {23: "StablehloCaseOptions"},
}


def _merged():
    tables = dict(_PACKAGE_TABLES)
    for name, fields in _NEWER_TABLES.items():
        tables.setdefault(name, fields)
    for name, extra in _NEWER_FIELDS.items():
        slots = {slot for _, slot, _, _ in tables[name]}
        tables[name] = tables[name] + tuple(f for f in extra if f[1] not in slots)
    unions = {name: dict(members) for name, members in _PACKAGE_UNIONS.items()}
    for name, extra in _NEWER_MEMBERS.items():
        for code, member in extra.items():
            unions[name].setdefault(code, member)
    return tables, unions


TABLES, UNIONS = _merged()
#: vtable slot of Tensor.external_buffer (not in the ``tflite`` package)
TENSOR_EXTERNAL_BUFFER_SLOT = 24

#: FLATBUFFERS_MAX_BUFFER_SIZE: the largest soffset_t
MAX_BUFFER_SIZE = (1 << 31) - 1
#: FLATBUFFERS_MIN_BUFFER_SIZE: a root offset, a vtable offset, two vtable fields
MIN_BUFFER_SIZE = 12
MAX_DEPTH = 64
MAX_TABLES = 1_000_000

_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")
_U16 = struct.Struct("<H")
_U8 = struct.Struct("<B")


class _Invalid(Exception):
    pass


class _Verifier:
    def __init__(self, content: bytes):
        self.buf = content
        # a file larger than a flatbuffer can be holds the flatbuffer first
        # (large models keep their buffers after it): only that part is verified
        self.size = min(len(content), MAX_BUFFER_SIZE - 1)
        self.depth = 0
        self.tables = 0
        # (table, position) -> the depth it was verified at: offsets only point
        # forward, so a table shared by several parents is verified once, unless
        # it is met deeper than before (where the depth limit may now fail)
        self.done = {}

    # -- the primitive checks of flatbuffers::Verifier ------------------------------
    def inside(self, pos: int, length: int, what: str) -> None:
        if not (length < self.size and 0 <= pos <= self.size - length):
            raise _Invalid(
                f"{what}: {length} bytes at byte {pos} reach past the end of the "
                f"flatbuffer ({self.size} bytes)"
            )

    def scalar(self, pos: int, size: int, what: str) -> None:
        if pos % size:
            raise _Invalid(f"{what}: a {size}-byte value at byte {pos} is not aligned to {size}")
        self.inside(pos, size, what)

    def offset(self, pos: int, what: str) -> int:
        """The position a uoffset at ``pos`` points to."""
        self.scalar(pos, 4, what)
        o = _U32.unpack_from(self.buf, pos)[0]
        if o == 0 or o >= 1 << 31:
            raise _Invalid(f"{what}: offset {o} at byte {pos} is not a forward offset")
        self.inside(pos + o, 1, what)
        return pos + o

    def vector(self, pos: int, elem_size: int, what: str) -> tuple:
        """(length, position of the first element) of a vector or string."""
        self.scalar(pos, 4, what)
        n = _U32.unpack_from(self.buf, pos)[0]
        if n >= MAX_BUFFER_SIZE // elem_size:
            raise _Invalid(f"{what}: a vector of {n} elements is larger than a flatbuffer can be")
        self.inside(pos, 4 + elem_size * n, what)
        return n, pos + 4

    def string(self, pos: int, what: str) -> None:
        n, start = self.vector(pos, 1, what)
        end = start + n
        self.inside(end, 1, what)
        if self.buf[end] != 0:
            raise _Invalid(f"{what}: the string of {n} bytes at byte {start} has no "
                           f"terminating zero")

    # -- tables --------------------------------------------------------------------
    def table(self, name: str, pos: int, what: str) -> None:
        self.scalar(pos, 4, what)
        vt = pos - _I32.unpack_from(self.buf, pos)[0]
        self.depth += 1
        self.tables += 1
        if self.depth > MAX_DEPTH:
            raise _Invalid(f"{what}: tables nested more than {MAX_DEPTH} deep")
        if self.tables > MAX_TABLES:
            raise _Invalid(f"{what}: more than {MAX_TABLES} tables")
        if self.done.get((name, pos), -1) >= self.depth:
            self.depth -= 1
            return
        self.scalar(vt, 2, f"{what} (vtable)")
        vsize = _U16.unpack_from(self.buf, vt)[0]
        if vsize & 1:
            raise _Invalid(f"{what}: the vtable at byte {vt} has the odd size {vsize}")
        self.inside(vt, vsize, f"{what} (vtable)")
        fields = TABLES[name]
        present = {}
        for field, slot, kind, detail in fields:
            fo = _U16.unpack_from(self.buf, vt + slot)[0] if slot < vsize else 0
            if fo:
                present[field] = fo
        for field, slot, kind, detail in fields:
            fo = present.get(field)
            if fo is None:
                continue
            fpos = pos + fo
            where = f"{what}.{field}"
            if kind == "scalar":
                self.scalar(fpos, struct.calcsize(detail), where)
                continue
            target = self.offset(fpos, where)
            if kind == "string":
                self.string(target, where)
            elif kind == "vector":
                self.vector(target, struct.calcsize(detail), where)
            elif kind == "table":
                self.table(detail, target, where)
            elif kind == "tables":
                n, start = self.vector(target, 4, where)
                for j in range(n):
                    epos = start + 4 * j
                    # the elements are followed without the checks of an offset
                    # field, as flatbuffers' VerifyVectorOfTables does
                    self.table(detail, epos + _U32.unpack_from(self.buf, epos)[0],
                               f"{where}[{j}]")
            elif kind == "union":
                union, type_slot = detail
                type_field = next(f for f, s, _, _ in fields if s == type_slot)
                tpos = present.get(type_field)
                code = _U8.unpack_from(self.buf, pos + tpos)[0] if tpos else 0
                member = UNIONS[union].get(code)
                if member is not None:
                    self.table(member, target, f"{where} ({member})")
        self.done[(name, pos)] = self.depth
        self.depth -= 1


def verify_flatbuffer(content: bytes, label: str) -> None:
    """Raise :class:`ModelError` unless ``content`` is a well-formed TFLite
    flatbuffer (the identifier is checked by the loader first)."""
    v = _Verifier(content)
    try:
        if v.size < MIN_BUFFER_SIZE:
            raise _Invalid(f"{len(content)} bytes is too short for a flatbuffer")
        root = v.offset(0, "root table offset")
        v.table("Model", root, "model")
    except _Invalid as exc:
        raise ModelError(f"{label}: not a valid TFLite flatbuffer: {exc}") from None
