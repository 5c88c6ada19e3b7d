"""Image classification with a TFLite classifier, as ``int8sqz run`` does it.

The commands that classify images (``int8sqz run``, and ``eval``) share
this module, so that they agree image by image; it is public for programs
that want the same results::

    from int8sqz.classify import Classifier, resolve_labels, top_k

    clf = Classifier("model.tflite")
    labels = resolve_labels("model.tflite", clf.num_classes)
    scores = clf.scores(clf.preprocess("photo.jpg"))
    for i in top_k(scores, 3):
        print(labels[i] if labels else i, scores[i])

Public names:

- :class:`Classifier`: a model loaded for classification: its image input
  (:attr:`~Classifier.spec`, an :class:`int8sqz.image.InputSpec`), its class
  count (:attr:`~Classifier.num_classes`), and the class scores of one input
  (:meth:`~Classifier.scores`) or of a batch (:meth:`~Classifier.scores_batch`,
  the same results as one at a time). Scores are Python floats: a float32
  output as it is, a quantized one dequantized (``scale * (q - zero_point)``).
- :func:`top_k`: the indices of the ``k`` highest scores, ties ranked lower
  class index first.
- :func:`resolve_labels`: the class names from a given label file, else
  from ``MODEL.labels.txt`` beside the model, else ``None``.

Errors are those of :mod:`int8sqz.errors`: :class:`~int8sqz.errors.ModelError`
(or ``UnsupportedError``) for a model that is not a classifier of one image,
:class:`~int8sqz.errors.LabelsError`, :class:`~int8sqz.errors.ImageError`, and
:class:`~int8sqz.errors.ComputeError` for an input the model cannot compute.
"""

from __future__ import annotations

import os

import numpy as np

from .constants import DEFAULT_MAX_ACTIVATION_BYTES, DEFAULT_MAX_PIXELS
from .errors import ComputeError, ModelError, UnsupportedError
from .image import input_spec, preprocess
from .labels import labels_path_for, read_labels

__all__ = ["Classifier", "resolve_labels", "top_k"]


