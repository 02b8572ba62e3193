#!/usr/bin/env bash
# pagenet-zcsrv --queues 2 on a two-queue veth: a stack per queue, each on
# its own thread, one address. The kernel's TCP picks a queue per
# connection at random (veth follows the sender's flow hash), so about half
# the segments land on the queue that does not own their flow and are
# handed over. Checked: ping and ARP (and ping -6, neighbour discovery,
# 50 IPv6 connections) answered whichever queue asks, a 20 MB
# POST hashed right, 200 connections opened one after another all served,
# wrk on 64 connections with no error, both queues busy, segments handed
# over and none dropped; then the stack as client (fetch, an active open
# from queue 0) gets a 30 MB file whole from python's http.server however
# the replies are spread. Every page back at exit.
# usage: tcp_multicore.sh PAGENET_ZCSRV
ZCSRV=$1
source "$(dirname "$0")/lib.sh"
need_root
for t in curl wrk sha256sum; do command -v $t >/dev/null || skip "$t is not installed"; done
tcp_topology 2

zc_start $tmp/o.json $tmp/o.err --mode http --listen 8080 --queues 2 --ip6 $S_IP6/64
grep -q 'a stack per queue' $tmp/o.err || fail "zcsrv did not say it runs a stack per queue"
log "ping the stack, both families"
ip netns exec $NS_K ping -q -c 5 -i 0.1 -W 1 $S_IP >&2 || fail "no echo reply from the stack"
ip netns exec $NS_K ping -6 -q -c 5 -i 0.1 -W 1 $S_IP6 >&2 || fail "no IPv6 echo reply from the stack"

log "50 IPv6 connections one after another"
serial_gets 50 "http://[$S_IP6]:8080/100"

log "curl POSTs 20 MB"
head -c 20000000 /dev/urandom >$tmp/post.bin
want=$(sha256sum <$tmp/post.bin | cut -d' ' -f1)
got=$(ip netns exec $NS_K curl -sS -m 60 --data-binary @$tmp/post.bin http://$S_IP:8080/post)
[ "$got" = "$want" ] || fail "SHA-256 of the POST body: got '$got', want $want"

log "200 connections one after another"
serial_gets 200 "http://$S_IP:8080/100"

log "wrk: 64 connections for 5 s"
wrk_clean -t2 -c64 -d5s http://$S_IP:8080/1000
zc_stop $tmp/o.json $tmp/o.err
expect $tmp/o.json 'j["nb_queues"] == 2 and len(j["queues"]) == 2' "two queues reported" 'j.get("queues")'
expect $tmp/o.json 'all(q["rx_frames"] > 100 for q in j["queues"])' "both queues received" 'j["queues"]'
expect $tmp/o.json 'j["net"]["steer_out"] > 0 and j["net"]["steer_out"] == j["net"]["steer_in"]' \
	"segments handed over, every one taken" 'j["net"]'
expect $tmp/o.json 'j["net"]["steer_drops"] == 0' "no segment dropped on the way" 'j["net"]'
expect $tmp/o.json 'j["service"]["bad_requests"] == 0 and j["tcp"]["bad_csum"] == 0' "clean" 'j["service"]'
grep -q 'every page came back' $tmp/o.err || fail "no clean-exit report"
log "handed over: $(json_final $tmp/o.json 'j["net"]["steer_out"]') of $(json_final $tmp/o.json 'j["tcp"]["segs_in"]') segments"

kernel_file_server 30000000
handed=0
for run in 1 2 3; do
	log "fetch 30 MB with two queues (run $run)"
	zc_start $tmp/f.json $tmp/f.err --mode fetch --connect $K_IP:8000 --path /f.bin --queues 2
	zc_wait $tmp/f.json $tmp/f.err
	got=$(json_final $tmp/f.json 'j["client"]["sha256"]')
	[ "$got" = "$want" ] || fail "fetched SHA-256 $got, want $want"
	expect $tmp/f.json 'j["net"]["steer_drops"] == 0' "no segment dropped on the way" 'j["net"]'
	# replies on queue 1 reach the connection on queue 0 only by hand-over
	expect $tmp/f.json 'j["queues"][1]["segs_in"] + j["queues"][1]["steer_out"] == 0 or j["net"]["steer_out"] > 0' \
		"replies on queue 1 were not handed over" 'j["queues"]'
	handed=$((handed + $(json_final $tmp/f.json 'j["net"]["steer_out"]')))
done
log "fetch: $handed segments handed from queue 1 to queue 0 over three runs"
log "PASS"
