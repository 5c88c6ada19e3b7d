"""TRANSPOSE: the input's dimensions permuted.

Follows TFLite's ``transpose.cc`` and ``reference_ops::Transpose``: input
rank 1 to 8 (``kTransposeMaxDimensions``; the converter writes version 8
beyond rank 6), output of the input's type (quantization is not checked);
the permutation is an int32 vector with one entry per input dimension, each
in ``-rank..rank-1`` (negative ones count from the end); output dimension i
is input dimension ``perm[i]``. The permutation may be computed by earlier
operators (known when int8sqz prepares).

Refused where TFLite's result is not defined (UnsupportedError): a
permutation naming a dimension twice (TFLite then reads outside the input),
a rank-0 input (TFLite crashes), a permutation tensor of another type than
int32 (TFLite reads its bytes as int32).
"""

import math

import numpy as np

from ._broadcast import c_strides
from ._movement import CopyPlan, check_max_rank, check_same_type, int_values
from ._tflm import in_order_trace, temp_inputs, temp_output, usable
from .unit import (
    NO_SHARING, Node, OperatorUnit, TflmAllocations, always, def_type, no_macs,
    same_as_reference,
)

MAX_DIMS = 8


def prepare(op, ctx):
    ctx.check_arity(op, 2)
    src, perm_t, dst = op.inputs[0], op.inputs[1], op.outputs[0]
    shape = check_max_rank(ctx, op, src, MAX_DIMS, "TRANSPOSE")
    rank = len(shape)
    check_same_type(ctx, op, src, dst)
    if rank == 0:
        raise ctx.unsupported(op, f"input {ctx.label(src)} is a scalar; TFLite's TRANSPOSE "
                              f"crashes on it")
    ctx.check_type(op, perm_t, ("INT32",), "permutation")
    if len(ctx.shape(perm_t)) != 1 or ctx.shape(perm_t)[0] != rank:
        raise ctx.error(op, f"permutation {ctx.label(perm_t)} has shape "
                        f"{list(ctx.shape(perm_t))}, expected [{rank}]")
    given = int_values(ctx, op, perm_t, "permutation")
    for p in given:
        if not -rank <= p < rank:
            raise ctx.error(op, f"permutation {given} is out of bounds for rank {rank}, "
                            f"expected values in {-rank}..{rank - 1}")
    perm = [p + rank if p < 0 else p for p in given]
    if len(set(perm)) != rank:
        raise ctx.unsupported(op, f"permutation {given} names a dimension twice; TFLite then "
                              f"reads outside the input")
    out_shape = tuple(shape[p] for p in perm)
    ctx.set_output_shape(op, dst, out_shape)
    in_strides = c_strides(shape)
    size = math.prod(shape)
    plan = CopyPlan(out_shape, c_strides(out_shape), [in_strides[p] for p in perm], 0, 0,
                    size, size)

    def run(t):
        plan.run(t[dst], t[src])

    return ctx.fold(Node(op, run, dict(kernel="strided_copy", perm=perm)))


def version(op, tensors) -> int:
    """``op_version.cc`` for the types int8sqz runs: 8 beyond rank 6, 6
    beyond rank 5, 4 beyond rank 4, 2 for int8, else 1."""
    rank = len(tensors[op.inputs[0]].shape) if op.inputs and op.inputs[0] >= 0 else 0
    if rank > 6:
        return 8
    if rank > 5:
        return 6
    if rank > 4:
        return 4
    return 2 if def_type(op, tensors, 0) == "INT8" else 1


def per_image(op, model, shapes) -> bool:
    """Image by image when the batch dimension stays first (a constant
    permutation with entry 0 naming dimension 0)."""
    data = model.tensors[op.inputs[1]].data if op.inputs[1] >= 0 else None
    rank = len(shapes[op.inputs[0]])
    return data is not None and data.size == rank > 0 and int(data.reshape(-1)[0]) % rank == 0


def tflm_persistent(op, model, shapes):
    """micro/kernels/transpose_common.cc: no Init; TransposePrepare's
    TransposeContext (transpose.h) takes input, permutation and output as
    temporary tensors; ParseTranspose allocates nothing."""
    return TflmAllocations("micro/kernels/transpose_common.cc TransposePrepare", None, None,
                           temp_inputs(op, 0, 1) + temp_output(op))


def tflm_sharing(op, k, model, shapes):
    """TRANSPOSE (transpose.cc -> reference_ops::Transpose -> TransposeImpl):
    the output written element by element in order, each from the input
    element the permutation maps to it."""
    if k != 0 or len(op.inputs) < 2 or op.inputs[1] < 0 or not usable(op, k, model, shapes) \
            or model.tensors[op.inputs[1]].data is None:
        return None
    src, dst = op.inputs[0], op.outputs[0]
    perm = [int(p) for p in np.asarray(model.tensors[op.inputs[1]].data).reshape(-1)]
    if sorted(perm) != list(range(len(shapes[src]))):
        return None
    index = np.arange(math.prod(shapes[src])).reshape(shapes[src]).transpose(perm).reshape(-1)
    if index.size != math.prod(shapes[dst]):
        return None
    return in_order_trace(model, op, shapes, index,
                          "TRANSPOSE: output in order, input in permuted order")


UNIT = OperatorUnit(
    "TRANSPOSE", prepare, options="TransposeOptions", defaults={}, version=version,
    per_image=per_image, macs=no_macs, sharing=NO_SHARING,
    numerics={
        "builtin": same_as_reference("copies"),
        "xnnpack": same_as_reference("xnn_define_static_transpose: copies",
                                     delegated=always),
    },
    tflm_persistent=tflm_persistent, tflm_sharing=tflm_sharing,
)
