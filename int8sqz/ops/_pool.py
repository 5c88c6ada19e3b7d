"""What MAX_POOL_2D and AVERAGE_POOL_2D share: TFLite's pooling.cc
``GenericPrepare`` and the int8/uint8 Eval set-up."""

from __future__ import annotations

import numpy as np

from ..kernels import pool as kp
from ._common import INT_RANGES, check_scale, check_zero_point, fused_activation_range
from ._window import padding_height_width, padding_option, positive_option, row_window
from ._tflm import PADDING_VALUES, temp_input_output, usable, window_trace
from .unit import Bands, CStruct, Node, RowWindow, Sharing, TflmAllocations, check_band

#: the largest padding TFLite's 2-D pools prepare with (INT16_MAX)
MAX_POOL_PADDING = (1 << 15) - 1


def prepare_pool(op, ctx, kernel, what: str, xnnpack_bounds=None):
    """Prepare of MAX_POOL_2D / AVERAGE_POOL_2D (TFLite's pooling.cc
    ``GenericPrepare`` and the int8/uint8 Eval set-up); ``kernel`` is
    ``kernel(x, out, fields, row)`` from ``kernels/pool.py``.
    ``xnnpack_bounds(op, scale, zero_point, type_name)``: the activation
    bounds XNNPACK clamps to, in place of TFLite's."""
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
    if xnnpack_bounds is not None:
        act_min, act_max = xnnpack_bounds(op, out_scale, out_zp, type_name)

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

    named = kp.PoolParams(
        stride_h=stride_h, stride_w=stride_w, filter_h=filt_h, filter_w=filt_w,
        pad_h=win.pad_height, pad_w=win.pad_width, act_min=act_min, act_max=act_max,
        lowest=INT_RANGES[type_name][0])
    params = tuple(map(int, named))  # plain ints (one numba type), in a plain tuple
    # a max pool's row of maxima holds input values: the input's own type (64
    # lanes of a vector instead of 16); an average pool's row holds int32 sums
    row_type = {"INT8": np.int8, "UINT8": np.uint8}[type_name] if kernel is kp.max_pool_2d \
        else np.int32
    row = np.zeros((win.out_width, channels), row_type)

    def run(t):
        kernel(t[src], t[dst], params, row)

    in_shape, out_shape = tuple(ctx.shape(src)), tuple(ctx.shape(dst))
    window = RowWindow(filt_h, stride_h, 1, win.pad_height)
    band_kernel = kp.max_pool_rows if kernel is kp.max_pool_2d else kp.average_pool_rows

    def rows(max_rows):
        def run_rows(t, origins, first, last):
            x, y = t[src], t[dst]
            x0, y0 = origins.get(src, 0), origins.get(dst, 0)
            check_band(op, window, in_shape, x, x0, out_shape, y, y0, first, last, max_rows)
            band_kernel(x, x0, in_h, y, y0, 0, first, last, params, row)
        run_rows.scratch_bytes = row.nbytes  # the one row of sums, shared with run
        return run_rows

    # a max pool's rows may run inside the blocks of the convolution that
    # feeds it (int8sqz/fusion.py): its band kernel's parameters and scratch
    fuse = {"max_pool_rows": (params, row)} if kernel is kp.max_pool_2d else None
    return Node(op, run, dict(kernel=kernel.__name__, geometry=named,
                              scratch_bytes=row.nbytes), rows, fuse=fuse)


def pool_per_image(op, model, shapes) -> bool:
    return True  # image b of the output reads image b of the input only


def pool_rows(op, shapes):
    """The input rows each output row reads (the optimized planner's rule)."""
    if len(shapes[op.inputs[0]]) != 4:
        return None
    return row_window(op.options.get("padding"), shapes[op.inputs[0]][1],
                      int(op.options.get("filter_height", 1)), int(op.options.get("stride_h", 1)), 1)


def pool_bands(op, model, shapes):
    """Streaming: the input's rows through the window (batch 1)."""
    window = pool_rows(op, shapes)
    out = shapes[op.outputs[0]] if op.outputs else ()
    if window is None or len(out) != 4 or out[0] != 1:
        return None
    return (window,)


#: kernels/pool.py max_pool_rows / average_pool_rows: any band of output
#: rows, windows clamped to the whole image's height
POOL_BANDS = Bands(kernel="kernels/pool.py", windows=pool_bands)

#: kernels/pool.py: output rows in order, every input row an output row needs
#: read (into a scratch row) before any element of that row is written; the
#: output written through its strides
POOL_SHARING = Sharing(kernel="kernels/pool.py", strided_output=True, rows=pool_rows,
                       rows_read_first=True)


# -- TFLite Micro's pooling kernels (micro/kernels/pooling.cc, pooling_common.cc) ------

#: TfLitePoolParams (builtin_op_data.h): padding, strides, filter, activation,
#: and the computed padding; both pools' parser (ParsePool) allocates it
POOL_PARAMS = CStruct("TfLitePoolParams", ("enum",) * 6 + (PADDING_VALUES,),
                      "builtin_op_data.h")
#: OpDataPooling (micro/kernels/pooling.h): padding, int and float activation range
OP_DATA_POOLING = CStruct("OpDataPooling", (PADDING_VALUES, "int32", "int32", "float", "float"),
                          "micro/kernels/pooling.h")


def pool_tflm_persistent(op, model, shapes):
    """micro/kernels/pooling.cc (PoolInit: OpDataPooling) and
    pooling_common.cc (PoolingPrepare: input and output as temporary
    tensors); ParsePool allocates TfLitePoolParams."""
    return TflmAllocations("micro/kernels/pooling.cc PoolInit, pooling_common.cc PoolingPrepare",
                           POOL_PARAMS, OP_DATA_POOLING, temp_input_output(op))


def pool_tflm_sharing(op, k, model, shapes):
    """MAX_POOL_2D, AVERAGE_POOL_2D int8/int16 (pooling.cc ->
    reference_integer_ops::MaxPool, AveragePool): for batch, out_y, out_x,
    channel: the channel's window (clipped to the image) read, then one
    element written."""
    if k != 0 or not usable(op, k, model, shapes, rank4=True) or \
            model.tensors[op.inputs[0]].type_name not in ("INT8", "INT16"):
        return None
    return window_trace(model, op, shapes, lambda c: c,
                        int(op.options.get("filter_height", 1)),
                        int(op.options.get("filter_width", 1)), 1, 1,
                        f"{op.name}: one channel's window read, then one element written")
