"""The ``int8sqz`` command.

``int8sqz run MODEL INPUT [INPUT ...]`` runs a TFLite model on images or
arrays (.npy, .npz) and prints, for each input, the top-k classes of a
classifier, the probability of the positive class of a model with one
sigmoid output, or every output as a named array
(:mod:`int8sqz.predict`); ``int8sqz memplan ...`` is the memory planner
(:mod:`int8sqz.memplan`).
``int8sqz eval MODEL DATA_DIR`` measures a classifier's accuracy over a
folder of labeled images (:mod:`int8sqz.evaluate`); ``int8sqz compare MODEL
INPUT...`` shows, operator by operator, where two numerics part
(:mod:`int8sqz.compare`). ``--numerics`` chooses the arithmetic of each
(TFLite's reference kernels, its optimized builtin kernels, XNNPACK).

This module parses the arguments, prints and chooses the exit status; the
running is :mod:`int8sqz.predict` (with :mod:`int8sqz.classify`'s scores),
the inputs :mod:`int8sqz.image` and :mod:`int8sqz.inputs`, every file is
read through :mod:`int8sqz.files` (``-`` is standard input, once), the
defaults and exit statuses are :mod:`int8sqz.constants`.

Exit status: 0 on success; 2 when an input is bad (a model, label file or
input that is missing, unreadable, corrupt, not a regular file or a stream,
or that int8sqz does not support, or an input the model cannot compute):
one line ``int8sqz: error: <file>: <what>`` on stderr for each, and the
other inputs still run; 2 for an argument error (one line naming the
option and what it accepts); 141 (128 + SIGPIPE) when the reader of the
output went away, quietly; 1 for an internal error (a bug), also one line.
Never a traceback. File names are printed escaped (:func:`int8sqz.files.display`).

The interpreter (and with it numba) is imported only when a model runs, so
``int8sqz --help`` and argument errors stay fast.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading

from .constants import (
    DEFAULT_BATCH_SIZE, DEFAULT_MAX_ACTIVATION_BYTES, DEFAULT_MAX_INPUT_BYTES,
    DEFAULT_MAX_LABELS_BYTES, DEFAULT_MAX_PIXELS, DEFAULT_TOP_K, EXIT_BAD_INPUT,
    EXIT_BROKEN_PIPE, EXIT_INTERNAL, EXIT_OK, NUMERICS, RESIZE_METHODS, default_threads,
)

from .files import STDIN, Contents, display, emit, emit_json, one_line, path_fields, read_bytes

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
class UsageError(Exception):
    """A command-line argument is wrong: one line, exit 2 (no usage block)."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse, with its errors as one line (:class:`UsageError`) naming
    the option and what it accepts, instead of a usage block."""

    def error(self, message):
        raise UsageError(f"{message} (see '{self.prog} --help')")


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


def _add_input_options(p: argparse.ArgumentParser) -> None:
    """The options ``run``, ``eval`` and ``compare`` share: labels, how
    images are read and resized, the limits."""
    p.add_argument("--labels", metavar="FILE",
                   help="class names, one a line (default: MODEL without .tflite + "
                        "'.labels.txt' when that file exists, else class indices)")
    p.add_argument("--resize", choices=RESIZE_METHODS, default=RESIZE_METHODS[0],
                   help="resampling to the model's input size, aspect ratio not kept "
                        "(default nearest, as the model zoo trained)")
    p.add_argument("--max-pixels", metavar="N", type=_pixel_limit, default=DEFAULT_MAX_PIXELS,
                   help=f"refuse images with more pixels than this (default "
                        f"{DEFAULT_MAX_PIXELS}; 0 for no limit)")
    p.add_argument("--max-input-bytes", metavar="N", type=_positive_int,
                   default=DEFAULT_MAX_INPUT_BYTES,
                   help=f"refuse image and array files larger than this, and streams "
                        f"beyond it (default {DEFAULT_MAX_INPUT_BYTES})")
    p.add_argument("--max-labels-bytes", metavar="N", type=_positive_int,
                   default=DEFAULT_MAX_LABELS_BYTES,
                   help=f"refuse label files larger than this (default "
                        f"{DEFAULT_MAX_LABELS_BYTES})")
    p.add_argument("--max-activation-bytes", metavar="N", type=_positive_int,
                   default=DEFAULT_MAX_ACTIVATION_BYTES,
                   help=f"refuse models whose activations need more bytes than this, "
                        f"before allocating them (default {DEFAULT_MAX_ACTIVATION_BYTES})")


#: what ``--numerics`` says each name computes
NUMERICS_HELP = ("reference: TFLite's reference kernels, what TFLite Micro computes on a "
                 "microcontroller; builtin: TFLite's optimized builtin kernels; xnnpack: "
                 "the TFLite Python interpreter's default (the XNNPACK delegate); the last "
                 "two as ai-edge-litert computes them on x86-64")


def _add_model_options(p: argparse.ArgumentParser, *, top_k_help: str,
                       threads_help: str, numerics_pair: bool = False) -> None:
    """The options ``run`` and ``eval`` share: those of
    :func:`_add_input_options`, top-k, batches and threads, the numerics
    (``numerics_pair``: one name or two, ``A,B``)."""
    _add_input_options(p)
    p.add_argument("--top-k", metavar="K", type=_positive_int, default=DEFAULT_TOP_K,
                   help=top_k_help)
    p.add_argument("--batch-size", metavar="N", type=_positive_int, default=DEFAULT_BATCH_SIZE,
                   help=f"run up to N inputs at once (default {DEFAULT_BATCH_SIZE}); "
                        f"the results are those of one input at a time")
    p.add_argument("--threads", metavar="N", type=_positive_int, default=None,
                   help=threads_help)
    pair = (" (A,B: classify every image with both, count the images whose top-1 class "
            "differs)") if numerics_pair else ""
    p.add_argument("--numerics", metavar="A,B" if numerics_pair else "NAME",
                   type=_numerics_pair if numerics_pair else _numerics,
                   default=(NUMERICS[0],) if numerics_pair else NUMERICS[0],
                   help=f"the arithmetic{pair} (default {NUMERICS[0]}): {NUMERICS_HELP}; with "
                        f"builtin, --threads is also the runtime's thread count, which its "
                        f"int8 MEAN depends on")


def _add_run_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", metavar="MODEL", help="the .tflite model (- : standard input)")
    p.add_argument("inputs", metavar="INPUT", nargs="+",
                   help="images (any format Pillow reads), or arrays: .npy (the input's "
                        "value) or .npz (one array per input, by name or position); "
                        "- reads one of them from standard input")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object per input, one a line: "
                        '{"file": ..., "top_k": [{"index", "label", "probability"}, ...]} '
                        'for a classifier, {"file": ..., "positive": {"label", '
                        '"probability"}} for one sigmoid output, else {"file": ..., '
                        '"outputs": [{"name", "index", "shape", "dtype", "values"}, ...]}')
    _add_model_options(
        p, top_k_help=f"how many classes to print per input (default {DEFAULT_TOP_K}, "
                      f"at most the number of classes)",
        threads_help="threads sharing a batch's inputs (default: one per CPU)")


def _numerics(text: str) -> str:
    """``--numerics``: one of int8sqz.constants.NUMERICS."""
    if text not in NUMERICS:
        two = "," in text or " " in text.strip()
        raise argparse.ArgumentTypeError(
            f"unknown numerics {text!r}, expected one of {', '.join(NUMERICS)}"
            + ("; 'int8sqz compare MODEL INPUT --numerics A B' shows where two numerics "
               "part" if two else ""))
    return text


def _numerics_pair(text: str) -> tuple:
    """``eval --numerics``: one name, or two (``A,B``), different."""
    names = tuple(_numerics(t.strip()) for t in text.split(","))
    if len(names) > 2 or len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(
            f"expected one numerics or two different ones (A,B), got {text!r}")
    return names


def _add_eval_arguments(p: argparse.ArgumentParser) -> None:
    from .evaluate import REPORT_FILES

    p.add_argument("model", metavar="MODEL", help="the .tflite image classifier")
    p.add_argument("data", metavar="DATA_DIR",
                   help="one sub-folder of images per class (Keras image_dataset_from_directory "
                        "layout), images searched recursively; folders match the labels "
                        "exactly, else ignoring case, '_', '-', spaces and a plural 's'")
    _add_model_options(
        p, top_k_help=f"also count the images whose class is among the K best (default "
                      f"{DEFAULT_TOP_K}; top-1 and top-5 are always counted)",
        threads_help="threads sharing a batch's images, and as many decoding the next "
                     "images beside them (default: one per CPU)", numerics_pair=True)
    p.add_argument("--limit", metavar="N", type=_positive_int, default=None,
                   help="at most N files, taken in turn from each class folder")
    p.add_argument("--json", action="store_true",
                   help="print the results as one JSON object")
    p.add_argument("--report", metavar="DIR",
                   help=f"write {', '.join(REPORT_FILES)} (every image; the confusion matrix "
                        f"as a picture) into DIR")


def _add_compare_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", metavar="MODEL", help="the .tflite model (- : standard input)")
    p.add_argument("inputs", metavar="INPUT", nargs="+",
                   help="as run takes them: images, .npy or .npz arrays; - reads one of "
                        "them from standard input")
    p.add_argument("--numerics", metavar="NAME", type=_numerics, nargs="+", default=None,
                   help=f"the two numerics compared, A B (default: reference xnnpack; one "
                        f"name: reference against it); with --tensors, the one int8sqz "
                        f"computes (default reference). {NUMERICS_HELP}")
    p.add_argument("--tensors", metavar="DIR",
                   help="compare int8sqz's tensors with .npy files dumped elsewhere (a "
                        "device, another runtime) in DIR, named by tensor index (12.npy) "
                        "or name; a missing or misshaped file is named in its row; one INPUT")
    p.add_argument("--against", choices=("litert",), default=None,
                   help="also run ai-edge-litert in each numerics compared and check that "
                        "its outputs equal int8sqz's (exit status 1 when they do not); "
                        "ai-edge-litert must be installed")
    p.add_argument("--threads", metavar="N", type=_positive_int, default=1,
                   help="the runtimes' thread count (default 1): TFLite's optimized int8 "
                        "MEAN depends on it")
    p.add_argument("--json", action="store_true",
                   help='print one JSON object per input, one a line: {"file", "a", "b", '
                        '"operators": [{"index", "operator", "tensor", "tensor_index", '
                        '"elements", "differ", "max_lsb", "max_value", "note"}, ...], '
                        '"first_difference", "top1", "litert"}')
    _add_input_options(p)


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = ArgumentParser(
        prog=PROG,
        description="Bit-exact int8 inference for TFLite models (TFLite reference kernels).",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    run = sub.add_parser(
        "run", help="run a model on images or arrays: top-k classes, or its outputs",
        description="Run a model on each INPUT. An image is decoded, its EXIF orientation "
                    "applied, converted to RGB (or L for 1-channel models), resized to the "
                    "model's input (channels first for [1, 3, H, W] inputs); a .npy or .npz "
                    "file gives the input values as they are. A classifier prints the top-k "
                    "classes with their (dequantized) probabilities; a model with one "
                    "sigmoid output the probability of the positive class; any other model "
                    "every output as a named array.",
    )
    _add_run_arguments(run)
    ev = sub.add_parser(
        "eval", help="accuracy over a folder of labeled images (one sub-folder per class)",
        description="Classify every image below DATA_DIR's class folders as run does and "
                    "report top-1 and top-k accuracy, per class precision and recall, the "
                    "confusion matrix and the throughput.",
    )
    _add_eval_arguments(ev)
    cmp = sub.add_parser(
        "compare", help="where two numerics (reference, builtin, xnnpack) part, operator "
                        "by operator",
        description="Run each INPUT through two numerics of MODEL (default: TFLite's "
                    "reference kernels, as a microcontroller computes, against the XNNPACK "
                    "delegate, as the TFLite Python interpreter computes by default), or "
                    "through one and tensors dumped elsewhere (--tensors), and print one "
                    "row per operator: index, operator, output tensor, elements that "
                    "differ, the largest difference in steps of the quantized type (LSB) "
                    "and as a real value; then the first operator that parts and, for a "
                    "classifier, whether the top-1 class changes.",
    )
    _add_compare_arguments(cmp)
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


class _Printer:
    """Prints the results of one input, as text or JSON, for the kind of
    the model's outputs (:func:`int8sqz.predict.output_kind`)."""

    def __init__(self, kind: str, outputs: list, labels, top_k: int, as_json: bool):
        self.kind = kind
        self.outputs = outputs
        self.labels = labels
        self.k = top_k
        self.json = as_json

    def __call__(self, path, values: list) -> None:
        getattr(self, f"_{self.kind}")(path, values)

    def _classes(self, path, values) -> None:
        from .classify import class_scores, top_k

        probs = class_scores(values[0], self.outputs[0])
        top = top_k(probs, self.k)
        labels = self.labels
        if self.json:
            emit_json({
                **path_fields("file", path),
                "top_k": [{"index": i, "label": labels[i] if labels is not None else None,
                           "probability": probs[i]} for i in top],
            })
            return
        width = len(str(len(probs) - 1))
        lines = [display(path)]
        if labels is not None:
            lw = max(len(labels[i]) for i in top)
            for i in top:
                lines.append(f"  {i:>{width}}  {labels[i]:<{lw}}  {probs[i]:.6f}")
        else:
            for i in top:
                lines.append(f"  {i:>{width}}  {probs[i]:.6f}")
        emit("\n".join(lines) + "\n")

    def _probability(self, path, values) -> None:
        from .classify import class_scores

        (p,) = class_scores(values[0], self.outputs[0])
        label = self.labels[-1] if self.labels else None
        if self.json:
            emit_json({**path_fields("file", path),
                        "positive": {"label": label, "probability": p}})
            return
        emit(f"{display(path)}\n  {label if label is not None else 'positive'}  "
                   f"{p:.6f}\n")

    def _arrays(self, path, values) -> None:
        from .predict import describe_output, output_record

        if self.json:
            emit_json({**path_fields("file", path),
                        "outputs": [output_record(t, v) for t, v in zip(self.outputs, values)]})
            return
        lines = [display(path)]
        for t, v in zip(self.outputs, values):
            lines += ["  " + line for line in describe_output(t, v)]
        emit("\n".join(lines) + "\n")


