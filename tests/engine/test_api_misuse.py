"""The interpreter API misused: every misuse ends with int8sqz's own
exception (InterpreterError for the calls, ModelError for the model), in one
line, and leaves the interpreter usable; arrays of any layout or
writeability are accepted; several interpreters in several threads give each
the results it gives alone. (tests/engine/test_interpreter_api.py has the basic
cases: wrong dtype or shape, unknown indices, invoke before allocate,
read-only and strided inputs, four interpreters of one model in threads.)"""

import pathlib
import threading

import numpy as np
import pytest

import fuzzing
from int8sqz import Interpreter, InterpreterError, ModelError
from int8sqz.errors import Int8sqzError


@pytest.fixture(scope="module")
def flowers(seed_models):
    return seed_models["flowers"]


def _image(seed=0, n=1):
    return np.random.default_rng(seed).integers(0, 256, (n, 128, 128, 3), dtype=np.uint8)


def _run(it, x):
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    return it.get_tensor(it.get_output_details()[0]["index"])


@pytest.fixture()
def interp(flowers):
    it = Interpreter(model_path=str(flowers))
    it.allocate_tensors()
    return it


def _one_line(exc_info):
    msg = str(exc_info.value)
    assert msg.strip() and "\n" not in msg, msg
    return msg


# -- constructing -----------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, error, match", [
    # found probing the API: a TypeError or ValueError escaped for these
    (dict(model_path=123), InterpreterError, "model_path is a int"),
    (dict(model_content=123), InterpreterError, "model_content is a int"),
    (dict(model_content="model.tflite"), InterpreterError, "model_content is a str"),
    (dict(model_content=b"", max_activation_bytes="1G"), InterpreterError,
     "max_activation_bytes='1G'"),
    (dict(model_content=b"", max_activation_bytes=None), InterpreterError,
     "max_activation_bytes=None"),
    (dict(model_content=b"", max_activation_bytes=-1), InterpreterError, "integer >= 0"),
    (dict(model_content=b"", max_activation_bytes=True), InterpreterError, "integer >= 0"),
    (dict(model_content=b"", arena="fast"), InterpreterError, "arena='fast'"),
    (dict(model_content=b"TFL3"), ModelError, "not a TFLite model"),
])
def test_bad_constructor_arguments(kwargs, error, match):
    with pytest.raises(error, match=match) as info:
        Interpreter(**kwargs)
    _one_line(info)


def test_paths_of_every_kind_and_bytes_like_content(flowers):
    want = None
    for kwargs in (dict(model_path=str(flowers)), dict(model_path=pathlib.Path(flowers)),
                   dict(model_path=str(flowers).encode()),
                   dict(model_content=flowers.read_bytes()),
                   dict(model_content=bytearray(flowers.read_bytes())),
                   dict(model_content=memoryview(flowers.read_bytes()))):
        it = Interpreter(**kwargs)
        it.allocate_tensors()
        got = _run(it, _image(1))
        want = got if want is None else want
        assert np.array_equal(got, want), kwargs


def test_the_activation_limit_is_exact(flowers):
    it = Interpreter(model_path=str(flowers))
    total = sum(int(np.prod(d["shape"])) * np.dtype(d["dtype"]).itemsize
                for d in it.get_tensor_details()
                if d["index"] in _activations(it))
    Interpreter(model_path=str(flowers), max_activation_bytes=total)
    with pytest.raises(ModelError, match="max_activation_bytes") as info:
        Interpreter(model_path=str(flowers), max_activation_bytes=total - 1)
    _one_line(info)


def _activations(it):
    m = it.model
    out = set(m.inputs)
    for op in m.operators:
        out.update(op.outputs)
    return {i for i in out if not m.tensors[i].is_constant}


# -- calls in the wrong order -----------------------------------------------------------

def test_calls_before_allocate_tensors(flowers):
    it = Interpreter(model_path=str(flowers))
    for call in (lambda: it.set_tensor(0, _image()), lambda: it.get_tensor(0),
                 lambda: it.tensor(0), it.invoke):
        with pytest.raises(InterpreterError, match="allocate_tensors") as info:
            call()
        _one_line(info)
    it.allocate_tensors()
    it.allocate_tensors()  # twice is fine
    assert _run(it, _image()).shape == (1, 5)


