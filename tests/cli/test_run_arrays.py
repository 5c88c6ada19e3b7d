"""`int8sqz run` beyond photos (issue 10, item 3): inputs given as .npy
(one array, with or without its batch axis) or .npz (one array per input, by
name or by position), converted only when every value stays the same;
channels-first image models fed the image in their layout; outputs that are
not one class vector printed as named arrays, and a sigmoid's one value as
the probability of the positive class. Every value printed is compared with
TFLite's reference kernels (BUILTIN_REF) on the same inputs.

The models are written with int8sqz's writer from the operators int8sqz
runs; the real zoo models (../shared/models/zoo) run too, each test skipped
only while int8sqz refuses one of its operators (UnsupportedError, named in
the skip reason)."""

import io
import json
import zipfile

import numpy as np
import pytest
from conftest import IMAGES_DIR, MODELS_DIR, SEED_MODELS

from int8sqz import cli
from int8sqz.errors import InputError, UnsupportedError
from int8sqz.image import load_image
from int8sqz.inputs import load_arrays
from int8sqz.model import load_model
from int8sqz.testing.reference import registered_versions, run_reference
from int8sqz.testing.writer import GraphBuilder

import cli_process

ZOO = MODELS_DIR / "zoo"
PHOTO = sorted((IMAGES_DIR / "flowers" / "roses").glob("*.jpg"))[0]


def _run(capsys, *args):
    status = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return status, out, err


def _records(out):
    return [json.loads(line) for line in out.splitlines()]


def _float32_list(a):
    return [float(str(v)) for v in np.asarray(a, np.float32).reshape(-1)]


# -- models ----------------------------------------------------------------------------

def _accelerometer(path):
    """Like the zoo's HAR models: float32 [1, 24, 3, 1] accelerometer
    windows, QUANTIZE, CONV_2D, MEAN, DEQUANTIZE: 4 float32 class scores."""
    g = GraphBuilder()
    x = g.input("window", (1, 24, 3, 1), "FLOAT32")
    q = g.tensor("q", (1, 24, 3, 1), "INT8", scale=0.05, zero_point=-3)
    g.operator("QUANTIZE", [x], q)
    rng = np.random.default_rng(10)
    w = g.constant("w", rng.integers(-90, 90, (4, 3, 3, 1)).astype(np.int8), "INT8",
                   scale=[0.01, 0.02, 0.015, 0.012], zero_point=0, quantized_dimension=0)
    b = g.constant("b", rng.integers(-500, 500, 4).astype(np.int32), "INT32",
                   scale=[0.05 * s for s in (0.01, 0.02, 0.015, 0.012)], zero_point=0)
    c = g.tensor("c", (1, 22, 1, 4), "INT8", scale=0.04, zero_point=5)
    g.operator("CONV_2D", [q, w, b], c, padding="VALID", stride_h=1, stride_w=1,
               fused_activation_function="NONE")
    axes = g.constant("axes", np.array([1, 2], np.int32))
    m = g.tensor("m", (1, 4), "INT8", scale=0.04, zero_point=5)
    g.operator("MEAN", [c, axes], m, keep_dims=False)
    y = g.tensor("scores", (1, 4), "FLOAT32")
    g.operator("DEQUANTIZE", [m], y)
    g.output(y)
    path.write_bytes(g.build())
    return path


def _two_inputs(path):
    """ADD of two int8 [1, 2, 3] inputs: one [1, 2, 3] output (not a class
    vector: named arrays)."""
    g = GraphBuilder()
    a = g.input("left", (1, 2, 3), "INT8", scale=0.1, zero_point=2)
    b = g.input("right", (1, 2, 3), "INT8", scale=0.05, zero_point=-4)
    y = g.tensor("sum", (1, 2, 3), "INT8", scale=0.12, zero_point=1)
    g.operator("ADD", [a, b], y)
    g.output(y)
    path.write_bytes(g.build())
    return path


