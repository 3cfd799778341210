// ct::parse_message / parse_batch: ctnetlink events and dump entries into records, and every way
// a message can fail to fit (under ASan/UBSan: no read outside the message).
#include <vector>

#include "check.h"
#include "ct_msg.h"
#include "io/ct_parse.h"

namespace {

using ctmsg::Msg;

ct::Result parse(const std::vector<uint8_t>& m, ct::Event& e, ct::Source source = ct::Source::kEvents) {
  int err = 0;
  // A copy of exactly the message's size, so ASan sees any read past its end.
  std::vector<uint8_t> exact(m);
  return ct::parse_message(exact.data(), exact.size(), source, e, err);
}

uint64_t le(const uint8_t* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = n; i-- > 0;) v = v << 8 | p[i];
  return v;
}

}  // namespace

TEST("ct: a DESTROY event with tuples, counters, id, kernel timestamps, status, mark and zone") {
  ct::Event e;
  CHECK(parse(ctmsg::udp4_destroy(), e) == ct::Result::kEvent);
  CHECK_EQ(e.type, uint8_t(ct::kDestroy));
  CHECK_EQ(e.family, uint8_t(4));
  CHECK_EQ(e.orig.proto, uint8_t(17));
  CHECK_EQ(e.orig.src[0], uint8_t(10));
  CHECK_EQ(e.orig.src[3], uint8_t(100));
  CHECK_EQ(e.orig.sport, uint16_t(41002));
  CHECK_EQ(e.orig.dport, uint16_t(8080));
  CHECK_EQ(e.reply.dst[0], uint8_t(172));
  CHECK_EQ(e.reply.dport, uint16_t(15400));
  CHECK_EQ(e.id, 2276017852u);
  CHECK_EQ(e.packets[0], uint64_t(1));
  CHECK_EQ(e.bytes[1], uint64_t(58));
  CHECK_EQ(e.start_ns, uint64_t(1764167789948000000ull));
  CHECK_EQ(e.stop_ns, uint64_t(1764167790948687000ull));
  CHECK_EQ(e.status, 0x1b8u);
  CHECK_EQ(e.mark, 0x2au);
  CHECK_EQ(e.zone, uint16_t(7));
  CHECK_EQ(int(e.flags), int(ct::kHasPorts | ct::kHasCounters | ct::kHasStart | ct::kHasStop | ct::kHasStatus));
}

TEST("ct: the record layout JS reads") {
  ct::Event e;
  CHECK(parse(ctmsg::udp4_destroy(), e) == ct::Result::kEvent);
  std::vector<uint8_t> r(ct::kRecordBytes);
  ct::encode(e, r.data());
  CHECK_EQ(r[0], uint8_t(ct::kDestroy));
  CHECK_EQ(r[1], uint8_t(4));
  CHECK_EQ(r[2], uint8_t(17));
  CHECK_EQ(le(&r[4], 4), uint64_t(2276017852u));
  CHECK_EQ(r[8], uint8_t(10));     // original src
  CHECK_EQ(r[24], uint8_t(198));   // original dst
  CHECK_EQ(r[40], uint8_t(198));   // reply src
  CHECK_EQ(r[56], uint8_t(172));   // reply dst
  CHECK_EQ(le(&r[72], 2), uint64_t(41002));
  CHECK_EQ(le(&r[78], 2), uint64_t(15400));
  CHECK_EQ(le(&r[104], 8), uint64_t(58));
  CHECK_EQ(le(&r[120], 8), uint64_t(1764167790948687000ull));
  CHECK_EQ(le(&r[128], 4), uint64_t(0x1b8));  // status
  CHECK_EQ(le(&r[132], 4), uint64_t(0x2a));   // mark
  CHECK_EQ(le(&r[136], 2), uint64_t(7));      // zone
  for (size_t i = 138; i < ct::kRecordBytes; i++) CHECK_EQ(r[i], uint8_t(0));
}

