"""Slow, obvious NumPy oracles for the kernels: one module per kernel family.

They use Python integers (no overflow) and spell out TFLite's rounding rules
plainly, so a kernel and its oracle share no code.
"""
