// A dump of the conntrack table (IPCTNL_MSG_CT_GET with NLM_F_DUMP) on a socket of its own, parsed
// into ct_parse records and handed over in chunks, so the caller holds at most one chunk at a time.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "io/ct_parse.h"

namespace ct {

struct DumpResult {
  size_t entries = 0;
  uint32_t malformed = 0;
  bool interrupted = false;  // NLM_F_DUMP_INTR: the table changed during the dump (entries may be missing)
};

using OnChunk = std::function<void(const std::vector<uint8_t>&)>;

// The dump blocks its caller (the event loop), so it must end: each receive waits at most
// recv_timeout_ms, and the whole dump gives up after deadline_ms.
struct DumpLimits {
  int recv_timeout_ms = 5000;
  int deadline_ms = 30000;
};

// family: 4 or 6. on_chunk(records) gets up to `chunk_records` records at a time (it must not keep
// the vector). Returns false with `err` naming the failed step.
bool dump_table(int family, size_t chunk_records, const OnChunk& on_chunk, DumpResult& result, std::string& err);

// The receiving half of dump_table on a socket whose request was sent (any datagram socket: unit
// tests use a socketpair): reads the replies until NLMSG_DONE, an error, or a limit.
bool read_dump(int fd, const DumpLimits& limits, size_t chunk_records, const OnChunk& on_chunk, DumpResult& result, std::string& err);

}  // namespace ct
