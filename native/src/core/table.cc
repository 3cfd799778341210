#include "table.h"

#include <algorithm>

namespace bfd {

size_t Table::PairHash::operator()(const PairKey& k) const {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  auto mix = [&h](const Addr& a) {
    h = (h ^ a.family) * 1099511628211ull;
    for (uint8_t c : a.b) h = (h ^ c) * 1099511628211ull;
  };
  mix(k.local);
  mix(k.remote);
  return size_t(h);
}

Table::Table(RandomSource& rng, TableOptions opt) : rng_(rng), opt_(opt), events_(opt_.event_capacity) {}

Table::~Table() = default;

const char* Table::add(const SessionConfig& cfg, Micros now, Session** out) {
  if (const char* e = session_config_error(cfg)) return e;
  if (find(cfg.local, cfg.remote)) return "a session for this local/remote pair already exists";
  if (find_discr(cfg.local_discr)) return "local discriminator already in use by another session";  // V-02, D-03
  size_t slot;
  if (free_slots_.empty()) {
    slot = slots_.size();
    slots_.emplace_back();
    heap_pos_.emplace_back();
  } else {
    slot = free_slots_.back();
    free_slots_.pop_back();
  }
  slots_[slot] = std::make_unique<Session>(cfg, rng_, this, now);
  Session* s = slots_[slot].get();
  s->slot = slot;
  by_pair_[PairKey{cfg.local, cfg.remote}] = s;
  by_discr_[cfg.local_discr] = s;
  heap_.push_back(HeapEntry{s->wake_time(), uint32_t(slot)});
  heap_pos_[slot] = uint32_t(heap_.size() - 1);
  sift_up(heap_.size() - 1);
  if (out) *out = s;
  return nullptr;
}

const char* Table::change(const SessionConfig& cfg, Micros now) {
  Session* s = find(cfg.local, cfg.remote);
  if (!s) return "no session for this local/remote pair";
  SessionConfig c = cfg;
  c.local_discr = s->config().local_discr;
  if (const char* e = session_config_error(c)) return e;
  s->configure(c, now);
  heap_update(s);
  return nullptr;
}

bool Table::remove(const Addr& local, const Addr& remote, PacketSink& sink, Micros now) {
  Session* s = find(local, remote);
  if (!s) return false;
  if (s->state() == State::Up || s->state() == State::Init) {
    s->admin_down(Diag::AdminDown, now);
    uint8_t buf[kMaxPacketLen];
    if (size_t n = s->build_packet(buf, sizeof buf, now))
      if (!sink.send(*s, buf, n)) s->count_tx_error();
  }
  heap_erase(s);
  by_pair_.erase(PairKey{local, remote});
  by_discr_.erase(s->config().local_discr);
  const size_t slot = s->slot;
  slots_[slot].reset();
  free_slots_.push_back(slot);
  return true;
}

bool Table::admin_down(const Addr& local, const Addr& remote, Diag diag, Micros now) {
  Session* s = find(local, remote);
  if (!s) return false;
  s->admin_down(diag, now);
  heap_update(s);
  return true;
}

bool Table::admin_up(const Addr& local, const Addr& remote, Micros now) {
  Session* s = find(local, remote);
  if (!s) return false;
  s->admin_up(now);
  heap_update(s);
  return true;
}

Micros Table::drain(Micros now) {
  Micros hold = 0;
  for (auto& p : slots_) {
    Session* s = p.get();
    if (!s) continue;
    if (s->remote_discr() != 0) hold = std::max(hold, s->peer_detect_time());
    s->admin_down(Diag::AdminDown, now);
    heap_update(s);
  }
  return hold;
}

void Table::receive(const RxMeta& meta, const uint8_t* buf, size_t len, Micros now) {
  Packet p;
  Drop why;
  if (!decode(buf, len, p, why)) { count(find(meta.local, meta.remote), why); return; }  // R-01..R-06
  // a non-zero Your Discriminator alone selects the session. In the steady state that
  // session is the one of the packet's address pair, which then needs no second lookup.
  Session* s = p.your_discr != 0 ? find_discr(p.your_discr) : nullptr;
  Session* pair = s && s->config().local == meta.local && s->config().remote == meta.remote
                      ? s
                      : find(meta.local, meta.remote);
  if (!pair) { count(nullptr, Drop::NotAPeer); return; }
  // D-02, RFC 5881 §3: "there will be only a single BFD session between two systems over a given
  // interface (logical or physical) for a particular protocol. The BFD session must be bound to
  // this interface." The peer's address arriving through another interface is not the peer (a
  // spoofed AdminDown from the external network would otherwise take the session down).
  if (pair->config().ifindex != 0 && meta.ifindex != pair->config().ifindex) {
    pair->count_drop(Drop::WrongInterface);
    return;
  }
  if (p.your_discr != 0) {
    if (!s) {
      // OVN keeps sending a stale Your Discriminator after a timeout (OVN-04): treat a
      // Down/AdminDown packet from the configured peer of a Down session like Your Discr 0.
      const bool stale_ok = opt_.stale_discr_fallback && pair->state() == State::Down &&
                            (p.state == State::Down || p.state == State::AdminDown) &&
                            (pair->remote_discr() == 0 || pair->remote_discr() == p.my_discr);
      if (!stale_ok) { pair->count_drop(Drop::UnknownDiscr); return; }
      pair->count_stale_discr();
      s = pair;
    } else if (s != pair) {
      s->count_drop(Drop::NotAPeer);  // the discriminator belongs to another peer's session
      return;
    }
  } else {
    if (p.state != State::Down && p.state != State::AdminDown) {
      pair->count_drop(Drop::ZeroYourDiscr);
      return;
    }
    s = pair;  // R-09 / D-02: the session bound to (local, remote); none are created on demand
  }
  s->receive(p, buf, meta.ttl, now);
  heap_update(s);
}

void Table::run(Micros now, PacketSink& sink) {
  uint8_t buf[kMaxPacketLen];
  while (!heap_.empty() && heap_[0].key <= now) {
    Session* s = slots_[heap_[0].slot].get();
    s->run(now);
    while (s->should_send(now)) {
      const size_t n = s->build_packet(buf, sizeof buf, now);
      if (!sink.send(*s, buf, n)) s->count_tx_error();
    }
    heap_update(s);
  }
}

Session* Table::find(const Addr& local, const Addr& remote) const {
  auto it = by_pair_.find(PairKey{local, remote});
  return it == by_pair_.end() ? nullptr : it->second;
}

Session* Table::find_discr(uint32_t discr) const {
  auto it = by_discr_.find(discr);
  return it == by_discr_.end() ? nullptr : it->second;
}

void Table::on_state_change(const Session& s, State from, State to, Diag diag, Micros at) {
  events_.push(Event{Event::Kind::State, s.config().local, s.config().remote, s.config().local_discr, from, to, diag, at});
}

void Table::count(Session* s, Drop d) {
  if (s) s->count_drop(d);
  else global_drops_[static_cast<size_t>(d)]++;
}

void Table::heap_update(Session* s) {
  const size_t i = heap_pos_[s->slot];
  const Micros old = heap_[i].key;
  const Micros key = s->wake_time();
  if (key == old) return;  // e.g. a received packet that leaves the next transmission as it was
  heap_[i].key = key;
  if (key < old) sift_up(i);
  else sift_down(i);
}

void Table::heap_erase(Session* s) {
  const size_t i = heap_pos_[s->slot];
  const HeapEntry last = heap_.back();
  heap_.pop_back();
  if (i == heap_.size()) return;  // it was the last entry
  heap_set(i, last);
  sift_up(i);
  sift_down(heap_pos_[last.slot]);
}

void Table::heap_set(size_t i, HeapEntry e) {
  heap_[i] = e;
  heap_pos_[e.slot] = uint32_t(i);
}

// Both sifts move a hole instead of swapping: one write per level.
void Table::sift_up(size_t i) {
  const HeapEntry e = heap_[i];
  while (i > 0) {
    const size_t parent = (i - 1) / 2;
    if (heap_[parent].key <= e.key) break;
    heap_set(i, heap_[parent]);
    i = parent;
  }
  heap_set(i, e);
}

void Table::sift_down(size_t i) {
  const HeapEntry e = heap_[i];
  const size_t n = heap_.size();
  for (;;) {
    const size_t l = 2 * i + 1;
    if (l >= n) break;
    const size_t c = l + 1 < n && heap_[l + 1].key < heap_[l].key ? l + 1 : l;
    if (e.key <= heap_[c].key) break;
    heap_set(i, heap_[c]);
    i = c;
  }
  heap_set(i, e);
}

}  // namespace bfd
