"""The one way in (and out) for every file the commands read or write.

Models, label files, images and arrays all go through :func:`read_bytes`:

- what is not a regular file or a readable stream is refused with one line
  that says what it is (a directory, a FIFO, a character or block device, a
  socket), and nothing is opened that could block: devices, sockets and
  directories are told apart by ``stat`` before any ``open``; regular files
  and FIFOs are opened with ``O_NONBLOCK`` (a FIFO without a writer would
  block a plain ``open`` forever), checked again with ``fstat``, and
  ``O_NONBLOCK`` is cleared for the read;
- a *readable stream* is a pipe that already has a writer: standard input
  (:data:`STDIN`, the command line's ``-``), or an anonymous pipe reached
  through ``/dev/stdin``, ``/dev/fd/N`` or ``/proc/self/fd/N`` (``cat x |
  int8sqz run MODEL /dev/stdin``, a shell's ``<(...)``). A named FIFO is
  refused unless it is this process's standard input (``< fifo``); so is a
  pipe whose write end this process holds (``/dev/stdout`` when standard
  output is a pipe), which would wait for itself forever;
- every read has a size cap: a regular file larger than the cap is refused
  from its size, before reading; a stream is read up to the cap and refused
  beyond it, so an endless stream (``/dev/zero`` through a pipe) costs at
  most the cap. ``stop_early`` lets the caller end the read as soon as the
  first bytes show that the content cannot be what is expected (a model
  whose identifier is wrong): the parser then refuses what was read;
- :data:`STDIN` reads file descriptor 0 (once: a stream read to its end is
  empty afterwards; the command refuses a second ``-`` itself). A terminal
  as standard input is refused (nothing would end the read but Ctrl-D).

Names are printed as the user would type them (:func:`display`): a name that
is valid UTF-8 without control characters as it is; otherwise bytes that
are not UTF-8 as ``\\xNN`` and control characters as ``\\n``, ``\\t``,
``\\xNN`` or ``\\uNNNN``, so that every message is one line of valid text.
:func:`path_fields` gives the JSON fields of a name: the displayed name and,
when it had to be escaped, the exact name's bytes in hex.

:func:`write_text` writes a file the same careful way (``memplan --svg``):
the text is complete before the file is opened, a FIFO without a reader is
refused instead of blocking, and a directory is refused with one line.

Every refusal is an :class:`~int8sqz.errors.Int8sqzError` of the class the
caller names (``ModelError``, ``ImageError``, ...), its message
``"<name>: <what>"`` on one line.
"""

from __future__ import annotations

import errno
import os
import select
import stat
import sys
import unicodedata

from .errors import Int8sqzError

__all__ = ["STDIN", "Contents", "display", "emit", "emit_json", "is_control", "is_stdin",
           "one_line", "path_fields", "read_bytes", "write_text"]

#: reads from a stream take at most this many bytes at a time
_CHUNK = 1 << 20
#: ``stop_early`` sees at most this many first bytes
_HEAD = 64


class _Stdin:
    """The standard input of the process (the command line's ``-``). Not a
    path: only :func:`read_bytes` (and the functions that read through it)
    know it; ``open()`` would take ``"-"`` for a file of that name."""

    _instance = None

    def __new__(cls):
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self):
        return "int8sqz.files.STDIN"

    def __str__(self):
        return "-"

    def __reduce__(self):
        return (_Stdin, ())


#: the standard input, read through :func:`read_bytes`
STDIN = _Stdin()


def is_stdin(path) -> bool:
    """Whether ``path`` is :data:`STDIN` (or its contents, already read)."""
    if isinstance(path, Contents):
        path = path.path
    return path is STDIN


class Contents:
    """A file already read (through :func:`read_bytes`): its name ``path``
    (a path or :data:`STDIN`) and its bytes ``data``. The functions that
    read files take it in place of a path and do not read again (standard
    input cannot be read twice): ``read_bytes(contents)`` is its data."""

    __slots__ = ("path", "data")

    def __init__(self, path, data: bytes):
        self.path = path
        self.data = data

    def __repr__(self):
        return f"Contents({display(self.path)!r}, {len(self.data)} bytes)"


# -- names --------------------------------------------------------------------------

