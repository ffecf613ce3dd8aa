"""Running textual pass pipelines and listing registered passes."""

from ._llmc import passes as _passes


def run(module, pipeline):
    """Run `pipeline` (e.g. "builtin.module(llmc-verify-model,canonicalize)"
    or a bare "llmc-verify-model,canonicalize") on `module` in place.

    Returns the remarks the passes emitted; raises llmc.MLIRError on failure.
    """
    return _passes.run(module, pipeline)


def list_passes():
    """Every registered pass and pipeline: dicts with name, summary, pipeline."""
    return _passes.list()


def names():
    """Names of every registered pass and pipeline."""
    return [entry["name"] for entry in _passes.list()]


__all__ = ["run", "list_passes", "names"]
