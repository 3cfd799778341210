#include "io/ct_parse.h"

#include <cstring>

namespace ct {
namespace {

// Netlink and ctnetlink constants, spelled out so the parser builds without kernel headers (the fuzzer).
constexpr size_t kNlHdr = 16;      // struct nlmsghdr
constexpr size_t kNfGenMsg = 4;    // struct nfgenmsg
constexpr uint16_t kNlmsgError = 2, kNlmsgDone = 3;
constexpr uint16_t kFlagCreate = 0x400;  // NLM_F_CREATE: a NEW event (an update lacks it)
constexpr uint16_t kSubsysCtnetlink = 1;
constexpr uint16_t kMsgNew = 0, kMsgDelete = 2;
constexpr uint8_t kAfInet = 2, kAfInet6 = 10;
constexpr uint16_t kTypeMask = 0x3fff;  // strips NLA_F_NESTED and NLA_F_NET_BYTEORDER

enum : uint16_t {
  CTA_TUPLE_ORIG = 1, CTA_TUPLE_REPLY = 2, CTA_STATUS = 3, CTA_MARK = 8, CTA_COUNTERS_ORIG = 9, CTA_COUNTERS_REPLY = 10,
  CTA_ID = 12, CTA_ZONE = 18, CTA_TIMESTAMP = 20
};
enum : uint16_t { CTA_TUPLE_IP = 1, CTA_TUPLE_PROTO = 2 };
enum : uint16_t { CTA_IP_V4_SRC = 1, CTA_IP_V4_DST = 2, CTA_IP_V6_SRC = 3, CTA_IP_V6_DST = 4 };
enum : uint16_t { CTA_PROTO_NUM = 1, CTA_PROTO_SRC_PORT = 2, CTA_PROTO_DST_PORT = 3 };
enum : uint16_t { CTA_COUNTERS_PACKETS = 1, CTA_COUNTERS_BYTES = 2, CTA_COUNTERS32_PACKETS = 3, CTA_COUNTERS32_BYTES = 4 };
enum : uint16_t { CTA_TIMESTAMP_START = 1, CTA_TIMESTAMP_STOP = 2 };

constexpr size_t align4(size_t n) { return (n + 3) & ~size_t(3); }

// Host-order reads of unaligned little-endian (netlink header) and big-endian (attribute) fields.
uint16_t le16(const uint8_t* p) { return uint16_t(p[0] | p[1] << 8); }
uint32_t le32(const uint8_t* p) { return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24; }
uint64_t be(const uint8_t* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; i++) v = v << 8 | p[i];
  return v;
}

// One attribute: its type (flags stripped) and payload.
struct Attr {
  uint16_t type;
  const uint8_t* data;
  size_t len;
};

// Iterates the attributes in [p, p + len). Stops (and sets `bad`) at one whose header or length
// does not fit; the last attribute may lack its alignment padding.
class Attrs {
 public:
  Attrs(const uint8_t* p, size_t len) : p_(p), left_(len) {}
  bool next(Attr& a) {
    if (left_ == 0) return false;
    if (left_ < 4) return fail();
    const size_t l = le16(p_);
    if (l < 4 || l > left_) return fail();
    a = Attr{uint16_t(le16(p_ + 2) & kTypeMask), p_ + 4, l - 4};
    const size_t step = align4(l) < left_ ? align4(l) : left_;
    p_ += step;
    left_ -= step;
    return true;
  }
  bool bad() const { return bad_; }