_NAMED_CONTROLS = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def is_control(ch: str) -> bool:
    """A control character (Unicode category Cc: C0, DEL, C1) or a line or
    paragraph separator (U+2028, U+2029): what would break a line of text."""
    return unicodedata.category(ch) in ("Cc", "Zl", "Zp")


def _escape_char(ch: str) -> str:
    if ch in _NAMED_CONTROLS:
        return _NAMED_CONTROLS[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def one_line(text: str) -> str:
    """``text`` with its control characters escaped (``\\n``, ``\\xNN``...):
    one line, for names that come from files (tensor names, labels)."""
    return "".join(_escape_char(c) if is_control(c) else c for c in text)


def _raw(path) -> bytes | None:
    """The exact bytes of a path's name, or None when it has none (a str
    with lone surrogates that do not stand for bytes)."""
    if isinstance(path, bytes):
        return path
    try:
        return os.fsencode(path)
    except (UnicodeEncodeError, TypeError):
        return None


def display(path) -> str:
    """``path`` as the user would type it, one line of valid text: as it is
    when it is valid UTF-8 without control characters, else with its
    undecodable bytes as ``\\xNN`` and its control characters escaped."""
    if isinstance(path, Contents):
        path = path.path
    if path is STDIN:
        return "-"
    raw = _raw(path)
    if raw is None:
        text = os.fspath(path) if isinstance(path, (str, os.PathLike)) else str(path)
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    else:
        text = raw.decode("utf-8", "backslashreplace")
    if not text:
        return "''"
    return one_line(text)


def path_fields(key: str, path) -> dict:
    """The JSON fields of a file name: ``{key: display(path)}``, and
    ``{key + "_hex": <the name's bytes in hex>}`` when the displayed name is
    not the exact one (undecodable bytes or control characters escaped)."""
    if isinstance(path, Contents):
        path = path.path
    shown = display(path)
    fields = {key: shown}
    raw = None if path is STDIN else _raw(path)
    if raw:
        try:
            exact = raw.decode("utf-8")
        except UnicodeDecodeError:
            exact = None
        if shown != exact:
            fields[key + "_hex"] = raw.hex()
    return fields


# -- what a file is -------------------------------------------------------------------

def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


_PIPEFS_DEV = None


def _pipefs_device() -> int:
    """The device number of anonymous pipes (Linux's pipefs): a FIFO that
    lives there is a pipe some process made with pipe(2), not a name in a
    file system."""
    global _PIPEFS_DEV
    if _PIPEFS_DEV is None:
        r, w = os.pipe()
        try:
            _PIPEFS_DEV = os.fstat(r).st_dev
        finally:
            os.close(r)
            os.close(w)
    return _PIPEFS_DEV


def _same_file(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _fd_stat(fd: int):
    try:
        return os.fstat(fd)
    except OSError:
        return None


def _terminal_fd(st: os.stat_result) -> bool:
    """Whether ``st`` is the terminal of one of the standard streams."""
    for fd in (0, 1, 2):
        other = _fd_stat(fd)
        if other is not None and _same_file(st, other) and os.isatty(fd):
            return True
    return False


def _written_by_us(st: os.stat_result) -> bool:
    """Whether this process holds the write end of the pipe ``st``: reading
    it would wait for a writer that is the reader itself."""
    try:
        fds = [int(n) for n in os.listdir("/proc/self/fd")]
    except OSError:
        fds = [1, 2]
    for fd in fds:
        other = _fd_stat(fd)
        if other is None or not _same_file(st, other):
            continue
        try:
            import fcntl

            access = fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE
        except OSError:
            continue
        if access in (os.O_WRONLY, os.O_RDWR):
            return True
    return False


def _stream_refusal(st: os.stat_result) -> str | None:
    """Why the pipe or FIFO ``st`` (reached through a name) cannot be read,
    or None when it is a stream to read."""
    stdin = _fd_stat(0)
    if stdin is not None and _same_file(st, stdin):
        return None  # this process's standard input, opened by the shell
    if st.st_dev != _pipefs_device():
        return "named"
    if _written_by_us(st):
        return "ours"
    return None


def _refusal(name: str, st: os.stat_result, what: str) -> str:
    kind = _kind(st.st_mode)
    if stat.S_ISCHR(st.st_mode) and _terminal_fd(st):
        kind = "a terminal"
    return f"{name}: is {kind}, expected {what}"


# -- reading --------------------------------------------------------------------------

def read_bytes(path, *, limit: int, error: type = Int8sqzError, what: str = "a file",
               limit_name: str | None = None, stop_early=None) -> bytes:
    """The bytes of the file ``path`` (a str, bytes or os.PathLike name, or
    :data:`STDIN`), at most ``limit`` of them.

    ``error`` is the Int8sqzError subclass raised, with a one-line message
    ``"<name>: <what went wrong>"``; ``what`` says what was expected ("an
    image file"); ``limit_name`` names the setting of the limit in the
    message. ``stop_early(head)``, when given, is called on the first bytes
    read (up to 64); when it returns True the read stops there (the content
    cannot be right; the caller's parser refuses what was read)."""
    name = display(path)
    if isinstance(path, Contents):
        if len(path.data) > limit:
            raise error(_too_large(name, len(path.data), limit, limit_name))
        return path.data
    if path is STDIN:
        return _read_stdin(name, limit, error, what, limit_name, stop_early)
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise error(f"{name}: got a {type(path).__name__}, expected a file path")
    try:
        st = os.stat(path)
    except (OSError, ValueError, UnicodeEncodeError) as exc:
        raise error(f"{name}: cannot read the file ({_reason(exc)})") from None
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISFIFO(st.st_mode)):
        # never opened: opening a device can block (a serial line, a tape) or
        # act (rewind); a directory or a socket has nothing to read
        raise error(_refusal(name, st, what))
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as exc:
        raise error(f"{name}: cannot read the file ({_reason(exc)})") from None
    try:
        st = os.fstat(fd)  # what was opened, should the name have changed meanwhile
        if stat.S_ISREG(st.st_mode):
            _set_blocking(fd)
            return _read_regular(fd, st.st_size, name, limit, error, limit_name, stop_early)
        if stat.S_ISFIFO(st.st_mode):
            why = _stream_refusal(st)
            if why == "named":
                raise error(
                    f"{name}: is a FIFO (named pipe), expected {what}; to read a stream, "
                    f"give - and send it to standard input"
                )
            if why == "ours":
                raise error(
                    f"{name}: is a pipe whose writing end this process holds (its own "
                    f"output?), expected {what}; reading it would wait forever"
                )
            _set_blocking(fd)
            return _read_stream(fd, name, limit, error, limit_name, stop_early)
        raise error(_refusal(name, st, what))
    finally:
        os.close(fd)


def _read_stdin(name, limit, error, what, limit_name, stop_early) -> bytes:
    st = _fd_stat(0)
    if st is None:
        raise error(f"{name}: standard input is closed, expected {what}")
    if stat.S_ISREG(st.st_mode):
        try:
            offset = os.lseek(0, 0, os.SEEK_CUR)  # `< FILE` after a partial read
        except OSError:
            offset = 0
        return _read_regular(0, max(st.st_size - offset, 0), name, limit, error, limit_name,
                             stop_early)
    if stat.S_ISFIFO(st.st_mode) or stat.S_ISSOCK(st.st_mode):
        return _read_stream(0, name, limit, error, limit_name, stop_early)
    if stat.S_ISCHR(st.st_mode) and os.isatty(0):
        raise error(f"{name}: standard input is a terminal, expected {what} sent to it "
                    f"(int8sqz ... - < FILE, or through a pipe)")
    raise error(f"{name}: standard input is {_kind(st.st_mode)}, expected {what}")


def _set_blocking(fd: int) -> None:
    os.set_blocking(fd, True)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    if isinstance(exc, ValueError) and "null" in str(exc):
        return "the name holds a NUL byte"
    if isinstance(exc, UnicodeEncodeError):
        return "the name cannot be encoded for the file system"
    return type(exc).__name__


def _too_large(name, size, limit, limit_name) -> str:
    setting = f" ({limit_name})" if limit_name else ""
    if size is None:
        return (f"{name}: a stream of more than {limit} bytes, the limit{setting}; "
                f"refused there")
    return f"{name}: {size} bytes, more than the limit of {limit} bytes{setting}"


def _read_regular(fd, size, name, limit, error, limit_name, stop_early) -> bytes:
    if size > limit:
        raise error(_too_large(name, size, limit, limit_name))
    # one read for the whole file (after its first bytes alone, when they may
    # show that it cannot be right) and one for its end; files whose size
    # stat does not know (/proc, sysfs) are read on as streams, up to the limit
    first = _HEAD if stop_early is not None and size > _HEAD else size + 1
    return _read_stream(fd, name, limit, error, limit_name, stop_early, first=first,
                        then=size + 1)


def _read_stream(fd, name, limit, error, limit_name, stop_early, first=_CHUNK,
                 then=_CHUNK) -> bytes:
    chunks = []
    total = 0
    head = b""  # the first _HEAD bytes, for stop_early
    want = first
    try:
        while True:
            try:
                chunk = os.read(fd, max(1, min(want, limit + 1 - total)))
            except BlockingIOError:  # a stream the caller left non-blocking
                select.select([fd], [], [])
                continue
            except InterruptedError:  # pragma: no cover - retried by Python already
                continue
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            want = then
            if total > limit:
                raise error(_too_large(name, None, limit, limit_name))
            if stop_early is not None and len(head) < _HEAD:
                head = (head + chunk)[:_HEAD]
                if stop_early(head):
                    break
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)
    except OSError as exc:
        if exc.errno == errno.EISDIR:
            raise error(f"{name}: is a directory") from None
        raise error(f"{name}: cannot read the file ({_reason(exc)})") from None
    except MemoryError:
        chunks.clear()
        raise error(f"{name}: too large to read into memory ({total} bytes read, "
                    f"no memory for more)") from None


