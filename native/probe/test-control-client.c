/* Unit tests of control-client.c (run under ASan/UBSan): the JSON reading and writing, and
 * connecting to a listener whose backlog is full. */
#define _GNU_SOURCE
#include "control-client.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static int failures;
#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); failures++; } } while (0)

static void member(const char *json, const char *key, const char *expect)
{
	const char *v, *vend, *end = json + strlen(json);
	int rc = cc_json_member(json, end, key, &v, &vend);
	if (!expect) {
		CHECK(rc != 0);
		return;
	}
	CHECK(rc == 0);
	if (rc == 0) {
		CHECK((size_t)(vend - v) == strlen(expect) && memcmp(v, expect, strlen(expect)) == 0);
	}
}

/* A Unix listener with backlog 0 whose queue is filled by connections nobody accepts. */
struct full_listener {
	char path[108];
	int fd;
	int fillers[8];
	int nfillers;
};

static int open_full_listener(struct full_listener *l)
{
	struct sockaddr_un sa;
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	snprintf(l->path, sizeof l->path, "/tmp/cc-test-%d.sock", (int)getpid());
	memcpy(sa.sun_path, l->path, strlen(l->path) + 1);
	unlink(l->path);
	l->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l->fd < 0 || bind(l->fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(l->fd, 0) != 0)
		return -1;
	/* Connections complete until the queue is full; then a non-blocking connect fails with EAGAIN. */
	for (l->nfillers = 0; l->nfillers < 8;) {
		int f = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (connect(f, (struct sockaddr *)&sa, sizeof sa) == 0) {
			l->fillers[l->nfillers++] = f;
			continue;
		}
		int err = errno;
		close(f);
		return err == EAGAIN ? 0 : -1;
	}
	return -1;
}

static void close_full_listener(struct full_listener *l)
{
	for (int i = 0; i < l->nfillers; i++)
		close(l->fillers[i]);
	close(l->fd);
	unlink(l->path);
}

/* Accepts nothing for a while (the backlog stays full), then answers whoever sends a request. */
static void *serve_late(void *arg)
{
	struct full_listener *l = arg;
	struct timespec pause = { .tv_sec = 0, .tv_nsec = 300 * 1000000L };
	nanosleep(&pause, NULL);
	for (int i = 0; i < 20; i++) {
		struct pollfd p = { .fd = l->fd, .events = POLLIN };
		if (poll(&p, 1, 2000) != 1)
			break;
		int c = accept(l->fd, NULL, NULL);
		if (c < 0)
			break;
		char buf[64];
		struct pollfd q = { .fd = c, .events = POLLIN };
		ssize_t n = poll(&q, 1, 200) == 1 ? recv(c, buf, sizeof buf, 0) : 0;
		if (n > 0) {
			static const char reply[] = "{\"ok\":1}\n";
			if (send(c, reply, sizeof reply - 1, MSG_NOSIGNAL) < 0)
				perror("send");
			close(c);
			return NULL;
		}
		close(c);
	}
	return NULL;
}

/* EAGAIN from connect() on a Unix socket is a full backlog: retried with a new socket until the
 * deadline (a late accept succeeds), then reported as such. */
static void backlog_full(void)
{
	struct full_listener l;
	CHECK(open_full_listener(&l) == 0);
	pthread_t th;
	CHECK(pthread_create(&th, NULL, serve_late, &l) == 0);
	struct cc_reply r;
	int rc = cc_exchange(l.path, "live\n", cc_now_ms() + 10000, 0, &r);
	CHECK(rc == 0);
	if (rc == 0) {
		CHECK(strcmp(r.line, "{\"ok\":1}") == 0);
		free(r.line);
	} else {
		fprintf(stderr, "  cc_exchange after a late accept: %s\n", r.error);
	}
	pthread_join(th, NULL);
	close_full_listener(&l);

	CHECK(open_full_listener(&l) == 0);
	rc = cc_exchange(l.path, "live\n", cc_now_ms() + 200, 0, &r);
	CHECK(rc == -1);
	CHECK(strstr(r.error, "did not accept the connection in time (its backlog is full)") != NULL);
	if (rc == 0)
		free(r.line);
	close_full_listener(&l);
}

