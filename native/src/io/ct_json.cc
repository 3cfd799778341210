#include "io/ct_json.h"

#include <cstring>

namespace ct {
namespace {

uint64_t le(const uint8_t* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = n; i-- > 0;) v = v << 8 | p[i];
  return v;
}

void put_uint(std::string& s, uint64_t v) {
  char buf[24];
  size_t n = 0;
  do {
    buf[n++] = char('0' + v % 10);
    v /= 10;
  } while (v != 0);
  while (n > 0) s.push_back(buf[--n]);
}

void put_digits(std::string& s, uint64_t v, int width) {
  char buf[8];
  for (int i = width - 1; i >= 0; i--) {
    buf[i] = char('0' + v % 10);
    v /= 10;
  }
  s.append(buf, size_t(width));
}

void put_ip(std::string& s, const uint8_t* a, uint8_t family) {
  if (family == 4) {
    for (int i = 0; i < 4; i++) {
      if (i) s.push_back('.');
      put_uint(s, a[i]);
    }
    return;
  }
  // As agent/lib/ip.ts prints IPv6 (inet_ntop's way): the longest run (>= 2) of zero groups becomes
  // :: (the first of equal runs), lower-case hex without leading zeros, ::a.b.c.d and ::ffff:a.b.c.d.
  uint16_t g[8];
  for (int i = 0; i < 8; i++) g[i] = uint16_t(a[2 * i] << 8 | a[2 * i + 1]);
  int best = -1, best_len = 0;
  for (int i = 0; i < 8;) {
    if (g[i] != 0) {
      i++;
      continue;
    }
    int j = i;
    while (j < 8 && g[j] == 0) j++;
    if (j - i > best_len && j - i >= 2) best = i, best_len = j - i;
    i = j;
  }
  if (best == 0 && (best_len == 6 || (best_len == 5 && g[5] == 0xffff))) {
    s.append(best_len == 6 ? "::" : "::ffff:");
    put_ip(s, a + 12, 4);
    return;
  }
  static const char kHex[] = "0123456789abcdef";
  for (int i = 0; i < 8; i++) {
    if (i == best) {
      s.append("::");
      i += best_len - 1;
      continue;
    }
    if (i > 0 && i != best + best_len) s.push_back(':');
    bool lead = true;
    for (int shift = 12; shift >= 0; shift -= 4) {
      const int d = (g[i] >> shift) & 0xf;
      if (lead && d == 0 && shift > 0) continue;
      lead = false;
      s.push_back(kHex[d]);
    }
  }
}

// Date#toISOString of a time in ms since the epoch (years 1970..9999).
void put_iso(std::string& s, uint64_t ms) {
  const uint64_t secs = ms / 1000;
  int64_t days = int64_t(secs / 86400);
  const uint64_t sod = secs % 86400;
  // Civil date from days since 1970-01-01 (Howard Hinnant's days_from_civil, inverted).
  days += 719468;
  const int64_t era = days / 146097;
  const int64_t doe = days - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t day = doy - (153 * mp + 2) / 5 + 1;
  const int64_t month = mp < 10 ? mp + 3 : mp - 9;
  const int64_t year = yoe + era * 400 + (month <= 2);
  s.push_back('"');
  put_digits(s, uint64_t(year), 4);
  s.push_back('-');
  put_digits(s, uint64_t(month), 2);
  s.push_back('-');
  put_digits(s, uint64_t(day), 2);
  s.push_back('T');
  put_digits(s, sod / 3600, 2);
  s.push_back(':');
  put_digits(s, sod / 60 % 60, 2);
  s.push_back(':');
  put_digits(s, sod % 60, 2);
  s.push_back('.');
  put_digits(s, ms % 1000, 3);
  s.append("Z\"");
}

// µs as ms with up to 3 decimals, as JavaScript prints (a - b) / 1000 for whole µs.
void put_ms_from_us(std::string& s, int64_t us) {
  if (us < 0) {
    s.push_back('-');
    us = -us;
  }
  put_uint(s, uint64_t(us) / 1000);
  uint64_t frac = uint64_t(us) % 1000;
  if (frac == 0) return;
  int width = 3;
  while (frac % 10 == 0) frac /= 10, width--;
  s.push_back('.');
  put_digits(s, frac, width);
}

void put_port(std::string& s, bool has, uint16_t port) {
  if (has) put_uint(s, port);
  else s.append("null");
}

const char* proto_name(uint8_t p) {
  switch (p) {
    case 1: return "icmp";
    case 2: return "igmp";
    case 6: return "tcp";
    case 17: return "udp";
    case 33: return "dccp";
    case 47: return "gre";
    case 58: return "icmpv6";
    case 132: return "sctp";
    case 136: return "udplite";
    default: return "unknown";
  }
}

void put_pair(std::string& s, bool has, uint64_t orig, uint64_t reply) {
  if (!has) {
    s.append("null");
    return;
  }
  s.append("{\"orig\":");
  put_uint(s, orig);
  s.append(",\"reply\":");
  put_uint(s, reply);
  s.push_back('}');
}

void format_one(const Event& e, const LineOptions& o, std::string& s) {
  const bool end = e.type == kDestroy;
  const bool ports = e.flags & kHasPorts;
  s.append("{\"schemaVersion\":1,\"event\":\"");
  s.append(end ? "end" : "start");
  s.append("\",\"proto\":\"");
  s.append(proto_name(e.orig.proto));
  s.append("\",\"original\":{\"src\":\"");
  put_ip(s, e.orig.src, e.family);
  s.append("\",\"sport\":");
  put_port(s, ports, e.orig.sport);
  s.append(",\"dst\":\"");
  put_ip(s, e.orig.dst, e.family);
  s.append("\",\"dport\":");
  put_port(s, ports, e.orig.dport);
  s.append("},\"translated\":{\"src\":\"");
  put_ip(s, e.reply.dst, e.family);
  s.append("\",\"sport\":");
  put_port(s, ports, e.reply.dport);
  s.append("},\"start\":");
  const bool has_start = e.flags & kHasStart, has_stop = e.flags & kHasStop;
  // Kernel times to whole µs first, then ms (the JS formatter's rounding).
  const uint64_t start_us = e.start_ns / 1000, stop_us = e.stop_ns / 1000;
  if (end) {
    if (has_start) put_iso(s, start_us / 1000);
    else s.append("null");
    s.append(",\"end\":");
    put_iso(s, has_stop ? stop_us / 1000 : o.received_ms);
    s.append(",\"durationMs\":");
    if (has_start && has_stop) put_ms_from_us(s, int64_t(stop_us) - int64_t(start_us));
    else s.append("null");
  } else {
    put_iso(s, has_start ? start_us / 1000 : o.received_ms);
    s.append(",\"end\":null,\"durationMs\":null");
  }
  const bool counters = end && (e.flags & kHasCounters);
  s.append(",\"bytes\":");
  put_pair(s, counters, e.bytes[0], e.bytes[1]);
  s.append(",\"packets\":");
  put_pair(s, counters, e.packets[0], e.packets[1]);
  s.append(",\"id\":");
  put_uint(s, e.id);
  s.append("}\n");
}

}  // namespace

