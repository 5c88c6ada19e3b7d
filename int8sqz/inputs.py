"""Model inputs given as NumPy arrays: ``.npy`` and ``.npz`` files, as
``int8sqz run`` reads them.

- A ``.npy`` file holds one array: the value of a model's only input.
- A ``.npz`` file (``np.savez``, ``np.savez_compressed``) holds one array per
  input, named after the input tensor (``np.savez(f, **{"input_1": x})``)
  or numbered by the input's position: ``0``, ``1``, ... or ``arr_0``,
  ``arr_1``, ... (the names ``np.savez(f, x, y)`` gives). Every input needs
  exactly one array; an array that names no input is refused.

Shape: the input's shape, or the same without its batch axis of 1 (a
``[1, 24, 3, 1]`` input takes ``(1, 24, 3, 1)`` or ``(24, 3, 1)``).

Type: the input's type, in either byte order; or another numeric type when
every value converts exactly: integers in the input's integer range, and
for a float input integers or floats that the float type holds exactly
(float16 -> float32 always; float64 -> float32 when each value is a
float32). Everything else is refused with one line naming the first value
that would change, never converted with a loss: float values for an
integer (quantized) input (int8sqz does not quantize: the message gives
the input's scale and zero point, ``q = round(x / scale) + zero_point``),
complex, boolean (unless the input is boolean), object and structured
arrays.

The files are read through :mod:`int8sqz.files` (``max_bytes``); a ``.npy``
header is checked (shape, type, size) before any data is used, and an
``.npz`` member is unpacked only when its declared size is within
``max_bytes`` (zip bombs). Errors are :class:`~int8sqz.errors.InputError`.
"""

from __future__ import annotations

import io
import re
import zipfile

import numpy as np

from .constants import DEFAULT_MAX_INPUT_BYTES
from .errors import InputError
from .errors import describe as _describe
from .files import display, one_line, read_bytes

__all__ = ["NPY_MAGIC", "is_array_file", "load_arrays", "fit_array"]

NPY_MAGIC = b"\x93NUMPY"
#: a zip archive: a local file header, or the end record of an empty archive
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


def is_array_file(data: bytes) -> str | None:
    """``"npy"`` or ``"npz"`` when ``data`` starts like one, else None."""
    if data.startswith(NPY_MAGIC):
        return "npy"
    if data[:4] in _ZIP_MAGIC:
        return "npz"
    return None


def load_arrays(path, inputs, *, max_bytes: int = DEFAULT_MAX_INPUT_BYTES,
                role: str = "input") -> list:
    """The value of each of ``inputs`` (the model's input tensors,
    :class:`int8sqz.model.Tensor`, in order) from the ``.npy`` or ``.npz``
    file ``path`` (a path, :data:`~int8sqz.files.STDIN` or
    :class:`~int8sqz.files.Contents`): arrays of each input's shape and
    type. ``role`` names the tensors in messages (``int8sqz compare`` reads
    any tensor's dumped value this way)."""
    name = display(path)
    data = read_bytes(path, limit=max_bytes, error=InputError,
                      what="a .npy or .npz file", limit_name="--max-input-bytes")
    kind = is_array_file(data)
    if kind == "npy":
        if len(inputs) != 1:
            raise InputError(
                f"{name}: one array (.npy) for a model of {len(inputs)} inputs; expected a "
                f".npz with one array per input ({_input_list(inputs)})"
            )
        return [fit_array(_parse_npy(data, name), inputs[0], name, role)]
    if kind == "npz":
        return _load_npz(data, name, inputs, max_bytes)
    raise InputError(f"{name}: not a .npy or .npz file (it starts with {data[:8]!r})")


def _input_list(inputs) -> str:
    return ", ".join(f"{k} '{one_line(t.name)}'" for k, t in enumerate(inputs))


def _parse_npy(data: bytes, name: str) -> np.ndarray:
    """The array of a .npy file's bytes, a read-only view; its header (shape,
    type, size) checked before the data are touched."""
    f = io.BytesIO(data)
    fmt = np.lib.format
    try:
        version = fmt.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = fmt.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, fortran, dtype = fmt.read_array_header_2_0(f)
        elif version == (3, 0) and hasattr(fmt, "_read_array_header"):
            shape, fortran, dtype = fmt._read_array_header(f, version)
        else:
            raise ValueError(f"format version {version[0]}.{version[1]} is not one NumPy writes")
    except Exception as exc:  # noqa: BLE001 - any failure to parse the header (NumPy
        # raises ValueError, SyntaxError, tokenize.TokenError, ...): not a .npy file
        raise InputError(f"{name}: not a valid .npy file ({_describe(exc)})") from None
    if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None:
        raise InputError(
            f"{name}: an array of {_dtype_name(dtype)}; expected numbers (object and "
            f"structured arrays are not read)"
        )
    try:
        count = 1
        for d in shape:
            count *= int(d)
    except (TypeError, ValueError):
        raise InputError(f"{name}: not a valid .npy file (shape {shape!r})") from None
    offset = f.tell()
    need = count * dtype.itemsize
    if len(data) - offset != need:
        raise InputError(
            f"{name}: the header declares {list(shape)} of {_dtype_name(dtype)} "
            f"({need} bytes of data), but the file holds {len(data) - offset}"
        )
    flat = np.frombuffer(data, dtype=dtype, count=count, offset=offset)
    return flat.reshape(shape, order="F" if fortran else "C")


