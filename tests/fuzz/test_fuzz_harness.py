"""The fuzz harness itself (tests/fuzzing.py): a worker that dies or hangs is
noticed and the case that did it is named, alone or, when it only fails after
others, by bisecting the cases the worker ran before; and the cases the
mutations make are the ones they describe."""

import struct

import pytest

import fuzzing


def _req(test, label=None):
    return {"selftest": test, "content": b"", "what": label or test}


def test_a_signal_is_noticed_and_the_case_named():
    w = fuzzing.Worker("int8sqz")
    try:
        for _ in range(3):
            assert w.run(_req("fine"))["status"] == "refused"
        with pytest.raises(fuzzing.WorkerDied, match="killed by signal 6") as info:
            w.run(_req("abort"))
        history = list(w.history)
    finally:
        w.stop()
    named = fuzzing._isolate("int8sqz", history, info.value)
    assert named.startswith("the worker died on this case alone: killed by signal 6")


def test_a_case_that_fails_only_after_another_names_the_other():
    history = [_req("fine"), _req("fine"), _req("poison", "the poison"), _req("fine"),
               _req("fine"), _req("abort_if_poisoned")]
    w = fuzzing.Worker("int8sqz")
    try:
        with pytest.raises(fuzzing.WorkerDied) as info:
            for req in history:
                w.run(req)
    finally:
        w.stop()
    named = fuzzing._isolate("int8sqz", history, info.value)
    assert "only after running another" in named and "the poison" in named, named


def test_a_hang_is_noticed_within_the_limit():
    w = fuzzing.Worker("int8sqz")
    try:
        w.run(_req("fine"))
        with pytest.raises(fuzzing.WorkerDied, match="no answer within 2 s"):
            w.run(_req("hang"), timeout=2)
    finally:
        w.stop()


def test_a_failing_case_fails_the_check(monkeypatch, tmp_path):
    # the check raises (and saves the model) when int8sqz disagrees with itself
    monkeypatch.setenv("INT8SQZ_FAILURES", str(tmp_path))
    import collections  # the session's case counts do not include this one
    monkeypatch.setattr(fuzzing, "COUNTS", collections.Counter())
    monkeypatch.setattr(fuzzing, "KIND_COUNTS", collections.Counter())
    content = fuzzing.seeds()["softmax_int8"]
    real = fuzzing._same_outputs
    monkeypatch.setattr(fuzzing, "_same_outputs", lambda a, b: "made to differ")
    with pytest.raises(fuzzing.FuzzFailure, match="made to differ"):
        fuzzing.check(fuzzing.Case("harness", content, "softmax_int8"))
    monkeypatch.setattr(fuzzing, "_same_outputs", real)
    assert list(tmp_path.glob("fuzz_harness_*.tflite"))


def test_field_patches_land_where_the_walk_says():
    content = fuzzing.seeds()["classifier"]
    sites = fuzzing.walk(content, unique=False)[0]
    stride = [s for s in sites
              if s.label == "model.subgraphs[0].operators[1].builtin_options.stride_h"]
    assert len(stride) == 1 and struct.unpack_from("<i", content, stride[0].pos)[0] == 2
    patched = fuzzing.patched(content, stride[0].label, 3)
    from int8sqz.model import load_model
    assert load_model(patched).operators[1].options["stride_h"] == 3


def test_budget_adds_up():
    total = fuzzing.total_cases()
    assert abs(sum(fuzzing.budget(k) for k in fuzzing.SHARES) - total) <= len(fuzzing.SHARES)
    assert sum(fuzzing.budget(k) for k in fuzzing.SHARES if k != "images") >= 2000 or \
        total < fuzzing.DEFAULT_TOTAL


@pytest.mark.parametrize("kind", fuzzing.MODEL_FILE_KINDS)
def test_every_model_file_kind_runs(kind):
    """Each way a model reaches the command (regular file, odd name, standard
    input), among a FIFO, a directory and /dev/zero given as images: the seed
    classifier runs; a truncated model is refused in one line."""
    content = fuzzing.seeds()["classifier"]
    assert fuzzing.check(fuzzing.Case("harness", content, "classifier", cli=True,
                                      file_kind=kind)) == "equal"
    assert fuzzing.check(fuzzing.Case("harness", content[:100], "classifier cut", cli=True,
                                      file_kind=kind)) == "refused"


@pytest.mark.parametrize("kind", fuzzing.IMAGE_FILE_KINDS)
def test_every_image_file_kind_runs(kind):
    """Each way an image reaches the command, among a FIFO, a directory,
    /dev/zero and (when standard input is free) an endless stream."""
    content, suffix = fuzzing.image_seeds()["png"]
    for data, want in ((content, "decoded"), (content[:40], "refused")):
        case = fuzzing.ImageCase("harness", data, suffix, f"png as {kind}", file_kind=kind)
        assert fuzzing.check_image(case) == want


def test_the_file_kind_check_fails_what_it_should(monkeypatch):
    """_check_files on a real run, then on the same run with one thing wrong."""
    import collections
    import copy

    monkeypatch.setattr(fuzzing, "COUNTS", collections.Counter())
    content, suffix = fuzzing.image_seeds()["png"]
    case = fuzzing.ImageCase("harness", content, suffix, "png", file_kind="odd_name")
    req = {"image": content, "suffix": suffix, "cli": True, "content": content,
           "what": case.what, "file_kind": "odd_name"}
    files = fuzzing.worker("int8sqz").run(req)["cli"]["files"]
    fuzzing._check_files(case, files, image_refused=False)  # as it is: fine
    wrong = {
        "a companion reported as something else": lambda r: r.update(
            companions=[(c, "is a teapot") for c, _ in r["companions"]]),
        "exit 0": lambda r: r.update(code=0),
        "stdout not UTF-8": lambda r: r.update(stdout_utf8=False),
        "a second line for one input": lambda r: r.update(
            stderr=r["stderr"] + r["stderr"].splitlines()[0] + "\n"),
        "an escaped name without file_hex": lambda r: r.update(
            stdout=r["stdout"].replace('"file_hex"', '"other"')),
        "the image refused alone": None,
    }
    for what, change in wrong.items():
        r = copy.deepcopy(files)
        refused = what == "the image refused alone"
        if change is not None:
            change(r)
        with pytest.raises(fuzzing.FuzzFailure):
            fuzzing._check_files(case, r, image_refused=refused)
