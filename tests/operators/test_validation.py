"""The validation layer: the flatbuffer verifier, the loader's checks (as
TFLite's InterpreterBuilder makes them), and the models the fuzzer found
int8sqz accepting or mishandling, each a regression test.

Hostile models run in the fuzz worker subprocess (tests/fuzzing.py), and
where the test says so, in TFLite's reference kernels in their own worker:
int8sqz must refuse what the reference refuses."""

import struct

import numpy as np
import pytest

import fuzzing
from conftest import ROOT
from int8sqz import ModelError, UnsupportedError, load_model
from int8sqz.testing.writer import GraphBuilder, model_def, write_model
from int8sqz.verifier import verify_flatbuffer


@pytest.fixture(autouse=True, scope="module")
def _report(pytestconfig):
    fuzzing.register_report(pytestconfig)


def _seed(name="classifier"):
    return fuzzing.seeds()[name]


def _refused(content, *match, reference=True, error="ModelError"):
    """int8sqz refuses ``content`` with ``error`` whose message contains each
    of ``match``, in one line; with ``reference``, TFLite refuses it too."""
    r = fuzzing.outcome(content, reference=reference)
    assert r["status"] == "refused", r
    assert r["error"] == error, r
    assert "\n" not in r["message"]
    for m in match:
        assert m in r["message"], r["message"]
    if reference:
        assert r["reference"]["status"] != "ok", r["reference"]
    return r


# -- the schema ------------------------------------------------------------------------

def test_schema_table_matches_the_installed_tflite_package():
    generated = fuzzing.schema_source()
    committed = (ROOT / "int8sqz" / "_tflite_schema.py").read_text()
    assert committed == generated, (
        "int8sqz/_tflite_schema.py is out of date: python tests/fuzzing.py schema "
        "> int8sqz/_tflite_schema.py")


def test_every_seed_model_verifies_and_walks():
    for name, content in fuzzing.seeds().items():
        verify_flatbuffer(content, name)
        sites, data = fuzzing.walk(content)
        assert sites and all(0 <= s.pos < len(content) for s in sites)


# -- the flatbuffer verifier (fuzz finding: fields int8sqz does not read were not
#    checked; TFLite's verifier refuses these files, int8sqz ran them) -------------------

@pytest.mark.parametrize("label, value, what", [
    # a tensor name whose length runs past the end of the file
    ("model.subgraphs[0].tensors[2].name.<length>", 944750297, "tensors[2].name"),
    # the Model's vtable grown over the bytes after it
    ("model.<vtable size>", 128, "model"),
    # an odd vtable size
    ("model.<vtable size>", 15, "odd size 15"),
    # an offset to the description that points nowhere
    ("model.description.<offset>", 0x7FFFFFF0, "model.description"),
    # an offset that is backwards (negative as a signed offset)
    ("model.subgraphs[0].operators[1].<offset>", 0xFFFFFF00, "operators[1]"),
    # a string without its terminating zero (the length covers it)
    ("model.subgraphs[0].name.<length>", 3, "terminating zero"),
])
def test_verifier_refuses_corrupt_structure(label, value, what):
    content = fuzzing.patched(_seed(), label, value)
    with pytest.raises(ModelError, match="not a valid TFLite flatbuffer") as info:
        load_model(content)
    assert what in str(info.value)
    _refused(content, "not a valid TFLite flatbuffer")


def test_verifier_refuses_misaligned_fields():
    # move the subgraph's vtable offset so that the table starts 2 bytes off
    content = bytearray(_seed())
    site = fuzzing.find_site(bytes(content), "model.subgraphs[0].<offset>")
    struct.pack_into("<I", content, site.pos, struct.unpack_from("<I", content, site.pos)[0] + 2)
    with pytest.raises(ModelError, match="not aligned"):
        verify_flatbuffer(bytes(content), "m")


def test_verifier_refuses_deep_nesting_and_tiny_files():
    with pytest.raises(ModelError, match="too short"):
        verify_flatbuffer(b"\x08\x00\x00\x00TFL3", "m")
    with pytest.raises(ModelError, match="not a forward offset"):
        verify_flatbuffer(b"\x00\x00\x00\x00TFL3" + bytes(8), "m")


