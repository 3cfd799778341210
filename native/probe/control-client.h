/* Client side of the egress-agent control socket for tiny native tools (exec probes, Kube-OVN's
 * kube-ovn-bfdd-supervisor and bfdd-control): one request line out, one reply line back, within a
 * deadline, plus just enough JSON reading to interpret the reply. No allocation beyond one
 * reply buffer; no Node.js start. */
#ifndef EGRESS_AGENT_CONTROL_CLIENT_H
#define EGRESS_AGENT_CONTROL_CLIENT_H

#include <stddef.h>

#define CC_DEFAULT_SOCKET "/run/egress-agent/control.sock"
#define CC_MAX_REPLY (1024 * 1024)

/* Result of cc_exchange; on failure `error` holds a message for people. */
struct cc_reply {
	char *line;      /* NUL-terminated reply line without the newline; free() it */
	size_t len;
	int unreachable; /* on failure: nothing listens on the path (missing socket, refused) */
	char error[512];
};

/* Milliseconds on CLOCK_MONOTONIC. */
long long cc_now_ms(void);

/* Connects to `path`, writes `request` (which must end in '\n') and reads one reply line, all
 * before `deadline_ms` (cc_now_ms() based). When `wait` is set, a missing or refusing socket is
 * retried until the deadline (the agent may still be starting). Returns 0 or -1. */
int cc_exchange(const char *path, const char *request, long long deadline_ms, int wait, struct cc_reply *out);

/* JSON reading over [p, end). Each returns NULL when the text is not what is expected. */

/* Pointer just past the JSON value starting at p (after leading whitespace). */
const char *cc_json_skip(const char *p, const char *end);

/* Finds member `key` of the object at p; sets [*val, *val_end) to its raw value. 0 if found. */
int cc_json_member(const char *p, const char *end, const char *key, const char **val, const char **val_end);

/* Decodes the JSON string value at [val, val_end) into out (NUL-terminated, UTF-8). Returns the
 * decoded length, or -1 when malformed or when it does not fit in cap bytes. */
long cc_json_string(const char *val, const char *val_end, char *out, size_t cap);

/* Appends s as a JSON string literal (with quotes) to buf at *pos; -1 when it does not fit. */
int cc_json_quote(char *buf, size_t cap, size_t *pos, const char *s);

/* Parses a non-negative decimal timeout in ms ("1".."3600000"); -1 when invalid. */
long cc_parse_ms(const char *s);

#endif
