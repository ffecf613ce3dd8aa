# Budget mode on a real model, with every boundary computed from the
# `--report-memory --json` totals (never hard-coded): a budget of exactly
# the total fits, one byte less does not (or takes the next choice).
# Prints one line per check for FileCheck.
# usage: memory_budget.py MODEL OUTDIR
import json
import re
import subprocess
import sys

model, out = sys.argv[1], sys.argv[2]


def compile_(*args):
    """(exit code, parsed JSON or None, stderr) of `llmc compile MODEL`."""
    p = subprocess.run(["llmc", "compile", model, "-o", out + "/b.so",
                        "--report-memory", "--json", *args],
                       capture_output=True, text=True)
    return p.returncode, json.loads(p.stdout) if p.returncode == 0 else None, \
        p.stderr


def total(*args):
    code, result, err = compile_(*args)
    assert code == 0, err
    return result["memory"]["total"]


# 1. The model as it is fits a budget of exactly its total: nothing changes.
full = total()
code, result, err = compile_("--memory-budget", str(full))
assert code == 0, err
choice = result["memory_budget"]
assert (choice["kv"], choice["quantize"], choice["context"]) == ("", "", 2048)
assert result["memory"]["total"] == choice["total"] == full
print("fits at", full, "with", choice["decisions"][1])

# 2. One byte less: KIVI 8 bits, and the compiled library's own report
#    agrees with the estimate the chooser used.
code, result, err = compile_("--memory-budget", str(full - 1))
assert code == 0, err
choice = result["memory_budget"]
assert choice["kv"] == "kivi8", choice
assert result["memory"]["total"] == choice["total"] <= full - 1
assert result["memory"]["kv"]["precision"] == "kivi8"
print("one byte less:", choice["decisions"][1])

# 3. Everything fixed: exactly the total fits, one byte less fails with the
#    error naming the need, the excess and the dominant component.
fixed = ["--context", "256", "--kv", "kivi4"]
need = total(*fixed)
code, result, err = compile_(*fixed, "--memory-budget", str(need))
assert code == 0, err
assert result["memory"]["total"] == need
print("fixed fits at", need)
code, result, err = compile_(*fixed, "--memory-budget", str(need - 1))
assert code == 1, (code, err)
expected = (f"does not fit in a memory budget of {need - 1} bytes "
            rf"\([0-9.]+ [KM]iB\): needs at least {need} bytes \(1 bytes "
            r"over\); .* dominates? \([0-9]+ bytes, [0-9.]+%\)")
assert re.search(expected, err), err
print("fixed one byte less:", err.strip())

# 4. A shorter context is the last resort; the largest that fits: one
#    position more does not fit.
code, result, err = compile_("--memory-budget", "3M")
assert code == 0, err
choice = result["memory_budget"]
context = choice["context"]
assert 128 <= context < 2048, choice
longer = total("--context", str(context + 1), "--kv",
               choice["kv"].replace(f"-r{context // 4}",
                                    f"-r{(context + 1) // 4}"))
assert longer > 3 * 2**20, (context, longer)
print("3M: context", context, "(one more needs", longer, "bytes)")

# 5. Weights that do not fit: without --allow-weight-requant an error
#    naming the weights; with it, q4_0.
code, result, err = compile_("--memory-budget", "1M")
assert code == 1
print("1M:", err.strip())
code, result, err = compile_("--memory-budget", "1M", "--allow-weight-requant")
assert code == 0, err
choice = result["memory_budget"]
assert choice["quantize"] == "q4_0", choice
assert result["memory"]["total"] <= 2**20
assert result["memory"]["weights"]["formats"].get("q4_0", 0) > 0
print("1M with requant:", choice["decisions"][0])
