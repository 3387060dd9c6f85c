"""Bit primitives for compiled code: a population count that compiles to one CPU instruction."""

from __future__ import annotations

from typing import Any

from llvmlite import ir  # type: ignore[import-untyped]  # llvmlite ships no type hints
from numba import types
from numba.extending import intrinsic


def _popcount64(typingctx: Any, value: Any) -> Any:
    if not isinstance(value, types.Integer):
        return None
    sig = types.uint64(types.uint64)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        (arg,) = args
        arg = context.cast(builder, arg, signature.args[0], types.uint64)
        fn = builder.module.declare_intrinsic("llvm.ctpop", [ir.IntType(64)])
        return builder.call(fn, [arg])

    return sig, codegen


popcount64: Any = intrinsic(_popcount64)
"""Number of set bits of a ``uint64`` (LLVM ``ctpop``); callable only inside compiled code."""
