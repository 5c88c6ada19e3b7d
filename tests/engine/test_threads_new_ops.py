"""A batch through SUB, MAXIMUM, RELU6, RESIZE_BILINEAR, REDUCE_MAX (batch
axis kept) and LOGISTIC runs image by image on several threads (every unit
says per_image), with the reference's outputs for any thread count."""

import numpy as np

from int8sqz import Interpreter
from int8sqz.parallel import batch_size
from int8sqz.testing.reference import run_reference
from int8sqz.testing.writer import GraphBuilder


def _model():
    g = GraphBuilder()
    q = dict(scale=0.05, zero_point=-3)
    x = g.input("x", (5, 4, 3, 6), "INT8", **q)
    c = g.constant("c", np.arange(-3, 3, dtype=np.int8), "INT8", scale=0.02, zero_point=1)
    s = g.tensor("s", (5, 4, 3, 6), "INT8", **q)
    g.operator("SUB", [x, c], s)
    m = g.tensor("m", (5, 4, 3, 6), "INT8", **q)
    g.operator("MAXIMUM", [s, x], m)
    r = g.tensor("r", (5, 4, 3, 6), "INT8", scale=0.03, zero_point=-128)
    g.operator("RELU6", [m], r)
    size = g.constant("size", np.array([7, 5], np.int32))
    z = g.tensor("z", (5, 7, 5, 6), "INT8", scale=0.03, zero_point=-128)
    g.operator("RESIZE_BILINEAR", [r, size], z, half_pixel_centers=True)
    axes = g.constant("axes", np.array([1, 2], np.int32))
    p = g.tensor("p", (5, 1, 1, 6), "INT8", scale=0.03, zero_point=-128)
    g.operator("REDUCE_MAX", [z, axes], p, keep_dims=True)
    y = g.tensor("y", (5, 1, 1, 6), "INT8", scale=1.0 / 256, zero_point=-128)
    g.operator("LOGISTIC", [p], y)
    g.output(y)
    return g.build()


def test_batch_runs_image_by_image_with_the_reference_outputs():
    content = _model()
    x = np.random.default_rng(8).integers(-128, 128, (5, 4, 3, 6)).astype(np.int8)
    want = run_reference(content, [x])[0]
    for threads in (1, 2, 3):
        it = Interpreter(model_content=content, num_threads=threads)
        it.allocate_tensors()
        assert batch_size(it.model, [t.shape for t in it.model.tensors]) == 5
        it.set_tensor(it.get_input_details()[0]["index"], x)
        it.invoke()
        got = it.get_tensor(it.get_output_details()[0]["index"])
        assert got.tobytes() == want.tobytes(), threads
