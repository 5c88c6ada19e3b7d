"""The data-movement operators and the int32 shape arithmetic against
TFLite's reference kernels (BUILTIN_REF), on generated one-operator models
with every option (int8sqz/testing/movement.py).

Two operators have converter versions the reference registration lacks,
with the same kernel: int8 TILE (version 3; the reference takes 1 and 2)
and STRIDED_SLICE with ellipsis or new-axis masks (version 6) or offset
(version 8; the reference takes 1 to 4). int8sqz runs the converter's
version; the reference runs a copy written with int8sqz's writer at the
version it takes (int8sqz.testing.reference.registered_versions, which the
reference interpreter applies to every model).

Hostile STRIDED_SLICE parameters (any begin/end/strides, any mask bits)
can crash the reference: those run in the fuzz harness's worker processes
(tests/fuzzing.py), int8sqz in its own."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

import fuzzing
from int8sqz.testing import movement as M
from int8sqz.testing import strategies as S

#: the operators this module tests against the reference (tests/operators/test_conformance.py)
OPERATORS = ("RESHAPE", "SQUEEZE", "EXPAND_DIMS", "SHAPE", "STRIDED_SLICE", "PACK", "TRANSPOSE",
             "TILE", "PAD", "PADV2")


@pytest.fixture(autouse=True, scope="module")
def _count_report(pytestconfig):
    S.register_count_report(pytestconfig)
    fuzzing.register_report(pytestconfig)


@given(M.reshape_cases())
def test_reshape(case):
    S.check_case(case)


@given(M.squeeze_cases())
def test_squeeze(case):
    S.check_case(case)


@given(M.expand_dims_cases())
def test_expand_dims(case):
    S.check_case(case)


@given(M.shape_cases())
def test_shape(case):
    S.check_case(case)


@S.more_examples(2)
@given(M.strided_slice_cases(well_formed=True))
def test_strided_slice(case):
    S.check_case(case)


@given(M.pack_cases())
def test_pack(case):
    S.check_case(case)


@given(M.transpose_cases())
def test_transpose(case):
    S.check_case(case)


@given(M.tile_cases())
def test_tile(case):
    S.check_case(case)


@given(M.pad_cases("PAD"))
def test_pad(case):
    S.check_case(case)


@given(M.pad_cases("PADV2"))
def test_padv2(case):
    S.check_case(case)


@given(M.shape_arithmetic_cases())
def test_shape_arithmetic_of_converted_models(case):
    """SHAPE -> STRIDED_SLICE -> PACK -> RESHAPE and a TILE of constant
    anchors by computed multiples, as FD-MobileNet and the SSD model do."""
    S.check_case(case)


@S.more_examples(2)
@given(M.strided_slice_cases(well_formed=False))
def test_strided_slice_with_any_parameters_and_masks(case):
    """int8sqz refuses (ModelError) what the reference refuses; where the
    reference runs, int8sqz gives its outputs (shape, type and bytes) or
    refuses as unsupported because TFLite's result is not defined there
    (it reads past a vector or writes fewer elements than the output
    holds); it never crashes."""
    ours = fuzzing.outcome(case.content)
    assert ours["status"] in ("ok", "refused"), (case.describe(), ours)
    try:
        ref = fuzzing.worker("reference").run(
            {"content": case.content, "seed": 0, "inputs": ours.get("inputs")})
    except fuzzing.WorkerDied as died:
        ref = {"status": "crashed", "message": died.how}
    if ours["status"] == "ok":
        assert ref["status"] == "ok", (case.describe(), ref)
        problem = fuzzing._same_outputs(ours["outputs"], ref["outputs"])
        assert problem is None, (case.describe(), problem)
        S.MODEL_COUNTS[case.op] += 1
    elif ours["error"] == "ModelError":
        assert ref["status"] != "ok", (case.describe(), ours["message"])
        S.REFUSAL_COUNTS[case.op] += 1
    else:
        assert ours["error"] == "UnsupportedError", (case.describe(), ours)


# -- the zoo models' own nodes -------------------------------------------------------------

ZOO_NODES = {  # model -> how many of its nodes are data movement
    "fdmobilenet_0.25_128_int8_flowers.tflite": 8,
    "ign_wl_24_int8_wisdm.tflite": 1,
    "miniresnet_1stacks_64x50_int8_esc10.tflite": 3,
    "mobilenet_v2_0.35_128_int8_flowers.tflite": 4,
    "resnet_v1_8_32_int8_cifar10.tflite": 1,
    "ssd_mobilenet_v1_0.25_192_int8_person.tflite": 89,
    "yamnet_256_64x96_int8_esc10.tflite": 1,
}


@pytest.mark.parametrize("name", sorted(ZOO_NODES))
def test_zoo_model_nodes_equal_the_reference(name):
    """Every data-movement node of the zoo models, prepared in order in one
    context (so that SHAPE -> STRIDED_SLICE -> PACK values reach RESHAPE and
    TILE; the other operators keep the file's shapes), run on the
    reference's own input tensors: each output equals the reference's. The
    SSD model's TILE is version 3, which BUILTIN_REF lacks: the reference
    runs a copy at version 1 (the same kernel)."""
    import numpy as np
    from conftest import SHARED

    from int8sqz import ops
    from int8sqz.model import load_model
    from int8sqz.ops.context import PrepareContext
    from int8sqz.testing.reference import run_reference

    content = (SHARED / "models" / "zoo" / name).read_bytes()
    model = load_model(content)
    x_t = model.tensors[model.inputs[0]]
    rng = np.random.default_rng(7)
    if x_t.dtype.kind == "f":
        x = rng.normal(0, 1, x_t.shape).astype(x_t.dtype)
    else:
        info = np.iinfo(x_t.dtype)
        x = rng.integers(info.min, info.max, x_t.shape, endpoint=True).astype(x_t.dtype)
    ref = run_reference(content, [x], all_tensors=True)  # TILE v3 lowered there
    ctx = PrepareContext(model, [t.shape for t in model.tensors])
    checked = 0
    for op in model.operators:
        if op.name not in OPERATORS:
            continue
        node = ops.prepare(op, ctx)
        tensors = [t.data for t in model.tensors]
        for i in op.inputs:
            if tensors[i] is None:
                tensors[i] = ref[i]
        for o in op.outputs:
            tensors[o] = np.zeros(ctx.shape(o), model.tensors[o].dtype)
        node(tensors)
        for o in op.outputs:
            assert tensors[o].dtype == ref[o].dtype and np.array_equal(tensors[o], ref[o]), (
                f"{name}: {op.describe()} differs from the reference")
        checked += 1
    assert checked == ZOO_NODES[name]


# -- in the arena --------------------------------------------------------------------------

def _run(content, inputs, arena):
    import numpy as np

    from int8sqz import Interpreter

    it = Interpreter(model_content=content, arena=arena)
    it.allocate_tensors()
    for d, v in zip(it.get_input_details(), inputs):
        it.set_tensor(d["index"], np.asarray(v))
    it.invoke()
    return it, [it.get_tensor(d["index"]) for d in it.get_output_details()]


@given(st.one_of(M.shape_arithmetic_cases(), M.reshape_cases(), M.squeeze_cases(),
                 M.expand_dims_cases(), M.pad_cases("PAD"), M.strided_slice_cases(),
                 M.tile_cases()))
def test_movement_in_both_arenas(case):
    """Every planner's arena runs the operators to the reference's outputs
    (the optimized plan aliases RESHAPE, SQUEEZE and EXPAND_DIMS outputs to
    their inputs and lets PAD write over its spent input rows)."""
    want = S.run_reference(case.content, case.inputs)
    for arena in ("tflm", "optimized"):
        _, got = _run(case.content, case.inputs, arena)
        S.compare_outputs(want, got, f"{case.describe()} in the {arena} arena")


def _quantize_pad_model(pads, shape=(1, 6, 5, 4)):
    """uint8 -> QUANTIZE -> PAD -> RESHAPE -> MEAN: PAD's input dies at PAD,
    its output is born there, and the arena's peak is there: a plan gains by
    letting PAD write over its spent input rows."""
    import numpy as np

    from int8sqz.testing.writer import GraphBuilder

    g = GraphBuilder()
    x = g.input("x", shape, "UINT8", scale=0.05, zero_point=128)
    q = g.tensor("q", shape, "INT8", scale=0.05, zero_point=0)
    g.operator("QUANTIZE", [x], q)
    out_shape = tuple(d + a + b for d, (a, b) in zip(shape, pads))
    p = g.tensor("p", out_shape, "INT8", scale=0.05, zero_point=0)
    g.operator("PAD", [q, g.constant("pads", np.array(pads, np.int32))], p)
    rows = out_shape[1] * out_shape[2]
    n, c = out_shape[0], out_shape[3]
    f = g.tensor("f", (n, rows, c), "INT8", scale=0.05, zero_point=0)
    g.operator("RESHAPE", [p, g.constant("shape", np.array([n, -1, c], np.int32))], f)
    y = g.tensor("y", (n, c), "INT8", scale=0.05, zero_point=0)
    g.operator("MEAN", [f, g.constant("axis", np.array([1], np.int32))], y)
    g.output(y)
    return g.build(), q, p, f


def test_optimized_arena_aliases_reshape_and_overlaps_pad():
    import numpy as np

    content, q, p, f = _quantize_pad_model([[0, 0], [1, 2], [2, 1], [0, 0]])
    x = np.random.default_rng(3).integers(0, 256, (1, 6, 5, 4)).astype(np.uint8)
    want = S.run_reference(content, [x])
    it, got = _run(content, [x], "optimized")
    S.compare_outputs(want, got, "optimized arena")
    t = {i: it.tensor(i)() for i in (q, p, f)}
    assert t[p].ctypes.data == t[f].ctypes.data  # RESHAPE: the same bytes, nothing copied
    assert np.shares_memory(t[q], t[p])  # PAD over its spent input rows


@given(st.tuples(st.integers(1, 2), st.integers(1, 6), st.integers(1, 6), st.integers(1, 5)),
       st.lists(st.integers(0, 3), min_size=6, max_size=6), st.integers(0, 2**32 - 1))
def test_pad_over_its_spent_input_in_the_optimized_arena(shape, pads, seed):
    """The PAD ``rows`` rule: whatever the paddings (height, width,
    channels), writing the output over the input rows already consumed gives
    the reference's outputs."""
    import numpy as np

    pads = [[0, 0]] + [pads[k:k + 2] for k in (0, 2, 4)]
    content, *_ = _quantize_pad_model(pads, shape)
    x = np.random.default_rng(seed).integers(0, 256, shape).astype(np.uint8)
    want = S.run_reference(content, [x])
    _, got = _run(content, [x], "optimized")
    S.compare_outputs(want, got, f"PAD {pads} of {shape} in the optimized arena")


# -- batches, debug output, the writer -------------------------------------------------------

def _batch_model(perm0=0, reshape_batch=-1):
    """PAD, TRANSPOSE, STRIDED_SLICE, RESHAPE, EXPAND_DIMS, TILE, RESHAPE."""
    import numpy as np

    from int8sqz.testing.writer import GraphBuilder

    g = GraphBuilder()
    q = dict(scale=0.1, zero_point=3)
    x = g.input("x", (1, 4, 5, 3), "INT8", **q)
    p = g.tensor("p", (1, 6, 6, 3), "INT8", **q)
    g.operator("PAD", [x, g.constant("pads", np.array([[0, 0], [1, 1], [0, 1], [0, 0]],
                                                       np.int32))], p)
    perm = [perm0, 2, 1 - perm0, 3]
    t = g.tensor("t", (1, 6, 6, 3) if perm0 == 0 else (6, 6, 1, 3), "INT8", **q)
    g.operator("TRANSPOSE", [p, g.constant("perm", np.array(perm, np.int32))], t)
    r = g.tensor("r", (1, 108), "INT8", **q)
    g.operator("RESHAPE", [t, g.constant("shape", np.array([reshape_batch, 108], np.int32))], r)
    e = g.tensor("e", (1, 108, 1), "INT8", **q)
    g.operator("EXPAND_DIMS", [r, g.constant("axis", np.array(-1, np.int32))], e)
    k = g.tensor("k", (1, 108, 2), "INT8", **q)
    g.operator("TILE", [e, g.constant("m", np.array([1, 1, 2], np.int32))], k, version=1)
    g.output(k)
    return g.build()


@pytest.mark.parametrize("perm0, threaded", [(0, True), (1, False)])
def test_a_batch_runs_image_by_image_where_every_operator_allows(perm0, threaded):
    """With the batch first everywhere the images run on two threads; a
    TRANSPOSE that moves the batch axis makes the batch run in one piece.
    Both give the reference's outputs."""
    import numpy as np

    from int8sqz import Interpreter
    from int8sqz.testing.reference import reference_interpreter

    content = _batch_model(perm0)
    x = np.random.default_rng(1).integers(-128, 128, (4, 4, 5, 3)).astype(np.int8)
    ref = reference_interpreter(content)
    ref.resize_tensor_input(0, list(x.shape))
    ref.allocate_tensors()
    ref.set_tensor(0, x)
    ref.invoke()
    want = ref.get_tensor(ref.get_output_details()[0]["index"])
    with Interpreter(model_content=content, num_threads=2) as it:
        it.resize_tensor_input(0, list(x.shape))
        it.allocate_tensors()
        assert (it._slices is not None) == threaded
        it.set_tensor(0, x)
        it.invoke()
        S.compare_outputs([want], [it.get_tensor(it.get_output_details()[0]["index"])],
                          f"batch of 4, perm[0] = {perm0}")


def test_debug_output_shows_the_movement_parameters(monkeypatch, capsys):
    import numpy as np

    from int8sqz import Interpreter

    monkeypatch.setenv("INT8SQZ_DEBUG", "2")
    it = Interpreter(model_content=_batch_model())
    it.allocate_tensors()
    it.set_tensor(0, np.zeros((1, 4, 5, 3), np.int8))
    it.invoke()
    err = capsys.readouterr().err
    for name in ("PAD", "TRANSPOSE", "RESHAPE", "EXPAND_DIMS", "TILE"):
        assert name in err
    assert "perm" in err and "multiples" in err and "before" in err


def test_the_writer_writes_every_option_of_these_operators():
    """Each option (vectors, masks, the offset flag, out_type, values_count
    and axis) reads back as written."""
    from int8sqz.model import load_model
    from int8sqz.testing.writer import GraphBuilder

    options = {
        "RESHAPE": dict(new_shape=[3, -1, 2]),
        "SQUEEZE": dict(squeeze_dims=[0, -1]),
        "STRIDED_SLICE": dict(begin_mask=1, end_mask=2, ellipsis_mask=4, new_axis_mask=8,
                              shrink_axis_mask=16, offset=True),
        "SHAPE": dict(out_type=4),
        "PACK": dict(values_count=2, axis=-1),
        "EXPAND_DIMS": {}, "TRANSPOSE": {}, "TILE": {}, "PAD": {}, "PADV2": {},
    }
    g = GraphBuilder()
    x = g.input("x", (1,), "INT8")
    for name, opts in options.items():
        g.operator(name, [x], g.tensor(name.lower(), (1,), "INT8"), **opts)
    model = load_model(g.build())
    for op, (name, opts) in zip(model.operators, options.items()):
        assert op.name == name
        for key, value in opts.items():
            assert op.options[key] == value, (name, key, op.options)
