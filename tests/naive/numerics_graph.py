"""Running the numerics oracles on a model: each operator's tensors, options
and quantization read from the flatbuffer (int8sqz.model), handed to the
oracle function of the chosen numerics ("builtin" or "xnnpack"), operator
after operator. For the differential tests and the per-model measurements;
nothing here is arithmetic."""

from __future__ import annotations

import numpy as np

from int8sqz.model import load_model

from . import numerics_builtin, numerics_xnnpack

ORACLES = {"builtin": numerics_builtin, "xnnpack": numerics_xnnpack}


class Unsupported(Exception):
    """The oracle has no function for this operator or these types."""


def _q(t):
    """(scale, zero point) of a per-tensor quantized tensor; (0.0, 0) without one."""
    q = t.quantization
    if not q.scales.size:
        return 0.0, 0
    return float(q.scales[0]), int(q.zero_points[0])


def _args(model, op, tensors):
    ins = [None if i < 0 else tensors[i] for i in op.inputs]
    tin = [None if i < 0 else model.tensors[i] for i in op.inputs]
    tout = [model.tensors[o] for o in op.outputs]
    return ins, tin, tout


def _conv_like(oracle, name, op, ins, tin, tout):
    o = op.options
    in_scale, in_zp = _q(tin[0])
    out_scale, out_zp = _q(tout[0])
    kw = dict(in_scale=in_scale, in_zp=in_zp, w_scales=tin[1].quantization.scales,
              out_scale=out_scale, out_zp=out_zp,
              stride=(o.get("stride_h", 1), o.get("stride_w", 1)),
              dilation=(o.get("dilation_hfactor", 1), o.get("dilation_wfactor", 1)),
              padding=o.get("padding", "SAME"),
              activation=o.get("fused_activation_function", "NONE"),
              out_type=tout[0].type_name)
    bias = ins[2] if len(ins) > 2 else None
    if name == "DEPTHWISE_CONV_2D":
        kw["depth_multiplier"] = tout[0].shape[-1] // max(tin[0].shape[-1], 1)
    return getattr(oracle, name.lower())(ins[0], ins[1], bias, **kw)


def _binary(mode, oracle, name, op, ins, tin, tout):
    if tout[0].type_name != "INT8":
        raise Unsupported(f"{name} of {tout[0].type_name}")
    activation = op.options.get("fused_activation_function", "NONE")
    qs = dict(a_q=_q(tin[0]), b_q=_q(tin[1]), out_q=_q(tout[0]))
    out = getattr(oracle, name.lower())(ins[0], ins[1], activation=activation, **qs)
    if mode == "xnnpack" and oracle.binary_delegated(name, *qs.values()):
        shape = oracle.fused_lut_shape(np.shape(ins[0]), np.shape(ins[1]),
                                       tin[0].is_constant, tin[1].is_constant, activation)
        if shape is not None:
            out = out.reshape(shape)
    return out


