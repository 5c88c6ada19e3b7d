"""RESHAPE: the input's elements under a new shape.

Follows TFLite's ``reshape.cc`` (``GetOutputShape`` and
``reshape_internal::ResolveOutputShape``):

- the new shape comes from input 1 when there are two inputs and input 1 is
  an int32 vector (rank 1); otherwise from the ``new_shape`` option, where
  ``[0]`` means a scalar (legacy converters); the option may hold at most 8
  dimensions (TFLite refuses the model when it is parsed, whichever source
  is used);
- at most one dimension is -1: it takes what the others leave (0 when the
  input is empty and the others are not); every other dimension is >= 0;
  the element counts must agree;
- the shape tensor may be computed by earlier operators (SHAPE ->
  STRIDED_SLICE -> PACK): TFLite then sizes the output when it runs, and
  int8sqz when it prepares, from the value those operators recorded.

The types and quantization are not checked by TFLite; int8sqz requires the
output's type to be the input's (TFLite would copy the input's bytes into an
output of another size). The copy does nothing when the output is the
input's bytes (``Sharing.alias``).
"""

import math

from ._movement import (
    DATA_TYPES, INT32_MAX, RESHAPING_NUMERICS, RESHAPING_SHARING, copy_node, int_values,
)
from ._tflm import temp_input_output, usable

from .unit import CopySkipped, CStruct, OperatorUnit, TflmAllocations, no_macs, version_1

#: TfLiteReshapeParams holds at most this many dimensions
MAX_OPTION_DIMS = 8


def new_shape_source(op, model) -> tuple:
    """("tensor", index) or ("option", list): where TFLite takes the new shape."""
    if len(op.inputs) == 2 and op.inputs[1] >= 0:
        t = model.tensors[op.inputs[1]]
        if t.type_name == "INT32" and len(t.shape) == 1:
            return "tensor", op.inputs[1]
    spec = list(op.options.get("new_shape") or [])
    if len(spec) == 1 and spec[0] == 0:
        spec = []  # the legacy scalar
    return "option", spec


def resolve_shape(ctx, op, in_shape, spec) -> tuple:
    """``ResolveOutputShape``: the -1 dimension filled in, every check made."""
    n_in = math.prod(in_shape)
    nonzero_in = math.prod(d for d in in_shape if d)
    stretch = None
    nonzero_out = n_out = 1
    for i, d in enumerate(spec):
        if d == -1:
            if stretch is not None:
                raise ctx.error(op, f"new shape {spec} has more than one -1 dimension")
            stretch = i
            continue
        if d < 0:
            raise ctx.error(op, f"new shape {spec} has the negative dimension {d}")
        nonzero_out *= d if d else 1
        n_out *= d
    shape = list(spec)
    if stretch is not None:
        if n_in == 0 and n_out != 0:
            shape[stretch] = 0
        else:
            inferred = nonzero_in // nonzero_out
            if inferred > INT32_MAX:
                raise ctx.error(op, f"new shape {spec}: the -1 dimension would be {inferred}, "
                                f"beyond int32")
            shape[stretch] = inferred
        n_out *= shape[stretch]
    if n_out != n_in:
        raise ctx.error(
            op, f"new shape {spec} has {n_out} elements, expected the input's {n_in} "
            f"(input shape {list(in_shape)})"
        )
    return tuple(shape)


def prepare(op, ctx):
    ctx.check_arity(op, (1, 2))
    src, dst = op.inputs[0], op.outputs[0]
    if len(op.inputs) == 2 and op.inputs[1] < 0:
        # TFLite dereferences the missing tensor and crashes
        raise ctx.error(op, "input 1 (the shape) is omitted; give it or leave it out")
    type_name = ctx.check_type(op, src, DATA_TYPES, "input")
    ctx.check_type(op, dst, (type_name,), "output")
    option = list(op.options.get("new_shape") or [])
    if len(option) > MAX_OPTION_DIMS:
        raise ctx.error(op, f"option new_shape has {len(option)} dimensions; TFLite reads "
                        f"at most {MAX_OPTION_DIMS}")
    kind, spec = new_shape_source(op, ctx.model)
    if kind == "tensor":
        spec = int_values(ctx, op, spec, "shape")
    shape = resolve_shape(ctx, op, ctx.shape(src), spec)
    if len(shape) > 64:
        raise ctx.unsupported(op, f"the output would have {len(shape)} dimensions; NumPy "
                              f"holds at most 64")
    ctx.set_output_shape(op, dst, shape)
    return ctx.fold(copy_node(op, src, dst, dict(shape=shape, shape_from=kind)))


def per_image(op, model, shapes) -> bool:
    """Image b of the output is image b of the input when the batch stays
    the first dimension and the rest of each image keeps its size; preparing
    one image alone gives the same when the new shape's batch is -1."""
    i, o = shapes[op.inputs[0]], shapes[op.outputs[0]]
    if not i or not o or i[0] != o[0] or math.prod(i[1:]) != math.prod(o[1:]):
        return False
    kind, spec = new_shape_source(op, model)
    if kind == "tensor":
        data = model.tensors[spec].data
        spec = None if data is None else [int(v) for v in data.reshape(-1)]
    return bool(spec) and spec[0] == -1 and spec.count(-1) == 1


#: TfLiteReshapeParams (builtin_op_data.h): shape[8], num_dimensions
TFLM_PARAMS = CStruct("TfLiteReshapeParams", (("int32", 8), "int32"), "builtin_op_data.h")


def tflm_persistent(op, model, shapes):
    """micro/kernels/reshape_common.cc: no Init; PrepareReshapeReference ->
    ReshapeOutput takes input and output as temporary tensors; ParseReshape
    allocates TfLiteReshapeParams."""
    return TflmAllocations("micro/kernels/reshape_common.cc ReshapeOutput", TFLM_PARAMS, None,
                           temp_input_output(op))


def tflm_sharing(op, k, model, shapes):
    """RESHAPE (reshape.cc, EvalReshapeReference): one memcpy of the input
    unless the output's data pointer is the input's, then nothing. So the
    output may sit exactly on input 0 (a memcpy between partly overlapping
    buffers is undefined). TFLite Micro's own planner never does that (both
    are live at the RESHAPE), so it copies."""
    if k != 0 or not usable(op, k, model, shapes):
        return None
    src, dst = op.inputs[0], op.outputs[0]
    if math.prod(shapes[src]) * model.tensors[src].dtype.itemsize != \
            math.prod(shapes[dst]) * model.tensors[dst].dtype.itemsize:
        return None
    return CopySkipped("RESHAPE: no copy when output and input coincide")


UNIT = OperatorUnit(
    "RESHAPE", prepare, options="ReshapeOptions", defaults={}, version=version_1,
    per_image=per_image, macs=no_macs,
    # _movement.copy_node: the output is a copy of input 0, skipped when it
    # has input 0's bytes
    sharing=RESHAPING_SHARING, numerics=RESHAPING_NUMERICS,
    tflm_persistent=tflm_persistent, tflm_sharing=tflm_sharing,
)
