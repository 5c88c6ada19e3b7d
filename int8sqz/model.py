"""Loading and validating ``.tflite`` flatbuffers.

:func:`load_model` reads a file (or bytes) with the ``tflite`` schema
accessors and turns it into plain Python objects: :class:`Tensor`,
:class:`Operator` and :class:`Model`. Constant data are read-only NumPy views
of the file's bytes; nothing is copied. Everything that the rest of int8sqz
relies on about the file's structure is checked here, and every failure is a
:class:`~int8sqz.errors.ModelError` naming the file and what was expected.

The loader accepts any valid TFLite model (``memplan`` needs that); whether
the interpreter can *run* a model is decided later, by the operator registry.
"""

from __future__ import annotations

import math
import os
import re
import struct
from dataclasses import dataclass, field, replace

import flatbuffers
import numpy as np
import tflite
from tflite.utils import BUILTIN_OPCODE2NAME

from .constants import MAX_MODEL_BYTES
from .errors import ModelError, UnsupportedError
from .files import display, is_stdin, read_bytes
from .verifier import TENSOR_EXTERNAL_BUFFER_SLOT, verify_flatbuffer

#: TFLite tensor type code -> (name, NumPy dtype or None when it has no fixed size)
TENSOR_TYPES = {
    code: name
    for name, code in vars(tflite.TensorType).items()
    if not name.startswith("_") and isinstance(code, int)
}
_NUMPY_DTYPES = {
    "FLOAT32": np.float32,
    "FLOAT16": np.float16,
    "FLOAT64": np.float64,
    "INT8": np.int8,
    "UINT8": np.uint8,
    "INT16": np.int16,
    "UINT16": np.uint16,
    "INT32": np.int32,
    "UINT32": np.uint32,
    "INT64": np.int64,
    "UINT64": np.uint64,
    "BOOL": np.bool_,
    "COMPLEX64": np.complex64,
    "COMPLEX128": np.complex128,
}

_PADDING = {v: k for k, v in vars(tflite.Padding).items() if not k.startswith("_")}
_ACTIVATION = {
    v: k for k, v in vars(tflite.ActivationFunctionType).items() if not k.startswith("_")
}
_OPTION_CLASSES = {
    v: k for k, v in vars(tflite.BuiltinOptions).items() if not k.startswith("_")
}
_ENUM_FIELDS = {"padding": _PADDING, "fused_activation_function": _ACTIVATION}
#: vtable slot of OperatorCode.builtin_code
_OPCODE_BUILTIN_CODE_SLOT = 10
#: options that hold a TensorType code (kept as the code)
_TYPE_OPTIONS = ("quantized_bias_type",)
_IDENTIFIER = b"TFL3"
_SCHEMA_VERSION = 3
#: NumPy arrays have at most this many dimensions
MAX_RANK = 64


@dataclass(frozen=True)
class Quantization:
    """Affine quantization of a tensor: ``real = scale * (q - zero_point)``."""

    scales: np.ndarray  # float32, one per channel (or one for the tensor)
    zero_points: np.ndarray  # int64, same length as scales
    quantized_dimension: int = 0

    @property
    def per_channel(self) -> bool:
        return self.scales.size > 1

    @property
    def scale(self) -> float:
        """The per-tensor scale (0.0 when there is none or it is per-channel)."""
        return float(self.scales[0]) if self.scales.size == 1 else 0.0

    @property
    def zero_point(self) -> int:
        return int(self.zero_points[0]) if self.zero_points.size == 1 else 0


NO_QUANTIZATION = Quantization(np.zeros(0, np.float32), np.zeros(0, np.int64), 0)