 private:
  bool fail() {
    bad_ = true;
    left_ = 0;
    return false;
  }
  const uint8_t* p_;
  size_t left_;
  bool bad_ = false;
};

bool parse_ip(const Attr& outer, uint8_t family, Tuple& t) {
  const size_t want = family == kAfInet ? 4 : 16;
  const uint16_t src_type = family == kAfInet ? CTA_IP_V4_SRC : CTA_IP_V6_SRC;
  const uint16_t dst_type = family == kAfInet ? CTA_IP_V4_DST : CTA_IP_V6_DST;
  bool src = false, dst = false;
  Attrs it(outer.data, outer.len);
  for (Attr a; it.next(a);) {
    if (a.type != src_type && a.type != dst_type) continue;
    if (a.len != want) return false;
    std::memcpy(a.type == src_type ? t.src : t.dst, a.data, want);
    (a.type == src_type ? src : dst) = true;
  }
  return !it.bad() && src && dst;
}

bool parse_proto(const Attr& outer, Tuple& t) {
  bool sport = false, dport = false;
  Attrs it(outer.data, outer.len);
  for (Attr a; it.next(a);) {
    if (a.type == CTA_PROTO_NUM) {
      if (a.len != 1) return false;
      t.proto = a.data[0];
      t.has_proto = true;
    } else if (a.type == CTA_PROTO_SRC_PORT || a.type == CTA_PROTO_DST_PORT) {
      if (a.len != 2) return false;
      (a.type == CTA_PROTO_SRC_PORT ? t.sport : t.dport) = uint16_t(be(a.data, 2));
      (a.type == CTA_PROTO_SRC_PORT ? sport : dport) = true;
    }
  }
  t.has_ports = sport && dport;
  return !it.bad() && t.has_proto;
}

bool parse_tuple(const Attr& outer, uint8_t family, Tuple& t) {
  Attrs it(outer.data, outer.len);
  for (Attr a; it.next(a);) {
    if (a.type == CTA_TUPLE_IP) {
      if (!parse_ip(a, family, t)) return false;
      t.has_ip = true;
    } else if (a.type == CTA_TUPLE_PROTO && !parse_proto(a, t)) {
      return false;
    }
  }
  return !it.bad() && t.has_ip && t.has_proto;
}

// CTA_COUNTERS_*: 64-bit counters (the 32-bit variants are from old kernels).
bool parse_counters(const Attr& outer, uint64_t& packets, uint64_t& bytes) {
  bool p = false, b = false;
  Attrs it(outer.data, outer.len);
  for (Attr a; it.next(a);) {
    const bool wide = a.type == CTA_COUNTERS_PACKETS || a.type == CTA_COUNTERS_BYTES;
    const bool narrow = a.type == CTA_COUNTERS32_PACKETS || a.type == CTA_COUNTERS32_BYTES;
    if (!wide && !narrow) continue;
    if (a.len != (wide ? 8u : 4u)) return false;
    const bool is_packets = a.type == CTA_COUNTERS_PACKETS || a.type == CTA_COUNTERS32_PACKETS;
    (is_packets ? packets : bytes) = be(a.data, a.len);
    (is_packets ? p : b) = true;
  }
  return !it.bad() && p && b;
}

bool parse_timestamp(const Attr& outer, Event& e) {
  Attrs it(outer.data, outer.len);
  for (Attr a; it.next(a);) {
    if (a.type != CTA_TIMESTAMP_START && a.type != CTA_TIMESTAMP_STOP) continue;
    if (a.len != 8) return false;
    const bool start = a.type == CTA_TIMESTAMP_START;
    (start ? e.start_ns : e.stop_ns) = be(a.data, 8);
    e.flags |= start ? kHasStart : kHasStop;
  }
  return !it.bad();
}

void put16(uint8_t* p, uint16_t v) {
  p[0] = uint8_t(v);
  p[1] = uint8_t(v >> 8);
}
void put32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = uint8_t(v >> (8 * i));
}
void put64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = uint8_t(v >> (8 * i));
}

}  // namespace

