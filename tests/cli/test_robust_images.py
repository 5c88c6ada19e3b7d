"""Images from cameras and scrapers: every kind is either converted as
int8sqz.image documents, or refused with one ImageError line that starts with
the file's name; `int8sqz run` then prints that line and exits 2.

tests/cli/test_image.py covers the documented conversions (EXIF on PNG, grey,
palette, RGBA, 16-bit grey, CMYK, first GIF frame) and the basic bad files;
here: the other modes and formats, EXIF on JPEG photos, decompression bombs
declared in headers, corrupt and truncated files of every format, and a
fuzzer (hypothesis) whose cases run in the worker subprocess, so that a
decoder crash or hang is a failure, never a dead test session."""

import io
import struct
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from PIL import Image, ImageOps

import fuzzing
from conftest import IMAGES_DIR
from int8sqz import cli
from int8sqz.errors import ImageError
from int8sqz.image import decode_image, load_image


@pytest.fixture(autouse=True, scope="module")
def _report(pytestconfig):
    fuzzing.register_report(pytestconfig)


def _photo():
    return sorted((IMAGES_DIR / "flowers" / "daisy").glob("*.jpg"))[0]


def _png(width, height, color_type, bit_depth, rows):
    """A PNG written chunk by chunk (modes Pillow does not save)."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    raw = b"".join(b"\x00" + r for r in rows)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))


def _one_error_line(exc_info, path):
    msg = str(exc_info.value)
    assert msg.startswith(f"{path}: ") and "\n" not in msg, msg
    return msg


# -- modes and formats, converted as documented ------------------------------------------

def test_sixteen_bit_colour_png_keeps_the_high_byte(tmp_path):
    # Pillow's PNG decoder reduces 16-bit colour to 8 bits by dropping the low
    # byte (documented in int8sqz.image); 16-bit grey is rounded (test_image.py)
    px = np.array([[[0x80FF, 0x0101, 0xFFFF], [0x0080, 0x7F80, 0x1234]]], dtype=">u2")
    p = tmp_path / "rgb16.png"
    p.write_bytes(_png(2, 1, 2, 16, [px[0].tobytes()]))
    assert np.array_equal(load_image(p, 1, 2), (px.astype(np.uint32) >> 8).astype(np.uint8))
    pxa = np.array([[[0x80FF, 0x0101, 0xFFFF, 0x1000]]], dtype=">u2")  # with alpha: dropped
    p = tmp_path / "rgba16.png"
    p.write_bytes(_png(1, 1, 6, 16, [pxa[0].tobytes()]))
    assert load_image(p, 1, 1).reshape(-1).tolist() == [0x80, 0x01, 0xFF]


def test_grey_with_alpha_drops_the_alpha(tmp_path):
    la = np.stack([np.arange(12, dtype=np.uint8).reshape(3, 4) * 20,
                   np.full((3, 4), 7, np.uint8)], -1)
    p = tmp_path / "la.png"
    Image.fromarray(la, "LA").save(p)
    got = load_image(p, 3, 4)
    assert all(np.array_equal(got[:, :, c], la[:, :, 0]) for c in range(3))
    assert np.array_equal(load_image(p, 3, 4, channels=1)[:, :, 0], la[:, :, 0])


def test_one_bit_and_float_images(tmp_path):
    bits = np.array([[0, 1, 1], [1, 0, 0]], bool)
    p = tmp_path / "bits.png"
    Image.fromarray(bits).convert("1").save(p)
    assert np.array_equal(load_image(p, 2, 3)[:, :, 0], bits.astype(np.uint8) * 255)
    # 32-bit float (TIFF "F"): Pillow's conversion, clipped to 0..255 and truncated
    f = np.array([[1.5, 2.5, -3.0, 300.0, 254.6, np.nan]], np.float32)
    p = tmp_path / "float.tif"
    Image.fromarray(f).save(p)
    assert load_image(p, 1, 6)[0, :, 0].tolist() == [1, 2, 0, 255, 254, 0]


@pytest.mark.parametrize("fmt, suffix, mode", [
    ("BMP", ".bmp", "RGB"), ("GIF", ".gif", "P"), ("WEBP", ".webp", "RGB"),
    ("TIFF", ".tif", "CMYK"), ("TIFF", ".tif", "I;16"), ("JPEG", ".jpg", "L"),
    ("TIFF", ".tif", "I"),
])
def test_other_formats_and_modes_are_converted_like_pillow_does(tmp_path, fmt, suffix, mode):
    rgb = Image.open(_photo()).convert("RGB").resize((16, 12))
    if mode == "I;16":
        im = Image.fromarray(np.asarray(rgb.convert("L")).astype(np.uint16) * 257)
    elif mode == "I":
        im = Image.fromarray(np.asarray(rgb.convert("L")).astype(np.int32) * 257)
    else:
        im = rgb.convert(mode)
    p = tmp_path / f"x{suffix}"
    im.save(p, format=fmt)
    got = load_image(p, 12, 16)
    reread = Image.open(p)
    if reread.mode in ("I;16", "I"):  # 16-bit: round(v / 257) (test_image.py)
        want = np.asarray(rgb.convert("L"))
        assert all(np.array_equal(got[:, :, c], want) for c in range(3))
    else:
        assert np.array_equal(got, np.asarray(reread.convert("RGB")))


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_of_a_jpeg_photo(tmp_path, orientation):
    # the photo re-encoded with an EXIF orientation tag: decoding applies it
    exif = Image.Exif()
    exif[0x0112] = orientation
    src = Image.open(_photo()).convert("RGB").resize((40, 30))
    p = tmp_path / f"o{orientation}.jpg"
    src.save(p, exif=exif.tobytes(), quality=90)
    stored = Image.open(p)
    raw = np.asarray(stored.convert("RGB"))
    want = {
        1: raw, 2: raw[:, ::-1], 3: raw[::-1, ::-1], 4: raw[::-1],
        5: np.transpose(raw, (1, 0, 2)), 6: np.rot90(raw, -1),
        7: np.transpose(np.rot90(raw, 2), (1, 0, 2)), 8: np.rot90(raw, 1),
    }[orientation]
    got = np.asarray(decode_image(p))
    assert got.shape == want.shape and np.array_equal(got, want)
    assert np.array_equal(got, np.asarray(ImageOps.exif_transpose(stored).convert("RGB")))


# -- refused, one line naming the file --------------------------------------------------

def _declared_size_png(width, height):
    """A valid PNG header (checksums right) declaring width x height, with the
    pixel data of one pixel."""
    return _png(width, height, 2, 8, [b"\x00\x00\x00"])


def _jpeg_with_size(width, height):
    data = bytearray(fuzzing.image_seeds()["jpeg"][0])
    (h_pos, _), (w_pos, _) = fuzzing._dimension_sites(bytes(data), ".jpg")
    struct.pack_into(">H", data, h_pos, height)
    struct.pack_into(">H", data, w_pos, width)
    return bytes(data)


@pytest.mark.parametrize("name, content, what", [
    ("bomb.png", _declared_size_png(100_000, 100_000), "decompression bomb"),
    ("bomb.jpg", _jpeg_with_size(65500, 65500), "decompression bomb"),
    ("bomb2.png", _declared_size_png(20_000, 5_000), "100000000 pixels, more than the limit"),
    ("zero.png", _declared_size_png(0, 5), None),
    ("empty.png", b"", "empty (0 bytes)"),
    ("signature.png", b"\x89PNG\r\n\x1a\n", None),
    ("header.jpg", b"\xff\xd8\xff\xe0", None),
    ("text.gif", b"GIF89a but not really", None),
])
def test_bad_headers_are_refused_before_decoding(tmp_path, name, content, what):
    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(ImageError) as info:
        load_image(p, 8, 8)
    msg = _one_error_line(info, p)
    if what:
        assert what in msg


@pytest.mark.parametrize("width, height", [(100_000, 100_000), (65500, 65500), (9000, 6000)])
def test_cli_refuses_decompression_bombs_with_its_own_limit(tmp_path, capsys, seed_models,
                                                           width, height):
    # the command lifts Pillow's own limit (178,956,970 pixels) and applies
    # --max-pixels (default 50,000,000) before any pixel is decoded
    p = tmp_path / "bomb.png"
    p.write_bytes(_declared_size_png(width, height))
    code = cli.main(["run", str(seed_models["flowers"]), str(p)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert err.startswith(f"int8sqz: error: {p}: the image is {width}x{height} = "
                          f"{width * height} pixels, more than the limit of 50000000"), err


def test_pixel_limit_is_configurable(tmp_path, capsys, seed_models):
    p = tmp_path / "wide.png"
    Image.new("RGB", (3000, 2000)).save(p)
    with pytest.raises(ImageError, match="6000000 pixels, more than the limit of 5999999"):
        load_image(p, 8, 8, max_pixels=5_999_999)
    assert load_image(p, 8, 8, max_pixels=6_000_000).shape == (8, 8, 3)
    code = cli.main(["run", "--max-pixels", "5999999", str(seed_models["flowers"]), str(p)])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith(f"int8sqz: error: {p}: ") and err.count("\n") == 1


@pytest.mark.parametrize("seed", sorted(fuzzing.image_seeds()))
def test_truncated_and_corrupt_files_of_each_format(seed):
    # every cut and a few corruptions of each seed image, in the worker
    content, suffix = fuzzing.image_seeds()[seed]
    cuts = sorted({0, 1, 4, 8, 16, 33, 64, len(content) // 3, len(content) // 2,
                   len(content) - 10, len(content) - 1})
    for cut in cuts:
        case = fuzzing.ImageCase("image-files", content[:cut], suffix, f"{seed} cut at {cut}")
        assert fuzzing.check_image(case) in ("decoded", "refused")
    rng = np.random.default_rng(len(content))
    for k in range(4):
        data = bytearray(content)
        pos = int(rng.integers(len(data) // 4, len(data)))
        data[pos:pos + 16] = rng.integers(0, 256, 16, dtype=np.uint8).tobytes()
        case = fuzzing.ImageCase("image-files", bytes(data), suffix, f"{seed} garbled at {pos}")
        assert fuzzing.check_image(case) in ("decoded", "refused")
    whole = fuzzing.ImageCase("image-files", content, suffix, f"{seed} as it is")
    assert fuzzing.check_image(whole) == "decoded"


def test_cli_names_each_bad_image_and_classifies_the_rest(tmp_path, seed_models):
    good = _photo()
    bad = tmp_path / "cut.png"
    bad.write_bytes(fuzzing.image_seeds()["png"][0][:100])
    adir = tmp_path / "adir.jpg"
    adir.mkdir()
    out, err = io.StringIO(), io.StringIO()
    import contextlib
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(["run", str(seed_models["flowers"]), str(bad), str(good), str(adir)])
    lines = err.getvalue().splitlines()
    assert code == 2 and len(lines) == 2
    assert lines[0].startswith(f"int8sqz: error: {bad}: ")
    assert lines[1].startswith(f"int8sqz: error: {adir}: ") and "directory" in lines[1]
    assert out.getvalue().startswith(f"{good}\n")


# -- the fuzzer -------------------------------------------------------------------------

@settings(max_examples=fuzzing.budget("images"),
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(fuzzing.image_strategy())
def test_fuzzed_images(case):
    fuzzing.check_image(case)


def test_pillow_log_lines_do_not_reach_the_command_line():
    # long-run fuzz finding: a TIFF whose samples-per-pixel field was flipped
    # made Pillow log an error line to stderr before int8sqz's own line
    content, suffix = fuzzing.image_seeds()["tiff"]
    data = bytearray(content)
    data[3588] ^= 1 << 1
    case = fuzzing.ImageCase("regression", bytes(data), suffix, "tiff bit 3588.1")
    assert fuzzing.check_image(case) == "refused"
