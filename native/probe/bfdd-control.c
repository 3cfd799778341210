/* bfdd-control ARGS...: OpenBFDD's control client, answered by egress-agent (the reply text is
 * produced by agent/compat/bfdd-control.ts). Kube-OVN's G1/G2 probes run `bfdd-control status`
 * with a 1 s timeout, so this stays tiny. Exit status: 0, or 1 when the agent rejected the request
 * or could not be reached (as Kube-OVN's hardened OpenBFDD client does). */
#include "control-client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Kube-OVN's hardening patch bounds the client to 5 s. */
#define CONTROL_TIMEOUT_MS 5000
#define MAX_REQUEST 8192

int main(int argc, char **argv)
{
	const char *path = getenv("EGRESS_AGENT_SOCKET");
	if (!path || !*path)
		path = CC_DEFAULT_SOCKET;
	char req[MAX_REQUEST];
	size_t pos = 0;
	const char *head = "{\"v\":1,\"id\":1,\"cmd\":\"compat.bfddControl\",\"args\":[";
	if (strlen(head) >= sizeof req)
		return 1;
	memcpy(req, head, strlen(head) + 1);
	pos = strlen(head);
	for (int i = 1; i < argc; i++) {
		if (i > 1) {
			if (pos + 1 >= sizeof req)
				goto too_long;
			req[pos++] = ',';
		}
		if (cc_json_quote(req, sizeof req, &pos, argv[i]))
			goto too_long;
	}
	if (pos + 4 > sizeof req)
		goto too_long;
	memcpy(req + pos, "]}\n", 4);

	struct cc_reply r;
	if (cc_exchange(path, req, cc_now_ms() + CONTROL_TIMEOUT_MS, 0, &r)) {
		fprintf(stderr, "Failed to connect to the beacon: %s\n", r.error);
		return 1;
	}
	const char *end = r.line + r.len, *v, *vend, *res, *res_end;
	int rc = 1;
	size_t cap = r.len + 1;
	char *text = malloc(cap);
	if (!text) {
		free(r.line);
		return 1;
	}
	if (cc_json_member(r.line, end, "ok", &v, &vend) == 0 && vend - v == 4 && !memcmp(v, "true", 4) &&
	    cc_json_member(r.line, end, "result", &res, &res_end) == 0 &&
	    cc_json_member(res, res_end, "text", &v, &vend) == 0 && cc_json_string(v, vend, text, cap) >= 0) {
		fputs(text, stdout);
		rc = cc_json_member(res, res_end, "exitCode", &v, &vend) == 0 && vend - v == 1 && *v == '0' ? 0 : 1;
	} else if (cc_json_member(r.line, end, "error", &v, &vend) == 0 && cc_json_string(v, vend, text, cap) >= 0) {
		fprintf(stderr, "Unable to complete request: %s\n", text);
	} else {
		fprintf(stderr, "bfdd-control: unexpected reply from %s: %.200s\n", path, r.line);
	}
	free(text);
	free(r.line);
	return rc;
too_long:
	fprintf(stderr, "bfdd-control: command too long\n");
	return 1;
}
