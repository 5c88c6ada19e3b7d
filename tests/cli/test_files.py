"""Files and streams (issue 16): whatever the file system hands over, the
command neither hangs nor reads without bound nor loses the other inputs.

Every case runs ``int8sqz`` in a subprocess with a time limit and an
address-space limit (tests/cli_process.py): a FIFO that blocks fails its
test within seconds; an endless stream read to the end fails on its
memory limit (exit 1) instead of swapping. Standard output is strict UTF-8.
Each finding of the issue has its test here; each failed before the change
that fixed it (run them with ``PYTHONPATH=<an older tree>`` to see)."""

import json
import os
import socket
import struct
import subprocess
import threading
import zlib
from xml.etree import ElementTree

import pytest
from conftest import IMAGES_DIR, SEED_MODELS

import cli_process
from cli_process import lines

FLOWERS = SEED_MODELS["flowers"]
LABELS = FLOWERS.with_name(FLOWERS.stem + ".labels.txt")
PHOTOS = sorted((IMAGES_DIR / "flowers" / "daisy").glob("*.jpg"))[:2]
ERROR = "int8sqz: error: "


@pytest.fixture(scope="module")
def warm(tmp_path_factory):
    """One run with a generous time limit: numba compiles (or loads) the
    kernels here, so that the time limits below are about hangs only."""
    p = cli_process.run("run", FLOWERS, PHOTOS[0], cwd=tmp_path_factory.mktemp("warm"),
                        timeout=900)
    assert p.returncode == 0, p.stderr
    return lines(p.stdout)


def _one_error(p, name, what):
    (line,) = lines(p.stderr)
    assert line.startswith(f"{ERROR}{name}: ") and what in line, line
    return line


@pytest.fixture
def odd_files(tmp_path):
    """A FIFO, a directory, a socket."""
    os.mkfifo(tmp_path / "fifo.jpg")
    (tmp_path / "folder.jpg").mkdir()
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp_path / "socket.jpg"))
    yield tmp_path
    sock.close()


# -- what is not a regular file ----------------------------------------------------------

def test_fifos_devices_directories_and_sockets_as_images_are_refused_and_the_rest_run(
        warm, odd_files):
    # issue 16: a FIFO hung `int8sqz run` forever, the photos after it never ran;
    # /dev/stdout is the command's own pipe here (reading it would wait forever)
    bad = [("fifo.jpg", "is a FIFO (named pipe)"), ("folder.jpg", "is a directory"),
           ("/dev/zero", "is a character device"), ("socket.jpg", "is a socket"),
           ("/dev/null", "is a character device"),
           ("/dev/stdout", "is a pipe whose writing end this process holds")]
    a, b = PHOTOS
    p = cli_process.run("run", FLOWERS, a, *[name for name, _ in bad], b, cwd=odd_files,
                        timeout=30)
    assert p.returncode == 2
    errors = lines(p.stderr)
    assert len(errors) == len(bad), errors
    for line, (name, what) in zip(errors, bad):
        assert line.startswith(f"{ERROR}{name}: {what}"), line
    out = lines(p.stdout)
    assert out[:6] == warm and out[6] == str(b) and len(out) == 12


@pytest.mark.parametrize("command", ["run", "memplan"])
@pytest.mark.parametrize("name, what", [
    ("fifo.tflite", "is a FIFO (named pipe), expected a .tflite file"),
    ("/dev/zero", "is a character device, expected a .tflite file"),
])
def test_fifos_and_devices_as_models_are_refused(warm, tmp_path, command, name, what):
    # issue 16: a FIFO hung run and memplan; /dev/zero was read until memory ran
    # out and reported with exit 1
    os.mkfifo(tmp_path / "fifo.tflite")
    args = ["run", name, PHOTOS[0]] if command == "run" else ["memplan", name]
    p = cli_process.run(*args, cwd=tmp_path, timeout=30)
    assert p.returncode == 2 and p.stdout == b""
    _one_error(p, name, what)