def _labels_for(kind: str, args, model, source) -> list | None:
    """The labels of the model's classes (see :func:`_Printer`), or None."""
    from .classify import resolve_labels
    from .errors import LabelsError
    from .labels import labels_path_for

    labels_arg = None if args.labels is None else source(args.labels, "--labels", LabelsError)
    if kind == "arrays":
        if labels_arg is not None:
            raise LabelsError(
                f"{display(labels_arg)}: labels name the classes of a classifier, but the "
                f"model's outputs are not class scores ({len(model.outputs)} output(s): "
                f"{_output_list(model)})"
            )
        return None
    if kind == "classes":
        out = model.tensors[model.outputs[0]]
        return resolve_labels(source.model, int(out.shape[-1]), labels_arg,
                              max_bytes=args.max_labels_bytes)
    labels = resolve_labels(source.model, None, labels_arg, max_bytes=args.max_labels_bytes)
    if labels is not None and len(labels) not in (1, 2):
        where = labels_arg if labels_arg is not None else labels_path_for(source.model)
        raise LabelsError(
            f"{display(where)}: {len(labels)} labels, expected 1 (the positive class) or 2 "
            f"(the negative class, then the positive one) for the model's one sigmoid output"
        )
    return labels


def _output_list(model) -> str:
    return ", ".join(
        f"'{one_line(model.tensors[i].name)}' {list(model.tensors[i].shape)}"
        for i in model.outputs)


