"""The zoo models' own REDUCE_MAX (gmp), LOGISTIC (MobileNet v2 person) and
RESIZE_BILINEAR (SSD, int8 with half_pixel_centers) nodes, each run alone on
the reference's intermediate tensors for random inputs, equal the
reference's outputs. The SSD model's TILE is version 3, which BUILTIN_REF
does not register: the reference runs a copy with that operator code's
version set to 1 (the same kernel), made here with the fuzzer's patcher."""

import numpy as np
import pytest
from conftest import SHARED

import fuzzing
from single_op import check_seed_nodes

ZOO = SHARED / "models" / "zoo"


def _inputs(shape, dtype, n=2, seed=0):
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "f":
        return [rng.normal(0, 5, shape).astype(dtype) for _ in range(n)]
    return [rng.integers(0, 256, shape).astype(dtype) for _ in range(n)]


def ssd_with_tile_version_1(tmp_path):
    content = (ZOO / "ssd_mobilenet_v1_0.25_192_int8_person.tflite").read_bytes()
    import tflite

    model = tflite.Model.GetRootAsModel(content, 0)
    codes = [k for k in range(model.OperatorCodesLength())
             if model.OperatorCodes(k).BuiltinCode() == tflite.BuiltinOperator.TILE]
    assert codes and model.OperatorCodes(codes[0]).Version() == 3
    path = tmp_path / "ssd_tile_v1.tflite"
    path.write_bytes(fuzzing.patched(content, f"model.operator_codes[{codes[0]}].version", 1))
    return path


@pytest.mark.parametrize("model, op, shape, dtype, count", [
    ("gmp_wl_24_int8_wisdm.tflite", "REDUCE_MAX", (1, 24, 3, 1), np.float32, 1),
    ("mobilenet_v2_0.35_128_int8_person.tflite", "LOGISTIC", (1, 128, 128, 3), np.uint8, 1),
    (None, "RESIZE_BILINEAR", (1, 192, 192, 3), np.uint8, 4),
])
def test_zoo_nodes_match_the_reference(model, op, shape, dtype, count, tmp_path):
    path = ZOO / model if model else ssd_with_tile_version_1(tmp_path)
    inputs = _inputs(shape, dtype)
    assert check_seed_nodes(path, {op}, inputs) == count * len(inputs)