@pytest.mark.parametrize("name, what", [
    ("fifo.txt", "is a FIFO (named pipe), expected a label file"),
    ("/dev/zero", "is a character device, expected a label file"),
])
def test_fifos_and_devices_as_label_files_are_refused(warm, tmp_path, name, what):
    os.mkfifo(tmp_path / "fifo.txt")
    p = cli_process.run("run", "--labels", name, FLOWERS, PHOTOS[0], cwd=tmp_path, timeout=30)
    assert p.returncode == 2 and p.stdout == b""
    _one_error(p, name, what)


# -- streams -------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["-", "/dev/stdin"])
def test_a_photo_through_a_pipe_is_classified(warm, tmp_path, name):
    # issue 16: `cat photo.jpg | int8sqz run MODEL /dev/stdin` was refused as
    # "empty (0 bytes)" (the size came from fstat, 0 for a pipe)
    p = cli_process.run("run", FLOWERS, name, PHOTOS[1], input=PHOTOS[0].read_bytes(),
                        cwd=tmp_path)
    assert p.returncode == 0 and p.stderr == b""
    out = lines(p.stdout)
    assert out[:6] == [name] + warm[1:6]
    assert out[6] == str(PHOTOS[1])


def test_a_model_and_labels_through_pipes(warm, tmp_path):
    p = cli_process.run("run", "-", PHOTOS[0], input=FLOWERS.read_bytes(), cwd=tmp_path)
    assert p.returncode == 0 and p.stderr == b""
    # a model from standard input has no label file beside it: class indices
    out = lines(p.stdout)
    assert out[0] == str(PHOTOS[0]) and len(out) == 6 and out[1].split()[0] == "0"
    # labels with a byte-order mark, CRLF line ends and blank lines at the end
    names = LABELS.read_text().splitlines()
    crlf = b"\xef\xbb\xbf" + "\r\n".join(names).encode() + b"\r\n\r\n  \n\n"
    p = cli_process.run("run", "--labels", "-", FLOWERS, PHOTOS[0], input=crlf, cwd=tmp_path)
    assert p.returncode == 0 and lines(p.stdout) == warm


def test_standard_input_is_read_once(warm, tmp_path):
    p = cli_process.run("run", FLOWERS, "-", "-", input=PHOTOS[0].read_bytes(), cwd=tmp_path)
    assert p.returncode == 2
    assert lines(p.stdout) == ["-"] + warm[1:6]
    _one_error(p, "-", "standard input is already read for an earlier INPUT")
    p = cli_process.run("run", "--labels", "-", "-", PHOTOS[0], input=FLOWERS.read_bytes(),
                        cwd=tmp_path)
    assert p.returncode == 2 and p.stdout == b""
    _one_error(p, "-", "standard input is already read for MODEL")


def test_a_terminal_as_standard_input_is_refused(warm, tmp_path):
    import pty

    main_fd, tty = pty.openpty()
    try:
        p = cli_process.run("run", FLOWERS, "-", PHOTOS[0], stdin=tty, cwd=tmp_path, timeout=30)
    finally:
        os.close(tty)
        os.close(main_fd)
    assert p.returncode == 2 and lines(p.stdout)[0] == str(PHOTOS[0])
    _one_error(p, "-", "standard input is a terminal")


def _endless(proc):
    """Feed zeros to ``proc``'s standard input until it stops reading."""
    block = bytes(1 << 16)

    def feed():
        try:
            while True:
                proc.stdin.write(block)
        except (BrokenPipeError, ValueError, OSError):
            pass
        try:
            proc.stdin.close()
        except OSError:
            pass

    t = threading.Thread(target=feed, daemon=True)
    t.start()
    return t