class _Sources:
    """The command line's file names: ``-`` is standard input, once."""

    def __init__(self, model_arg: str):
        self._stdin_for = None
        from .errors import ModelError

        self.model = self(model_arg, "MODEL", ModelError)

    def __call__(self, arg: str, role: str, error):
        if arg != "-":
            return arg
        if self._stdin_for is not None:
            raise error(f"-: standard input is already read for {self._stdin_for}; - can "
                        f"stand for one file only")
        self._stdin_for = role
        return STDIN


class _InputReader:
    """The INPUT arguments as ``run`` reads them: an array file's arrays
    (.npy, .npz: int8sqz.inputs), or an image preprocessed for the model's
    image input (int8sqz.image); ``-`` is standard input, once. Calling it
    with an argument gives the list of input values; an Int8sqzError says
    why it cannot."""

    def __init__(self, args, source, model, inputs):
        from .errors import Int8sqzError
        from .image import input_spec

        self.args = args
        self.source = source
        self.inputs = inputs
        try:
            self.spec, self.not_image = input_spec(model), None
        except Int8sqzError as exc:  # the model's input is not an image: arrays only
            self.spec, self.not_image = None, str(exc).split(": ", 1)[-1]
        self.what = "an image, .npy or .npz file" if self.spec is not None else \
            "a .npy or .npz file"

    def __call__(self, arg) -> list:
        from .errors import InputError
        from .image import preprocess
        from .inputs import is_array_file, load_arrays

        args = self.args
        path = self.source(arg, "an earlier INPUT", InputError)
        data = read_bytes(path, limit=args.max_input_bytes, error=InputError, what=self.what,
                          limit_name="--max-input-bytes")
        contents = Contents(path, data)
        if is_array_file(data):
            return load_arrays(contents, self.inputs, max_bytes=args.max_input_bytes)
        if self.spec is None:
            raise InputError(f"{display(path)}: not a .npy or .npz file, and the model's "
                             f"input is not an image ({self.not_image}); expected a .npy or "
                             f".npz file of the model's input")
        return [preprocess(contents, self.spec, resize=args.resize,
                           max_pixels=args.max_pixels or None,
                           max_bytes=args.max_input_bytes)]