def test_resize_needs_a_new_allocate_and_a_failed_resize_changes_nothing(flowers):
    it = Interpreter(model_path=str(flowers))
    it.allocate_tensors()
    want = _run(it, _image(2))
    for bad in ([1, 100_000, 100_000, 3], [1, 1.5, 128, 3], [1, -5, 128, 3], None,
                [1, 2 ** 40, 128, 3]):
        with pytest.raises(Int8sqzError) as info:
            it.resize_tensor_input(0, bad)
        _one_line(info)
    assert np.array_equal(_run(it, _image(2)), want)  # still allocated, same results
    it.resize_tensor_input(0, [2, 128, 128, 3])
    with pytest.raises(InterpreterError, match="allocate_tensors"):
        it.invoke()
    it.allocate_tensors()
    both = _run(it, np.concatenate([_image(2), _image(3)]))
    assert np.array_equal(both[:1], want)


# -- values of every kind ---------------------------------------------------------------

@pytest.mark.parametrize("value, match", [
    ([[1, 2], [3]], "not an array"),  # found: a bare ValueError escaped
    (None, "type object"),
    (object(), "type object"),
    (3, "type int64"),
    (np.zeros((1, 128, 128, 3), bool), "type bool"),
    (np.zeros((1, 128, 128, 3), np.int16), "type int16"),
    (np.zeros((128, 128, 3), np.uint8), r"shape \[128, 128, 3\]"),
    (np.zeros((1, 128, 128, 3, 1), np.uint8), "shape"),
    (np.zeros((), np.uint8), r"shape \[\]"),
])
def test_set_tensor_refuses_values_of_the_wrong_kind(interp, value, match):
    want = _run(interp, _image(4))
    with pytest.raises(InterpreterError, match=match) as info:
        interp.set_tensor(0, value)
    _one_line(info)
    interp.invoke()
    assert np.array_equal(interp.get_tensor(116), want)  # the input was left alone


def test_set_tensor_accepts_any_layout(interp):
    x = _image(6)
    want = _run(interp, x)
    fortran = np.asfortranarray(x)
    flipped = np.ascontiguousarray(x[:, :, ::-1])[:, :, ::-1]  # negative strides
    every_other = np.repeat(x, 2, axis=2)[:, :, ::2]
    big_endian = x.astype(">u1")
    read_only = x.copy()
    read_only.flags.writeable = False
    for value in (fortran, flipped, every_other, big_endian, read_only, x.tolist()):
        if isinstance(value, list):
            value = np.asarray(value, np.uint8)
        assert np.array_equal(_run(interp, value), want)
    # a broadcast (zero strides, read-only) array of one pixel value
    flat = np.broadcast_to(np.uint8(77), x.shape)
    assert np.array_equal(_run(interp, flat), _run(interp, np.full(x.shape, 77, np.uint8)))


def test_outputs_are_copies_and_the_input_is_not_kept(interp):
    x = _image(7)
    first = _run(interp, x)
    first[...] = 0
    x[...] = 0  # the caller's array changes after set_tensor: the next invoke keeps its copy
    interp.set_tensor(0, _image(7))
    interp.invoke()
    again = interp.get_tensor(116)
    assert again.any() and np.array_equal(again, _run(interp, _image(7)))


# -- several interpreters, several threads ----------------------------------------------

def test_interpreters_of_different_models_in_threads_give_their_results_alone(seed_models):
    models = [("flowers", {}), ("food-101", {}), ("plant-village", {}),
              ("flowers", {"arena": "tflm"}), ("food-101", {"arena": "optimized"}),
              ("plant-village", {"num_threads": 2})]
    inputs = [_image(10 + k, n=2) for k in range(len(models))]
    alone = []
    for (name, kw), x in zip(models, inputs):
        it = Interpreter(model_path=str(seed_models[name]), **kw)
        it.resize_tensor_input(0, [2, 128, 128, 3])
        it.allocate_tensors()
        alone.append(_run(it, x))
    results = [[] for _ in models]
    errors = []
    barrier = threading.Barrier(len(models))

    def work(k):
        try:
            name, kw = models[k]
            it = Interpreter(model_path=str(seed_models[name]), **kw)
            it.resize_tensor_input(0, [2, 128, 128, 3])
            it.allocate_tensors()
            barrier.wait()
            for _ in range(4):
                results[k].append(_run(it, inputs[k]))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(len(models))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for k, (want, got) in enumerate(zip(alone, results)):
        assert len(got) == 4 and all(np.array_equal(g, want) for g in got), models[k]


