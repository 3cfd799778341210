// BFD Control packet codec (RFC 5880 §4.1). decode() applies the packet-only reception checks
// R-01..R-06 in RFC order; everything that needs a session (R-07 onwards) is the caller's job.
#pragma once
#include "types.h"

namespace bfd {

constexpr size_t kHeaderLen = 24;
constexpr size_t kMaxPacketLen = 24 + 28;  // header + largest auth section we emit (SHA1)

struct Packet {
  uint8_t version = 1;
  Diag diag = Diag::None;
  State state = State::Down;
  bool poll = false, final = false, cpi = false, auth = false, demand = false, multipoint = false;
  uint8_t mult = 0;
  uint8_t length = kHeaderLen;
  uint32_t my_discr = 0, your_discr = 0;
  uint32_t desired_min_tx = 0, required_min_rx = 0, required_min_echo_rx = 0;
  // Authentication section view (valid when auth is set): bytes [24, length) of the input.
  const uint8_t* auth_section = nullptr;
  size_t auth_section_len = 0;
};

// Returns true and fills `out` when the packet passes R-01..R-06; otherwise sets `why`.
bool decode(const uint8_t* buf, size_t len, Packet& out, Drop& why);

// Writes the 24-byte mandatory section; `p.length` must already include any auth section.
// Returns bytes written (24) or 0 if `cap` is too small.
size_t encode(const Packet& p, uint8_t* buf, size_t cap);

inline uint32_t get32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}
inline void put32(uint8_t* p, uint32_t v) {
  p[0] = uint8_t(v >> 24); p[1] = uint8_t(v >> 16); p[2] = uint8_t(v >> 8); p[3] = uint8_t(v);
}

}  // namespace bfd
