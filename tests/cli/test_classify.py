"""int8sqz.classify, the classifier `int8sqz run` (and eval) share: the
scores of one input are the reference's output dequantized; a batch gives
exactly the scores of its inputs one at a time, also when the model takes
one input at a time or cannot compute one of them; top-k ranks ties lower
class index first; labels come from the given file, else from beside the
model, else none."""

import numpy as np
import pytest
from conftest import IMAGES_DIR, SEED_MODELS

from int8sqz.classify import Classifier, resolve_labels, top_k
from int8sqz.errors import ComputeError, LabelsError, UnsupportedError
from int8sqz.testing.reference import run_reference
from int8sqz.testing.writer import GraphBuilder

FLOWERS = SEED_MODELS["flowers"]
PHOTOS = sorted((IMAGES_DIR / "flowers").rglob("*.jpg"))[:5]


def _dequantized(content_or_path, value, scale, zero_point):
    (out,) = run_reference(content_or_path, [value])
    assert out.dtype in (np.uint8, np.int8)
    return [scale * (int(q) - zero_point) for q in out.reshape(-1)]


def _float_scores(content_or_path, value):
    """float32 scores as the shortest decimals that read back as the same float32."""
    (out,) = run_reference(content_or_path, [value])
    assert out.dtype == np.float32
    scores = [float(str(s)) for s in out.reshape(-1)]
    assert np.array_equal(np.float32(scores), out.reshape(-1))
    return scores


# -- scores -------------------------------------------------------------------------

def test_scores_are_the_reference_output_dequantized():
    # flowers: float32 scores (a DEQUANTIZE at the end); plant-village: uint8
    clf = Classifier(str(FLOWERS))
    assert clf.num_classes == 5 and clf.spec.shape == (1, 128, 128, 3)
    for photo in PHOTOS[:2]:
        value = clf.preprocess(photo)
        assert clf.scores(value) == _float_scores(str(FLOWERS), value)
    plant = SEED_MODELS["plant-village"]
    clf = Classifier(str(plant))
    scale, zero_point = clf.interpreter.get_output_details()[0]["quantization"]
    assert scale > 0
    for photo in sorted((IMAGES_DIR / "plant_village").rglob("*.jpg"))[:2]:
        value = clf.preprocess(photo)
        assert clf.scores(value) == _dequantized(str(plant), value, scale, zero_point)


@pytest.mark.parametrize("threads", [1, 2])
def test_a_batch_scores_its_inputs_as_one_at_a_time(threads):
    alone = Classifier(str(FLOWERS))
    values = [alone.preprocess(p) for p in PHOTOS]
    want = [alone.scores(v) for v in values]
    clf = Classifier(str(FLOWERS), threads=threads)
    assert clf.scores_batch(values) == want
    assert clf.scores_batch(values[1:4]) == want[1:4]  # another batch size
    assert clf.scores(values[0]) == want[0]  # and one alone again
    assert clf.scores_batch([]) == []


def _softmax_classifier():
    """A one-channel 1x600 image whose pixels are the logits of a 600-class
    SOFTMAX: a flat image is 600 equal logits, which TFLite's reference
    aborts on (their exponentials sum past 512); a varied one is fine."""
    g = GraphBuilder()
    x = g.input("image", (1, 1, 600, 1), "UINT8", scale=0.1, zero_point=0)
    axes = g.constant("axes", np.array([3], np.int32))
    logits = g.tensor("logits", (1, 1, 600), "UINT8", scale=0.1, zero_point=0)
    g.operator("MEAN", [x, axes], logits, keep_dims=False)
    y = g.tensor("probs", (1, 1, 600), "UINT8", scale=1 / 256, zero_point=0)
    g.operator("SOFTMAX", [logits], y, beta=1.0)
    g.output(y)
    return g.build()


def test_an_input_the_model_cannot_compute_has_its_error_in_the_batch(tmp_path):
    model = tmp_path / "softmax.tflite"
    model.write_bytes(_softmax_classifier())
    rng = np.random.default_rng(4)
    good = [rng.integers(0, 256, (1, 1, 600, 1)).astype(np.uint8) for _ in range(3)]
    flat = np.full((1, 1, 600, 1), 7, np.uint8)
    clf = Classifier(str(model), threads=2)
    assert clf.num_classes == 600
    want = [_dequantized(model.read_bytes(), v, float(np.float32(1 / 256)), 0) for v in good]
    got = clf.scores_batch([good[0], flat, good[1], good[2]])
    assert isinstance(got[1], ComputeError) and "SOFTMAX" in str(got[1])
    assert [got[0], got[2], got[3]] == want
    with pytest.raises(ComputeError, match="SOFTMAX"):
        clf.scores(flat)
    assert clf.scores_batch(good) == want  # batches still run after a refusal


