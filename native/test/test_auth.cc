// MD5 (RFC 1321) and SHA-1 (FIPS 180) test vectors; BFD authentication U-01..U-05, V-09, R-10.
#include <cstdio>
#include <cstring>
#include <string>

#include "core/digest.h"
#include "harness.h"

using namespace bfdtest;

namespace {

template <typename H>
std::string hex_digest(const std::string& in, size_t chunk = 0) {
  H h;
  const auto* p = reinterpret_cast<const uint8_t*>(in.data());
  if (chunk == 0) {
    h.update(p, in.size());
  } else {
    for (size_t i = 0; i < in.size(); i += chunk) h.update(p + i, std::min(chunk, in.size() - i));
  }
  uint8_t out[H::kLen];
  h.final(out);
  std::string s;
  char buf[3];
  for (uint8_t b : out) { std::snprintf(buf, sizeof buf, "%02x", b); s += buf; }
  return s;
}

AuthConfig auth(AuthType type, const char* key, uint8_t key_id = 5) {
  AuthConfig a;
  a.type = type;
  a.key_id = key_id;
  a.key_len = uint8_t(std::strlen(key));
  std::memcpy(a.key, key, a.key_len);
  return a;
}

// A signed packet from the scripted peer with a chosen sequence number.
std::vector<uint8_t> signed_pkt(const AuthConfig& a, Packet p, uint32_t seq) {
  p.auth = true;
  p.length = uint8_t(kHeaderLen + auth_section_len(a));
  std::vector<uint8_t> b(p.length);
  encode(p, b.data(), b.size());
  AuthState st;
  st.xmit_seq = seq;
  auth_sign(a, st, b.data());
  return b;
}

const AuthType kAllTypes[] = {AuthType::Simple, AuthType::KeyedMd5, AuthType::MeticulousMd5, AuthType::KeyedSha1,
                              AuthType::MeticulousSha1};

}  // namespace

TEST("MD5 RFC 1321 test suite") {
  CHECK_EQ(hex_digest<Md5>(""), std::string("d41d8cd98f00b204e9800998ecf8427e"));
  CHECK_EQ(hex_digest<Md5>("a"), std::string("0cc175b9c0f1b6a831c399e269772661"));
  CHECK_EQ(hex_digest<Md5>("abc"), std::string("900150983cd24fb0d6963f7d28e17f72"));
  CHECK_EQ(hex_digest<Md5>("message digest"), std::string("f96b697d7cb7938d525a2f31aaf161d0"));
  CHECK_EQ(hex_digest<Md5>("abcdefghijklmnopqrstuvwxyz"), std::string("c3fcd3d76192e4007dfb496cca67e13b"));
  CHECK_EQ(hex_digest<Md5>("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"),
           std::string("d174ab98d277d9f5a5611c2c9f419d9f"));
  const std::string digits = "12345678901234567890123456789012345678901234567890123456789012345678901234567890";
  CHECK_EQ(hex_digest<Md5>(digits), std::string("57edf4a22be3c955ac49da2e2107b67a"));
  CHECK_EQ(hex_digest<Md5>(digits, 7), hex_digest<Md5>(digits));  // split updates
}

TEST("SHA-1 FIPS 180 test vectors") {
  CHECK_EQ(hex_digest<Sha1>(""), std::string("da39a3ee5e6b4b0d3255bfef95601890afd80709"));
  CHECK_EQ(hex_digest<Sha1>("abc"), std::string("a9993e364706816aba3e25717850c26c9cd0d89d"));
  const std::string two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  CHECK_EQ(hex_digest<Sha1>(two), std::string("84983e441c3bd26ebaae4aa1f95129e5e54670f1"));
  CHECK_EQ(hex_digest<Sha1>(two, 13), hex_digest<Sha1>(two));
  CHECK_EQ(hex_digest<Sha1>(std::string(1000000, 'a'), 4096), std::string("34aa973cd4c4daa4f61eeb2bdbad27316534016f"));
}

