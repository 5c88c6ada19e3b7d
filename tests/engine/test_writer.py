"""The model writer: round trip with the loader, and files the reference runtimes load."""

import numpy as np
import pytest
from hypothesis import given, strategies as st

from int8sqz import Interpreter, load_model
from int8sqz.testing.networks import SqueezeNetSpec, squeezenet
from int8sqz.testing.micro import run_micro
from int8sqz.testing.reference import run_reference
from int8sqz.testing.writer import (
    GraphBuilder, ModelDef, OperatorDef, TensorDef, model_def, rewrite_model, write_model,
)

SEEDS = ["flowers", "food-101", "plant-village"]


def tensor_record(t):
    q = t.quantization
    return (
        t.name, t.shape, t.shape_signature, t.type_name, t.is_variable, t.is_constant,
        q.scales.dtype.str, q.scales.tobytes(), q.zero_points.tobytes(), q.quantized_dimension,
        None if t.data is None else (t.data.dtype.str, t.data.shape, t.data.tobytes()),
    )


def operator_record(op):
    return (op.name, op.builtin_code, op.version, op.inputs, op.outputs, op.options)


def assert_same_model(a, b):
    assert a.inputs == b.inputs
    assert a.outputs == b.outputs
    assert a.num_subgraphs == b.num_subgraphs
    assert a.description == b.description
    assert a.buffer_bytes == b.buffer_bytes
    assert len(a.tensors) == len(b.tensors)
    for ta, tb in zip(a.tensors, b.tensors):
        assert tensor_record(ta) == tensor_record(tb), f"tensor {ta.index}"
    assert len(a.operators) == len(b.operators)
    for oa, ob in zip(a.operators, b.operators):
        assert operator_record(oa) == operator_record(ob), f"operator {oa.index}"


@pytest.mark.parametrize("name", SEEDS)
def test_round_trip_seed_model(seed_models, name):
    original = load_model(seed_models[name])
    written = write_model(model_def(original))
    again = load_model(written)
    assert_same_model(original, again)
    # the writer is deterministic: writing the re-read model gives the same bytes
    assert write_model(model_def(again)) == written


@pytest.mark.parametrize("name", SEEDS)
def test_rewritten_seed_model_runs_the_same_in_both_references(seed_models, name):
    path = seed_models[name]
    written = rewrite_model(path)
    rng = np.random.default_rng(7)
    for _ in range(2):
        x = rng.integers(0, 256, (1, 128, 128, 3), dtype=np.uint8)
        want = run_reference(path, [x])[0]
        got_ref = run_reference(written, [x])[0]
        got_micro = run_micro(written, [x])[0]
        assert np.array_equal(want, got_ref)
        assert np.array_equal(want, got_micro)
        assert got_ref.dtype == want.dtype and got_micro.dtype == want.dtype


@pytest.mark.parametrize("name", SEEDS)
def test_rewritten_seed_model_runs_in_int8sqz(seed_models, name):
    written = rewrite_model(seed_models[name])
    x = np.random.default_rng(11).integers(0, 256, (1, 128, 128, 3), dtype=np.uint8)
    it = Interpreter(model_content=written)
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    got = it.get_tensor(it.get_output_details()[0]["index"])
    assert np.array_equal(got, run_reference(written, [x])[0])


def _quantize_chain():
    """float32 -> QUANTIZE(int8, per-tensor) -> QUANTIZE(uint8) -> DEQUANTIZE -> float32."""
    g = GraphBuilder()
    x = g.input("x", (1, 3, 5, 2), "FLOAT32", shape_signature=(-1, 3, 5, 2))
    q = g.tensor("q", (1, 3, 5, 2), "INT8", scale=0.03, zero_point=-7)
    u = g.tensor("u", (1, 3, 5, 2), "UINT8", scale=0.05, zero_point=131)
    y = g.tensor("y", (1, 3, 5, 2), "FLOAT32")
    g.operator("QUANTIZE", [x], q)
    g.operator("QUANTIZE", [q], u)
    g.operator("DEQUANTIZE", [u], y)
    g.output(y)
    return g


def test_written_model_loads_in_all_three_runtimes():
    content = _quantize_chain().build()
    x = np.linspace(-5, 5, 30, dtype=np.float32).reshape(1, 3, 5, 2)
    want = run_reference(content, [x])[0]
    assert np.array_equal(run_micro(content, [x])[0], want)
    it = Interpreter(model_content=content)
    it.allocate_tensors()
    it.set_tensor(0, x)
    it.invoke()
    assert np.array_equal(it.get_tensor(3), want)
    # and the values are those of the description, not an accident of defaults
    expected = (np.clip(np.round(x / np.float32(0.03)) - 7, -128, 127) + 7) * 0.03
    assert np.max(np.abs(want - expected)) <= 0.05 / 2 + 1e-6


