"""Image decoding and preprocessing (int8sqz.image), as `int8sqz run` does it."""

from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image, ImageOps

from int8sqz.errors import ImageError, UnsupportedError
from int8sqz.image import (
    InputSpec, decode_image, input_spec, load_image, preprocess, resize_nearest,
    to_model_input,
)


def _rng(seed=0):
    return np.random.default_rng(seed)


def _save(tmp_path, name, im, **kw):
    p = tmp_path / name
    im.save(p, **kw)
    return p


def _coords(h, w):
    """An RGB image whose pixel (y, x) holds (x, y, 7): samples reveal their source."""
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x, y, np.full_like(x, 7)], -1).astype(np.uint8)


# -- EXIF orientation ---------------------------------------------------------------
@pytest.mark.parametrize("orientation, expect", [
    (1, lambda a: a),
    (2, lambda a: a[:, ::-1]),
    (3, lambda a: np.rot90(a, 2)),
    (6, lambda a: np.rot90(a, -1)),  # stored rotated: displayed turned 90 degrees clockwise
    (8, lambda a: np.rot90(a, 1)),
])
def test_exif_orientation_is_applied(tmp_path, orientation, expect):
    a = _rng().integers(0, 256, (4, 6, 3), dtype=np.uint8)
    exif = Image.Exif()
    exif[0x0112] = orientation
    p = _save(tmp_path, "o.png", Image.fromarray(a), exif=exif)
    want = np.ascontiguousarray(expect(a))
    got = np.asarray(decode_image(p))
    assert np.array_equal(got, want)
    # and through resizing to the displayed size (nearest at the same size is the identity)
    h, w = want.shape[:2]
    assert np.array_equal(load_image(p, h, w), want)


# -- modes --------------------------------------------------------------------------
def test_greyscale_image_becomes_three_equal_channels(tmp_path):
    g = _rng(1).integers(0, 256, (5, 7), dtype=np.uint8)
    p = _save(tmp_path, "g.png", Image.fromarray(g))
    got = load_image(p, 5, 7)
    assert got.shape == (5, 7, 3) and got.dtype == np.uint8
    assert all(np.array_equal(got[:, :, c], g) for c in range(3))


def test_palette_image_uses_its_palette(tmp_path):
    idx = _rng(2).integers(0, 4, (6, 6), dtype=np.uint8)
    palette = [255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30]
    im = Image.fromarray(idx, "P")
    im.putpalette(palette + [0] * (768 - len(palette)))
    p = _save(tmp_path, "p.png", im)
    got = load_image(p, 6, 6)
    assert np.array_equal(got, np.array(palette, np.uint8).reshape(4, 3)[idx])


def test_palette_with_transparency_prints_no_warning(tmp_path, recwarn):
    im = Image.fromarray(np.zeros((4, 4), np.uint8), "P")
    im.putpalette([9, 8, 7] * 256)
    p = _save(tmp_path, "t.png", im, transparency=b"\x00" * 256)
    assert np.array_equal(load_image(p, 4, 4), np.broadcast_to([9, 8, 7], (4, 4, 3)))
    assert not [w for w in recwarn if "int8sqz" in str(w.filename) or "PIL" in str(w.filename)]


def test_rgba_alpha_is_dropped_not_composited(tmp_path):
    a = _rng(3).integers(0, 256, (4, 5, 4), dtype=np.uint8)
    a[0, 0, 3] = 0  # fully transparent pixel keeps its colour
    p = _save(tmp_path, "a.png", Image.fromarray(a, "RGBA"))
    assert np.array_equal(load_image(p, 4, 5), a[:, :, :3])


def test_sixteen_bit_greyscale_is_scaled_to_eight_bits(tmp_path):
    v = np.array([[0, 128, 129, 385, 386, 32896, 65407, 65535]], np.uint16)
    p = _save(tmp_path, "i16.png", Image.fromarray(v))
    assert Image.open(p).mode.startswith("I;16")
    got = load_image(p, 1, 8, 1)[:, :, 0]
    # round(v / 257): 128.5 -> never a tie, 385/257 = 1.498 -> 1, 386/257 = 1.502 -> 2
    assert got.tolist() == [[0, 0, 1, 1, 2, 128, 255, 255]]
    assert np.array_equal(load_image(p, 1, 8, 3), np.repeat(got[:, :, None], 3, axis=2))


