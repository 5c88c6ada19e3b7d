"""The ``int8sqz`` command in a subprocess with a time limit and an
address-space limit: a command that hangs fails its test within seconds
(``subprocess.TimeoutExpired`` names the command), and one that reads
without bound fails on its memory limit instead of swapping the machine.

The command runs as ``python -m int8sqz``, so ``PYTHONPATH`` chooses the
int8sqz it runs (``PYTHONPATH=/path/to/an/old/tree`` runs the tests
against an older version, to see them fail there); its standard output is
strict UTF-8 (``PYTHONIOENCODING=utf-8:strict``) unless the caller's
``env`` says otherwise. Arguments may be bytes (file names that are not
UTF-8); the outputs are bytes.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys

#: seconds a command may take once numba's cache is warm (see ``warm``)
SECONDS = float(os.environ.get("INT8SQZ_CLI_SECONDS", "60"))
#: address space of each command: several times what `int8sqz run` needs
#: (about 0.7 GiB of address space), far below what an unbounded read takes
ADDRESS_SPACE = 3 << 30


def _limits(address_space: int):
    def apply():  # in the child, before exec
        resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


def command(*args) -> list:
    return [sys.executable, "-m", "int8sqz"] + [
        a if isinstance(a, bytes) else str(a) for a in args]


def environment(env: dict | None = None) -> dict:
    base = dict(os.environ, PYTHONIOENCODING="utf-8:strict", LC_ALL="C.UTF-8")
    base.pop("INT8SQZ_DEBUG", None)
    base.update(env or {})
    return base


def run(*args, cwd, stdin=subprocess.DEVNULL, input: bytes | None = None,
        timeout: float = SECONDS, address_space: int = ADDRESS_SPACE, env=None):
    """``int8sqz ARGS`` to its end: a CompletedProcess with bytes outputs;
    ``subprocess.TimeoutExpired`` after ``timeout`` seconds (the command is
    killed)."""
    if input is not None:
        stdin = None
    return subprocess.run(command(*args), cwd=cwd, stdin=stdin, input=input,
                          capture_output=True, timeout=timeout, env=environment(env),
                          preexec_fn=_limits(address_space))


def start(*args, cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
          address_space: int = ADDRESS_SPACE, env=None) -> subprocess.Popen:
    """``int8sqz ARGS`` started (the caller waits with a timeout)."""
    return subprocess.Popen(command(*args), cwd=cwd, stdin=stdin, stdout=stdout,
                            stderr=subprocess.PIPE, env=environment(env),
                            preexec_fn=_limits(address_space))


def lines(data: bytes) -> list:
    """The lines of an output, which must be strict UTF-8."""
    return data.decode("utf-8").splitlines()