def _load_npz(data: bytes, name: str, inputs, max_bytes: int) -> list:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError) as exc:
        raise InputError(f"{name}: not a valid .npz file ({_describe(exc)})") from None
    with archive:
        by_name = {}
        for k, t in enumerate(inputs):
            by_name.setdefault(t.name, k)
        found = {}  # input position -> member
        for info in archive.infolist():
            key = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
            k = by_name.get(key)
            if k is None:
                m = re.fullmatch(r"(?:arr_)?([0-9]{1,9})", key)
                k = int(m.group(1)) if m else None
            if k is None or k >= len(inputs):
                raise InputError(
                    f"{name}: holds an array '{one_line(key)}' that names no input of the "
                    f"model; expected one array per input, by name or by position "
                    f"(0 or arr_0, ...): {_input_list(inputs)}"
                )
            if k in found:
                raise InputError(
                    f"{name}: gives input {k} '{one_line(inputs[k].name)}' twice (as "
                    f"'{one_line(found[k].filename)}' and '{one_line(info.filename)}')"
                )
            found[k] = info
        missing = [k for k in range(len(inputs)) if k not in found]
        if missing:
            k = missing[0]
            raise InputError(
                f"{name}: has no array for input {k} '{one_line(inputs[k].name)}'; "
                f"expected one array per input, by name or by position: {_input_list(inputs)}"
            )
        total = sum(info.file_size for info in found.values())
        if total > max_bytes:
            raise InputError(
                f"{name}: its arrays unpack to {total} bytes, more than the limit of "
                f"{max_bytes} bytes (--max-input-bytes)"
            )
        values = []
        for k, t in enumerate(inputs):
            info = found[k]
            where = f"{name}[{one_line(info.filename)!r}]"
            try:
                member = archive.read(info)
            except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError,
                    RuntimeError, zipfile.LargeZipFile) as exc:
                raise InputError(f"{where}: cannot unpack it ({_describe(exc)})") from None
            except MemoryError:
                raise InputError(f"{where}: too large to unpack in the memory available") \
                    from None
            if not member.startswith(NPY_MAGIC):
                raise InputError(f"{where}: not a .npy array (it starts with {member[:8]!r})")
            values.append(fit_array(_parse_npy(member, where), t, where))
        return values


def fit_array(value: np.ndarray, tensor, name: str, role: str = "input") -> np.ndarray:
    """``value`` as the value of the input ``tensor``: its shape (a missing
    batch axis of 1 added) and its type (converted only when every value
    stays the same); :class:`InputError` otherwise. ``role`` names the
    tensor in messages."""
    shape = tuple(tensor.shape)
    label = f"{role} '{one_line(tensor.name)}'"
    if value.shape != shape:
        if shape[:1] == (1,) and value.shape == shape[1:]:
            value = value.reshape(shape)
        else:
            bare = f" or {list(shape[1:])}" if shape[:1] == (1,) else ""
            raise InputError(
                f"{name}: an array of shape {list(value.shape)} for {label}, expected "
                f"{list(shape)}{bare}"
            )
    return np.ascontiguousarray(_convert(value, tensor, name, label))


def _convert(value: np.ndarray, tensor, name: str, label: str) -> np.ndarray:
    target = tensor.dtype
    if target is None:
        raise InputError(f"{name}: {label} has type {tensor.type_name}, which no array fills")
    src = value.dtype
    if src.newbyteorder("=") == target.newbyteorder("="):
        return value.astype(target)  # the same type (in the other byte order)
    what = f"{name}: {_dtype_name(src)} values for {label} ({tensor.type_name})"
    if src.kind not in "biuf" or (src.kind == "b") != (target.kind == "b"):
        raise InputError(f"{what}: expected {target.name} values")
    if target.kind in "iu" and src.kind == "f":
        q = tensor.quantization
        how = (f" (real = {q.scale:g} * (q - {q.zero_point}))" if q.scales.size == 1 else "")
        raise InputError(
            f"{what}: expected the quantized {target.name} values{how}; int8sqz does not "
            f"quantize: q = round(x / scale) + zero_point"
        )
    with np.errstate(all="ignore"):
        converted = value.astype(target)
        back = converted.astype(src)
    same = (back == value) | (np.isnan(value) & np.isnan(back)) if src.kind == "f" \
        else back == value
    same = np.asarray(same)
    if not same.all():
        index = tuple(int(i) for i in np.unravel_index(int(np.argmin(same)), same.shape))
        bad = value[index].item()
        if target.kind in "iu":
            info = np.iinfo(target)
            why = f"outside {target.name}'s range {info.min}..{info.max}"
        else:
            why = f"not exactly a {target.name} (it would become {converted[index].item()!r})"
        raise InputError(
            f"{what}: the value {bad!r} at {list(index)} is {why}; save the array as "
            f"{target.name} (int8sqz converts only values that stay the same)"
        )
    return converted


def _dtype_name(dtype: np.dtype) -> str:
    return dtype.name if dtype.fields is None else "a structured type"
