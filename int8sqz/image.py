"""Image decoding and preprocessing, as the ``int8sqz run`` command does it.

The preprocessing is the one the STM32 model zoo trained its classifiers
with (Keras' ``image_dataset_from_directory``):

1. read the file through :mod:`int8sqz.files` (regular files and streams
   only, at most ``max_bytes`` bytes) and decode it with Pillow (any format
   Pillow reads; the first frame of an animation), refusing images with
   more than ``max_pixels`` pixels before their pixel data are decoded
   (decompression bombs; ``None``: no limit). That limit replaces Pillow's
   own (``PIL.Image.MAX_IMAGE_PIXELS``). An image within the limits that
   needs more memory than there is to decode is refused as "too large to
   decode";
2. apply the EXIF orientation (``ImageOps.exif_transpose``);
3. convert to RGB, or to one channel (Pillow's ``"L"``, ITU-R 601-2 luma)
   when the model's input has one channel. Alpha is dropped, not composited
   (as ``tf.io.decode_image(channels=3)`` does); palette images use their
   palette; 16-bit images (``I;16*``, and ``I`` taken as 16-bit) are scaled
   to 8 bits with ``round(v / 257)``, except 16-bit colour PNGs, which
   Pillow's decoder already reduces to their high byte (``v >> 8``); float
   images (``F``) get Pillow's conversion (clipped to 0..255, truncated);
   CMYK is converted by Pillow;
4. resize to the model's input height x width, aspect ratio not kept, with
   nearest-neighbour sampling: output pixel ``i`` takes input pixel
   ``floor((i + 0.5) * in / out)``, computed in integers. This is TensorFlow's
   ``tf.image.resize(method="nearest")`` (half-pixel centres) and Pillow's
   ``NEAREST`` whenever ``in / out`` is exact in floating point (any size to
   128x128, for example); at other ratios their float arithmetic can fall
   just below an exact tie and pick the previous pixel. ``resize="bilinear"`` uses Pillow's bilinear filter instead
   (which antialiases when shrinking);
5. the uint8 pixels are the model's input as they are: the model's own input
   quantization does the rescaling (to [-1, 1] or [0, 1] for the seed models).

How pixels become the input tensor for other input types
(:func:`to_model_input`): ``int8`` inputs get ``pixel - 128`` (the usual
uint8 -> int8 shift, which keeps the real value when the int8 zero point is
the uint8 one minus 128); ``float32`` inputs get the pixel values 0.0..255.0
(for models that rescale inside, as Keras models with a ``Rescaling`` layer
do). Other input types are refused. A channels-first input ``[1, 3, H, W]``
(or ``[1, 1, H, W]``; PyTorch's layout) gets the same pixels with the
channels as the first axis.

Pillow's process-wide settings are left as the caller set them: while
int8sqz decodes, and only then, its own limit replaces Pillow's and
Pillow's warnings and log records are silenced (the errors int8sqz raises
say what went wrong, one line each); :func:`decode_image` may run in
several threads at once.
"""

from __future__ import annotations

import contextlib
import io
import logging
import threading
import warnings

import numpy as np

from .constants import DEFAULT_MAX_INPUT_BYTES, DEFAULT_MAX_PIXELS, RESIZE_METHODS
from .errors import ImageError, UnsupportedError
from .errors import describe as _describe
from .files import display, read_bytes

__all__ = [
    "DEFAULT_MAX_PIXELS", "RESIZE_METHODS", "InputSpec", "decode_image", "decode_image_bytes",
    "input_spec",
    "load_image", "preprocess", "resize_nearest", "to_model_input",
]

_SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I;16N", "I")

# Pillow keeps its pixel limit, its warning filters and its logger level in
# process-wide state. While any thread decodes through this module they are
# set for int8sqz (the first thread in saves and sets them, the last one out
# restores them), so that threads decoding at once neither see the caller's
# settings nor restore them under each other.
_pillow_lock = threading.Lock()
_pillow_users = 0
_pillow_saved = None


