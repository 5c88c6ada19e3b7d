"""Memory planners with TFLite Micro's interface: ``add_buffer(size,
first_use, last_use)`` for every buffer, then ``offsets`` and ``arena_size``.

:class:`GreedyPlanner` reproduces TFLite Micro's ``GreedyMemoryPlanner``
decision for decision; :class:`LinearPlanner` puts every buffer after the
previous one (TFLite Micro's ``LinearMemoryPlanner``); :class:`OverlapPlanner`
is a first-fit planner that also honours explicit permissions for two
buffers to overlap (``allow_overlap``).

Two buffers are live at the same time when their closed intervals
``[first_use, last_use]`` intersect.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import InternalError

#: TFLite Micro's ``MicroArenaBufferAlignment()``: every planned size is rounded up to it
ALIGNMENT = 16

def align_up(n: int, alignment: int = ALIGNMENT) -> int:
    return -(-int(n) // alignment) * alignment


def lifetimes_overlap(a_first: int, a_last: int, b_first: int, b_last: int) -> bool:
    """TFLite Micro's ``DoesEntryOverlapInTime``: closed intervals intersect."""
    return not (a_first > b_last or b_first > a_last)


@dataclass(frozen=True)
class BufferRequest:
    size: int
    first_use: int
    last_use: int
    offline_offset: int | None = None  # a fixed offset (TFLite Micro's offline plan)


class Planner:
    """The interface: add buffers, then read their offsets and the arena size.

    ``add_buffer`` returns the buffer's id (0, 1, ... in the order added).
    The plan is computed on first access to ``offsets`` or ``arena_size``
    and again after any later ``add_buffer``.
    """

    name = "planner"

    def __init__(self):
        self.buffers: list[BufferRequest] = []
        self._offsets: list[int] | None = None

    def add_buffer(self, size: int, first_use: int, last_use: int,
                   offline_offset: int | None = None) -> int:
        """``offline_offset``: the buffer's offset is given (TFLite Micro's
        ``AddBuffer`` with an offline offset); only :class:`GreedyPlanner`
        takes it."""
        size, first_use, last_use = int(size), int(first_use), int(last_use)
        if size < 0:
            raise ValueError(f"buffer size {size} is negative")
        if last_use < first_use:
            raise ValueError(f"buffer last use {last_use} is before its first use {first_use}")
        if offline_offset is not None:
            offline_offset = int(offline_offset)
        self.buffers.append(BufferRequest(size, first_use, last_use, offline_offset))
        self._offsets = None
        return len(self.buffers) - 1

    @property
    def offsets(self) -> list[int]:
        if self._offsets is None:
            self._offsets = self._plan() if self.buffers else []
        return list(self._offsets)

    def offset(self, buffer_id: int) -> int:
        return self.offsets[buffer_id]

    @property
    def arena_size(self) -> int:
        """TFLite Micro's ``GetMaximumMemorySize``: the highest end of any buffer."""
        offs = self.offsets
        return max((o + b.size for o, b in zip(offs, self.buffers)), default=0)

    def _plan(self) -> list[int]:
        raise NotImplementedError


class LinearPlanner(Planner):
    """Every buffer after the previous one, no reuse (TFLite Micro's
    ``LinearMemoryPlanner``): the upper bound every other plan must beat."""

    name = "linear"

    def _plan(self) -> list[int]:
        offsets, top = [], 0
        for b in self.buffers:
            offsets.append(top)
            top += b.size
        return offsets


class GreedyPlanner(Planner):
    """TFLite Micro's ``GreedyMemoryPlanner`` (``CalculateOffsetsIfNeeded``).

    The decisions it reproduces, each of which changes offsets:

    * Buffers with an offline offset (TFLite Micro's offline plan, the
      ``OfflineMemoryAllocation`` metadata) come first, in the order they
      were added, each at its given offset.
    * Order of the others: TFLite Micro writes their ids into its sort array
      from the back (the first buffer added lands last), then runs a stable
      bubble sort by decreasing size. So: largest first, and among equal
      sizes the buffer added *later* comes first.
    * The first buffer in that order is put at offset 0 (unless it is offline).
    * Each next buffer walks the already placed buffers in increasing offset
      order, looking only at those whose lifetime intersects its own. The
      candidate offset starts at 0 and becomes the highest end seen so far;
      it is taken as soon as the gap before the next such buffer is at least
      the wanted size (a gap may be negative: buffers are sorted by start,
      not end), or when there is no further such buffer.
    * A newly placed buffer goes into the offset-ordered list after every
      buffer with the same offset, which decides the walk order later.
    """

    name = "tflm"

    def _order(self) -> list[int]:
        ids = list(range(len(self.buffers)))[::-1]
        # Python's sort is stable, as TFLite Micro's bubble sort is
        ids.sort(key=lambda i: -self.buffers[i].size)
        return ids

    def _plan(self) -> list[int]:
        reqs = self.buffers
        fixed = [i for i, b in enumerate(reqs) if b.offline_offset is not None]
        order = fixed + [i for i in self._order() if reqs[i].offline_offset is None]
        offsets = [0] * len(reqs)
        placed: list[int] = []  # buffer ids by increasing offset (insertion after equals)
        for k, bid in enumerate(order):
            want = reqs[bid]
            candidate = 0
            if want.offline_offset is not None:
                candidate = want.offline_offset
            elif k > 0:
                for other in placed:
                    o = reqs[other]
                    if not lifetimes_overlap(o.first_use, o.last_use,
                                             want.first_use, want.last_use):
                        continue
                    if offsets[other] - candidate >= want.size:
                        break  # the gap before this buffer is large enough
                    candidate = max(candidate, offsets[other] + o.size)
            offsets[bid] = candidate
            pos = len(placed)
            for j, other in enumerate(placed):
                if offsets[other] > candidate:
                    pos = j
                    break
            placed.insert(pos, bid)
        return offsets