def _sigmoid_score(path):
    """One float32 value through an int8 tensor quantized as TFLite
    quantizes every LOGISTIC output (scale 1/256, zero point -128): the
    probability of the positive class."""
    g = GraphBuilder()
    x = g.input("features", (1, 8), "FLOAT32")
    q = g.tensor("q", (1, 8), "INT8", scale=1 / 256, zero_point=-128)
    g.operator("QUANTIZE", [x], q)
    axes = g.constant("axes", np.array([1], np.int32))
    m = g.tensor("p_q", (1, 1), "INT8", scale=1 / 256, zero_point=-128)
    g.operator("MEAN", [q, axes], m, keep_dims=True)
    y = g.tensor("p", (1, 1), "FLOAT32")
    g.operator("DEQUANTIZE", [m], y)
    g.output(y)
    path.write_bytes(g.build())
    return path


def _three_outputs(path):
    """An int8 [1, 4, 4, 2] input; three outputs: a max pool, an average
    pool and the channel means."""
    g = GraphBuilder()
    x = g.input("image", (1, 4, 4, 2), "INT8", scale=0.1, zero_point=0)
    mx = g.tensor("max", (1, 2, 2, 2), "INT8", scale=0.1, zero_point=0)
    g.operator("MAX_POOL_2D", [x], mx, padding="VALID", stride_h=2, stride_w=2,
               filter_height=2, filter_width=2)
    av = g.tensor("average", (1, 2, 2, 2), "INT8", scale=0.1, zero_point=0)
    g.operator("AVERAGE_POOL_2D", [x], av, padding="VALID", stride_h=2, stride_w=2,
               filter_height=2, filter_width=2)
    axes = g.constant("axes", np.array([1, 2], np.int32))
    mean = g.tensor("mean", (1, 2), "INT8", scale=0.1, zero_point=0)
    g.operator("MEAN", [x, axes], mean, keep_dims=False)
    g.output(mx, av, mean)
    path.write_bytes(g.build())
    return path


def _channels_first(path, type_name="UINT8"):
    """A [1, 3, 8, 8] image input (PyTorch's layout): the class scores are
    the mean of each colour plane, so a photo fed in the wrong layout gives
    other scores."""
    g = GraphBuilder()
    if type_name == "FLOAT32":  # pixels 0.0..255.0, quantized first
        f = g.input("image", (1, 3, 8, 8), "FLOAT32")
        x = g.tensor("q", (1, 3, 8, 8), "INT8", scale=1.0, zero_point=-128)
        g.operator("QUANTIZE", [f], x)
        zp, out_type = -128, "INT8"
    else:
        x = g.input("image", (1, 3, 8, 8), type_name, scale=1.0, zero_point=0)
        zp, out_type = 0, type_name
    axes = g.constant("axes", np.array([2, 3], np.int32))
    m = g.tensor("colour", (1, 3), out_type, scale=1.0, zero_point=zp)
    g.operator("MEAN", [x, axes], m, keep_dims=False)
    g.output(m)
    path.write_bytes(g.build())
    return path


# -- .npy inputs -----------------------------------------------------------------------

def test_a_float_model_takes_npy_windows_with_or_without_the_batch_axis(tmp_path, capsys):
    model = _accelerometer(tmp_path / "har.tflite")
    rng = np.random.default_rng(1)
    windows = [rng.uniform(-6, 6, (1, 24, 3, 1)).astype(np.float32) for _ in range(3)]
    files = []
    for k, w in enumerate(windows):
        files.append(tmp_path / f"w{k}.npy")
        np.save(files[-1], w if k != 1 else w[0])  # the second without its batch axis
    # float64 values that are float32 values, and big-endian float32: the same
    np.save(tmp_path / "f64.npy", windows[2].astype(np.float64))
    np.save(tmp_path / "be.npy", windows[0].astype(">f4"))
    files += [tmp_path / "f64.npy", tmp_path / "be.npy"]
    status, out, err = _run(capsys, "run", "--json", "--top-k", "4", model, *files)
    assert status == 0 and err == ""
    records = _records(out)
    for record, w in zip(records, windows + [windows[2], windows[0]]):
        (ref,) = run_reference(model.read_bytes(), [w])
        scores = _float32_list(ref)
        order = sorted(range(4), key=lambda i: (-scores[i], i))
        assert [e["index"] for e in record["top_k"]] == order
        assert [e["probability"] for e in record["top_k"]] == [scores[i] for i in order]
    assert [r["file"] for r in records] == [str(f) for f in files]


