"""MEAN of int8 or uint8 over a constant set of axes.

Follows TFLite's ``reduce.cc`` as registered by ``Register_MEAN_REF``
(``PrepareMeanOrSum`` + ``EvalMean<kReference>``): every int8/uint8 case,
whatever the axes, ``keep_dims`` or quantization, goes through the integer
``reference_ops::QuantizedMeanOrSum``. The older special cases (a 4-D mean
over axes {1, 2} with ``keep_dims``, a truncating integer mean when input
and output quantization are equal, a float per-element rescale) are gone
from the installed ai-edge-litert, and its outputs agree with this path.
"""

import functools
import math

import numpy as np

from ..kernels import builtin as kb
from ..kernels import reduce as k
from ..kernels import xnnpack as kx
from ._common import (
    INT_RANGES, check_left_shift, check_scale, check_zero_point, flat, quantize_multiplier,
)
from ._numerics import f32
from ._tflm import temp_inputs, temp_output
from .unit import (
    NO_SHARING, CStruct, Node, Numerics, OperatorUnit, TflmAllocations, int8_version, no_macs,
    no_tflm_sharing,
)

_INTEGER = ("INT8", "UINT8")


def resolve_axes(ctx, op, axes, rank: int) -> list:
    """TFLite ``ResolveAxisForShape``: negative axes count from the end,
    duplicates are dropped (first occurrence kept); a scalar input ignores them."""
    if rank == 0:
        return []
    resolved = []
    for a in (int(v) for v in axes):
        r = a + rank if a < 0 else a
        if not 0 <= r < rank:
            raise ctx.error(
                op, f"axis {a} is out of range for input of rank {rank}, "
                f"expected a value in {-rank}..{rank - 1}"
            )
        if r not in resolved:
            resolved.append(r)
    return resolved


def reduction(op, ctx, axes):
    """Resolve the axes of a reduction (input 0 -> output 0), set the output
    shape (``keep_dims`` keeps reduced dimensions as 1) and return
    ``(reduced axes, input shape, output strides)``: the strides as int64
    arrays, the output's C-order step per input dimension, 0 along reduced
    ones."""
    shape = tuple(ctx.shape(op.inputs[0]))
    rank = len(shape)
    reduced = resolve_axes(ctx, op, axes, rank)
    if op.options.get("keep_dims", False):
        out_shape = tuple(1 if d in reduced else n for d, n in enumerate(shape))
    else:
        out_shape = tuple(n for d, n in enumerate(shape) if d not in reduced)
    ctx.set_output_shape(op, op.outputs[0], out_shape)
    strides = [0] * rank
    step = 1
    for d in reversed(range(rank)):
        if d not in reduced:
            strides[d] = step
            step *= shape[d]
    return reduced, np.array(shape, np.int64), np.array(strides, np.int64)


def reduced_blocks(shape, reduced):
    """``(outer, reduced, inner)`` element counts when the reduced axes are
    one run of adjacent dimensions once size-1 dimensions are set aside (the
    input then is ``[outer, reduced, inner]`` in C order, the output
    ``[outer, inner]``); None otherwise."""
    kinds = "".join("r" if d in reduced else "k" for d, n in enumerate(shape) if n != 1)
    first, last = kinds.find("r"), kinds.rfind("r")
    if first < 0 or "k" in kinds[first:last + 1]:
        return None
    sizes = [n for n in shape if n != 1]
    return (math.prod(sizes[:first]), math.prod(sizes[first:last + 1]),
            math.prod(sizes[last + 1:]))


def mean_multiplier(multiplier: int, shift: int, count: int) -> tuple:
    """Fold 1/count into (multiplier, shift) as ``QuantizedMeanOrSum`` does."""
    # floor(log2(count)), limited so that the shifted multiplier fits in int64
    # and the final right shift stays within 31
    s = min(count.bit_length() - 1, 32, 31 + shift)
    return (multiplier << s) // count, shift - s


