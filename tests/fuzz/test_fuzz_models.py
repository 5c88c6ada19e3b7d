"""Fuzzing the loader, the validation and the operators with hostile models.

Each case runs in a worker subprocess with a time limit (tests/fuzzing.py):
it must end with outputs equal to TFLite's reference kernels (run in their
own worker) or with int8sqz's own one-line exception; `int8sqz run` must exit
0 or 2 with one error line. A case that kills or hangs the worker names
itself (replayed alone, else the cases before it are bisected). Half the
cases that run the command hand their model over as a file kind (an odd
name, standard input) among a FIFO, a directory and /dev/zero
(tests/fuzzing.py, "File kinds").

Case counts: the session summary ("int8sqz fuzzing"); INT8SQZ_FUZZ_CASES sets
the total, INT8SQZ_HYPOTHESIS_PROFILE=deep multiplies it by 10.
"""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fuzzing


def _cases(kind):
    # built when a test first draws, not when pytest collects this file: the
    # strategies read the seed models, and a missing ../shared must fail the
    # tests (the seed_models fixture names the path), not the collection
    return st.deferred(lambda: fuzzing.strategies()[kind])


@pytest.fixture(autouse=True, scope="module")
def _report(pytestconfig, seed_models):
    fuzzing.register_report(pytestconfig)


def _budget(kind):
    return settings(max_examples=fuzzing.budget(kind),
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


@_budget("random_bytes")
@given(_cases("random_bytes"))
def test_random_bytes(case):
    fuzzing.check(case)


@_budget("truncation")
@given(_cases("truncation"))
def test_truncated_seed_models(case):
    fuzzing.check(case)


@_budget("field_sites")
@given(_cases("field_sites"))
def test_hostile_values_in_flatbuffer_fields(case):
    fuzzing.check(case)


@_budget("region_flips")
@given(_cases("region_flips"))
def test_bit_and_byte_flips_in_the_tables(case):
    fuzzing.check(case)


@_budget("writer")
@given(_cases("writer"))
def test_hostile_model_descriptions(case):
    fuzzing.check(case)


def test_seed_models_run_equal_to_the_reference():
    # the mutations start from models both runtimes run identically
    for name, content in fuzzing.seeds().items():
        assert fuzzing.check(fuzzing.Case("seed", content, name, cli=True)) == "equal", name