@pytest.mark.parametrize("value, what", [
    (np.full((1, 24, 3, 1), 0.1), "float64 values for input 'window' (FLOAT32): the value 0.1 "
                                  "at [0, 0, 0, 0] is not exactly a float32"),
    (np.zeros((1, 24, 3, 1), np.complex64), "complex64 values for input 'window' (FLOAT32): "
                                            "expected float32 values"),
    (np.zeros((24, 3), np.float32), "an array of shape [24, 3] for input 'window', expected "
                                    "[1, 24, 3, 1] or [24, 3, 1]"),
    (np.zeros((1, 24, 3, 1), bool), "bool values for input 'window' (FLOAT32)"),
    (np.full((1, 24, 3, 1), 16777217, np.int64), "int64 values for input 'window' (FLOAT32): "
                                                 "the value 16777217 at [0, 0, 0, 0] is not "
                                                 "exactly a float32 (it would become "
                                                 "16777216.0)"),
])
def test_lossy_or_misshapen_arrays_are_refused_in_one_line(tmp_path, capsys, value, what):
    model = _accelerometer(tmp_path / "har.tflite")
    np.save(tmp_path / "bad.npy", value)
    good = tmp_path / "good.npy"
    np.save(good, np.zeros((24, 3, 1), np.int16))  # small integers: exact
    status, out, err = _run(capsys, "run", model, tmp_path / "bad.npy", good)
    assert status == 2
    (line,) = err.splitlines()
    assert line.startswith(f"int8sqz: error: {tmp_path / 'bad.npy'}: {what}"), line
    assert out.splitlines()[0] == str(good)


def test_float_values_for_a_quantized_input_are_refused_with_its_quantization(tmp_path,
                                                                             capsys):
    model = _two_inputs(tmp_path / "add.tflite")
    np.savez(tmp_path / "x.npz", left=np.zeros((1, 2, 3), np.float32),
             right=np.zeros((1, 2, 3), np.int8))
    status, out, err = _run(capsys, "run", model, tmp_path / "x.npz")
    assert status == 2 and out == ""
    assert err.splitlines() == [
        f"int8sqz: error: {tmp_path / 'x.npz'}['left.npy']: float32 values for input 'left' "
        f"(INT8): expected the quantized int8 values (real = 0.1 * (q - 2)); int8sqz does not "
        f"quantize: q = round(x / scale) + zero_point"]


def test_integer_arrays_are_converted_when_every_value_fits(tmp_path, capsys):
    model = _two_inputs(tmp_path / "add.tflite")
    a = np.array([[[-128, 0, 127], [5, -5, 1]]])  # int64, within int8
    b = np.array([[[1, 2, 3], [4, 5, 6]]], np.int8)
    np.savez(tmp_path / "ok.npz", a, b)
    np.savez(tmp_path / "big.npz", a + 1, b)
    status, out, err = _run(capsys, "run", "--json", model, tmp_path / "ok.npz",
                            tmp_path / "big.npz")
    assert status == 2
    assert "the value 128 at [0, 0, 2] is outside int8's range -128..127" in err
    (record,) = _records(out)
    (ref,) = run_reference(model.read_bytes(), [a.astype(np.int8), b])
    assert record["outputs"][0]["values"] == ref.tolist()


# -- .npz inputs: several inputs --------------------------------------------------------

def test_npz_gives_each_input_by_name_or_by_position(tmp_path, capsys):
    model = _two_inputs(tmp_path / "add.tflite")
    rng = np.random.default_rng(3)
    a, b = (rng.integers(-128, 128, (1, 2, 3)).astype(np.int8) for _ in range(2))
    np.savez(tmp_path / "names.npz", right=b, left=a)
    np.savez(tmp_path / "positions.npz", a, b)  # arr_0, arr_1
    np.savez_compressed(tmp_path / "numbers.npz", **{"1": b[0], "0": a[0]})
    (ref,) = run_reference(model.read_bytes(), [a, b])
    files = [tmp_path / n for n in ("names.npz", "positions.npz", "numbers.npz")]
    status, out, err = _run(capsys, "run", "--json", model, *files)
    assert status == 0 and err == ""
    for record in _records(out):
        (o,) = record["outputs"]
        assert o == {"name": "sum", "index": 2, "shape": [1, 2, 3], "dtype": "int8",
                     "values": ref.tolist(), "scale": float(np.float32(0.12)), "zero_point": 1}
    status, out, err = _run(capsys, "run", model, *files)
    body = ["    " + line for line in np.array2string(ref, separator=" ").splitlines()]
    block = ["  sum: int8 [1, 2, 3], scale 0.12, zero point 1"] + body
    assert out.splitlines() == [line for f in files for line in [str(f)] + block]


