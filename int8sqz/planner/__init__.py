"""Memory planners: where each activation lives in one arena.

* :mod:`.planners`: planners with TFLite Micro's interface
  (``add_buffer(size, first_use, last_use)``, then ``offsets`` and
  ``arena_size``): TFLite Micro's greedy planner decision for decision, a
  linear one, and a first-fit planner with permitted overlaps;
* :mod:`.lifetimes`: what is planned: each tensor's size and lifetime by
  TFLite Micro's rules, and its kernels' scratch requests;
* :mod:`.plan`: :func:`plan_model` and the ``tflm`` plan (TFLite Micro's,
  to the byte);
* :mod:`.sharing`: the ``optimized`` plan, from the sharing facts each
  operator's unit states (int8sqz.ops);
* :mod:`.tflm_optimized`: the ``tflm-optimized`` plan, which TFLite Micro
  itself runs once written into the model (int8sqz.offline_plan), from the
  facts each unit states about TFLite Micro's kernels (``tflm_sharing``);
* :mod:`.tflm_arena`: the whole arena TFLite Micro needs around a plan
  (``kTensorArenaSize``), from the units' ``tflm_persistent`` facts.

The last two are imported on use (``from int8sqz.planner.tflm_optimized
import ...``): they need int8sqz.offline_plan, which imports this package.

Only shapes, types and the operator list are used: planning works on any
valid model, including one whose operators int8sqz cannot run.
"""

from .lifetimes import (
    Lifetime, needs_allocating, tensor_nbytes, tflm_lifetimes, tflm_scratch_requests,
)
from .plan import PLANNERS, MemoryPlan, Placement, Scratch, c_strides, plan_model
from .planners import (
    ALIGNMENT, BufferRequest, GreedyPlanner, LinearPlanner, OverlapPlanner, Planner, align_up,
    lifetimes_overlap,
)
from .sharing import concat_views, inplace_pairs, overlap_shift, same_quantization

__all__ = [
    "ALIGNMENT", "BufferRequest", "GreedyPlanner", "Lifetime", "LinearPlanner", "MemoryPlan",
    "OverlapPlanner", "PLANNERS", "Placement", "Planner", "Scratch", "align_up", "c_strides",
    "concat_views", "inplace_pairs", "lifetimes_overlap", "needs_allocating", "overlap_shift",
    "plan_model", "same_quantization", "tensor_nbytes", "tflm_lifetimes", "tflm_scratch_requests",
]
