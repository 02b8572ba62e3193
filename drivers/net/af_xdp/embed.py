#!/usr/bin/env python3
"""Embed a compiled BPF object in C so the library needs no file at run time."""
import sys

src, dst, name = sys.argv[1:4]
data = open(src, 'rb').read()
with open(dst, 'w') as out:
    out.write('/* generated from %s: do not edit */\n#include <stddef.h>\n' % src.split('/')[-1])
    out.write('const unsigned char %s[] __attribute__((aligned(8))) = {\n' % name)
    for i in range(0, len(data), 16):
        out.write('  ' + ', '.join('0x%02x' % b for b in data[i:i + 16]) + ',\n')
    out.write('};\nconst size_t %s_len = %d;\n' % (name, len(data)))
