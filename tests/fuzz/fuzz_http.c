/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Harness (c3): pagenet-zcsrv's HTTP request reader, fed the input in
 * pieces of the sizes the input itself chooses (as segments arrive), and
 * checked against a reference framer written apart from it (RFC 9112: a
 * head ends at the first CRLF CRLF; field names without whitespace before
 * the colon; Content-Length digits only, a list of equal values at most,
 * never with Transfer-Encoding; the body is the request's whatever its
 * method). Every request the reader reports must start where the
 * reference says the previous message ended and be framed as the
 * reference frames it; a request the reference refuses must never be
 * reported; body bytes handed on must be exactly the reference's body,
 * where they lie in the input.
 */
#include <stdlib.h>
#include <string.h>

#include "http.h"

struct ctx {
	const uint8_t *base; /* the whole input, to check bodies against */
	size_t size;
	size_t msg;          /* where the reference says the next message starts */
	size_t body_off;     /* where the current body starts in the input */
	uint64_t body_seen, body_want;
	size_t pos;          /* bytes of the input fed so far */
	bool busy;
	bool body_dropped;   /* the current body is not wanted */
	unsigned requests;
};

/* The reference: frame the message at @p off. @return false when its
 * framing is refused (or its head is incomplete); else its head's end and
 * body length. */
static bool ref_frame(const uint8_t *d, size_t size, size_t off, size_t *head_end,
		      uint64_t *body)
{
	size_t end = 0, i, line;
	bool has_len = false, te = false;
	uint64_t len = 0;

	for (i = off; i + 3 < size; i++)
		if (d[i] == '\r' && d[i + 1] == '\n' && d[i + 2] == '\r' && d[i + 3] == '\n') {
			end = i + 4;
			break;
		}
	if (end == 0)
		return false;
	/* skip the request line */
	for (line = off; !(d[line] == '\r' && d[line + 1] == '\n'); line++)
		;
	line += 2;
	while (line < end - 2) {
		size_t eol = line, colon = 0, k;
		static const char cl[] = "content-length", tr[] = "transfer-encoding";

		while (!(d[eol] == '\r' && d[eol + 1] == '\n'))
			eol++;
		for (k = line; k < eol; k++)
			if (d[k] == ':') {
				colon = k;
				break;
			}
		if (colon == 0 || colon == line)
			return false;
		for (k = line; k < colon; k++)
			if (d[k] == ' ' || d[k] == '\t')
				return false;
		if (colon - line == sizeof(cl) - 1 || colon - line == sizeof(tr) - 1) {
			bool is_cl = colon - line == sizeof(cl) - 1, match = true;
			const char *name = is_cl ? cl : tr;

			for (k = 0; k < colon - line; k++) {
				uint8_t ch = d[line + k];

				if (ch >= 'A' && ch <= 'Z')
					ch = (uint8_t)(ch + 32);
				if (ch != (uint8_t)name[k])
					match = false;
			}
			if (match && !is_cl) {
				te = true;
			} else if (match) {
				/* OWS 1*DIGIT OWS, then , and again */
				size_t q = colon + 1;

				for (;;) {
					uint64_t v = 0;
					size_t digits = 0;

					while (q < eol && (d[q] == ' ' || d[q] == '\t'))
						q++;
					while (q < eol && d[q] >= '0' && d[q] <= '9') {
						if (v > (UINT64_MAX - 9) / 10)
							return false;
						v = v * 10 + (d[q++] - '0');
						digits++;
					}
					if (digits == 0 || (has_len && v != len))
						return false;
					has_len = true;
					len = v;
					while (q < eol && (d[q] == ' ' || d[q] == '\t'))
						q++;
					if (q == eol)
						break;
					if (d[q++] != ',')
						return false;
				}
			}
		}
		line = eol + 2;
	}
	if (te && has_len)
		return false;
	*head_end = end;
	*body = has_len ? len : 0;
	return true;
}

static uint64_t on_request(void *arg, const struct http_req *req)
{
	struct ctx *c = arg;

	size_t head_end;
	uint64_t body;

	c->requests++;
	if (req->method[0] == '\0' || strlen(req->target) > 255)
		abort();
	/* the reference frames it the same, from where the last one ended */
	if (!ref_frame(c->base, c->size, c->msg, &head_end, &body))
		abort(); /* a request the reference refuses was taken */
	if ((req->has_len ? req->content_len : 0) != body)
		abort();
	c->busy = body == 0 && (c->requests & 1); /* a response going out */
	c->body_seen = 0;
	c->body_off = head_end;
	c->body_want = body;
	c->msg = head_end + body;
	/* as pagenet-zcsrv: a GET's or HEAD's body is not wanted, nor every
	 * third request's: read and dropped */
	c->body_dropped = !strcmp(req->method, "GET") || !strcmp(req->method, "HEAD") ||
			  c->requests % 3 == 0;
	return c->body_dropped ? 0 : c->body_want;
}

static void on_bad(void *arg, bool too_large)
{
	(void)arg;
	(void)too_large;
}

static void on_body(void *arg, const uint8_t *p, size_t n)
{
	struct ctx *c = arg;

	/* the body is handed on where it lies: the reference's body bytes */
	if (n == 0 || c->body_seen + n > c->body_want || c->body_dropped ||
	    p != c->base + c->body_off + c->body_seen)
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
	c.msg = 1;
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
