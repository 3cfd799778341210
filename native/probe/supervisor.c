/* /kube-ovn/kube-ovn-bfdd-supervisor run|live|ready|status: Kube-OVN's G3 supervisor entry point,
 * answered by egress-agent.
 *
 *   run     Starts `egress-agent run` as a child and stays PID 1 with its own argv untouched, so
 *           /proc/1/cmdline keeps reading "/kube-ovn/kube-ovn-bfdd-supervisor run" (Kube-OVN's
 *           e2e checks it). Forwards SIGTERM/SIGINT/SIGHUP/SIGQUIT/SIGUSR1/SIGUSR2, reaps every
 *           child (PID 1's duty) and exits with the agent's status.
 *   live, ready, status
 *           One line to $BFDD_SUPERVISOR_SOCKET (default below): exit 0/1 like the Go client;
 *           `status` prints the supervisor status JSON. */
#define _GNU_SOURCE
#include "control-client.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define DEFAULT_SUPERVISOR_SOCKET "/var/run/kube-ovn/bfdd-supervisor/control.sock"
#define DEFAULT_SUPERVISOR_STATE "/var/run/kube-ovn/bfdd-supervisor/state.json"
#ifndef EGRESS_AGENT_BIN
#define EGRESS_AGENT_BIN "/usr/local/bin/egress-agent"
#endif
/* Matches the Go client's probeIOTimeout. */
#define PROBE_TIMEOUT_MS 5000

static const char *env_or(const char *name, const char *fallback)
{
	const char *v = getenv(name);
	return v && *v ? v : fallback;
}

static int run(void)
{
	/* Kube-OVN's bfdd container has no gateway variables: this process runs BFD only (the init
	 * container configured the dataplane). Its socket and state live on the supervisor's emptyDir. */
	setenv("EGRESS_AGENT_ALLOW_NO_FAMILIES", env_or("EGRESS_AGENT_ALLOW_NO_FAMILIES", "true"), 1);
	setenv("EGRESS_AGENT_BFD_STATE_PATH", env_or("EGRESS_AGENT_BFD_STATE_PATH", env_or("BFDD_SUPERVISOR_STATE", DEFAULT_SUPERVISOR_STATE)), 1);
	const char *bin = env_or("EGRESS_AGENT_BIN", EGRESS_AGENT_BIN);

	sigset_t forward, old;
	sigemptyset(&forward);
	const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGCHLD };
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		sigaddset(&forward, sigs[i]);
	if (sigprocmask(SIG_BLOCK, &forward, &old)) {
		perror("kube-ovn-bfdd-supervisor: sigprocmask");
		return 1;
	}
	pid_t child = fork();
	if (child < 0) {
		perror("kube-ovn-bfdd-supervisor: fork");
		return 1;
	}
	if (child == 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		char *const args[] = { (char *)"egress-agent", (char *)"run", NULL };
		execv(bin, args);
		fprintf(stderr, "kube-ovn-bfdd-supervisor: cannot execute %s: %s\n", bin, strerror(errno));
		_exit(127);
	}
	for (;;) {
		siginfo_t info;
		int sig = sigwaitinfo(&forward, &info);
		if (sig < 0) {
			if (errno == EINTR)
				continue;
			perror("kube-ovn-bfdd-supervisor: sigwaitinfo");
			kill(child, SIGTERM);
			return 1;
		}
		if (sig != SIGCHLD) {
			kill(child, sig);
			continue;
		}
		int status;
		pid_t pid;
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			if (pid != child)
				continue; /* an orphan re-parented to PID 1: reaped, nothing else to do */
			if (WIFEXITED(status))
				return WEXITSTATUS(status);
			if (WIFSIGNALED(status))
				return 128 + WTERMSIG(status);
		}
	}
}

static int probe(const char *what)
{
	const char *path = env_or("BFDD_SUPERVISOR_SOCKET", DEFAULT_SUPERVISOR_SOCKET);
	char request[16];
	snprintf(request, sizeof request, "%s\n", what);
	struct cc_reply r;
	if (cc_exchange(path, request, cc_now_ms() + PROBE_TIMEOUT_MS, 0, &r)) {
		fprintf(stderr, "BFD supervisor failed: failed to connect to BFD supervisor: %s\n", r.error);
		return 1;
	}
	const char *end = r.line + r.len, *v, *vend, *e, *eend;
	int rc = 0;
	if (cc_json_member(r.line, end, "status", &v, &vend)) {
		fprintf(stderr, "BFD supervisor failed: failed to decode BFD supervisor response: %.200s\n", r.line);
		rc = 1;
	} else if (cc_json_member(r.line, end, "error", &e, &eend) == 0) {
		char msg[2048];
		fprintf(stderr, "BFD supervisor failed: %s\n", cc_json_string(e, eend, msg, sizeof msg) >= 0 ? msg : "unreadable error");
		rc = 1;
	} else if (!strcmp(what, "status")) {
		/* The Go CLI prints json.Encoder output of the status: compact, one line. */
		fwrite(v, 1, (size_t)(vend - v), stdout);
		fputc('\n', stdout);
	}
	free(r.line);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "BFD supervisor failed: usage: kube-ovn-bfdd-supervisor <run|live|ready|status>\n");
		return 1;
	}
	if (!strcmp(argv[1], "run"))
		return run();
	if (!strcmp(argv[1], "live") || !strcmp(argv[1], "ready") || !strcmp(argv[1], "status"))
		return probe(argv[1]);
	fprintf(stderr, "BFD supervisor failed: unknown BFD supervisor command \"%s\"\n", argv[1]);
	return 1;
}
