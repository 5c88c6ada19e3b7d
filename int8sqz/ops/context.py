"""What an operator's prepare step sees: the model, the current shapes, the
values known before anything runs, and the vocabulary to check them and to
fail with a message that names the file, the operator and the tensor."""

from __future__ import annotations

import math

import numpy as np

from ..errors import ModelError, UnsupportedError
from ..model import Model, Operator


class PrepareContext:
    """``max_activation_bytes`` (None: no limit) bounds the bytes of the graph
    inputs and operator outputs: each output is counted when its shape is
    set, before the operator allocates anything, so a model over the limit is
    refused before any array of its size exists.

    ``numerics`` is the arithmetic the operators are prepared for (one of
    int8sqz.ops.unit.NUMERICS; int8sqz.ops.prepare picks each unit's prepare
    step by it), ``num_threads`` the runtime's thread count, which some of
    TFLite's optimized kernels let change their integers (the builtin MEAN)."""

    def __init__(self, model: Model, shapes: list, resized: bool = False,
                 max_activation_bytes: int | None = None, *, numerics: str = "reference",
                 num_threads: int = 1):
        self.model = model
        self.numerics = numerics
        self.num_threads = num_threads
        #: tensor index -> why a runtime gives it a shape other than the file's
        self.reshaped = {}
        self.shapes = shapes  # current shape of every tensor, updated as ops prepare
        self.resized = resized  # True once an input was resized: shapes may differ from the file
        self.max_activation_bytes = max_activation_bytes
        self.activation_bytes = 0
        self._values = {}  # tensor index -> value an operator's prepare computed
        for index in sorted(set(model.inputs)):
            self._count(index, None)

    # -- naming ---------------------------------------------------------------------
    def label(self, index: int) -> str:
        return self.model.tensor_label(index)

    def error(self, op: Operator, message: str) -> ModelError:
        return self.model.error(message, op)

    def unsupported(self, op: Operator, message: str) -> UnsupportedError:
        return UnsupportedError(f"{self.model.source}: {op.describe()}: {message}")

    # -- structure ------------------------------------------------------------------
    def tensor(self, index: int):
        return self.model.tensors[index]

    def shape(self, index: int) -> tuple:
        return self.shapes[index]

    def check_arity(self, op: Operator, inputs, outputs: int = 1) -> None:
        """``inputs`` is a count or a (min, max) range of inputs."""
        lo, hi = (inputs, inputs) if isinstance(inputs, int) else inputs
        n = len(op.inputs)
        if not lo <= n <= hi:
            want = str(lo) if lo == hi else f"{lo} to {hi}"
            raise self.error(op, f"has {n} inputs, expected {want}")
        if len(op.outputs) != outputs:
            raise self.error(op, f"has {len(op.outputs)} outputs, expected {outputs}")
        for k, t in enumerate(op.inputs[:lo]):
            if t < 0:
                raise self.error(op, f"input {k} is omitted, but it is required")

    def check_type(self, op: Operator, index: int, allowed, role: str) -> str:
        t = self.model.tensors[index]
        if t.type_name not in allowed:
            raise self.unsupported(
                op, f"{role} {self.label(index)} has type {t.type_name}, expected "
                f"{' or '.join(allowed)}"
            )
        return t.type_name

    def check_rank(self, op: Operator, index: int, ranks, role: str) -> tuple:
        shape = self.shapes[index]
        if len(shape) not in ranks:
            want = " or ".join(str(r) for r in ranks)
            raise self.error(
                op, f"{role} {self.label(index)} has shape {list(shape)}, expected rank {want}"
            )
        return shape

    def constant(self, op: Operator, index: int, role: str):
        t = self.model.tensors[index]
        if not t.is_constant:
            raise self.unsupported(
                op, f"{role} {self.label(index)} is computed at run time, expected a constant"
            )
        return t.data

    def set_output_shape(self, op: Operator, index: int, shape) -> None:
        """Record an output's computed shape; it must equal the file's unless resized."""
        shape = tuple(int(d) for d in shape)
        declared = self.model.tensors[index].shape
        if not self.resized and shape != declared:
            raise self.error(
                op, f"output {self.label(index)} has shape {list(declared)} in the file, "
                f"expected {list(shape)} from the operator's inputs and options"
            )
        self.shapes[index] = shape
        self._count(index, op)

    def set_runtime_shape(self, op: Operator, index: int, shape, why: str) -> None:
        """Give an output the shape a desktop runtime gives it where that
        differs from the file's (XNNPACK reshapes some outputs; ``why``
        says where). Only the numerics of that runtime call this."""
        shape = tuple(int(d) for d in shape)
        if shape != tuple(self.shapes[index]):
            self.activation_bytes -= (math.prod(self.shapes[index])
                                      * self.model.tensors[index].dtype.itemsize)
            self.shapes[index] = shape
            self._count(index, op)
        self.reshaped[index] = why

    def _count(self, index: int, op: Operator | None) -> None:
        t = self.model.tensors[index]
        if t.is_constant or t.dtype is None:
            return
        self.activation_bytes += math.prod(self.shapes[index]) * t.dtype.itemsize
        limit = self.max_activation_bytes
        if limit is not None and self.activation_bytes > limit:
            where = f"{op.describe()}: " if op is not None else ""
            raise ModelError(
                f"{self.model.source}: {where}the activations need at least "
                f"{self.activation_bytes} bytes (counted up to {self.label(index)}), more "
                f"than the limit of {limit} bytes (max_activation_bytes)"
            )

    # -- values known at prepare time -----------------------------------------------
    # int8sqz sizes every tensor before anything runs. TFLite computes some
    # shapes at run time instead (SHAPE -> STRIDED_SLICE -> PACK -> RESHAPE);
    # those values depend only on shapes and constants, so the operators that
    # make them record them here as they prepare (and still compute them when
    # the model runs), and the operators that read a shape or a parameter
    # from a tensor find it here.

    def value(self, index: int):
        """The value of tensor ``index`` when it is known at prepare time: a
        constant's data, or what an earlier operator's prepare recorded with
        :meth:`set_value`; None otherwise."""
        if index < 0:
            return None
        t = self.model.tensors[index]
        if t.is_constant:
            return t.data
        return self._values.get(index)

    def set_value(self, index: int, array) -> None:
        """Record the value operator output ``index`` will have when the model
        runs (its current shape and the tensor's type)."""
        t = self.model.tensors[index]
        value = np.array(array, dtype=t.dtype).reshape(self.shapes[index])
        value.flags.writeable = False
        self._values[index] = value

    def known_value(self, op: Operator, index: int, role: str):
        """The value of a parameter tensor (a shape, paddings, a
        permutation), which int8sqz must know when it prepares the model."""
        value = self.value(index)
        if value is None:
            raise self.unsupported(
                op, f"{role} {self.label(index)} is computed at run time from values unknown "
                f"when the model is prepared, expected a constant or a value computed from "
                f"shapes and constants (SHAPE, STRIDED_SLICE, PACK, ...)"
            )
        return value

    #: outputs up to this many elements are computed at prepare time when
    #: every input of their operator is known
    FOLD_ELEMENTS = 1 << 16

    def fold(self, node):
        """When every input of ``node``'s operator is known, run it now and
        record its outputs' values (small outputs only); returns the node.
        The node still runs with the model, as TFLite's does."""
        op = node.op
        inputs = [i for i in op.inputs if i >= 0]
        if any(self.value(i) is None for i in inputs):
            return node
        if any(math.prod(self.shapes[o]) > self.FOLD_ELEMENTS for o in op.outputs):
            return node
        tensors = [None] * len(self.model.tensors)
        for i in inputs:
            tensors[i] = self.value(i)
        for o in op.outputs:
            tensors[o] = np.zeros(self.shapes[o], self.model.tensors[o].dtype)
        node.run(tensors)
        for o in op.outputs:
            self.set_value(o, tensors[o])
        return node
