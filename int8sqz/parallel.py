"""Several threads for one ``invoke()``: the batch is cut into slices of
images, and each thread runs every operator, in order, on its own slice.

This is sound when every operator computes image b of its outputs from
image b of its inputs only: each operator's unit says when that holds
(``OperatorUnit.per_image``, int8sqz/ops), :func:`batch_size` checks the
rest. Each slice is prepared as a model of its own batch size (its own
scratch buffers), and its tensors are views of the whole batch's arrays, so
every tensor stays readable after ``invoke()`` and each image goes through
the same kernels with the same arithmetic whatever the number of threads:
the results are identical for every thread count.

The kernels release the GIL (``nogil``); between kernels a thread holds it
for a few microseconds to call the next one.
"""

from __future__ import annotations

from . import ops
from .ops.context import PrepareContext


def activations(model) -> list:
    seen = set(model.inputs)
    for op in model.operators:
        seen.update(op.outputs)
    return sorted(i for i in seen if not model.tensors[i].is_constant)


def batch_size(model, shapes) -> int | None:
    """The batch size N when the model may run in slices of images, else None.

    Conditions: every activation (graph input or operator output) has rank
    >= 2 and N as its first dimension, and every operator's unit says it
    works image by image (``per_image``).
    """
    acts = activations(model)
    n = None
    for i in acts:
        shape = shapes[i]
        if len(shape) < 2 or (n is not None and shape[0] != n):
            return None
        n = shape[0]
    if n is None or n < 2:
        return None
    for op in model.operators:
        if not ops.per_image(op, model, shapes):
            return None
    return n


class BatchSlices:
    """The batch as a sequence of one-image pieces, and the model prepared
    for one image once per thread (each with its own scratch buffers).

    ``pieces[j]`` is the list of every tensor's array for image j: views of
    the batch's arrays. Each thread takes the next image not yet taken and
    runs it through every operator: an image's activations stay in the
    cache, as when the model runs one image at a time, instead of the whole
    batch's going through memory between operators; and a thread slowed
    down (by another process on its CPU) takes fewer images.

    Raises ValueError when the model does not run image by image (the
    caller then runs the batch in one piece).
    """

    def __init__(self, model, shapes, arrays, threads: int, program=None):
        n = batch_size(model, shapes)
        if n is None:
            raise ValueError("the model does not run image by image")
        threads = max(1, min(threads, n))
        acts = activations(model)
        one = list(shapes)
        for i in acts:
            one[i] = (1,) + tuple(shapes[i][1:])
        self.nodes = []
        for _ in range(threads):
            ctx = PrepareContext(model, list(one), resized=True)
            nodes = [ops.prepare(op, ctx) for op in model.operators]
            # ``program(nodes)``: what runs (int8sqz.fusion), the nodes as they are without it
            self.nodes.append(program(nodes) if program is not None else nodes)
            for i in acts:
                if tuple(ctx.shapes[i]) != one[i]:
                    raise ValueError(f"tensor {i} prepares to {ctx.shapes[i]}, not {one[i]}")
        self.pieces = []
        for b in range(n):
            views = list(arrays)
            for i in acts:
                views[i] = arrays[i][b:b + 1]
            self.pieces.append(views)


def run_pieces(nodes, pieces, counter) -> None:
    """Run the images whose numbers ``next(counter)`` hands out (atomic under
    the GIL) until there are none left."""
    n = len(pieces)
    while True:
        j = next(counter)
        if j >= n:
            return
        arrays = pieces[j]
        for node in nodes:
            node(arrays)
