"""Writing ``.tflite`` flatbuffers from a small Python description.

The description is three plain dataclasses: :class:`TensorDef` (shape, type,
per-tensor or per-channel quantization, optional constant data),
:class:`OperatorDef` (builtin name, input and output tensor indices, options
as the snake_case dict that :func:`int8sqz.load_model` returns) and
:class:`ModelDef` (tensors, operators, graph inputs and outputs).
:func:`write_model` turns a :class:`ModelDef` into the bytes of a TFLite model
with the ``tflite`` package's generated builder functions; :func:`model_def`
turns a loaded :class:`~int8sqz.model.Model` back into a description, so that
``write_model(model_def(load_model(b)))`` holds the same tensors, data,
operators and options as ``b``.

:class:`GraphBuilder` is the convenient way to describe a model by hand::

    g = GraphBuilder()
    x = g.input("x", (1, 8, 8, 3), "INT8", scale=0.02, zero_point=-3)
    w = g.constant("w", weights, scale=w_scales, quantized_dimension=0)
    ...
    y = g.operator("CONV_2D", [x, w, b], g.tensor("y", ...), padding="SAME", ...)
    g.output(y)
    content = g.build()

The files load in ai-edge-litert, tflite-micro and int8sqz. Constant buffers
are 16-byte aligned (tflite-micro reads int32 biases in place).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import flatbuffers
import numpy as np
import tflite
from tflite.utils import BUILTIN_OPCODE2NAME

__all__ = [
    "TensorDef", "OperatorDef", "ModelDef", "GraphBuilder", "write_model", "model_def",
    "rewrite_model", "default_version",
]

_TYPE_CODES = {
    name: code for name, code in vars(tflite.TensorType).items()
    if not name.startswith("_") and isinstance(code, int)
}
_NUMPY = {
    "FLOAT32": np.float32, "FLOAT16": np.float16, "FLOAT64": np.float64, "INT8": np.int8,
    "UINT8": np.uint8, "INT16": np.int16, "UINT16": np.uint16, "INT32": np.int32,
    "UINT32": np.uint32, "INT64": np.int64, "UINT64": np.uint64, "BOOL": np.bool_,
    "COMPLEX64": np.complex64, "COMPLEX128": np.complex128,
}
_OPCODES = {name: code for code, name in BUILTIN_OPCODE2NAME.items()}
_PADDING = {k: v for k, v in vars(tflite.Padding).items() if not k.startswith("_")}
_ACTIVATION = {
    k: v for k, v in vars(tflite.ActivationFunctionType).items() if not k.startswith("_")
}
_ENUMS = {"padding": _PADDING, "fused_activation_function": _ACTIVATION}
_OPTION_TYPES = {k: v for k, v in vars(tflite.BuiltinOptions).items() if not k.startswith("_")}
_BUFFER_ALIGNMENT = 16
_PLACEHOLDER_FOR_GREATER_OP_CODES = 127

@dataclass
class TensorDef:
    name: str
    shape: tuple
    type: str  # TFLite type name: "INT8", "UINT8", "INT32", "FLOAT32", ...
    scales: tuple | None = None  # None: no quantization
    zero_points: tuple | None = None  # default: zeros, one per scale
    quantized_dimension: int = 0
    data: np.ndarray | None = None  # constant data, or None for an activation
    shape_signature: tuple | None = None  # written only when it differs from shape
    is_variable: bool = False


@dataclass
class OperatorDef:
    name: str  # builtin name ("CONV_2D"), or "CUSTOM:<code>"
    inputs: tuple  # tensor indices, -1 for an omitted optional input
    outputs: tuple
    options: dict = field(default_factory=dict)  # snake_case keys as load_model gives them
    version: int | None = None  # None: default_version(name, ...) of TFLite's op_version.cc


@dataclass
class ModelDef:
    tensors: list
    operators: list
    inputs: list
    outputs: list
    description: str = "int8sqz.testing.writer"
    subgraph_name: str = "main"


# -- operator versions ---------------------------------------------------------------

def default_version(op: OperatorDef, tensors) -> int:
    """The version TFLite's converter gives the operator (``op_version.cc``),
    as its unit in int8sqz.ops states it; 1 for operators without a unit."""
    from ..ops import version

    return version(op, tensors)


def _default_options(name: str) -> dict:
    """The options GraphBuilder.operator fills in when the caller leaves them
    out (the unit's ``defaults``)."""
    from ..ops import REGISTRY

    unit = REGISTRY.get(name)
    return dict(unit.defaults) if unit is not None else {}


# -- writing -------------------------------------------------------------------------

def _snake(name: str) -> str:
    # the same conversion as int8sqz.model uses for option accessors
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def _options_class(op_name: str) -> str | None:
    from ..ops import options_table

    cls = options_table(op_name)
    if cls is None:
        cls = "".join(w.capitalize() for w in op_name.split("_")) + "Options"
        cls = cls.replace("2d", "2D")
    return cls if cls in _OPTION_TYPES else None


def _option_adders(cls: str) -> dict:
    prefix = cls + "Add"
    adders = {}
    for attr in dir(tflite):
        if attr.startswith(prefix):
            field_name = attr[len(prefix):]
            adders[_snake(field_name)] = (field_name, getattr(tflite, attr))
    return adders


def _int_vector(builder, values, dtype=np.int32):
    return builder.CreateNumpyVector(np.asarray(values, dtype=dtype).reshape(-1))


def _write_options(builder, op: OperatorDef):
    """Returns (options type code, table offset), or (0, None) without options."""
    if not op.options:
        return 0, None
    cls = _options_class(op.name)
    if cls is None:
        raise ValueError(f"operator {op.name}: no builtin options table is known for it")
    adders = _option_adders(cls)
    unknown = sorted(set(op.options) - set(adders))
    if unknown:
        raise ValueError(
            f"operator {op.name}: unknown option(s) {unknown} for {cls}; "
            f"known: {sorted(adders)}"
        )
    # vectors must be written before the table is started
    values = {}
    for key, value in op.options.items():
        if isinstance(value, (list, tuple, np.ndarray)):
            values[key] = _int_vector(builder, value)
        elif key in _ENUMS:
            values[key] = _ENUMS[key][value] if isinstance(value, str) else int(value)
        else:
            values[key] = value
    getattr(tflite, cls + "Start")(builder)
    for key, value in values.items():
        adders[key][1](builder, value)
    return _OPTION_TYPES[cls], getattr(tflite, cls + "End")(builder)


def _check_tensor(i: int, t: TensorDef) -> np.ndarray | None:
    if t.type not in _TYPE_CODES:
        raise ValueError(f"tensor {i} '{t.name}': unknown type {t.type!r}")
    if any(int(d) < 0 for d in t.shape):
        raise ValueError(f"tensor {i} '{t.name}': negative dimension in {t.shape}")
    if t.scales is not None and t.zero_points is not None and \
            len(t.scales) != len(t.zero_points):
        raise ValueError(f"tensor {i} '{t.name}': {len(t.scales)} scales and "
                         f"{len(t.zero_points)} zero points")
    if t.data is None:
        return None
    dtype = _NUMPY.get(t.type)
    if dtype is None:
        raise ValueError(f"tensor {i} '{t.name}': constant data of type {t.type} is not supported")
    data = np.asarray(t.data)
    if tuple(data.shape) != tuple(int(d) for d in t.shape):
        raise ValueError(f"tensor {i} '{t.name}': data of shape {data.shape}, "
                         f"expected {tuple(t.shape)}")
    if data.dtype != np.dtype(dtype):
        raise ValueError(f"tensor {i} '{t.name}': data of type {data.dtype}, expected "
                         f"{np.dtype(dtype).name} for {t.type}")
    return np.ascontiguousarray(data).astype(np.dtype(dtype).newbyteorder("<"), copy=False)


def _byte_vector(builder, payload: bytes):
    n = len(payload)
    builder.StartVector(1, n, _BUFFER_ALIGNMENT)
    builder.head -= n
    builder.Bytes[builder.head:builder.head + n] = payload
    return builder.EndVector()


def write_model(md: ModelDef) -> bytes:
    """The bytes of a TFLite flatbuffer holding ``md`` (one subgraph)."""
    ntensors = len(md.tensors)
    for where, indices in (("graph input", md.inputs), ("graph output", md.outputs)):
        for i in indices:
            if not 0 <= i < ntensors:
                raise ValueError(f"{where} {i} is not a tensor index (0..{ntensors - 1})")
    for k, op in enumerate(md.operators):
        for i in list(op.inputs) + list(op.outputs):
            if not -1 <= i < ntensors:
                raise ValueError(f"operator {k} ({op.name}) refers to tensor {i}")
    datas = [_check_tensor(i, t) for i, t in enumerate(md.tensors)]

    b = flatbuffers.Builder(1024 + sum(d.nbytes for d in datas if d is not None))

    # buffers: 0 is the empty sentinel, then one per constant tensor
    buffer_of = [0] * ntensors
    payloads = [None]
    for i, d in enumerate(datas):
        if d is not None:
            buffer_of[i] = len(payloads)
            payloads.append(d.tobytes())
    buffer_offsets = []
    for payload in payloads:
        vec = _byte_vector(b, payload) if payload else None
        tflite.BufferStart(b)
        if vec is not None:
            tflite.BufferAddData(b, vec)
        buffer_offsets.append(tflite.BufferEnd(b))

    # tensors
    tensor_offsets = []
    for i, t in enumerate(md.tensors):
        name = b.CreateString(t.name)
        shape = _int_vector(b, [int(d) for d in t.shape])
        sig = None
        if t.shape_signature is not None and tuple(t.shape_signature) != tuple(t.shape):
            sig = _int_vector(b, [int(d) for d in t.shape_signature])
        quant = None
        if t.scales is not None:
            scales = b.CreateNumpyVector(np.asarray(t.scales, np.float32).reshape(-1))
            zps = t.zero_points if t.zero_points is not None else [0] * len(t.scales)
            zps = b.CreateNumpyVector(np.asarray(zps, np.int64).reshape(-1))
            tflite.QuantizationParametersStart(b)
            tflite.QuantizationParametersAddScale(b, scales)
            tflite.QuantizationParametersAddZeroPoint(b, zps)
            tflite.QuantizationParametersAddQuantizedDimension(b, int(t.quantized_dimension))
            quant = tflite.QuantizationParametersEnd(b)
        tflite.TensorStart(b)
        tflite.TensorAddShape(b, shape)
        if sig is not None:
            tflite.TensorAddShapeSignature(b, sig)
        tflite.TensorAddType(b, _TYPE_CODES[t.type])
        tflite.TensorAddBuffer(b, buffer_of[i])
        tflite.TensorAddName(b, name)
        if quant is not None:
            tflite.TensorAddQuantization(b, quant)
        if t.is_variable:
            tflite.TensorAddIsVariable(b, True)
        tensor_offsets.append(tflite.TensorEnd(b))

    # operator codes, one per (name, version)
    codes = {}
    for op in md.operators:
        version = op.version if op.version is not None else default_version(op, md.tensors)
        codes.setdefault((op.name, int(version)), len(codes))
    code_offsets = []
    for (name, version) in codes:
        custom = None
        if name.startswith("CUSTOM:"):
            code = _OPCODES["CUSTOM"]
            custom = b.CreateString(name[len("CUSTOM:"):])
        elif name in _OPCODES:
            code = _OPCODES[name]
        else:
            raise ValueError(f"unknown builtin operator {name!r}")
        tflite.OperatorCodeStart(b)
        tflite.OperatorCodeAddDeprecatedBuiltinCode(b, min(code, _PLACEHOLDER_FOR_GREATER_OP_CODES))
        tflite.OperatorCodeAddBuiltinCode(b, code)
        tflite.OperatorCodeAddVersion(b, version)
        if custom is not None:
            tflite.OperatorCodeAddCustomCode(b, custom)
        code_offsets.append(tflite.OperatorCodeEnd(b))

    # operators
    op_offsets = []
    for op in md.operators:
        version = op.version if op.version is not None else default_version(op, md.tensors)
        inputs = _int_vector(b, list(op.inputs))
        outputs = _int_vector(b, list(op.outputs))
        opt_type, opt = _write_options(b, op)
        tflite.OperatorStart(b)
        tflite.OperatorAddOpcodeIndex(b, codes[(op.name, int(version))])
        tflite.OperatorAddInputs(b, inputs)
        tflite.OperatorAddOutputs(b, outputs)
        if opt is not None:
            tflite.OperatorAddBuiltinOptionsType(b, opt_type)
            tflite.OperatorAddBuiltinOptions(b, opt)
        op_offsets.append(tflite.OperatorEnd(b))

    def table_vector(start, offsets):
        start(b, len(offsets))
        for off in reversed(offsets):
            b.PrependUOffsetTRelative(off)
        return b.EndVector()

    tensors_vec = table_vector(tflite.SubGraphStartTensorsVector, tensor_offsets)
    ops_vec = table_vector(tflite.SubGraphStartOperatorsVector, op_offsets)
    in_vec = _int_vector(b, list(md.inputs))
    out_vec = _int_vector(b, list(md.outputs))
    sg_name = b.CreateString(md.subgraph_name)
    tflite.SubGraphStart(b)
    tflite.SubGraphAddTensors(b, tensors_vec)
    tflite.SubGraphAddInputs(b, in_vec)
    tflite.SubGraphAddOutputs(b, out_vec)
    tflite.SubGraphAddOperators(b, ops_vec)
    tflite.SubGraphAddName(b, sg_name)
    subgraph = tflite.SubGraphEnd(b)

    subgraphs_vec = table_vector(tflite.ModelStartSubgraphsVector, [subgraph])
    codes_vec = table_vector(tflite.ModelStartOperatorCodesVector, code_offsets)
    buffers_vec = table_vector(tflite.ModelStartBuffersVector, buffer_offsets)
    description = b.CreateString(md.description)
    tflite.ModelStart(b)
    tflite.ModelAddVersion(b, 3)
    tflite.ModelAddOperatorCodes(b, codes_vec)
    tflite.ModelAddSubgraphs(b, subgraphs_vec)
    tflite.ModelAddDescription(b, description)
    tflite.ModelAddBuffers(b, buffers_vec)
    b.Finish(tflite.ModelEnd(b), file_identifier=b"TFL3")
    return bytes(b.Output())


# -- reading back ----------------------------------------------------------------------

def model_def(model) -> ModelDef:
    """The description of a loaded :class:`~int8sqz.model.Model` (first subgraph)."""
    tensors = []
    for t in model.tensors:
        q = t.quantization
        has_q = q.scales.size > 0
        tensors.append(TensorDef(
            name=t.name, shape=tuple(t.shape), type=t.type_name,
            scales=tuple(q.scales.tolist()) if has_q else None,
            zero_points=tuple(int(z) for z in q.zero_points) if has_q else None,
            quantized_dimension=int(q.quantized_dimension),
            data=None if t.data is None else np.array(t.data),
            shape_signature=tuple(t.shape_signature), is_variable=t.is_variable,
        ))
    operators = [
        OperatorDef(op.name, tuple(op.inputs), tuple(op.outputs), dict(op.options), op.version)
        for op in model.operators
    ]
    return ModelDef(tensors, operators, list(model.inputs), list(model.outputs),
                    description=model.description)


def rewrite_model(source) -> bytes:
    """Load a model (path or bytes) and write it again."""
    from ..model import load_model
    return write_model(model_def(load_model(source)))


# -- convenience -----------------------------------------------------------------------

class GraphBuilder:
    """Builds a :class:`ModelDef` one tensor and one operator at a time."""

    def __init__(self, description: str = "int8sqz.testing.writer"):
        self.tensors: list = []
        self.operators: list = []
        self.inputs: list = []
        self.outputs: list = []
        self.description = description

    def tensor(self, name, shape, type="INT8", *, scale=None, zero_point=None,
               quantized_dimension=0, data=None, shape_signature=None) -> int:
        """Add a tensor; ``scale``/``zero_point`` are a number (per-tensor) or a
        sequence (per-channel along ``quantized_dimension``)."""
        scales = zps = None
        if scale is not None:
            scales = tuple(float(s) for s in np.atleast_1d(np.asarray(scale, np.float64)))
            if zero_point is None:
                zps = (0,) * len(scales)
            else:
                zps = tuple(int(z) for z in np.atleast_1d(np.asarray(zero_point)))
                if len(zps) == 1 and len(scales) > 1:
                    zps = zps * len(scales)
        self.tensors.append(TensorDef(
            name=name, shape=tuple(int(d) for d in shape), type=type, scales=scales,
            zero_points=zps, quantized_dimension=quantized_dimension, data=data,
            shape_signature=shape_signature,
        ))
        return len(self.tensors) - 1

    def constant(self, name, data, type=None, **quant) -> int:
        data = np.asarray(data)
        if type is None:
            type = {np.dtype(v): k for k, v in _NUMPY.items()}[data.dtype]
        return self.tensor(name, data.shape, type, data=data, **quant)

    def input(self, name, shape, type="INT8", **quant) -> int:
        i = self.tensor(name, shape, type, **quant)
        self.inputs.append(i)
        return i

    def output(self, *indices) -> None:
        self.outputs.extend(indices)

    def operator(self, name, inputs, outputs, *, version=None, **options):
        """Add an operator; returns its output index (or the list of them)."""
        merged = dict(_default_options(name))
        merged.update(options)
        outs = [outputs] if isinstance(outputs, (int, np.integer)) else list(outputs)
        self.operators.append(OperatorDef(
            name, tuple(int(i) for i in inputs), tuple(int(o) for o in outs), merged, version,
        ))
        return outs[0] if isinstance(outputs, (int, np.integer)) else outs

    def model_def(self) -> ModelDef:
        return ModelDef(list(self.tensors), list(self.operators), list(self.inputs),
                        list(self.outputs), description=self.description)

    def build(self) -> bytes:
        return write_model(self.model_def())
