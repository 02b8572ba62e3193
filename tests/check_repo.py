#!/usr/bin/env python3
"""What the repository tracks is source: no ELF binary (a build output goes
stale against the library and bloats every clone), no libFuzzer artifact
outside tests/fuzz/regressions/ (where a crash input is named for what it
found), no Python byte code."""
import os
import subprocess
import sys

top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
try:
    files = subprocess.run(['git', '-C', top, 'ls-files', '-z'], check=True,
                           capture_output=True).stdout.decode().split('\0')
except (OSError, subprocess.CalledProcessError) as e:
    print(f'SKIP: not a git checkout ({e})')
    sys.exit(77)
bad = []
for f in filter(None, files):
    base = os.path.basename(f)
    if base.startswith(('crash-', 'leak-', 'timeout-', 'oom-', 'slow-unit-')):
        bad.append(f'{f}: a fuzzer artifact (move it to tests/fuzz/regressions/<harness>/)')
    elif '__pycache__' in f.split('/') or f.endswith('.pyc'):
        bad.append(f'{f}: Python byte code')
    else:
        try:
            with open(os.path.join(top, f), 'rb') as fh:
                if fh.read(4) == b'\x7fELF':
                    bad.append(f'{f}: an ELF binary')
        except OSError:
            pass  # deleted in the work tree
for b in bad:
    print(b)
print(f'{len(files) - 1} tracked files, {len(bad)} that should not be')
sys.exit(1 if bad else 0)
