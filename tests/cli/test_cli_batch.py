"""`int8sqz run` on many images: in batches (and threads), with a bad
image among them, it prints exactly what one image at a time prints; the
compile notice appears once, only while numba compiles for longer than
its delay."""

import time

import numba
from conftest import IMAGES_DIR, SEED_MODELS

from int8sqz import cli

FLOWERS = SEED_MODELS["flowers"]


def _run(capsys, *args):
    status = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return status, out, err


def test_batches_and_threads_print_what_one_image_at_a_time_prints(capsys, tmp_path):
    photos = sorted((IMAGES_DIR / "flowers").rglob("*.jpg"))[:9]
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not an image")
    images = photos[:4] + [bad] + photos[4:]
    alone = _run(capsys, "run", FLOWERS, *images, "--json", "--batch-size", "1", "--threads", "1")
    assert alone[0] == cli.EXIT_BAD_INPUT
    assert alone[1].count("\n") == 9 and "broken.jpg" in alone[2]
    for batch, threads in [(4, 1), (4, 2), (3, 3), (32, 2)]:
        got = _run(capsys, "run", FLOWERS, *images, "--json", "--batch-size", batch,
                   "--threads", threads)
        assert got == alone, (batch, threads)


def _compile_something(tag):
    # a function numba has not seen: two signatures, two compilations
    f = numba.njit(lambda x: x + tag)
    f(1)
    f(1.5)


def test_compile_notice_once_when_compiling_takes_long(monkeypatch, capsys):
    monkeypatch.setattr(cli, "COMPILE_NOTICE_DELAY", 0.01)
    notice = cli._CompileNotice().start()
    _compile_something(1)
    time.sleep(0.3)
    _compile_something(2)
    time.sleep(0.3)
    notice.stop()
    assert capsys.readouterr().err.count("compiling the kernels") == 1


def test_no_compile_notice_when_compiling_is_short_or_absent(monkeypatch, capsys):
    monkeypatch.setattr(cli, "COMPILE_NOTICE_DELAY", 0.5)
    notice = cli._CompileNotice().start()
    time.sleep(0.6)  # nothing compiles: no notice
    _compile_something(3)
    notice.stop()  # done before the delay: no notice
    time.sleep(0.6)
    assert "compiling" not in capsys.readouterr().err
