// libFuzzer harness: the conntrack message parser over arbitrary bytes, as events and as dump
// replies, with and without updates. Invariants: one record per parsed event, every record's type
// (updates only when asked for) and family are valid, and the reserved tail is zero.
#include <cstdlib>
#include <vector>

#include "io/ct_parse.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  for (ct::Source source : {ct::Source::kEvents, ct::Source::kEventsAndUpdates, ct::Source::kDump}) {
    std::vector<uint8_t> out;
    const ct::BatchStats s = ct::parse_batch(data, size, source, out);
    if (out.size() != s.records * ct::kRecordBytes) abort();
    for (size_t i = 0; i < out.size(); i += ct::kRecordBytes) {
      const uint8_t type = out[i], family = out[i + 1];
      const bool type_ok = source == ct::Source::kDump ? type == ct::kEntry
                           : type == ct::kNew || type == ct::kDestroy || (type == ct::kUpdate && source == ct::Source::kEventsAndUpdates);
      if (!type_ok || (family != 4 && family != 6)) abort();
      for (size_t z = 138; z < ct::kRecordBytes; z++)
        if (out[i + z] != 0) abort();  // the reserved tail stays zero
    }
  }
  return 0;
}
