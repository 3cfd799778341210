/* See control-client.h. */
#define _GNU_SOURCE
#include "control-client.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

long long cc_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int remaining(long long deadline_ms)
{
	long long left = deadline_ms - cc_now_ms();
	if (left <= 0)
		return 0;
	return left > 60000 ? 60000 : (int)left;
}

static void describe_connect_error(const char *path, int err, struct cc_reply *out)
{
	if (err == ENOENT || err == ECONNREFUSED) {
		out->unreachable = 1;
		snprintf(out->error, sizeof out->error, "no agent is listening on %s: is egress-agent run running?", path);
	} else if (err == EACCES || err == EPERM) {
		/* The owner of the socket, or of the nearest directory above it we may look at. */
		char dir[256];
		struct stat st;
		snprintf(dir, sizeof dir, "%s", path);
		int found = stat(dir, &st) == 0, is_socket = found;
		while (!found) {
			char *slash = strrchr(dir, '/');
			if (!slash)
				break;
			if (slash == dir)
				slash[1] = '\0';
			else
				*slash = '\0';
			found = stat(dir, &st) == 0;
			if (slash == dir)
				break;
		}
		if (!found)
			snprintf(out->error, sizeof out->error, "permission denied on %s: the socket is mode 0600; run as its owner (you are uid %u)",
				 path, (unsigned)getuid());
		else if (is_socket)
			snprintf(out->error, sizeof out->error,
				 "permission denied on %s: the socket is mode 0600 owned by uid %u; run as that user (you are uid %u)",
				 path, (unsigned)st.st_uid, (unsigned)getuid());
		else
			snprintf(out->error, sizeof out->error,
				 "permission denied on %s: the socket is mode 0600 in %.200s, owned by uid %u; run as that user (you are uid %u)",
				 path, dir, (unsigned)st.st_uid, (unsigned)getuid());
	} else {
		snprintf(out->error, sizeof out->error, "cannot connect to %s: %s", path, strerror(err));
	}
}

/* One connection attempt; returns the fd or -1 with errno set. A non-blocking connect() on a
 * Unix socket completes at once or fails: EAGAIN there means the listener's backlog is full (the
 * agent is slow to accept), not "in progress", and the socket stays unconnected. */
static int connect_once(const char *path)
{
	struct sockaddr_un sa;
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sa.sun_path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0)
		return fd;
	int saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

int cc_exchange(const char *path, const char *request, long long deadline_ms, int wait, struct cc_reply *out)
{
	memset(out, 0, sizeof *out);
	int fd;
	for (;;) {
		fd = connect_once(path);
		if (fd >= 0)
			break;
		int err = errno;
		/* A full backlog is always retried; a missing or refusing socket only when asked to wait. */
		const int backlog_full = err == EAGAIN;
		if (!(backlog_full || (wait && (err == ENOENT || err == ECONNREFUSED))) || remaining(deadline_ms) <= 0) {
			if (backlog_full)
				snprintf(out->error, sizeof out->error, "the agent on %s did not accept the connection in time (its backlog is full)", path);
			else
				describe_connect_error(path, err, out);
			return -1;
		}
		struct timespec pause = { .tv_sec = 0, .tv_nsec = (backlog_full ? 10 : 50) * 1000000L };
		nanosleep(&pause, NULL);
	}

	size_t req_len = strlen(request), sent = 0;
	while (sent < req_len) {
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		if (poll(&pfd, 1, remaining(deadline_ms)) != 1) {
			snprintf(out->error, sizeof out->error, "the agent on %s did not answer in time", path);
			close(fd);
			return -1;
		}
		ssize_t n = send(fd, request + sent, req_len - sent, MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0) {
			snprintf(out->error, sizeof out->error, "cannot send to %s: %s", path, strerror(errno));
			close(fd);
			return -1;
		}
		sent += (size_t)n;
	}

	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	if (!buf) {
		snprintf(out->error, sizeof out->error, "out of memory");
		close(fd);
		return -1;
	}
	for (;;) {
		char *nl = len ? memchr(buf, '\n', len) : NULL;
		if (nl) {
			len = (size_t)(nl - buf);
			break;
		}
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int pr = poll(&pfd, 1, remaining(deadline_ms));
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr != 1) {
			snprintf(out->error, sizeof out->error, "the agent on %s did not answer in time", path);
			goto fail;
		}
		if (len + 1 >= cap) {
			if (cap >= CC_MAX_REPLY) {
				snprintf(out->error, sizeof out->error, "the reply from %s is longer than %d bytes", path, CC_MAX_REPLY);
				goto fail;
			}
			char *bigger = realloc(buf, cap * 2);
			if (!bigger) {
				snprintf(out->error, sizeof out->error, "out of memory");
				goto fail;
			}
			buf = bigger;
			cap *= 2;
		}
		ssize_t n = recv(fd, buf + len, cap - len - 1, 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n < 0) {
			snprintf(out->error, sizeof out->error, "cannot read from %s: %s", path, strerror(errno));
			goto fail;
		}
		if (n == 0) {
			if (len == 0) {
				snprintf(out->error, sizeof out->error, "the agent on %s closed the connection without answering", path);
				goto fail;
			}
			break; /* a last line without its newline */
		}
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	out->line = buf;
	out->len = len;
	return 0;
fail:
	free(buf);
	close(fd);
	return -1;
}

static const char *skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

/* Past the closing quote of the string starting at p (which must be '"'). */
static const char *skip_string(const char *p, const char *end)
{
	if (p >= end || *p != '"')
		return NULL;
	for (p++; p < end; p++) {
		if (*p == '\\') {
			if (++p >= end)
				return NULL;
		} else if (*p == '"') {
			return p + 1;
		} else if ((unsigned char)*p < 0x20) {
			return NULL;
		}
	}
	return NULL;
}

