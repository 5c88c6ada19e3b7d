"""What a plan is made of: each planned tensor's size and lifetime by
TFLite Micro's rules, and the scratch buffers TFLite Micro's kernels request
(asked of each operator's unit, int8sqz.ops).

Time is counted in TFLite Micro's allocation scopes: 0 is the start of the
graph (graph inputs are created there), operator ``i`` runs at time ``i + 1``.
Only shapes, types and the operator list are used: this works on any valid
model, including one whose operators int8sqz cannot run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .. import ops
from ..errors import ModelError


@dataclass
class Lifetime:
    first: int  # allocation scope: 0 = graph start, operator i = i + 1
    last: int

    @property
    def first_op(self) -> int:
        return max(self.first - 1, 0)

    @property
    def last_op(self) -> int:
        return max(self.last - 1, 0)


def tensor_nbytes(model, index: int, shapes=None) -> int:
    t = model.tensors[index]
    shape = shapes[index] if shapes is not None else t.shape
    if t.dtype is None:
        raise ModelError(
            f"{model.source}: {model.tensor_label(index)} has type {t.type_name}, whose "
            f"size in bytes is not fixed: it cannot be planned"
        )
    return math.prod(shape) * t.dtype.itemsize


def needs_allocating(model, index: int, shapes=None) -> bool:
    """TFLite Micro plans a tensor when it has no constant data, is not a
    variable (variables live in the persistent area) and is not empty."""
    t = model.tensors[index]
    if t.is_constant or t.is_variable:
        return False
    shape = shapes[index] if shapes is not None else t.shape
    if math.prod(shape) == 0:
        return False
    return True


def tflm_lifetimes(model, shapes=None) -> dict:
    """Lifetimes of the planned tensors by TFLite Micro's rules
    (``AllocationInfoBuilder::MarkAllocationLifetimes``, main subgraph):

    * graph inputs and graph outputs are created at scope 0;
    * operator i is scope i + 1; its outputs are (re)created there, then
      every input and output gets its last use there;
    * at the end every graph output gets last use at the final scope.

    A tensor that is never created or used keeps the lifetime [-1, -1]
    (TFLite Micro's uninitialised marker) and is still planned.
    """
    n = len(model.tensors)
    first = [-1] * n
    last = [-1] * n

    def created(i, scope):
        first[i] = scope
        last[i] = scope

    scope = 0
    for i in model.inputs:
        created(i, scope)
    for i in model.outputs:
        created(i, scope)
    for op in model.operators:
        scope += 1
        for i in op.outputs:
            created(i, scope)
        for i in op.inputs:
            if i >= 0:
                last[i] = scope
        for i in op.outputs:
            last[i] = scope
    for i in model.outputs:
        last[i] = scope
    return {
        i: Lifetime(first[i], last[i])
        for i in range(n) if needs_allocating(model, i, shapes)
    }


def tflm_scratch_requests(model, shapes=None) -> list:
    """The scratch buffers TFLite Micro's reference kernels request in the
    arena (``RequestScratchBufferInArena`` during Prepare), as
    ``(operator index, bytes)`` in request order: each operator's unit (or
    int8sqz.ops.foreign) states its kernel's requests. TFLite Micro plans
    them with the tensors (after them), each live during its operator only.
    """
    shapes = shapes if shapes is not None else [t.shape for t in model.tensors]
    return [(op.index, size) for op in model.operators
            for size in ops.tflm_scratch(op, model, shapes)]
