/* SPDX-License-Identifier: BSD-3-Clause */
/* The telemetry server against clients that misbehave: one that never
 * reads, one that half-closes, one that sends NUL bytes or endless lines. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "pn_tel_client.h"

#define BIG_REPLY 60000

static int tel_big(const char *cmd, const char *params, struct pn_tel_data *d)
{
	static char text[BIG_REPLY + 1];

	(void)cmd, (void)params;
	memset(text, 'x', BIG_REPLY);
	return pn_tel_add_string(d, NULL, text);
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void send_text(int fd, const char *s, size_t len)
{
	cr_assert_eq(send(fd, s, len, MSG_NOSIGNAL), (ssize_t)len, "%s", strerror(errno));
}

/* Read until the server closes, at most @secs: the bytes read, or -1 when
 * the connection was still open at the deadline. */
static long read_until_closed(int fd, double secs, char *keep, size_t keep_len)
{
	double end = now_s() + secs;
	long total = 0;
	char buf[65536];

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int left = (int)((end - now_s()) * 1000);
		ssize_t n;

		if (left <= 0 || poll(&p, 1, left) <= 0)
			return -1;
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return total;
		if (n < 0)
			continue;
		if (keep != NULL && (size_t)total < keep_len)
			memcpy(keep + total, buf, PN_MIN((size_t)n, keep_len - (size_t)total));
		total += n;
	}
}

/* A client whose replies must come within 5 s (not a blocked server). */
static FILE *patient_client(void)
{
	int fd = tel_connect();
	struct timeval tv = { .tv_sec = 5 };
	FILE *f;

	cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	f = fdopen(fd, "r+");
	json_decref(tel_line(f));
	return f;
}

static void assert_answers_info(FILE *f)
{
	json_t *j = tel_ask(f, "/info");

	cr_assert_not_null(json_object_get(j, "/info"));
	json_decref(j);
}

/* @n requests for a big reply, never read */
static int stalled_client(int n)
{
	int fd = tel_connect();
	int small = 4096;

	cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
	for (int i = 0; i < n; i++)
		send_text(fd, "/test/big\n", 10);
	return fd;
}

Test(telemetry, a_client_that_never_reads_starves_nobody_and_is_cut_off, .timeout = 60)
{
	char dir[] = "/tmp/pn-tel-XXXXXX";
	int slow;
	long got;
	FILE *other;

	cr_assert_eq(pn_telemetry_register("/test/big", tel_big, "a 60 kB string"), 0);
	tel_start(dir, "slow", false);
	/* about 1 MB of replies: more than the socket takes, less than the bound */
	slow = stalled_client(16);
	other = patient_client();
	assert_answers_info(other);
	/* pipelined past the bound: the server cuts it off */
	for (int i = 0; i < 200; i++)
		send_text(slow, "/test/big\n", 10);
	assert_answers_info(other);
	{ /* not reading: the server's queue for it only grows */
		struct pollfd p = { .fd = slow, .events = POLLRDHUP };

		cr_assert_eq(poll(&p, 1, 20000), 1, "a client over its output bound was not cut off");
		cr_assert(p.revents & (POLLHUP | POLLRDHUP));
	}
	got = read_until_closed(slow, 20, NULL, 0);
	cr_assert_geq(got, 0);
	cr_assert_lt(got, 216L * BIG_REPLY, "cut off before all its replies");
	cr_assert_gt(got, BIG_REPLY, "what fit before the bound was sent");
	close(slow);
	assert_answers_info(other);
	fclose(other);
	pn_telemetry_stop();
	rmdir(dir);
}

Test(telemetry, stop_returns_while_a_client_never_reads, .timeout = 60)
{
	char dir[] = "/tmp/pn-tel-XXXXXX";
	int slow[3];
	double t0;

	cr_assert_eq(pn_telemetry_register("/test/big", tel_big, "a 60 kB string"), 0);
	tel_start(dir, "stop", false);
	for (int i = 0; i < 3; i++)
		slow[i] = stalled_client(16);
	{ /* the server has taken the requests in when another client is answered */
		FILE *f = patient_client();

		assert_answers_info(f);
		fclose(f);
	}
	t0 = now_s();
	pn_telemetry_stop();
	cr_assert_lt(now_s() - t0, 2.0, "stop waited on a client");
	cr_assert_null(pn_telemetry_path());
	for (int i = 0; i < 3; i++)
		close(slow[i]);
	rmdir(dir);
}