def test_builder_writes_what_was_described():
    g = GraphBuilder(description="hand made")
    x = g.input("x", (1, 4, 4, 3), "INT8", scale=0.5, zero_point=3)
    w_data = np.arange(-36, 36, dtype=np.int8).reshape(2, 2, 2, 9)[:, :, :, :3].copy()
    w_data = np.ascontiguousarray(np.concatenate([w_data, w_data], 0))  # (4, 2, 2, 3)
    w = g.constant("w", w_data, scale=[0.1, 0.2, 0.3, 1e-5], quantized_dimension=0)
    bias = g.constant("b", np.array([1, -2, 3, -(1 << 31)], np.int32),
                      scale=[0.05, 0.1, 0.15, 5e-6], quantized_dimension=0)
    y = g.tensor("y", (1, 2, 2, 4), "INT8", scale=0.25, zero_point=-128)
    g.operator("CONV_2D", [x, w, bias], y, padding="VALID", stride_w=2, stride_h=2,
               fused_activation_function="RELU6", dilation_hfactor=1)
    m = g.operator("MEAN", [y, g.constant("axes", np.array([1, 2], np.int32))],
                   g.tensor("m", (1, 1, 1, 4), "INT8", scale=0.25, zero_point=-128),
                   keep_dims=True)
    g.output(m)
    model = load_model(g.build())
    assert model.description == "hand made"
    assert model.inputs == (0,) and model.outputs == (m,)
    t = model.tensors[w]
    assert t.type_name == "INT8" and t.shape == (4, 2, 2, 3)
    assert np.array_equal(t.data, w_data)
    assert t.quantization.scales.tolist() == np.float32([0.1, 0.2, 0.3, 1e-5]).tolist()
    assert model.tensors[bias].data.tolist() == [1, -2, 3, -(1 << 31)]
    assert model.tensors[x].quantization.zero_points.tolist() == [3]
    conv, mean = model.operators
    assert conv.name == "CONV_2D" and conv.version == 3
    assert conv.options == {
        "padding": "VALID", "stride_w": 2, "stride_h": 2, "dilation_wfactor": 1,
        "dilation_hfactor": 1, "fused_activation_function": "RELU6", "quantized_bias_type": 0,
    }
    assert mean.name == "MEAN" and mean.options == {"keep_dims": True} and mean.version == 2
    # buffers are 16-byte aligned in the file
    for t in model.tensors:
        if t.is_constant:
            offset = t.data.__array_interface__["data"][0] - \
                np.frombuffer(model.content, np.uint8).__array_interface__["data"][0]
            assert offset % 16 == 0, t.name


@pytest.mark.parametrize("mutate, message", [
    (lambda md: setattr(md.operators[0], "options", {"no_such_option": 1}), "unknown option"),
    (lambda md: setattr(md.tensors[0], "type", "INT7"), "unknown type"),
    (lambda md: setattr(md.operators[0], "inputs", (99,)), "refers to tensor 99"),
    (lambda md: md.outputs.append(42), "not a tensor index"),
    (lambda md: setattr(md.operators[0], "name", "NO_SUCH_OP"), "unknown builtin"),
])
def test_writer_refuses_bad_descriptions(mutate, message):
    md = _quantize_chain().model_def()
    md.operators[0].options = {}
    mutate(md)
    with pytest.raises(ValueError, match=message):
        write_model(md)


def test_writer_refuses_constant_data_that_does_not_match():
    g = GraphBuilder()
    g.tensor("c", (2, 3), "INT8", data=np.zeros((3, 2), np.int8))
    with pytest.raises(ValueError, match="shape"):
        g.build()
    g = GraphBuilder()
    g.tensor("c", (2, 3), "INT8", data=np.zeros((2, 3), np.int32))
    with pytest.raises(ValueError, match="type"):
        g.build()


# -- property: any description survives write -> load -> describe ----------------------

_TYPES = {"INT8": np.int8, "UINT8": np.uint8, "INT32": np.int32, "FLOAT32": np.float32,
          "INT16": np.int16, "INT64": np.int64}


