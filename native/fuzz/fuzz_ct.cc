// libFuzzer harness: the conntrack message parser over arbitrary bytes, as events and as dump
// replies. Invariants: one record per parsed event, and every record's type and family are valid.
#include <cstdlib>
#include <vector>

#include "io/ct_parse.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  for (bool dump : {false, true}) {
    std::vector<uint8_t> out;
    const ct::BatchStats s = ct::parse_batch(data, size, dump, out);
    if (out.size() != s.records * ct::kRecordBytes) abort();
    for (size_t i = 0; i < out.size(); i += ct::kRecordBytes) {
      const uint8_t type = out[i], family = out[i + 1];
      if ((dump ? type != ct::kEntry : type != ct::kNew && type != ct::kDestroy) || (family != 4 && family != 6)) abort();
    }
  }
  return 0;
}