def test_vectors_too_long_for_a_flatbuffer_are_refused():
    content = fuzzing.patched(_seed(), "model.subgraphs[0].tensors[0].shape.<length>", 0x7FFFFFFF)
    with pytest.raises(ModelError, match="larger than a flatbuffer can be|past the end"):
        load_model(content)


# -- quantization parameters, as TFLite's ParseQuantization ------------------------------

def _one_tensor_model(scale=0.1, zero_point=0, qdim=0, shape=(1, 4)):
    g = GraphBuilder()
    x = g.input("x", shape, "INT8", scale=0.1, zero_point=0)
    y = g.tensor("y", shape, "INT8", scale=scale, zero_point=zero_point,
                 quantized_dimension=qdim)
    g.operator("QUANTIZE", [x], y)
    g.output(y)
    return g.model_def()


def test_scales_without_zero_points_are_refused():
    # fuzz finding: the loader filled in zeros; TFLite refuses the tensor
    md = _one_tensor_model()
    content = write_model(md)
    content = fuzzing.patched(
        content, "model.subgraphs[0].tensors[1].quantization.<vtable zero_point>", 0)
    _refused(content, "no zero points")


def test_scale_and_zero_point_counts_must_agree():
    content = fuzzing.patched(
        write_model(_one_tensor_model()),
        "model.subgraphs[0].tensors[1].quantization.zero_point.<length>", 0)
    _refused(content, "1 quantization scales and 0 zero points")


def test_zero_points_without_scales_mean_no_quantization():
    content = fuzzing.patched(
        write_model(_one_tensor_model(zero_point=5)),
        "model.subgraphs[0].tensors[1].quantization.<vtable scale>", 0)
    m = load_model(content)
    assert m.tensors[1].quantization.scales.size == 0
    assert m.tensors[1].quantization.zero_points.size == 0


@pytest.mark.parametrize("qdim", [2, 7, -1])
def test_per_tensor_quantized_dimension_must_be_in_the_shape(qdim):
    # fuzz finding: only per-channel tensors had their dimension checked
    content = write_model(_one_tensor_model(qdim=qdim))
    _refused(content, f"quantized along dimension {qdim}")


def test_scalar_may_name_any_quantized_dimension():
    m = load_model(write_model(_one_tensor_model(qdim=3, shape=())))
    assert m.tensors[1].quantization.quantized_dimension == 3


# -- tensors and buffers ----------------------------------------------------------------

def test_buffer_zero_never_holds_constant_data():
    # TFLite reads no data from buffer 0 (the sentinel) even when it has some
    md = _one_tensor_model()
    content = write_model(md)
    m = load_model(content)
    assert m.tensors[0].buffer == 0 and not m.tensors[0].is_constant


def test_variable_tensor_with_data_is_refused():
    g = GraphBuilder()
    x = g.input("x", (4,), "INT8", scale=0.1, zero_point=0)
    c = g.constant("c", np.arange(4, dtype=np.int8), scale=0.1, zero_point=0)
    y = g.tensor("y", (4,), "INT8", scale=0.1, zero_point=0)
    g.operator("ADD", [x, c], y)
    g.output(y)
    md = g.model_def()
    md.tensors[c].is_variable = True
    _refused(write_model(md), "variable tensor with constant data")


def test_tensor_sizes_must_fit_64_bits_and_ranks_numpy():
    md = _one_tensor_model()
    md.tensors[0].shape = md.tensors[1].shape = (0, 1 << 30, 1 << 30, 1 << 30)
    with pytest.raises(ModelError, match="overflows 64 bits"):
        load_model(write_model(md))
    md = _one_tensor_model(shape=(1,) * 65)
    with pytest.raises(UnsupportedError, match="at most 64"):
        load_model(write_model(md))


