"""Operators: one module per TFLite builtin, each holding everything int8sqz
knows about it as an :class:`~int8sqz.ops.unit.OperatorUnit` named ``UNIT``,
and the one registry that maps builtin names to units.

``REGISTRY[name].prepare(op, ctx)`` validates the operator, does all float
arithmetic, sets its output shapes and returns a
:class:`~int8sqz.ops.unit.Node` whose ``run(tensors)`` calls a kernel with
plain arrays and integers. ``tensors`` is the list of every tensor's array,
indexed by tensor index; outputs are preallocated arrays that the kernel
fills.

The rest of the engine asks the units (through the functions below) and
keeps no operator tables of its own; operators int8sqz does not run are
described in :mod:`int8sqz.ops.foreign`.

To add an operator: write ``int8sqz/ops/<op>.py`` with its ``UNIT``, its
kernel in ``kernels/``, and list the unit here; the conformance test
(tests/operators/test_conformance.py) then asks for its strategy, oracle,
differential test and fuzz seed.

Numerics: :func:`prepare` prepares each operator with the prepare step of
the numerics the context asks for (``ctx.numerics``): the unit's own for
``"reference"``, its ``numerics["builtin"]`` for ``"builtin"``, and for
``"xnnpack"`` its ``numerics["xnnpack"]`` when that entry says the XNNPACK
delegate takes the operator, else its builtin one, as TFLite's default
interpreter partitions the graph (:func:`numerics_of`).
"""

from __future__ import annotations

from . import (
    add, average_pool_2d, concatenation, conv_2d, dequantize, expand_dims, foreign, logistic,
    max_pool_2d, maximum, mean, minimum, mul, pack, pad, padv2, quantize, reduce_max, relu,
    relu6, reshape, resize_bilinear, shape, softmax, squeeze, strided_slice, sub, tile,
    transpose,
)
from . import depthwise_conv_2d, fully_connected
from .unit import NUMERICS as NUMERICS
from .unit import NO_SHARING, Node, Numerics, OperatorUnit, Sharing

REGISTRY: dict[str, OperatorUnit] = {
    unit.name: unit
    for unit in (
        add.UNIT,
        average_pool_2d.UNIT,
        concatenation.UNIT,
        conv_2d.UNIT,
        dequantize.UNIT,
        expand_dims.UNIT,
        logistic.UNIT,
        max_pool_2d.UNIT,
        maximum.UNIT,
        mean.UNIT,
        minimum.UNIT,
        mul.UNIT,
        pack.UNIT,
        pad.UNIT,
        padv2.UNIT,
        quantize.UNIT,
        reduce_max.UNIT,
        relu.UNIT,
        relu6.UNIT,
        reshape.UNIT,
        resize_bilinear.UNIT,
        shape.UNIT,
        softmax.UNIT,
        squeeze.UNIT,
        strided_slice.UNIT,
        sub.UNIT,
        tile.UNIT,
        transpose.UNIT,
        depthwise_conv_2d.UNIT,
        fully_connected.UNIT,
    )
}

#: tensor types the interpreter can hold (constants and activations). INT64
#: is for parameter tensors (TILE multiples, PAD paddings, EXPAND_DIMS axis)
#: and SHAPE's int64 output: every unit checks the type of each tensor it
#: reads and writes, so an INT64 tensor anywhere else is refused by that
#: operator's prepare step, naming the tensor
SUPPORTED_TYPES = ("FLOAT32", "INT8", "UINT8", "INT32", "INT64")


def supported_operators() -> list:
    return sorted(REGISTRY)


def numerics_of(op, ctx) -> tuple:
    """``(runs, Numerics)``: what computes ``op`` under ``ctx.numerics``.
    ``runs`` names it: the mode itself, or ``"builtin"`` for an operator the
    XNNPACK delegate does not take under ``"xnnpack"``."""
    unit = REGISTRY[op.name]
    mode = ctx.numerics
    if mode == "xnnpack":
        entry = unit.numerics["xnnpack"]
        if _delegated(entry, op, ctx):
            return "xnnpack", entry
        mode = "builtin"
    return mode, unit.numerics_for(mode)


def _delegated(entry: Numerics, op, ctx) -> bool:
    # asked before the operator is validated: a malformed operator is not
    # taken, and the builtin prepare then refuses it with its own message
    try:
        return bool(entry.delegated(op, ctx))
    except (AttributeError, IndexError, KeyError, TypeError, ValueError):
        return False


def prepare(op, ctx) -> Node:
    """Prepare one operator with its unit (the caller checked that it has
    one), in the numerics ``ctx.numerics``; under "builtin" and "xnnpack"
    the node's ``params["numerics"]`` says which kernel family runs it."""
    unit = REGISTRY[op.name]
    if ctx.numerics == "reference":
        node = unit.prepare(op, ctx)
        return node if isinstance(node, Node) else Node(op, node)
    runs, entry = numerics_of(op, ctx)
    node = (entry.prepare or unit.prepare)(op, ctx)
    node = node if isinstance(node, Node) else Node(op, node)
    node.params["numerics"] = runs
    return node


def options_table(name: str) -> str | None:
    """The builtin options table the operator reads (None: derive it from the name)."""
    unit = REGISTRY.get(name)
    return unit.options if unit is not None else foreign.OPTIONS.get(name)


def sharing(op) -> Sharing:
    unit = REGISTRY.get(op.name)
    return unit.sharing if unit is not None else NO_SHARING


def macs(op, shapes) -> int:
    unit = REGISTRY.get(op.name)
    try:
        return int(unit.macs(op, shapes) if unit is not None else foreign.macs(op, shapes))
    except (IndexError, TypeError, ValueError):  # a malformed operator: nothing counted
        return 0


def tflm_scratch(op, model, shapes) -> list:
    unit = REGISTRY.get(op.name)
    if unit is not None:
        return unit.tflm_scratch(op, model, shapes)
    return foreign.tflm_scratch(op, model, shapes)


def tflm_persistent(op, model, shapes):
    """What TFLite Micro's kernel allocates in the arena for the operator
    (int8sqz.ops.unit.TflmAllocations), or None when it is not known."""
    unit = REGISTRY.get(op.name)
    if unit is not None:
        return unit.tflm_persistent(op, model, shapes)
    return foreign.tflm_persistent(op, model, shapes)


def tflm_sharing(op, k, model, shapes):
    """How TFLite Micro's reference kernel lets the output share bytes with
    input ``k`` (int8sqz.ops.unit.AccessTrace or CopySkipped), or None."""
    unit = REGISTRY.get(op.name)
    if unit is not None:
        return unit.tflm_sharing(op, k, model, shapes)
    return foreign.tflm_sharing(op, k, model, shapes)


def per_image(op, model, shapes) -> bool:
    unit = REGISTRY.get(op.name)
    return unit is not None and len(op.outputs) == 1 and unit.per_image(op, model, shapes)


def version(op_def, tensor_defs) -> int:
    """The version TFLite's converter writes for an operator (the model writer's default)."""
    unit = REGISTRY.get(op_def.name)
    return unit.version(op_def, tensor_defs) if unit is not None else 1
