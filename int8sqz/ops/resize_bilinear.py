"""RESIZE_BILINEAR of NHWC int8, uint8 or float32 tensors to a constant size.

Follows TFLite's ``resize_bilinear.cc`` as registered by
``Register_RESIZE_BILINEAR_REF``: Prepare requires a 4-D input, a 1-D int32
size of 2 elements, both sizes positive, and not both ``align_corners`` and
``half_pixel_centers``; Eval runs ``reference_ops::ResizeBilinear<T>`` (float
arithmetic) for float32 and uint8 and ``reference_ops::ResizeBilinearInteger``
(weights in 1/1024) for int8. No quantization enters: the stored values are
interpolated whatever the scales and zero points, which TFLite does not
check (nor does int8sqz).

Prepare computes each output row's and column's source indices and weights
(kernels/resize.py) and refuses what the reference leaves undefined: the
integer path's rounded scale can place the last rows past the input (a
1-row input resized to 62 rows reads a row that does not exist: the
reference returns whatever memory follows), an int32 intermediate that
overflows, or a non-empty output of an empty input.
"""

from __future__ import annotations

import functools

import numpy as np

from ..kernels import resize as k
from ..kernels import xnnpack as kx
from ._common import flat
from ._tflm import temp_inputs, temp_output
from .unit import (
    NO_SHARING, CStruct, Node, Numerics, OperatorUnit, TflmAllocations,
    constant_second_input, def_type, no_macs, no_tflm_sharing,
)

TYPES = ("INT8", "UINT8", "FLOAT32")
INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1


