// The session table: demultiplexing (RFC 5880 §6.3, §6.8.6 R-07..R-09), the OVN
// stale-discriminator fallback, a deadline heap over all sessions and the state-change log.
// Sans-I/O: the owner passes received datagrams in and gets packets out through a PacketSink.
#pragma once
#include <memory>
#include <unordered_map>
#include <vector>

#include "event_queue.h"
#include "session.h"

namespace bfd {

struct RxMeta {
  Addr local;   // destination address of the datagram (IP_PKTINFO)
  Addr remote;  // source address
  uint8_t ttl = 0;
  uint32_t ifindex = 0;  // ingress interface (IP_PKTINFO / IPV6_PKTINFO); 0 = unknown
};

class PacketSink {
 public:
  virtual ~PacketSink() = default;
  virtual bool send(Session& s, const uint8_t* pkt, size_t len) = 0;  // false = transmit error
};

struct TableOptions {
  bool stale_discr_fallback = true;  // OVN-04 (OVN profile)
  size_t event_capacity = 4096;      // state changes kept until the owner takes them (then coalesced)
};

class Table final : public SessionObserver {
 public:
  explicit Table(RandomSource& rng, TableOptions opt = {});
  ~Table() override;
  Table(const Table&) = delete;
  Table& operator=(const Table&) = delete;

  // Each returns nullptr on success or a static message naming the problem.
  const char* add(const SessionConfig& cfg, Micros now, Session** out = nullptr);
  const char* change(const SessionConfig& cfg, Micros now);  // matched by (local, remote)
  // Removes a session; a live one first tells its peer with one AdminDown packet (diag 7).
  bool remove(const Addr& local, const Addr& remote, PacketSink& sink, Micros now);
  bool admin_down(const Addr& local, const Addr& remote, Diag diag, Micros now);
  bool admin_up(const Addr& local, const Addr& remote, Micros now);
  // Graceful drain: AdminDown (diag 7) everywhere at once; returns how long the peers need to
  // see it (the longest Detection Time any live peer runs against us).
  Micros drain(Micros now);

  void receive(const RxMeta& meta, const uint8_t* buf, size_t len, Micros now);
  void run(Micros now, PacketSink& sink);  // detection, timers and every due transmission
  Micros wake_time() const { return heap_.empty() ? kNever : heap_[0].key; }

  Session* find(const Addr& local, const Addr& remote) const;
  Session* find_discr(uint32_t discr) const;
  size_t size() const { return by_pair_.size(); }
  template <typename F>
  void for_each(F&& f) const {
    for (const auto& s : slots_)
      if (s) f(*s);
  }

  // Drops that could not be attributed to a session (not a peer, malformed from a non-peer).
  const uint64_t* global_drops() const { return global_drops_; }
  const std::vector<Event>& events() const { return events_.events(); }
  std::vector<Event> take_events() { return events_.take(); }
  uint64_t events_coalesced() const { return events_.coalesced(); }

 private:
  struct PairKey {
    Addr local, remote;
    bool operator==(const PairKey& o) const { return local == o.local && remote == o.remote; }
  };
  struct PairHash {
    size_t operator()(const PairKey& k) const;
  };

  void on_state_change(const Session& s, State from, State to, Diag diag, Micros at) override;
  void count(Session* s, Drop d);
  // The deadline heap keeps each key next to its slot number and each position in an array by
  // slot, so sifting touches two small arrays and never a Session: with 1000 sessions a sift
  // through Session objects was one cache miss per level on every packet sent or received.
  struct HeapEntry {
    Micros key;  // the session's wake_time() when last updated
    uint32_t slot;
  };
  void heap_update(Session* s);
  void heap_erase(Session* s);
  void heap_set(size_t i, HeapEntry e);
  void sift_up(size_t i);
  void sift_down(size_t i);

  RandomSource& rng_;
  TableOptions opt_;
  std::vector<std::unique_ptr<Session>> slots_;
  std::vector<size_t> free_slots_;
  std::vector<HeapEntry> heap_;       // min-heap on key
  std::vector<uint32_t> heap_pos_;    // by slot: index in heap_
  std::unordered_map<uint32_t, Session*> by_discr_;
  std::unordered_map<PairKey, Session*, PairHash> by_pair_;
  uint64_t global_drops_[kDropCount] = {};
  EventQueue events_;
};

}  // namespace bfd