TEST("U-01 U-02 U-03 C-05 C-08 C-11 every auth type: two sessions come Up; packet layout; key never sent for digests") {
  for (AuthType type : kAllTypes) {
    const AuthConfig a = auth(type, "s3cr3t-key");
    Net n;
    SessionConfig ca = config(n.la, n.lb, 0xA1), cb = config(n.lb, n.la, 0xB1);
    ca.auth = a;
    cb.auth = a;
    CHECK(n.a.add(ca, n.now) == nullptr);
    CHECK(n.b.add(cb, n.now) == nullptr);
    n.bring_up();
    n.run_for(ms(1000));
    CHECK_EQ(n.sa().counters().flaps, uint64_t(0));
    const size_t alen = type == AuthType::Simple ? 3 + 10 : (type == AuthType::KeyedMd5 || type == AuthType::MeticulousMd5) ? 24 : 28;
    const Sent& s = n.out_a.sent.back();
    CHECK(s.p.auth);
    CHECK_EQ(size_t(s.p.length), 24 + alen);
    CHECK_EQ(s.bytes.size(), 24 + alen);
    CHECK_EQ(s.bytes[24], uint8_t(type));
    CHECK_EQ(size_t(s.bytes[25]), alen);
    CHECK_EQ(s.bytes[26], uint8_t(5));
    const std::string wire(s.bytes.begin(), s.bytes.end());
    if (type == AuthType::Simple) {
      CHECK(wire.find("s3cr3t-key") != std::string::npos);
    } else {
      CHECK_EQ(s.bytes[27], uint8_t(0));  // reserved
      CHECK(wire.find("s3cr3t") == std::string::npos);
    }
    for (size_t d = 0; d < kDropCount; d++) CHECK_EQ(n.sb().counters().drops[d], uint64_t(0));
  }
}

TEST("U-02 U-03 wrong key, key id or type: discarded as authBad, never Up") {
  const AuthConfig good = auth(AuthType::MeticulousSha1, "right");
  for (const AuthConfig& bad : {auth(AuthType::MeticulousSha1, "wrong"), auth(AuthType::MeticulousSha1, "right", 6),
                                auth(AuthType::KeyedSha1, "right"), auth(AuthType::Simple, "right")}) {
    Net n;
    SessionConfig ca = config(n.la, n.lb, 0xA1), cb = config(n.lb, n.la, 0xB1);
    ca.auth = good;
    cb.auth = bad;
    CHECK(n.a.add(ca, n.now) == nullptr);
    CHECK(n.b.add(cb, n.now) == nullptr);
    n.run_for(ms(5000));
    CHECK(n.sa().state() == State::Down);
    CHECK(n.sa().counters().drops[size_t(Drop::AuthBad)] >= 4);
    CHECK_EQ(n.sa().counters().packets_in, uint64_t(0));
  }
  // A flipped bit in the digest.
  Solo x;
  SessionConfig c = x.s().config();
  c.auth = good;
  x.t.change(c, x.now);
  auto b = signed_pkt(good, pkt(State::Down, Solo::kPeer, 0), 100);
  b[40] ^= 1;
  x.inject_raw(b, 255, x.peer);
  CHECK_EQ(x.s().counters().drops[size_t(Drop::AuthBad)], uint64_t(1));
  CHECK(x.s().state() == State::Down);
}

TEST("R-10 auth configured but packet unauthenticated (authMissing), and the reverse (authUnexpected)") {
  Solo x;
  x.inject_raw(signed_pkt(auth(AuthType::KeyedMd5, "k"), pkt(State::Down, Solo::kPeer, 0), 1), 255, x.peer);
  CHECK_EQ(x.s().counters().drops[size_t(Drop::AuthUnexpected)], uint64_t(1));
  SessionConfig c = x.s().config();
  c.auth = auth(AuthType::KeyedMd5, "k");
  x.t.change(c, x.now);
  x.inject(pkt(State::Down, Solo::kPeer, 0));
  CHECK_EQ(x.s().counters().drops[size_t(Drop::AuthMissing)], uint64_t(1));
  CHECK(x.s().state() == State::Down);
  x.inject_raw(signed_pkt(auth(AuthType::KeyedMd5, "k"), pkt(State::Down, Solo::kPeer, 0), 1), 255, x.peer);
  CHECK(x.s().state() == State::Init);
}

TEST("U-04 meticulous: a replayed sequence number is rejected; window is RcvAuthSeq+1 .. +3 x Detect Mult") {
  for (AuthType type : {AuthType::MeticulousMd5, AuthType::MeticulousSha1}) {
    const AuthConfig a = auth(type, "key");
    SessionConfig c = config(v4(10, 0, 0, 1), v4(10, 0, 0, 2), Solo::kMine);
    c.auth = a;
    Solo x(c);
    const Packet down = pkt(State::Down, Solo::kPeer, 0);  // mult 3: window 9
    x.inject_raw(signed_pkt(a, down, 1000), 255, x.peer);  // U-05: learns 1000
    CHECK_EQ(x.s().counters().packets_in, uint64_t(1));
    x.inject_raw(signed_pkt(a, down, 1000), 255, x.peer);  // replay
    CHECK_EQ(x.s().counters().drops[size_t(Drop::AuthSeq)], uint64_t(1));
    x.inject_raw(signed_pkt(a, down, 1010), 255, x.peer);  // beyond +9
    CHECK_EQ(x.s().counters().drops[size_t(Drop::AuthSeq)], uint64_t(2));
    x.inject_raw(signed_pkt(a, down, 1009), 255, x.peer);  // edge of the window
    CHECK_EQ(x.s().counters().packets_in, uint64_t(2));
    CHECK_EQ(x.s().auth_state().rcv_seq, 1009u);
  }
}