@st.composite
def model_defs(draw):
    n = draw(st.integers(1, 6))
    tensors = []
    for i in range(n):
        shape = tuple(draw(st.lists(st.integers(1, 4), min_size=0, max_size=4)))
        type_name = draw(st.sampled_from(sorted(_TYPES)))
        scales = zps = None
        qdim = 0
        if draw(st.booleans()):
            if shape and draw(st.booleans()):
                qdim = draw(st.integers(0, len(shape) - 1))
                k = shape[qdim]
            else:
                k = 1
            scales = tuple(draw(st.lists(st.floats(0.0009765625, 8, width=32),
                                         min_size=k, max_size=k)))
            zps = tuple(draw(st.lists(st.integers(-128, 255), min_size=k, max_size=k)))
        data = None
        if i > 0 and draw(st.booleans()):
            seed = draw(st.integers(0, 2**32 - 1))
            raw = np.random.default_rng(seed).integers(0, 256, int(np.prod(shape)) *
                                                       np.dtype(_TYPES[type_name]).itemsize,
                                                       dtype=np.uint8)
            data = raw.view(_TYPES[type_name]).reshape(shape)
            if type_name == "FLOAT32":
                data = np.nan_to_num(data)  # NaN payloads need not survive a copy
        sig = None
        if shape and data is None and draw(st.booleans()):
            sig = (-1,) + shape[1:]
        tensors.append(TensorDef(f"t{i}", shape, type_name, scales, zps, qdim, data, sig))
    # a chain of single-input operators over the non-constant tensors
    acts = [i for i, t in enumerate(tensors) if t.data is None]
    ops = []
    for a, b in zip(acts, acts[1:]):
        kind = draw(st.sampled_from(["SOFTMAX", "QUANTIZE", "MAX_POOL_2D", "CONCATENATION"]))
        options = {
            "SOFTMAX": lambda: {"beta": draw(st.floats(0.0078125, 8, width=32))},
            "QUANTIZE": lambda: {},
            "MAX_POOL_2D": lambda: {
                "padding": draw(st.sampled_from(["SAME", "VALID"])),
                "stride_w": draw(st.integers(1, 3)), "stride_h": draw(st.integers(1, 3)),
                "filter_width": draw(st.integers(1, 7)), "filter_height": draw(st.integers(1, 7)),
                "fused_activation_function": draw(
                    st.sampled_from(["NONE", "RELU", "RELU6", "RELU_N1_TO_1"])),
            },
            "CONCATENATION": lambda: {"axis": draw(st.integers(-4, 3)),
                                      "fused_activation_function": "NONE"},
        }[kind]()
        consts = [i for i, t in enumerate(tensors) if t.data is not None]
        extra = tuple(draw(st.lists(st.sampled_from(consts), max_size=2))) if consts else ()
        ops.append(OperatorDef(kind, (a,) + extra, (b,), options,
                               draw(st.integers(1, 3))))
    return ModelDef(tensors, ops, [acts[0]], [acts[-1]], description=draw(st.text(max_size=8)))


def _expected_options(op):
    full = {
        "SOFTMAX": {"beta": 1.0},
        "QUANTIZE": {},
        "MAX_POOL_2D": {"padding": "SAME", "stride_w": 0, "stride_h": 0, "filter_width": 0,
                        "filter_height": 0, "fused_activation_function": "NONE"},
        "CONCATENATION": {"axis": 0, "fused_activation_function": "NONE"},
    }[op.name]
    if not op.options:
        return {}
    out = dict(full)
    out.update(op.options)
    if "beta" in op.options:
        out["beta"] = float(np.float32(op.options["beta"]))
    return out


@given(model_defs())
def test_round_trip_random_descriptions(md):
    model = load_model(write_model(md))
    assert list(model.inputs) == md.inputs and list(model.outputs) == md.outputs
    assert model.description == md.description
    for t, d in zip(model.tensors, md.tensors, strict=True):
        assert t.name == d.name and t.shape == d.shape and t.type_name == d.type
        assert t.shape_signature == (d.shape_signature or d.shape)
        if d.scales is None:
            assert t.quantization.scales.size == 0
        else:
            assert t.quantization.scales.tolist() == np.float32(d.scales).tolist()
            assert t.quantization.zero_points.tolist() == list(d.zero_points)
            assert t.quantization.quantized_dimension == d.quantized_dimension
        if d.data is None:
            assert t.data is None
        else:
            assert t.data.dtype == d.data.dtype and t.data.tobytes() == d.data.tobytes()
    for op, d in zip(model.operators, md.operators, strict=True):
        assert (op.name, op.inputs, op.outputs, op.version) == \
            (d.name, d.inputs, d.outputs, d.version)
        assert op.options == _expected_options(d)
    # describing the loaded model and writing it again is a fixed point
    again = write_model(model_def(model))
    assert write_model(model_def(load_model(again))) == again


@pytest.mark.parametrize("spec", [
    SqueezeNetSpec("1.0", height=64, width=80, num_classes=10, bypass=True,
                   input_type="UINT8", output_type="FLOAT32", seed=3),
    SqueezeNetSpec("1.1", height=72, width=56, num_classes=7, batch_norm=True,
                   input_type="FLOAT32", output_type="UINT8", seed=4),
], ids=lambda s: s.name)
def test_written_networks_run_the_same_in_both_references(spec):
    """Every operator int8sqz supports, written by the writer, in both runtimes."""
    content = squeezenet(spec)
    x = spec.input_array(np.random.default_rng(5))
    want = run_reference(content, [x])[0]
    got = run_micro(content, [x])[0]
    assert got.dtype == want.dtype and np.array_equal(got, want)
    assert len(np.unique(want)) > 2