Result parse_message(const uint8_t* msg, size_t len, Source source, Event& out, int& error) {
  if (len < kNlHdr) return Result::kMalformed;
  const size_t msg_len = le32(msg);
  if (msg_len < kNlHdr || msg_len > len) return Result::kMalformed;
  const uint16_t type = le16(msg + 4);
  const uint16_t flags = le16(msg + 6);
  if (type == kNlmsgDone) return Result::kDone;
  if (type == kNlmsgError) {
    if (msg_len < kNlHdr + 4) return Result::kMalformed;
    error = int(le32(msg + kNlHdr));  // a negative errno, 0 for an acknowledgement
    return error == 0 ? Result::kSkip : Result::kError;
  }
  if (type >> 8 != kSubsysCtnetlink) return Result::kSkip;
  const uint16_t msg_type = type & 0xff;
  Event e;
  if (source == Source::kDump) {
    if (msg_type != kMsgNew) return Result::kSkip;
    e.type = kEntry;
  } else if (msg_type == kMsgDelete) {
    e.type = kDestroy;
  } else if (msg_type == kMsgNew && (flags & kFlagCreate)) {
    e.type = kNew;
  } else if (msg_type == kMsgNew && source == Source::kEventsAndUpdates) {
    e.type = kUpdate;
  } else {
    return Result::kSkip;
  }
  if (msg_len < kNlHdr + kNfGenMsg) return Result::kMalformed;
  const uint8_t af = msg[kNlHdr];
  if (af != kAfInet && af != kAfInet6) return Result::kSkip;  // bridge/other families: not ours
  e.family = af == kAfInet ? 4 : 6;

  bool orig = false, reply = false, id = false;
  Attrs it(msg + kNlHdr + kNfGenMsg, msg_len - kNlHdr - kNfGenMsg);
  bool counters[2] = {false, false};
  for (Attr a; it.next(a);) {
    switch (a.type) {
      case CTA_TUPLE_ORIG:
      case CTA_TUPLE_REPLY: {
        const bool o = a.type == CTA_TUPLE_ORIG;
        if (!parse_tuple(a, af, o ? e.orig : e.reply)) return Result::kMalformed;
        (o ? orig : reply) = true;
        break;
      }
      case CTA_COUNTERS_ORIG:
      case CTA_COUNTERS_REPLY: {
        const int d = a.type == CTA_COUNTERS_ORIG ? 0 : 1;
        if (!parse_counters(a, e.packets[d], e.bytes[d])) return Result::kMalformed;
        counters[d] = true;
        break;
      }
      case CTA_ID:
        if (a.len != 4) return Result::kMalformed;
        e.id = uint32_t(be(a.data, 4));
        id = true;
        break;
      case CTA_TIMESTAMP:
        if (!parse_timestamp(a, e)) return Result::kMalformed;
        break;
      case CTA_STATUS:
      case CTA_MARK:
        if (a.len != 4) return Result::kMalformed;
        (a.type == CTA_STATUS ? e.status : e.mark) = uint32_t(be(a.data, 4));
        if (a.type == CTA_STATUS) e.flags |= kHasStatus;
        break;
      case CTA_ZONE:
        if (a.len != 2) return Result::kMalformed;
        e.zone = uint16_t(be(a.data, 2));
        break;
      default:
        break;
    }
  }
  if (it.bad() || !orig || !reply || !id) return Result::kMalformed;
  if (e.orig.has_ports && e.reply.has_ports) e.flags |= kHasPorts;
  if (counters[0] && counters[1]) e.flags |= kHasCounters;
  out = e;
  return Result::kEvent;
}

void encode(const Event& e, uint8_t* d) {
  std::memset(d, 0, kRecordBytes);
  d[0] = e.type;
  d[1] = e.family;
  d[2] = e.orig.proto;
  d[3] = e.flags;
  put32(d + 4, e.id);
  std::memcpy(d + 8, e.orig.src, 16);
  std::memcpy(d + 24, e.orig.dst, 16);
  std::memcpy(d + 40, e.reply.src, 16);
  std::memcpy(d + 56, e.reply.dst, 16);
  put16(d + 72, e.orig.sport);
  put16(d + 74, e.orig.dport);
  put16(d + 76, e.reply.sport);
  put16(d + 78, e.reply.dport);
  put64(d + 80, e.packets[0]);
  put64(d + 88, e.bytes[0]);
  put64(d + 96, e.packets[1]);
  put64(d + 104, e.bytes[1]);
  put64(d + 112, e.start_ns);
  put64(d + 120, e.stop_ns);
  put32(d + 128, e.status);
  put32(d + 132, e.mark);
  put16(d + 136, e.zone);
}

BatchStats parse_batch(const uint8_t* buf, size_t len, Source source, std::vector<uint8_t>& out) {
  BatchStats s;
  size_t off = 0;
  while (off < len) {
    const size_t left = len - off;
    if (left < kNlHdr || le32(buf + off) < kNlHdr || le32(buf + off) > left) {
      s.malformed++;
      break;
    }
    const size_t msg_len = le32(buf + off);
    Event e;
    int err = 0;
    switch (parse_message(buf + off, msg_len, source, e, err)) {
      case Result::kEvent: {
        const size_t at = out.size();
        out.resize(at + kRecordBytes);
        encode(e, out.data() + at);
        s.records++;
        break;
      }
      case Result::kMalformed:
        s.malformed++;
        break;
      case Result::kDone:
        s.done = true;
        break;
      case Result::kError:
        if (s.error == 0) s.error = err;
        break;
      case Result::kSkip:
        break;
    }
    const size_t step = align4(msg_len);
    off += step < left ? step : left;
  }
  return s;
}

}  // namespace ct
