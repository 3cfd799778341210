// ct::format_lines: SNAT record lines from parsed records, byte for byte what the JS formatter
// (agent/snat/record.ts) writes for the same event (test/unit/snat-native-lines.test.ts compares the
// two on the same records); which records get a line; addresses, times and durations.
#include <cstring>
#include <string>
#include <vector>

#include "check.h"
#include "ct_msg.h"
#include "io/ct_json.h"
#include "io/ct_parse.h"

namespace {

using ctmsg::Msg;

std::vector<uint8_t> record_of(const std::vector<uint8_t>& msg) {
  std::vector<uint8_t> out;
  ct::parse_batch(msg.data(), msg.size(), ct::Source::kEvents, out);
  return out;
}

std::vector<uint8_t> udp4_new(std::vector<uint8_t> reply_dst, uint16_t reply_dport) {
  Msg m(0, 0x400 | 0x200, 2);
  ctmsg::tuple4(m, 1, {10, 16, 0, 100}, {198, 51, 100, 10}, 17, 41002, 8080);
  ctmsg::tuple4(m, 2, {198, 51, 100, 10}, reply_dst, 17, 8080, reply_dport);
  m.be(12, 77, 4);
  return record_of(m.done());
}

ct::Lines format(const std::vector<uint8_t>& recs, bool starts = true, uint64_t at = 1764167790948) {
  ct::Lines l;
  ct::format_lines(recs.data(), recs.size() / ct::kRecordBytes, ct::LineOptions{at, starts}, l);
  return l;
}

std::string ip6(std::vector<uint8_t> a) {
  ct::Event e;
  e.type = ct::kNew;
  e.family = 6;
  e.orig.proto = 58;
  std::memcpy(e.orig.src, a.data(), 16);
  e.reply.dst[0] = 0xff;  // SNAT, so it gets a line
  std::vector<uint8_t> r(ct::kRecordBytes);
  ct::encode(e, r.data());
  const std::string line = format(r).text;
  const size_t from = line.find("\"src\":\"") + 7;
  return line.substr(from, line.find('"', from) - from);
}

}  // namespace

TEST("ct json: an end record with counters, kernel times and duration") {
  const ct::Lines l = format(record_of(ctmsg::udp4_destroy()));
  CHECK_EQ(l.text, std::string(
      "{\"schemaVersion\":1,\"event\":\"end\",\"proto\":\"udp\",\"original\":{\"src\":\"10.16.0.100\",\"sport\":41002,\"dst\":\"198.51.100.10\",\"dport\":8080},"
      "\"translated\":{\"src\":\"172.17.0.11\",\"sport\":15400},\"start\":\"2025-11-26T14:36:29.948Z\",\"end\":\"2025-11-26T14:36:30.948Z\","
      "\"durationMs\":1000.687,\"bytes\":{\"orig\":29,\"reply\":58},\"packets\":{\"orig\":1,\"reply\":2},\"id\":2276017852}\n"));
  CHECK_EQ(l.snat.size(), size_t(1));
  CHECK_EQ(int(l.snat[0]), 1);
  CHECK_EQ(l.ends[0], uint32_t(l.text.size()));
}

TEST("ct json: a start record carries the receive time; none when starts are off; none for a flow not translated") {
  std::vector<uint8_t> recs = udp4_new({172, 17, 0, 11}, 15400);
  const std::vector<uint8_t> plain = udp4_new({10, 16, 0, 100}, 41002);  // reply to the original source: forwarded
  recs.insert(recs.end(), plain.begin(), plain.end());
  ct::Lines l = format(recs);
  CHECK_EQ(l.text, std::string(
      "{\"schemaVersion\":1,\"event\":\"start\",\"proto\":\"udp\",\"original\":{\"src\":\"10.16.0.100\",\"sport\":41002,\"dst\":\"198.51.100.10\",\"dport\":8080},"
      "\"translated\":{\"src\":\"172.17.0.11\",\"sport\":15400},\"start\":\"2025-11-26T14:36:30.948Z\",\"end\":null,\"durationMs\":null,"
      "\"bytes\":null,\"packets\":null,\"id\":77}\n"));
  CHECK_EQ(int(l.snat[0]), 1);
  CHECK_EQ(int(l.snat[1]), 0);
  CHECK_EQ(l.ends[0], uint32_t(l.text.size()));
  CHECK_EQ(l.ends[1], l.ends[0]);
  // Only the port rewritten is SNAT too.
  CHECK_EQ(int(format(udp4_new({10, 16, 0, 100}, 5000)).snat[0]), 1);
  l = format(recs, false);
  CHECK_EQ(l.text, std::string());
  CHECK_EQ(int(l.snat[0]), 1);
  CHECK_EQ(l.ends[0], 0u);
}

