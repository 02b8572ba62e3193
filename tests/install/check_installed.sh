#!/usr/bin/env bash
# libpagenet as a user gets it, from a build directory:
#  - `meson install` (into a DESTDIR: nothing lands in the system);
#  - every installed header compiles on its own, as strict C11 and as
#    C++23 (-Wall -Wextra -Werror, no -pthread, nothing else included);
#  - the shared library exports the public API and nothing else: no
#    internal pn_ function, no symbol of the libraries it uses;
#  - the examples build with pkg-config alone, against the shared and the
#    static library (no --whole-archive), and run: every driver is there;
#  - as a meson subproject pagenet builds the library and neither tests,
#    benchmarks nor programs, and installs nothing; the examples link it.
# usage: check_installed.sh BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
top=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
log() { echo "== $*"; }

log "meson install into a DESTDIR"
meson install -C "$build" --destdir "$tmp/root" --quiet >/dev/null
pc=$(find "$tmp/root" -name libpagenet.pc | head -1)
[ -n "$pc" ] || fail "no libpagenet.pc installed"
export PKG_CONFIG_PATH=$(dirname "$pc") PKG_CONFIG_SYSROOT_DIR=$tmp/root
inc=$(pkg-config --variable=includedir libpagenet)/pagenet
libdir=$(pkg-config --variable=libdir libpagenet)
[ -d "$inc" ] && [ -f "$libdir/libpagenet.a" ] && [ -L "$libdir/libpagenet.so" ] ||
	fail "headers or libraries missing under $tmp/root"
soname=$(readelf -d "$libdir/libpagenet.so" | sed -n 's/.*SONAME.*\[\(.*\)\].*/\1/p')
[ "$soname" = libpagenet.so.0 ] || fail "soname '$soname'"

log "each header alone: C11 and C++23"
n=0
for h in "$inc"/*.h; do
	b=$(basename "$h")
	echo "#include <$b>" | cc -std=c11 -Wall -Wextra -Werror -fsyntax-only -I"$inc" -x c - ||
		fail "$b does not compile alone as C11"
	echo "#include <$b>" | g++ -std=c++23 -Wall -Wextra -Werror -fsyntax-only -I"$inc" -x c++ - ||
		fail "$b does not compile alone as C++23"
	n=$((n + 1))
done
[ $n -ge 15 ] || fail "only $n headers installed"
echo "$n headers"

log "exports: the public API only"
nm -D --defined-only "$libdir/libpagenet.so" | awk '$3 != "" {print $3}' | sed 's/@.*//' |
	sort -u >"$tmp/exported"
grep -v '^pn_\|^PAGENET_' "$tmp/exported" && fail "symbols outside the pn_ API exported (above)"
for internal in pn_tcp_tw_adopt pn_ipv4_reasm pn_stack_l4_deliver pn_zc_issue; do
	grep -qx "$internal" "$tmp/exported" && fail "internal $internal exported"
done
echo "$(wc -l <"$tmp/exported") symbols"

log "the installed pagenet-bench runs the installed scripts and pagenet-zcsrv"
bench=$(find "$tmp/root" -path '*/bin/pagenet-bench' | head -1)
if [ -n "$bench" ]; then
	LD_LIBRARY_PATH=$libdir strace -f -e trace=execve -o "$tmp/exec" "$bench" tcp --help >/dev/null
	grep -q "libexec/pagenet/pagenet-bench-tcp\", \[.*--zcsrv\", \"$tmp/root" "$tmp/exec" ||
		{ grep execve "$tmp/exec" >&2; fail "the installed pagenet-bench runs build-tree paths"; }
fi

log "the examples with pkg-config alone, shared and static"
cp "$top"/examples/*.c "$top"/examples/Makefile "$tmp/"
make -s -C "$tmp" all static >/dev/null
LD_LIBRARY_PATH=$libdir "$tmp/fwd_minimal" 0.5
LD_LIBRARY_PATH=$libdir "$tmp/zc_workers" 8
"$tmp/fwd_minimal_static" 0.5
"$tmp/zc_workers_static" 8
if ldd "$tmp/fwd_minimal_static" | grep -q libpagenet; then fail "the static example loads the shared library"; fi

log "as a meson subproject"
mkdir -p "$tmp/parent/subprojects"
ln -s "$top" "$tmp/parent/subprojects/pagenet"
cat >"$tmp/parent/meson.build" <<EOM
project('parent', 'c', default_options : ['c_std=c11'])
pagenet = subproject('pagenet')
executable('zc_workers', '$top/examples/zc_workers.c',
  dependencies : pagenet.get_variable('libpagenet_dep'))
EOM
unset PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR
meson setup "$tmp/parent/build" "$tmp/parent" >"$tmp/setup.log" 2>&1 ||
	{ tail -20 "$tmp/setup.log"; fail "meson setup of a project using pagenet as a subproject"; }
meson introspect --targets "$tmp/parent/build" >"$tmp/targets.json"
python3 - "$tmp/targets.json" <<'EOM'
import json, sys
names = [t['name'] for t in json.load(open(sys.argv[1]))]
extra = [n for n in names if n.startswith(('test_', 'fuzz_', 'pagenet-'))]
assert not extra, 'a subproject builds these too: %s' % extra
installed = [t['name'] for t in json.load(open(sys.argv[1])) if t.get('installed')]
assert not installed, 'a subproject installs: %s' % installed
EOM
ninja -C "$tmp/parent/build" >"$tmp/build.log" 2>&1 || { tail -20 "$tmp/build.log"; fail "build"; }
"$tmp/parent/build/zc_workers" 8
log "PASS: installed headers, exports, pkg-config (shared and static), subproject"
