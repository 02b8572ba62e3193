/* SPDX-License-Identifier: BSD-3-Clause */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http.h"

int http_parse_size(const char *s, uint64_t *out)
{
	char *end;
	double v;

	if (*s == '\0' || *s == '-' || *s == '+' || *s == ' ')
		return -1;
	v = strtod(s, &end);
	if (end == s || !(v >= 0) || v > 1.8e19)
		return -1;
	switch (*end) {
	case 'k': case 'K': v *= 1e3; end++; break;
	case 'm': case 'M': v *= 1e6; end++; break;
	case 'g': case 'G': v *= 1e9; end++; break;
	default: break;
	}
	if (*end || v > 1.8e19)
		return -1;
	*out = (uint64_t)v;
	return 0;
}

int http_parse_length(const char *s, uint64_t *out)
{
	bool have = false;
	uint64_t first = 0;

	/* RFC 9112 6.3: 1*DIGIT; a list of equal values is one value */
	for (;;) {
		uint64_t v = 0;
		const char *d;

		while (*s == ' ' || *s == '\t')
			s++;
		for (d = s; *s >= '0' && *s <= '9'; s++) {
			if (v > (UINT64_MAX - 9) / 10)
				return -1;
			v = v * 10 + (uint64_t)(*s - '0');
		}
		if (s == d || (have && v != first))
			return -1;
		first = v;
		have = true;
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '\0')
			break;
		if (*s++ != ',')
			return -1;
	}
	*out = first;
	return 0;
}

int http_parse_head(char *head, size_t len, struct http_req *req)
{
	char version[16] = "";
	char *line, *eol;
	bool bad_framing = false;

	memset(req, 0, sizeof(*req));
	if (len < 4)
		return -1;
	head[len - 2] = '\0'; /* the blank line's CRLF goes */
	if (sscanf(head, "%7s %255s %15s", req->method, req->target, version) != 3 ||
	    strncmp(version, "HTTP/1.", 7) != 0)
		return -1;
	req->http11 = strcmp(version, "HTTP/1.1") == 0;
	req->keepalive = req->http11;
	for (line = strstr(head, "\r\n"); line && line[2]; line = eol) {
		char *v;

		line += 2;
		eol = strstr(line, "\r\n");
		if (eol)
			*eol = '\0';
		v = strchr(line, ':');
		/* RFC 9112 5.1, 5.2: no whitespace before the colon, no line
		 * without one (a folded line among them): a front end may
		 * read such a field otherwise, the Content-Length above all */
		if (v == NULL || v == line || strcspn(line, " \t") < (size_t)(v - line))
			bad_framing = true;
		if (v) {
			*v++ = '\0';
			while (*v == ' ' || *v == '\t')
				v++;
			if (!strcasecmp(line, "Content-Length")) {
				uint64_t n;

				/* digits only; a second one that differs, or one
				 * that is not a number, leaves the body's end
				 * unknown: the request is refused, never guessed */
				if (http_parse_length(v, &n) != 0 ||
				    (req->has_len && n != req->content_len))
					bad_framing = true;
				req->has_len = true;
				req->content_len = n;
			} else if (!strcasecmp(line, "Connection")) {
				if (!strcasecmp(v, "close"))
					req->keepalive = false;
				else if (!strcasecmp(v, "keep-alive"))
					req->keepalive = true;
			} else if (!strcasecmp(line, "Transfer-Encoding")) {
				req->chunked = true;
			} else if (!strcasecmp(line, "Expect") && !strcasecmp(v, "100-continue")) {
				req->expect_continue = true;
			}
		}
		if (eol == NULL)
			break;
		*eol = '\r';
	}
	/* both: a front end and this server could frame the body two ways
	 * (request smuggling); RFC 9112 6.1 lets a server refuse it */
	if (req->chunked && req->has_len)
		bad_framing = true;
	return bad_framing ? -2 : 0;
}

void http_in_free(struct http_in *in)
{
	free(in->hdr);
	in->hdr = NULL;
	in->hdr_len = 0;
}

void http_in_reset(struct http_in *in)
{
	http_in_free(in);
	in->in_body = false;
	in->body_wanted = false;
	in->stopped = false;
	in->body_left = 0;
}

size_t http_in_feed(struct http_in *in, const uint8_t *p, size_t n,
		    const struct http_cb *cb, void *ctx)
{
	size_t used = 0;

	while (used < n && !in->stopped) {
		size_t k, head;
		char *end;

		if (in->in_body) {
			k = (size_t)(n - used < in->body_left ? n - used : in->body_left);
			if (in->body_wanted)
				cb->body(ctx, p + used, k);
			used += k;
			in->body_left -= k;
			if (in->body_left == 0) {
				in->in_body = false;
				if (in->body_wanted)
					cb->body_end(ctx);
			}
			continue;
		}
		if (cb->busy(ctx))
			break; /* one response at a time */
		if (in->hdr == NULL && (in->hdr = malloc(HTTP_HEAD_MAX)) == NULL) {
			in->stopped = true;
			cb->bad(ctx, true);
			break;
		}
		k = n - used < HTTP_HEAD_MAX - 1 - in->hdr_len ? n - used
							       : HTTP_HEAD_MAX - 1 - in->hdr_len;
		memcpy(in->hdr + in->hdr_len, p + used, k);
		/* the end of the head may straddle what we had and what came */
		end = memmem(in->hdr + (in->hdr_len > 3 ? in->hdr_len - 3 : 0),
			     in->hdr_len + k - (in->hdr_len > 3 ? in->hdr_len - 3 : 0), "\r\n\r\n", 4);
		if (end == NULL) {
			in->hdr_len += k;
			used += k;
			if (in->hdr_len == HTTP_HEAD_MAX - 1) {
				in->stopped = true;
				cb->bad(ctx, true);
			}
			continue;
		}
		head = (size_t)(end - in->hdr) + 4;
		used += head - in->hdr_len;
		in->hdr_len = 0;
		{
			struct http_req req;
			uint64_t body;

			/* a NUL in a head ends it for the parser: not HTTP */
			if (memchr(in->hdr, '\0', head) != NULL ||
			    http_parse_head(in->hdr, head, &req) != 0) {
				in->stopped = true;
				cb->bad(ctx, false);
				continue;
			}
			/* the request is parsed into req: the buffer can go */
			free(in->hdr);
			in->hdr = NULL;
			body = cb->request(ctx, &req);
			/* the body is the request's whatever the method: one the
			 * server does not want is read and dropped, never taken
			 * for the next request (RFC 9112 6.3) */
			if (req.has_len && req.content_len) {
				in->in_body = true;
				in->body_left = req.content_len;
				in->body_wanted = body != 0;
			}
		}
	}
	return used;
}