def _tiny_model(external_buffer=0, details_type=0, tensors=True, buffers=True):
    """One int8 tensor, graph input and output, written field by field so that
    it can carry fields of newer schemas than the tflite package's: the
    tensor's external_buffer (field 10) and blockwise quantization details."""
    import flatbuffers
    import tflite

    with_tensors, with_buffers = tensors, buffers
    b = flatbuffers.Builder(256)
    details = None
    if details_type:
        b.StartObject(3)  # BlockwiseQuantization {scales, zero_points, block_size}
        b.PrependInt32Slot(0, 0, -1)
        b.PrependInt32Slot(2, 32, 0)
        details = b.EndObject()
    scales = b.CreateNumpyVector(np.float32([0.1]))
    zps = b.CreateNumpyVector(np.int64([0]))
    tflite.QuantizationParametersStart(b)
    tflite.QuantizationParametersAddScale(b, scales)
    tflite.QuantizationParametersAddZeroPoint(b, zps)
    if details is not None:
        tflite.QuantizationParametersAddDetailsType(b, details_type)
        tflite.QuantizationParametersAddDetails(b, details)
    quant = tflite.QuantizationParametersEnd(b)
    shape = b.CreateNumpyVector(np.int32([4]))
    name = b.CreateString("t")
    b.StartObject(11)
    b.PrependUOffsetTRelativeSlot(0, shape, 0)
    b.PrependInt8Slot(1, tflite.TensorType.INT8, 0)
    b.PrependUOffsetTRelativeSlot(3, name, 0)
    b.PrependUOffsetTRelativeSlot(4, quant, 0)
    b.PrependUint32Slot(10, external_buffer, 0)
    tensor = b.EndObject()
    tflite.SubGraphStartTensorsVector(b, 1)
    b.PrependUOffsetTRelative(tensor)
    tensors = b.EndVector()
    io = b.CreateNumpyVector(np.int32([0]))
    tflite.SubGraphStart(b)
    if with_tensors:
        tflite.SubGraphAddTensors(b, tensors)
    tflite.SubGraphAddInputs(b, io)
    tflite.SubGraphAddOutputs(b, io)
    graph = tflite.SubGraphEnd(b)
    tflite.BufferStart(b)
    buf = tflite.BufferEnd(b)
    tflite.ModelStartBuffersVector(b, 1)
    b.PrependUOffsetTRelative(buf)
    buffers = b.EndVector()
    tflite.ModelStartSubgraphsVector(b, 1)
    b.PrependUOffsetTRelative(graph)
    graphs = b.EndVector()
    tflite.ModelStart(b)
    tflite.ModelAddVersion(b, 3)
    tflite.ModelAddSubgraphs(b, graphs)
    if with_buffers:
        tflite.ModelAddBuffers(b, buffers)
    b.Finish(tflite.ModelEnd(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def test_external_buffers_and_blockwise_quantization_are_unsupported():
    # fields of newer schemas than the tflite package's: int8sqz would read
    # such a tensor as an activation, or its scales as affine ones
    assert load_model(_tiny_model()).tensors[0].quantization.scale == np.float32(0.1)
    with pytest.raises(UnsupportedError, match="external buffer"):
        load_model(_tiny_model(external_buffer=1))
    with pytest.raises(UnsupportedError, match="quantization details of type 2"):
        load_model(_tiny_model(details_type=2))
    # the verifier knows the newer tables: a corrupt blockwise table is refused
    content = bytearray(_tiny_model(details_type=2))
    m = fuzzing.walk(bytes(content))[0]
    details = [s for s in m if s.label.endswith("quantization.details.<offset>")][0]
    struct.pack_into("<I", content, details.pos, 0x7FFFFFF0)
    with pytest.raises(ModelError, match="not a valid TFLite flatbuffer"):
        load_model(bytes(content))


def test_model_without_buffers_or_subgraph_without_tensors_is_refused():
    # fuzz finding: a subgraph whose vtable offset was changed read as one
    # without tensors, which TFLite refuses and int8sqz ran
    _refused(_tiny_model(buffers=False), "no buffers vector")
    _refused(_tiny_model(tensors=False), "no tensors vector")


# -- operators --------------------------------------------------------------------------

@pytest.mark.parametrize("version", [0, -128])
def test_operator_versions_below_one_are_refused(version):
    # fuzz finding: TFLite registers no such version; int8sqz ran the model
    md = model_def(load_model(_seed()))
    md.operators[0].version = version
    _refused(write_model(md), f"version {version}")


def test_higher_operator_versions_run_as_documented():
    # the reference registers no CONV_2D version 16; int8sqz checks the
    # features (types, options) instead of the number: same outputs as version 3
    md = model_def(load_model(_seed("conv_per_channel")))
    base = fuzzing.outcome(write_model(md))
    md.operators[0].version = 16
    r = fuzzing.outcome(write_model(md), reference=True)
    assert r["status"] == "ok" and r["outputs"][0][2] == base["outputs"][0][2]
    assert fuzzing.explain_reference_refusal(r, r["reference"]) is not None


def test_invalid_quantized_bias_type_is_refused():
    # fuzz finding: TFLite's option parser refuses an unknown type code
    md = model_def(load_model(_seed("conv_grouped")))
    md.operators[0].options["quantized_bias_type"] = -69
    _refused(write_model(md), "quantized_bias_type is -69")


# -- the command line -------------------------------------------------------------------

def test_cli_refuses_a_model_whose_input_is_a_constant():
    # fuzz finding: `int8sqz run` exited 1 ("internal error") on it
    md = model_def(load_model(_seed()))
    t = md.tensors[md.inputs[0]]
    t.data = np.zeros(t.shape, np.uint8)
    r = fuzzing.outcome(write_model(md), cli=True)
    assert r["cli"]["code"] == 2, r["cli"]
    assert "is a constant" in r["cli"]["stderr"] and r["cli"]["stderr"].count("\n") == 1


def test_cli_reports_a_softmax_tflite_would_abort_on_as_a_bad_input():
    # 600 equal logits: the exponentials sum past 512, where TFLite's reference
    # softmax aborts; int8sqz raised InterpreterError and the command called it
    # an internal error (exit 1)
    g = GraphBuilder()
    x = g.input("x", (1, 2, 2, 3), "UINT8", scale=1 / 255, zero_point=0)
    axes = g.constant("axes", np.array([1, 2, 3], np.int32))
    m = g.tensor("m", (1,), "UINT8", scale=1 / 255, zero_point=0)
    g.operator("MEAN", [x, axes], m, keep_dims=False)
    zeros = g.constant("zeros", np.zeros((1, 600), np.uint8), scale=1 / 255, zero_point=0)
    logits = g.tensor("logits", (1, 600), "UINT8", scale=2 / 255, zero_point=0)
    g.operator("ADD", [m, zeros], logits)
    y = g.tensor("y", (1, 600), "UINT8", scale=1 / 256, zero_point=0)
    g.operator("SOFTMAX", [logits], y, beta=1.0)
    g.output(y)
    r = fuzzing.outcome(g.build(), cli=True)
    assert r["status"] == "refused" and "SOFTMAX" in r["message"], r
    assert r["cli"]["code"] == 2, r["cli"]
    lines = r["cli"]["stderr"].splitlines()
    assert len(lines) == 1 and lines[0].startswith("int8sqz: error: ") and "SOFTMAX" in lines[0]
    assert "cli_image.png: " in lines[0]


def test_cli_activation_limit(capsys, seed_models):
    from int8sqz import cli
    from conftest import IMAGES_DIR

    photo = sorted((IMAGES_DIR / "flowers" / "daisy").glob("*.jpg"))[0]
    code = cli.main(["run", "--max-activation-bytes", "100000", str(seed_models["flowers"]),
                     str(photo)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "max_activation_bytes" in err, err


def test_activation_limit_is_checked_before_an_operator_allocates():
    # fuzz finding: MAX_POOL_2D allocated its row buffer (here 128 GiB) in
    # prepare, before the interpreter compared the activations with the limit
    g = GraphBuilder()
    w = (1 << 31) - 1
    x = g.input("x", (1, 1, w, 16), "INT8", scale=0.1, zero_point=0)
    y = g.tensor("y", (1, 1, w, 16), "INT8", scale=0.1, zero_point=0)
    g.operator("MAX_POOL_2D", [x], y, padding="SAME", stride_h=1, stride_w=1,
               filter_height=1, filter_width=1)
    g.output(y)
    r = fuzzing.outcome(g.build(), limit=1 << 30)
    assert r["status"] == "refused" and "max_activation_bytes" in r["message"], r


def test_memory_error_in_prepare_is_a_model_error(monkeypatch):
    import dataclasses

    from int8sqz import Interpreter
    from int8sqz.ops import REGISTRY

    def greedy(op, ctx):
        raise MemoryError

    monkeypatch.setitem(REGISTRY, "QUANTIZE", dataclasses.replace(REGISTRY["QUANTIZE"],
                                                                  prepare=greedy))
    with pytest.raises(ModelError, match=r"operator 0 \(QUANTIZE\).*more memory"):
        Interpreter(model_content=write_model(_one_tensor_model()))


def test_signature_def_without_key_is_refused():
    # fuzz finding: flowers with bit 2 of byte 72 flipped loses its signature
    # key; TFLite refuses the model ("Missing exported method name"), int8sqz ran it
    content = bytearray(_seed("flowers"))
    content[72] ^= 4
    _refused(bytes(content), "signature def 0 has no signature key")


def test_options_of_another_operator_type_read_as_none():
    # MUL with a fused RELU, its operator code changed to ADD: TFLite's ADD
    # reads only AddOptions, finds none and applies no activation; int8sqz
    # took the MulOptions' RELU
    g = GraphBuilder()
    a = g.input("a", (2, 8), "INT8", scale=0.05, zero_point=3)
    b = g.input("b", (2, 8), "INT8", scale=0.04, zero_point=-2)
    y = g.tensor("y", (2, 8), "INT8", scale=0.06, zero_point=10)
    g.operator("MUL", [a, b], y, fused_activation_function="RELU")
    g.output(y)
    content = g.build()
    for field in ("builtin_code", "deprecated_builtin_code"):
        content = fuzzing.patched(content, f"model.operator_codes[0].{field}", 0)  # ADD
    m = load_model(content)
    assert m.operators[0].name == "ADD" and m.operators[0].options == {}
    for seed in range(3):
        case = fuzzing.Case("regression", content, "MUL options under ADD", input_seed=seed)
        assert fuzzing.check(case) == "equal"


# -- pools ------------------------------------------------------------------------------

def _pool(op, in_shape, filt, out_shape, padding="SAME"):
    g = GraphBuilder()
    x = g.input("x", in_shape, "INT8", scale=0.1, zero_point=0)
    y = g.tensor("y", out_shape, "INT8", scale=0.1, zero_point=0)
    g.operator(op, [x], y, padding=padding, stride_h=1, stride_w=1, filter_height=filt[0],
               filter_width=filt[1])
    g.output(y)
    return g.build()


@pytest.mark.parametrize("op", ["MAX_POOL_2D", "AVERAGE_POOL_2D"])
def test_pool_padding_beyond_int16_is_refused_as_tflite_does(op):
    # found probing the reference: it refuses to prepare a pool whose padding
    # exceeds 32767 (filter 65537 on 3 columns, SAME); int8sqz ran it
    ok = _pool(op, (1, 2, 3, 1), (1, 65536), (1, 2, 3, 1))
    assert fuzzing.check(fuzzing.Case("regression", ok, "pool padding 32767")) == "equal"
    for filt in ((1, 65537), (65537, 1)):
        _refused(_pool(op, (1, 3, 3, 1), filt, (1, 3, 3, 1)), "more than 32767")


# -- variable tensors -------------------------------------------------------------------

def test_variable_activation_is_unsupported():
    # fuzz finding: an activation of flowers marked is_variable; TFLite's
    # reference crashed (SIGSEGV), int8sqz ran it as an ordinary activation
    md = model_def(load_model(_seed("flowers")))
    md.tensors[94].is_variable = True
    r = fuzzing.outcome(write_model(md))
    assert r["status"] == "refused" and r["error"] == "UnsupportedError", r
    assert "variable tensor" in r["message"]


# -- CONV_2D: what TFLite's conv Prepare refuses -----------------------------------------

def _conv(in_shape, filter_shape, out_shape, padding="SAME", **options):
    g = GraphBuilder()
    x = g.input("x", in_shape, "INT8", scale=0.1, zero_point=0)
    w = g.constant("w", np.ones(filter_shape, np.int8), scale=0.1)
    b = g.constant("b", np.zeros(filter_shape[0], np.int32), scale=0.01)
    y = g.tensor("y", out_shape, "INT8", scale=0.1, zero_point=0)
    g.operator("CONV_2D", [x, w, b], y, padding=padding, **options)
    g.output(y)
    return g.build()


def test_conv_with_zero_input_channels_is_refused():
    # fuzz finding (hostile shape): ZeroDivisionError escaped the API, the
    # command exited 1; TFLite refuses (input_channel > 0)
    r = fuzzing.outcome(_conv((1, 3, 3, 0), (2, 1, 1, 1), (1, 3, 3, 2)))
    assert r["status"] == "refused", r


@pytest.mark.parametrize("in_shape, filter_shape, out_shape, padding, options", [
    ((1, 0, 3, 2), (2, 1, 1, 2), (1, 0, 3, 2), "SAME", {}),  # input height 0
    ((1, 3, 0, 2), (2, 1, 1, 2), (1, 3, 0, 2), "VALID", {}),  # input width 0
    ((1, 3, 3, 2), (2, 0, 1, 2), (1, 0, 3, 2), "SAME", {}),  # filter height 0
    ((1, 3, 3, 2), (0, 1, 1, 2), (1, 3, 3, 0), "SAME", {}),  # no output channels
    ((1, 3, 3, 2), (2, 1, 1, 2), (1, 3, 1, 2), "SAME", {"stride_w": 40000}),
    ((1, 3, 3, 2), (2, 1, 2, 2), (1, 3, 3, 2), "SAME", {"dilation_wfactor": 40000}),
    ((1, 3, 3, 2), (2, 5, 5, 2), (1, 0, 0, 2), "VALID", {}),  # window larger than input
])
def test_conv_refuses_what_tflite_prepare_refuses(in_shape, filter_shape, out_shape, padding,
                                                  options):
    _refused(_conv(in_shape, filter_shape, out_shape, padding, **options))


# -- operator codes ---------------------------------------------------------------------

def test_builtin_code_is_the_larger_of_the_two_fields():
    # fuzz finding (mul_uint8, bit 0 of byte 255 flipped: the builtin_code
    # field moved onto the value 97): TFLite reads RESIZE_NEAREST_NEIGHBOR
    # (max(97, 18)); the tflite package's accessor returns the deprecated
    # field below 127, so int8sqz read MUL and ran the model
    content = bytearray(fuzzing.seeds()["mul_uint8"])
    content[255] ^= 1
    r = fuzzing.outcome(bytes(content))
    assert r["status"] == "refused" and "RESIZE_NEAREST_NEIGHBOR" in r["message"], r
    content = fuzzing.patched(fuzzing.seeds()["mul_uint8"],
                              "model.operator_codes[0].builtin_code", 97)
    assert load_model(content).operators[0].name == "RESIZE_NEAREST_NEIGHBOR"


# -- requantization shifts --------------------------------------------------------------

def _requantize(out_scale):
    g = GraphBuilder()
    x = g.input("x", (2, 5), "UINT8", scale=1.0, zero_point=100)
    y = g.tensor("y", (2, 5), "INT8", scale=out_scale, zero_point=3)
    g.operator("QUANTIZE", [x], y)
    g.output(y)
    return g.build()


def _mean(out_scale):
    g = GraphBuilder()
    x = g.input("x", (2, 4), "INT8", scale=1.0, zero_point=1)
    a = g.constant("a", np.array([1], np.int32))
    y = g.tensor("y", (2,), "INT8", scale=out_scale, zero_point=0)
    g.operator("MEAN", [x, a], y, keep_dims=False)
    g.output(y)
    return g.build()


@pytest.mark.parametrize("build, shift30, shift31", [
    (_requantize, 2.0 ** -29.5, 2.0 ** -30.5),
    (_mean, 2.0 ** -31.5, 2.0 ** -32.5),  # the mean folds 1/4 into the shift
])
def test_left_shifts_beyond_30_are_unsupported(build, shift30, shift31):
    # fuzz finding: an output scale of 1e-12 gave integers other than TFLite's,
    # whose x * (1 << shift) is undefined beyond 30 (as MUL already refused)
    for seed in range(3):
        case = fuzzing.Case("regression", build(shift30), "left shift 30", input_seed=seed)
        assert fuzzing.check(case) == "equal"
    r = fuzzing.outcome(build(shift31))
    assert r["status"] == "refused" and r["error"] == "UnsupportedError", r
    assert "left shift of 31" in r["message"]


def test_conv_left_shift_beyond_30_is_unsupported():
    # fuzz finding (conv_grouped, output scale 1e-45): int8sqz wrote 0 where
    # the reference wrote 127; TFLite's result is undefined there
    md = model_def(load_model(fuzzing.seeds()["conv_grouped"]))
    md.tensors[3].scales = (1e-45,)
    r = fuzzing.outcome(write_model(md))
    assert r["status"] == "refused" and r["error"] == "UnsupportedError", r


# -- zero points ------------------------------------------------------------------------

def test_concatenation_refuses_a_zero_point_out_of_range():
    # fuzz finding: uint8 output zero point 2**31; TFLite wraps it to int32
    # and wrote 0 where int8sqz wrote 255. A zero point must lie in its type.
    md = model_def(load_model(fuzzing.seeds()["concat_uint8"]))
    md.tensors[2].zero_points = (1 << 31,)
    r = fuzzing.outcome(write_model(md))
    assert r["status"] == "refused" and "zero point 2147483648" in r["message"], r


# -- the memory planner -------------------------------------------------------------------

def test_memplan_of_huge_declared_tensors_is_not_out_of_memory():
    # fuzz finding: `int8sqz memplan` on a model whose input declares
    # 2**31 - 1 rows exits 1 ("out of memory"); expected a plan or exit 2
    md = model_def(load_model(fuzzing.seeds()["quantize_chain"]))
    for i in (0, 1, 2, 3):
        md.tensors[i].shape = ((1 << 31) - 1, 3, 4)
    r = fuzzing.outcome(write_model(md), cli=True)
    assert r["cli"]["memplan"]["code"] in (0, 2), r["cli"]["memplan"]


def test_an_empty_data_vector_is_data():
    # long-run fuzz finding: the weights' data vector cut to length 0 made
    # int8sqz read the tensor as an activation; TFLite takes the (empty)
    # vector as its data and refuses a 108-byte tensor on it
    content = fuzzing.patched(fuzzing.seeds()["conv_per_channel"],
                              "model.buffers[1].data.<length>", 0)
    _refused(content, "buffer 1 holds 0 bytes, expected 108")


# -- SUB, MAXIMUM, RELU6, LOGISTIC, REDUCE_MAX, RESIZE_BILINEAR: hostile quantizations
#    and sizes, refused where TFLite refuses, aborts or leaves the result undefined ---------

def _one_op(op, inputs, out, constants=(), **options):
    """A one-operator model: ``inputs`` and ``out`` are (shape, type, scale,
    zero point) (scale None: no quantization); ``constants`` are (position,
    array) put in as constant inputs."""
    g = GraphBuilder()
    consts = dict(constants)
    ids = []
    for k, (shape, type_name, scale, zp) in enumerate(inputs):
        quant = {} if scale is None else dict(scale=scale, zero_point=zp)
        if k in consts:
            ids.append(g.constant(f"c{k}", consts[k], type_name, **quant))
        else:
            ids.append(g.input(f"x{k}", shape, type_name, **quant))
    shape, type_name, scale, zp = out
    quant = {} if scale is None else dict(scale=scale, zero_point=zp)
    y = g.tensor("y", shape, type_name, **quant)
    g.operator(op, ids, y, **options)
    g.output(y)
    return g.build()


def _sub(out_scale):
    return _one_op("SUB", [((4,), "INT8", 1.0, 0)] * 2, ((4,), "INT8", out_scale, 0))


def test_sub_output_multiplier_above_one_is_unsupported():
    # found reading sub.cc: the reference prepares it (QuantizeMultiplierGreaterThanOne)
    # and runs it, but its kernel divides by a negative power of two (undefined in
    # C++): it wrote +-1 for every element
    r = fuzzing.outcome(_sub(1e-6), reference=True)
    assert r["status"] == "refused" and r["error"] == "UnsupportedError", r
    assert "more than 1" in r["message"]
    assert r["reference"]["status"] == "ok"


def test_sub_output_multiplier_of_one_aborts_tflite_and_is_refused():
    _refused(_sub(2.0 / 2**20), "outside (0, 1)")  # QuantizeMultiplierSmallerThanOneExp aborts


def test_resize_bilinear_int8_past_the_input_is_unsupported():
    # found reading ResizeBilinearInteger: 1 row resized to 62 takes source row 1 for
    # the last output row; the reference returns whatever memory follows (34, 1, 1 on
    # three runs here), so no reference output exists
    content = _one_op("RESIZE_BILINEAR", [((1, 1, 1, 1), "INT8", 0.1, 0), ((2,), "INT32", None, 0)],
                      ((1, 62, 1, 1), "INT8", 0.1, 0), [(1, np.array([62, 1], np.int32))])
    r = fuzzing.outcome(content, reference=True)
    assert r["status"] == "refused" and r["error"] == "UnsupportedError", r
    assert "reads outside the input" in r["message"]


@pytest.mark.parametrize("size", [(1 << 31) - 1, 1 << 20])
def test_resize_bilinear_huge_sizes_are_refused_without_allocating(size):
    content = _one_op("RESIZE_BILINEAR", [((1, 2, 2, 3), "UINT8", 0.1, 0),
                                          ((2,), "INT32", None, 0)],
                      ((1, size, size, 3), "UINT8", 0.1, 0), [(1, np.array([size, size], np.int32))])
    r = fuzzing.outcome(content)
    assert r["status"] == "refused", r


@pytest.mark.parametrize("options, size", [
    (dict(align_corners=True, half_pixel_centers=True), (4, 4)),
    ({}, (0, 4)),
    ({}, (4, -7)),
])
def test_resize_bilinear_refuses_what_tflite_prepare_refuses(options, size):
    content = _one_op("RESIZE_BILINEAR", [((1, 2, 2, 1), "INT8", 0.1, 0), ((2,), "INT32", None, 0)],
                      ((1, 4, 4, 1), "INT8", 0.1, 0), [(1, np.array(size, np.int32))], **options)
    _refused(content)


def test_maximum_broadcast_beyond_rank_8_is_refused():
    # shapes written differently take TFLite's broadcast loop, which aborts above rank 8
    a = ((1,) * 8 + (3,), "INT8", 0.1, 0)
    content = _one_op("MAXIMUM", [a, ((3,), "INT8", 0.1, 0)], a)
    r = _refused(content, "at most 8", error="UnsupportedError")
    assert r["reference"]["status"] == "crashed"


@pytest.mark.parametrize("scale", [1e-9, 2.0 ** -40])
def test_relu6_bound_beyond_int32_is_unsupported(scale):
    content = _one_op("RELU6", [((4,), "INT8", scale, 0)], ((4,), "INT8", scale, 0))
    r = fuzzing.outcome(content)
    assert r["status"] == "refused" and r["error"] == "UnsupportedError", r


@pytest.mark.parametrize("scale, zp", [(1.0 / 255, -128), (0.0, -128), (float("nan"), -128)])
def test_logistic_output_scale_other_than_one_256th_is_refused(scale, zp):
    content = _one_op("LOGISTIC", [((4,), "INT8", 0.1, 0)], ((4,), "INT8", scale, zp))
    _refused(content)


@pytest.mark.parametrize("out_q, axes", [((0.2, 0), [1]), ((0.1, 1), [1]),
                                         ((float("nan"), 0), [1]), ((0.1, 0), [5])])
def test_reduce_max_refuses_what_tflite_refuses(out_q, axes):
    content = _one_op("REDUCE_MAX", [((2, 3), "INT8", 0.1, 0), ((1,), "INT32", None, 0)],
                      ((2,), "INT8", *out_q), [(1, np.array(axes, np.int32))])
    _refused(content)
