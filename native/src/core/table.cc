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

Table::Table(RandomSource& rng, TableOptions opt) : rng_(rng), opt_(opt) { events_.reserve(opt_.event_capacity); }

Table::~Table() = default;

const char* Table::add(const SessionConfig& cfg, Micros now, Session** out) {
  if (const char* e = session_config_error(cfg)) return e;
  if (find(cfg.local, cfg.remote)) return "a session for this local/remote pair already exists";
  if (find_discr(cfg.local_discr)) return "local discriminator already in use by another session";  // V-02, D-03
  size_t slot;
  if (free_slots_.empty()) {
    slot = slots_.size();
    slots_.emplace_back();
  } else {
    slot = free_slots_.back();
    free_slots_.pop_back();
  }
  slots_[slot] = std::make_unique<Session>(cfg, rng_, this, now);
  Session* s = slots_[slot].get();
  s->slot = slot;
  by_pair_[PairKey{cfg.local, cfg.remote}] = s;
  by_discr_[cfg.local_discr] = s;
  s->heap_pos = heap_.size();
  heap_.push_back(s);
  s->heap_key = s->wake_time();
  sift_up(s->heap_pos);
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
  Session* pair = find(meta.local, meta.remote);
  if (!decode(buf, len, p, why)) { count(pair, why); return; }  // R-01..R-06
  if (!pair) { count(nullptr, Drop::NotAPeer); return; }
  Session* s;
  if (p.your_discr != 0) {  // Your Discriminator alone selects the session
    s = find_discr(p.your_discr);
    if (!s) {
      // OVN keeps sending a stale Your Discriminator after a timeout (bfd.md §2.9 #2): treat a
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
  while (!heap_.empty() && heap_[0]->heap_key <= now) {
    Session* s = heap_[0];
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
  if (events_.size() >= opt_.event_capacity) { events_lost_++; return; }
  events_.push_back(Event{s.config().local, s.config().remote, s.config().local_discr, from, to, diag, at});
}

void Table::count(Session* s, Drop d) {
  if (s) s->count_drop(d);
  else global_drops_[static_cast<size_t>(d)]++;
}

void Table::heap_update(Session* s) {
  const Micros old = s->heap_key;
  s->heap_key = s->wake_time();
  if (s->heap_key < old) sift_up(s->heap_pos);
  else sift_down(s->heap_pos);
}

void Table::heap_erase(Session* s) {
  const size_t i = s->heap_pos;
  const size_t last = heap_.size() - 1;
  if (i != last) heap_swap(i, last);
  heap_.pop_back();
  if (i < heap_.size()) {
    sift_up(i);
    sift_down(heap_[i]->heap_pos);
  }
}

void Table::heap_swap(size_t a, size_t b) {
  std::swap(heap_[a], heap_[b]);
  heap_[a]->heap_pos = a;
  heap_[b]->heap_pos = b;
}

void Table::sift_up(size_t i) {
  while (i > 0) {
    const size_t parent = (i - 1) / 2;
    if (heap_[parent]->heap_key <= heap_[i]->heap_key) break;
    heap_swap(i, parent);
    i = parent;
  }
}

void Table::sift_down(size_t i) {
  for (;;) {
    const size_t l = 2 * i + 1, r = l + 1;
    size_t m = i;
    if (l < heap_.size() && heap_[l]->heap_key < heap_[m]->heap_key) m = l;
    if (r < heap_.size() && heap_[r]->heap_key < heap_[m]->heap_key) m = r;
    if (m == i) return;
    heap_swap(i, m);
    i = m;
  }
}

}  // namespace bfd
