"""What the windowed operators (CONV_2D, the 2-D pools) share: output size
and padding computed as TFLite's ``padding.h`` does
(``ComputePaddingHeightWidth``), their options, and the fused activation's
range with TFLite's overflow check.

TFLite ignores the status of the checked helpers: an invalid argument leaves
the output size of that axis (and of every axis not computed yet) at 0 and
the padding at 0, and the node still prepares. :func:`padding_height_width`
reproduces that, so a model with such a window gets the same (empty) output
shape as in TFLite.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._common import INT_RANGES, fused_activation_range

PADDINGS = ("SAME", "VALID")
#: the largest padding TFLite's 2-D pools prepare with (INT16_MAX)
MAX_POOL_PADDING = (1 << 15) - 1
_INT_MAX = (1 << 31) - 1
_INT_MIN = -(1 << 31)


@dataclass(frozen=True)
class Window:
    """Output size and top/left padding of a 2-D window operator."""

    out_height: int
    out_width: int
    pad_height: int  # rows of padding above the input (the bottom gets the rest)
    pad_width: int  # columns of padding left of the input


def effective_filter_size(filter_size: int, dilation: int) -> int:
    return (filter_size - 1) * dilation + 1


def _c_div(a: int, b: int) -> int:
    """C integer division (truncation toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def out_size(padding: str, image: int, filt: int, stride: int, dilation: int):
    """``ComputeOutSizeChecked``: the output length of one axis, or None where
    TFLite's check fails."""
    if padding not in PADDINGS or image < 0 or filt <= 0 or stride <= 0 or dilation <= 0:
        return None
    eff = effective_filter_size(filt, dilation)
    if padding == "SAME":
        value = _c_div(image + stride - 1, stride)
    else:
        value = _c_div(image + stride - eff, stride)
    if value < 0 or value > _INT_MAX:
        return None
    return value


def padding_with_offset(stride: int, dilation: int, image: int, filt: int, out: int):
    """``ComputePaddingWithOffsetChecked``: (padding before, odd remainder), or
    None where TFLite's check fails."""
    if image < 0 or filt <= 0 or out < 0 or stride <= 0 or dilation <= 0:
        return None
    total = (out - 1) * stride + effective_filter_size(filt, dilation) - image
    total = max(total, 0)
    pad = total // 2  # total >= 0: floor and C division agree
    if pad > _INT_MAX or pad < _INT_MIN:
        return None
    return pad, total % 2


def padding_height_width(stride_h: int, stride_w: int, dilation_h: int, dilation_w: int,
                         in_h: int, in_w: int, filter_h: int, filter_w: int,
                         padding: str) -> Window:
    """``ComputePaddingHeightWidth``: the width is computed first, and the first
    failing step leaves the rest at 0, as in TFLite."""
    out_w = out_size(padding, in_w, filter_w, stride_w, dilation_w)
    if out_w is None:
        return Window(0, 0, 0, 0)
    out_h = out_size(padding, in_h, filter_h, stride_h, dilation_h)
    if out_h is None:
        return Window(0, out_w, 0, 0)
    ph = padding_with_offset(stride_h, dilation_h, in_h, filter_h, out_h)
    if ph is None:
        return Window(out_h, out_w, 0, 0)
    pw = padding_with_offset(stride_w, dilation_w, in_w, filter_w, out_w)
    if pw is None:
        return Window(out_h, out_w, ph[0], 0)
    return Window(out_h, out_w, ph[0], pw[0])


def padding_option(op, ctx) -> str:
    """The operator's ``padding`` option, which must be SAME or VALID."""
    padding = op.options.get("padding")
    if padding not in PADDINGS:
        raise ctx.unsupported(op, f"padding {padding!r}, expected SAME or VALID")
    return padding


def positive_option(op, ctx, key: str) -> int:
    """An integer option that TFLite requires to be > 0 (strides, dilations)."""
    value = op.options.get(key)
    if not isinstance(value, int) or value <= 0:
        raise ctx.error(op, f"option {key} is {value!r}, expected a positive integer")
    return value


def prepare_pool(op, ctx, kernel, what: str):
    """Prepare of MAX_POOL_2D / AVERAGE_POOL_2D (TFLite's pooling.cc
    ``GenericPrepare`` and the int8/uint8 Eval set-up); ``kernel`` is
    ``kernel(x, out, params, row)`` from ``kernels/pool.py``."""
    from ..kernels import pool as kp
    from ._common import check_scale, check_zero_point

    ctx.check_arity(op, 1)
    src, dst = op.inputs[0], op.outputs[0]
    type_name = ctx.check_type(op, src, ("INT8", "UINT8"), "input")
    ctx.check_type(op, dst, (type_name,), "output")
    batches, in_h, in_w, channels = ctx.check_rank(op, src, (4,), "input")
    stride_h = positive_option(op, ctx, "stride_h")
    stride_w = positive_option(op, ctx, "stride_w")
    filt_h = op.options.get("filter_height")
    filt_w = op.options.get("filter_width")
    for key, value in (("filter_height", filt_h), ("filter_width", filt_w)):
        if not isinstance(value, int):
            raise ctx.error(op, f"option {key} is {value!r}, expected an integer")
    padding = padding_option(op, ctx)

    # the kernel passes values through unscaled: same scale and zero point
    in_scale = check_scale(ctx, op, src, "input")
    out_scale = check_scale(ctx, op, dst, "output")
    in_zp = check_zero_point(ctx, op, src, "input")
    out_zp = check_zero_point(ctx, op, dst, "output")
    if abs(float(np.float32(in_scale) - np.float32(out_scale))) > 1.0e-6 or in_zp != out_zp:
        # TFLite asserts this in debug builds only; release builds copy the
        # values through unscaled, which int8sqz does not imitate
        raise ctx.unsupported(
            op, f"output {ctx.label(dst)} has scale {out_scale} and zero point {out_zp}, "
            f"expected the input's ({in_scale}, {in_zp}): {what} does not requantize"
        )
    act_min, act_max = fused_activation_range(op, ctx, out_scale, out_zp, type_name)

    win = padding_height_width(stride_h, stride_w, 1, 1, in_h, in_w, filt_h, filt_w, padding)
    for axis, pad in (("height", win.pad_height), ("width", win.pad_width)):
        if pad > MAX_POOL_PADDING:
            # found against the installed runtime: it refuses to prepare such a
            # pool (its kernels keep the padding in an int16)
            raise ctx.error(
                op, f"the window needs {pad} {axis} padding before the input, more than "
                f"{MAX_POOL_PADDING}; TFLite's pooling refuses this"
            )
    ctx.set_output_shape(op, dst, (batches, win.out_height, win.out_width, channels))
    if kernel is kp.average_pool_2d and batches * channels > 0:
        # the reference fails at run time on a window without any input pixel
        for axis, n_out, stride, pad, filt, size in (
                ("height", win.out_height, stride_h, win.pad_height, filt_h, in_h),
                ("width", win.out_width, stride_w, win.pad_width, filt_w, in_w)):
            for o in range(n_out):
                start = o * stride - pad
                if min(filt, size - start) - max(0, -start) <= 0:
                    raise ctx.error(
                        op, f"output {axis} position {o}: the averaging window holds no "
                        f"input pixel"
                    )

    params = np.zeros(kp.N_PARAMS, np.int64)
    params[kp.P_STRIDE_H], params[kp.P_STRIDE_W] = stride_h, stride_w
    params[kp.P_FILTER_H], params[kp.P_FILTER_W] = filt_h, filt_w
    params[kp.P_PAD_H], params[kp.P_PAD_W] = win.pad_height, win.pad_width
    params[kp.P_ACT_MIN], params[kp.P_ACT_MAX] = act_min, act_max
    params[kp.P_LOWEST] = INT_RANGES[type_name][0]
    row = np.zeros((win.out_width, channels), np.int32)

    def run(t):
        kernel(t[src], t[dst], params, row)

    return run