def test_cmyk_jpeg_is_converted_to_rgb(tmp_path):
    im = Image.new("CMYK", (16, 16), (255, 0, 0, 0))  # cyan
    p = _save(tmp_path, "c.jpg", im, quality=95)
    assert Image.open(p).mode == "CMYK"
    got = load_image(p, 16, 16)
    assert np.array_equal(got, np.asarray(Image.open(p).convert("RGB")))
    r, g, b = (int(v) for v in got[8, 8])
    assert r < 16 and g > 239 and b > 239  # cyan, give or take the JPEG codec


def test_one_channel_model_gets_pillow_luma(tmp_path):
    a = _rng(4).integers(0, 256, (6, 9, 3), dtype=np.uint8)
    p = _save(tmp_path, "rgb.png", Image.fromarray(a))
    got = load_image(p, 6, 9, channels=1)
    assert got.shape == (6, 9, 1)
    c = a.astype(np.int64)
    luma = (c[..., 0] * 19595 + c[..., 1] * 38470 + c[..., 2] * 7471 + 0x8000) >> 16  # ITU-R 601-2
    assert np.array_equal(got[:, :, 0], luma)


def test_animated_gif_uses_the_first_frame(tmp_path):
    frames = [Image.new("RGB", (4, 4), c) for c in ((255, 0, 0), (0, 0, 255))]
    p = tmp_path / "anim.gif"
    frames[0].save(p, save_all=True, append_images=frames[1:])
    assert np.array_equal(load_image(p, 4, 4), np.broadcast_to([255, 0, 0], (4, 4, 3)))


# -- resizing -----------------------------------------------------------------------
@pytest.mark.parametrize("src", [(300, 500), (97, 131), (128, 128), (64, 50), (1, 1), (1000, 333)])
@pytest.mark.parametrize("dst", [(128, 128), (96, 160), (7, 3)])
def test_nearest_is_half_pixel_centre_sampling(src, dst):
    h, w = src
    H, W = dst
    a = _rng(h * w).integers(0, 256, (h, w, 3), dtype=np.uint8)
    got = resize_nearest(a, H, W)
    assert got.shape == (H, W, 3) and got.flags.c_contiguous
    rows = [int(np.floor((i + 0.5) * h / H)) for i in range(H)]
    cols = [int(np.floor((j + 0.5) * w / W)) for j in range(W)]
    assert np.array_equal(got, a[rows][:, cols])
    if dst == (128, 128):
        # in / 128 is exact in floating point: the same as Pillow's NEAREST (at other
        # ratios Pillow's float arithmetic can land just below an exact tie)
        assert np.array_equal(got, np.asarray(Image.fromarray(a).resize((W, H), Image.NEAREST)))


def test_nearest_to_128_matches_tensorflow_float32_sampling():
    # tf.image.resize(method="nearest"): floor((i + 0.5) * float32(in / out)), clamped
    for n in (50, 129, 255, 256, 333, 500, 1024, 4000):
        scale = np.float32(n) / np.float32(128)
        tf_idx = np.minimum(np.floor((np.arange(128, dtype=np.float32) + np.float32(0.5)) * scale),
                            n - 1).astype(np.int64)
        a = np.arange(n, dtype=np.int64).reshape(1, n, 1)
        assert np.array_equal(resize_nearest(a, 1, 128)[0, :, 0], tf_idx)