def _set_up(notice, make):
    """``make()``: a command's set-up (the model, its labels). An input it
    cannot use (an Int8sqzError other than a bug's) is said in one line and
    gives None; anything else stops the compile notice and propagates."""
    from .errors import Int8sqzError, InternalError, InterpreterError

    try:
        return make()
    except (InternalError, InterpreterError):
        raise
    except Int8sqzError as exc:
        notice.stop()
        _error(str(exc))
        return None
    except BaseException:
        notice.stop()
        raise


def run(args) -> int:
    """The ``run`` subcommand; returns the exit status."""
    from .errors import ComputeError, Int8sqzError, InternalError, InterpreterError
    from .predict import Predictor, output_kind

    notice = _CompileNotice().start()

    def load():
        source = _Sources(args.model)
        predictor = Predictor(source.model, max_activation_bytes=args.max_activation_bytes,
                              threads=args.threads or default_threads(),
                              numerics=args.numerics)
        kind = output_kind(predictor.model)
        return source, predictor, kind, _labels_for(kind, args, predictor.model, source)

    loaded = _set_up(notice, load)
    if loaded is None:
        return EXIT_BAD_INPUT
    source, predictor, kind, labels = loaded
    model = predictor.model
    show = _Printer(kind, predictor.outputs, labels, args.top_k, args.json)
    example = _InputReader(args, source, model, predictor.inputs)

    status = EXIT_OK
    pending = []  # (path, values) of the batch being gathered
    batch_size = 1  # the first input alone

    def flush() -> int:
        """Run the pending inputs and print their results, in order."""
        result = EXIT_OK
        outs = predictor.run_batch([v for _, v in pending]) if pending else []
        for (path, _), values in zip(pending, outs):
            if isinstance(values, ComputeError):  # the model cannot compute this input
                _error(f"{display(path)}: {values}")
                result = EXIT_BAD_INPUT
                continue
            show(path, values)
        pending.clear()
        return result

    try:
        for arg in args.inputs:
            try:
                values = example(arg)
            except (InternalError, InterpreterError):
                raise
            except Int8sqzError as exc:
                _error(str(exc))
                status = EXIT_BAD_INPUT
                continue
            pending.append((STDIN if arg == "-" else arg, values))
            if len(pending) >= batch_size:
                status = max(status, flush())
                # the first input runs alone, compiling (or loading) every
                # kernel; the later ones go in batches
                batch_size = args.batch_size
                notice.stop()
        status = max(status, flush())
    finally:
        notice.stop()
    return status