void decode(const uint8_t* r, Event& e) {
  e = Event{};
  e.type = r[0];
  e.family = r[1];
  e.orig.proto = e.reply.proto = r[2];
  e.flags = r[3];
  e.id = uint32_t(le(r + 4, 4));
  std::memcpy(e.orig.src, r + 8, 16);
  std::memcpy(e.orig.dst, r + 24, 16);
  std::memcpy(e.reply.src, r + 40, 16);
  std::memcpy(e.reply.dst, r + 56, 16);
  e.orig.sport = uint16_t(le(r + 72, 2));
  e.orig.dport = uint16_t(le(r + 74, 2));
  e.reply.sport = uint16_t(le(r + 76, 2));
  e.reply.dport = uint16_t(le(r + 78, 2));
  e.packets[0] = le(r + 80, 8);
  e.bytes[0] = le(r + 88, 8);
  e.packets[1] = le(r + 96, 8);
  e.bytes[1] = le(r + 104, 8);
  e.start_ns = le(r + 112, 8);
  e.stop_ns = le(r + 120, 8);
  e.status = uint32_t(le(r + 128, 4));
  e.mark = uint32_t(le(r + 132, 4));
  e.zone = uint16_t(le(r + 136, 2));
}

bool is_snat(const Event& e) {
  const size_t n = e.family == 4 ? 4 : 16;
  return std::memcmp(e.reply.dst, e.orig.src, n) != 0 || e.reply.dport != e.orig.sport;
}

void format_lines(const uint8_t* recs, size_t count, const LineOptions& options, Lines& out) {
  out.text.clear();
  out.snat.assign(count, 0);
  out.ends.assign(count, 0);
  Event e;
  for (size_t i = 0; i < count; i++) {
    decode(recs + i * kRecordBytes, e);
    const bool snat = is_snat(e);
    out.snat[i] = snat;
    if (snat && (e.type == kDestroy || (e.type == kNew && options.starts))) format_one(e, options, out.text);
    out.ends[i] = uint32_t(out.text.size());
  }
}

}  // namespace ct