@contextlib.contextmanager
def _quiet_pillow():
    """int8sqz's own decoding: no Pillow pixel limit (``decode_image``
    checks ``max_pixels`` itself, before decoding, where Pillow would first
    warn and then refuse at twice its limit), no warnings (decompression
    bomb, palette transparency, EXIF quirks) and no log records (Pillow logs
    some decoder errors before raising them): the ImageError is the one line."""
    global _pillow_users, _pillow_saved
    from PIL import Image

    with _pillow_lock:
        if _pillow_users == 0:
            logger = logging.getLogger("PIL")
            caught = warnings.catch_warnings()
            caught.__enter__()
            warnings.simplefilter("ignore")
            _pillow_saved = (Image.MAX_IMAGE_PIXELS, logger.level, caught)
            Image.MAX_IMAGE_PIXELS = None
            logger.setLevel(logging.CRITICAL + 1)
        _pillow_users += 1
    try:
        yield
    finally:
        with _pillow_lock:
            _pillow_users -= 1
            if _pillow_users == 0:
                pixels, level, caught = _pillow_saved
                _pillow_saved = None
                Image.MAX_IMAGE_PIXELS = pixels
                logging.getLogger("PIL").setLevel(level)
                caught.__exit__(None, None, None)


def decode_image(path, channels: int = 3, *, max_pixels: int | None = DEFAULT_MAX_PIXELS,
                 max_bytes: int = DEFAULT_MAX_INPUT_BYTES):
    """Decode ``path`` (a file name, or :data:`int8sqz.files.STDIN`) into a
    Pillow image of mode ``"RGB"`` (``channels=3``) or ``"L"``
    (``channels=1``), EXIF orientation applied. The file is read through
    :mod:`int8sqz.files` (no FIFOs or devices; at most ``max_bytes`` bytes).

    Raises :class:`ImageError` (message ``"<path>: <what went wrong>"``) for
    anything that is not a readable image within the limits, and for an
    image too large to decode in the memory available.
    """
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels}")
    label = display(path)
    data = read_bytes(path, limit=max_bytes, error=ImageError, what="an image file",
                      limit_name="--max-input-bytes")
    return decode_image_bytes(data, label, channels, max_pixels=max_pixels)