@pytest.mark.parametrize("args, what", [
    (["run", "-", "PHOTO"], "-: not a TFLite model: expected the file identifier"),
    (["run", "--labels", "-", "MODEL", "PHOTO"],
     "-: a stream of more than 16777216 bytes, the limit (--max-labels-bytes)"),
    (["run", "--max-input-bytes", "1000000", "MODEL", "-"],
     "-: a stream of more than 1000000 bytes, the limit (--max-input-bytes)"),
    (["run", "/dev/stdin", "PHOTO"], "/dev/stdin: not a TFLite model"),
])
def test_endless_streams_are_cut_at_their_limit(warm, tmp_path, args, what):
    # issue 16: /dev/zero (any endless stream) was read until memory ran out
    args = [str(FLOWERS) if a == "MODEL" else str(PHOTOS[0]) if a == "PHOTO" else a
            for a in args]
    proc = cli_process.start(*args, cwd=tmp_path, stdin=subprocess.PIPE)
    feeder = _endless(proc)
    try:
        proc.wait(timeout=cli_process.SECONDS)  # (communicate() would close its input)
    finally:
        proc.kill()
        proc.wait()
    feeder.join(5)
    out, err = proc.stdout.read(), proc.stderr.read()
    proc.stdout.close()
    proc.stderr.close()
    assert proc.returncode == 2 and out == b""
    (line,) = lines(err)
    assert line.startswith(ERROR + what), line


# -- names ---------------------------------------------------------------------------------

ODD = b"ph\xffoto\n\x1b.jpg"  # not UTF-8, a line end and an escape in the name


def test_names_that_are_not_utf8_are_printed_escaped(warm, tmp_path):
    # issue 16: a photo named so aborted the whole run with an internal error
    # (strict UTF-8 output) and skipped the other photos; --json wrote a raw 0xff
    odd = os.path.join(os.fsencode(tmp_path), ODD)
    with open(odd, "wb") as f:
        f.write(PHOTOS[0].read_bytes())
    shown = ODD.decode("utf-8", "backslashreplace").replace("\n", "\\n").replace("\x1b", "\\x1b")
    assert shown == "ph\\xffoto\\n\\x1b.jpg"
    p = cli_process.run("run", FLOWERS, ODD, PHOTOS[1], cwd=tmp_path)
    assert p.returncode == 0 and p.stderr == b""
    out = lines(p.stdout)
    assert out[:6] == [shown] + warm[1:6] and out[6] == str(PHOTOS[1])
    p = cli_process.run("run", "--json", FLOWERS, ODD, PHOTOS[1], cwd=tmp_path)
    assert p.returncode == 0 and p.stderr == b""
    first, second = [json.loads(line) for line in lines(p.stdout)]
    assert first["file"] == shown and bytes.fromhex(first["file_hex"]) == ODD
    assert second["file"] == str(PHOTOS[1]) and "file_hex" not in second
    # an error about such a file is one line too
    os.unlink(odd)
    p = cli_process.run("run", FLOWERS, ODD, cwd=tmp_path)
    assert p.returncode == 2
    _one_error(p, shown, "cannot read the file (No such file or directory)")


def test_memplan_of_a_model_whose_name_is_not_utf8(tmp_path):
    # issue 16: `memplan --svg` failed the same way and left an empty SVG
    odd = os.path.join(os.fsencode(tmp_path), b"m\xe9\x01.tflite")
    with open(odd, "wb") as f:
        f.write(FLOWERS.read_bytes())
    shown = "m\\xe9\\x01.tflite"
    p = cli_process.run("memplan", b"m\xe9\x01.tflite", "--svg", b"plan\xff.svg", cwd=tmp_path)
    assert p.returncode == 0 and p.stderr == b""
    assert lines(p.stdout)[0] == f"model:           {shown}"
    svg = (tmp_path / os.fsdecode(b"plan\xff.svg")).read_bytes().decode("utf-8")
    title = ElementTree.fromstring(svg).find("{http://www.w3.org/2000/svg}text").text
    assert title.startswith(f"{shown}: tflm plan")
    p = cli_process.run("memplan", "--json", b"m\xe9\x01.tflite", cwd=tmp_path)
    assert p.returncode == 0
    rep = json.loads(p.stdout.decode("utf-8"))
    assert rep["model"] == shown and bytes.fromhex(rep["model_hex"]) == b"m\xe9\x01.tflite"


