"""What the windowed operators (CONV_2D, DEPTHWISE_CONV_2D, the 2-D pools)
share: output size and padding computed as TFLite's ``padding.h`` does
(``ComputePaddingHeightWidth``), and their stride and padding options.

TFLite ignores the status of the checked helpers: an invalid argument leaves
the output size of that axis (and of every axis not computed yet) at 0 and
the padding at 0, and the node still prepares. :func:`padding_height_width`
reproduces that, so a model with such a window gets the same (empty) output
shape as in TFLite.
"""

from __future__ import annotations

from dataclasses import dataclass

PADDINGS = ("SAME", "VALID")
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


def row_window(padding, in_h: int, filter_h: int, stride: int, dilation: int):
    """The :class:`~int8sqz.ops.unit.RowWindow` of a 2-D window operator
    (padding above as ``ComputePaddingHeightWidth`` computes it), or None
    where TFLite's size checks fail."""
    from .unit import RowWindow

    out_h = out_size(padding, in_h, filter_h, stride, dilation)
    if out_h is None:
        return None
    pad = padding_with_offset(stride, dilation, in_h, filter_h, out_h)
    if pad is None:
        return None
    return RowWindow(filter_h, stride, dilation, pad[0])


#: TFLite keeps strides and dilations of the convolutions in an int16
INT16_MAX = 32767


def window_options(op, ctx):
    """``(stride, dilation, padding)`` of a convolution, the first two as
    (height, width), each positive and at most 32767 (TFLite refuses the
    others)."""
    stride_h = positive_option(op, ctx, "stride_h")
    stride_w = positive_option(op, ctx, "stride_w")
    dil_h = positive_option(op, ctx, "dilation_hfactor")
    dil_w = positive_option(op, ctx, "dilation_wfactor")
    padding = padding_option(op, ctx)
    for key, value in (("stride_h", stride_h), ("stride_w", stride_w),
                       ("dilation_hfactor", dil_h), ("dilation_wfactor", dil_w)):
        if value > INT16_MAX:
            raise ctx.error(
                op, f"option {key} is {value}, expected at most {INT16_MAX} (TFLite keeps "
                f"strides and dilations in an int16)"
            )
    return (stride_h, stride_w), (dil_h, dil_w), padding


def filter_rows(op, shapes):
    """The :class:`~int8sqz.ops.unit.RowWindow` of a convolution whose
    filter (input 1) has its height at index 1 (CONV_2D's OHWI,
    DEPTHWISE_CONV_2D's [1, H, W, O]): the optimized planner's rule."""
    if len(op.inputs) < 2 or op.inputs[1] < 0 or len(shapes[op.inputs[1]]) != 4 \
            or len(shapes[op.inputs[0]]) != 4:
        return None
    return row_window(op.options.get("padding"), shapes[op.inputs[0]][1],
                      shapes[op.inputs[1]][1], int(op.options.get("stride_h", 1)),
                      int(op.options.get("dilation_hfactor", 1)))


def filter_bands(op, model, shapes):
    """``Bands.windows`` of CONV_2D and DEPTHWISE_CONV_2D (batch 1): the
    input's rows through :func:`filter_rows`'s window; filter and bias read
    whole."""
    window = filter_rows(op, shapes)
    out = shapes[op.outputs[0]] if op.outputs else ()
    if window is None or len(out) != 4 or out[0] != 1:
        return None
    return (window,) + (None,) * (len(op.inputs) - 1)
