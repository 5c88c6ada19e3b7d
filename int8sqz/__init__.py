"""int8sqz: bit-exact int8 inference for TFLite models in NumPy and numba."""

from .errors import (
    ImageError, Int8sqzError, InternalError, InterpreterError, ModelError, UnsupportedError,
)
from .interpreter import Interpreter
from .model import load_model

__version__ = "0.1.0"

__all__ = [
    "Interpreter", "load_model", "Int8sqzError", "ModelError", "UnsupportedError",
    "ImageError", "InterpreterError", "InternalError", "__version__",
]
