"""int8sqz: bit-exact int8 inference for TFLite models in NumPy and numba."""

from .errors import (
    ComputeError, DataError, ImageError, InputError, Int8sqzError, InternalError, InterpreterError,
    LabelsError, ModelError, UnsupportedError,
)

__version__ = "0.1.0"


def _adopt_source_kernels() -> None:
    """In a source checkout, kernels/ sits beside this package (setuptools
    installs it as int8sqz.kernels). When Python imports int8sqz from the
    checkout itself (``python`` started in the repository root) and nothing
    else provides int8sqz.kernels, take it from there, so the sources run as
    the installed package does."""
    import importlib.util
    import os
    import sys

    here = os.path.dirname(os.path.abspath(__file__))
    source = os.path.join(os.path.dirname(here), "kernels")
    name = __name__ + ".kernels"
    if (name in sys.modules or os.path.isdir(os.path.join(here, "kernels"))
            or not os.path.isfile(os.path.join(source, "__init__.py"))
            or importlib.util.find_spec(name) is not None):
        return
    spec = importlib.util.spec_from_file_location(
        name, os.path.join(source, "__init__.py"), submodule_search_locations=[source])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    globals()["kernels"] = module


_adopt_source_kernels()

__all__ = [
    "Interpreter", "load_model", "Int8sqzError", "ModelError", "UnsupportedError",
    "InputError", "ImageError", "LabelsError", "DataError", "ComputeError", "InterpreterError",
    "InternalError",
    "__version__",
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
