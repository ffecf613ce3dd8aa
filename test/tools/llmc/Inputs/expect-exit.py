"""Runs a command and succeeds only if it exits with the given code.

Usage: expect-exit.py CODE COMMAND [ARGS...]

The command's stdout and stderr pass through. A death by signal (a crash)
never counts as the expected code.
"""

import subprocess
import sys


def main():
    want = int(sys.argv[1])
    proc = subprocess.run(sys.argv[2:], stdout=sys.stdout, stderr=sys.stderr)
    if proc.returncode != want:
        sys.stderr.write("expect-exit: exit code %d, expected %d\n" % (proc.returncode, want))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
