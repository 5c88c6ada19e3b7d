"""Every unit that says it can run a band of output rows (``OperatorUnit.bands``)
does: on the models its hypothesis strategy draws (int8sqz.testing.strategies
OPERATOR_CASES), the output made band by band, each band given only the
input rows its windows name (in arrays that start at those rows and hold
nothing else of the image), equals the output of the whole run, bit for bit,
whatever the band heights. This checks the windows (a band that needed a row
it was not given would read another row, or fail) and the band kernels."""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from int8sqz import Interpreter
from int8sqz.model import load_model
from int8sqz.ops import REGISTRY
from int8sqz.ops.unit import band_rows
from int8sqz.streaming import _views_runner
from int8sqz.testing import strategies as S
from int8sqz.testing.writer import model_def, write_model

BANDED = sorted(n for n, u in REGISTRY.items() if u.bands is not None and n in S.OPERATOR_CASES)


class _Tensors:
    def __init__(self, base, sub):
        self.base, self.sub = base, sub

    def __getitem__(self, i):
        return self.sub[i] if i in self.sub else self.base[i]


def run_in_bands(it, node, windows, heights, data):
    """The operator's output made band by band (heights cycled), each band
    from copies of exactly the input rows its windows name (plus, at
    random, unrelated rows around them)."""
    model, shapes = it.model, [tuple(s) for s in it._shapes]
    op = node.op
    unit = REGISTRY[op.name]
    out = op.outputs[0]
    oh = shapes[out][1]
    whole = {i: it._arrays[i] for i in op.inputs if i >= 0}
    runner = (_views_runner(node, windows, shapes) if unit.bands.views
              else node.rows(max(heights)))
    got = np.zeros(shapes[out], model.tensors[out].dtype)
    first, k = 0, 0
    while first < oh:
        last = min(oh, first + heights[k % len(heights)])
        k += 1
        sub, origins = {}, {}
        for i, w in zip(op.inputs, windows):
            if i < 0 or w is None:
                continue
            lo, hi = band_rows(w, shapes[i][1], first, last)
            # rows before and after the band's: never read, filled with noise
            before = data.draw(st.integers(0, min(lo, 2)))
            after = data.draw(st.integers(0, min(shapes[i][1] - hi, 2)))
            band = whole[i][:, lo - before:hi + after].copy()
            if before:
                band[:, :before] = np.frombuffer(np.random.bytes(band[:, :before].nbytes),
                                                 band.dtype).reshape(band[:, :before].shape)
            if after:
                band[:, band.shape[1] - after:] = np.frombuffer(
                    np.random.bytes(band[:, band.shape[1] - after:].nbytes),
                    band.dtype).reshape(band[:, band.shape[1] - after:].shape)
            sub[i], origins[i] = band, lo - before
        y = np.zeros((1, last - first) + shapes[out][2:], model.tensors[out].dtype)
        sub[out], origins[out] = y, first
        runner(_Tensors(it._arrays, sub), origins, first, last)
        got[:, first:last] = y
        first = last
    return got