# -- writing --------------------------------------------------------------------------

def emit(text: str) -> None:
    """Write ``text`` to standard output in its encoding, what it cannot
    encode (a label on a terminal that is not UTF-8) as backslash escapes,
    and flush."""
    out = sys.stdout
    try:
        out.write(text)
    except UnicodeEncodeError:
        encoding = getattr(out, "encoding", None) or "utf-8"
        out.write(text.encode(encoding, "backslashreplace").decode(encoding))
    out.flush()


def emit_json(record, **options) -> None:
    """``record`` as JSON and a line end on standard output, always in
    UTF-8 whatever the terminal's encoding (names in it are escaped by
    :func:`display`, so it is always valid UTF-8). ``options`` go to
    ``json.dumps``."""
    import json

    text = json.dumps(record, ensure_ascii=False, **options) + "\n"
    out = sys.stdout
    buffer = getattr(out, "buffer", None)
    if buffer is None:  # a text stream without bytes underneath (StringIO)
        out.write(text)
        out.flush()
        return
    out.flush()
    buffer.write(text.encode("utf-8", "backslashreplace"))
    buffer.flush()


def write_text(path, text: str, *, error: type = Int8sqzError, what: str = "a file") -> None:
    """Write ``text`` (UTF-8) to ``path`` (:func:`write_bytes`)."""
    write_bytes(path, text.encode("utf-8"), error=error, what=what)


