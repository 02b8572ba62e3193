/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pagenet-netem: loss, duplication, reordering (by delay) and corruption on
 * the way out of kernel network devices, with a tc BPF program, for
 * kernels built without sch_netem. It impairs what real peers (the
 * kernel's TCP, curl, a pagenet stack behind AF_XDP) send each other, so
 * that loss recovery is tried against a wire that loses, not against a
 * model of one.
 *
 * Put it on the ports of a bridge or router namespace between the peers:
 * there both directions leave through an egress, and a frame's checksum is
 * final before it is damaged (the senders' checksum offload off).
 *
 * Delayed frames leave the kernel through a BPF ring buffer; this process
 * holds each until its time and sends it out of the same device through a
 * packet socket marked so that the program lets it pass. Ctrl-C, SIGTERM,
 * SIGHUP or a closed output: the programs are detached, every frame still
 * held is sent, the final counters printed.
 */
#include <errno.h>
#include <getopt.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "netem.h"
#include "pn_app.h"

extern const unsigned char netem_bpf_obj[];
extern const size_t netem_bpf_obj_len;

struct held {
	struct held *next;
	uint64_t due_ns;
	uint32_t len;
	uint8_t data[];
};

struct dev {
	char name[IF_NAMESIZE];
	unsigned ifindex;
	struct netem_conf conf;
	double loss, dup, reorder, corrupt, delay_ms; /* as given */
	int tx_fd;                 /* packet socket for held frames */
	struct held *head, *tail;  /* held frames, by due time */
	uint64_t held_now, sent_late, send_errors;
	bool hook_created, attached;
	struct bpf_tc_hook hook;
	struct bpf_tc_opts opts;
};

static struct dev devs[NETEM_MAX_DEVS];
static unsigned nr_devs;

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pagenet-netem [options] DEV[:SPEC] [DEV[:SPEC] ...]\n"
		"\n"
		"Impair what leaves kernel network devices (tc egress, BPF): for kernels\n"
		"without sch_netem. SPEC is a comma-separated list of\n"
		"  loss=P       drop a frame with probability P\n"
		"  dup=P        send a frame twice\n"
		"  reorder=P    hold a frame back (frames behind it overtake it)\n"
		"  delay=MS     how long a held frame waits (default 10)\n"
		"  corrupt=P    flip a bit of the frame's last byte (checksum left as is)\n"
		"  corrupt_min=N  only frames of N bytes or more (default 100: not ACKs)\n"
		"P is a fraction (0.01) or a percentage (1%%).\n"
		"\n"
		"options:\n"
		"  --interval S   a stats line every S seconds (default 1; 0: none)\n"
		"  --duration S   stop after S seconds (default: until Ctrl-C)\n"
		"  --json         stats as JSON lines; the last one has \"final\": true\n"
		"  -h, --help     this text\n"
		"\n"
		"Prints 'ready' on stderr once every program is attached. On Ctrl-C,\n"
		"SIGTERM, SIGHUP or a closed output it detaches, sends what it holds\n"
		"and prints the final counters.\n"
		"example: ip netns exec R pagenet-netem rk:loss=1%%,reorder=25%%,delay=10 rs:loss=1%%\n");
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* P as a fraction or a percentage, scaled to 2^32 */
static int parse_prob(const char *v, double *out, uint32_t *scaled)
{
	char buf[32];
	size_t n = strlen(v);
	double p, div = 1;

	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, v, n + 1);
	if (buf[n - 1] == '%') {
		buf[n - 1] = '\0';
		div = 100;
	}
	if (pn_app_parse_double(buf, 0, div, &p) != 0)
		return -1;
	p /= div;
	*out = p;
	*scaled = p >= 1 ? UINT32_MAX : (uint32_t)(p * 4294967296.0);
	return 0;
}

