"""Exact fusions: one implementation of a short sequence of operators,
chosen when the interpreter prepares the model.

A fusion computes the last tensor of its sequence with the integers the
operators one by one would give, because it is built from their own
prepared kernels and parameters (docs/performance.md says why each one is
exact). What it saves is the traffic of the tensors in between, and the
calls: each rule below is a fact about a pair of operators.

* **Per-channel map after a convolution** (``conv_2d`` + ``channel_table``):
  a CONV_2D whose output goes only to an elementwise operator of that
  output against a constant that varies along the channels at most (the
  seed models' unfolded batch norm: MUL, then ADD, by ``[C]`` constants),
  and so on down the chain. Each such operator maps an int8 value of
  channel c to an int8 value, and its unit already holds that map as a
  table filled by its general kernel (int8sqz/ops/_binary.py
  ``constant_lut_run``); the tables are composed per channel, and the
  convolution writes ``table[c, value]`` as it stores its outputs
  (kernels/conv.py ``conv_2d_fused``). The tensors in between are not
  written.
* **Max pool inside the convolution's row blocks** (``conv_2d`` +
  ``max_pool_rows``): a MAX_POOL_2D whose input is the convolution's output
  (after any map above), or a concatenation whose slices the convolution
  and operators before it write: after each block of output rows, the
  pool's output rows whose windows are complete run while the rows are in
  the cache. The convolution's output is still written in full.
* **Concatenation slices** (every mode without an arena, and without
  fusions too): a tensor whose only use is a concatenation, made by a
  kernel that writes through its strides, is a view of its slice of the
  concatenation's output (int8sqz/planner/sharing.py ``concat_views``, the
  arena's rule); a concatenation whose inputs all are such views has
  nothing to copy and does not run. Every tensor keeps its values.

The interpreter fuses only when nothing asks for the operators one by one:
``experimental_preserve_all_tensors=True``, ``INT8SQZ_DEBUG`` and the arena
modes run every operator on its own. A tensor a fusion does not write is
computed when ``get_tensor`` asks for it (int8sqz.interpreter).
"""

from __future__ import annotations

import math

import numpy as np


class FusedNode:
    """Several prepared operators run as one. ``nodes``: the operators' own
    :class:`~int8sqz.ops.unit.Node` objects in order (which compute every
    tensor, one operator at a time); ``run``: the fused implementation;
    ``hidden``: the tensors it does not write; ``reads``: the tensors it
    reads that other operators make (or the graph's inputs); ``rule``: the
    fusions it applies, in words."""

    __slots__ = ("nodes", "run", "hidden", "reads", "rule")

    def __init__(self, nodes, run, hidden, reads, rule: str):
        self.nodes = list(nodes)
        self.run = run
        self.hidden = frozenset(hidden)
        self.reads = frozenset(reads)
        self.rule = rule

    @property
    def op(self):
        return self.nodes[0].op

    def __call__(self, tensors) -> None:
        self.run(tensors)

    def run_unfused(self, tensors) -> None:
        for node in self.nodes:
            node(tensors)

    def __repr__(self) -> str:
        names = " + ".join(f"{n.op.index} {n.op.name}" for n in self.nodes)
        return f"<FusedNode {names}: {self.rule}>"


class Program:
    """What ``invoke()`` runs: ``steps`` (Nodes and FusedNodes, in order),
    ``hidden`` (tensor -> the FusedNode that does not write it) and
    ``skip`` (operators with nothing to do: concatenations of views)."""

    __slots__ = ("steps", "hidden", "skip")

    def __init__(self, steps, hidden, skip):
        self.steps = steps
        self.hidden = hidden
        self.skip = frozenset(skip)


def _uses(model) -> dict:
    uses: dict[int, list] = {}
    for op in model.operators:
        for i in op.inputs:
            if i >= 0:
                uses.setdefault(i, []).append(op.index)
    return uses


def concat_slices(model, shapes) -> tuple:
    """``(views, skip)``: the concatenation inputs that may be views of
    their slice of the output, ``{tensor: (op index, output, start)}``
    (int8sqz/planner/sharing.py ``concat_views``, the rule the arena
    applies), and the concatenations with nothing left to copy."""
    from .planner.lifetimes import tflm_lifetimes
    from .planner.sharing import concat_views, same_quantization

    views = concat_views(model, shapes, tflm_lifetimes(model, shapes))
    skip = set()
    for op in model.operators:
        ins = [i for i in op.inputs if i >= 0]
        if op.name == "CONCATENATION" and ins and all(
                i in views and views[i][0] == op.index for i in ins):
            qo = model.tensors[op.outputs[0]].quantization
            if all(same_quantization(model.tensors[i].quantization, qo) for i in ins):
                skip.add(op.index)
    return views, skip


def slice_view(model, shapes, arrays, views) -> None:
    """Make each tensor of ``views`` a view of its slice of the
    concatenation's array in ``arrays`` (made first when missing)."""
    for i, (k, out, start) in sorted(views.items()):
        if arrays[out] is None:
            arrays[out] = np.zeros(shapes[out], dtype=model.tensors[out].dtype)
        rank = len(shapes[out])
        axis = model.operators[k].options.get("axis", 0)
        axis = axis + rank if axis < 0 else axis
        index = (slice(None),) * axis + (slice(start, start + shapes[i][axis]),)
        arrays[i] = arrays[out][index]


# -- the rules: facts about pairs of operators ---------------------------------------------

