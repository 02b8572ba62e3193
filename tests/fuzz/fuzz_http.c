/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Harness (c3): pagenet-zcsrv's HTTP request reader, fed the input in
 * pieces of the sizes the input itself chooses (as segments arrive). Body
 * bytes handed on must be exactly the bytes after each head, as many as its
 * Content-Length; nothing is read outside the buffers.
 */
#include <stdlib.h>
#include <string.h>

#include "http.h"

struct ctx {
	const uint8_t *base; /* the whole input, to check bodies against */
	size_t size;
	size_t body_off;     /* where the current body starts in it */
	uint64_t body_seen, body_want;
	size_t pos;          /* bytes of the input fed so far */
	bool busy;
	unsigned requests;
};

static uint64_t on_request(void *arg, const struct http_req *req)
{
	struct ctx *c = arg;

	c->requests++;
	if (req->method[0] == '\0' || strlen(req->target) > 255)
		abort();
	c->busy = req->content_len == 0 && (c->requests & 1); /* a response going out */
	c->body_seen = 0;
	c->body_want = req->has_len && !req->chunked ? req->content_len : 0;
	return c->body_want;
}

static void on_bad(void *arg, bool too_large)
{
	(void)arg;
	(void)too_large;
}

static void on_body(void *arg, const uint8_t *p, size_t n)
{
	struct ctx *c = arg;

	/* the body is handed on where it lies: inside the input */
	if (n == 0 || c->body_seen + n > c->body_want || p < c->base ||
	    p + n > c->base + c->size)
		abort();
	c->body_seen += n;
}

static void on_body_end(void *arg)
{
	struct ctx *c = arg;

	if (c->body_seen != c->body_want)
		abort();
}

static bool on_busy(void *arg)
{
	struct ctx *c = arg;
	bool b = c->busy;

	c->busy = false; /* the response finishes by the next feed */
	return b;
}

static const struct http_cb cbs = { on_request, on_bad, on_body, on_body_end, on_busy };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct http_in in;
	struct ctx c = { .base = data, .size = size };
	size_t chunk;

	if (size < 1)
		return 0;
	http_in_reset(&in);
	chunk = 1 + data[0] % 64; /* segment size chosen by the input */
	c.pos = 1;
	for (unsigned guard = 0; c.pos < size && guard < 100000; guard++) {
		size_t n = size - c.pos < chunk ? size - c.pos : chunk;
		size_t used = http_in_feed(&in, data + c.pos, n, &cbs, &c);

		if (used > n)
			abort();
		if (in.stopped)
			break;
		c.pos += used;
	}
	{
		uint64_t v;
		char num[32];
		size_t k = size < sizeof(num) - 1 ? size : sizeof(num) - 1;

		memcpy(num, data, k);
		num[k] = '\0';
		(void)http_parse_size(num, &v);
	}
	return 0;
}
