"""llmc: an MLIR-based compiler for LLM inference and hardware mapping.

    import llmc
    module = llmc.ir.parse(open("model.mlir").read())
    llmc.passes.run(module, "builtin.module(llmc-verify-model)")
    print(module)

Failures raise llmc.MLIRError; its ``diagnostics`` attribute (and message)
holds the MLIR diagnostics, one per line.
"""

from . import _llmc
from ._llmc import MLIRError
from . import ir, passes

__all__ = ["MLIRError", "ir", "passes"]
