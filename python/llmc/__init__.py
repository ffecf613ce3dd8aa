"""llmc: an MLIR-based compiler for LLM inference and hardware mapping.

    import llmc
    module = llmc.ir.parse(open("model.mlir").read())
    llmc.passes.run(module, "builtin.module(llmc-verify-model)")
    print(module)

    model = llmc.load("model.gguf")
    compiled = model.compile(target="cpu")
    text = compiled.generate("Once upon a time", max_tokens=32)

Failures raise llmc.MLIRError; its ``diagnostics`` attribute (and message)
holds the MLIR diagnostics, one per line.
"""

from . import _llmc
from ._llmc import MLIRError
from . import ir, passes
from .model import CompiledModel, Model, load, tokenize

set_threads = _llmc.runtime.set_threads
get_threads = _llmc.runtime.get_threads

__all__ = ["CompiledModel", "MLIRError", "Model", "get_threads", "ir", "load",
           "passes", "set_threads", "tokenize"]