def decode_image_bytes(data: bytes, label: str, channels: int = 3, *,
                       max_pixels: int | None = DEFAULT_MAX_PIXELS):
    """:func:`decode_image` of a file's bytes, already read; ``label`` names
    it in the messages."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    size = len(data)
    if size == 0:
        raise ImageError(f"{label}: the file is empty (0 bytes), expected an image")
    with _quiet_pillow():
        try:
            im = Image.open(io.BytesIO(data))
        except UnidentifiedImageError:
            raise ImageError(
                f"{label}: not an image Pillow can read ({size} bytes; expected JPEG, PNG, "
                f"BMP, GIF, TIFF, WebP or another format Pillow decodes)"
            ) from None
        except Image.DecompressionBombError as exc:
            raise ImageError(f"{label}: refused as a possible decompression bomb ({exc})") from None
        except MemoryError:
            raise ImageError(f"{label}: too large to decode (its header needs more memory "
                             f"than is available)") from None
        except Exception as exc:  # noqa: BLE001 - any decoder failure is a corrupt file
            raise ImageError(f"{label}: corrupt image header ({_describe(exc)})") from None
        w, h = im.size
        if w <= 0 or h <= 0:
            raise ImageError(f"{label}: the image is {w}x{h} pixels, expected at least 1x1")
        if max_pixels is not None and w * h > max_pixels:
            raise ImageError(
                f"{label}: the image is {w}x{h} = {w * h} pixels, more than the limit of "
                f"{max_pixels} (--max-pixels); refused as a possible decompression bomb"
            )
        fmt = im.format or "image"
        too_large = (f"{label}: too large to decode: the {w}x{h} {fmt} image ({im.mode}) "
                     f"needs more memory than is available")
        try:
            im.load()
        except MemoryError:
            raise ImageError(too_large) from None
        except Exception as exc:  # noqa: BLE001
            raise ImageError(
                f"{label}: corrupt or truncated {fmt} data ({_describe(exc)})"
            ) from None
        try:
            im = ImageOps.exif_transpose(im)
        except MemoryError:
            raise ImageError(too_large) from None
        except Exception as exc:  # noqa: BLE001 - malformed EXIF block
            raise ImageError(f"{label}: corrupt EXIF orientation data ({_describe(exc)})") from None
        try:
            return _convert(im, channels)
        except MemoryError:
            raise ImageError(too_large) from None
        except Exception as exc:  # noqa: BLE001
            target = "RGB" if channels == 3 else "L"
            raise ImageError(
                f"{label}: cannot convert a {im.mode} image to {target} ({_describe(exc)})"
            ) from None


def _convert(im, channels: int):
    from PIL import Image

    target = "RGB" if channels == 3 else "L"
    if im.mode == target:
        return im
    if im.mode in _SIXTEEN_BIT:
        v = np.asarray(im).astype(np.int64)
        v = np.clip(v, 0, 65535)
        grey = Image.fromarray(((2 * v + 257) // 514).astype(np.uint8))  # round(v / 257)
        return grey if channels == 1 else grey.convert("RGB")
    if im.mode in ("HSV", "LAB", "YCbCr", "CMYK") and channels == 1:
        im = im.convert("RGB")
    return im.convert(target)


def resize_nearest(pixels: np.ndarray, height: int, width: int) -> np.ndarray:
    """Nearest-neighbour resize of an (H, W, C) array: output row ``i`` is
    input row ``floor((i + 0.5) * H / height)`` (half-pixel centres), computed
    in integers so that no float rounding can move a sample."""
    h, w = pixels.shape[:2]
    rows = ((2 * np.arange(height, dtype=np.int64) + 1) * h) // (2 * height)
    cols = ((2 * np.arange(width, dtype=np.int64) + 1) * w) // (2 * width)
    # two one-axis takes: the same samples as pixels[rows[:, None], cols], 6x faster
    return np.ascontiguousarray(pixels.take(rows, axis=0).take(cols, axis=1))


def load_image(path, height: int, width: int, channels: int = 3, *,
               resize: str = "nearest",
               max_pixels: int | None = DEFAULT_MAX_PIXELS,
               max_bytes: int = DEFAULT_MAX_INPUT_BYTES) -> np.ndarray:
    """Decode and resize an image: a C-contiguous uint8 array (height, width,
    channels)."""
    if resize not in RESIZE_METHODS:
        raise ValueError(f"resize must be one of {RESIZE_METHODS}, got {resize!r}")
    if height <= 0 or width <= 0:
        raise ValueError(f"the target size must be positive, got {height}x{width}")
    im = decode_image(path, channels, max_pixels=max_pixels, max_bytes=max_bytes)
    try:
        pixels = _resize(im, height, width, resize)
    except MemoryError:
        w, h = im.size
        raise ImageError(f"{display(path)}: too large to decode: the {w}x{h} image "
                         f"needs more memory than is available") from None
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    return np.ascontiguousarray(pixels)


def _resize(im, height: int, width: int, resize: str) -> np.ndarray:
    if resize == "bilinear":
        from PIL import Image

        if im.size != (width, height):
            im = im.resize((width, height), Image.BILINEAR)
        return np.asarray(im, dtype=np.uint8)
    return resize_nearest(np.asarray(im, dtype=np.uint8), height, width)


class InputSpec:
    """What an image model's single input needs: ``shape`` (1, height,
    width, channels) of ``dtype`` (uint8, int8 or float32), or (1, channels,
    height, width) when ``layout`` is ``"NCHW"`` (channels first, as
    PyTorch exports models)."""

    def __init__(self, height: int, width: int, channels: int, dtype: np.dtype, shape: tuple,
                 layout: str = "NHWC"):
        if layout not in ("NHWC", "NCHW"):
            raise ValueError(f"layout must be 'NHWC' or 'NCHW', got {layout!r}")
        self.height = height
        self.width = width
        self.channels = channels
        self.dtype = np.dtype(dtype)
        self.shape = tuple(shape)
        self.layout = layout

    def __repr__(self):
        layout = f", layout={self.layout}" if self.layout != "NHWC" else ""
        return (f"InputSpec(height={self.height}, width={self.width}, "
                f"channels={self.channels}, dtype={self.dtype.name}{layout})")


_INPUT_TYPES = {"UINT8": np.uint8, "INT8": np.int8, "FLOAT32": np.float32}


def input_spec(model) -> InputSpec:
    """The image input of ``model`` (an :class:`int8sqz.model.Model`), or
    :class:`UnsupportedError` when it is not one image input of a type this
    module can fill. The shape says the layout: ``[1, height, width, 1 or
    3]`` (TFLite's), else ``[1, 1 or 3, height, width]`` (channels first);
    ``[1, 3, H, 3]`` is taken as TFLite's."""
    if len(model.inputs) != 1:
        raise UnsupportedError(
            f"{model.source}: the model has {len(model.inputs)} inputs, expected 1 image input"
        )
    t = model.tensors[model.inputs[0]]
    shape = tuple(t.shape)
    layout = None
    if len(shape) == 4 and shape[0] == 1 and min(shape) > 0:
        if shape[3] in (1, 3):
            layout = "NHWC"
        elif shape[1] in (1, 3):
            layout = "NCHW"
    if layout is None:
        raise UnsupportedError(
            f"{model.source}: input tensor {t.index} '{t.name}' has shape {list(shape)}, "
            f"expected [1, height, width, 1 or 3] or [1, 1 or 3, height, width] (one image)"
        )
    if t.type_name not in _INPUT_TYPES:
        raise UnsupportedError(
            f"{model.source}: input tensor {t.index} '{t.name}' has type {t.type_name}, "
            f"expected UINT8, INT8 or FLOAT32 to be fed image pixels"
        )
    if getattr(t, "data", None) is not None:
        raise UnsupportedError(
            f"{model.source}: input tensor {t.index} '{t.name}' is a constant, expected "
            f"a tensor the image can be written into"
        )
    if layout == "NCHW":
        return InputSpec(shape[2], shape[3], shape[1], _INPUT_TYPES[t.type_name], shape, "NCHW")
    return InputSpec(shape[1], shape[2], shape[3], _INPUT_TYPES[t.type_name], shape)


def to_model_input(pixels: np.ndarray, spec: InputSpec) -> np.ndarray:
    """uint8 pixels (height, width, channels) -> the input tensor's value
    (channels moved first for an ``NCHW`` input)."""
    pixels = np.asarray(pixels, dtype=np.uint8)
    if spec.layout == "NCHW":
        pixels = pixels.reshape(spec.height, spec.width, spec.channels).transpose(2, 0, 1)
    pixels = np.ascontiguousarray(pixels).reshape(spec.shape)
    if spec.dtype == np.uint8:
        return np.ascontiguousarray(pixels)
    if spec.dtype == np.int8:
        return (pixels.astype(np.int16) - 128).astype(np.int8)
    return pixels.astype(np.float32)


def preprocess(path, spec: InputSpec, *, resize: str = "nearest",
               max_pixels: int | None = DEFAULT_MAX_PIXELS,
               max_bytes: int = DEFAULT_MAX_INPUT_BYTES) -> np.ndarray:
    """Decode ``path`` and make it the input tensor's value for ``spec``."""
    pixels = load_image(path, spec.height, spec.width, spec.channels,
                        resize=resize, max_pixels=max_pixels, max_bytes=max_bytes)
    return to_model_input(pixels, spec)
