#!/usr/bin/env python3
"""The include rules (docs/architecture.md), checked on every source file,
and that the library never prints on its own (pn_log only).

- A component in lib/ includes its own headers and the public headers of
  the components built before it (lib/meson.build's order): layers point
  down, never up or sideways.
- A *_priv.h header is its folder's alone.
- Headers named for their consumer are theirs: pn_port_driver.h for lib/port
  and the drivers, pn_net_l4.h for lib/net and the protocols above IP.
- Drivers, applications and tests use public headers (and the consumer
  headers meant for them); a test that breaks invariants on purpose is
  listed below by name.
"""
import os
import re
import sys

top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONSUMER = {
    'pn_port_driver.h': {'lib/port', 'drivers'},
    'pn_net_l4.h': {'lib/net', 'lib/tcp'},
}
EXCEPTIONS = {
    # breaks the memory core's invariants by hand to show its checks fire
    ('tests/unit/test_debug.c', 'pn_mem_priv.h'),
    # the XDP program's steering table layout, shared with its test
    ('tests/unit/test_xdp_prog.c', 'pn_xdp_steer.h'),
    # reads socket ids, and sets a slot's generation at its end (2^44
    # closes of one slot cannot be counted through in a test)
    ('tests/unit/test_tcp_loss.c', 'pn_tcp_priv.h'),
}

order = re.search(r"foreach c : \[([^\]]*)\]", open(os.path.join(top, 'lib/meson.build')).read())
order = [c.strip().strip("'") for c in order.group(1).split(',')]
owner = {}  # header -> folder
for c in order:
    for f in os.listdir(os.path.join(top, 'lib', c)):
        if f.endswith('.h'):
            owner[f] = 'lib/' + c
for d in os.listdir(os.path.join(top, 'drivers/net')):
    for f in os.listdir(os.path.join(top, 'drivers/net', d)):
        if f.endswith('.h'):
            owner[f] = 'drivers/net/' + d


def public(h):
    return not h.endswith('_priv.h') and h not in CONSUMER


def allowed(path, folder, h):
    home = owner.get(h)
    if home is None or home == folder:
        return None  # system, generated or local header
    if (path, h) in EXCEPTIONS:
        return None
    if h.endswith('_priv.h'):
        return '%s is private to %s' % (h, home)
    if h in CONSUMER:
        if not any(folder == c or folder.startswith(c + '/') for c in CONSUMER[h]):
            return '%s is for %s only' % (h, ', '.join(sorted(CONSUMER[h])))
        return None
    if folder.startswith('lib/'):
        mine, theirs = folder[4:], home[4:] if home.startswith('lib/') else None
        if theirs is None:
            return '%s belongs to %s: the library does not depend on drivers' % (h, home)
        if order.index(theirs) > order.index(mine):
            return '%s is from %s, a layer above %s' % (h, home, folder)
    return None


bad = 0
for root in ('lib', 'drivers', 'apps', 'tests'):
    for dirpath, _, files in os.walk(os.path.join(top, root)):
        for f in files:
            if not f.endswith(('.c', '.h')):
                continue
            full = os.path.join(dirpath, f)
            path = os.path.relpath(full, top)
            folder = os.path.dirname(path)
            if folder.startswith('tests/'):
                folder = 'tests'
            for n, line in enumerate(open(full, errors='replace'), 1):
                m = re.match(r'\s*#\s*include\s+"([^"]+)"', line)
                if not m:
                    continue
                why = allowed(path, folder, os.path.basename(m.group(1)))
                if why:
                    print('%s:%d: %s' % (path, n, why))
                    bad += 1
# The library never prints on its own: everything goes through pn_log
# (lib/common/pn_log.c is the one place that writes, to stderr, when the
# application set no handler). Dumps to a FILE the caller passes are fine.
PRINTS = re.compile(r'\b(?:v?fprintf\s*\(\s*std(?:err|out)|printf\s*\(|puts\s*\(|perror\s*\()')
for root in ('lib', 'drivers'):
    for dirpath, _, files in os.walk(os.path.join(top, root)):
        for f in files:
            if not f.endswith('.c') or f == 'pn_log.c':
                continue
            full = os.path.join(dirpath, f)
            for n, line in enumerate(open(full, errors='replace'), 1):
                if PRINTS.search(line) and not line.lstrip().startswith(('*', '/*', '//')):
                    print('%s:%d: the library prints; use pn_log' % (os.path.relpath(full, top), n))
                    bad += 1
print('include rules: %s' % ('%d violations' % bad if bad else 'every file keeps them'))
sys.exit(1 if bad else 0)
