"""The ``int8sqz`` command.

``int8sqz run MODEL IMAGE [IMAGE ...]`` classifies images with a TFLite
image classifier and prints the top-k classes of each;
``int8sqz eval MODEL DATA_DIR`` measures its accuracy over a folder of
labeled images (:mod:`int8sqz.evaluate`);
``int8sqz memplan ...`` is the memory planner (:mod:`int8sqz.memplan`).

This module parses the arguments, prints and chooses the exit status; the
classification itself is :mod:`int8sqz.classify`, the defaults and exit
statuses are :mod:`int8sqz.constants`.

Exit status: 0 on success; 2 when an input is bad (a model, label file or
image that is missing, unreadable, corrupt, or that int8sqz does not
support, or an image the model cannot compute): one line
``int8sqz: error: <file>: <what>`` on stderr for each, and the other images
still run; 1 for an internal error (a bug), also one line. Never a
traceback.

The interpreter (and with it numba) is imported only when a model runs, so
``int8sqz --help`` and argument errors stay fast.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading

from .constants import (
    DEFAULT_BATCH_SIZE, DEFAULT_MAX_ACTIVATION_BYTES, DEFAULT_MAX_PIXELS, DEFAULT_TOP_K,
    EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_OK, RESIZE_METHODS, default_threads,
)

PROG = "int8sqz"

#: a compilation that lasts longer than this many seconds is announced on stderr
COMPILE_NOTICE_DELAY = 1.0


# -- output -----------------------------------------------------------------------
def _one_line(message: str) -> str:
    return " ".join(str(message).splitlines())


def _error(message: str) -> None:
    print(f"{PROG}: error: {_one_line(message)}", file=sys.stderr, flush=True)


def _internal(exc: BaseException) -> int:
    text = _one_line(str(exc))
    detail = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    print(f"{PROG}: internal error: {detail} (this is a bug in int8sqz; please report it)",
          file=sys.stderr, flush=True)
    return EXIT_INTERNAL


# -- argument parsing ---------------------------------------------------------------
def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _pixel_limit(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number of pixels (0 for no limit), got {text!r}"
        ) from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number of pixels >= 0, got {value}")
    return value


def _add_run_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", metavar="MODEL", help="the .tflite model")
    p.add_argument("images", metavar="IMAGE", nargs="+",
                   help="image files (any format Pillow reads)")
    p.add_argument("--labels", metavar="FILE",
                   help="class names, one a line (default: MODEL without .tflite + "
                        "'.labels.txt' when that file exists, else class indices)")
    p.add_argument("--top-k", metavar="K", type=_positive_int, default=DEFAULT_TOP_K,
                   help=f"how many classes to print per image (default {DEFAULT_TOP_K}, "
                        f"at most the number of classes)")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object per image, one a line: "
                        '{"file": ..., "top_k": [{"index", "label", "probability"}, ...]}')
    p.add_argument("--resize", choices=RESIZE_METHODS, default=RESIZE_METHODS[0],
                   help="resampling to the model's input size, aspect ratio not kept "
                        "(default nearest, as the model zoo trained)")
    p.add_argument("--max-pixels", metavar="N", type=_pixel_limit, default=DEFAULT_MAX_PIXELS,
                   help=f"refuse images with more pixels than this (default "
                        f"{DEFAULT_MAX_PIXELS}; 0 for no limit)")
    p.add_argument("--batch-size", metavar="N", type=_positive_int, default=DEFAULT_BATCH_SIZE,
                   help=f"classify up to N images at once (default {DEFAULT_BATCH_SIZE}); "
                        f"the results are those of one image at a time")
    p.add_argument("--threads", metavar="N", type=_positive_int, default=None,
                   help="threads sharing a batch's images (default: one per CPU)")
    p.add_argument("--max-activation-bytes", metavar="N", type=_positive_int,
                   default=DEFAULT_MAX_ACTIVATION_BYTES,
                   help=f"refuse models whose activations need more bytes than this, "
                        f"before allocating them (default {DEFAULT_MAX_ACTIVATION_BYTES})")


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Bit-exact int8 inference for TFLite models (TFLite reference kernels).",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    run = sub.add_parser(
        "run", help="classify images and print the top-k classes",
        description="Classify images: decode, apply EXIF orientation, convert to RGB (or L "
                    "for 1-channel models), resize to the model's input, run the model and "
                    "print the top-k classes with their (dequantized) probabilities.",
    )
    _add_run_arguments(run)
    from . import evaluate

    ev = sub.add_parser(
        "eval", help="accuracy over a folder of labeled images (one sub-folder per class)",
        description="Classify every image below DATA_DIR's class folders as run does and "
                    "report top-1 and top-k accuracy, per class precision and recall, the "
                    "confusion matrix and the throughput.",
    )
    evaluate.add_arguments(ev)
    # listed for --help only: main() hands `memplan` over to int8sqz.memplan itself
    sub.add_parser("memplan", help="plan activation memory of a model (int8sqz memplan -h)",
                   add_help=False)
    return parser


# -- run ---------------------------------------------------------------------------
class _CompileNotice:
    """Says once on stderr that the kernels are being compiled, when numba
    has been compiling for more than COMPILE_NOTICE_DELAY seconds (the first
    run after an install or an upgrade, or on a new CPU; numba then caches
    the machine code for the next runs). ``start()`` listens to numba's
    compile events; ``stop()`` (idempotent) stops listening and cancels a
    notice not yet given."""

    def __init__(self):
        self._timer = None
        self._listener = None
        self._stopped = False
        self._lock = threading.Lock()

    def start(self) -> "_CompileNotice":
        try:
            from numba.core import event
        except Exception:  # noqa: BLE001 - no notice without numba's events
            return self
        notice = self

        class _Listener(event.Listener):
            def on_start(self, ev):
                notice._compiling()

            def on_end(self, ev):
                pass

        self._listener = _Listener()
        event.register("numba:compile", self._listener)
        return self

    def _compiling(self) -> None:
        with self._lock:
            if self._timer is None and not self._stopped:
                self._timer = threading.Timer(COMPILE_NOTICE_DELAY, self._say)
                self._timer.daemon = True
                self._timer.start()

    @staticmethod
    def _say() -> None:
        print(f"{PROG}: compiling the kernels for this machine (once: numba caches them "
              f"for the next runs)...", file=sys.stderr, flush=True)

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            if self._timer is not None:
                self._timer.cancel()
        if self._listener is not None:
            from numba.core import event

            event.unregister("numba:compile", self._listener)
            self._listener = None


def _print_human(path: str, probs: list, top: list, labels) -> None:
    width = len(str(len(probs) - 1))
    lines = [path]
    if labels is not None:
        lw = max(len(labels[i]) for i in top)
        for i in top:
            lines.append(f"  {i:>{width}}  {labels[i]:<{lw}}  {probs[i]:.6f}")
    else:
        for i in top:
            lines.append(f"  {i:>{width}}  {probs[i]:.6f}")
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()


def _print_json(path: str, probs: list, top: list, labels) -> None:
    record = {
        "file": path,
        "top_k": [
            {"index": i, "label": labels[i] if labels is not None else None,
             "probability": probs[i]}
            for i in top
        ],
    }
    sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def run(args) -> int:
    """The ``run`` subcommand; returns the exit status."""
    from .classify import Classifier, resolve_labels, top_k
    from .errors import ComputeError, Int8sqzError, InternalError, InterpreterError

    max_pixels = args.max_pixels or None
    notice = _CompileNotice().start()
    try:
        clf = Classifier(args.model, max_activation_bytes=args.max_activation_bytes,
                         threads=args.threads or default_threads())
        labels = resolve_labels(args.model, clf.num_classes, args.labels)
    except (InternalError, InterpreterError):
        raise
    except Int8sqzError as exc:
        notice.stop()
        _error(str(exc))
        return EXIT_BAD_INPUT
    except BaseException:
        notice.stop()
        raise
    k = min(args.top_k, clf.num_classes)
    show = _print_json if args.json else _print_human
    status = EXIT_OK
    pending = []  # (path, input) of the batch being gathered
    batch_size = 1  # the first image alone

    def flush() -> int:
        """Classify the pending images and print their results, in order."""
        result = EXIT_OK
        scores = clf.scores_batch([v for _, v in pending]) if pending else []
        for (path, _), probs in zip(pending, scores):
            if isinstance(probs, ComputeError):  # the model cannot compute this input
                _error(f"{path}: {probs}")
                result = EXIT_BAD_INPUT
                continue
            show(path, probs, top_k(probs, k), labels)
        pending.clear()
        return result

    try:
        for path in args.images:
            try:
                value = clf.preprocess(path, resize=args.resize, max_pixels=max_pixels)
            except (InternalError, InterpreterError):
                raise
            except Int8sqzError as exc:
                _error(str(exc))
                status = EXIT_BAD_INPUT
                continue
            pending.append((path, value))
            if len(pending) >= batch_size:
                status = max(status, flush())
                # the first image runs alone, compiling (or loading) every
                # kernel; the later ones go in batches
                batch_size = args.batch_size
                notice.stop()
        status = max(status, flush())
    finally:
        notice.stop()
    return status


# -- memplan -----------------------------------------------------------------------
def _memplan(argv: list) -> int:
    import importlib

    try:
        memplan = importlib.import_module(f"{__package__}.memplan")
    except ModuleNotFoundError as exc:
        if exc.name != f"{__package__}.memplan":
            raise
        print(f"{PROG}: error: memplan is not available in this version of int8sqz",
              file=sys.stderr, flush=True)
        return EXIT_INTERNAL
    parser = argparse.ArgumentParser(
        prog=f"{PROG} memplan",
        description=(memplan.__doc__ or "").strip().split("\n")[0] or None,
    )
    memplan.add_arguments(parser)
    args = parser.parse_args(argv)
    return int(memplan.run(args) or 0)


# -- entry point ---------------------------------------------------------------------
def _dispatch(argv: list) -> int:
    if argv and argv[0] == "memplan":
        return _memplan(argv[1:])
    args = build_parser().parse_args(argv)
    if args.command == "run":
        return run(args)
    if args.command == "eval":
        from . import evaluate

        return evaluate.run(args)
    raise AssertionError(f"unknown command {args.command!r}")


def main(argv=None) -> int:
    """Entry point of the ``int8sqz`` console script; returns the exit status."""
    from .errors import Int8sqzError, InternalError, InterpreterError

    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        return _dispatch(argv)
    except SystemExit as exc:  # argparse: --help, --version, usage errors
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else EXIT_BAD_INPUT)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr, flush=True)
        return 130
    except BrokenPipeError:
        # the reader went away (e.g. `| head`): stop quietly
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except OSError:
            pass
        return EXIT_INTERNAL
    except (InternalError, InterpreterError) as exc:
        return _internal(exc)
    except Int8sqzError as exc:  # e.g. from memplan: a bad input file
        _error(str(exc))
        return EXIT_BAD_INPUT
    except MemoryError:
        print(f"{PROG}: error: out of memory", file=sys.stderr, flush=True)
        return EXIT_INTERNAL
    except Exception as exc:  # noqa: BLE001 - a bug: one line, never a traceback
        return _internal(exc)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
