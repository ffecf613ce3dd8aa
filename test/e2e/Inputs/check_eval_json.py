"""Checks one `llmc eval --json` report against thresholds.

Usage: check_eval_json.py REPORT.json KEY OP VALUE [KEY OP VALUE ...]

KEY is a field of the report, dotted for nested ones (compressed.weight_bytes);
OP is one of < <= >= > ==. Prints "eval ok" when every condition holds,
otherwise names the first one that fails (with the measured value).
"""

import json
import operator
import sys

OPS = {"<": operator.lt, "<=": operator.le, ">=": operator.ge,
       ">": operator.gt, "==": operator.eq}


def main():
    report = json.load(open(sys.argv[1]))
    args = sys.argv[2:]
    for key, op, value in zip(args[0::3], args[1::3], args[2::3]):
        got = report
        for part in key.split("."):
            got = got[part]
        if not OPS[op](got, float(value)):
            sys.exit(f"{sys.argv[1]}: {key} = {got}, expected {op} {value}")
    for field in ("kld_mean", "top1_agreement", "baseline", "compressed"):
        if field not in report:
            sys.exit(f"{sys.argv[1]}: no field {field}")
    print("eval ok")


main()
