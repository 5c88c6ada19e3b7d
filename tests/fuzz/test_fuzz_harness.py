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
