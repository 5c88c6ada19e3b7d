"""The exceptions int8sqz raises.

Every error int8sqz raises on purpose is an :class:`Int8sqzError`; its
message says what was found and what was expected (file, operator index and
name, tensor name)::

    Int8sqzError
    +-- ModelError          the model file is invalid or contradicts itself
    |   +-- UnsupportedError    valid TFLite that int8sqz does not run
    +-- InputError          an input file cannot be read or does not fit the model
    |   +-- ImageError          an image file cannot be read or decoded
    +-- LabelsError         a label file is unreadable or does not fit the model
    +-- DataError           a data folder is missing, empty, or does not fit the labels
    +-- ComputeError        the model cannot compute this input (run time)
    +-- InterpreterError    the interpreter API was misused
    +-- InternalError       a bug of int8sqz

The first six are about what a user feeds: the ``int8sqz`` command reports
them as a bad input (exit 2). ``InterpreterError`` and ``InternalError``
mean that the caller's code or int8sqz itself is wrong: from the command,
whose calls are int8sqz's own, both are bugs (exit 1).

The subclasses also derive from the matching built-in exception so that
callers who catch ``ValueError`` (as they would with TFLite's interpreter)
keep working.
"""


class Int8sqzError(Exception):
    """Base class of every error int8sqz raises on purpose."""


class ModelError(Int8sqzError, ValueError):
    """The model file is not a valid TFLite model, or contradicts itself."""


class UnsupportedError(ModelError):
    """The model is valid TFLite but uses an operator or type int8sqz lacks."""


class InputError(Int8sqzError, ValueError):
    """An input file (an image, a ``.npy`` or ``.npz`` array) cannot be
    read, or its contents do not fit the model's input."""


class ImageError(InputError):
    """An image file cannot be read or decoded."""


class LabelsError(Int8sqzError, ValueError):
    """A label file is unreadable or does not fit the model."""


class DataError(Int8sqzError, ValueError):
    """A folder of labeled images (``int8sqz eval``) is missing, is a file,
    holds no images, or has class folders that do not fit the labels."""


class ComputeError(Int8sqzError, ValueError):
    """The model cannot compute this input: an operator refused it at run
    time, where TFLite's reference kernel would abort the process (e.g.
    SOFTMAX when a row's exponentials sum past what its fixed point holds).
    The input is bad, not the call: the same model runs other inputs."""


class InterpreterError(Int8sqzError, ValueError):
    """The interpreter API was misused (wrong order, shape, dtype, index)."""


class InternalError(Int8sqzError, RuntimeError):
    """An invariant of int8sqz itself failed: a bug, never the user's input."""


def describe(exc: BaseException) -> str:
    """A foreign exception (a decoder's, an archive's) in one line, for the
    message of the Int8sqzError raised in its place: ``"Type: text"``."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