def channel_table(model, shapes, node, channels: int):
    """``node``'s operator as a map of each channel's int8 values, an int8
    table ``[channels, 256]`` indexed by the input's byte, or None.

    It is one when the operator is elementwise between one activation (of
    the output's shape and type) and a constant whose broadcast varies along
    the last axis at most, and its unit filled a lookup table with its
    general kernel (``lookup_table``: a row per constant element, int8sqz/ops/_binary.py)."""
    lut = node.params.get("lookup_table")
    op = node.op
    if lut is None or len(op.inputs) != 2 or len(op.outputs) != 1:
        return None
    tensors = model.tensors
    a, b = op.inputs
    if a < 0 or b < 0 or tensors[a].is_constant == tensors[b].is_constant:
        return None
    const, act = (a, b) if tensors[a].is_constant else (b, a)
    out = op.outputs[0]
    if tuple(shapes[act]) != tuple(shapes[out]) or tensors[act].type_name != "INT8" or \
            tensors[out].type_name != "INT8" or lut.dtype != np.int8:
        return None
    c_shape = tuple(shapes[const])
    rank = len(shapes[out])
    if len(c_shape) > rank or rank == 0:
        return None
    n = math.prod(c_shape)
    if n == 1:
        return np.ascontiguousarray(np.repeat(lut[:1], channels, axis=0))
    if c_shape[-1] == channels == shapes[out][-1] and n == channels and lut.shape[0] == n:
        return np.ascontiguousarray(lut)
    return None


def _compose(first, then):
    """The table of ``then`` after ``first`` (both ``[C, 256]`` int8)."""
    rows = np.arange(first.shape[0])[:, None]
    return then[rows, first.view(np.uint8)]


def _pool_after(model, shapes, nodes, uses, outputs, conv_index, t, views, skip):
    """The MAX_POOL_2D node whose input is tensor ``t`` (or the
    concatenation ``t`` is a view of, the convolution its last producer),
    and that input; or None."""
    x = t
    if t in views:
        k, out, _ = views[t]
        if k not in skip or out in outputs:
            return None
        cat = model.operators[k]
        # every other slice is made before the convolution runs
        producer = {o: op.index for op in model.operators for o in op.outputs}
        if any(producer.get(i, -1) > conv_index for i in cat.inputs if i >= 0 and i != t):
            return None
        x = out
    if x in outputs or len(uses.get(x, ())) != 1:
        return None
    pool = nodes[uses[x][0]]
    hook = (pool.fuse or {}).get("max_pool_rows")
    if hook is None or pool.op.inputs[0] != x or pool.op.index <= conv_index:
        return None
    if len(shapes[x]) != 4 or shapes[x][0] != shapes[t][0]:
        return None
    return pool, x, hook


def plan(model, shapes, nodes, fuse: bool = True, views=None, skip=frozenset()) -> Program:
    """The program of ``nodes`` (the operators' prepared nodes, in order):
    the fusions above where ``fuse``, the concatenations of ``skip`` left
    out (``views``: :func:`concat_slices`)."""
    views = views or {}
    if not fuse:
        return Program([n for n in nodes if n.op.index not in skip], {}, skip)
    uses = _uses(model)
    outputs = set(model.outputs) | set(model.inputs)
    absorbed = {}  # op index -> the FusedNode that runs it
    fused_at = {}  # op index of the first operator -> FusedNode
    for node in nodes:
        hook = (node.fuse or {}).get("conv_2d")
        if hook is None or node.op.index in absorbed:
            continue
        conv = node.op
        t = conv.outputs[0]
        channels = shapes[t][-1]
        members = [node]
        hidden = []
        table = None
        rules = []
        # a chain of per-channel maps
        while t not in outputs and t not in views and len(uses.get(t, ())) == 1:
            nxt = nodes[uses[t][0]]
            if nxt.op.index in absorbed or nxt.op.index <= conv.index:
                break
            m = channel_table(model, shapes, nxt, channels)
            if m is None:
                break
            table = m if table is None else _compose(table, m)
            members.append(nxt)
            hidden.append(t)
            rules.append(nxt.op.name)
            t = nxt.op.outputs[0]
        rule = ""
        if table is not None:
            rule = f"{'+'.join(rules)} as a per-channel table"
        pool = _pool_after(model, shapes, nodes, uses, outputs, conv.index, t, views, skip)
        pool_args = None
        if pool is not None:
            pool_node, x, (fields, row) = pool
            pool_args = (x, pool_node.op.outputs[0], fields, row)
            members.append(pool_node)
            rule = (rule + "; " if rule else "") + "MAX_POOL_2D in the row blocks"
        if len(members) == 1:
            continue
        run = hook(out=t, table=table, pool=pool_args)
        made = {o for n in members for o in n.op.outputs}
        reads = {i for n in members for i in n.op.inputs
                 if i >= 0 and i not in made and not model.tensors[i].is_constant}
        if pool_args is not None and pool_args[0] not in made:
            reads.add(pool_args[0])
        fused = FusedNode(members, run, hidden, reads, rule)
        fused_at[conv.index] = fused
        for n in members:
            absorbed[n.op.index] = fused
    steps = []
    hidden = {}
    for node in nodes:
        k = node.op.index
        if k in fused_at:
            steps.append(fused_at[k])
            for i in fused_at[k].hidden:
                hidden[i] = fused_at[k]
        elif k not in absorbed and k not in skip:
            steps.append(node)
    return Program(steps, hidden, skip)