# -- eval --------------------------------------------------------------------------
def _progress_bar(total: int):
    """A tqdm progress bar on stderr when stderr is a terminal, else None."""
    try:
        if not sys.stderr.isatty():
            return None
        from tqdm import tqdm
    except (ImportError, AttributeError, ValueError):
        return None
    return tqdm(total=total, file=sys.stderr, unit="image", leave=False, dynamic_ncols=True)


def _eval(args) -> int:
    """The ``eval`` subcommand (int8sqz.evaluate); returns the exit status."""
    from .classify import Classifier, resolve_labels
    from .errors import Int8sqzError, InternalError, InterpreterError
    from .evaluate import (
        against, class_names, evaluate, load_dataset, result_json, summary_text, write_report,
    )

    threads = args.threads or default_threads()
    notice = _CompileNotice().start()
    try:
        try:
            clf, *others = [Classifier(args.model, max_activation_bytes=args.max_activation_bytes,
                                       threads=threads, numerics=name)
                            for name in args.numerics]
            names = class_names(resolve_labels(args.model, clf.num_classes, args.labels,
                                               max_bytes=args.max_labels_bytes),
                                clf.num_classes)
            dataset = load_dataset(args.data, names, limit=args.limit)
            if args.report:
                os.makedirs(args.report, exist_ok=True)
        except (InternalError, InterpreterError):
            raise
        except Int8sqzError as exc:
            _error(str(exc))
            return EXIT_BAD_INPUT
        except OSError as exc:
            _error(f"{display(args.report)}: cannot make the report folder ({exc.strerror})")
            return EXIT_BAD_INPUT
        if dataset.sorted_order:
            pairs = ", ".join(f"{f} = {n}" for f, n in zip(dataset.folders, names))
            print(_one_line(f"{PROG}: note: no folder of {display(dataset.root)} is named after "
                            f"a class: the {len(names)} folders in sorted order are the classes "
                            f"in order, as Keras assigns them ({pairs})"),
                  file=sys.stderr, flush=True)
        bar = _progress_bar(len(dataset.entries))

        def say(message):
            line = f"{PROG}: unreadable: {_one_line(message)}"
            if bar is not None:
                bar.write(line, file=sys.stderr)
            else:
                print(line, file=sys.stderr, flush=True)

        def started(n):
            notice.stop()
            if bar is not None:
                bar.update(n)

        try:
            result = evaluate(clf, dataset, k=args.top_k, resize=args.resize,
                              max_pixels=args.max_pixels or None, batch_size=args.batch_size,
                              decoders=threads, max_bytes=args.max_input_bytes, on_skip=say,
                              on_progress=started)
        finally:
            if bar is not None:
                bar.close()
        if others:  # the same files in the second numerics: counted, not reported again
            result["against"] = against(result, evaluate(
                others[0], dataset, k=args.top_k, resize=args.resize,
                max_pixels=args.max_pixels or None, batch_size=args.batch_size,
                decoders=threads, max_bytes=args.max_input_bytes))
    finally:
        notice.stop()
    result["threads"] = threads
    if args.report:
        try:
            paths = write_report(result, args.report)
        except (InternalError, InterpreterError):
            raise
        except Int8sqzError as exc:
            _error(str(exc))
            return EXIT_BAD_INPUT
        except OSError as exc:
            _error(f"{display(args.report)}: cannot write the report ({exc.strerror})")
            return EXIT_BAD_INPUT
        print(f"{PROG}: report written to {display(args.report)}: "
              f"{', '.join(os.path.basename(p) for p in paths)}", file=sys.stderr, flush=True)
    emit(result_json(result) + "\n" if args.json else summary_text(result))
    if not result["images"]:
        _error(f"{display(dataset.root)}: no image could be classified ({result['unreadable']} "
               f"unreadable, {result['failed']} the model could not compute)")
        return EXIT_BAD_INPUT
    return EXIT_OK