def write_bytes(path, data: bytes, *, error: type = Int8sqzError, what: str = "a file") -> None:
    """Write ``data`` to ``path``: a regular file (created or truncated), a
    device such as /dev/null, or a pipe or FIFO that a process reads. A FIFO
    nobody reads and a directory are refused with one line; nothing blocks
    on open."""
    name = display(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        st = None
    except (OSError, ValueError, UnicodeEncodeError) as exc:
        raise error(f"cannot write {name}: {_reason(exc)}") from None
    if st is not None and (stat.S_ISDIR(st.st_mode) or stat.S_ISSOCK(st.st_mode)
                           or stat.S_ISBLK(st.st_mode)):
        raise error(f"cannot write {name}: it is {_kind(st.st_mode)}, expected {what}")
    flags = os.O_WRONLY | os.O_CREAT | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
    if st is None or stat.S_ISREG(st.st_mode):
        flags |= os.O_TRUNC
    try:
        fd = os.open(path, flags, 0o666)
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            raise error(f"cannot write {name}: it is a FIFO (named pipe) that no process "
                        f"reads") from None
        raise error(f"cannot write {name}: {_reason(exc)}") from None
    try:
        _set_blocking(fd)
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
    except OSError as exc:
        raise error(f"cannot write {name}: {_reason(exc)}") from None
    finally:
        os.close(fd)