def test_load_image_sizes_and_aspect_ratio_not_kept(tmp_path):
    p = _save(tmp_path, "c.png", Image.fromarray(_coords(40, 100)))
    got = load_image(p, 16, 8)
    assert got.shape == (16, 8, 3)
    assert got[0, :, 0].tolist() == [int((2 * j + 1) * 100 // 16) for j in range(8)]
    assert got[:, 0, 1].tolist() == [int((2 * i + 1) * 40 // 32) for i in range(16)]


def test_bilinear_is_pillows_filter_and_differs_from_nearest(tmp_path):
    a = _rng(5).integers(0, 256, (60, 90, 3), dtype=np.uint8)
    p = _save(tmp_path, "n.png", Image.fromarray(a))
    got = load_image(p, 20, 25, resize="bilinear")
    assert got.shape == (20, 25, 3) and got.dtype == np.uint8
    assert np.array_equal(got, np.asarray(Image.fromarray(a).resize((25, 20), Image.BILINEAR)))
    assert not np.array_equal(got, load_image(p, 20, 25))
    gl = load_image(p, 20, 25, channels=1, resize="bilinear")
    assert gl.shape == (20, 25, 1)


def test_unknown_resize_method_is_refused(tmp_path):
    p = _save(tmp_path, "x.png", Image.new("RGB", (2, 2)))
    with pytest.raises(ValueError, match="resize"):
        load_image(p, 2, 2, resize="bicubic")


# -- bad files ----------------------------------------------------------------------
def _bad_files(tmp_path):
    good = tmp_path / "good.jpg"
    Image.fromarray(_rng(6).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(good, quality=90)
    data = good.read_bytes()
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "text.jpg").write_text("this is not an image\n")
    (tmp_path / "truncated.jpg").write_bytes(data[: len(data) // 2])
    (tmp_path / "adir").mkdir()
    return {
        "empty.jpg": "empty (0 bytes)",
        "text.jpg": "not an image Pillow can read",
        "truncated.jpg": "truncated",
        "adir": "is a directory",
        "missing.png": "cannot read the file (No such file or directory)",
    }


def test_bad_files_raise_one_line_image_errors(tmp_path):
    for name, what in _bad_files(tmp_path).items():
        p = tmp_path / name
        with pytest.raises(ImageError) as info:
            load_image(p, 8, 8)
        msg = str(info.value)
        assert msg.startswith(f"{p}: ") and what in msg and "\n" not in msg, msg


def test_decompression_bomb_is_refused_before_decoding(tmp_path):
    p = _save(tmp_path, "bomb.png", Image.new("1", (10000, 10000)))  # 100 Mpx, a few KB
    assert p.stat().st_size < 100_000
    with pytest.raises(ImageError, match=r"10000x10000 = 100000000 pixels, more than the limit "
                                         r"of 50000000"):
        load_image(p, 8, 8)
    small = _save(tmp_path, "small.png", Image.new("RGB", (100, 100)))
    with pytest.raises(ImageError, match="limit of 9999"):
        load_image(small, 8, 8, max_pixels=9999)
    assert load_image(small, 8, 8, max_pixels=10000).shape == (8, 8, 3)


# -- model input --------------------------------------------------------------------
def _fake_model(shape, type_name, n_inputs=1):
    t = SimpleNamespace(index=0, name="in", shape=tuple(shape), type_name=type_name)
    return SimpleNamespace(source="m.tflite", inputs=(0,) * n_inputs, tensors=[t])


def test_input_spec_and_conversions():
    px = _rng(7).integers(0, 256, (4, 5, 3), dtype=np.uint8)
    s = input_spec(_fake_model((1, 4, 5, 3), "UINT8"))
    assert (s.height, s.width, s.channels, s.dtype) == (4, 5, 3, np.uint8)
    assert np.array_equal(to_model_input(px, s), px[None])
    s8 = input_spec(_fake_model((1, 4, 5, 3), "INT8"))
    v = to_model_input(px, s8)
    assert v.dtype == np.int8 and np.array_equal(v.astype(np.int16), px[None].astype(np.int16) - 128)
    sf = input_spec(_fake_model((1, 4, 5, 3), "FLOAT32"))
    v = to_model_input(px, sf)
    assert v.dtype == np.float32 and np.array_equal(v, px[None].astype(np.float32))


@pytest.mark.parametrize("shape, type_name, n, what", [
    ((1, 4, 4, 3), "INT16", 1, "has type INT16, expected UINT8, INT8 or FLOAT32"),
    ((1, 4, 4, 2), "UINT8", 1, "expected [1, height, width, 1 or 3]"),
    ((2, 4, 4, 3), "UINT8", 1, "expected [1, height, width, 1 or 3]"),
    ((1, 16, 3), "UINT8", 1, "expected [1, height, width, 1 or 3]"),
    ((1, 4, 4, 3), "UINT8", 2, "has 2 inputs, expected 1 image input"),
])
def test_input_spec_refuses_non_image_inputs(shape, type_name, n, what):
    with pytest.raises(UnsupportedError) as info:
        input_spec(_fake_model(shape, type_name, n))
    assert what in str(info.value) and str(info.value).startswith("m.tflite: ")


def test_preprocess_photo_is_uint8_batch_of_one(seed_models):
    from conftest import IMAGES_DIR

    photo = sorted((IMAGES_DIR / "flowers" / "daisy").glob("*.jpg"))[0]
    spec = InputSpec(128, 128, 3, np.uint8, (1, 128, 128, 3))
    v = preprocess(photo, spec)
    assert v.shape == (1, 128, 128, 3) and v.dtype == np.uint8 and v.flags.c_contiguous
    full = np.asarray(ImageOps.exif_transpose(Image.open(photo)).convert("RGB"))
    assert np.array_equal(v[0], resize_nearest(full, 128, 128))