def test_memplan_svg_into_a_fifo_nobody_reads_or_a_directory(tmp_path):
    os.mkfifo(tmp_path / "fifo.svg")
    (tmp_path / "folder.svg").mkdir()
    for name, what in [("fifo.svg", "a FIFO (named pipe) that no process reads"),
                       ("folder.svg", "a directory")]:
        p = cli_process.run("memplan", FLOWERS, "--svg", name, cwd=tmp_path, timeout=30)
        assert p.returncode == 2 and p.stdout == b""
        (line,) = lines(p.stderr)
        assert line == f"{ERROR}cannot write {name}: it is {what}" + (
            ", expected an SVG file" if name == "folder.svg" else ""), line


# -- labels ------------------------------------------------------------------------------

def test_a_label_file_split_elsewhere_than_at_line_ends_is_refused(warm, tmp_path):
    # issue 16: str.splitlines split at a vertical tab, so a file with one label
    # too few became the right count and every label after it was shifted
    # (the other characters: tests/cli/test_labels.py)
    labels = tmp_path / "four.txt"
    labels.write_bytes(b"daisy\ndande\x0blion\nroses\nsunflowers\n")
    p = cli_process.run("run", "--labels", labels, FLOWERS, PHOTOS[0], cwd=tmp_path)
    assert p.returncode == 2 and p.stdout == b""
    _one_error(p, str(labels), "line 2, column 6: a vertical tab inside a label")


# -- the command's own behaviour ---------------------------------------------------------

def test_a_reader_that_goes_away_stops_the_command_quietly(warm, tmp_path):
    # issue 16: `int8sqz run ... | head -1` exited 1, "a bug in int8sqz"
    r, w = os.pipe()
    proc = cli_process.start("run", FLOWERS, *PHOTOS, cwd=tmp_path, stdout=w)
    os.close(w)
    os.close(r)  # the reader is gone before the first line
    _, err = proc.communicate(timeout=cli_process.SECONDS)
    assert proc.returncode == 128 + 13 and err == b""


def test_argument_errors_are_one_line(tmp_path):
    # issue 16: argparse's usage block, five lines where one is promised
    for args, what in [(["--top-k", "0"], "argument --top-k: expected a positive integer, got 0"),
                       (["--threads", "-1"],
                        "argument --threads: expected a positive integer, got -1")]:
        p = cli_process.run("run", *args, FLOWERS, PHOTOS[0], cwd=tmp_path)
        assert p.returncode == 2 and p.stdout == b""
        assert lines(p.stderr) == [f"{ERROR}{what} (see 'int8sqz run --help')"]


def _huge_png(path):
    """A 40000 x 40000 one-bit PNG: 195 KB, 1.6 GB once decoded."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    side = 40000
    rows = (b"\x00" + bytes(side // 8)) * 1000
    z = zlib.compressobj(6)
    data = b"".join([z.compress(rows) for _ in range(side // 1000)] + [z.flush()])
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side,
                                                                      1, 0, 0, 0, 0))
                     + chunk(b"IDAT", data) + chunk(b"IEND", b""))


def test_an_image_too_large_for_memory_is_too_large_not_corrupt(warm, tmp_path):
    # issue 16: reported as "corrupt or truncated PNG data (MemoryError)"
    big = tmp_path / "big.png"
    _huge_png(big)
    p = cli_process.run("run", "--max-pixels", "0", FLOWERS, big, PHOTOS[0], cwd=tmp_path,
                        address_space=1 << 30)
    assert p.returncode == 2
    _one_error(p, str(big), "too large to decode: the 40000x40000 PNG image (1) needs more "
                            "memory than is available")
    assert lines(p.stdout) == warm
