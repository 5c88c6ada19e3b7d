"""What runs can be seen: nodes are objects (operator, parameters, run),
INT8SQZ_DEBUG prints every operator as it runs, and the interpreter's
threads and arena options behave as documented."""

import os
import subprocess
import sys

import numpy as np
import pytest

import fuzzing
from int8sqz import Interpreter, InterpreterError
from int8sqz.ops.unit import Node


def _classifier():
    return fuzzing.seeds()["classifier"]


def _run(it, seed=0):
    d = it.get_input_details()[0]
    x = np.random.default_rng(seed).integers(0, 256, d["shape"]).astype(d["dtype"])
    it.set_tensor(d["index"], x)
    it.invoke()
    return it.get_tensor(it.get_output_details()[0]["index"])


def test_nodes_name_their_operator_and_parameters():
    it = Interpreter(model_content=_classifier())
    nodes = it.nodes
    assert [n.op.name for n in nodes] == [op.name for op in it.model.operators]
    for node in nodes:
        assert isinstance(node, Node)
        assert node.params.get("kernel") or node.op.name in ("CONV_2D", "MAX_POOL_2D",
                                                             "AVERAGE_POOL_2D")
    mul = next(n for n in nodes if n.op.name == "MUL")
    assert set(mul.params) >= {"multiplier", "shift", "act_min", "act_max"}


def test_debug_levels_trace_every_operator(tmp_path):
    script = (
        "import sys, numpy as np\n"
        "from int8sqz import Interpreter\n"
        "it = Interpreter(model_content=open(sys.argv[1], 'rb').read())\n"
        "it.allocate_tensors()\n"
        "d = it.get_input_details()[0]\n"
        "it.set_tensor(d['index'], np.zeros(d['shape'], d['dtype']))\n"
        "it.invoke()\n"
        "print(it.get_tensor(it.get_output_details()[0]['index']).tolist())\n"
    )
    model = tmp_path / "classifier.tflite"
    model.write_bytes(_classifier())
    outputs = {}
    for level in ("0", "1", "2"):
        env = dict(os.environ, INT8SQZ_DEBUG=level)
        r = subprocess.run([sys.executable, "-c", script, str(model)], env=env,
                           capture_output=True, text=True, cwd=str(tmp_path), timeout=300)
        assert r.returncode == 0, r.stderr
        outputs[level] = (r.stdout, r.stderr)
    assert outputs["0"][0] == outputs["1"][0] == outputs["2"][0]  # same results
    assert "int8sqz: op" not in outputs["0"][1]
    lines = [ln for ln in outputs["1"][1].splitlines() if ln.startswith("int8sqz: op")]
    n_ops = len(Interpreter(model_content=_classifier()).nodes)
    assert len(lines) == n_ops
    assert "CONV_2D" in lines[1] and "int8[1, 8, 8, 3]" in lines[1] and " ms" in lines[1]
    assert "int8sqz: invoke" in outputs["1"][1]
    assert "prepared:" not in outputs["1"][1]
    assert outputs["2"][1].count("prepared:") == n_ops
    assert "multiplier = " in outputs["2"][1]


def test_close_stops_the_threads_and_the_interpreter_still_works():
    it = Interpreter(model_content=_classifier(), num_threads=2)
    d = it.get_input_details()[0]
    it.resize_tensor_input(d["index"], (4,) + tuple(d["shape"][1:]))
    it.allocate_tensors()
    first = _run(it)
    assert it._pool is not None
    it.close()
    assert it._pool is None
    assert np.array_equal(_run(it), first)
    with it:
        pass
    assert it._pool is None


def test_preserve_all_tensors_is_refused_with_an_arena():
    with pytest.raises(InterpreterError, match="cannot all be kept"):
        Interpreter(model_content=_classifier(), arena="tflm",
                    experimental_preserve_all_tensors=True)
    it = Interpreter(model_content=_classifier(), experimental_preserve_all_tensors=True)
    it.allocate_tensors()
    _run(it)


def test_a_bug_in_a_thread_is_not_hidden(monkeypatch):
    """An exception that is not int8sqz's own (a bug) propagates from a
    batch's threads instead of silently rerunning the batch."""
    it = Interpreter(model_content=_classifier(), num_threads=2)
    d = it.get_input_details()[0]
    it.resize_tensor_input(d["index"], (4,) + tuple(d["shape"][1:]))
    it.allocate_tensors()
    node = it._slices.nodes[1][2]

    def broken(tensors):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(node, "run", broken)
    monkeypatch.setattr(it._slices.nodes[0][2], "run", broken)
    with pytest.raises(ZeroDivisionError):
        _run(it)