int main(void)
{
	/* The probe and supervisor replies. */
	const char *live = "{\"status\":{\"Live\":true,\"Sessions\":[{\"Pair\":{\"Local\":\"a\",\"Remote\":\"b\"}}],\"X\":\"}\"}}";
	member(live, "status", "{\"Live\":true,\"Sessions\":[{\"Pair\":{\"Local\":\"a\",\"Remote\":\"b\"}}],\"X\":\"}\"}");
	member(live, "error", NULL);
	member(live, "Live", NULL); /* only top-level members */
	member("{\"status\":{},\"error\":\"not live: x\"}", "error", "\"not live: x\"");
	member(" { \"a\" : 1 , \"b\" : [ 1 , { \"c\" : null } ] , \"c\" : -2.5e3 } ", "b", "[ 1 , { \"c\" : null } ]");
	member("{\"a\":1,\"c\":-2.5e3}", "c", "-2.5e3");
	member("{\"a\":true}", "a", "true");
	/* Malformed input never reads past the end. */
	member("{\"status\":{\"Live\":tr", "status", NULL);
	member("{\"status\"", "status", NULL);
	member("{\"status\":\"abc", "status", NULL);
	member("[1,2]", "status", NULL);
	member("", "status", NULL);
	member("{\"a\":\"\\", "a", NULL);
	{
		char deep[300];
		memset(deep, '[', sizeof deep - 1);
		deep[sizeof deep - 1] = '\0';
		CHECK(cc_json_skip(deep, deep + strlen(deep)) == NULL);
	}

	/* String decoding, including escapes and UTF-16 surrogate pairs. */
	char out[64];
	const char *s1 = "\"There are 0 sessions:\\n\\t\\\"x\\\" \\u00e9 \\ud83d\\ude00\"";
	CHECK(cc_json_string(s1, s1 + strlen(s1), out, sizeof out) >= 0);
	CHECK(strcmp(out, "There are 0 sessions:\n\t\"x\" \xc3\xa9 \xf0\x9f\x98\x80") == 0);
	const char *bad_surrogate = "\"\\ud83d\"";
	CHECK(cc_json_string(bad_surrogate, bad_surrogate + strlen(bad_surrogate), out, sizeof out) == -1);
	const char *lone_low = "\"\\ude00\"";
	CHECK(cc_json_string(lone_low, lone_low + strlen(lone_low), out, sizeof out) == -1);
	const char *bad_escape = "\"\\q\"";
	CHECK(cc_json_string(bad_escape, bad_escape + strlen(bad_escape), out, sizeof out) == -1);
	const char *too_long = "\"0123456789\"";
	CHECK(cc_json_string(too_long, too_long + strlen(too_long), out, 8) == -1);
	CHECK(cc_json_string(too_long, too_long + strlen(too_long), out, 11) == 10);
	const char *short_hex = "\"\\u12\"";
	CHECK(cc_json_string(short_hex, short_hex + strlen(short_hex), out, sizeof out) == -1);

	/* Quoting the bfdd-control arguments. */
	char buf[32];
	size_t pos = 0;
	CHECK(cc_json_quote(buf, sizeof buf, &pos, "a\"b\\c\n") == 0);
	CHECK(strcmp(buf, "\"a\\\"b\\\\c\\u000a\"") == 0);
	pos = 0;
	CHECK(cc_json_quote(buf, 8, &pos, "0123456789") == -1);

	CHECK(cc_parse_ms("900") == 900);
	CHECK(cc_parse_ms("0") == -1);
	CHECK(cc_parse_ms("3600001") == -1);
	CHECK(cc_parse_ms("99999999999999999999") == -1);
	CHECK(cc_parse_ms("1x") == -1);
	CHECK(cc_parse_ms("") == -1);

	backlog_full();

	if (failures) {
		fprintf(stderr, "%d check(s) failed\n", failures);
		return 1;
	}
	printf("control-client: all checks passed\n");
	return 0;
}