class OverlapPlanner(Planner):
    """First-fit planning with permitted overlaps.

    ``allow_overlap(a, b, lo, hi)`` declares that buffers ``a`` and ``b`` may
    share bytes although both are live, provided ``offset(b) - offset(a)``
    lies in ``[lo, hi]`` (``None`` for an open end). Without such a
    permission, two buffers live at the same time never share a byte.

    Offsets are multiples of ``alignment``. Several placement orders are
    tried (TFLite Micro's order among them) and the smallest arena is kept;
    each order places every buffer at the lowest offset that satisfies every
    already placed buffer.
    """

    name = "overlap"

    def __init__(self, alignment: int = ALIGNMENT):
        super().__init__()
        self.alignment = alignment
        self.permissions: dict[tuple[int, int], tuple[float, float]] = {}

    def allow_overlap(self, a: int, b: int, lo=None, hi=None) -> None:
        for i in (a, b):
            if not 0 <= i < len(self.buffers):
                raise ValueError(f"no buffer {i}")
        if a == b:
            raise ValueError("a buffer cannot be given an overlap with itself")
        lo = -math.inf if lo is None or lo == -math.inf else int(lo)
        hi = math.inf if hi is None or hi == math.inf else int(hi)
        if lo > hi:
            raise ValueError(f"empty overlap range [{lo}, {hi}]")
        self.permissions[(a, b)] = (lo, hi)
        self._offsets = None

    def relation_ok(self, a: int, oa: int, b: int, ob: int) -> bool:
        """May buffers a and b (both live at some time) sit at oa and ob?"""
        sa, sb = self.buffers[a].size, self.buffers[b].size
        if oa + sa <= ob or ob + sb <= oa or sa == 0 or sb == 0:
            return True
        p = self.permissions.get((a, b))
        if p is not None and p[0] <= ob - oa <= p[1]:
            return True
        p = self.permissions.get((b, a))
        if p is not None and p[0] <= oa - ob <= p[1]:
            return True
        return False

    def _orders(self) -> list[list[int]]:
        n = len(self.buffers)
        b = self.buffers
        greedy = list(range(n))[::-1]
        greedy.sort(key=lambda i: -b[i].size)
        orders = [
            greedy,
            sorted(range(n), key=lambda i: (-b[i].size, b[i].first_use, i)),
            sorted(range(n), key=lambda i: (-b[i].size * (b[i].last_use - b[i].first_use + 1), i)),
            sorted(range(n), key=lambda i: (b[i].first_use, -b[i].size, i)),
            sorted(range(n), key=lambda i: (-(b[i].last_use - b[i].first_use), -b[i].size, i)),
            # consumers before producers: an output that may reach into its
            # input is placed first, the input then finds its place above
            sorted(range(n), key=lambda i: (-b[i].last_use, -b[i].size, i)),
            sorted(range(n), key=lambda i: (-b[i].first_use, -b[i].size, i)),
        ]
        unique = []
        for o in orders:
            if o not in unique:
                unique.append(o)
        return unique

    def _place(self, order: list[int]) -> list[int]:
        reqs, al = self.buffers, self.alignment
        offsets: dict[int, int] = {}
        for bid in order:
            want = reqs[bid]
            live = [p for p in offsets
                    if lifetimes_overlap(reqs[p].first_use, reqs[p].last_use,
                                         want.first_use, want.last_use)]
            # the lowest feasible offset is 0 or the left end of some feasible interval
            cands = {0}
            for p in live:
                op = offsets[p]
                cands.add(op + reqs[p].size)
                perm = self.permissions.get((p, bid))
                if perm is not None and perm[0] != -math.inf:
                    cands.add(op + perm[0])
                perm = self.permissions.get((bid, p))
                if perm is not None and perm[1] != math.inf:
                    cands.add(op - perm[1])
            for c in sorted({align_up(c, al) for c in cands if c >= 0} | {0}):
                if all(self.relation_ok(p, offsets[p], bid, c) for p in live):
                    offsets[bid] = c
                    break
            else:  # pragma: no cover - the end of every live buffer is always feasible
                raise InternalError("overlap planner found no offset")
        return [offsets[i] for i in range(len(reqs))]

    def _plan(self) -> list[int]:
        best = None
        for order in self._orders():
            offs = self._place(order)
            top = max(o + b.size for o, b in zip(offs, self.buffers))
            if best is None or top < best[0]:
                best = (top, offs)
        return best[1]