def _c_div(a: int, b: int) -> int:
    """C integer division (truncates toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def integer_axis(in_size: int, out_size: int, align_corners: bool, half_pixel: bool):
    """``ComputeInterpolationValuesInteger`` for every output index along one
    axis: ``(lower, upper, weight)`` lists (the weight of ``upper`` in units
    of 1/1024), or a string saying which int32 intermediate overflows."""
    if align_corners and out_size > 1:
        num, den = (1 << 10) * (in_size - 1) + (out_size - 1) // 2, out_size - 1
    else:
        num, den = (1 << 10) * in_size + out_size // 2, out_size
    if not INT32_MIN <= num <= INT32_MAX:
        return f"the scale numerator {num}"
    scale = _c_div(num, den)
    lower, upper, weight = [], [], []
    for v in range(out_size):
        scaled = v * scale + (scale // 2 - (1 << 9) if half_pixel else 0)
        if not INT32_MIN <= scaled <= INT32_MAX - 1023:
            return f"the scaled position {scaled}"
        y0 = max(_c_div(scaled, 1 << 10), 0)
        lower.append(y0)
        upper.append(min(_c_div(scaled + (1 << 10) - 1, 1 << 10), in_size - 1))
        weight.append(scaled - (1 << 10) * y0)
    return lower, upper, weight


def float_axis(in_size: int, out_size: int, align_corners: bool, half_pixel: bool):
    """``ComputeInterpolationValues`` for every output index along one axis,
    in float32: ``(lower, upper, weight of upper, weight of lower)``."""
    scale = np.float32(in_size) / np.float32(out_size)
    if align_corners and out_size > 1:
        scale = np.float32(in_size - 1) / np.float32(out_size - 1)
    v = np.arange(out_size).astype(np.float32)
    half = np.float32(0.5)
    pos = (v + half) * scale - half if half_pixel else v * scale
    lower = np.maximum(np.floor(pos), 0).astype(np.int64)
    upper = np.minimum(np.ceil(pos), in_size - 1).astype(np.int64)
    frac = (pos - lower.astype(np.float32)).astype(np.float32)
    return lower, upper, frac, (np.float32(1) - frac).astype(np.float32)


def xnnpack_axis(in_size: int, out_size: int, align_corners: bool, half_pixel: bool):
    """``xnn_indirection_init_resize_bilinear2d_hwc_q11`` along one axis:
    per output index the source index below (truncation), the one above
    (clamped) and the weight of the one above in 1/2048, lrintf(alpha *
    2048), all in float32: source = o * scale clamped to in_size - 1
    (legacy and align-corners coordinates), or o * scale + (0.5 * scale -
    0.5) clamped to [0, in_size - 1] (half-pixel centers)."""
    f32 = np.float32
    adjust = 1 if align_corners and out_size != 1 else 0
    scale = f32(f32(in_size - adjust) / f32(out_size - adjust))
    lower, upper, weight = [], [], []
    for o in range(out_size):
        if align_corners or not half_pixel:
            v = min(f32(f32(o) * scale), f32(in_size - 1))
        else:
            offset = f32(f32(f32(0.5) * scale) - f32(0.5))
            v = min(max(f32(f32(f32(o) * scale) + offset), f32(0.0)), f32(in_size - 1))
        lo = int(v)
        lower.append(lo)
        upper.append(min(lo + 1, in_size - 1))
        weight.append(int(round(float(f32(f32(v - f32(lo)) * f32(2048.0))))))
    return tuple(np.array(a, np.int64) for a in (lower, upper, weight))


def prepare(op, ctx, numerics: str = "reference"):
    """The reference's RESIZE_BILINEAR, or (``numerics``) the builtin one
    (int8: the reference's) or XNNPACK's (int8, uint8)."""
    ctx.check_arity(op, 2)
    src, size, dst = op.inputs[0], op.inputs[1], op.outputs[0]
    type_name = ctx.check_type(op, src, TYPES, "input")
    ctx.check_type(op, dst, (type_name,), "output")
    n, in_h, in_w, depth = ctx.check_rank(op, src, (4,), "input")
    ctx.check_type(op, size, ("INT32",), "size")
    if tuple(ctx.shape(size)) != (2,):
        raise ctx.error(
            op, f"size {ctx.label(size)} has shape {list(ctx.shape(size))}, expected [2] "
            f"(new height and width)"
        )
    out_h, out_w = (int(v) for v in np.asarray(ctx.constant(op, size, "size")).reshape(-1))
    align_corners = bool(op.options.get("align_corners", False))
    half_pixel = bool(op.options.get("half_pixel_centers", False))
    if align_corners and half_pixel:
        raise ctx.error(op, "align_corners and half_pixel_centers are both true; TFLite "
                            "requires align_corners false when half_pixel_centers is true")
    if out_h <= 0 or out_w <= 0:
        raise ctx.error(op, f"size {ctx.label(size)} is [{out_h}, {out_w}], expected two "
                            f"positive numbers")
    ctx.set_output_shape(op, dst, (n, out_h, out_w, depth))
    if n * depth == 0:
        return Node(op, lambda t: None, dict(kernel="none (empty output)"))
    if in_h * in_w == 0:
        raise ctx.unsupported(
            op, f"input {ctx.label(src)} is empty but the output is not: TFLite's reference "
            f"reads outside the input"
        )

    if type_name == "INT8":
        axes = [integer_axis(i, o, align_corners, half_pixel)
                for i, o in ((in_h, out_h), (in_w, out_w))]
        for axis in axes:
            if isinstance(axis, str):
                raise ctx.unsupported(
                    op, f"resizing {list(ctx.shape(src))} to [{out_h}, {out_w}]: {axis} "
                    f"overflows an int32 in TFLite's ResizeBilinearInteger")
        (y0, y1, dy), (x0, x1, dx) = ([np.array(v, np.int64) for v in a] for a in axes)
    else:
        y0, y1, dy, wy = float_axis(in_h, out_h, align_corners, half_pixel)
        x0, x1, dx, wx = float_axis(in_w, out_w, align_corners, half_pixel)
    for what, lo, hi, limit in (("row", y0, y1, in_h), ("column", x0, x1, in_w)):
        if lo.max() > limit - 1 or hi.min() < 0:
            raise ctx.unsupported(
                op, f"resizing {list(ctx.shape(src))} to [{out_h}, {out_w}] "
                f"(align_corners={align_corners}, half_pixel_centers={half_pixel}) "
                f"interpolates from {what} {int(lo.max())} of {limit}: TFLite's reference "
                f"reads outside the input"
            )
    params = dict(align_corners=align_corners, half_pixel_centers=half_pixel,
                  rows=(y0, y1, dy), columns=(x0, x1, dx))
    if (numerics == "builtin" and type_name != "INT8") or \
            (numerics == "xnnpack" and type_name == "FLOAT32"):
        raise ctx.unsupported(op, f"a {type_name} RESIZE_BILINEAR under numerics "
                                  f"{numerics!r}: what that runtime computes for it is not "
                                  f"modelled (it differs from the reference)")
    if numerics == "xnnpack":
        ry0, ry1, wy = xnnpack_axis(in_h, out_h, align_corners, half_pixel)
        rx0, rx1, wx = xnnpack_axis(in_w, out_w, align_corners, half_pixel)

        def run_xnnpack(t):
            kx.resize_bilinear(flat(t[src]), flat(t[dst]), n, in_h, in_w, depth, ry0, ry1, wy,
                               rx0, rx1, wx)
        return Node(op, run_xnnpack, dict(params, kernel="xnnpack.resize_bilinear",
                                          rows=(ry0, ry1, wy), columns=(rx0, rx1, wx)))

    if type_name == "INT8":
        def run(t):
            k.resize_bilinear_integer(flat(t[src]), flat(t[dst]), n, in_h, in_w, depth,
                                      y0, y1, dy, x0, x1, dx)
        return Node(op, run, dict(params, kernel="resize_bilinear_integer"))

    integer = type_name == "UINT8"

    def run_float(t):
        # NaN and infinite inputs are data here (NUMBA_DISABLE_JIT runs the
        # kernel on NumPy scalars, which would warn)
        with np.errstate(all="ignore"):
            k.resize_bilinear_float(flat(t[src]), flat(t[dst]), n, in_h, in_w, depth,
                                    y0, y1, dy, wy, x0, x1, dx, wx, integer)
    return Node(op, run_float, dict(params, kernel="resize_bilinear_float"))


def version(op, tensors) -> int:
    """``op_version.cc``: 3 with ``half_pixel_centers``, else 2 for int8 and 1."""
    if op.options.get("half_pixel_centers", False):
        return 3
    return 2 if def_type(op, tensors, 0) == "INT8" else 1


def per_image(op, model, shapes) -> bool:
    return True  # each image resized on its own


#: TfLiteResizeBilinearParams (builtin_op_data.h): align_corners, half_pixel_centers
TFLM_PARAMS = CStruct("TfLiteResizeBilinearParams", ("bool", "bool"), "builtin_op_data.h")


def tflm_persistent(op, model, shapes):
    """micro/kernels/resize_bilinear.cc: no Init; ResizeBilinearPrepare
    takes input, size and output as temporary tensors;
    ParseResizeBilinear allocates TfLiteResizeBilinearParams."""
    return TflmAllocations("micro/kernels/resize_bilinear.cc ResizeBilinearPrepare",
                           TFLM_PARAMS, None, temp_inputs(op, 0, 1) + temp_output(op))


UNIT = OperatorUnit(
    "RESIZE_BILINEAR", prepare, options="ResizeBilinearOptions",
    defaults={"align_corners": False, "half_pixel_centers": False},
    version=version, per_image=per_image, macs=no_macs,
    # kernels/resize.py: each output pixel reads four input pixels elsewhere
    sharing=NO_SHARING,
    numerics={
        "builtin": Numerics(
            "int8: ResizeBilinearInteger, the reference's; uint8 and float32 (optimized "
            "float paths, measured to differ) are not modelled and refused",
            functools.partial(prepare, numerics="builtin")),
        "xnnpack": Numerics(
            "int8, uint8 with a constant size: xnn_s8_ibilinear, float32 source coordinates "
            "and 11-bit weights, one half-up rounding (the reference: 10-bit weights, half "
            "away from zero); float32 is not modelled and refused",
            functools.partial(prepare, numerics="xnnpack"),
            delegated=constant_second_input),
    },
    tflm_persistent=tflm_persistent, tflm_sharing=no_tflm_sharing,
)
