"""Per-channel requantization of the convolutions (CONV_2D and
DEPTHWISE_CONV_2D), as TFLite's ``kernel_util.cc``
``PopulateConvolutionQuantizationParams`` does it. (FULLY_CONNECTED's
reference kernel rescales in double precision instead:
int8sqz/ops/fully_connected.py.)

Per output channel the effective scale is ``double(input_scale) *
double(filter_scale) / double(output_scale)`` (each float32 scale widened to
double, the products in double) and ``QuantizeMultiplier`` turns it into a
multiplier and shift; a per-tensor filter scale is broadcast to every
channel. The output's activation range comes with it, as in TFLite.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from ._common import check_left_shift, check_scale, check_zero_point, fused_activation_range
from ._common import quantize_multiplier


class ChannelQuantization(NamedTuple):
    input_zero_point: int
    output_zero_point: int
    multiplier: np.ndarray  # int32, one per output channel
    shift: np.ndarray  # int32, one per output channel (> 0: left)
    act_min: int
    act_max: int


def per_channel_quantization(ctx, op, src: int, flt: int, dst: int, channels: int,
                             type_name: str) -> ChannelQuantization:
    """The requantization of ``channels`` output channels of input tensor
    ``src`` through filter tensor ``flt`` (one scale, or one per channel) to
    output tensor ``dst`` of type ``type_name``, checked: per-tensor input and
    output scales and zero points, finite non-negative filter scales, finite
    effective scales, left shifts TFLite defines."""
    f_scales = ctx.tensor(flt).quantization.scales
    if f_scales.size not in (1, channels):
        raise ctx.error(
            op, f"filter {ctx.label(flt)} has {f_scales.size} scales, expected 1 or one per "
            f"output channel ({channels})"
        )
    in_scale = check_scale(ctx, op, src, "input")
    in_zp = check_zero_point(ctx, op, src, "input")
    out_scale = check_scale(ctx, op, dst, "output")
    out_zp = check_zero_point(ctx, op, dst, "output")
    f_scales = np.broadcast_to(f_scales, (channels,))
    multiplier = np.zeros(channels, np.int32)
    shift = np.zeros(channels, np.int32)
    for oc in range(channels):
        fs = float(f_scales[oc])
        if not (math.isfinite(fs) and fs >= 0):
            raise ctx.error(
                op, f"filter {ctx.label(flt)} has scale {fs} for output channel {oc}, "
                f"expected a finite non-negative number"
            )
        # double(float) * double(float) / double(float), as kernel_util.cc
        effective = in_scale * fs / out_scale
        try:
            multiplier[oc], shift[oc] = quantize_multiplier(effective)
        except ValueError:
            raise ctx.error(
                op, f"output channel {oc}: effective scale {effective} is not finite"
            ) from None
        check_left_shift(ctx, op, int(shift[oc]), effective,
                         f"output channel {oc}: the effective scale")
    act_min, act_max = fused_activation_range(op, ctx, out_scale, out_zp, type_name)
    return ChannelQuantization(in_zp, out_zp, multiplier, shift, act_min, act_max)