static int parse_dev(char *arg)
{
	char *spec = strchr(arg, ':'), *tok, *save = NULL;
	struct dev *d;

	if (nr_devs == NETEM_MAX_DEVS) {
		fprintf(stderr, "pagenet-netem: at most %u devices\n", NETEM_MAX_DEVS);
		return -1;
	}
	d = &devs[nr_devs];
	if (spec)
		*spec++ = '\0';
	if (strlen(arg) == 0 || strlen(arg) >= IF_NAMESIZE) {
		fprintf(stderr, "pagenet-netem: bad device name '%s'\n", arg);
		return -1;
	}
	strcpy(d->name, arg);
	d->ifindex = if_nametoindex(arg);
	if (d->ifindex == 0) {
		fprintf(stderr, "pagenet-netem: %s: %s\n", arg, strerror(errno));
		return -1;
	}
	for (unsigned i = 0; i < nr_devs; i++)
		if (devs[i].ifindex == d->ifindex) {
			fprintf(stderr, "pagenet-netem: %s given twice\n", arg);
			return -1;
		}
	d->delay_ms = 10;
	d->conf.corrupt_min_len = 100;
	for (tok = spec ? strtok_r(spec, ",", &save) : NULL; tok; tok = strtok_r(NULL, ",", &save)) {
		char *v = strchr(tok, '=');
		uint64_t u = 0;
		int rc = -1;

		if (v == NULL) {
			fprintf(stderr, "pagenet-netem: %s: '%s' is not KEY=VALUE\n", d->name, tok);
			return -1;
		}
		*v++ = '\0';
		if (strcmp(tok, "loss") == 0)
			rc = parse_prob(v, &d->loss, &d->conf.loss);
		else if (strcmp(tok, "dup") == 0)
			rc = parse_prob(v, &d->dup, &d->conf.dup);
		else if (strcmp(tok, "reorder") == 0)
			rc = parse_prob(v, &d->reorder, &d->conf.reorder);
		else if (strcmp(tok, "corrupt") == 0)
			rc = parse_prob(v, &d->corrupt, &d->conf.corrupt);
		else if (strcmp(tok, "delay") == 0)
			rc = pn_app_parse_double(v, 0, 10000, &d->delay_ms);
		else if (strcmp(tok, "corrupt_min") == 0) {
			rc = pn_app_parse_u64(v, 1, NETEM_MAX_FRAME, &u);
			d->conf.corrupt_min_len = (uint32_t)u;
		} else {
			fprintf(stderr, "pagenet-netem: %s: unknown setting '%s'\n", d->name, tok);
			return -1;
		}
		if (rc != 0) {
			fprintf(stderr, "pagenet-netem: %s: bad value '%s' for %s\n", d->name, v, tok);
			return -1;
		}
	}
	d->conf.delay_ns = (uint64_t)(d->delay_ms * 1e6);
	d->tx_fd = -1;
	nr_devs++;
	return 0;
}

/* the ring buffer's callback: hold the frame until its time */
static int on_frame(void *ctx, void *data, size_t size)
{
	const struct netem_frame *f = data;
	struct held *h;
	struct dev *d = NULL;

	(void)ctx;
	if (size < offsetof(struct netem_frame, data) || f->len > NETEM_MAX_FRAME)
		return 0;
	for (unsigned i = 0; i < nr_devs; i++)
		if (devs[i].ifindex == f->ifindex)
			d = &devs[i];
	if (d == NULL)
		return 0;
	h = malloc(sizeof(*h) + f->len);
	if (h == NULL) {
		d->send_errors++;
		return 0;
	}
	h->next = NULL;
	h->due_ns = f->due_ns;
	h->len = f->len;
	memcpy(h->data, f->data, f->len);
	if (d->tail)
		d->tail->next = h;
	else
		d->head = h;
	d->tail = h;
	d->held_now++;
	return 0;
}

/* Send what is due (all, when @p all). @return the next due time, or 0. */
static uint64_t send_due(bool all)
{
	uint64_t now = now_ns(), next = 0;

	for (unsigned i = 0; i < nr_devs; i++) {
		struct dev *d = &devs[i];

		while (d->head && (all || d->head->due_ns <= now)) {
			struct held *h = d->head;

			if (send(d->tx_fd, h->data, h->len, 0) != (ssize_t)h->len)
				d->send_errors++;
			else if (now > h->due_ns + 1000000)
				d->sent_late++; /* over a millisecond behind */
			d->head = h->next;
			if (d->head == NULL)
				d->tail = NULL;
			d->held_now--;
			free(h);
		}
		if (d->head && (next == 0 || d->head->due_ns < next))
			next = d->head->due_ns;
	}
	return next;
}

static int stats_fd;

static void dev_stats(const struct dev *d, struct netem_stats *sum)
{
	int ncpu = libbpf_num_possible_cpus();
	struct netem_stats per[ncpu > 0 ? ncpu : 1];
	__u32 key = d->ifindex;

	memset(sum, 0, sizeof(*sum));
	if (ncpu <= 0 || bpf_map_lookup_elem(stats_fd, &key, per) != 0)
		return;
	for (int c = 0; c < ncpu; c++) {
		sum->frames += per[c].frames;
		sum->bytes += per[c].bytes;
		sum->lost += per[c].lost;
		sum->duplicated += per[c].duplicated;
		sum->delayed += per[c].delayed;
		sum->corrupted += per[c].corrupted;
		sum->delay_ring_full += per[c].delay_ring_full;
		sum->delay_too_big += per[c].delay_too_big;
	}
}