def _mean_classifier(batch_axis: bool):
    """3 classes: the mean of each colour of a 2x2 image (over the batch
    too when ``batch_axis``: then a batch has one row of scores, not one per
    image); float32 scores through DEQUANTIZE."""
    g = GraphBuilder()
    x = g.input("image", (1, 2, 2, 3), "UINT8", scale=0.5, zero_point=3)
    axes = [0, 1, 2] if batch_axis else [1, 2]
    ax = g.constant("axes", np.array(axes, np.int32))
    shape = (3,) if batch_axis else (1, 3)
    m = g.tensor("m", shape, "UINT8", scale=0.5, zero_point=3)
    g.operator("MEAN", [x, ax], m, keep_dims=False)
    y = g.tensor("scores", shape, "FLOAT32")
    g.operator("DEQUANTIZE", [m], y)
    g.output(y)
    return g.build()


@pytest.mark.parametrize("how", ["output not one row per image", "activation limit"])
def test_a_model_that_takes_one_input_at_a_time(tmp_path, how):
    model = tmp_path / "mean.tflite"
    model.write_bytes(_mean_classifier(batch_axis=how == "output not one row per image"))
    # one image's activations: 12 + 3 + 12 bytes; a batch of 2 needs more
    limit = 27 if how == "activation limit" else 1 << 20
    rng = np.random.default_rng(8)
    values = [rng.integers(0, 256, (1, 2, 2, 3)).astype(np.uint8) for _ in range(4)]
    want = [_float_scores(model.read_bytes(), v) for v in values]
    clf = Classifier(str(model), max_activation_bytes=limit)
    assert clf.scores_batch(values) == want
    assert clf.scores_batch(values[:2]) == want[:2]
    assert clf.interpreter.get_input_details()[0]["shape"][0] == 1


def test_a_model_that_is_not_a_classifier_is_refused(tmp_path):
    g = GraphBuilder()
    x = g.input("image", (1, 2, 2, 3), "UINT8", scale=0.5, zero_point=3)
    y = g.tensor("y", (1, 2, 2, 3), "UINT8", scale=0.5, zero_point=3)
    g.operator("MAX_POOL_2D", [x], y, padding="SAME", stride_h=1, stride_w=1,
               filter_height=1, filter_width=1)
    g.output(y)
    model = tmp_path / "pool.tflite"
    model.write_bytes(g.build())
    with pytest.raises(UnsupportedError, match=r"shape \[1, 2, 2, 3\], expected \[1, classes\]"):
        Classifier(str(model))


# -- top-k ----------------------------------------------------------------------------

def test_top_k_ranks_ties_lower_index_first():
    scores = [0.25, 0.5, 0.125, 0.5, 0.25]
    assert top_k(scores, 3) == [1, 3, 0]
    assert top_k(scores, 5) == [1, 3, 0, 4, 2]
    assert top_k(scores, 99) == [1, 3, 0, 4, 2]
    assert top_k(scores, 1) == [1] and top_k(scores, 0) == []
    assert top_k([0.0] * 4, 2) == [0, 1]


# -- labels ----------------------------------------------------------------------------

def test_labels_given_beside_the_model_or_none(tmp_path):
    model = tmp_path / "m.tflite"
    model.write_bytes(b"")  # never read: labels only need the path
    assert resolve_labels(model, 2) is None
    (tmp_path / "m.labels.txt").write_text("cat\ndog\n")
    assert resolve_labels(model, 2) == ["cat", "dog"]
    given = tmp_path / "other.txt"
    given.write_text("a\nb\n")
    assert resolve_labels(model, 2, given) == ["a", "b"]
    with pytest.raises(LabelsError, match="3 labels, expected 2"):
        given.write_text("a\nb\nc\n")
        resolve_labels(model, 2, given)
    with pytest.raises(LabelsError, match="cannot read"):
        resolve_labels(model, 2, tmp_path / "missing.txt")
    assert resolve_labels(FLOWERS, 5) == (
        FLOWERS.with_name(FLOWERS.stem + ".labels.txt").read_text().splitlines())