# -- compare -----------------------------------------------------------------------
def _run_inputs(it, values) -> list:
    for t, v in zip(it.model.inputs, values):
        it.set_tensor(t, v)
    it.invoke()
    return [it.get_tensor(o) for o in it.model.outputs]


def _same_arrays(a, b) -> bool:
    import numpy as np

    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def _compare(args) -> int:
    """The ``compare`` subcommand (int8sqz.compare); returns the exit status."""
    from .compare import Dumped, compare_run, first_parting, litert_outputs, record, text, top1
    from .errors import ComputeError, Int8sqzError, InternalError, InterpreterError
    from .files import is_stdin
    from .interpreter import Interpreter
    from .predict import output_kind

    names = list(args.numerics or (["reference"] if args.tensors else ["reference", "xnnpack"]))
    if len(names) > 2:
        raise UsageError(f"argument --numerics: expected two names (A B), got {len(names)}")
    if args.tensors is not None:
        if len(names) != 1:
            raise UsageError("argument --numerics: with --tensors, one name: the numerics "
                             "int8sqz computes against the files")
        if len(args.inputs) != 1:
            raise UsageError(f"argument --tensors: the files hold one input's tensors, "
                             f"got {len(args.inputs)} INPUTs")
    elif len(names) == 1:
        names.insert(0, "reference")
    if args.against == "litert":
        try:
            import ai_edge_litert.interpreter  # noqa: F401
        except ImportError:
            _error("--against litert runs ai-edge-litert, which is not installed "
                   "(pip install ai-edge-litert)")
            return EXIT_BAD_INPUT
    notice = _CompileNotice().start()

    def load():
        source = _Sources(args.model)
        kw = dict(num_threads=args.threads, max_activation_bytes=args.max_activation_bytes)
        ours = Interpreter(model_path=source.model, numerics=names[0], **kw)
        model = ours.model
        # the second side reads the same bytes (standard input is read once)
        other = None if args.tensors is not None else Interpreter(
            **(dict(model_content=model.content) if is_stdin(source.model)
               else dict(model_path=source.model)), numerics=names[1], **kw)
        labels = _labels_for(output_kind(model), args, model, source)
        for it in (ours, other):
            if it is not None:
                it.allocate_tensors()
        return source, ours, other, labels

    loaded = _set_up(notice, load)
    if loaded is None:
        return EXIT_BAD_INPUT
    source, ours, other, labels = loaded
    model = ours.model
    read = _InputReader(args, source, model, [model.tensors[i] for i in model.inputs])
    sides = (names[0], display(args.tensors) if args.tensors is not None else names[1])
    status = EXIT_OK
    mismatched = []
    try:
        for arg in args.inputs:
            path = STDIN if arg == "-" else arg
            try:
                values = read(arg)
                outs_a = _run_inputs(ours, values)
                if other is not None:
                    outs_b = _run_inputs(other, values)
                    get_b = other.get_tensor
                else:
                    get_b = Dumped(args.tensors, model, args.max_input_bytes)
                    outs_b = [get_b(o) for o in model.outputs]
            except (InternalError, InterpreterError):
                raise
            except Int8sqzError as exc:  # an input it cannot read or the model cannot compute
                _error(f"{display(path)}: {exc}" if isinstance(exc, ComputeError) else str(exc))
                status = EXIT_BAD_INPUT
                continue
            finally:
                notice.stop()
            rows = compare_run(model, ours.get_tensor, get_b)
            first = first_parting(rows)
            best = top1(model, outs_a, outs_b, labels)
            litert = None
            if args.against == "litert":
                litert = {}
                for side, outs in ((names[0], outs_a), (names[1], outs_b)):
                    if other is None and side != names[0]:
                        continue
                    want = litert_outputs(model.content, side, values, args.threads)
                    equal = sum(_same_arrays(w, o) for w, o in zip(want, outs))
                    litert[side] = {"outputs": len(want), "equal": int(equal)}
                    if equal != len(want):
                        mismatched.append((display(path), side))
            if args.json:
                emit_json(record(path_fields("file", path), sides, rows, first, best, litert))
            else:
                emit(text(display(path), sides, rows, first, best, litert))
    finally:
        notice.stop()
    for where, side in mismatched:
        print(f"{PROG}: int8sqz's {side} numerics differ from ai-edge-litert's on {where}: "
              f"this CPU or runtime computes what int8sqz does not model (docs/numerics.md), "
              f"or int8sqz has a bug (please report it)", file=sys.stderr, flush=True)
    return EXIT_INTERNAL if mismatched else status