Test(telemetry, a_request_with_a_nul_byte_is_answered_and_the_next_one_served)
{
	char dir[] = "/tmp/pn-tel-XXXXXX";
	static const char req[] = "/in\0fo\n/info\n";
	FILE *f;
	json_t *j;

	tel_start(dir, "nul", false);
	f = patient_client();
	cr_assert_eq(fwrite(req, 1, sizeof(req) - 1, f), sizeof(req) - 1);
	fflush(f);
	j = tel_line(f);
	cr_assert(strstr(json_string_value(json_object_get(j, "error")), "NUL") != NULL);
	json_decref(j);
	j = tel_line(f);
	cr_assert_not_null(json_object_get(j, "/info"), "the connection went on");
	json_decref(j);
	/* a NUL with no newline yet, then the rest of the line */
	cr_assert_eq(fwrite("/\0", 1, 2, f), 2);
	fflush(f);
	j = tel_ask(f, "x");
	cr_assert_not_null(json_object_get(j, "error"));
	json_decref(j);
	assert_answers_info(f);
	fclose(f);
	pn_telemetry_stop();
	rmdir(dir);
}

Test(telemetry, a_half_closed_client_gets_every_reply_then_eof, .timeout = 30)
{
	char dir[] = "/tmp/pn-tel-XXXXXX";
	static char seen[4 * BIG_REPLY];
	int fd;
	long got;
	int lines = 0;

	cr_assert_eq(pn_telemetry_register("/test/big", tel_big, "a 60 kB string"), 0);
	tel_start(dir, "half", false);
	fd = tel_connect();
	/* more than a socket buffer holds, so part of it waits in the server */
	send_text(fd, "/test/big\n/test/big\n/test/big\n\n", 31);
	cr_assert_eq(shutdown(fd, SHUT_WR), 0);
	got = read_until_closed(fd, 10, seen, sizeof(seen));
	cr_assert_gt(got, 3L * BIG_REPLY, "got %ld bytes", got);
	cr_assert_eq(seen[got - 1], '\n');
	for (long i = 0; i < got; i++)
		lines += seen[i] == '\n';
	cr_assert_eq(lines, 4, "greeting and three replies; the empty line asks nothing");
	close(fd);
	pn_telemetry_stop();
	rmdir(dir);
}

Test(telemetry, an_endless_line_is_refused_and_closed, .timeout = 30)
{
	char dir[] = "/tmp/pn-tel-XXXXXX";
	static char line[4096];
	char seen[512] = { 0 };
	int fd;
	long got;

	tel_start(dir, "long", false);
	fd = tel_connect();
	memset(line, 'a', sizeof(line));
	line[0] = '/';
	send(fd, line, sizeof(line), MSG_NOSIGNAL); /* may be cut short: closed */
	got = read_until_closed(fd, 10, seen, sizeof(seen) - 1);
	cr_assert_gt(got, 0, "closed");
	cr_assert(strstr(seen, "request too long") != NULL, "%s", seen);
	close(fd);
	pn_telemetry_stop();
	rmdir(dir);
}

Test(telemetry, a_client_past_the_limit_is_told_and_closed, .timeout = 30)
{
	char dir[] = "/tmp/pn-tel-XXXXXX";
	FILE *held[16];
	char seen[512] = { 0 };
	int fd;

	tel_start(dir, "full", false);
	for (int i = 0; i < 16; i++)
		held[i] = patient_client();
	fd = tel_connect();
	cr_assert_geq(read_until_closed(fd, 10, seen, sizeof(seen) - 1), 0);
	cr_assert(strstr(seen, "too many clients") != NULL, "%s", seen);
	close(fd);
	fclose(held[0]);
	{ /* a slot is free again once the server has seen the close */
		FILE *f = NULL;

		for (int tries = 0; tries < 100 && f == NULL; tries++) {
			char greet[512];
			int c = tel_connect();

			f = fdopen(c, "r+");
			if (fgets(greet, sizeof(greet), f) == NULL || strstr(greet, "/info") == NULL) {
				fclose(f);
				f = NULL;
				usleep(10000);
			}
		}
		cr_assert_not_null(f);
		assert_answers_info(f);
		fclose(f);
	}
	for (int i = 1; i < 16; i++)
		fclose(held[i]);
	pn_telemetry_stop();
	rmdir(dir);
}
