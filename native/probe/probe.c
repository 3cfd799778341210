/* egress-agent-probe live|ready [--socket PATH] [--timeout MS] [--wait] [--quiet]
 * Exec-probe client for kubelet: asks the agent's control socket and exits 0 (yes), 1 (no, or no
 * answer in time), 3 (nothing listens on the socket: the agent is not running, or not yet) or 2
 * (usage). Starting Node.js per probe would double the container's memory. */
#include "control-client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(void)
{
	fprintf(stderr, "usage: egress-agent-probe live|ready [--socket PATH] [--timeout MS] [--wait] [--quiet]\n"
			"  --socket   control socket (default $EGRESS_AGENT_SOCKET, else " CC_DEFAULT_SOCKET ")\n"
			"  --timeout  give up after MS milliseconds (default 5000)\n"
			"  --wait     retry while the socket is missing or refusing (the agent is starting)\n"
			"exit: 0 yes, 1 no or no answer in time, 3 no agent listening, 2 usage\n");
	return 2;
}

int main(int argc, char **argv)
{
	const char *what = NULL, *socket_path = getenv("EGRESS_AGENT_SOCKET");
	long timeout = 5000;
	int wait = 0, quiet = 0;
	if (!socket_path || !*socket_path)
		socket_path = CC_DEFAULT_SOCKET;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--socket") && i + 1 < argc) {
			socket_path = argv[++i];
		} else if (!strcmp(argv[i], "--timeout") && i + 1 < argc) {
			timeout = cc_parse_ms(argv[++i]);
			if (timeout < 0) {
				fprintf(stderr, "egress-agent-probe: --timeout must be 1..3600000 ms, got \"%s\"\n", argv[i]);
				return 2;
			}
		} else if (!strcmp(argv[i], "--wait")) {
			wait = 1;
		} else if (!strcmp(argv[i], "--quiet") || !strcmp(argv[i], "-q")) {
			quiet = 1;
		} else if (!what && (!strcmp(argv[i], "live") || !strcmp(argv[i], "ready"))) {
			what = argv[i];
		} else {
			return usage();
		}
	}
	if (!what)
		return usage();

	char request[16];
	snprintf(request, sizeof request, "%s\n", what);
	struct cc_reply r;
	if (cc_exchange(socket_path, request, cc_now_ms() + timeout, wait, &r)) {
		if (!quiet)
			fprintf(stderr, "egress-agent-probe: %s\n", r.error);
		return r.unreachable ? 3 : 1;
	}
	const char *end = r.line + r.len, *v, *vend;
	int rc = 0;
	if (cc_json_member(r.line, end, "status", &v, &vend)) {
		if (!quiet)
			fprintf(stderr, "egress-agent-probe: unexpected reply from %s: %.200s\n", socket_path, r.line);
		rc = 1;
	} else if (cc_json_member(r.line, end, "error", &v, &vend) == 0) {
		char msg[2048];
		if (!quiet)
			fprintf(stderr, "%s\n", cc_json_string(v, vend, msg, sizeof msg) >= 0 ? msg : "not ok");
		rc = 1;
	} else if (!quiet) {
		printf("%s\n", what);
	}
	free(r.line);
	return rc;
}
