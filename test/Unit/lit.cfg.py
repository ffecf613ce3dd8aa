# -*- Python -*-
# lit configuration running llmc's GoogleTest unit tests, one lit test per case.

import os

import lit.formats

config.name = "llmc-Unit"
config.suffixes = []
config.test_source_root = config.llmc_unittests_dir
config.test_exec_root = config.test_source_root
config.test_format = lit.formats.GoogleTest(".", "Tests")