@pytest.mark.parametrize("arrays, what", [
    ({"left": 0}, "has no array for input 1 'right'"),
    ({"left": 0, "right": 0, "extra": 0}, "holds an array 'extra' that names no input"),
    ({"left": 0, "arr_0": 0, "right": 0}, "gives input 0 'left' twice"),
    ({"arr_2": 0, "left": 0, "right": 0}, "holds an array 'arr_2' that names no input"),
])
def test_npz_arrays_that_do_not_match_the_inputs_are_refused(tmp_path, capsys, arrays, what):
    model = _two_inputs(tmp_path / "add.tflite")
    np.savez(tmp_path / "x.npz", **{k: np.zeros((1, 2, 3), np.int8) for k in arrays})
    status, out, err = _run(capsys, "run", model, tmp_path / "x.npz")
    assert status == 2 and out == ""
    (line,) = err.splitlines()
    assert line.startswith(f"int8sqz: error: {tmp_path / 'x.npz'}: {what}"), line


def test_a_npy_or_a_photo_for_a_model_of_two_inputs_is_refused(tmp_path, capsys):
    model = _two_inputs(tmp_path / "add.tflite")
    np.save(tmp_path / "one.npy", np.zeros((1, 2, 3), np.int8))
    status, out, err = _run(capsys, "run", model, tmp_path / "one.npy", PHOTO)
    assert status == 2 and out == ""
    one, photo = err.splitlines()
    assert "one array (.npy) for a model of 2 inputs; expected a .npz with one array per " \
           "input (0 'left', 1 'right')" in one
    assert photo.startswith(f"int8sqz: error: {PHOTO}: not a .npy or .npz file, and the "
                            f"model's input is not an image (the model has 2 inputs")


def test_hostile_array_files_are_refused_in_one_line(tmp_path):
    """Headers that lie, zip bombs, pickles: InputError before any data is used."""
    inputs = load_model(_accelerometer(tmp_path / "har.tflite")).tensors[:1]
    buf = io.BytesIO()
    np.save(buf, np.zeros((1, 24, 3, 1), np.float32))
    good = buf.getvalue()
    cases = {
        "truncated": (good[:-4], "but the file holds 284"),
        "longer": (good + b"\0" * 4, "but the file holds 292"),
        "huge shape": (_npy_with_header("{'descr': '<f4', 'fortran_order': False, "
                                        "'shape': (1000000000000,), }"),
                       "declares [1000000000000] of float32 (4000000000000 bytes of data), "
                       "but the file holds 16"),
        "not a literal": (good.replace(b"(1, 24, 3, 1)", b"(10**12, 1)  "),
                          "not a valid .npy file"),
        "object": (_npy_with_header("{'descr': '|O', 'fortran_order': False, 'shape': (2,), }"),
                   "an array of object; expected numbers"),
        "header garbage": (good[:10] + b"garbage" + good[17:], "not a valid .npy file"),
        "version 9": (good[:6] + b"\x09\x00" + good[8:], "format version 9.0"),
        "no magic": (b"PK\x03\x04 not a zip", "not a valid .npz file"),
    }
    for name, (data, what) in cases.items():
        p = tmp_path / f"{name}.npy"
        p.write_bytes(data)
        with pytest.raises(InputError) as info:
            load_arrays(p, inputs)
        msg = str(info.value)
        assert "\n" not in msg and msg.startswith(f"{p}: ") and what in msg, (name, msg)
    # a member that declares more bytes than the limit is not unpacked
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("arr_0.npy", good[:128] + bytes(50_000_000))
    p = tmp_path / "bomb.npz"
    p.write_bytes(bomb.getvalue())
    assert p.stat().st_size < 100_000
    with pytest.raises(InputError, match="unpack to 50000128 bytes, more than the limit of "
                                         "1000000 bytes"):
        load_arrays(p, inputs, max_bytes=1_000_000)