TEST("ct json: updates and dump entries get no line; no ports print null; an end without times") {
  std::vector<uint8_t> r = udp4_new({172, 17, 0, 11}, 15400);
  r[0] = ct::kUpdate;
  CHECK_EQ(format(r).text, std::string());
  r[0] = ct::kEntry;
  CHECK_EQ(format(r).text, std::string());
  r[0] = ct::kDestroy;
  r[3] = 0;  // no ports, counters or times
  const std::string line = format(r, true, 0).text;
  CHECK(line.find("\"sport\":null,\"dst\":\"198.51.100.10\",\"dport\":null},\"translated\":{\"src\":\"172.17.0.11\",\"sport\":null}") != std::string::npos);
  CHECK(line.find("\"start\":null,\"end\":\"1970-01-01T00:00:00.000Z\",\"durationMs\":null,\"bytes\":null,\"packets\":null") != std::string::npos);
}

TEST("ct json: IPv6 as agent/lib/ip.ts prints it") {
  CHECK_EQ(ip6({0xfd, 0, 0, 0x10, 0, 0x16, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0}), std::string("fd00:10:16::100"));
  CHECK_EQ(ip6({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}), std::string("::1"));
  CHECK_EQ(ip6({0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}), std::string("1::"));
  CHECK_EQ(ip6({0x20, 1, 0xd, 0xb8, 0, 0, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1}), std::string("2001:db8:0:1:1:1:1:1"));
  CHECK_EQ(ip6({0x20, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1}), std::string("2001:0:0:1::1"));
  CHECK_EQ(ip6({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1}), std::string("::ffff:192.0.2.1"));
  CHECK_EQ(ip6({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 192, 0, 2, 1}), std::string("::192.0.2.1"));
  CHECK_EQ(ip6({0xab, 0xcd, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0}), std::string("abcd:0:0:ffff::"));
}

TEST("ct json: ISO times over leap days and the year 9999; durations in ms with up to 3 decimals") {
  std::vector<uint8_t> r = udp4_new({172, 17, 0, 11}, 15400);
  auto start_of = [&](uint64_t ms) {
    const std::string t = format(r, true, ms).text;
    const size_t at = t.find("\"start\":\"") + 9;
    return t.substr(at, 24);
  };
  CHECK_EQ(start_of(951782400000ull), std::string("2000-02-29T00:00:00.000Z"));
  CHECK_EQ(start_of(253402300799999ull), std::string("9999-12-31T23:59:59.999Z"));
  CHECK_EQ(start_of(0), std::string("1970-01-01T00:00:00.000Z"));
  ct::Event e;
  ct::decode(r.data(), e);
  e.type = ct::kDestroy;
  e.flags |= ct::kHasStart | ct::kHasStop;
  auto duration = [&](uint64_t start_ns, uint64_t stop_ns) {
    e.start_ns = start_ns;
    e.stop_ns = stop_ns;
    std::vector<uint8_t> d(ct::kRecordBytes);
    ct::encode(e, d.data());
    const std::string t = format(d).text;
    const size_t at = t.find("\"durationMs\":") + 13;
    return t.substr(at, t.find(',', at) - at);
  };
  CHECK_EQ(duration(1000, 1000001000), std::string("1000"));
  CHECK_EQ(duration(0, 1500999), std::string("1.5"));
  CHECK_EQ(duration(5000, 5999), std::string("0"));
  CHECK_EQ(duration(2000000, 1000000), std::string("-1"));
}

TEST("ct json: decode is the inverse of encode") {
  const std::vector<uint8_t> r = record_of(ctmsg::udp4_destroy());
  ct::Event e;
  ct::decode(r.data(), e);
  std::vector<uint8_t> again(ct::kRecordBytes);
  ct::encode(e, again.data());
  CHECK(again == r);
}
