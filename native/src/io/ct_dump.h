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

// family: 4 or 6. on_chunk(records) gets up to `chunk_records` records at a time (it must not keep
// the vector). Returns false with `err` naming the failed step.
bool dump_table(int family, size_t chunk_records, const std::function<void(const std::vector<uint8_t>&)>& on_chunk,
                DumpResult& result, std::string& err);

}  // namespace ct