const char *cc_json_skip(const char *p, const char *end)
{
	int depth = 0;
	p = skip_ws(p, end);
	do {
		p = skip_ws(p, end);
		if (p >= end)
			return NULL;
		char c = *p;
		if (c == '"') {
			p = skip_string(p, end);
			if (!p)
				return NULL;
		} else if (c == '{' || c == '[') {
			if (++depth > 64)
				return NULL;
			p++;
			continue;
		} else if (c == '}' || c == ']') {
			if (depth == 0)
				return NULL;
			depth--;
			p++;
		} else if (c == ',' || c == ':') {
			if (depth == 0)
				return NULL;
			p++;
			continue;
		} else {
			const char *start = p;
			while (p < end && (strchr("+-.0123456789eE", *p) || (*p >= 'a' && *p <= 'z')))
				p++;
			if (p == start)
				return NULL;
		}
		/* After a complete value inside a container, a separator or closer follows. */
		p = skip_ws(p, end);
		if (depth > 0 && p < end && (*p == ',' || *p == ':'))
			p++;
	} while (depth > 0);
	return p;
}

int cc_json_member(const char *p, const char *end, const char *key, const char **val, const char **val_end)
{
	size_t klen = strlen(key);
	p = skip_ws(p, end);
	if (p >= end || *p != '{')
		return -1;
	p = skip_ws(p + 1, end);
	while (p < end && *p != '}') {
		const char *kstart = p;
		const char *kend = skip_string(p, end);
		if (!kend)
			return -1;
		p = skip_ws(kend, end);
		if (p >= end || *p != ':')
			return -1;
		const char *v = skip_ws(p + 1, end);
		const char *vend = cc_json_skip(v, end);
		if (!vend)
			return -1;
		/* Keys we look up never need escapes, so a raw comparison is exact. */
		if ((size_t)(kend - kstart) == klen + 2 && memcmp(kstart + 1, key, klen) == 0) {
			*val = v;
			*val_end = vend;
			while (*val_end > *val && strchr(" \t\r\n", (*val_end)[-1]))
				(*val_end)--;
			return 0;
		}
		p = skip_ws(vend, end);
		if (p < end && *p == ',')
			p = skip_ws(p + 1, end);
	}
	return -1;
}

static int hex4(const char *p, const char *end, unsigned *out)
{
	unsigned v = 0;
	if (end - p < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		char c = p[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

static int put(char *out, size_t cap, size_t *n, char c)
{
	if (*n + 1 >= cap)
		return -1;
	out[(*n)++] = c;
	return 0;
}

long cc_json_string(const char *val, const char *val_end, char *out, size_t cap)
{
	size_t n = 0;
	if (cap == 0 || skip_string(val, val_end) != val_end)
		return -1;
	for (const char *p = val + 1; p < val_end - 1; p++) {
		if (*p != '\\') {
			if (put(out, cap, &n, *p))
				return -1;
			continue;
		}
		p++;
		char c = *p;
		const char *simple = strchr("\"\\/bfnrt", c);
		if (simple && c != '\0') {
			static const char map[] = "\"\\/\b\f\n\r\t";
			if (put(out, cap, &n, map[simple - "\"\\/bfnrt"]))
				return -1;
			continue;
		}
		if (c != 'u')
			return -1;
		unsigned cp;
		if (hex4(p + 1, val_end, &cp))
			return -1;
		p += 4;
		if (cp >= 0xD800 && cp <= 0xDBFF) {
			unsigned lo;
			if (val_end - p < 7 || p[1] != '\\' || p[2] != 'u' || hex4(p + 3, val_end, &lo) || lo < 0xDC00 || lo > 0xDFFF)
				return -1;
			cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
			p += 6;
		} else if (cp >= 0xDC00 && cp <= 0xDFFF) {
			return -1;
		}
		unsigned char u[4];
		int k;
		if (cp < 0x80) {
			u[0] = (unsigned char)cp;
			k = 1;
		} else if (cp < 0x800) {
			u[0] = (unsigned char)(0xC0 | (cp >> 6));
			u[1] = (unsigned char)(0x80 | (cp & 0x3F));
			k = 2;
		} else if (cp < 0x10000) {
			u[0] = (unsigned char)(0xE0 | (cp >> 12));
			u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
			u[2] = (unsigned char)(0x80 | (cp & 0x3F));
			k = 3;
		} else {
			u[0] = (unsigned char)(0xF0 | (cp >> 18));
			u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
			u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
			u[3] = (unsigned char)(0x80 | (cp & 0x3F));
			k = 4;
		}
		for (int i = 0; i < k; i++)
			if (put(out, cap, &n, (char)u[i]))
				return -1;
	}
	out[n] = '\0';
	return (long)n;
}

int cc_json_quote(char *buf, size_t cap, size_t *pos, const char *s)
{
	if (put(buf, cap, pos, '"'))
		return -1;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\') {
			if (put(buf, cap, pos, '\\') || put(buf, cap, pos, (char)*p))
				return -1;
		} else if (*p < 0x20) {
			char esc[8];
			snprintf(esc, sizeof esc, "\\u%04x", *p);
			for (const char *e = esc; *e; e++)
				if (put(buf, cap, pos, *e))
					return -1;
		} else if (put(buf, cap, pos, (char)*p)) {
			return -1;
		}
	}
	if (put(buf, cap, pos, '"'))
		return -1;
	buf[*pos] = '\0';
	return 0;
}

long cc_parse_ms(const char *s)
{
	long v = 0;
	if (!s || !*s)
		return -1;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9' || v > 3600000)
			return -1;
		v = v * 10 + (*p - '0');
	}
	return v >= 1 && v <= 3600000 ? v : -1;
}