def prepare(op, ctx, numerics: str = "reference"):
    """The reference's MEAN, or (``numerics``) the optimized builtin kernel's
    ("builtin": its int8 mean over height and width, which depends on the
    thread count) or XNNPACK's ("xnnpack")."""
    ctx.check_arity(op, 2)
    src, axis, dst = op.inputs[0], op.inputs[1], op.outputs[0]
    in_type = ctx.check_type(op, src, _INTEGER, "input")
    out_type = ctx.check_type(op, dst, (in_type,), "output")
    ctx.check_type(op, axis, ("INT32",), "axis")
    axes = np.asarray(ctx.constant(op, axis, "axis")).reshape(-1)
    in_scale = check_scale(ctx, op, src, "input")
    in_zp = check_zero_point(ctx, op, src, "input")
    out_scale = check_scale(ctx, op, dst, "output")
    out_zp = check_zero_point(ctx, op, dst, "output")
    qmin, qmax = INT_RANGES[out_type]

    shape = tuple(ctx.shape(src))
    reduced, dims, out_strides = reduction(op, ctx, axes)
    count = math.prod(shape[d] for d in reduced)

    if numerics != "reference" and math.prod(shape) == 0:
        raise ctx.unsupported(op, f"an empty input under numerics {numerics!r}: what that "
                                  f"runtime computes for it is not modelled")
    hw = (numerics == "builtin" and op.options.get("keep_dims", False) and len(shape) == 4
          and sorted(reduced) == [1, 2])
    if hw and in_type == "UINT8":
        raise ctx.unsupported(op, "a uint8 mean over height and width with keep_dims under "
                                  "numerics 'builtin': optimized_ops::Mean is not modelled")
    if hw:
        return _mean_hw(op, ctx, src, dst, shape, in_scale, in_zp, out_scale, out_zp)
    if numerics == "xnnpack":
        return _mean_xnnpack(op, ctx, src, dst, dims, out_strides, count, in_scale, in_zp,
                             out_scale, out_zp, qmin, qmax)

    if math.prod(shape) == 0:
        # TFLite writes its integer "NaN", 0, to every output of an empty input
        def run_empty(t):
            flat(t[dst])[:] = 0
        return Node(op, run_empty, dict(kernel="fill 0"))

    multiplier, shift = quantize_multiplier(in_scale / out_scale)
    multiplier, shift = mean_multiplier(multiplier, shift, count)
    # found by fuzzing: an output scale of 1e-12 gave other integers than TFLite
    check_left_shift(ctx, op, shift, in_scale / out_scale / count,
                     "input scale / (output scale * count)")

    blocks = reduced_blocks(shape, reduced)
    if blocks is not None:
        outer, rows, inner = blocks

        def run(t):
            k.mean_quantized_blocks(flat(t[src]), outer, rows, inner, in_zp, count, multiplier,
                                    shift, out_zp, qmin, qmax, flat(t[dst]))
        kernel = "mean_quantized_blocks"
    else:
        def run(t):
            k.mean_quantized(flat(t[src]), dims, out_strides, in_zp, count, multiplier,
                             shift, out_zp, qmin, qmax, flat(t[dst]))
        kernel = "mean_quantized"
    return Node(op, run, dict(kernel=kernel, axes=reduced, count=count,
                              input_zero_point=in_zp, multiplier=multiplier, shift=shift,
                              output_zero_point=out_zp, qmin=qmin, qmax=qmax))