static void print_stats(bool json, bool final, double t)
{
	if (json)
		printf("{\"t\":%.3f,\"final\":%s,\"devs\":{", t, final ? "true" : "false");
	else
		printf("%7.1fs", t);
	for (unsigned i = 0; i < nr_devs; i++) {
		const struct dev *d = &devs[i];
		struct netem_stats s;

		dev_stats(d, &s);
		if (json)
			printf("%s\"%s\":{\"frames\":%llu,\"bytes\":%llu,\"lost\":%llu,"
			       "\"duplicated\":%llu,\"delayed\":%llu,\"corrupted\":%llu,"
			       "\"delay_ring_full\":%llu,\"delay_too_big\":%llu,\"held\":%llu,"
			       "\"sent_late\":%llu,\"send_errors\":%llu}",
			       i ? "," : "", d->name, (unsigned long long)s.frames,
			       (unsigned long long)s.bytes, (unsigned long long)s.lost,
			       (unsigned long long)s.duplicated, (unsigned long long)s.delayed,
			       (unsigned long long)s.corrupted, (unsigned long long)s.delay_ring_full,
			       (unsigned long long)s.delay_too_big, (unsigned long long)d->held_now,
			       (unsigned long long)d->sent_late, (unsigned long long)d->send_errors);
		else
			printf("  %s: %llu frames, %llu lost, %llu dup, %llu delayed (%llu held), "
			       "%llu corrupt",
			       d->name, (unsigned long long)s.frames, (unsigned long long)s.lost,
			       (unsigned long long)s.duplicated, (unsigned long long)s.delayed,
			       (unsigned long long)d->held_now, (unsigned long long)s.corrupted);
	}
	printf(json ? "}}\n" : "\n");
	pn_app_flush();
}

static int attach(struct bpf_program *prog, int conf_fd)
{
	struct netem_stats zero[libbpf_num_possible_cpus()];

	memset(zero, 0, sizeof(zero));
	for (unsigned i = 0; i < nr_devs; i++) {
		struct dev *d = &devs[i];
		struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_ifindex = (int)d->ifindex };
		unsigned mark = NETEM_MARK;
		__u32 key = d->ifindex;
		int rc;

		d->tx_fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
		if (d->tx_fd < 0 || bind(d->tx_fd, (struct sockaddr *)&sll, sizeof(sll)) != 0 ||
		    setsockopt(d->tx_fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) != 0) {
			fprintf(stderr, "pagenet-netem: %s: packet socket: %s\n", d->name, strerror(errno));
			return -1;
		}
		if (bpf_map_update_elem(conf_fd, &key, &d->conf, BPF_ANY) != 0 ||
		    bpf_map_update_elem(stats_fd, &key, zero, BPF_ANY) != 0) {
			fprintf(stderr, "pagenet-netem: %s: map update: %s\n", d->name, strerror(errno));
			return -1;
		}
		d->hook = (struct bpf_tc_hook){ .sz = sizeof(d->hook), .ifindex = (int)d->ifindex,
						.attach_point = BPF_TC_EGRESS };
		rc = bpf_tc_hook_create(&d->hook);
		if (rc != 0 && rc != -EEXIST) {
			fprintf(stderr, "pagenet-netem: %s: clsact qdisc: %s\n", d->name, strerror(-rc));
			return -1;
		}
		d->hook_created = rc == 0;
		d->opts = (struct bpf_tc_opts){ .sz = sizeof(d->opts), .prog_fd = bpf_program__fd(prog),
						.handle = 0x6e6d, .priority = 1 };
		rc = bpf_tc_attach(&d->hook, &d->opts);
		if (rc != 0) {
			fprintf(stderr, "pagenet-netem: %s: attach: %s\n", d->name, strerror(-rc));
			return -1;
		}
		d->attached = true;
	}
	return 0;
}