@dataclass(frozen=True)
class Tensor:
    index: int
    name: str
    shape: tuple
    shape_signature: tuple
    type_name: str  # TFLite type name, e.g. "INT8"
    dtype: np.dtype | None  # None for types without a fixed element size
    buffer: int
    quantization: Quantization
    data: np.ndarray | None = None  # read-only view of the constant data, or None
    is_variable: bool = False

    @property
    def is_constant(self) -> bool:
        return self.data is not None

    @property
    def num_elements(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int | None:
        if self.dtype is None:
            return None
        return self.num_elements * self.dtype.itemsize


@dataclass(frozen=True)
class Operator:
    index: int
    name: str  # builtin operator name, e.g. "CONV_2D"; "CUSTOM:<code>" for custom ops
    builtin_code: int
    version: int
    inputs: tuple  # tensor indices, -1 for an omitted optional input
    outputs: tuple
    options: dict = field(default_factory=dict)

    def describe(self) -> str:
        return f"operator {self.index} ({self.name})"


@dataclass(frozen=True)
class Model:
    source: str  # file path, or "<bytes>"
    tensors: tuple
    operators: tuple
    inputs: tuple
    outputs: tuple
    num_subgraphs: int
    description: str
    buffer_bytes: int  # bytes of the constant tensors' buffers (weights flash)
    content: bytes  # the whole file, which the constant views point into

    def error(self, message: str, op: Operator | None = None) -> ModelError:
        where = f"{self.source}: " + (f"{op.describe()}: " if op is not None else "")
        return ModelError(where + message)

    def tensor_label(self, index: int) -> str:
        return f"tensor {index} '{self.tensors[index].name}'"


def load_model(source, *, name: str | None = None) -> Model:
    """Read and validate a TFLite model from a path (or
    :data:`int8sqz.files.STDIN`), or from ``bytes``."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        content = bytes(source)
        label = name or "<bytes>"
    elif not isinstance(source, (str, os.PathLike)) and not is_stdin(source):
        raise ModelError(
            f"{name or '<model>'}: got a {type(source).__name__}, expected a file path "
            f"or the model's bytes"
        )
    else:
        # int8sqz.files: no FIFO or device, at most a flatbuffer's size, and a
        # stream whose first bytes are not a TFLite model's is not read on
        label = name or display(source)
        content = read_bytes(source, limit=MAX_MODEL_BYTES, error=ModelError,
                             what="a .tflite file",
                             limit_name="the most a TFLite flatbuffer can be",
                             stop_early=lambda head: len(head) >= 8 and head[4:8] != _IDENTIFIER)
    if len(content) < 8 or content[4:8] != _IDENTIFIER:
        found = content[4:8] if len(content) >= 8 else f"{len(content)} bytes"
        raise ModelError(
            f"{label}: not a TFLite model: expected the file identifier {_IDENTIFIER!r} "
            f"at byte 4, found {found!r}"
        )
    # every offset, table, vector and string in bounds before any accessor runs
    verify_flatbuffer(content, label)
    try:
        return _Reader(content, label).read()
    except ModelError:
        raise
    except (struct.error, IndexError, ValueError, TypeError, OverflowError,
            UnicodeDecodeError, AttributeError, AssertionError) as exc:
        # not reachable after the verifier; kept so that a gap in the checks
        # is still a one-line ModelError, never a crash
        raise ModelError(
            f"{label}: invalid TFLite model ({type(exc).__name__}: {exc})"
        ) from None


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


class _Reader:
    def __init__(self, content: bytes, label: str):
        self.content = content
        self.label = label
        self.size = len(content)

    def fail(self, message: str) -> ModelError:
        return ModelError(f"{self.label}: {message}")

    # -- structure -----------------------------------------------------------------
    def read(self) -> Model:
        fb = tflite.Model.GetRootAsModel(self.content, 0)
        version = fb.Version()
        if version != _SCHEMA_VERSION:
            raise self.fail(f"schema version {version}, expected {_SCHEMA_VERSION}")
        nsub = fb.SubgraphsLength()
        if nsub < 1:
            raise self.fail("the model has no subgraph, expected at least one")
        graph = fb.Subgraphs(0)
        # TFLite refuses these two before it reads anything else
        if fb.BuffersIsNone():
            raise self.fail("the model has no buffers vector (TFLite requires one)")
        if graph.TensorsIsNone():
            raise self.fail("subgraph 0 has no tensors vector (TFLite requires one)")
        nbuf = fb.BuffersLength()
        buffers = [self._buffer(fb, i) for i in range(nbuf)]
        ntensors = graph.TensorsLength()
        tensors = tuple(self._tensor(graph.Tensors(i), i, buffers) for i in range(ntensors))
        codes = [self._opcode(fb.OperatorCodes(i)) for i in range(fb.OperatorCodesLength())]
        operators = tuple(
            self._operator(graph.Operators(i), i, codes, ntensors)
            for i in range(graph.OperatorsLength())
        )
        inputs = self._indices(graph.InputsAsNumpy(), graph.InputsLength(), ntensors, "graph input")
        outputs = self._indices(graph.OutputsAsNumpy(), graph.OutputsLength(), ntensors, "graph output")
        tensors = _empty_constants(tensors, operators, inputs)
        for k in range(fb.SignatureDefsLength()):
            # TFLite's ParseSignatureDefs refuses a signature without its key
            if fb.SignatureDefs(k).SignatureKey() is None:
                raise self.fail(f"signature def {k} has no signature key (TFLite refuses this)")
        description = fb.Description()
        description = description.decode("utf-8", "replace") if description else ""
        # weights flash: the bytes of the constant tensors (each buffer counted once);
        # buffers no tensor refers to (e.g. metadata) are not weights
        used = {t.buffer: t.data.nbytes for t in tensors if t.is_constant}
        buffer_bytes = sum(used.values())
        model = Model(
            source=self.label, tensors=tensors, operators=operators, inputs=inputs,
            outputs=outputs, num_subgraphs=nsub, description=description,
            buffer_bytes=buffer_bytes, content=self.content,
        )
        _check_dataflow(model)
        return model

    def _buffer(self, fb, i: int):
        """The bytes of buffer ``i``: its data vector, else (as TFLite reads
        it) the bytes at its offset after the flatbuffer (models larger than
        2 GB), else None."""
        buf = fb.Buffers(i)
        if not buf.DataIsNone():
            # a data vector, even an empty one, is the buffer's data (TFLite then
            # refuses a tensor of more than 0 bytes on it)
            n = buf.DataLength()
            data = buf.DataAsNumpy() if n else np.zeros(0, np.uint8)
            if data.size != n:
                raise self.fail(f"buffer {i} declares {n} bytes but the file holds {data.size}")
            return data
        offset, size = buf.Offset(), buf.Size()
        if offset > 1:
            if offset + size > self.size:
                raise self.fail(
                    f"buffer {i} lies at bytes {offset}..{offset + size}, beyond the "
                    f"end of the file ({self.size} bytes)"
                )
            return np.frombuffer(self.content, np.uint8, size, offset)
        return None

    def _indices(self, arr, n, ntensors, what, allow_optional=False):
        if n == 0:
            return ()
        values = tuple(int(v) for v in np.asarray(arr).reshape(-1))
        for v in values:
            if v == -1 and allow_optional:
                continue
            if not 0 <= v < ntensors:
                raise self.fail(
                    f"{what} refers to tensor {v}, expected an index in 0..{ntensors - 1}"
                )
        return values

    def _tensor(self, t, i: int, buffers) -> Tensor:
        raw_name = t.Name()
        name = raw_name.decode("utf-8", "replace") if raw_name else f"tensor_{i}"
        shape = tuple(int(d) for d in t.ShapeAsNumpy()) if t.ShapeLength() else ()
        sig = (
            tuple(int(d) for d in t.ShapeSignatureAsNumpy())
            if t.ShapeSignatureLength() else shape
        )
        if any(d < 0 for d in shape):
            raise self.fail(
                f"tensor {i} '{name}' has shape {list(shape)}: dimensions must be >= 0"
            )
        if len(shape) > MAX_RANK:
            raise UnsupportedError(
                f"{self.label}: tensor {i} '{name}' has {len(shape)} dimensions; int8sqz "
                f"supports at most {MAX_RANK}"
            )
        type_code = t.Type()
        type_name = TENSOR_TYPES.get(type_code)
        if type_name is None:
            raise self.fail(f"tensor {i} '{name}' has unknown type code {type_code}")
        dtype = _NUMPY_DTYPES.get(type_name)
        dtype = np.dtype(dtype) if dtype is not None else None
        # the byte size of the nonzero dimensions must be a valid array size
        if math.prod(d for d in shape if d) * (dtype.itemsize if dtype else 1) >= 1 << 63:
            raise self.fail(
                f"tensor {i} '{name}' has shape {list(shape)}: its size overflows 64 bits"
            )
        bidx = t.Buffer()
        if not 0 <= bidx < max(len(buffers), 1):
            raise self.fail(
                f"tensor {i} '{name}' refers to buffer {bidx}, expected an index in "
                f"0..{len(buffers) - 1}"
            )
        external = t._tab.Offset(TENSOR_EXTERNAL_BUFFER_SLOT)
        if external and t._tab.Get(flatbuffers.number_types.Uint32Flags, t._tab.Pos + external):
            raise UnsupportedError(
                f"{self.label}: tensor {i} '{name}' keeps its data in an external buffer; "
                f"int8sqz reads only data inside the model file"
            )
        # buffer 0 is the empty sentinel: TFLite never reads data from it
        raw = buffers[bidx] if 0 < bidx < len(buffers) else None
        data = None
        if raw is not None and t.IsVariable():
            raise self.fail(
                f"tensor {i} '{name}' is a variable tensor with constant data in buffer "
                f"{bidx}; TFLite refuses this"
            )
        if raw is not None:
            if dtype is None:
                raise self.fail(
                    f"tensor {i} '{name}' of type {type_name} holds constant data; "
                    f"only fixed-size numeric types are supported as constants"
                )
            expected = math.prod(shape) * dtype.itemsize
            if raw.size != expected:
                raise self.fail(
                    f"tensor {i} '{name}': buffer {bidx} holds {raw.size} bytes, expected "
                    f"{expected} for shape {list(shape)} of {type_name}"
                )
            data = raw.view(dtype).reshape(shape)
            data.flags.writeable = False
        quant = self._quantization(t.Quantization(), i, name, shape)
        return Tensor(
            index=i, name=name, shape=shape, shape_signature=sig, type_name=type_name,
            dtype=dtype, buffer=bidx, quantization=quant, data=data,
            is_variable=bool(t.IsVariable()),
        )

    def _quantization(self, q, i, name, shape) -> Quantization:
        """The affine quantization, with the checks of TFLite's
        ``InterpreterBuilder::ParseQuantization``: no scales means no
        quantization (whatever the zero points); scales need as many zero
        points; the quantized dimension lies in the shape (any value >= 0 for a
        scalar); several scales need one per element of that dimension."""
        if q is None:
            return NO_QUANTIZATION
        if q.DetailsType() not in (0, tflite.QuantizationDetails.CustomQuantization):
            # blockwise or multi-axis quantization (newer schemas): other scales
            raise UnsupportedError(
                f"{self.label}: tensor {i} '{name}' has quantization details of type "
                f"{q.DetailsType()}; int8sqz supports affine quantization only"
            )
        if not q.ScaleLength():
            return NO_QUANTIZATION
        scales = np.array(q.ScaleAsNumpy(), dtype=np.float32).reshape(-1)
        if q.ZeroPointIsNone():
            raise self.fail(
                f"tensor {i} '{name}' has {scales.size} quantization scales and no zero "
                f"points, expected one zero point per scale"
            )
        n_zps = q.ZeroPointLength()
        zps = np.array(q.ZeroPointAsNumpy() if n_zps else [], dtype=np.int64).reshape(-1)
        if scales.size != zps.size:
            raise self.fail(
                f"tensor {i} '{name}' has {scales.size} quantization scales and "
                f"{zps.size} zero points, expected the same number"
            )
        qdim = int(q.QuantizedDimension())
        if qdim < 0 or (shape and qdim >= len(shape)):
            raise self.fail(
                f"tensor {i} '{name}' is quantized along dimension {qdim}, expected "
                f"a dimension of its shape {list(shape)}"
            )
        if scales.size > 1 and shape and shape[qdim] != scales.size:
            raise self.fail(
                f"tensor {i} '{name}' has {scales.size} quantization scales, expected "
                f"1, or one per channel of dimension {qdim} ({shape[qdim]})"
            )
        scales.flags.writeable = False
        zps.flags.writeable = False
        return Quantization(scales, zps, qdim)

    def _opcode(self, oc):
        # TFLite's GetBuiltinCode: the larger of the two fields. The tflite
        # package's BuiltinCode() returns the deprecated field whenever the new
        # one is below 127, so the new field is read here directly
        tab = oc._tab
        slot = tab.Offset(_OPCODE_BUILTIN_CODE_SLOT)
        builtin = tab.Get(flatbuffers.number_types.Int32Flags, tab.Pos + slot) if slot else 0
        code = max(int(builtin), int(oc.DeprecatedBuiltinCode()))
        if code == 32:  # CUSTOM
            custom = oc.CustomCode()
            name = "CUSTOM:" + (custom.decode("utf-8", "replace") if custom else "")
        else:
            name = BUILTIN_OPCODE2NAME.get(code, f"BUILTIN_{code}")
        return code, name, int(oc.Version())

    def _operator(self, op, i, codes, ntensors) -> Operator:
        ci = op.OpcodeIndex()
        if not 0 <= ci < len(codes):
            raise self.fail(
                f"operator {i} uses operator code {ci}, expected an index in "
                f"0..{len(codes) - 1}"
            )
        code, name, version = codes[ci]
        what = f"operator {i} ({name})"
        if version < 1:
            raise self.fail(
                f"{what} has version {version} (operator code {ci}), expected 1 or more"
            )
        inputs = self._indices(op.InputsAsNumpy(), op.InputsLength(), ntensors,
                               f"{what} input", allow_optional=True)
        outputs = self._indices(op.OutputsAsNumpy(), op.OutputsLength(), ntensors,
                                f"{what} output")
        options = self._options(op, name)
        for key in _TYPE_OPTIONS:
            # TFLite's option parser refuses a type code it does not know
            if key in options and options[key] not in TENSOR_TYPES:
                raise self.fail(
                    f"{what}: option {key} is {options[key]}, not a tensor type code"
                )
        return Operator(i, name, code, version, inputs, outputs, options)

    def _options(self, op, op_name: str) -> dict:
        """The options table of the operator's own type (TFLite's
        ``builtin_options_as_<Table>()``: a table of another type reads as
        none, all its parameters zero)."""
        from .ops import options_table

        kind = op.BuiltinOptionsType()
        if kind == 0:
            return {}
        cls_name = _OPTION_CLASSES.get(kind)
        expected = options_table(op_name)
        if expected is not None and cls_name != expected:
            # TFLite reads options only of the operator's own type: others are
            # as absent (all its parameters zero)
            return {}
        table = op.BuiltinOptions()
        cls = getattr(tflite, cls_name, None) if cls_name else None
        if cls is None or table is None:
            return {}
        obj = cls()
        obj.Init(table.Bytes, table.Pos)
        return _options_to_dict(obj)


def _empty_constants(tensors, operators, inputs):
    """A tensor with zero elements that no operator produces and that is not a
    graph input has no buffer bytes, yet TFLite treats it as a constant (an
    empty MEAN axes list, say): give it an empty read-only array."""
    produced = set(inputs)
    for op in operators:
        produced.update(op.outputs)
    out = list(tensors)
    for t in tensors:
        if (t.data is None and t.dtype is not None and t.num_elements == 0
                and t.index not in produced and not t.is_variable):
            empty = np.zeros(t.shape, t.dtype)
            empty.flags.writeable = False
            out[t.index] = replace(t, data=empty)
    return tuple(out)


def _options_to_dict(obj) -> dict:
    out = {}
    methods = [m for m in dir(type(obj)) if m[:1].isupper()]
    for m in methods:
        if (m == "Init" or m.startswith("GetRootAs") or m.endswith("BufferHasIdentifier")
                or m.endswith("AsNumpy") or m.endswith("Length") or m.endswith("IsNone")):
            continue
        key = _snake(m)
        if m + "Length" in methods:
            n = getattr(obj, m + "Length")()
            out[key] = [int(v) for v in getattr(obj, m + "AsNumpy")()] if n else []
            continue
        value = getattr(obj, m)()
        if key in _ENUM_FIELDS:
            value = _ENUM_FIELDS[key].get(value, value)
        elif isinstance(value, (bool, np.bool_)):
            value = bool(value)
        elif isinstance(value, (int, np.integer)):
            value = int(value)
        elif isinstance(value, (float, np.floating)):
            value = float(value)
        out[key] = value
    return out


def _check_dataflow(model: Model) -> None:
    """Every operator input is a constant, a graph input, or made by an earlier operator."""
    available = set(model.inputs)
    available.update(t.index for t in model.tensors if t.is_constant or t.is_variable)
    producer = {}
    for op in model.operators:
        for t in op.inputs:
            if t == -1 or t in available:
                continue
            raise model.error(
                f"input {model.tensor_label(t)} is read before any operator produces it "
                f"(it is neither a constant, a graph input, nor an earlier operator's output)",
                op,
            )
        for t in op.outputs:
            tensor = model.tensors[t]
            if tensor.is_constant:
                raise model.error(f"output {model.tensor_label(t)} is a constant tensor", op)
            if t in producer:
                raise model.error(
                    f"output {model.tensor_label(t)} is already produced by operator "
                    f"{producer[t]}", op,
                )
            if t in model.inputs:
                raise model.error(f"output {model.tensor_label(t)} is a graph input", op)
            producer[t] = op.index
            available.add(t)
    for t in model.outputs:
        if t not in available:
            raise model.error(
                f"graph output {model.tensor_label(t)} is never produced by an operator"
            )