def nhwc(case, tall: int):
    """The case's model with its one operator's activations (and constants of
    their shape) laid out as [1, H, W, C] (same elements, same order; C kept,
    so a per-channel constant still broadcasts), H as close to ``tall`` as the
    element count allows: the strategies of elementwise operators draw any
    rank, bands need images. None when the shapes do not allow it."""
    md = model_def(load_model(case.content))
    if len(md.operators) != 1:
        return None
    op = md.operators[0]
    full = md.tensors[op.outputs[0]].shape
    n = math.prod(full)
    if n == 0 or not full:
        return None
    c = full[-1]
    rows = n // c
    h = max(d for d in range(1, rows + 1) if rows % d == 0 and d <= max(tall, 1))
    new = (1, h, rows // h, c)
    inputs = list(case.inputs)
    for i in set(op.inputs) | set(op.outputs):
        if i < 0:
            continue
        t = md.tensors[i]
        size = math.prod(t.shape)
        if tuple(t.shape) == tuple(full):
            shape = new
        elif size == 1 or (t.shape and t.shape[-1] == size == c):
            shape = (1, 1, 1, size)  # a scalar or a per-channel vector, broadcast
        else:
            return None  # another broadcast pattern: not an image's
        t.shape, t.shape_signature = shape, shape
        if t.data is not None:
            t.data = t.data.reshape(shape)
        if i in md.inputs:
            k = md.inputs.index(i)
            inputs[k] = inputs[k].reshape(shape)
    return S.Case(case.op, write_model(md), inputs, dict(case.params, nhwc=new))


@st.composite
def concatenation_images(draw):
    """CONCATENATION of 1 to 3 images along the width or the channels, int8
    (one quantization) or uint8 (inputs rescaled to the output's)."""
    from int8sqz.testing.writer import GraphBuilder

    type_name = draw(st.sampled_from(("INT8", "UINT8")))
    axis = draw(st.sampled_from((2, 3, -1)))
    h = draw(st.integers(1, 9))
    n = draw(st.integers(1, 3))
    shapes = []
    for _ in range(n):
        s = [1, h, draw(st.integers(1, 4)), draw(st.integers(1, 4))]
        if shapes:
            s[3 - (axis == 2)] = shapes[0][3 - (axis == 2)]
        shapes.append(tuple(s))
    out = list(shapes[0])
    out[axis] = sum(s[axis] for s in shapes)
    lo = -128 if type_name == "INT8" else 0
    g = GraphBuilder()
    qs = [(0.05, lo + 10)] * (n + 1) if type_name == "INT8" else [
        (float(np.float32(draw(st.floats(0.01, 0.2)))), draw(st.integers(0, 255)))
        for _ in range(n + 1)]
    ins = [g.input(f"x{k}", s, type_name, scale=q[0], zero_point=q[1])
           for k, (s, q) in enumerate(zip(shapes, qs))]
    y = g.tensor("y", tuple(out), type_name, scale=qs[-1][0], zero_point=qs[-1][1])
    g.operator("CONCATENATION", ins, y, axis=axis)
    g.output(y)
    rng = np.random.default_rng(draw(st.integers(0, 1000)))
    dtype = np.int8 if type_name == "INT8" else np.uint8
    data = [rng.integers(lo, lo + 256, s).astype(dtype) for s in shapes]
    return S.Case("CONCATENATION", g.build(), data, dict(shapes=shapes, axis=axis, q=qs))


def _cases(name):
    """The unit's strategy; for PAD and CONCATENATION one of images (theirs
    draw any rank)."""
    if name in ("PAD", "PADV2"):
        from int8sqz.testing import movement

        return movement.pad_cases(name, image=True)
    if name == "CONCATENATION":
        return concatenation_images()
    return S.OPERATOR_CASES[name]()


@pytest.mark.parametrize("name", BANDED)
def test_bands_equal_the_whole_run(name):
    checked = []

    @settings(deadline=None, suppress_health_check=list(HealthCheck))
    @given(_cases(name), st.lists(st.integers(1, 5), min_size=1, max_size=3), st.data())
    def check(case, heights, data):
        if REGISTRY[name].bands.views and name != "CONCATENATION":
            case = nhwc(case, data.draw(st.integers(2, 12)))
            if case is None:
                return
        model = load_model(case.content)
        shapes = [t.shape for t in model.tensors]
        try:
            it = Interpreter(model_content=case.content, experimental_preserve_all_tensors=True)
            it.allocate_tensors()
            for d, v in zip(it.get_input_details(), case.inputs):
                it.set_tensor(d["index"], v)
            it.invoke()
        except Exception:  # refused or aborted: the differential tests cover it
            return
        for node in it.nodes:
            op = node.op
            if op.name != name:
                continue
            windows = REGISTRY[name].bands.windows(op, model, shapes)
            if windows is None or math.prod(shapes[op.outputs[0]]) == 0:
                continue
            want = it._arrays[op.outputs[0]]
            got = run_in_bands(it, node, windows, heights, data)
            # bit for bit (float outputs may hold NaNs)
            assert np.array_equal(got.view(np.uint8), want.view(np.uint8)), (
                case.describe(), heights)
            checked.append(1)

    check()
    assert checked, f"{name}: no drawn model could run in bands"