TEST("U-04 keyed: the same sequence number is accepted; window RcvAuthSeq .. +3 x Detect Mult, circular") {
  for (AuthType type : {AuthType::KeyedMd5, AuthType::KeyedSha1}) {
    const AuthConfig a = auth(type, "key");
    SessionConfig c = config(v4(10, 0, 0, 1), v4(10, 0, 0, 2), Solo::kMine);
    c.auth = a;
    Solo x(c);
    const Packet down = pkt(State::Down, Solo::kPeer, 0);
    x.inject_raw(signed_pkt(a, down, 0xFFFFFFFE), 255, x.peer);
    x.inject_raw(signed_pkt(a, down, 0xFFFFFFFE), 255, x.peer);  // same: fine for keyed
    x.inject_raw(signed_pkt(a, down, 3), 255, x.peer);           // wraps: +5
    CHECK_EQ(x.s().counters().packets_in, uint64_t(3));
    x.inject_raw(signed_pkt(a, down, 2), 255, x.peer);           // behind
    x.inject_raw(signed_pkt(a, down, 13), 255, x.peer);          // +10 > 9
    CHECK_EQ(x.s().counters().drops[size_t(Drop::AuthSeq)], uint64_t(2));
  }
}

TEST("U-05 V-09 AuthSeqKnown: set by the first packet, reset after 2 x Detection Time without packets") {
  const AuthConfig a = auth(AuthType::MeticulousSha1, "key");
  SessionConfig c = config(v4(10, 0, 0, 1), v4(10, 0, 0, 2), Solo::kMine);
  c.auth = a;
  Solo x(c);
  CHECK(!x.s().auth_state().seq_known);
  x.inject_raw(signed_pkt(a, pkt(State::Down, Solo::kPeer, 0), 50), 255, x.peer);
  CHECK(x.s().auth_state().seq_known);
  x.advance(ms(599));  // detection time 300 ms
  CHECK(x.s().auth_state().seq_known);
  x.inject_raw(signed_pkt(a, pkt(State::Down, Solo::kPeer, 0), 5000), 255, x.peer);
  CHECK_EQ(x.s().counters().drops[size_t(Drop::AuthSeq)], uint64_t(1));
  x.advance(ms(1));
  CHECK(!x.s().auth_state().seq_known);
  x.inject_raw(signed_pkt(a, pkt(State::Down, Solo::kPeer, 0), 5000), 255, x.peer);
  CHECK_EQ(x.s().counters().packets_in, uint64_t(2));
}

TEST("V-09 XmitAuthSeq starts from the RNG and advances on every meticulous packet") {
  ScriptedRandom r;
  r.script = {0x12345678};
  Table t(r);
  Micros now = kStart;
  CaptureSink out(now);
  SessionConfig c = config(v4(10, 0, 0, 1), v4(10, 0, 0, 2), 1);
  c.auth = auth(AuthType::MeticulousMd5, "k");
  CHECK(t.add(c, now) == nullptr);
  for (int i = 0; i < 3; i++) {
    t.run(now, out);
    now += ms(1000);
  }
  CHECK_EQ(out.sent.size(), size_t(3));
  for (uint32_t i = 0; i < 3; i++) CHECK_EQ(get32(out.sent[i].bytes.data() + 28), 0x12345678u + i);
}

TEST("auth config checks: key lengths per type") {
  CHECK(auth_config_error(auth(AuthType::Simple, "0123456789abcdef")) == nullptr);
  CHECK(auth_config_error(auth(AuthType::Simple, "0123456789abcdefg")) != nullptr);
  CHECK(auth_config_error(auth(AuthType::KeyedSha1, "0123456789abcdefghij")) == nullptr);
  AuthConfig empty;
  empty.type = AuthType::KeyedMd5;
  CHECK(auth_config_error(empty) != nullptr);
  AuthConfig bogus;
  bogus.type = AuthType(9);
  bogus.key_len = 1;
  CHECK(auth_config_error(bogus) != nullptr);
}
