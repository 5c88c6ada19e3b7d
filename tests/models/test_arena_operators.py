"""Every small seed model (tests/fuzzing.py: one or more per operator) run
inside both arena plans equals TFLite's reference, and the optimized plan
really runs the elementwise operators whose kernels allow it in place."""

import pytest

import fuzzing
from int8sqz import Interpreter
from int8sqz.ops import REGISTRY
from int8sqz.testing.reference import run_reference

SEEDS = fuzzing.seed_names(real=False)


def _run(content, planner, seed):
    it = Interpreter(model_content=content, arena=planner)
    it.allocate_tensors()
    details = it.get_input_details()
    inputs = fuzzing.make_inputs([(d["shape"], d["dtype"]) for d in details], seed)
    for d, v in zip(details, inputs):
        it.set_tensor(d["index"], v)
    it.invoke()
    return it, inputs, [it.get_tensor(d["index"]) for d in it.get_output_details()]


@pytest.mark.parametrize("name", SEEDS)
@pytest.mark.parametrize("planner", ["tflm", "optimized"])
def test_seed_models_match_the_reference_in_the_arena(name, planner):
    content = fuzzing.seeds()[name]
    for seed in range(2):
        _, inputs, got = _run(content, planner, seed)
        want = run_reference(content, inputs)
        for w, g in zip(want, got):
            assert g.dtype == w.dtype and g.tobytes() == w.tobytes(), (name, planner, seed)


@pytest.mark.parametrize("name, ops", [
    ("sub_uint8", {"SUB"}),
    ("max_min_int8", {"MINIMUM"}),
    ("relu_logistic_int8", {"RELU", "RELU6", "LOGISTIC"}),
    ("relu6_float", {"RELU6"}),
    ("logistic_uint8", {"LOGISTIC"}),
])
def test_optimized_plan_runs_elementwise_operators_in_place(name, ops):
    it, _, _ = _run(fuzzing.seeds()[name], "optimized", 0)
    model = it.model
    in_place = set()
    for op in model.operators:
        out = it.tensor(op.outputs[0])()
        for i in op.inputs:
            if i >= 0 and model.tensors[i].data is None and \
                    it.tensor(i)().ctypes.data == out.ctypes.data:
                in_place.add(op.name)
                assert REGISTRY[op.name].sharing.inplace, op.describe()
    assert ops <= in_place, in_place
