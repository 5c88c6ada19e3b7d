"""Running one operator of a model on its own, for the operator tests."""

import numpy as np

from int8sqz import ops
from int8sqz.model import load_model
from int8sqz.ops.context import PrepareContext
from int8sqz.testing.reference import run_reference


def prepare_op(model, index=0, shapes=None, resized=False):
    """``(model, op, ctx, run)`` for operator ``index`` prepared alone;
    ``model`` is a loaded Model or the bytes of one; ``shapes``, the tensors'
    shapes (``resized``: outputs may differ from the file's)."""
    if not hasattr(model, "operators"):
        model = load_model(model)
    op = model.operators[index]
    ctx = PrepareContext(model, list(shapes) if shapes else [t.shape for t in model.tensors],
                         resized=resized)
    return model, op, ctx, ops.prepare(op, ctx)


def check_seed_nodes(path, names, inputs) -> int:
    """Run every operator named in ``names`` of the model at ``path`` on the
    reference's own input tensors, for each graph input in ``inputs``, and
    require outputs equal to the reference's. Returns how many were checked."""
    model = load_model(path)
    checked = 0
    for x in inputs:
        ref = run_reference(path, [x], all_tensors=True)
        for op in model.operators:
            if op.name not in names:
                continue
            _, _, _, run = prepare_op(model, op.index)
            tensors = [t.data for t in model.tensors]
            for i in op.inputs:
                if i >= 0 and tensors[i] is None:
                    tensors[i] = ref[i]
            for o in op.outputs:
                tensors[o] = np.zeros_like(ref[o])
            run(tensors)
            for o in op.outputs:
                assert np.array_equal(tensors[o], ref[o]), (
                    f"{path.name}: {op.describe()} differs from the reference")
            checked += 1
    return checked


def seed_inputs(model_path, seed, constant):
    """A uniform-noise image and a constant one for a seed model."""
    model = load_model(model_path)
    shape = model.tensors[model.inputs[0]].shape
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, shape, dtype=np.uint8), np.full(shape, constant, np.uint8)]


def run_single(content, x, index=0, out=None):
    """Prepare and run operator ``index`` alone with ``x`` as its first input
    (its other inputs are the model's constants); returns the output, written
    into ``out`` when given (an array of the output's shape and type, which
    may be a strided view; ``x`` is then passed as it is, views included)."""
    model, op, ctx, run = prepare_op(content, index)
    tensors = [t.data for t in model.tensors]
    dst = op.outputs[0]
    if out is None:
        x = np.ascontiguousarray(x)
        out = np.zeros(ctx.shape(dst), model.tensors[dst].dtype)
    tensors[op.inputs[0]] = x
    tensors[dst] = out
    run(tensors)
    return tensors[dst]


def run_single_bands(content, x, heights, index=0):
    """Operator ``index`` (a windowed one: its unit's ``bands``) run a band
    of output rows at a time on one image ``x``, band heights taken in turn
    from ``heights``, each band given a copy of only the input rows its
    window names; returns the output put together from the bands."""
    from int8sqz.ops.unit import band_rows

    model, op, ctx, node = prepare_op(content, index)
    shapes = list(ctx.shapes)
    windows = ops.REGISTRY[op.name].bands.windows(op, model, shapes)
    dst = op.outputs[0]
    out_shape = tuple(ctx.shape(dst))
    run_rows = node.rows(max(heights))
    tensors = [t.data for t in model.tensors]
    got = np.zeros(out_shape, model.tensors[dst].dtype)
    first, k = 0, 0
    while first < out_shape[1]:
        last = min(out_shape[1], first + heights[k % len(heights)])
        k += 1
        lo, hi = band_rows(windows[0], x.shape[1], first, last)
        tensors[op.inputs[0]] = np.ascontiguousarray(x[:, lo:hi])
        tensors[dst] = np.zeros((1, last - first) + out_shape[2:], got.dtype)
        run_rows(tensors, {op.inputs[0]: lo, dst: first}, first, last)
        got[:, first:last] = tensors[dst]
        first = last
    return got
