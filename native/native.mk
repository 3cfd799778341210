# Native BFD engine (bfd-js): the protocol core's unit tests under ASan/UBSan and the libFuzzer
# harness. Included by the top-level Makefile; outputs go to native/out/ (gitignored).
NATIVE_OUT := native/out
NATIVE_CXX ?= clang++
NATIVE_CORE := $(wildcard native/src/core/*.cc)
NATIVE_CORE_H := $(wildcard native/src/core/*.h)
# Memory release (mem/, without its N-API glue): tested here too, with real mappings.
NATIVE_MEM := native/src/mem/release.cc native/src/mem/release.h
# The rtnetlink batch filler is I/O-side but syscall-free (the read is injected): tested here too.
NATIVE_RTNL_H := native/src/io/rtnl_batch.h
# The conntrack message parser and record-line formatter: syscall-free, tested and fuzzed here.
NATIVE_CT := native/src/io/ct_parse.cc native/src/io/ct_parse.h native/src/io/ct_json.cc native/src/io/ct_json.h
# The conntrack dump's receive loop: its limits tested on a socketpair.
NATIVE_CT_DUMP := native/src/io/ct_dump.cc native/src/io/ct_dump.h
# The engine thread and its sockets (no Node): run on loopback for the event queue and locking.
NATIVE_ENGINE := native/src/io/engine.cc native/src/io/engine.h native/src/io/sockets.cc native/src/io/sockets.h
NATIVE_TEST_SRC := $(wildcard native/test/*.cc) $(wildcard native/test/*.h)
NATIVE_FLAGS := -std=c++17 -g -O1 -Wall -Wextra -Werror -fno-omit-frame-pointer -Inative/src -Inative/test
NATIVE_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_SECONDS ?= 60

.PHONY: native-test test-native fuzz fuzz-ct bench-floor lab-tools

$(NATIVE_OUT)/unit-tests: $(NATIVE_CORE) $(NATIVE_CORE_H) $(NATIVE_MEM) $(NATIVE_RTNL_H) $(NATIVE_CT) $(NATIVE_CT_DUMP) $(NATIVE_ENGINE) $(NATIVE_TEST_SRC) native/native.mk
	@mkdir -p $(NATIVE_OUT)
	$(NATIVE_CXX) $(NATIVE_FLAGS) $(NATIVE_SAN) -o $@ $(NATIVE_CORE) $(filter %.cc,$(NATIVE_MEM) $(NATIVE_CT) $(NATIVE_CT_DUMP) $(NATIVE_ENGINE) $(NATIVE_TEST_SRC)) -lpthread

native-test: $(NATIVE_OUT)/unit-tests
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 $<

# The top-level Makefile's name for the same suite.
test-native: native-test

$(NATIVE_OUT)/fuzz-packet: $(NATIVE_CORE) $(NATIVE_CORE_H) native/fuzz/fuzz_packet.cc native/native.mk
	@mkdir -p $(NATIVE_OUT)
	clang++ $(NATIVE_FLAGS) -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -o $@ \
		$(NATIVE_CORE) native/fuzz/fuzz_packet.cc

# Runs for FUZZ_SECONDS; the corpus grows in native/out/fuzz-corpus, seeded from native/fuzz/seeds.
fuzz: $(NATIVE_OUT)/fuzz-packet
	@mkdir -p $(NATIVE_OUT)/fuzz-corpus
	$< -max_total_time=$(FUZZ_SECONDS) -timeout=10 -print_final_stats=1 $(NATIVE_OUT)/fuzz-corpus native/fuzz/seeds

$(NATIVE_OUT)/fuzz-ct: $(NATIVE_CT) native/fuzz/fuzz_ct.cc native/native.mk
	@mkdir -p $(NATIVE_OUT)
	clang++ $(NATIVE_FLAGS) -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -o $@ \
		$(filter %.cc,$(NATIVE_CT)) native/fuzz/fuzz_ct.cc

# The conntrack parser, seeded from native/fuzz/seeds-ct (kernel-shaped events).
fuzz-ct: $(NATIVE_OUT)/fuzz-ct
	@mkdir -p $(NATIVE_OUT)/fuzz-ct-corpus
	$< -max_total_time=$(FUZZ_SECONDS) -timeout=10 -print_final_stats=1 $(NATIVE_OUT)/fuzz-ct-corpus native/fuzz/seeds-ct

# The benchmark's physical floor (scripts/bench/bfd.ts): a bare C sender of the engine's packets.
$(NATIVE_OUT)/bfd-send-floor: native/bench/bfd-send-floor.c native/native.mk
	@mkdir -p $(NATIVE_OUT)
	clang -std=c11 -O2 -Wall -Wextra -Werror -o $@ $<

bench-floor: $(NATIVE_OUT)/bfd-send-floor

# The SNAT test's and benchmark's flow generator (test/helpers/snat-agent.ts, scripts/bench/snat.ts).
$(NATIVE_OUT)/udp-flows: native/bench/udp-flows.c native/native.mk
	@mkdir -p $(NATIVE_OUT)
	clang -std=c11 -O2 -Wall -Wextra -Werror -o $@ $<

lab-tools: $(NATIVE_OUT)/udp-flows