TEST("ct: status, mark and zone of the wrong size are malformed; absent ones are 0 without kHasStatus") {
  auto build = [](int bad) {
    Msg m(2, 0, 2);
    ctmsg::tuple4(m, 1, {10, 0, 0, 1}, {10, 0, 0, 2}, 17, 1000, 53);
    ctmsg::tuple4(m, 2, {10, 0, 0, 2}, {10, 0, 0, 1}, 17, 53, 1000);
    m.be(12, 9, 4);
    if (bad == 3) m.be(3, 1, 2);
    if (bad == 8) m.be(8, 1, 8);
    if (bad == 18) m.be(18, 1, 4);
    return m.done();
  };
  ct::Event e;
  CHECK(parse(build(0), e) == ct::Result::kEvent);
  CHECK_EQ(e.status, 0u);
  CHECK_EQ(e.mark, 0u);
  CHECK_EQ(e.zone, uint16_t(0));
  CHECK_EQ(int(e.flags & ct::kHasStatus), 0);
  for (int bad : {3, 8, 18}) CHECK(parse(build(bad), e) == ct::Result::kMalformed);
}

TEST("ct: NEW needs NLM_F_CREATE; an update (CT_NEW without it) only when asked for; dump entries are CT_NEW without it") {
  ct::Event e;
  auto build = [](uint16_t flags) {
    Msg m(0, flags, 2);
    ctmsg::tuple4(m, 1, {10, 0, 0, 1}, {10, 0, 0, 2}, 6, 1000, 80);
    ctmsg::tuple4(m, 2, {10, 0, 0, 2}, {10, 0, 0, 1}, 6, 80, 1000);
    m.be(12, 7, 4);
    return m.done();
  };
  CHECK(parse(build(0x400 | 0x200), e) == ct::Result::kEvent);
  CHECK_EQ(e.type, uint8_t(ct::kNew));
  CHECK_EQ(int(e.flags), int(ct::kHasPorts));
  CHECK(parse(build(0x400 | 0x200), e, ct::Source::kEventsAndUpdates) == ct::Result::kEvent);
  CHECK_EQ(e.type, uint8_t(ct::kNew));
  CHECK(parse(build(0), e) == ct::Result::kSkip);
  CHECK(parse(build(0), e, ct::Source::kEventsAndUpdates) == ct::Result::kEvent);
  CHECK_EQ(e.type, uint8_t(ct::kUpdate));
  CHECK(parse(build(0x2), e, ct::Source::kDump) == ct::Result::kEvent);
  CHECK_EQ(e.type, uint8_t(ct::kEntry));
  std::vector<uint8_t> out;
  const std::vector<uint8_t> update = build(0);
  CHECK_EQ(ct::parse_batch(update.data(), update.size(), ct::Source::kEvents, out).records, size_t(0));
  CHECK_EQ(ct::parse_batch(update.data(), update.size(), ct::Source::kEventsAndUpdates, out).records, size_t(1));
  CHECK_EQ(out[0], uint8_t(ct::kUpdate));
}

TEST("ct: IPv6 addresses; ICMP without ports") {
  Msg m(0, 0x400, 10);
  std::vector<uint8_t> a(16, 0), b(16, 0);
  a[0] = 0xfd, a[15] = 1, b[0] = 0xfd, b[15] = 2;
  m.open(1).open(1).attr(3, a).attr(4, b).close().open(2).attr(1, {58}).be(4, 9, 2).close().close();
  m.open(2).open(1).attr(3, b).attr(4, a).close().open(2).attr(1, {58}).be(4, 9, 2).close().close();
  m.be(12, 42, 4);
  ct::Event e;
  CHECK(parse(m.done(), e) == ct::Result::kEvent);
  CHECK_EQ(e.family, uint8_t(6));
  CHECK_EQ(e.orig.src[15], uint8_t(1));
  CHECK_EQ(e.reply.src[15], uint8_t(2));
  CHECK_EQ(int(e.flags & ct::kHasPorts), 0);
}

