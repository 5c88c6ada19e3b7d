"""CONV_2D: not implemented yet."""


def prepare(op, ctx):
    raise ctx.unsupported(op, "this operator is not implemented yet")
