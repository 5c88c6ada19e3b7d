"""The exceptions int8sqz raises.

Every error a user can provoke is an :class:`Int8sqzError`. The subclasses
also derive from the matching built-in exception so that callers who catch
``ValueError`` (as they would with TFLite's interpreter) keep working.
"""


class Int8sqzError(Exception):
    """Base class of every error int8sqz raises on purpose."""


class ModelError(Int8sqzError, ValueError):
    """The model file is not a valid TFLite model, or contradicts itself."""


class UnsupportedError(ModelError):
    """The model is valid TFLite but uses an operator or type int8sqz lacks."""


class ImageError(Int8sqzError, ValueError):
    """An image file cannot be read or decoded."""


class InterpreterError(Int8sqzError, ValueError):
    """The interpreter API was misused (wrong order, shape, dtype, index)."""


class InternalError(Int8sqzError, RuntimeError):
    """An invariant of int8sqz itself failed: a bug, never the user's input."""
