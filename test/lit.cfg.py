# -*- Python -*-
# lit configuration for the llmc regression tests.

import os

import lit.formats
from lit.llvm import llvm_config

config.name = "llmc"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".py", ".test"]
config.excludes = ["lit.cfg.py", "lit.site.cfg.py", "Inputs", "Unit"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.llmc_obj_root, "test")

config.substitutions.append(("%PYTHON", config.python_executable))
config.substitutions.append(("%llmc_src_root", config.llmc_src_root))
config.substitutions.append(("%llmc_obj_root", config.llmc_obj_root))
config.substitutions.append(
    ("%shared_models", os.path.join(os.path.dirname(config.llmc_src_root), "shared", "models")))
# Tests that read the real model files say `REQUIRES: shared-models` and are
# reported UNSUPPORTED where ../shared/models is absent (e.g. a fresh clone).
if os.path.isdir(os.path.join(os.path.dirname(config.llmc_src_root), "shared", "models")):
    config.available_features.add("shared-models")

llvm_config.with_system_environment(["HOME", "INCLUDE", "LIB", "TMP", "TEMP"])
llvm_config.use_default_substitutions()
llvm_config.with_environment("PYTHONPATH", config.llmc_python_dir, append_path=True)
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)

tool_dirs = [config.llmc_tools_dir, config.llvm_tools_dir]
tools = ["llmc", "llmc-opt", "llmc-translate", "llmc-kernel-bench"]
llvm_config.add_tool_substitutions(tools, tool_dirs)

# A build with LLMC_SANITIZE (scripts/test-sanitizers.sh, docs/testing.md).
# Our executables load the shared ASan runtime themselves; python3 is not
# ours, so it gets the runtime preloaded to load the extension, leak
# checking off (CPython never frees its own allocations) and the options our
# executables build in (cmake/SanitizerDefaultOptions.cpp); the processes it
# starts inherit all three.
if config.llmc_sanitize:
    config.available_features.add("sanitizer")
if config.llmc_asan_runtime:
    config.substitutions = [
        (pattern, "env LD_PRELOAD=%s ASAN_OPTIONS=detect_leaks=0:"
                  "allow_user_poisoning=0:%s %s" % (
            config.llmc_asan_runtime, config.environment.get("ASAN_OPTIONS", ""),
            config.python_executable)) if pattern == "%PYTHON" else (pattern, value)
        for pattern, value in config.substitutions]
