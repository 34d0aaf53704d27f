"""A module that writes to stdout (through Python and straight to file
descriptor 1) and stderr on import: the check reads its result elsewhere."""
import os
import sys

print('{"status": "not the result"}')
sys.stdout.flush()
os.write(1, b"written to fd 1\n")
print("and to stderr", file=sys.stderr)
