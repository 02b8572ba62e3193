/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pagenet's XDP program, run by the kernel on crafted frames
 * (BPF_PROG_TEST_RUN): what each steering rule takes and what it leaves to
 * the kernel. Needs root (CAP_BPF); skips without it unless CI=true.
 */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <criterion/criterion.h>
#include <linux/bpf.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pn_xdp_steer.h"

extern const unsigned char pn_xdp_obj[];
extern const size_t pn_xdp_obj_len;

static struct bpf_object *obj;
static int prog_fd, steer_fd, stats_fd;

static void setup(void)
{
	if (geteuid() != 0) {
		if (getenv("CI") && strcmp(getenv("CI"), "true") == 0)
			cr_assert_fail("CI must run the XDP program tests as root");
		cr_skip_test("needs root to load BPF programs");
	}
	obj = bpf_object__open_mem(pn_xdp_obj, pn_xdp_obj_len, NULL);
	cr_assert_not_null(obj);
	cr_assert_eq(bpf_object__load(obj), 0, "the verifier accepts the program");
	prog_fd = bpf_program__fd(bpf_object__find_program_by_name(obj, "pagenet_xdp"));
	steer_fd = bpf_object__find_map_fd_by_name(obj, "pn_steer");
	stats_fd = bpf_object__find_map_fd_by_name(obj, "pn_xdp_stats");
	cr_assert(prog_fd >= 0 && steer_fd >= 0 && stats_fd >= 0);
}

static void teardown(void)
{
	bpf_object__close(obj);
}

TestSuite(xdp_prog, .init = setup, .fini = teardown);

static void steer(uint32_t flags, const char *ip, uint8_t proto, uint16_t port)
{
	struct pn_xdp_steer s = { .flags = flags, .proto = proto, .port = htons(port),
				  .mac = { 0x02, 0, 0, 0, 0, 0x01 } };
	uint32_t key = 0;

	if (ip)
		inet_pton(AF_INET, ip, &s.ip);
	cr_assert_eq(bpf_map_update_elem(steer_fd, &key, &s, BPF_ANY), 0);
}

static uint64_t stat(uint32_t k)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t v[256], sum = 0;

	cr_assert_eq(bpf_map_lookup_elem(stats_fd, &k, v), 0);
	for (int c = 0; c < ncpu; c++)
		sum += v[c];
	return sum;
}

/* Run one frame; true when the program steered it to a socket. */
static bool steered(const uint8_t *frame, size_t len)
{
	uint8_t buf[256];
	uint64_t before = stat(PN_XDP_STAT_STEERED);
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = buf, .data_size_in = (uint32_t)len,
		    .repeat = 1);

	memcpy(buf, frame, len);
	cr_assert_eq(bpf_prog_test_run_opts(prog_fd, &opts), 0);
	/* no socket in the test map: a steered frame falls back to PASS too */
	cr_assert_eq(opts.retval, XDP_PASS);
	return stat(PN_XDP_STAT_STEERED) > before;
}

/* Ethernet + IPv4 (+ 4 bytes of L4 ports) */
static size_t ipv4(uint8_t *f, const uint8_t *dmac, const char *dst, uint8_t proto,
		   uint16_t dport, uint16_t frag)
{
	static const uint8_t smac[6] = { 0x02, 0, 0, 0, 0, 0x99 };
	uint32_t d;

	memset(f, 0, 64);
	memcpy(f, dmac, 6);
	memcpy(f + 6, smac, 6);
	f[12] = 0x08;
	f[13] = 0x00;
	f[14] = 0x45;
	f[17] = 46;
	f[20] = (uint8_t)(frag >> 8);
	f[21] = (uint8_t)frag;
	f[22] = 64;
	f[23] = proto;
	inet_pton(AF_INET, dst, &d);
	memcpy(f + 30, &d, 4);
	f[34] = 0x30; /* source port 12345 */
	f[35] = 0x39;
	f[36] = (uint8_t)(dport >> 8);
	f[37] = (uint8_t)dport;
	return 64;
}

static size_t arp_request(uint8_t *f, const char *target)
{
	uint32_t t;

	memset(f, 0, 64);
	memset(f, 0xff, 6);
	f[11] = 0x99;
	f[12] = 0x08;
	f[13] = 0x06;
	f[14] = 0x00; f[15] = 0x01; /* Ethernet */
	f[16] = 0x08; f[17] = 0x00; /* IPv4 */
	f[18] = 6; f[19] = 4; f[21] = 1;
	inet_pton(AF_INET, target, &t);
	memcpy(f + 38, &t, 4);
	return 64;
}

static const uint8_t our_mac[6] = { 0x02, 0, 0, 0, 0, 0x01 };
static const uint8_t other_mac[6] = { 0x02, 0, 0, 0, 0, 0x42 };

Test(xdp_prog, steer_all_takes_everything)
{
	uint8_t f[64];

	steer(PN_STEER_ALL, NULL, 0, 0);
	cr_assert(steered(f, ipv4(f, other_mac, "10.1.1.1", 17, 53, 0)));
	cr_assert(steered(f, arp_request(f, "10.9.9.9")));
}

Test(xdp_prog, ip_rule_takes_its_address_and_arp_for_it)
{
	uint8_t f[64];

	steer(PN_STEER_IP, "10.0.0.7", 0, 0);
	cr_assert(steered(f, ipv4(f, our_mac, "10.0.0.7", 6, 80, 0)));
	cr_assert_not(steered(f, ipv4(f, our_mac, "10.0.0.8", 6, 80, 0)));
	cr_assert(steered(f, arp_request(f, "10.0.0.7")));
	cr_assert_not(steered(f, arp_request(f, "10.0.0.8")), "ARP for others: kernel");
}

