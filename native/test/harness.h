// Virtual-clock fixtures for the protocol core: a scripted RNG, a capturing sink, and a "wire"
// joining two tables with a fixed latency, optional loss and TTL rewriting.
#pragma once
#include <algorithm>
#include <deque>
#include <functional>
#include <vector>

#include "check.h"
#include "core/table.h"

namespace bfdtest {
using namespace bfd;

constexpr Micros kStart = 10'000'000;  // virtual time starts at 10 s
constexpr Micros ms(int64_t v) { return v * 1000; }

inline Addr v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) { const uint8_t x[4] = {a, b, c, d}; return Addr::v4(x); }
inline Addr v6(uint8_t last) { uint8_t x[16] = {0x20, 0x01, 0x0d, 0xb8}; x[15] = last; return Addr::v6(x); }

// Returns a fixed value (or a scripted sequence, then the fixed value).
class ScriptedRandom final : public RandomSource {
 public:
  explicit ScriptedRandom(uint32_t fixed = 0) : fixed_(fixed) {}
  std::deque<uint32_t> script;
  uint32_t fixed_;
  uint32_t next32() override {
    if (script.empty()) return fixed_;
    uint32_t v = script.front();
    script.pop_front();
    return v;
  }
};

struct Sent {
  Micros at;
  Packet p;
  std::vector<uint8_t> bytes;
  Addr src, dst;
};

class CaptureSink final : public PacketSink {
 public:
  explicit CaptureSink(const Micros& clock) : clock_(clock) {}
  std::vector<Sent> sent;
  std::function<void(const Sent&)> on_send;
  bool send(Session& s, const uint8_t* pkt, size_t len) override {
    Sent x{clock_, {}, std::vector<uint8_t>(pkt, pkt + len), s.config().local, s.config().remote};
    Drop why;
    CHECK(decode(pkt, len, x.p, why));  // everything we emit must pass our own checks
    sent.push_back(x);
    if (on_send) on_send(sent.back());
    return true;
  }
  size_t count_since(Micros t) const {
    return size_t(std::count_if(sent.begin(), sent.end(), [t](const Sent& s) { return s.at >= t; }));
  }

 private:
  const Micros& clock_;
};

inline SessionConfig config(Addr local, Addr remote, uint32_t discr, uint32_t tx_ms = 100, uint32_t rx_ms = 100,
                            uint8_t mult = 3) {
  SessionConfig c;
  c.local = local;
  c.remote = remote;
  c.local_discr = discr;
  c.min_tx_us = uint32_t(ms(tx_ms));
  c.min_rx_us = uint32_t(ms(rx_ms));
  c.mult = mult;
  c.min_ttl = 254;
  return c;
}

// Two tables, A (10.0.0.1) and B (10.0.0.2), joined by a wire on one virtual clock.
struct Net {
  Micros now = kStart;
  XorShiftRandom rng_a{11}, rng_b{22};
  Table a, b;
  CaptureSink out_a{now}, out_b{now};
  Micros latency = 200;
  bool cut_ab = false, cut_ba = false;  // drop A->B / B->A
  uint8_t ttl = 255;
  struct Flight { Micros at; bool to_b; std::vector<uint8_t> bytes; Addr src, dst; };
  std::deque<Flight> wire;
  Addr la = v4(10, 0, 0, 1), lb = v4(10, 0, 0, 2);

  explicit Net(TableOptions opt = {}) : a(rng_a, opt), b(rng_b, opt) {
    out_a.on_send = [this](const Sent& s) { if (!cut_ab) wire.push_back({now + latency, true, s.bytes, s.src, s.dst}); };
    out_b.on_send = [this](const Sent& s) { if (!cut_ba) wire.push_back({now + latency, false, s.bytes, s.src, s.dst}); };
  }
  void add_pair(uint32_t tx_ms = 100, uint32_t rx_ms = 100, uint8_t mult = 3) {
    CHECK(a.add(config(la, lb, 0xA1, tx_ms, rx_ms, mult), now) == nullptr);
    CHECK(b.add(config(lb, la, 0xB1, tx_ms, rx_ms, mult), now) == nullptr);
  }
  Session& sa() { return *a.find(la, lb); }
  Session& sb() { return *b.find(lb, la); }
  Micros next_event() const {
    Micros t = std::min(a.wake_time(), b.wake_time());
    for (const auto& f : wire) t = std::min(t, f.at);
    return t;
  }
  void run_until(Micros end) {
    for (;;) {
      Micros t = std::max(next_event(), now);
      if (t > end) { now = end; return; }
      now = t;
      while (!wire.empty()) {  // deliveries are in time order (fixed latency)
        auto it = std::min_element(wire.begin(), wire.end(), [](const Flight& x, const Flight& y) { return x.at < y.at; });
        if (it->at > now) break;
        Flight f = *it;
        wire.erase(it);
        (f.to_b ? b : a).receive(RxMeta{f.dst, f.src, ttl}, f.bytes.data(), f.bytes.size(), now);
      }
      a.run(now, out_a);
      b.run(now, out_b);
    }
  }
  void run_for(Micros d) { run_until(now + d); }
  // Runs until both sessions are Up (or fails after `limit`).
  void bring_up(Micros limit = ms(10000)) {
    const Micros end = now + limit;
    while (now < end && !(sa().state() == State::Up && sb().state() == State::Up)) run_until(std::min(end, now + ms(1)));
    CHECK(sa().state() == State::Up);
    CHECK(sb().state() == State::Up);
  }
};