static void detach(void)
{
	for (unsigned i = 0; i < nr_devs; i++) {
		struct dev *d = &devs[i];

		if (d->attached) {
			d->opts.prog_fd = 0;
			d->opts.prog_id = 0;
			d->opts.flags = 0;
			bpf_tc_detach(&d->hook, &d->opts);
			d->attached = false;
		}
		if (d->hook_created) {
			/* the clsact qdisc was ours: it goes too */
			d->hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
			bpf_tc_hook_destroy(&d->hook);
			d->hook_created = false;
		}
	}
}

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "interval", required_argument, NULL, 'i' },
		{ "duration", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	double interval = 1, duration = 0;
	bool json = false;
	struct bpf_object *obj = NULL;
	struct bpf_program *prog;
	struct ring_buffer *rb = NULL;
	int opt, rc = 1, ep = -1, tfd = -1;
	uint64_t t0 = now_ns(), next_stats, next_check;

	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'i':
			if (pn_app_parse_double(optarg, 0, 86400, &interval) != 0) {
				fprintf(stderr, "pagenet-netem: bad --interval '%s'\n", optarg);
				return 2;
			}
			break;
		case 'd':
			if (pn_app_parse_double(optarg, 0, 1e9, &duration) != 0) {
				fprintf(stderr, "pagenet-netem: bad --duration '%s'\n", optarg);
				return 2;
			}
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind == argc) {
		usage(stderr);
		return 2;
	}
	for (int i = optind; i < argc; i++)
		if (parse_dev(argv[i]) != 0)
			return 2;
	pn_app_catch_signals();
	libbpf_set_print(libbpf_quiet);

	obj = bpf_object__open_mem(netem_bpf_obj, netem_bpf_obj_len, NULL);
	if (obj == NULL || bpf_object__load(obj) != 0) {
		fprintf(stderr, "pagenet-netem: cannot load the BPF program (root? CAP_BPF?): %s\n",
			strerror(errno));
		goto out;
	}
	prog = bpf_object__find_program_by_name(obj, "netem_egress");
	stats_fd = bpf_object__find_map_fd_by_name(obj, "netem_stats");
	rb = ring_buffer__new(bpf_object__find_map_fd_by_name(obj, "netem_delayq"), on_frame, NULL,
			      NULL);
	if (prog == NULL || stats_fd < 0 || rb == NULL) {
		fprintf(stderr, "pagenet-netem: BPF object incomplete\n");
		goto out;
	}
	ep = epoll_create1(EPOLL_CLOEXEC);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (ep < 0 || tfd < 0 ||
	    epoll_ctl(ep, EPOLL_CTL_ADD, ring_buffer__epoll_fd(rb),
		      &(struct epoll_event){ .events = EPOLLIN }) != 0 ||
	    epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &(struct epoll_event){ .events = EPOLLIN }) != 0) {
		fprintf(stderr, "pagenet-netem: epoll: %s\n", strerror(errno));
		goto out;
	}
	if (attach(prog, bpf_object__find_map_fd_by_name(obj, "netem_conf")) != 0)
		goto out;
	fprintf(stderr, "pagenet-netem: ready:");
	for (unsigned i = 0; i < nr_devs; i++)
		fprintf(stderr, " %s loss=%g dup=%g reorder=%g delay=%gms corrupt=%g;", devs[i].name,
			devs[i].loss, devs[i].dup, devs[i].reorder, devs[i].delay_ms, devs[i].corrupt);
	fprintf(stderr, " Ctrl-C stops\n");

	t0 = now_ns();
	next_stats = interval > 0 ? t0 + (uint64_t)(interval * 1e9) : 0;
	next_check = t0 + 1000000000u;
	while (!pn_app_stop) {
		struct epoll_event ev[2];
		uint64_t now, due, wake;

		ring_buffer__consume(rb);
		due = send_due(false);
		now = now_ns();
		if (duration > 0 && now - t0 >= (uint64_t)(duration * 1e9))
			break;
		if (next_stats && now >= next_stats) {
			print_stats(json, false, (double)(now - t0) / 1e9);
			next_stats += (uint64_t)(interval * 1e9);
		}
		if (now >= next_check) {
			/* a device deleted under us (its namespace gone): nothing
			 * is left to impair */
			for (unsigned i = 0; i < nr_devs; i++)
				if (if_nametoindex(devs[i].name) != devs[i].ifindex) {
					fprintf(stderr, "pagenet-netem: %s is gone: stopping\n",
						devs[i].name);
					pn_app_stop = 1;
				}
			next_check = now + 1000000000u;
			if (pn_app_stop)
				break;
		}
		wake = next_stats && next_stats < next_check ? next_stats : next_check;
		if (due && (wake == 0 || due < wake))
			wake = due;
		if (duration > 0 && (wake == 0 || t0 + (uint64_t)(duration * 1e9) < wake))
			wake = t0 + (uint64_t)(duration * 1e9);
		if (wake) {
			struct itimerspec its = { 0 };

			its.it_value.tv_sec = (time_t)(wake / 1000000000u);
			its.it_value.tv_nsec = (long)(wake % 1000000000u);
			timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
		}
		if (epoll_wait(ep, ev, 2, -1) < 0 && errno != EINTR)
			break;
		{
			uint64_t x;

			while (read(tfd, &x, sizeof(x)) > 0)
				;
		}
	}
	rc = 0;
out:
	detach();
	if (rb) {
		ring_buffer__consume(rb); /* frames taken before the detach */
		send_due(true);
	}
	if (stats_fd > 0 && rc == 0)
		print_stats(json, true, (double)(now_ns() - t0) / 1e9);
	ring_buffer__free(rb);
	for (unsigned i = 0; i < nr_devs; i++)
		if (devs[i].tx_fd >= 0)
			close(devs[i].tx_fd);
	if (ep >= 0)
		close(ep);
	if (tfd >= 0)
		close(tfd);
	bpf_object__close(obj);
	return rc;
}
