# Native control-socket clients (issue 5): the exec probe, Kube-OVN's supervisor entry point and
# bfdd-control. Plain C, no dependencies; included by the top-level Makefile.
PROBE_DIR := native/probe
PROBE_OUT := native/out
PROBE_CFLAGS := -std=c11 -O2 -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion -D_FORTIFY_SOURCE=2 -fstack-protector-strong
PROBE_CC ?= cc
PROBE_COMMON := $(PROBE_DIR)/control-client.c $(PROBE_DIR)/control-client.h
PROBE_BINS := $(PROBE_OUT)/egress-agent-probe $(PROBE_OUT)/kube-ovn-bfdd-supervisor $(PROBE_OUT)/bfdd-control

.PHONY: probe probe-test
probe: $(PROBE_BINS)

$(PROBE_OUT)/egress-agent-probe: $(PROBE_DIR)/probe.c $(PROBE_COMMON)
	@mkdir -p $(PROBE_OUT)
	$(PROBE_CC) $(PROBE_CFLAGS) -o $@ $(PROBE_DIR)/probe.c $(PROBE_DIR)/control-client.c

$(PROBE_OUT)/kube-ovn-bfdd-supervisor: $(PROBE_DIR)/supervisor.c $(PROBE_COMMON)
	@mkdir -p $(PROBE_OUT)
	$(PROBE_CC) $(PROBE_CFLAGS) -o $@ $(PROBE_DIR)/supervisor.c $(PROBE_DIR)/control-client.c

$(PROBE_OUT)/bfdd-control: $(PROBE_DIR)/bfdd-control.c $(PROBE_COMMON)
	@mkdir -p $(PROBE_OUT)
	$(PROBE_CC) $(PROBE_CFLAGS) -o $@ $(PROBE_DIR)/bfdd-control.c $(PROBE_DIR)/control-client.c

# Unit tests of the JSON handling and connecting, under ASan and UBSan (clang), as part of `make test-native`.
$(PROBE_OUT)/test-control-client: $(PROBE_DIR)/test-control-client.c $(PROBE_COMMON)
	@mkdir -p $(PROBE_OUT)
	clang -std=c11 -g -O1 -Wall -Wextra -pthread -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer \
		-o $@ $(PROBE_DIR)/test-control-client.c $(PROBE_DIR)/control-client.c

probe-test: $(PROBE_OUT)/test-control-client
	$(PROBE_OUT)/test-control-client

test-native: probe-test
