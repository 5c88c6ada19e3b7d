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
- :func:`class_output` and :func:`class_scores`: the output tensor of class
  scores of a model (or UnsupportedError), and the scores in its array,
  as :class:`Classifier` finds and reads them.

Files (models, images, label files) are read through :mod:`int8sqz.files`:
a FIFO, a device or a directory is refused without blocking, every file
has a size cap (``max_bytes``), and :data:`int8sqz.files.STDIN` reads
standard input.

Errors are those of :mod:`int8sqz.errors`: :class:`~int8sqz.errors.ModelError`
(or ``UnsupportedError``) for a model that is not a classifier of one image,
:class:`~int8sqz.errors.LabelsError`, :class:`~int8sqz.errors.ImageError`, and
:class:`~int8sqz.errors.ComputeError` for an input the model cannot compute.
"""

from __future__ import annotations

import os

import numpy as np

from .constants import (
    DEFAULT_MAX_ACTIVATION_BYTES, DEFAULT_MAX_INPUT_BYTES, DEFAULT_MAX_LABELS_BYTES,
    DEFAULT_MAX_PIXELS,
)
from .errors import ComputeError, UnsupportedError
from .files import is_stdin
from .image import input_spec, preprocess
from .labels import labels_path_for, read_labels

__all__ = ["Classifier", "class_output", "class_scores", "resolve_labels", "top_k"]


class Classifier:
    """A TFLite image classifier: one image input (uint8, int8 or float32
    pixels, see :mod:`int8sqz.image`) and one output of class scores,
    shape ``[1, classes]``.

    ``threads`` share the images of a batch (``Interpreter(num_threads=)``);
    ``numerics`` is the arithmetic (``Interpreter(numerics=)``).
    Not thread-safe: a classifier runs one call at a time. It runs on an
    :class:`int8sqz.predict.Predictor` (``int8sqz run`` runs every model on
    one), so both give the same results.
    """

    def __init__(self, model_path, *,
                 max_activation_bytes: int = DEFAULT_MAX_ACTIVATION_BYTES,
                 threads: int = 1, numerics: str = "reference"):
        from .predict import Predictor

        self._predictor = Predictor(model_path, max_activation_bytes=max_activation_bytes,
                                    threads=threads, numerics=numerics)
        self.interpreter = self._predictor.interpreter
        #: the arithmetic (int8sqz.constants.NUMERICS)
        self.numerics = numerics
        model = self.interpreter.model
        #: the image input: height, width, channels, dtype, layout
        self.spec = input_spec(model)
        out = class_output(model)
        self._output = out
        #: the number of classes (scores per input)
        self.num_classes = int(out.shape[-1])

    def preprocess(self, path, *, resize: str = "nearest",
                   max_pixels: int | None = DEFAULT_MAX_PIXELS,
                   max_bytes: int = DEFAULT_MAX_INPUT_BYTES) -> np.ndarray:
        """Decode the image file ``path`` into this model's input
        (:func:`int8sqz.image.preprocess`); :class:`ImageError` if it cannot."""
        return preprocess(path, self.spec, resize=resize, max_pixels=max_pixels,
                          max_bytes=max_bytes)

    def scores(self, value) -> list:
        """The class scores of one input (an array of ``spec.shape``), as
        Python floats; :class:`ComputeError` when the model cannot compute it."""
        return class_scores(self._predictor.run([value])[0], self._output)

    def scores_batch(self, values) -> list:
        """The class scores of each input, exactly those of :meth:`scores`
        one at a time, computed as one batch where the model allows it. An
        input the model cannot compute has the :class:`ComputeError` it
        raises alone in place of its scores; the others still have theirs."""
        results = self._predictor.run_batch([value] for value in values)
        return [r if isinstance(r, ComputeError) else class_scores(r[0], self._output)
                for r in results]


def class_output(model):
    """The output tensor of class scores of ``model`` (an
    :class:`int8sqz.model.Model`): its one output, of shape ``[1, classes]``
    and type FLOAT32, or UINT8 or INT8 with a per-tensor scale;
    :class:`UnsupportedError` when it has none."""
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
    return out


def class_scores(values, tensor) -> list:
    """The scores in ``values`` (the array of the output ``tensor``, see
    :func:`class_output`) as Python floats: a float32 output as the
    shortest decimals that read back as the same float32, a quantized one
    dequantized (``scale * (q - zero_point)``)."""
    values = np.asarray(values).reshape(-1)
    if tensor.type_name == "FLOAT32":
        return [float(str(v)) for v in values.astype(np.float32)]
    scale = float(tensor.quantization.scale)
    zero_point = int(tensor.quantization.zero_point)
    return [scale * (int(v) - zero_point) for v in values]


def top_k(scores, k: int) -> list:
    """The indices of the ``k`` highest ``scores`` (all of them when ``k``
    exceeds their number), highest first; equal scores rank the lower class
    index first."""
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    return order[:max(k, 0)]


def resolve_labels(model_path, num_classes, labels_path=None, *,
                   max_bytes: int = DEFAULT_MAX_LABELS_BYTES):
    """The class names: read from ``labels_path`` when given (an error if it
    cannot be read), else from ``MODEL.labels.txt`` beside the model when
    that file exists (never beside a model read from standard input), else
    ``None`` (classes are known by index). Their number must be
    ``num_classes`` (any number when it is None): :class:`LabelsError`
    otherwise. Label files larger than ``max_bytes`` are refused."""
    if labels_path is None:
        if is_stdin(model_path):
            return None
        labels_path = labels_path_for(model_path)
        if not os.path.isfile(labels_path):
            return None
    return read_labels(labels_path, num_classes, max_bytes=max_bytes)
