"""Running a model on examples, whatever its inputs and outputs, as
``int8sqz run`` does it.

- :class:`Predictor`: a model loaded to run examples: an example is a list
  of arrays, one per model input (in the model's input order); the result is
  the list of output arrays. :meth:`Predictor.run_batch` runs several
  examples as one batch where the model allows it (every input has a batch
  axis of 1, and a batch of n gives each output a batch axis of n): the
  results are exactly those of one example at a time.
- :func:`output_kind`: how the command prints a model's outputs:
  ``"classes"`` (one vector of class scores: top-k),
  ``"probability"`` (one value, a sigmoid's: the probability of the positive
  class), else ``"arrays"`` (every output as a named array).

The image classifier of :mod:`int8sqz.classify` runs on a Predictor.
"""

from __future__ import annotations

import math

import numpy as np

from .constants import DEFAULT_MAX_ACTIVATION_BYTES
from .errors import ComputeError, InterpreterError, ModelError, UnsupportedError

__all__ = ["Predictor", "describe_output", "is_probability", "output_kind", "output_record"]


class Predictor:
    """A TFLite model loaded to run examples (``threads`` share the examples
    of a batch, ``Interpreter(num_threads=)``), in ``numerics``
    (``Interpreter(numerics=)``: the desktop runtimes' numerics run one
    example at a time, as their kernels' integers may depend on where an
    element lies in a batch's tensor). Not thread-safe: one call at a time.
    The tensors are allocated at the first run."""

    def __init__(self, model_path, *,
                 max_activation_bytes: int = DEFAULT_MAX_ACTIVATION_BYTES,
                 threads: int = 1, numerics: str = "reference"):
        from .interpreter import Interpreter

        self.interpreter = Interpreter(model_path=model_path, num_threads=threads,
                                       max_activation_bytes=max_activation_bytes,
                                       numerics=numerics)
        #: the arithmetic (int8sqz.constants.NUMERICS)
        self.numerics = numerics
        #: the model (int8sqz.model.Model)
        self.model = model = self.interpreter.model
        #: the input tensors (int8sqz.model.Tensor), in the model's order
        self.inputs = [model.tensors[i] for i in model.inputs]
        #: the output tensors, in the model's order
        self.outputs = [model.tensors[i] for i in model.outputs]
        self._batch = 0  # examples the interpreter holds now; 0: not allocated; None: unknown
        # the output shapes of one example, as the interpreter prepared them
        self._one = [tuple(int(d) for d in det["shape"])
                     for det in self.interpreter.get_output_details()]
        # batches: every input and output has a batch axis of one example
        self._batching = numerics == "reference" and bool(self.inputs) and all(
            shape[:1] == (1,) for shape in [tuple(t.shape) for t in self.inputs] + self._one)

    def run(self, values) -> list:
        """The outputs (arrays, copies) of one example: ``values`` holds one
        array per input, of its shape and type; :class:`ComputeError` when
        the model cannot compute it."""
        it = self.interpreter
        if self._batch != 1:
            self._resize(1)
        values = list(values)
        if len(values) != len(self.inputs):
            raise InterpreterError(
                f"{len(values)} values for a model of {len(self.inputs)} inputs, expected one "
                f"per input")
        for t, v in zip(self.inputs, values):
            it.set_tensor(t.index, v)
        it.invoke()
        return [it.get_tensor(t.index) for t in self.outputs]

    def run_batch(self, examples) -> list:
        """The outputs of each example, exactly those of :meth:`run` one at
        a time, computed as one batch where the model allows it. An example
        the model cannot compute has the :class:`ComputeError` it raises
        alone in place of its outputs; the others still have theirs."""
        examples = [list(e) for e in examples]
        out = self._run_batch(examples) if len(examples) > 1 and self._batching else None
        if out is not None:
            return out
        results = []
        for values in examples:
            try:
                results.append(self.run(values))
            except ComputeError as exc:
                results.append(exc)
        return results

    def _run_batch(self, examples: list):
        """The outputs of ``examples`` run as one batch; None when the model
        takes one example at a time, or when one of them is one it cannot
        compute (the caller then runs them one at a time)."""
        it = self.interpreter
        n = len(examples)
        try:
            if self._batch != n:
                self._resize(n)
        except ModelError:
            # a batch of n is not a model this one can be: an operator's
            # shapes are fixed (a RESHAPE to one image, ...) or its activations
            # exceed max_activation_bytes. Other errors are bugs: raised.
            self._batch = None
            self._batching = False
            return None
        for det, shape in zip(it.get_output_details(), self._one):
            got = tuple(int(d) for d in det["shape"])
            if got[:1] != (n,) or math.prod(got[1:]) != math.prod(shape[1:]):
                self._batching = False  # the batch does not map to one row per example
                return None
        for k, t in enumerate(self.inputs):
            it.set_tensor(t.index, np.concatenate([values[k] for values in examples]))
        try:
            it.invoke()
        except ComputeError:
            # an operator refused one of the examples (where TFLite's reference
            # aborts). Every other error is the same for one example as for
            # the batch (the batch runs each example through the same kernels)
            # and is raised; this one belongs to one example, so run them one
            # at a time to say which
            return None
        outs = [it.get_tensor(t.index).reshape((n, -1)) for t in self.outputs]
        return [[o[j].reshape(shape) for o, shape in zip(outs, self._one)] for j in range(n)]

    def _resize(self, n: int) -> None:
        it = self.interpreter
        was, self._batch = self._batch, None  # until every call succeeds
        if not (was == 0 and n == 1):
            for t in self.inputs:
                it.resize_tensor_input(t.index, (n,) + tuple(t.shape[1:]))
        it.allocate_tensors()
        self._batch = n


