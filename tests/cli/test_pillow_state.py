"""Pillow's process-wide settings (its pixel limit, the warning filters, the
"PIL" logger's level) are the caller's before and after int8sqz decodes:
int8sqz replaces them only while it decodes, also when threads decode at
once, and `int8sqz run` in-process leaves them as it found them."""

import logging
import threading
import warnings

import numpy as np
import pytest
from conftest import IMAGES_DIR, SEED_MODELS
from PIL import Image

from int8sqz import cli
from int8sqz.image import decode_image

PHOTOS = sorted((IMAGES_DIR / "flowers").rglob("*.jpg"))[:4]


def _state():
    return (Image.MAX_IMAGE_PIXELS, logging.getLogger("PIL").level, list(warnings.filters))


@pytest.fixture
def caller_settings(monkeypatch):
    """A caller's own settings, none of them Pillow's defaults: a pixel limit
    smaller than any photo (Pillow would refuse them at twice that) and a
    logger level; restored after the test by monkeypatch."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    logger = logging.getLogger("PIL")
    level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        yield _state()
    finally:
        logger.setLevel(level)


def test_run_in_process_leaves_pillows_settings_as_it_found_them(caller_settings, capsys):
    photo = PHOTOS[0]
    width, height = decode_image(photo).size
    assert width * height > 2 * Image.MAX_IMAGE_PIXELS  # Pillow alone refuses it
    assert cli.main(["run", str(SEED_MODELS["flowers"]), str(photo)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith(f"{photo}\n") and err == ""
    assert _state() == caller_settings


def test_decoding_replaces_the_limit_only_while_it_runs(caller_settings, tmp_path):
    # int8sqz's limit replaces Pillow's: the photo decodes although Pillow
    # itself would refuse it now, and max_pixels=None is no limit at all
    with pytest.raises(Image.DecompressionBombError):
        Image.open(PHOTOS[0])
    assert decode_image(PHOTOS[0], max_pixels=None).mode == "RGB"
    assert _state() == caller_settings


def test_pillows_warnings_are_silenced_only_while_decoding(tmp_path):
    # a palette image with its transparency in bytes: Pillow warns on convert
    p = tmp_path / "palette.png"
    im = Image.new("P", (4, 4))
    im.putpalette([0, 0, 0, 255, 0, 0] * 128)
    im.save(p, transparency=b"\x00\x80")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        before = list(warnings.filters)
        rgb = decode_image(p)
        assert caught == [] and list(warnings.filters) == before
        Image.open(p).convert("RGB")  # the caller's own call warns as Pillow does
    assert rgb.mode == "RGB" and len(caught) == 1 and "Transparency" in str(caught[0].message)


def test_threads_decoding_at_once_restore_the_callers_settings(caller_settings):
    want = [np.asarray(decode_image(p)) for p in PHOTOS]
    errors = []
    start = threading.Barrier(4)

    def work(k):
        try:
            start.wait()
            for j in range(8):
                i = (k + j) % len(PHOTOS)
                assert np.array_equal(np.asarray(decode_image(PHOTOS[i])), want[i])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert _state() == caller_settings
