#!/usr/bin/env bash
# IPv6 against the kernel: the stack (dual stack, --ip6) passes duplicate
# address detection, answers ping -6 (neighbour discovery both ways), and
# a 4,000-byte ping -6 that arrives in pieces, in pieces;
# curl -6 POSTs 30 MB and gets its SHA-256 back; socat echoes 10 MB over
# IPv6 byte-exact; wrk -6 keeps 32 connections busy; IPv4 still works on
# the same listener; the stack fetches from the kernel's python http.server
# over IPv6. Every page back.
# usage: tcp_ipv6.sh PAGENET_ZCSRV
ZCSRV=$1
source "$(dirname "$0")/lib.sh"
need_root
for t in curl socat wrk sha256sum; do command -v $t >/dev/null || skip "$t is not installed"; done
tcp_topology

zc_start $tmp/o.json $tmp/o.err --mode http --listen 8080 --ip6 $S_IP6/64
log "ping -6 the stack"
ip netns exec $NS_K ping -6 -q -c 5 -i 0.1 -W 1 $S_IP6 >&2 || fail "no ICMPv6 echo reply"
log "ping -6 -s 4000: the kernel sends it in pieces, the stack answers in pieces"
ip netns exec $NS_K ping -6 -q -c 3 -i 0.2 -W 2 -s 4000 $S_IP6 >&2 ||
	fail "no reply to a fragmented ICMPv6 echo"
log "curl -6 POSTs 30 MB"
head -c 30000000 /dev/urandom >$tmp/post.bin
want=$(sha256sum <$tmp/post.bin | cut -d' ' -f1)
got=$(ip netns exec $NS_K curl -6 -sS -m 120 --data-binary @$tmp/post.bin "http://[$S_IP6]:8080/post")
[ "$got" = "$want" ] || fail "SHA-256 over IPv6: got '$got', want $want"
log "wrk over IPv6: 32 connections for 5 s"
wrk_clean -t2 -c32 -d5s "http://[$S_IP6]:8080/1000"
log "the same listener over IPv4"
got=$(ip netns exec $NS_K curl -sS -m 60 --data-binary @$tmp/post.bin http://$S_IP:8080/post)
[ "$got" = "$want" ] || fail "SHA-256 over IPv4 on the dual-stack listener"
zc_stop $tmp/o.json $tmp/o.err
expect $tmp/o.json 'j["net"]["nd_dad_conflicts"] == 0 and j["net"]["icmp6_echo_requests"] >= 8 and j["net"]["ip6_fragments"] >= 9 and j["net"]["ip6_frags_out"] >= 9 and j["net"]["ip_reasm_ok"] >= 3' \
	"IPv6 counters" 'j["net"]'

log "socat echoes 10 MB over IPv6"
zc_start $tmp/e.json $tmp/e.err --mode echo --listen 7 --ip6 $S_IP6/64
head -c 10000000 /dev/urandom >$tmp/echo.bin
ip netns exec $NS_K timeout 60 socat -t 5 - "TCP6:[$S_IP6]:7" <$tmp/echo.bin >$tmp/echo.out ||
	fail "socat over IPv6"
cmp -s $tmp/echo.bin $tmp/echo.out || fail "the echo differs ($(stat -c %s $tmp/echo.out) bytes back)"
zc_stop $tmp/e.json $tmp/e.err

log "the stack fetches from the kernel over IPv6"
head -c 5000000 /dev/urandom >$tmp/srv.bin
(cd $tmp && exec ip netns exec $NS_K python3 -m http.server 8000 --bind $K_IP6 >/dev/null 2>&1) &
pids+=($!)
for _ in $(seq 50); do ip netns exec $NS_K ss -ltn | grep -q ':8000' && break; sleep 0.1; done
zc_start $tmp/f.json $tmp/f.err --mode fetch --ip6 $S_IP6/64 --connect "[$K_IP6]:8000" --path /srv.bin
zc_wait $tmp/f.json $tmp/f.err
want=$(sha256sum <$tmp/srv.bin | cut -d' ' -f1)
[ "$(json_final $tmp/f.json 'j["client"]["sha256"]')" = "$want" ] || fail "fetched body differs"
log "PASS: ping -6, 30 MB POST, wrk, socat 10 MB echo, fetch 5 MB, all over IPv6"