def _npy_with_header(header: str) -> bytes:
    text = header.encode("latin1")
    text += b" " * (63 - (10 + len(text)) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text + b"\0" * 16


# -- outputs ----------------------------------------------------------------------------

def test_a_sigmoid_output_prints_the_probability_of_the_positive_class(tmp_path, capsys):
    model = _sigmoid_score(tmp_path / "score.tflite")
    x = np.linspace(0, 0.9, 8, dtype=np.float32)[None]
    np.save(tmp_path / "x.npy", x)
    (ref,) = run_reference(model.read_bytes(), [x])
    p = float(str(ref.reshape(-1)[0]))
    status, out, err = _run(capsys, "run", model, tmp_path / "x.npy")
    assert status == 0 and out == f"{tmp_path / 'x.npy'}\n  positive  {p:.6f}\n"
    labels = tmp_path / "person.txt"
    labels.write_text("no person\nperson\n")
    status, out, err = _run(capsys, "run", "--json", "--labels", labels, model,
                            tmp_path / "x.npy")
    assert status == 0 and _records(out) == [
        {"file": str(tmp_path / "x.npy"), "positive": {"label": "person", "probability": p}}]
    labels.write_text("a\nb\nc\n")
    status, out, err = _run(capsys, "run", "--labels", labels, model, tmp_path / "x.npy")
    assert status == 2 and "3 labels, expected 1 (the positive class) or 2" in err


def test_several_outputs_are_named_arrays(tmp_path, capsys):
    model = _three_outputs(tmp_path / "three.tflite")
    x = np.random.default_rng(5).integers(-128, 128, (1, 4, 4, 2)).astype(np.int8)
    np.save(tmp_path / "x.npy", x)
    refs = run_reference(model.read_bytes(), [x])
    status, out, err = _run(capsys, "run", "--json", model, tmp_path / "x.npy")
    assert status == 0 and err == ""
    (record,) = _records(out)
    assert [o["name"] for o in record["outputs"]] == ["max", "average", "mean"]
    for o, ref in zip(record["outputs"], refs):
        assert o["shape"] == list(ref.shape) and o["dtype"] == "int8"
        assert o["values"] == ref.tolist()
    status, out, err = _run(capsys, "run", model, tmp_path / "x.npy")
    lines = out.splitlines()
    assert lines[0] == str(tmp_path / "x.npy")
    heads = [line for line in lines if not line.startswith("    ")]
    assert heads[1:] == ["  max: int8 [1, 2, 2, 2], scale 0.1, zero point 0",
                         "  average: int8 [1, 2, 2, 2], scale 0.1, zero point 0",
                         "  mean: int8 [1, 2], scale 0.1, zero point 0"]
    assert lines[-1] == "    " + np.array2string(refs[2], separator=" ")


def test_labels_for_a_model_without_classes_are_refused(tmp_path, capsys):
    model = _three_outputs(tmp_path / "three.tflite")
    labels = tmp_path / "l.txt"
    labels.write_text("a\nb\n")
    np.save(tmp_path / "x.npy", np.zeros((1, 4, 4, 2), np.int8))
    status, out, err = _run(capsys, "run", "--labels", labels, model, tmp_path / "x.npy")
    assert status == 2 and out == ""
    assert "labels name the classes of a classifier, but the model's outputs are not class " \
           "scores (3 output(s)" in err


# -- channels first ----------------------------------------------------------------------

@pytest.mark.parametrize("type_name", ["UINT8", "FLOAT32"])
def test_a_channels_first_model_gets_the_image_in_its_layout(tmp_path, capsys, type_name):
    model = _channels_first(tmp_path / "nchw.tflite", type_name)
    pixels = load_image(PHOTO, 8, 8, 3)  # (8, 8, 3), as `run` resizes it
    chw = pixels.transpose(2, 0, 1)[None].astype(np.uint8 if type_name == "UINT8"
                                                 else np.float32)
    (ref,) = run_reference(model.read_bytes(), [chw])
    status, out, err = _run(capsys, "run", "--json", model, PHOTO)
    assert status == 0, err
    (record,) = _records(out)
    zp = -128 if type_name == "FLOAT32" else 0
    scores = [float(int(v) - zp) for v in ref.reshape(-1)]
    assert sorted((e["index"], e["probability"]) for e in record["top_k"]) == \
        list(enumerate(scores))
    # the wrong layout would give other means
    assert not np.array_equal(pixels.reshape(1, 3, 8, 8).mean(axis=(2, 3)),
                              chw.mean(axis=(2, 3)))


# -- the zoo -----------------------------------------------------------------------------

def _zoo(name):
    path = ZOO / f"{name}.tflite"
    if not path.is_file():
        pytest.fail(f"{path} is missing (the shared zoo models, ../shared/models/zoo)")
    from int8sqz import Interpreter

    try:
        Interpreter(model_path=str(path))
    except UnsupportedError as exc:
        pytest.skip(f"int8sqz does not run it yet: {exc}")
    return path


def _reference_outputs(path, values):
    return run_reference(registered_versions(path.read_bytes()), values)


@pytest.mark.parametrize("name, dtype, shape", [
    ("gmp_wl_24_int8_wisdm", np.float32, (24, 3, 1)),
    ("ign_wl_24_int8_wisdm", np.float32, (24, 3, 1)),
    ("yamnet_256_64x96_int8_esc10", np.int8, (1, 64, 96, 1)),
    ("miniresnet_1stacks_64x50_int8_esc10", np.int8, (1, 64, 50, 1)),
])
def test_zoo_models_of_arrays(tmp_path, name, dtype, shape):
    path = _zoo(name)
    rng = np.random.default_rng(7)
    value = (rng.uniform(-2, 2, shape) if dtype == np.float32
             else rng.integers(-128, 128, shape)).astype(dtype)
    np.save(tmp_path / "x.npy", value)
    p = cli_process.run("run", "--json", "--top-k", "99", path, tmp_path / "x.npy", cwd=tmp_path,
                        timeout=600)
    assert p.returncode == 0, p.stderr
    (record,) = _records(p.stdout.decode("utf-8"))
    (ref,) = _reference_outputs(path, [value.reshape((1,) + value.shape[-3:])])
    scores = _float32_list(ref)
    assert {e["index"]: e["probability"] for e in record["top_k"]} == dict(enumerate(scores))


@pytest.mark.parametrize("name", ["mobilenet_v2_0.35_128_int8_flowers",
                                  "fdmobilenet_0.25_128_int8_flowers",
                                  "resnet_v1_8_32_int8_cifar10",
                                  "mobilenet_v2_0.35_128_int8_person",
                                  "ssd_mobilenet_v1_0.25_192_int8_person"])
def test_zoo_image_models(tmp_path, name):
    path = _zoo(name)
    from int8sqz.image import input_spec, preprocess

    value = preprocess(PHOTO, input_spec(load_model(path)))
    refs = _reference_outputs(path, [value])
    p = cli_process.run("run", "--json", "--top-k", "99", path, PHOTO, cwd=tmp_path,
                        timeout=600)
    assert p.returncode == 0, p.stderr
    (record,) = _records(p.stdout.decode("utf-8"))
    if "ssd" in name:  # three outputs: boxes and scores, named arrays
        assert [o["shape"] for o in record["outputs"]] == [list(r.shape) for r in refs]
        for o, ref in zip(record["outputs"], refs):
            assert np.array_equal(np.array(o["values"], np.float32), ref)
    elif "person" in name:  # one sigmoid value
        assert record["positive"]["probability"] == _float32_list(refs[0])[0]
    else:
        scores = _float32_list(refs[0])
        assert {e["index"]: e["probability"] for e in record["top_k"]} == dict(enumerate(scores))


def test_the_seed_models_print_as_before(capsys):
    # the seed classifiers' output is pinned by tests/cli/test_cli.py; here the
    # kinds: every seed model is a classifier of photos
    from int8sqz.predict import output_kind

    for path in SEED_MODELS.values():
        assert output_kind(load_model(path)) == "classes"
