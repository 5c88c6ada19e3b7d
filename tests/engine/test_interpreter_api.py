"""The TFLite Python API: same calls, same detail dictionaries, clear errors on
misuse that leave the interpreter usable."""

import threading

import numpy as np
import pytest

from int8sqz import Interpreter, InterpreterError, ModelError, UnsupportedError
from int8sqz.testing.reference import reference_interpreter


@pytest.fixture(scope="module")
def flowers(seed_models):
    return seed_models["flowers"]


@pytest.fixture()
def interp(flowers):
    it = Interpreter(model_path=str(flowers))
    it.allocate_tensors()
    return it


def _image(seed=0):
    return np.random.default_rng(seed).integers(0, 256, (1, 128, 128, 3), dtype=np.uint8)


def _same_details(ours, theirs):
    assert set(ours) == set(theirs)
    for key in theirs:
        a, b = ours[key], theirs[key]
        if key == "quantization_parameters":
            assert set(a) == set(b)
            for k in b:
                assert type(a[k]) is type(b[k]), k
                assert np.array_equal(a[k], b[k]), k
                if isinstance(b[k], np.ndarray):
                    assert a[k].dtype == b[k].dtype, k
        elif isinstance(b, np.ndarray):
            assert a.dtype == b.dtype and np.array_equal(a, b), key
        else:
            assert type(a) is type(b), key
            assert a == b, key


def test_details_match_tflite(flowers):
    ours = Interpreter(model_path=str(flowers))
    ours.allocate_tensors()
    ref = reference_interpreter(flowers)
    for a, b in zip(ours.get_input_details(), ref.get_input_details()):
        _same_details(a, b)
    for a, b in zip(ours.get_output_details(), ref.get_output_details()):
        _same_details(a, b)
    ref_by_index = {d["index"]: d for d in ref.get_tensor_details()}
    details = ours.get_tensor_details()
    assert len(details) == 117
    for d in details:
        _same_details(d, ref_by_index[d["index"]])


def test_model_content_equals_model_path(flowers, interp):
    other = Interpreter(model_content=flowers.read_bytes())
    other.allocate_tensors()
    x = _image(3)
    for it in (interp, other):
        it.set_tensor(0, x)
        it.invoke()
    out = interp.get_output_details()[0]["index"]
    assert np.array_equal(interp.get_tensor(out), other.get_tensor(out))


def test_invoke_before_allocate_is_an_error(flowers):
    it = Interpreter(model_path=str(flowers))
    with pytest.raises(InterpreterError, match="allocate_tensors"):
        it.invoke()
    it.allocate_tensors()
    it.set_tensor(0, _image())
    it.invoke()


@pytest.mark.parametrize("bad, message", [
    (np.zeros((1, 128, 128, 3), np.int8), "type int8, expected uint8"),
    (np.zeros((1, 128, 128, 3), np.float32), "type float32, expected uint8"),
    (np.zeros((1, 128, 128), np.uint8), r"shape \[1, 128, 128\], expected \[1, 128, 128, 3\]"),
    (np.zeros((2, 128, 128, 3), np.uint8), r"shape \[2, 128, 128, 3\]"),
])
def test_set_tensor_rejects_wrong_dtype_or_shape_and_stays_usable(interp, bad, message):
    x = _image(1)
    interp.set_tensor(0, x)
    with pytest.raises(InterpreterError, match=message):
        interp.set_tensor(0, bad)
    # the failed call changed nothing
    assert np.array_equal(interp.get_tensor(0), x)
    interp.invoke()


@pytest.mark.parametrize("index", [-1, 117, 10**9, "0", None, 1.5])
def test_unknown_tensor_index(interp, index):
    with pytest.raises(InterpreterError):
        interp.get_tensor(index)
    with pytest.raises(InterpreterError):
        interp.set_tensor(index, _image())


def test_constants_cannot_be_set_and_are_read_only(interp):
    with pytest.raises(InterpreterError, match="constant"):
        interp.set_tensor(2, np.zeros((96, 7, 7, 3), np.int8))
    weights = interp.get_tensor(2)
    weights[...] = 0  # a copy: the model is untouched
    assert interp.get_tensor(2).any()


def test_set_tensor_accepts_non_contiguous_and_read_only_arrays(interp):
    x = _image(5)
    ro = x.copy()
    ro.flags.writeable = False
    strided = np.ascontiguousarray(np.transpose(x, (0, 2, 1, 3))).transpose(0, 2, 1, 3)
    assert not strided.flags.c_contiguous
    out = interp.get_output_details()[0]["index"]
    results = []
    for value in (x, ro, strided):
        interp.set_tensor(0, value)
        interp.invoke()
        results.append(interp.get_tensor(out))
    assert all(np.array_equal(results[0], r) for r in results[1:])


