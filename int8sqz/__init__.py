"""int8sqz: bit-exact int8 inference for TFLite models in NumPy and numba."""

from .errors import (
    ImageError, Int8sqzError, InternalError, InterpreterError, ModelError, UnsupportedError,
)

__version__ = "0.1.0"

__all__ = [
    "Interpreter", "load_model", "Int8sqzError", "ModelError", "UnsupportedError",
    "ImageError", "InterpreterError", "InternalError", "__version__",
]

# Interpreter and load_model are imported on first use (PEP 562): importing
# the package, e.g. for `int8sqz --help` or `int8sqz.errors`, loads neither
# numba nor the model reader.
_LAZY = {"Interpreter": ".interpreter", "load_model": ".model"}


def __getattr__(name):
    if name in _LAZY:
        from importlib import import_module

        value = getattr(import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
