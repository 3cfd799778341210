// SNAT record lines (docs/snat-records.md) formatted straight from ct_parse records, so the recorder
// hands a batch's lines to the file as one buffer instead of building an object and a string per
// event in JavaScript (at 80,000 events/s that was most of a core). Syscall-free: unit-tested and
// fuzzed with the parser. The JS formatter (agent/snat/record.ts) writes the same bytes for the
// records it still formats (the conntrack-tool source, recovered starts); a unit test compares them.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "io/ct_parse.h"

namespace ct {

// The fields of one record (the inverse of encode, for what the lines need).
void decode(const uint8_t* rec, Event& out);

// The gateway rewrote the source: the reply goes back to another address or port than the original
// source (agent/snat/classify.ts, same rule).
bool is_snat(const Event& e);

struct LineOptions {
  uint64_t received_ms = 0;  // when the batch was read: the start time of start records
  bool starts = true;        // write start records (config recordStart)
};

struct Lines {
  std::string text;              // the lines, back to back, each ending in '\n'
  std::vector<uint8_t> snat;     // per record: 1 if is_snat
  std::vector<uint32_t> ends;    // per record: the end offset of its line in `text` (= the previous end: no line)
};

// One line per SNAT record: kNew -> a start record (when options.starts), kDestroy -> an end record.
// Other records (not SNAT, updates, dump entries) get no line. `recs` holds `count` records.
void format_lines(const uint8_t* recs, size_t count, const LineOptions& options, Lines& out);

}  // namespace ct