Test(xdp_prog, proto_and_port_rules)
{
	uint8_t f[64];

	steer(PN_STEER_PROTO | PN_STEER_PORT, NULL, 17, 9000);
	cr_assert(steered(f, ipv4(f, our_mac, "10.0.0.7", 17, 9000, 0)));
	cr_assert_not(steered(f, ipv4(f, our_mac, "10.0.0.7", 17, 9001, 0)));
	cr_assert_not(steered(f, ipv4(f, our_mac, "10.0.0.7", 6, 9000, 0)), "TCP to 9000");
	cr_assert_not(steered(f, ipv4(f, our_mac, "10.0.0.7", 1, 0, 0)), "ICMP");
	cr_assert_not(steered(f, ipv4(f, our_mac, "10.0.0.7", 17, 9000, 0x0010)),
		      "a later fragment has no ports: the kernel reassembles");
	cr_assert_not(steered(f, arp_request(f, "10.0.0.7")), "ARP needs an ip rule");
}

Test(xdp_prog, mac_rule)
{
	uint8_t f[64];
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

	steer(PN_STEER_MAC, NULL, 0, 0);
	cr_assert(steered(f, ipv4(f, our_mac, "10.0.0.7", 17, 1, 0)));
	cr_assert_not(steered(f, ipv4(f, other_mac, "10.0.0.7", 17, 1, 0)));
	cr_assert_not(steered(f, ipv4(f, bcast, "10.0.0.255", 17, 1, 0)), "IPv4 broadcast");
	steer(PN_STEER_MAC | PN_STEER_IP, "10.0.0.7", 0, 0);
	cr_assert(steered(f, arp_request(f, "10.0.0.7")), "broadcast ARP for our address");
}

Test(xdp_prog, short_and_odd_frames_go_to_the_kernel)
{
	uint8_t f[64];
	size_t n = ipv4(f, our_mac, "10.0.0.7", 17, 9000, 0);

	steer(PN_STEER_PROTO | PN_STEER_PORT, NULL, 17, 9000);
	cr_assert_not(steered(f, 14 + 20), "truncated before the ports");
	f[14] = 0x4f; /* IHL 60 bytes: ports beyond the frame */
	cr_assert_not(steered(f, n));
	f[14] = 0x44; /* IHL 16 < 20: malformed */
	cr_assert_not(steered(f, n));
	f[12] = 0x86; /* IPv6 ethertype with an IPv4 rule */
	f[13] = 0xdd;
	cr_assert_not(steered(f, n));
	cr_assert_gt(stat(PN_XDP_STAT_PASSED), 0);
}

/* Ethernet + IPv6 to @p dst, next header @p next (+ 4 bytes of ports) */
static size_t ipv6(uint8_t *f, const uint8_t *dmac, const char *dst, uint8_t next, uint16_t dport)
{
	static const uint8_t smac[6] = { 0x02, 0, 0, 0, 0, 0x99 };

	memset(f, 0, 128);
	memcpy(f, dmac, 6);
	memcpy(f + 6, smac, 6);
	f[12] = 0x86;
	f[13] = 0xdd;
	f[14] = 0x60;
	f[19] = 8;    /* payload length */
	f[20] = next;
	f[21] = 255;
	inet_pton(AF_INET6, "fd00::99", f + 22);
	inet_pton(AF_INET6, dst, f + 38);
	f[56] = (uint8_t)(dport >> 8);
	f[57] = (uint8_t)dport;
	return 14 + 40 + 8;
}

Test(xdp_prog, ipv6_rule_takes_its_address_and_neighbour_discovery)
{
	struct pn_xdp_steer s = { .flags = PN_STEER_IP | PN_STEER_IP6 | PN_STEER_MAC,
				  .mac = { 0x02, 0, 0, 0, 0, 0x01 } };
	static const uint8_t mcast[6] = { 0x33, 0x33, 0xff, 0x00, 0x00, 0x07 };
	uint32_t key = 0;
	uint8_t f[128];

	inet_pton(AF_INET, "10.0.0.7", &s.ip);
	inet_pton(AF_INET6, "fd00::7", s.ip6);
	cr_assert_eq(bpf_map_update_elem(steer_fd, &key, &s, BPF_ANY), 0);
	cr_assert(steered(f, ipv6(f, our_mac, "fd00::7", 6, 80)), "TCP to our address");
	cr_assert(steered(f, ipv6(f, our_mac, "fd00::7", 58, 0)), "ICMPv6 to our address");
	cr_assert_not(steered(f, ipv6(f, our_mac, "fd00::8", 6, 80)), "another address");
	cr_assert(steered(f, ipv6(f, mcast, "ff02::1:ff00:7", 58, 0)),
		  "a neighbour solicitation for our address");
	cr_assert_not(steered(f, ipv6(f, mcast, "ff02::1:ff00:8", 58, 0)),
		      "one for another address: the kernel's");
	cr_assert_not(steered(f, ipv6(f, mcast, "ff02::1:ff00:7", 17, 0)),
		      "only ND goes to the solicited-node group");
	cr_assert(steered(f, ipv4(f, our_mac, "10.0.0.7", 6, 80, 0)), "IPv4 still ours");
	/* an IPv6 rule alone claims no IPv4 */
	s.flags = PN_STEER_IP6;
	cr_assert_eq(bpf_map_update_elem(steer_fd, &key, &s, BPF_ANY), 0);
	cr_assert_not(steered(f, ipv4(f, our_mac, "10.0.0.7", 6, 80, 0)));
	cr_assert_not(steered(f, arp_request(f, "10.0.0.7")));
	cr_assert(steered(f, ipv6(f, other_mac, "fd00::7", 6, 80)));
	cr_assert_not(steered(f, 14 + 39), "a truncated IPv6 header");
}