def _mean_hw(op, ctx, src, dst, shape, in_scale, in_zp, out_scale, out_zp):
    """``optimized_integer_ops::Mean`` (int8, 4-D, axes {1, 2}, keep_dims):
    its float32 bias and multiplier, and which channels its workers round
    half up: the channels are split between min(max(C // 8, 1), threads)
    workers, worker i taking [start, start + (C - start) // (workers - i)),
    and each worker's whole blocks of 16 channels take the vector path."""
    n, h, w, c = shape
    count = f32(w * h)
    with np.errstate(all="ignore"):
        temp = f32(f32(f32(in_zp) * f32(in_scale)) / f32(out_scale))
        temp = f32(temp + f32(0.5)) if temp > 0 else f32(temp - f32(0.5))
    if not abs(float(temp)) < 2.0**31:
        raise ctx.unsupported(op, f"the optimized mean's zero-point term {float(temp)!r} does "
                                  f"not fit an int32; TFLite's result is undefined")
    bias = out_zp - int(temp)  # a C cast: toward zero
    with np.errstate(all="ignore"):
        real = f32(f32(in_scale) / f32(count * f32(out_scale)))
    try:
        multiplier, shift = quantize_multiplier(float(real))
    except ValueError:
        raise ctx.error(op, f"the mean's multiplier {float(real)!r} is not finite") from None
    check_left_shift(ctx, op, shift, float(real), "input scale / (count * output scale)")
    workers = min(max(c // 8, 1), max(int(ctx.num_threads), 1))
    half_up = np.zeros(c, np.uint8)
    start = 0
    for i in range(workers):
        end = start + (c - start) // (workers - i)
        half_up[start:start + (end - start) // 16 * 16] = 1
        start = end

    def run(t):
        kb.mean_hw(flat(t[src]), n, h * w, c, multiplier, shift, bias, half_up, flat(t[dst]))

    return Node(op, run, dict(kernel="builtin.mean_hw", multiplier=multiplier, shift=shift,
                              bias=bias, threads=int(ctx.num_threads), workers=workers,
                              half_up_channels=int(half_up.sum())))


def _mean_xnnpack(op, ctx, src, dst, dims, out_strides, count, in_scale, in_zp, out_scale,
                  out_zp, qmin, qmax):
    """XNNPACK's mean: the raw sum's float32 affine map k * sum + z."""
    with np.errstate(all="ignore"):
        k_ = f32(f32(f32(in_scale) / f32(out_scale)) * f32(f32(1.0) / f32(count)))
        z = f32(f32(out_zp) - f32(f32(f32(count) * f32(in_zp)) * k_))
    if not (np.isfinite(k_) and np.isfinite(z)):
        raise ctx.unsupported(op, f"under numerics 'xnnpack' the mean's float32 factors "
                                  f"({float(k_)!r}, {float(z)!r}) are not finite")

    def run(t):
        kx.mean(flat(t[src]), dims, out_strides, k_, z, qmin, qmax, flat(t[dst]))

    return Node(op, run, dict(kernel="xnnpack.mean", count=count, scale=k_, offset=z))


def delegated(op, ctx) -> bool:
    """XNNPACK takes a MEAN with a non-empty constant list of axes."""
    axes = _constant_axes(op, ctx.model)
    return axes is not None and axes.size > 0


def _constant_axes(op, model):
    if len(op.inputs) < 2 or op.inputs[1] < 0 or model.tensors[op.inputs[1]].data is None:
        return None
    return np.asarray(model.tensors[op.inputs[1]].data).reshape(-1)


def per_image(op, model, shapes) -> bool:
    """Image b of the output is the mean of image b unless the batch axis is
    reduced (the axes must be known: a constant)."""
    axes = _constant_axes(op, model)
    rank = len(shapes[op.inputs[0]])
    return axes is not None and rank > 0 and all(int(a) % rank != 0 for a in axes)


def tflm_scratch(op, model, shapes) -> list:
    """TFLite Micro's ``reduce_common.cc`` Prepare for MEAN and SUM (measured
    with the installed tflite-micro): one int32 per output element for int8
    and int16 inputs, then one int per input dimension, then one int per axis
    element."""
    if len(op.inputs) < 2 or op.inputs[0] < 0 or op.inputs[1] < 0 or not op.outputs:
        return []
    requests = []
    if model.tensors[op.inputs[0]].type_name in ("INT8", "INT16"):
        requests.append(math.prod(shapes[op.outputs[0]]) * 4)
    requests.append(4 * len(shapes[op.inputs[0]]))
    requests.append(4 * math.prod(shapes[op.inputs[1]]))
    return requests


#: TfLiteReducerParams (builtin_op_data.h): keep_dims (ParseReducer: MEAN,
#: SUM, REDUCE_MAX, REDUCE_MIN)
REDUCER_PARAMS = CStruct("TfLiteReducerParams", ("bool",), "builtin_op_data.h")
#: OpDataReduce (micro/kernels/reduce.h): eleven ints and floats
OP_DATA_REDUCE = CStruct("OpDataReduce", ("int32",) * 11, "micro/kernels/reduce.h")


def prepare_simple_temps(op, model) -> tuple:
    """The temporary tensors of reduce_common.cc's PrepareSimple (every
    reduction's Prepare runs it): input and axis, and the output when the
    input is int8."""
    temps = temp_inputs(op, 0, 1)
    if op.inputs and op.inputs[0] >= 0 and model.tensors[op.inputs[0]].type_name == "INT8":
        temps += temp_output(op)
    return temps


def tflm_persistent(op, model, shapes):
    """micro/kernels/reduce.cc (InitReduce: OpDataReduce) and
    reduce_common.cc: PrepareMeanOrSumHelper takes input, output and axis
    as temporary tensors, then PrepareSimple its own. ParseReducer
    allocates TfLiteReducerParams. (SUM is prepared the same way.)"""
    return TflmAllocations(
        "micro/kernels/reduce.cc InitReduce, reduce_common.cc PrepareMeanOrSumHelper, "
        "PrepareSimple", REDUCER_PARAMS, OP_DATA_REDUCE,
        temp_inputs(op, 0) + temp_output(op) + temp_inputs(op, 1)
        + prepare_simple_temps(op, model))


UNIT = OperatorUnit(
    "MEAN", prepare, options="ReducerOptions", defaults={"keep_dims": False},
    version=int8_version, per_image=per_image, macs=no_macs, sharing=NO_SHARING,
    tflm_scratch=tflm_scratch,
    numerics={
        "builtin": Numerics(
            "int8, 4-D, axes {1, 2}, keep_dims: optimized_integer_ops::Mean (raw sums, a "
            "float32 bias and multiplier; the channels split between min(C // 8, threads) "
            "workers, each rounding its whole 16-channel blocks half up and the rest half "
            "away from zero: the integers depend on num_threads); any other MEAN: the "
            "reference",
            functools.partial(prepare, numerics="builtin")),
        "xnnpack": Numerics(
            "xnn_define_static_reduce_v2 (mean): the raw int32 sum, then "
            "round_half_even(float32(sum) * k + z) with k = (in_scale / out_scale) * "
            "(1 / count) and z = out_zp - count * in_zp * k in float32",
            functools.partial(prepare, numerics="xnnpack"), delegated=delegated),
    },
    tflm_persistent=tflm_persistent, tflm_sharing=no_tflm_sharing,
)
