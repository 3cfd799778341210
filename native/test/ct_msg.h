// Builds ctnetlink messages the way the kernel lays them out (nlmsghdr, nfgenmsg, nested
// attributes, 4-byte alignment), for the parser's unit tests and the fuzzer's seeds.
#pragma once
#include <cstdint>
#include <cstring>
#include <vector>

namespace ctmsg {

class Msg {
 public:
  // type: the ctnetlink message (0 NEW, 2 DELETE); flags: nlmsg_flags; af: nfgen_family.
  Msg(uint8_t type, uint16_t flags, uint8_t af) {
    put32(0);  // length, set by done()
    put16(uint16_t(1 << 8 | type));
    put16(flags);
    put32(1);
    put32(0);
    b_.push_back(af);
    b_.push_back(0);
    put16(0);
  }
  // Opens a nested attribute; close() ends it.
  Msg& open(uint16_t type) {
    stack_.push_back(b_.size());
    put16(0);
    put16(uint16_t(type | 0x8000));
    return *this;
  }
  Msg& close() {
    const size_t at = stack_.back();
    stack_.pop_back();
    set16(at, uint16_t(b_.size() - at));
    return *this;
  }
  Msg& attr(uint16_t type, const std::vector<uint8_t>& data) {
    put16(uint16_t(4 + data.size()));
    put16(type);
    b_.insert(b_.end(), data.begin(), data.end());
    while (b_.size() % 4) b_.push_back(0);
    return *this;
  }
  Msg& be(uint16_t type, uint64_t v, size_t n) {
    std::vector<uint8_t> d(n);
    for (size_t i = 0; i < n; i++) d[n - 1 - i] = uint8_t(v >> (8 * i));
    return attr(type, d);
  }
  std::vector<uint8_t> done() {
    set32(0, uint32_t(b_.size()));
    return b_;
  }

 private:
  void put16(uint16_t v) { b_.push_back(uint8_t(v)), b_.push_back(uint8_t(v >> 8)); }
  void put32(uint32_t v) { put16(uint16_t(v)), put16(uint16_t(v >> 16)); }
  void set16(size_t at, uint16_t v) { b_[at] = uint8_t(v), b_[at + 1] = uint8_t(v >> 8); }
  void set32(size_t at, uint32_t v) { set16(at, uint16_t(v)), set16(at + 2, uint16_t(v >> 16)); }
  std::vector<uint8_t> b_;
  std::vector<size_t> stack_;
};

// An IPv4 tuple: CTA_TUPLE_IP {V4_SRC, V4_DST}, CTA_TUPLE_PROTO {NUM, SRC_PORT, DST_PORT}.
inline Msg& tuple4(Msg& m, uint16_t which, std::vector<uint8_t> src, std::vector<uint8_t> dst, uint8_t proto, uint16_t sport, uint16_t dport) {
  m.open(which).open(1).attr(1, src).attr(2, dst).close();
  m.open(2).attr(1, {proto}).be(2, sport, 2).be(3, dport, 2).close();
  return m.close();
}

// A complete IPv4 UDP DESTROY event with counters and timestamps, as the kernel sends it.
inline std::vector<uint8_t> udp4_destroy() {
  Msg m(2, 0, 2);
  tuple4(m, 1, {10, 16, 0, 100}, {198, 51, 100, 10}, 17, 41002, 8080);
  tuple4(m, 2, {198, 51, 100, 10}, {172, 17, 0, 11}, 17, 8080, 15400);
  m.be(3, 0x1b8, 4);                                         // CTA_STATUS (confirmed, src NAT done, ...)
  m.be(8, 0x2a, 4);                                          // CTA_MARK
  m.be(18, 7, 2);                                            // CTA_ZONE
  m.open(9).be(1, 1, 8).be(2, 29, 8).close();                // CTA_COUNTERS_ORIG
  m.open(10).be(1, 2, 8).be(2, 58, 8).close();               // CTA_COUNTERS_REPLY
  m.be(12, 2276017852u, 4);                                  // CTA_ID
  m.open(20).be(1, 1764167789948000000ull, 8).be(2, 1764167790948687000ull, 8).close();  // CTA_TIMESTAMP
  return m.done();
}

}  // namespace ctmsg
