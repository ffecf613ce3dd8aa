"""Parsing, printing and verifying MLIR modules with llmc's dialects."""

from ._llmc import ir as _ir

Module = _ir.Module


def parse(text, source_name="<python>"):
    """Parse MLIR text; raises llmc.MLIRError with diagnostics on failure."""
    return _ir.parse(text, source_name)


def parse_file(path):
    """Parse an .mlir file; diagnostics name the file."""
    with open(path, "r", encoding="utf-8") as f:
        return _ir.parse(f.read(), str(path))


def print_module(module, generic=False):
    """The module as text (custom form, or the generic form)."""
    return module.print(generic=generic)


__all__ = ["Module", "parse", "parse_file", "print_module"]
