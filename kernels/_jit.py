"""The one numba decorator every kernel uses, and where its cache lives."""

import functools
import hashlib
import os

import numba

_HERE = os.path.dirname(os.path.abspath(__file__))


@functools.lru_cache(maxsize=None)
def package_stamp(directory: str = _HERE) -> str:
    """SHA-256 of every module of this package (names and bytes).

    numba keys a function's cached machine code with its own file only, but
    a kernel inlines the kernels it calls from other files (fixedpoint.py,
    gemm.py, simd.py, ...): a change there must invalidate it too. So every
    kernel's cache is keyed with the whole package: any change anywhere in
    it recompiles them all, and reinstalling the same sources (same bytes,
    whatever their dates) keeps the cache.
    """
    h = hashlib.sha256()
    for name in sorted(os.listdir(directory)):
        if name.endswith(".py"):
            h.update(name.encode() + b"\0")
            with open(os.path.join(directory, name), "rb") as f:
                h.update(f.read())
    return h.hexdigest()


def _install_cache_locators() -> None:
    """Put, in front of numba's cache locators, variants of its own three
    (NUMBA_CACHE_DIR, the package's __pycache__, the user-wide cache) that
    take only this package's files and stamp them with
    :func:`package_stamp`. numba consults them when a kernel is decorated;
    anything else (another numba version's internals) leaves numba's
    defaults in place."""
    try:
        from numba.core import caching

        impl = getattr(caching, "CacheImpl", None) or caching._CacheImpl
        bases = (caching.UserProvidedCacheLocator, caching.InTreeCacheLocator,
                 caching.UserWideCacheLocator)
        classes = impl._locator_classes
    except (ImportError, AttributeError):  # pragma: no cover - other numba versions
        return
    if any(getattr(c, "_int8sqz", False) for c in classes):
        return
    ours = []
    for base in bases:
        ours.append(type(f"Int8sqz{base.__name__}", (base,), {
            "_int8sqz": True,
            "get_source_stamp": lambda self: package_stamp(),
            "from_function": classmethod(_from_function(base)),
        }))
    classes[:0] = ours


def _from_function(base):
    def from_function(cls, py_func, py_file):
        if os.path.dirname(os.path.abspath(py_file)) != _HERE:
            return None
        return super(cls, cls).from_function(py_func, py_file)

    return from_function


_install_cache_locators()

#: ``cache=True`` so a second process does not compile again; never ``fastmath``:
#: the arithmetic must stay exactly the one written.
kernel = numba.njit(cache=True, nogil=True)
