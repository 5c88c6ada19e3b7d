"""Label files (int8sqz.labels): split at line ends only (``\\n``, ``\\r\\n``),
a byte-order mark dropped, blank lines at the end ignored, any other control
character inside a label refused with its line and column (issue 16: a
vertical tab, a form feed or U+2028 split a line, shifting every label after
it). The command's side: tests/cli/test_files.py."""

import pytest

from int8sqz.errors import LabelsError
from int8sqz.labels import parse_labels, read_labels


@pytest.mark.parametrize("text, labels", [
    ("a\nb\nc\n", ["a", "b", "c"]),
    ("a\r\nb\r\nc", ["a", "b", "c"]),
    ("\ufeffa\nb\n", ["a", "b"]),
    ("a\n\nb\n \n\n", ["a", "", "b"]),  # blank lines count, except at the end
    ("  a b \n\u00a0c\u3000\n", ["a b", "c"]),  # blanks around a label are stripped
    ("a\nb\r", ["a", "b"]),  # a CRLF cut after its CR at the end of the file
    ("caf\u00e9\n\u00e9t\u00e9\n\U0001F600\u200d\n", ["caf\u00e9", "\u00e9t\u00e9",
                                                    "\U0001F600\u200d"]),
    ("", []),
])
def test_labels_are_the_lines(text, labels):
    assert parse_labels(text) == labels


@pytest.mark.parametrize("text, where, what", [
    ("a\nb\x0bc\n", "line 2, column 2", "a vertical tab"),
    ("a\x0cb\n", "line 1, column 2", "a form feed"),
    ("a\nb\u2028c\n", "line 2, column 2", "a line separator (U+2028)"),
    ("a\nb\u2029c\n", "line 2, column 2", "a paragraph separator (U+2029)"),
    ("a\rb\n", "line 1, column 2", "a carriage return not followed by a line feed"),
    ("a\n\nb\tc\n", "line 3, column 2", "a tab"),
    ("a\x00\n", "line 1, column 2", "a NUL character"),
    ("a\x85b\n", "line 1, column 2", "a next-line character (U+0085)"),
    ("a\x1c\n", "line 1, column 2", "a file separator"),
    ("a\n\x7f\n", "line 2, column 1", "the control character U+007F"),
    ("ok\nx\x1b[31m\n", "line 2, column 2", "the control character U+001B"),
])
def test_other_control_characters_are_refused_with_their_line(text, where, what):
    with pytest.raises(LabelsError) as info:
        parse_labels(text, "labels.txt")
    msg = str(info.value)
    assert msg == (f"labels.txt: {where}: {what} inside a label; expected one label a line, "
                   f"lines ending with \\n or \\r\\n"), msg


def test_read_labels_decodes_utf8_and_caps_the_size(tmp_path):
    p = tmp_path / "l.txt"
    p.write_bytes(b"\xef\xbb\xbfa\r\nb\r\n")
    assert read_labels(p, 2) == ["a", "b"]
    p.write_bytes(b"a\n\xff\n")
    with pytest.raises(LabelsError, match="not UTF-8 text .invalid byte at offset 2"):
        read_labels(p)
    p.write_bytes(b"x\n" * 600)
    with pytest.raises(LabelsError, match="1200 bytes, more than the limit of 1000 bytes "
                                          r"\(--max-labels-bytes\)"):
        read_labels(p, max_bytes=1000)
    assert len(read_labels(p, 600, max_bytes=1200)) == 600
