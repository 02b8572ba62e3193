/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pagenet-zcsrv's HTTP/1.1 request reader: heads are gathered (small) and
 * parsed, bodies are passed on where they lie (zero-copy segments), one
 * request at a time. No I/O: the server answers through the callbacks.
 * Kept apart so that it can be fuzzed on its own (tests/fuzz).
 */
#ifndef ZCSRV_HTTP_H
#define ZCSRV_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_HEAD_MAX 8192

struct http_req {
	char method[8];
	char target[256];
	bool http11;
	bool keepalive;       /* HTTP/1.1 default, or Connection: */
	bool has_len;         /* a valid Content-Length */
	bool chunked;         /* any Transfer-Encoding */
	bool expect_continue; /* Expect: 100-continue */
	uint64_t content_len;
};

struct http_cb {
	/* a complete head; @return nonzero to be given its body (the reader
	 * consumes a Content-Length body either way) */
	uint64_t (*request)(void *ctx, const struct http_req *req);
	/* a head that is not HTTP (bad request line), or one too large
	 * (@p too_large); the reader stops until http_in_reset() */
	void (*bad)(void *ctx, bool too_large);
	void (*body)(void *ctx, const uint8_t *p, size_t n);
	void (*body_end)(void *ctx);
	/* true while a response is still going out: no new request yet */
	bool (*busy)(void *ctx);
};

struct http_in {
	char *hdr;            /* HTTP_HEAD_MAX bytes while a head arrives, else NULL:
			       * an idle keep-alive connection holds no buffer */
	size_t hdr_len;
	bool in_body;
	bool body_wanted;     /* false: the body is read and dropped */
	bool stopped;
	uint64_t body_left;
};

void http_in_reset(struct http_in *in);
/* Free what the reader holds (before the connection goes). */
void http_in_free(struct http_in *in);

/*
 * Feed received bytes. @return bytes used; fewer than @p n when a response
 * is still being sent (busy) or the reader stopped: the rest waits.
 */
size_t http_in_feed(struct http_in *in, const uint8_t *p, size_t n,
		    const struct http_cb *cb, void *ctx);

/*
 * Parse one head (@p head, @p len bytes, ending in CRLF CRLF; it is
 * modified). @return 0, -1 for a bad request line, -2 for a body whose
 * length cannot be known for sure (a Content-Length that is not digits,
 * two that differ, or one with Transfer-Encoding).
 */
int http_parse_head(char *head, size_t len, struct http_req *req);

/* A Content-Length value: digits only, or a list of equal ones. @return 0
 * or -1. */
int http_parse_length(const char *s, uint64_t *out);

/* "123", "4k", "2M", "1G" (decimal units). @return 0 or -1. */
int http_parse_size(const char *s, uint64_t *out);

#endif /* ZCSRV_HTTP_H */
