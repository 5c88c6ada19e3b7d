"""What the data-movement operators share: their types, the copy that
RESHAPE, SQUEEZE and EXPAND_DIMS make (nothing when the output is the
input's bytes), the strided copy of TRANSPOSE, STRIDED_SLICE, TILE and PACK,
and the reading of integer parameter tensors (shapes, permutations,
multiples, paddings), which may be constants or values computed while the
model is prepared (int8sqz.ops.context.PrepareContext.value)."""

from __future__ import annotations

import numpy as np

from ..errors import InternalError
from ..kernels import movement as k
from ._broadcast import loop_nest
from ._common import flat
from .unit import Node, Sharing, always, same_as_reference

#: the types of the data tensors these operators move
DATA_TYPES = ("INT8", "UINT8", "INT32", "FLOAT32")
INT32_MAX = (1 << 31) - 1
INT32_MIN = -(1 << 31)

_BITS = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


def bits(array: np.ndarray) -> np.ndarray:
    """The array viewed as unsigned integers of its element size: the
    kernels copy bits, whatever the type."""
    return array.view(_BITS[array.itemsize])


def check_same_type(ctx, op, src: int, dst: int, role: str = "input") -> str:
    """The input's type, one of DATA_TYPES, and the output's the same."""
    type_name = ctx.check_type(op, src, DATA_TYPES, role)
    ctx.check_type(op, dst, (type_name,), "output")
    return type_name


def check_max_rank(ctx, op, index: int, limit: int, what: str) -> tuple:
    """The tensor's shape, refused beyond ``limit`` dimensions as TFLite's
    ``what`` refuses it."""
    shape = tuple(ctx.shape(index))
    if len(shape) > limit:
        raise ctx.error(op, f"input {ctx.label(index)} has {len(shape)} dimensions; TFLite's "
                        f"{what} takes at most {limit}")
    return shape


def int_values(ctx, op, index: int, role: str) -> list:
    """The Python integers of a known parameter tensor, in order."""
    return [int(v) for v in np.asarray(ctx.known_value(op, index, role)).reshape(-1)]


def same_memory(a: np.ndarray, b: np.ndarray) -> bool:
    return a.__array_interface__["data"][0] == b.__array_interface__["data"][0]


def copy_node(op, src: int, dst: int, params) -> Node:
    """RESHAPE, SQUEEZE, EXPAND_DIMS: the output holds the input's elements
    in the same order (TFLite's ``memcpy``). When a memory plan gives the
    output the input's own bytes (``Sharing.alias``), there is nothing to
    copy."""

    def run(t):
        a, b = t[src], t[dst]
        if b.size == 0 or (same_memory(a, b) and a.flags.c_contiguous
                           and b.flags.c_contiguous):
            return
        flat(b)[:] = a.reshape(-1)  # a strided input is gathered first

    return Node(op, run, dict(params, kernel="copy (nothing when aliased)"))


class CopyPlan:
    """A strided copy from an input of ``src_shape`` (C-contiguous) into an
    output of ``dst_shape``: the loop nest and the start offsets, checked to
    stay inside both arrays."""

    def __init__(self, nest_shape, dst_strides, src_strides, dst_start: int,
                 src_start: int, dst_size: int, src_size: int):
        nest_shape = tuple(int(d) for d in nest_shape)
        self.shape, self.strides = loop_nest(
            nest_shape, [(nest_shape, dst_strides), (nest_shape, src_strides)])
        self.dst_start, self.src_start = int(dst_start), int(src_start)
        if 0 in nest_shape:
            return
        for start, strides, size, what in ((dst_start, dst_strides, dst_size, "output"),
                                           (src_start, src_strides, src_size, "input")):
            lo = start + sum((d - 1) * s for d, s in zip(nest_shape, strides) if s < 0)
            hi = start + sum((d - 1) * s for d, s in zip(nest_shape, strides) if s > 0)
            if lo < 0 or hi >= size:
                raise InternalError(
                    f"a strided copy would reach {what} elements {lo}..{hi} of {size}")

    def run(self, dst: np.ndarray, src: np.ndarray) -> None:
        if not src.flags.c_contiguous:
            src = np.ascontiguousarray(src)
        k.strided_copy(bits(flat(dst)), self.dst_start, bits(flat(src)),
                       self.src_start, self.shape, self.strides)


#: RESHAPE, SQUEEZE and EXPAND_DIMS: the output holds input 0's bytes in the
#: arena (copy_node does nothing when they coincide), and every runtime
#: copies the bytes as the reference does
RESHAPING_SHARING = Sharing(kernel="int8sqz/ops/_movement.py", alias=True)
RESHAPING_NUMERICS = {
    "builtin": same_as_reference("a copy"),
    "xnnpack": same_as_reference("a copy (a static reshape in XNNPACK)", delegated=always),
}