def test_intermediates_are_readable_after_invoke(flowers):
    it = Interpreter(model_path=str(flowers), experimental_preserve_all_tensors=True)
    it.allocate_tensors()
    it.set_tensor(0, _image(2))
    it.invoke()
    conv1 = it.get_tensor(65)
    assert conv1.shape == (1, 61, 61, 96) and conv1.dtype == np.int8 and conv1.any()


def test_bad_constructor_arguments(flowers, tmp_path):
    with pytest.raises(InterpreterError):
        Interpreter()
    with pytest.raises(InterpreterError):
        Interpreter(model_path=str(flowers), model_content=b"")
    with pytest.raises(ModelError, match="not a TFLite model"):
        Interpreter(model_content=b"hello world, not a model")
    with pytest.raises(ModelError, match="cannot read"):
        Interpreter(model_path=str(tmp_path / "missing.tflite"))
    with pytest.raises(ModelError, match="directory"):
        Interpreter(model_path=str(tmp_path))


def test_activation_limit_refuses_before_allocating(flowers):
    with pytest.raises(ModelError, match="max_activation_bytes"):
        Interpreter(model_path=str(flowers), max_activation_bytes=100_000)


def test_interpreters_in_threads_give_the_same_results(flowers):
    inputs = [_image(s) for s in range(4)]
    expected = []
    for x in inputs:
        it = Interpreter(model_path=str(flowers))
        it.allocate_tensors()
        it.set_tensor(0, x)
        it.invoke()
        expected.append(it.get_tensor(116))
    results = [None] * len(inputs)

    def work(k):
        it = Interpreter(model_path=str(flowers))
        it.allocate_tensors()
        for _ in range(3):
            it.set_tensor(0, inputs[k])
            it.invoke()
        results[k] = it.get_tensor(116)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(len(inputs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for a, b in zip(results, expected):
        assert np.array_equal(a, b)


def test_unsupported_operator_is_refused_at_load_with_its_index(flowers):
    content = bytearray(flowers.read_bytes())
    # find the SOFTMAX operator code (builtin 25) and turn it into TANH (28)
    from int8sqz.model import load_model
    import tflite
    fb = tflite.Model.GetRootAsModel(bytes(content), 0)
    for i in range(fb.OperatorCodesLength()):
        oc = fb.OperatorCodes(i)
        if oc.BuiltinCode() == 25:
            tab = oc._tab
            # the BuiltinCode field (slot 3) and the deprecated one (slot 0) both hold 25
            for slot in (4, 10):
                off = tab.Offset(slot)
                if off:
                    content[tab.Pos + off] = 28
    model = load_model(bytes(content))
    assert any(op.name == "TANH" for op in model.operators)
    with pytest.raises(UnsupportedError, match=r"operator 51 \(TANH\) is not supported; supported operators: ADD"):
        Interpreter(model_content=bytes(content))


def test_resize_batch_gives_the_results_of_one_image_at_a_time(flowers):
    inputs = np.concatenate([_image(s) for s in range(3)])
    single = Interpreter(model_path=str(flowers))
    single.allocate_tensors()
    expected = []
    for x in inputs:
        single.set_tensor(0, x[None])
        single.invoke()
        expected.append(single.get_tensor(116)[0])
    batched = Interpreter(model_path=str(flowers))
    batched.resize_tensor_input(0, [3, 128, 128, 3])
    batched.allocate_tensors()
    assert list(batched.get_input_details()[0]["shape"]) == [3, 128, 128, 3]
    batched.set_tensor(0, inputs)
    batched.invoke()
    assert np.array_equal(batched.get_tensor(116), np.stack(expected))


def test_resize_rejects_bad_shapes_and_stays_usable(flowers):
    it = Interpreter(model_path=str(flowers))
    for bad in ([1, 128, 128], [0, 128, 128, 3], "abc", [1, 64, 64, 3, 1]):
        with pytest.raises((InterpreterError, ModelError)):
            it.resize_tensor_input(0, bad)
    with pytest.raises(InterpreterError, match="not a graph input"):
        it.resize_tensor_input(65, [1, 61, 61, 96])
    it.allocate_tensors()
    it.set_tensor(0, _image())
    it.invoke()
