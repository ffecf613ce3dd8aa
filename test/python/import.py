# RUN: %PYTHON %s | FileCheck %s
# The package imports with its submodules and exception type.
import llmc

# CHECK: ['CompiledModel', 'MLIRError', 'Model', 'get_threads', 'ir', 'load', 'passes', 'set_threads', 'tokenize']
print(sorted(llmc.__all__))
# CHECK: True
print(issubclass(llmc.MLIRError, RuntimeError))
# CHECK: parse parse_file
print(llmc.ir.parse.__name__, llmc.ir.parse_file.__name__)