class Classifier:
    """A TFLite image classifier: one image input (uint8, int8 or float32
    pixels, see :mod:`int8sqz.image`) and one output of class scores,
    shape ``[1, classes]``.

    ``threads`` share the images of a batch (``Interpreter(num_threads=)``).
    Not thread-safe: a classifier runs one call at a time.
    """

    def __init__(self, model_path, *,
                 max_activation_bytes: int = DEFAULT_MAX_ACTIVATION_BYTES,
                 threads: int = 1):
        from .interpreter import Interpreter

        self.interpreter = Interpreter(model_path=model_path, num_threads=threads,
                                       max_activation_bytes=max_activation_bytes)
        model = self.interpreter.model
        #: the image input: height, width, channels, dtype
        self.spec = input_spec(model)
        if len(model.outputs) != 1:
            raise UnsupportedError(
                f"{model.source}: the model has {len(model.outputs)} outputs, expected 1 "
                f"(class scores)"
            )
        out = model.tensors[model.outputs[0]]
        shape = tuple(out.shape)
        if not shape or any(d != 1 for d in shape[:-1]) or shape[-1] < 1:
            raise UnsupportedError(
                f"{model.source}: output tensor {out.index} '{out.name}' has shape "
                f"{list(shape)}, expected [1, classes] (one score per class)"
            )
        if out.type_name not in ("FLOAT32", "UINT8", "INT8"):
            raise UnsupportedError(
                f"{model.source}: output tensor {out.index} '{out.name}' has type "
                f"{out.type_name}, expected FLOAT32, UINT8 or INT8 class scores"
            )
        q = out.quantization
        if out.type_name != "FLOAT32" and (q.scales.size != 1 or not q.scale > 0):
            raise UnsupportedError(
                f"{model.source}: output tensor {out.index} '{out.name}' has no per-tensor "
                f"quantization scale > 0, expected one to dequantize the class scores"
            )
        self._output_index = out.index
        self._output_type = out.type_name
        self._scale = float(q.scale)
        self._zero_point = int(q.zero_point)
        #: the number of classes (scores per input)
        self.num_classes = int(shape[-1])
        self._input_index = model.inputs[0]
        self.interpreter.allocate_tensors()
        self._batch = 1  # inputs the interpreter holds now; None: unknown, resize
        self._batching = True  # False once the model refused a batch size

    def preprocess(self, path, *, resize: str = "nearest",
                   max_pixels: int | None = DEFAULT_MAX_PIXELS) -> np.ndarray:
        """Decode the image file ``path`` into this model's input
        (:func:`int8sqz.image.preprocess`); :class:`ImageError` if it cannot."""
        return preprocess(path, self.spec, resize=resize, max_pixels=max_pixels)

    def scores(self, value) -> list:
        """The class scores of one input (an array of ``spec.shape``), as
        Python floats; :class:`ComputeError` when the model cannot compute it."""
        it = self.interpreter
        if self._batch != 1:
            self._resize(1)
        it.set_tensor(self._input_index, value)
        it.invoke()
        return self._to_scores(it.get_tensor(self._output_index).reshape(-1))

    def scores_batch(self, values) -> list:
        """The class scores of each input, exactly those of :meth:`scores`
        one at a time, computed as one batch where the model allows it. An
        input the model cannot compute has the :class:`ComputeError` it
        raises alone in place of its scores; the others still have theirs."""
        values = list(values)
        out = self._run_batch(values) if len(values) > 1 and self._batching else None
        if out is not None:
            return out
        results = []
        for value in values:
            try:
                results.append(self.scores(value))
            except ComputeError as exc:
                results.append(exc)
        return results

    def _run_batch(self, values: list):
        """The scores of ``values`` run as one batch; None when the model
        takes one input at a time, or when one of the inputs is one it
        cannot compute (the caller then runs them one at a time)."""
        it = self.interpreter
        n = len(values)
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
        out_shape = tuple(it.get_output_details()[0]["shape"])
        if out_shape[:1] != (n,) or int(np.prod(out_shape[1:])) != self.num_classes:
            self._batching = False  # the batch does not map to one score row per input
            return None
        it.set_tensor(self._input_index, np.concatenate(values))
        try:
            it.invoke()
        except ComputeError:
            # an operator refused one of the inputs (where TFLite's reference
            # aborts). Every other error is the same for one input as for the
            # batch (the batch runs each input through the same kernels) and
            # is raised; this one belongs to one input, so run them one at a
            # time to say which
            return None
        rows = it.get_tensor(self._output_index).reshape(n, -1)
        return [self._to_scores(row) for row in rows]

    def _resize(self, n: int) -> None:
        it = self.interpreter
        self._batch = None  # until both calls succeed
        it.resize_tensor_input(self._input_index, (n,) + tuple(self.spec.shape[1:]))
        it.allocate_tensors()
        self._batch = n

    def _to_scores(self, out) -> list:
        if self._output_type == "FLOAT32":
            # the shortest decimal that reads back as the same float32
            return [float(str(v)) for v in out.astype(np.float32)]
        return [self._scale * (int(v) - self._zero_point) for v in out]


def top_k(scores, k: int) -> list:
    """The indices of the ``k`` highest ``scores`` (all of them when ``k``
    exceeds their number), highest first; equal scores rank the lower class
    index first."""
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    return order[:max(k, 0)]


def resolve_labels(model_path, num_classes: int, labels_path=None):
    """The class names: read from ``labels_path`` when given (an error if it
    cannot be read), else from ``MODEL.labels.txt`` beside the model when
    that file exists, else ``None`` (classes are known by index). Their
    number must be ``num_classes``: :class:`LabelsError` otherwise."""
    if labels_path is None:
        labels_path = labels_path_for(model_path)
        if not os.path.isfile(labels_path):
            return None
    return read_labels(labels_path, num_classes)