def test_zoo_models_in_threads_give_their_results_alone():
    # every operator, from several threads at once
    names = fuzzing.seed_names(real=False)
    alone = {}
    for name in names:
        r = fuzzing.outcome(fuzzing.seeds()[name], seed=3)
        assert r["status"] == "ok", (name, r)
        alone[name] = r["outputs"]
    errors = []

    def work(name):
        try:
            from int8sqz import Interpreter as It
            it = It(model_content=fuzzing.seeds()[name])
            it.allocate_tensors()
            details = it.get_input_details()
            specs = [(tuple(int(d) for d in det["shape"]), np.dtype(det["dtype"]).str)
                     for det in details]
            for _ in range(20):
                for det, v in zip(details, fuzzing.make_inputs(specs, 3)):
                    it.set_tensor(det["index"], v)
                it.invoke()
                outs = [fuzzing._summary(it.get_tensor(d["index"]))[:3]
                        for d in it.get_output_details()]
                assert outs == [o[:3] for o in alone[name]], name
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in names for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


# -- pickling and threads (issue 16) -----------------------------------------------------

def test_an_interpreter_cannot_be_pickled_or_copied(interp):
    # issue 16: pickle.dumps raised a bare AttributeError (a local function)
    import copy
    import pickle

    for how in (pickle.dumps, copy.copy, copy.deepcopy):
        with pytest.raises(InterpreterError, match="cannot be pickled or copied") as info:
            how(interp)
        _one_line(info)
    assert _run(interp, _image(2)).shape == (1, 5)  # still usable


def test_two_threads_invoking_one_interpreter_get_the_right_outputs(interp):
    # issue 16: two threads sharing one Interpreter silently got wrong results
    # (the kernels release the GIL and wrote the same arrays at once; here 20
    # of 60 outputs were wrong before the calls were serialised)
    x = _image(3)
    want = _run(interp, x)
    out = interp.get_output_details()[0]["index"]
    wrong = []

    def work():
        for _ in range(30):
            interp.invoke()
            if not np.array_equal(interp.get_tensor(out), want):
                wrong.append(1)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not wrong, f"{len(wrong)} of 60 outputs wrong"


def test_a_call_from_a_second_thread_waits_for_the_first(interp):
    """Serialised, not refused: while one thread is inside invoke(), another
    thread's invoke() and set_tensor() wait, then run."""
    entered = []
    gate = threading.Event()
    steps = interp._program.steps  # what invoke() runs (int8sqz.fusion)
    first = steps[0]

    def held(arrays):
        entered.append(threading.current_thread().name)
        if threading.current_thread().name == "A":
            assert gate.wait(20)
        return first(arrays)

    steps[0] = held
    x = _image(4)
    interp.set_tensor(interp.get_input_details()[0]["index"], x)
    a = threading.Thread(target=interp.invoke, name="A")
    b = threading.Thread(target=interp.invoke, name="B")
    c = threading.Thread(target=interp.set_tensor, name="C",
                         args=(interp.get_input_details()[0]["index"], x))
    a.start()
    while not entered:
        threading.Event().wait(0.01)
    b.start()
    c.start()
    b.join(0.5)
    c.join(0.1)
    assert entered == ["A"] and b.is_alive() and c.is_alive()
    gate.set()
    for t in (a, b, c):
        t.join(20)
    assert entered == ["A", "B"] and not (a.is_alive() or b.is_alive() or c.is_alive())
    steps[0] = first


@pytest.mark.parametrize("arena", ["tflm", "optimized"])
def test_preserving_every_tensor_in_an_arena_is_refused_saying_why(flowers, arena):
    # issue 16 (fixed before it was filed on this branch): the flag was accepted
    # and the intermediates it promised to keep were overwritten
    with pytest.raises(InterpreterError) as info:
        Interpreter(model_path=str(flowers), arena=arena, experimental_preserve_all_tensors=True)
    msg = _one_line(info)
    assert f"arena={arena!r}" in msg and "reuses the bytes of every tensor once it is " \
        "consumed, so the intermediates cannot all be kept; use arena=None" in msg


@pytest.mark.parametrize("arena", ["tflm", "optimized", "streaming", "plan"])
@pytest.mark.parametrize("numerics", ["builtin", "xnnpack"])
def test_an_arena_with_a_desktop_numerics_is_refused_saying_why(flowers, arena, numerics):
    """The arenas are microcontroller plans: they follow the reference
    kernels' reads and writes, so only the reference numerics runs in them."""
    if arena == "plan":
        from int8sqz.model import load_model
        from int8sqz.planner.streaming import plan_streaming

        arena = plan_streaming(load_model(str(flowers)))
    with pytest.raises(InterpreterError) as info:
        Interpreter(model_path=str(flowers), arena=arena, numerics=numerics)
    msg = _one_line(info)
    given = repr(arena) if isinstance(arena, str) else "a memory plan"
    assert f"arena={given} with numerics={numerics!r}" in msg and "(arena=None)" in msg