# -- what the outputs are ------------------------------------------------------------------

#: operators that pass a value through (requantized, reshaped): a probability
#: stays one across them
_PASS_THROUGH = ("DEQUANTIZE", "QUANTIZE", "RESHAPE", "SQUEEZE", "EXPAND_DIMS")
#: the quantization TFLite gives every LOGISTIC output: [0, 1) in steps of 1/256
_SIGMOID_QUANTIZATION = {"INT8": -128, "UINT8": 0}


def is_probability(model, index: int) -> bool:
    """Whether tensor ``index`` holds a sigmoid's value: it is computed by
    LOGISTIC, through operators that only requantize or reshape, or the
    tensor it is dequantized from is quantized as TFLite quantizes every
    LOGISTIC output (scale 1/256, zero point -128 for int8, 0 for uint8:
    the values 0 to 255/256)."""
    producer = {}
    for op in model.operators:
        for o in op.outputs:
            producer[o] = op
    seen = set()
    t = index
    while t not in seen:
        seen.add(t)
        tensor = model.tensors[t]
        zp = _SIGMOID_QUANTIZATION.get(tensor.type_name)
        q = tensor.quantization
        if zp is not None and q.scales.size == 1 and q.scale == 1 / 256 and q.zero_point == zp:
            return True
        op = producer.get(t)
        if op is None:
            return False
        if op.name == "LOGISTIC":
            return True
        if op.name not in _PASS_THROUGH or not op.inputs or op.inputs[0] < 0:
            return False
        t = op.inputs[0]
    return False


def output_kind(model) -> str:
    """``"classes"`` when the model has one output of class scores (shape
    ``[1, classes]``, at least two, as :func:`int8sqz.classify.class_output`
    accepts them); ``"probability"`` when it has one output of one value
    that :func:`is_probability`; else ``"arrays"``."""
    from .classify import class_output

    if len(model.outputs) != 1:
        return "arrays"
    out = model.tensors[model.outputs[0]]
    try:
        class_output(model)
    except UnsupportedError:
        return "arrays"
    if out.num_elements == 1:
        return "probability" if is_probability(model, out.index) else "arrays"
    return "classes"


# -- outputs as named arrays ---------------------------------------------------------------

#: text output shows arrays up to this many values whole, larger ones summarised
TEXT_THRESHOLD = 200


def _quantization_note(tensor) -> str:
    q = tensor.quantization
    if tensor.type_name == "FLOAT32" or q.scales.size == 0:
        return ""
    if q.scales.size == 1:
        return f", scale {q.scale:g}, zero point {q.zero_point}"
    return f", {q.scales.size} per-channel scales on axis {q.quantized_dimension}"


def describe_output(tensor, value: np.ndarray) -> list:
    """Lines of text for one output: its name, type and shape (and its
    quantization), then its values as NumPy prints them, every float with
    the fewest digits that read back as the same value; arrays of more than
    :data:`TEXT_THRESHOLD` values are summarised (``--json`` has them all)."""
    from .files import one_line

    value = np.asarray(value)
    head = (f"{one_line(tensor.name)}: {value.dtype.name} {list(value.shape)}"
            f"{_quantization_note(tensor)}")
    body = np.array2string(value, max_line_width=100, threshold=TEXT_THRESHOLD, edgeitems=3,
                           floatmode="unique", separator=" ")
    return [head] + ["  " + line for line in body.splitlines()]


def _json_number(v):
    if isinstance(v, float):
        return v
    if isinstance(v, np.floating):
        if np.isnan(v):
            return "NaN"
        if np.isinf(v):
            return "Infinity" if v > 0 else "-Infinity"
        return float(str(v))  # the shortest decimal that reads back as the same value
    return v.item() if isinstance(v, np.generic) else v


def _nested(flat: list, shape: tuple):
    if not shape:
        return flat[0]
    if len(shape) == 1:
        return flat
    step = len(flat) // shape[0] if shape[0] else 0
    return [_nested(flat[i * step:(i + 1) * step], shape[1:]) for i in range(shape[0])]


def output_record(tensor, value: np.ndarray) -> dict:
    """One output as a JSON-ready dict: ``name``, ``index`` (the tensor's),
    ``shape``, ``dtype``, ``values`` (nested lists; floats as the shortest
    decimals that read back as the same float, NaN and infinities as the
    strings "NaN", "Infinity", "-Infinity"), and for a quantized output
    ``scale`` and ``zero_point`` (lists when per channel)."""
    value = np.asarray(value)
    if value.dtype.kind == "f":
        flat = [_json_number(v) for v in value.reshape(-1)]
    else:
        flat = value.reshape(-1).tolist()
    record = {"name": tensor.name, "index": int(tensor.index), "shape": list(value.shape),
              "dtype": value.dtype.name, "values": _nested(flat, value.shape)}
    q = tensor.quantization
    if tensor.type_name != "FLOAT32" and q.scales.size:
        if q.scales.size == 1:
            record.update(scale=float(q.scales[0]), zero_point=int(q.zero_points[0]))
        else:
            record.update(scale=[float(s) for s in q.scales],
                          zero_point=[int(z) for z in q.zero_points],
                          quantized_dimension=int(q.quantized_dimension))
    return record