TEST("ct: malformed: missing id, address of the wrong size, a tuple without addresses") {
  ct::Event e;
  {
    Msg m(2, 0, 2);
    ctmsg::tuple4(m, 1, {10, 0, 0, 1}, {10, 0, 0, 2}, 6, 1, 2);
    ctmsg::tuple4(m, 2, {10, 0, 0, 2}, {10, 0, 0, 1}, 6, 2, 1);
    CHECK(parse(m.done(), e) == ct::Result::kMalformed);
  }
  {
    Msg m(2, 0, 2);
    ctmsg::tuple4(m, 1, {10, 0, 0}, {10, 0, 0, 2}, 6, 1, 2);
    ctmsg::tuple4(m, 2, {10, 0, 0, 2}, {10, 0, 0, 1}, 6, 2, 1);
    m.be(12, 1, 4);
    CHECK(parse(m.done(), e) == ct::Result::kMalformed);
  }
  {
    Msg m(2, 0, 2);
    m.open(1).open(2).attr(1, {6}).close().close();
    ctmsg::tuple4(m, 2, {10, 0, 0, 2}, {10, 0, 0, 1}, 6, 2, 1);
    m.be(12, 1, 4);
    CHECK(parse(m.done(), e) == ct::Result::kMalformed);
  }
}

TEST("ct: every truncation of a valid message is rejected or parsed within its bounds") {
  const std::vector<uint8_t> full = ctmsg::udp4_destroy();
  for (size_t cut = 0; cut < full.size(); cut++) {
    // The header still claims the full length: the message does not fit the buffer.
    std::vector<uint8_t> m(full.begin(), full.begin() + long(cut));
    ct::Event e;
    int err = 0;
    CHECK(ct::parse_message(m.data(), m.size(), ct::Source::kEvents, e, err) == ct::Result::kMalformed);
    // The header claims the cut length: nested attributes overrun their parent.
    if (cut >= 16) {
      m[0] = uint8_t(cut), m[1] = uint8_t(cut >> 8), m[2] = 0, m[3] = 0;
      const ct::Result r = ct::parse_message(m.data(), m.size(), ct::Source::kEvents, e, err);
      CHECK(r == ct::Result::kMalformed || r == ct::Result::kEvent);
    }
  }
}

TEST("ct: an attribute length beyond its parent is malformed") {
  std::vector<uint8_t> m = ctmsg::udp4_destroy();
  // The first attribute (CTA_TUPLE_ORIG) at offset 20: claim more than the message holds.
  m[20] = 0xff, m[21] = 0x0f;
  ct::Event e;
  int err = 0;
  CHECK(ct::parse_message(m.data(), m.size(), ct::Source::kEvents, e, err) == ct::Result::kMalformed);
}

TEST("ct: a batch of messages, NLMSG_DONE and NLMSG_ERROR, broken framing counted") {
  std::vector<uint8_t> buf = ctmsg::udp4_destroy();
  const std::vector<uint8_t> second = ctmsg::udp4_destroy();
  buf.insert(buf.end(), second.begin(), second.end());
  std::vector<uint8_t> out;
  ct::BatchStats s = ct::parse_batch(buf.data(), buf.size(), ct::Source::kEvents, out);
  CHECK_EQ(s.records, size_t(2));
  CHECK_EQ(out.size(), 2 * ct::kRecordBytes);
  CHECK_EQ(s.malformed, 0u);

  const uint8_t done[20] = {20, 0, 0, 0, 3, 0, 2, 0};
  const uint8_t error[36] = {36, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xfe, 0xff, 0xff, 0xff};  // -EPERM
  std::vector<uint8_t> tail(error, error + 36);
  tail.insert(tail.end(), done, done + 20);
  out.clear();
  s = ct::parse_batch(tail.data(), tail.size(), ct::Source::kDump, out);
  CHECK(s.done);
  CHECK_EQ(s.error, -2);

  std::vector<uint8_t> broken = ctmsg::udp4_destroy();
  broken.push_back(9);  // 1 trailing byte: less than a header
  out.clear();
  s = ct::parse_batch(broken.data(), broken.size(), ct::Source::kEvents, out);
  CHECK_EQ(s.records, size_t(1));
  CHECK_EQ(s.malformed, 1u);
}