def run_operator(mode: str, model, op, tensors, *, num_threads: int = 1) -> list:
    """The outputs of ``op`` under numerics ``mode``, its inputs taken from
    ``tensors`` (a list indexed by tensor, constants included)."""
    oracle = ORACLES[mode]
    ins, tin, tout = _args(model, op, tensors)
    name = op.name
    if name in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        if tin[0].type_name != "INT8" or tin[1].type_name != "INT8":
            raise Unsupported(f"{name} of {tin[0].type_name} x {tin[1].type_name}")
        return [_conv_like(oracle, name, op, ins, tin, tout)]
    if name == "QUANTIZE":
        if tout[0].quantization.per_channel:
            raise Unsupported("QUANTIZE to a per-channel output")
        in_scale, in_zp = _q(tin[0])
        out_scale, out_zp = _q(tout[0])
        return [oracle.quantize(ins[0], in_type=tin[0].type_name, in_scale=in_scale,
                                in_zp=in_zp, out_type=tout[0].type_name,
                                out_scale=out_scale, out_zp=out_zp)]
    if name == "DEQUANTIZE":
        if tin[0].quantization.per_channel or tin[0].type_name not in ("INT8", "UINT8"):
            raise Unsupported(f"DEQUANTIZE of {tin[0].type_name}, per-channel or not 8-bit")
        scale, zp = _q(tin[0])
        return [oracle.dequantize(ins[0], scale=scale, zero_point=zp)]
    if name == "MEAN":
        in_scale, in_zp = _q(tin[0])
        out_scale, out_zp = _q(tout[0])
        if tin[0].type_name not in ("INT8", "UINT8"):
            raise Unsupported(f"MEAN of {tin[0].type_name}")
        return [oracle.mean(ins[0], np.asarray(ins[1]).reshape(-1).tolist(),
                            bool(op.options.get("keep_dims", False)), in_scale=in_scale,
                            in_zp=in_zp, out_scale=out_scale, out_zp=out_zp,
                            out_type=tout[0].type_name, num_threads=num_threads)]
    if name in ("ADD", "MUL", "SUB"):
        return [_binary(mode, oracle, name, op, ins, tin, tout)]
    if name in ("MAX_POOL_2D", "AVERAGE_POOL_2D"):
        o = op.options
        scale, zp = _q(tout[0])
        return [getattr(oracle, name.lower())(
            ins[0], filter_size=(o["filter_height"], o["filter_width"]),
            stride=(o["stride_h"], o["stride_w"]), padding=o["padding"],
            activation=o.get("fused_activation_function", "NONE"), scale=scale,
            zero_point=zp, out_type=tout[0].type_name)]
    if name == "CONCATENATION":
        axis = op.options.get("axis", 0)
        return [oracle.concatenation(ins, axis % len(tout[0].shape),
                                     in_qs=[_q(t) for t in tin], out_q=_q(tout[0]))]
    if name == "SOFTMAX":
        in_scale, _ = _q(tin[0])
        out_scale, out_zp = _q(tout[0])
        return [oracle.softmax(ins[0], in_scale=in_scale, beta=op.options.get("beta", 1.0),
                               out_scale=out_scale, out_zp=out_zp, out_type=tout[0].type_name)]
    if name == "FULLY_CONNECTED":
        if tin[0].type_name != "INT8" or tin[1].type_name != "INT8":
            raise Unsupported(f"FULLY_CONNECTED of {tin[0].type_name} x {tin[1].type_name}")
        o = op.options
        in_scale, in_zp = _q(tin[0])
        out_scale, out_zp = _q(tout[0])
        bias = ins[2] if len(ins) > 2 else None
        out = oracle.fully_connected(
            ins[0], ins[1], bias, in_scale=in_scale, in_zp=in_zp,
            w_scales=tin[1].quantization.scales, out_scale=out_scale, out_zp=out_zp,
            activation=o.get("fused_activation_function", "NONE"),
            keep_num_dims=bool(o.get("keep_num_dims", False)), out_type=tout[0].type_name)
        return [out.reshape(tout[0].shape) if out.size == np.prod(tout[0].shape) else out]
    if name in ("PAD", "PADV2"):
        if name == "PADV2" and len(ins) > 2 and ins[2] is not None:
            constant = np.asarray(ins[2]).reshape(-1)[0]
        else:
            constant = _q(tout[0])[1] if tout[0].quantization.scales.size else 0
        return [oracle.pad(ins[0], ins[1], constant=constant).astype(tout[0].dtype)]
    if name in ("RESHAPE", "SQUEEZE", "EXPAND_DIMS"):
        return [oracle.reshape(ins[0], tout[0].shape)]
    if name == "SHAPE":
        return [oracle.shape_of(ins[0], tout[0].dtype)]
    if name == "STRIDED_SLICE":
        o = op.options
        masks = dict(begin_mask=o.get("begin_mask", 0), end_mask=o.get("end_mask", 0),
                     ellipsis_mask=o.get("ellipsis_mask", 0),
                     new_axis_mask=o.get("new_axis_mask", 0),
                     shrink_axis_mask=o.get("shrink_axis_mask", 0))
        begin, end, strides = (np.asarray(v).reshape(-1) for v in ins[1:4])
        kw = {}
        if mode == "xnnpack":
            kw["delegated"] = (oracle.strided_slice_delegated(tin[0].type_name, strides, **masks)
                               and all(t.is_constant for t in tin[1:4])
                               and len(begin) == len(tin[0].shape))
        return [oracle.strided_slice(ins[0], begin, end, strides,
                                     offset=bool(o.get("offset", False)), **masks, **kw)]
    if name == "PACK":
        return [oracle.pack(ins, op.options.get("axis", 0))]
    if name == "TRANSPOSE":
        return [oracle.transpose(ins[0], np.asarray(ins[1]).reshape(-1))]
    if name == "TILE":
        return [oracle.tile(ins[0], np.asarray(ins[1]).reshape(-1))]
    if name == "REDUCE_MAX":
        return [oracle.reduce_max(ins[0], np.asarray(ins[1]).reshape(-1).tolist(),
                                  bool(op.options.get("keep_dims", False)))]
    if name in ("MAXIMUM", "MINIMUM"):
        return [getattr(oracle, name.lower())(ins[0], ins[1])]
    if name in ("RELU", "RELU6"):
        return [oracle.relu(ins[0], in_q=_q(tin[0]), out_q=_q(tout[0]),
                            upper=6.0 if name == "RELU6" else None, out_type=tout[0].type_name)]
    if name == "RESIZE_BILINEAR":
        o = op.options
        size = np.asarray(ins[1]).reshape(-1)
        kw = dict(align_corners=bool(o.get("align_corners", False)),
                  half_pixel_centers=bool(o.get("half_pixel_centers", False)))
        if mode == "xnnpack" and not tin[1].is_constant:
            return [numerics_builtin.resize_bilinear(ins[0], size, **kw)]
        return [oracle.resize_bilinear(ins[0], size, **kw)]
    if name == "LOGISTIC":
        return [oracle.logistic(ins[0], in_q=_q(tin[0]), out_q=_q(tout[0]),
                                out_type=tout[0].type_name)]
    raise Unsupported(name)


def run_model(mode: str, model, inputs, *, given=None, num_threads: int = 1) -> dict:
    """Every tensor of ``model`` (path, bytes or loaded) under numerics
    ``mode``; ``given`` (tensor index -> array) replaces an operator's input
    by another runtime's tensor, so each operator can be checked on the
    runtime's own inputs."""
    if not hasattr(model, "operators"):
        model = load_model(model)
    tensors = [t.data for t in model.tensors]
    for i, x in zip(model.inputs, inputs):
        tensors[i] = np.asarray(x)
    for op in model.operators:
        local = list(tensors)
        if given is not None:
            for i in op.inputs:
                if i >= 0 and i in given and model.tensors[i].data is None:
                    local[i] = given[i]
        outs = run_operator(mode, model, op, local, num_threads=num_threads)
        for o, v in zip(op.outputs, outs):
            tensors[o] = np.asarray(v)
    return {i: t for i, t in enumerate(tensors) if t is not None}
