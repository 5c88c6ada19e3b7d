"""tools/bench.py, shortened: it times every engine, checks int8sqz's
outputs against BUILTIN_REF on the inputs it timed, and reports the
targets (no timing is asserted)."""

import importlib.util
import json

from conftest import ROOT, SHARED


def _bench():
    spec = importlib.util.spec_from_file_location("bench", ROOT / "tools" / "bench.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_bench_json_checks_outputs_and_reports_targets(capsys):
    bench = _bench()
    status = bench.main(["--shared", str(SHARED), "--models", "plant-village", "--rounds", "1",
                         "--batch", "3", "--no-cli", "--eval-rounds", "1", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert status == 0
    r = doc["models"]["plant-village"]
    assert r["all_equal"]
    assert r["check"] == {
        "int8sqz_b1_t1": {"equal": 3, "inputs": 3, "against": "reference"},
        "int8sqz_bN_t1": {"equal": 3, "inputs": 3, "against": "reference"},
        "int8sqz_bN_t2": {"equal": 3, "inputs": 3, "against": "reference"},
        "int8sqz_builtin_b1_t1": {"equal": 3, "inputs": 3, "against": "builtin"},
        "int8sqz_xnnpack_b1_t1": {"equal": 3, "inputs": 3, "against": "xnnpack"}}
    assert set(r["engines"]) == {"int8sqz_b1_t1", "int8sqz_bN_t1", "int8sqz_bN_t2", "xnnpack_t1",
                                 "xnnpack_t2", "builtin_t1", "builtin_ref", "micro",
                                 "int8sqz_builtin_b1_t1", "int8sqz_xnnpack_b1_t1"}
    assert r["engines"]["int8sqz_b1_t1"]["samples"] == 10
    assert r["conv_macs"] > 170e6
    assert [t["target"].split(" ")[0] for t in doc["targets"]] == ["invoke()"] * 2 + [
        "batch", "outputs", "int8sqz"]
    # int8sqz eval and the XNNPACK loop over the same folder, the same files
    e = doc["eval"]["plant-village"]
    assert e["eval"]["images"] == e["xnnpack_loop"]["images"] == e["files"] > 0
    assert e["eval"]["images_per_s"] > 0 and e["xnnpack_loop"]["images_per_s"] > 0
    assert e["eval"]["top1_correct"] <= e["eval"]["top5_correct"] <= e["files"]
    bench.print_table(doc)
    bench.print_markdown(doc)
    text = capsys.readouterr().out
    assert "EQUAL to BUILTIN_REF" in text and "| target |" in text
    assert text.count("int8sqz eval (") == 2  # the table and the Markdown