// Builds raw packets for injection.
inline std::vector<uint8_t> raw(const Packet& p) {
  std::vector<uint8_t> b(kHeaderLen);
  encode(p, b.data(), b.size());
  return b;
}

inline Packet pkt(State st, uint32_t my, uint32_t your, uint32_t tx_us = 100000, uint32_t rx_us = 100000, uint8_t mult = 3) {
  Packet p;
  p.state = st;
  p.my_discr = my;
  p.your_discr = your;
  p.desired_min_tx = tx_us;
  p.required_min_rx = rx_us;
  p.mult = mult;
  return p;
}

}  // namespace bfdtest

namespace bfdtest {

// One table with one session towards a scripted peer whose packets the test injects.
struct Solo {
  Micros now = kStart;
  ScriptedRandom rng{0};  // no jitter unless a test scripts it
  Table t;
  CaptureSink out{now};
  Addr local = v4(10, 0, 0, 1), peer = v4(10, 0, 0, 2);
  static constexpr uint32_t kMine = 0xA1, kPeer = 0x77;

  explicit Solo(SessionConfig c = config(v4(10, 0, 0, 1), v4(10, 0, 0, 2), kMine), TableOptions opt = {}) : t(rng, opt) {
    CHECK(t.add(c, now) == nullptr);
  }
  Session& s() { return *t.find(local, peer); }
  void inject(const Packet& p, uint8_t ttl = 255) { inject_raw(raw(p), ttl, peer); }
  uint32_t ifindex = 0;  // ingress interface of injected packets
  void inject_raw(const std::vector<uint8_t>& b, uint8_t ttl, Addr from) {
    t.receive(RxMeta{local, from, ttl, ifindex}, b.data(), b.size(), now);
    t.run(now, out);  // immediate replies (F, state change) go out at the same instant
  }
  // Makes the scripted peer send `p` every `every` µs while the clock advances (0 = silent).
  void keep_peer(Micros every, Packet p = pkt(State::Up, kPeer, kMine)) {
    peer_every = every;
    peer_next = now + every;
    peer_pkt = p;
  }
  // Moves the clock forward, running every deadline (and scripted peer packet) on the way.
  void advance(Micros d) {
    const Micros end = now + d;
    for (;;) {
      Micros w = t.wake_time();
      if (peer_every) w = std::min(w, peer_next);
      if (w > end) break;
      now = std::max(now, w);
      if (peer_every && now >= peer_next) {
        peer_next += peer_every;
        inject(peer_pkt);
      }
      t.run(now, out);
    }
    now = end;
  }
  Micros peer_every = 0, peer_next = 0;
  Packet peer_pkt;
  // Handshake with the scripted peer: Down -> Init -> Up.
  void bring_up(uint32_t peer_tx_us = 100000, uint32_t peer_rx_us = 100000, uint8_t mult = 3) {
    inject(pkt(State::Down, kPeer, 0, peer_tx_us, peer_rx_us, mult));
    inject(pkt(State::Up, kPeer, kMine, peer_tx_us, peer_rx_us, mult));
    CHECK(s().state() == State::Up);
  }
  const Sent& last() const { CHECK(!out.sent.empty()); return out.sent.back(); }
  std::vector<Micros> gaps_since(size_t from) const {
    std::vector<Micros> g;
    for (size_t i = from + 1; i < out.sent.size(); i++) g.push_back(out.sent[i].at - out.sent[i - 1].at);
    return g;
  }
};

}  // namespace bfdtest
