"""The interpreter, with the calls of TFLite's Python ``Interpreter``."""

from __future__ import annotations

import functools
import math
import numbers
import operator
import os
import threading

import numpy as np

from . import debug, ops
from .constants import DEFAULT_MAX_ACTIVATION_BYTES, default_threads
from .errors import Int8sqzError, InterpreterError, ModelError, UnsupportedError
from .files import is_stdin
from .model import Model, load_model
from .ops import NUMERICS, SUPPORTED_TYPES, supported_operators
from .ops.context import PrepareContext


def _serialised(method):
    """The method, called with the interpreter's lock held."""
    @functools.wraps(method)
    def call(self, *args, **kwargs):
        with self._lock:
            return method(self, *args, **kwargs)

    return call


class Interpreter:
    """Runs a TFLite model with integer arithmetic identical to TFLite's
    reference kernels.

    ``Interpreter(model_path=...)`` or ``Interpreter(model_content=...)``, then
    ``allocate_tensors()``, ``set_tensor()``, ``invoke()``, ``get_tensor()``,
    as with ``ai_edge_litert.interpreter.Interpreter``.

    Every tensor has its own array, so every intermediate tensor stays
    readable after ``invoke()``; ``experimental_preserve_all_tensors=True``
    asks for exactly that, and is refused with an arena (which reuses the
    bytes of consumed tensors).

    A batch of N >= 2 images (``resize_tensor_input``) runs image by image
    (each image's activations stay in the cache), the images shared among
    ``num_threads`` threads (None: 1; -1: one per CPU); each image goes
    through the same kernels as alone, so the results are identical for
    every thread count and batch size (int8sqz.parallel; a model whose
    operators mix images, and the arena modes, run in one piece).

    ``arena="tflm"`` or ``"optimized"`` places every activation in one byte
    array at a memory planner's offsets (int8sqz.planner), as a
    microcontroller would: a tensor's bytes are reused once it is consumed,
    the graph input's too. Intermediates are then not all readable after
    ``invoke()``, and the input must be set again before every ``invoke()``.
    ``arena="streaming"`` also runs stages of operators a band of rows at a
    time, their large tensors never whole (int8sqz.planner.streaming,
    int8sqz.streaming): the tensors inside a stage have no array after
    ``allocate_tensors()``. ``arena=plan`` runs inside a plan made for this
    model and its current shapes (``int8sqz.planner``), checked first.

    ``numerics`` chooses the arithmetic: ``"reference"`` (the default) is
    TFLite's reference kernels, as TFLite Micro computes on a
    microcontroller; ``"builtin"`` is what ai-edge-litert computes with its
    optimized builtin kernels (``OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES``)
    and ``"xnnpack"`` what its default interpreter computes (the XNNPACK
    delegate for the operators it takes, the builtin kernels for the rest),
    both as their x86-64 build runs on this kind of machine
    (docs/numerics.md). Under ``"builtin"``, ``num_threads`` is also the
    runtime's: the optimized int8 MEAN's integers depend on it. The two
    desktop numerics run a batch in one piece (their kernels treat a tensor
    as a whole, as the runtimes do) and refuse an arena.

    ``INT8SQZ_DEBUG=1`` (or 2) in the environment prints every operator as
    it runs (int8sqz.debug). The thread pool of ``num_threads`` > 1 is shut
    down by ``close()``, by leaving a ``with`` block, or when the interpreter
    is garbage collected.

    Threads: the calls that read or write the tensors (``allocate_tensors``,
    ``resize_tensor_input``, ``set_tensor``, ``invoke``, ``get_tensor``) are
    serialised: a call from a second thread waits until the first one's
    call has returned, so two ``invoke()`` never write the same arrays at
    once (the kernels release the GIL, and without the lock two threads
    sharing an interpreter got wrong results). The lock adds under a
    microsecond to a call (tools/bench.py measures it: 0.3 us), against
    about 2 ms for one ``invoke()`` of the flowers SqueezeNet: invoke() with
    and without it, timed in pairs, differ by less than the noise. A *sequence* of calls is not atomic: when two threads
    each set an input, invoke and read the output, one may invoke on the
    other's input. TFLite's interpreter is not thread-safe at all; here each
    call is, and a thread that needs set/invoke/get together holds its own
    lock around them, or (faster: the threads then run at once) has its own
    Interpreter. ``tensor()`` gives a view that no lock protects.

    An Interpreter cannot be pickled or copied (:class:`InterpreterError`):
    make one in each process from the model's path or bytes.
    """

    def __init__(self, model_path=None, model_content=None, *,
                 experimental_preserve_all_tensors: bool = False,
                 num_threads: int | None = None,
                 max_activation_bytes: int = DEFAULT_MAX_ACTIVATION_BYTES,
                 arena: str | None = None, numerics: str = "reference"):
        # serialises the calls that touch the tensors (see the class docstring)
        self._lock = threading.Lock()
        if (model_path is None) == (model_content is None):
            raise InterpreterError("give exactly one of model_path and model_content")
        if model_content is not None and not isinstance(model_content,
                                                        (bytes, bytearray, memoryview)):
            raise InterpreterError(
                f"model_content is a {type(model_content).__name__}, expected the model's bytes"
            )
        if model_path is not None and not isinstance(model_path, (str, bytes, os.PathLike)) \
                and not is_stdin(model_path):
            raise InterpreterError(
                f"model_path is a {type(model_path).__name__}, expected a file path"
            )
        if (isinstance(max_activation_bytes, bool)
                or not isinstance(max_activation_bytes, numbers.Integral)
                or max_activation_bytes < 0):
            raise InterpreterError(
                f"max_activation_bytes={max_activation_bytes!r}: expected an integer >= 0"
            )
        from .planner import MemoryPlan

        if not (arena in (None, "tflm", "optimized", "streaming")
                or isinstance(arena, MemoryPlan)):
            raise InterpreterError(f"arena={arena!r}: expected None, 'tflm', 'optimized', "
                                   f"'streaming' or a memory plan of this model")
        if not isinstance(numerics, str) or numerics not in NUMERICS:
            raise InterpreterError(
                f"numerics={numerics!r}: expected one of {', '.join(map(repr, NUMERICS))}")
        if arena is not None and numerics != "reference":
            given = repr(arena) if isinstance(arena, str) else "a memory plan"
            raise InterpreterError(
                f"arena={given} with numerics={numerics!r}: the memory plans follow the "
                f"reference kernels' order of reads and writes; the desktop runtimes' "
                f"numerics run with an array per tensor (arena=None)"
            )
        if arena is not None and experimental_preserve_all_tensors:
            raise InterpreterError(
                f"experimental_preserve_all_tensors=True with arena={arena!r}: an arena reuses "
                f"the bytes of every tensor once it is consumed, so the intermediates cannot "
                f"all be kept; use arena=None to read every intermediate"
            )
        # arena: place the activations in one byte array at a memory planner's
        # offsets (int8sqz.arena); intermediates are then overwritten when reused
        self._arena = arena
        self._numerics = numerics
        self._skip = frozenset()
        self._preserve = bool(experimental_preserve_all_tensors)
        # what invoke() runs (int8sqz.fusion.Program), made by allocate_tensors
        self._program = None
        # fused operators that ran since their inputs were set: the tensors
        # they skip can still be computed (pending), or no longer (stale)
        self._pending = set()
        self._stale = set()
        self._stream = None  # int8sqz.streaming.StreamingRun of a plan with stages
        self._plan = None  # the memory plan the arena follows
        # a path given as bytes is a path, not the model's content
        source = model_content if model_content is not None else (
            os.fsdecode(model_path) if isinstance(model_path, bytes) else model_path)
        self._model: Model = load_model(source)
        self._num_threads = _thread_count(num_threads)
        self._slices = None  # int8sqz.parallel.BatchSlices, set by allocate_tensors
        self._pool = None
        self._debug = debug.level()
        self._debug_shown = set()
        self._max_activation_bytes = int(max_activation_bytes)
        self._check_supported()
        self._shapes = [t.shape for t in self._model.tensors]
        self._resized = False
        self._nodes = None
        self._arrays = None
        self._prepare()  # validates every operator now, as TFLite does at load

    # -- loading ------------------------------------------------------------------
    @property
    def model(self) -> Model:
        return self._model

    @property
    def numerics(self) -> str:
        """The arithmetic this interpreter computes (see the class docstring)."""
        return self._numerics

    def _check_supported(self) -> None:
        m = self._model
        if m.num_subgraphs != 1:
            raise UnsupportedError(
                f"{m.source}: the model has {m.num_subgraphs} subgraphs, expected 1 "
                f"(control flow is not supported)"
            )
        for op in m.operators:
            if op.name not in ops.REGISTRY:
                raise UnsupportedError(
                    f"{m.source}: {op.describe()} is not supported; supported operators: "
                    f"{', '.join(supported_operators())}"
                )
        used = set(m.inputs) | set(m.outputs)
        for op in m.operators:
            used.update(t for t in op.inputs if t >= 0)
            used.update(op.outputs)
        for i in sorted(used):
            t = m.tensors[i]
            if t.is_variable:
                # state for stateful operators (LSTM, ASSIGN_VARIABLE), none of which
                # int8sqz runs; TFLite crashes when a builtin writes one
                raise UnsupportedError(
                    f"{m.source}: {m.tensor_label(i)} is a variable tensor; int8sqz runs "
                    f"no stateful operators"
                )
            if t.type_name not in SUPPORTED_TYPES:
                raise UnsupportedError(
                    f"{m.source}: {m.tensor_label(i)} has type {t.type_name}; supported "
                    f"tensor types: {', '.join(SUPPORTED_TYPES)}"
                )

    def _prepare(self) -> None:
        shapes = list(self._shapes)
        ctx = PrepareContext(self._model, shapes, resized=self._resized,
                             max_activation_bytes=self._max_activation_bytes,
                             numerics=self._numerics, num_threads=self._num_threads)
        nodes = []
        for op in self._model.operators:
            try:
                nodes.append(ops.prepare(op, ctx))
            except MemoryError:
                raise ModelError(
                    f"{self._model.source}: {op.describe()}: preparing it needs more memory "
                    f"than is available"
                ) from None
        total = 0
        for t in self._activation_indices():
            total += math.prod(shapes[t]) * self._model.tensors[t].dtype.itemsize
        if total > self._max_activation_bytes:
            raise ModelError(
                f"{self._model.source}: the activations need {total} bytes, more than the "
                f"limit of {self._max_activation_bytes} bytes (max_activation_bytes)"
            )
        self._shapes = shapes
        self._nodes = nodes

    def _activation_indices(self):
        m = self._model
        seen = set(m.inputs)
        for op in m.operators:
            seen.update(op.outputs)
        return sorted(i for i in seen if not m.tensors[i].is_constant)

    # -- TFLite API -----------------------------------------------------------------
    @_serialised
    def allocate_tensors(self) -> None:
        if self._nodes is None:
            self._prepare()
        from . import fusion

        arrays = [None] * len(self._model.tensors)
        for t in self._model.tensors:
            if t.is_constant:
                arrays[t.index] = t.data
        self._skip = frozenset()
        views = {}
        if self._arena is not None:
            from .arena import place_activations

            planner = self._arena
            if isinstance(planner, str) and planner == "streaming":
                from .planner.streaming import cached_plan

                planner = cached_plan(self._model, self._shapes)
            plan, arena = place_activations(self._model, self._shapes, planner, arrays)
            self._plan = plan
            self._skip = frozenset(plan.skip_ops)  # copy-free concatenations
            self._stream = None
            if getattr(plan, "stages", None):
                from .streaming import StreamingRun

                self._stream = StreamingRun(plan, self._nodes, arrays, arena)
        elif self._numerics == "reference":
            # concatenation inputs written in place (every value kept; the
            # desktop numerics keep their own kernels' ways of writing)
            views, skip = fusion.concat_slices(self._model, self._shapes)
            fusion.slice_view(self._model, self._shapes, arrays, views)
            self._skip = frozenset(skip)
        streamed = self._stream.streamed if self._stream is not None else {}
        try:
            for i in self._activation_indices():
                if arrays[i] is None and i not in streamed:  # a stage's tensors: bands only
                    arrays[i] = np.zeros(self._shapes[i], dtype=self._model.tensors[i].dtype)
        except MemoryError:
            raise ModelError(
                f"{self._model.source}: the activations need more memory than is available"
            ) from None
        self._arrays = arrays
        self._views = views
        self._program = self._make_program(self._nodes)
        self._pending = set()
        self._stale = set()
        self._slices = self._batch_slices()

    def _fusing(self) -> bool:
        """Fusions (int8sqz.fusion) unless the operators must run one by one:
        every intermediate kept, traced, placed in an arena, or computed in
        another numerics than the reference's (the one place that decides)."""
        return (self._arena is None and not self._preserve and not self._debug
                and self._numerics == "reference")

    def _make_program(self, nodes):
        from . import fusion

        return fusion.plan(self._model, self._shapes, nodes, fuse=self._fusing(),
                           views=self._views, skip=self._skip)

    def _batch_slices(self):
        if self._arena is not None or self._numerics != "reference":
            return None
        from .parallel import BatchSlices

        try:
            return BatchSlices(self._model, self._shapes, self._arrays, self._num_threads,
                               lambda nodes: self._make_program(nodes).steps)
        except (ValueError, MemoryError):  # not image by image: one piece
            return None

    @property
    def nodes(self) -> list:
        """The prepared operators (int8sqz.ops.unit.Node: ``op``, ``params``,
        ``run``), in the order ``invoke()`` runs them."""
        return list(self._nodes)

    @_serialised
    def invoke(self) -> None:
        if self._arrays is None:
            raise InterpreterError("invoke() called before allocate_tensors()")
        if self._stream is not None:
            self._stream.invoke(self._arrays)  # stages run band by band (not traced)
            return
        if self._debug:
            debug.run_traced(self._nodes, self._arrays, self._model, self._shapes, self._debug,
                             self._skip, self._debug_shown)
            return
        program = self._program
        self._stale = set()
        self._pending = {step for step in program.hidden.values()}
        if self._slices is not None and self._invoke_slices():
            return
        arrays = self._arrays
        for step in program.steps:
            step(arrays)

    def close(self) -> None:
        """Shut down the threads of ``num_threads`` (the interpreter still
        works afterwards: they start again when needed)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)

    def __enter__(self):
        return self

    def __reduce_ex__(self, protocol):
        raise InterpreterError(
            "an Interpreter cannot be pickled or copied: it holds prepared kernels, "
            "arrays and threads; pickle the model's path or bytes and make an "
            "Interpreter from them where it is needed"
        )

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.shutdown(wait=False)

    def _invoke_slices(self) -> bool:
        """The batch image by image, each thread taking the next image left;
        False when an operator refused an image (an Int8sqzError, e.g. the
        softmax abort), so that the whole batch runs again in one piece and
        fails as it would on one thread. Any other exception is a bug and
        propagates."""
        from itertools import count

        from .parallel import run_pieces

        plan = self._slices
        counter = count()
        futures = []
        if len(plan.nodes) > 1:
            if self._pool is None:
                from concurrent.futures import ThreadPoolExecutor

                self._pool = ThreadPoolExecutor(max_workers=len(plan.nodes) - 1,
                                                thread_name_prefix="int8sqz")
            futures = [self._pool.submit(run_pieces, nodes, plan.pieces, counter)
                       for nodes in plan.nodes[1:]]
        ok = True
        try:
            run_pieces(plan.nodes[0], plan.pieces, counter)
        except Int8sqzError:  # reported by the one-piece run
            ok = False
        for f in futures:
            exc = f.exception()
            if isinstance(exc, Int8sqzError):
                ok = False
            elif exc is not None:
                raise exc
        return ok

    def _check_index(self, tensor_index) -> int:
        if isinstance(tensor_index, bool) or not isinstance(tensor_index, (int, np.integer)):
            raise InterpreterError(f"tensor index {tensor_index!r} is not an integer")
        i = int(tensor_index)
        if not 0 <= i < len(self._model.tensors):
            raise InterpreterError(
                f"tensor index {i} is out of range: the model has "
                f"{len(self._model.tensors)} tensors (0..{len(self._model.tensors) - 1})"
            )
        return i

    def _array(self, tensor_index):
        i = self._check_index(tensor_index)
        if self._arrays is None:
            raise InterpreterError("tensors are not allocated: call allocate_tensors() first")
        a = self._arrays[i]
        fused = self._program.hidden.get(i) if self._program is not None else None
        if fused is not None:
            self._materialize(i, fused)
        if a is None and self._stream is not None and i in self._stream.streamed:
            first, last = self._stream.streamed[i]
            raise InterpreterError(
                f"tensor {i} '{self._model.tensors[i].name}' is made and read inside the "
                f"streamed stage of operators {first}..{last}: with arena='streaming' it only "
                f"ever exists a band of rows at a time"
            )
        if a is None:
            t = self._model.tensors[i]
            raise InterpreterError(
                f"tensor {i} '{t.name}' has no data: it is neither a constant nor "
                f"an input or output of any operator"
            )
        return i, a

    def _materialize(self, i, fused) -> None:
        """Tensor ``i``, which the fused operators ``fused`` did not write in
        the last ``invoke()``: computed now, operator by operator, from the
        fusion's inputs (unchanged since, or the tensor is unavailable)."""
        if fused in self._pending:
            fused.run_unfused(self._arrays)
            self._pending.discard(fused)
        elif fused in self._stale:
            t = self._model.tensors[i]
            raise InterpreterError(
                f"tensor {i} '{t.name}' is not available: invoke() computes it inside fused "
                f"operators ({fused.rule}) without writing it, and a tensor they read was set "
                f"since; read it before setting their inputs, or make the Interpreter with "
                f"experimental_preserve_all_tensors=True to keep every intermediate"
            )

    @_serialised
    def set_tensor(self, tensor_index, value) -> None:
        i, a = self._array(tensor_index)
        t = self._model.tensors[i]
        if t.is_constant:
            raise InterpreterError(f"tensor {i} '{t.name}' is a constant and cannot be set")
        for fused in [f for f in self._pending if i in f.reads]:
            self._pending.discard(fused)  # its skipped tensors came from the old value
            self._stale.add(fused)
        try:
            value = np.asarray(value)
        except (TypeError, ValueError) as exc:  # ragged nested lists, ...
            raise InterpreterError(
                f"tensor {i} '{t.name}': the value is not an array ({exc})"
            ) from None
        if value.dtype.newbyteorder("=") == a.dtype:
            value = value.astype(a.dtype)  # the same type in the other byte order
        if value.dtype != a.dtype:
            raise InterpreterError(
                f"tensor {i} '{t.name}': got a value of type {value.dtype.name}, "
                f"expected {a.dtype.name}"
            )
        if value.shape != a.shape:
            raise InterpreterError(
                f"tensor {i} '{t.name}': got a value of shape {list(value.shape)}, "
                f"expected {list(a.shape)}"
            )
        np.copyto(a, value)

    @_serialised
    def get_tensor(self, tensor_index) -> np.ndarray:
        _, a = self._array(tensor_index)
        return a.copy()

    def tensor(self, tensor_index):
        """A function that returns a read-write view of the tensor's array
        (a tensor that fused operators skip is computed when it is called)."""
        self._array(tensor_index)
        i = int(tensor_index)
        if self._program is not None and i in self._program.hidden:
            return lambda: self._array(i)[1]
        return lambda: self._arrays[i]

    @_serialised
    def resize_tensor_input(self, input_index, tensor_size, strict: bool = False) -> None:
        i = self._check_index(input_index)
        if i not in self._model.inputs:
            raise InterpreterError(
                f"tensor {i} '{self._model.tensors[i].name}' is not a graph input"
            )
        try:
            shape = tuple(operator.index(d) for d in tensor_size)
        except (TypeError, ValueError):
            raise InterpreterError(f"new shape {tensor_size!r} is not a list of integers") from None
        old = self._shapes[i]
        if len(shape) != len(old) or any(d <= 0 for d in shape):
            raise InterpreterError(
                f"tensor {i}: new shape {list(shape)}, expected {len(old)} positive dimensions"
            )
        if strict:
            sig = self._model.tensors[i].shape_signature
            for d, s in zip(shape, sig):
                if s != -1 and d != s:
                    raise InterpreterError(
                        f"tensor {i}: dimension {d} cannot change from the fixed {s} in strict mode"
                    )
        saved = (self._shapes, self._resized, self._nodes)
        self._shapes = list(self._shapes)
        self._shapes[i] = shape
        self._resized = True
        try:
            self._prepare()
        except ModelError:
            self._shapes, self._resized, self._nodes = saved
            raise
        self._arrays = None
        self._slices = None

    # -- details ------------------------------------------------------------------
    def _details(self, i: int) -> dict:
        t = self._model.tensors[i]
        q = t.quantization
        shape = np.array(self._shapes[i], dtype=np.int32)
        dtype = t.dtype.type if t.dtype is not None else None
        return {
            "name": t.name,
            "index": i,
            "shape": shape,
            "shape_signature": np.array(t.shape_signature, dtype=np.int32),
            "dtype": dtype,
            "quantization": (q.scale, q.zero_point) if q.scales.size == 1 else (0.0, 0),
            "quantization_parameters": {
                "scales": np.array(q.scales, dtype=np.float32),
                "zero_points": np.array(q.zero_points, dtype=np.int32),
                "quantized_dimension": int(q.quantized_dimension),
                "block_size": 0,
            },
            "sparsity_parameters": {},
        }

    def get_input_details(self) -> list:
        return [self._details(i) for i in self._model.inputs]

    def get_output_details(self) -> list:
        return [self._details(i) for i in self._model.outputs]

    def get_tensor_details(self) -> list:
        return [self._details(t.index) for t in self._model.tensors]


def _thread_count(num_threads) -> int:
    """TFLite's ``num_threads``: None for the default (1 here), -1 for one
    per CPU, else a positive integer."""
    if num_threads is None:
        return 1
    if isinstance(num_threads, bool) or not isinstance(num_threads, (int, np.integer)):
        raise InterpreterError(f"num_threads={num_threads!r}: expected an integer >= 1 or -1")
    if num_threads == -1:
        return default_threads()
    if num_threads < 1:
        raise InterpreterError(f"num_threads={num_threads}: expected an integer >= 1 or -1")
    return int(num_threads)