# -- memplan -----------------------------------------------------------------------
def _memplan_numerics(text: str) -> str:
    if _numerics(text) != "reference":
        raise argparse.ArgumentTypeError(
            f"memplan plans the memory of TFLite Micro and the reference kernels; the "
            f"desktop runtimes' numerics ({text}) have no memory plan here")
    return text


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
    parser = ArgumentParser(
        prog=f"{PROG} memplan",
        description=(memplan.__doc__ or "").strip().split("\n")[0] or None,
    )
    memplan.add_arguments(parser)
    if not any(a.dest == "numerics" for a in parser._actions):
        parser.add_argument("--numerics", metavar="NAME", type=_memplan_numerics,
                            default=NUMERICS[0],
                            help="reference only: the plans are TFLite Micro's and the "
                                 "reference kernels'")
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
        return _eval(args)
    if args.command == "compare":
        return _compare(args)
    raise AssertionError(f"unknown command {args.command!r}")


def main(argv=None) -> int:
    """Entry point of the ``int8sqz`` console script; returns the exit status."""
    from .errors import Int8sqzError, InternalError, InterpreterError

    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        return _dispatch(argv)
    except UsageError as exc:  # one line naming the option and what it accepts
        _error(str(exc))
        return EXIT_BAD_INPUT
    except SystemExit as exc:  # argparse: --help, --version
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else EXIT_BAD_INPUT)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr, flush=True)
        return 130
    except BrokenPipeError:
        # the reader went away (`int8sqz run ... | head -1`): stop quietly,
        # with the status of a command killed by SIGPIPE; what is still
        # buffered goes nowhere (else Python reports it at exit)
        _silence_output()
        return EXIT_BROKEN_PIPE
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


def _silence_output() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        return
    for stream in (sys.stdout, sys.stderr):
        try:
            os.dup2(devnull, stream.fileno())
        except (OSError, ValueError, AttributeError):
            pass  # not a file descriptor (a StringIO): nothing to silence
    os.close(devnull)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
