// State-change events on their way to the owner (table -> engine thread -> JS), bounded without
// losing what matters: when full, a session's new state change is merged into its newest queued
// event (the older one's From, the newer one's To, Diag and time) instead of being appended. A
// session with nothing queued still gets its entry, so the queue holds at most capacity + one
// entry per session (two around a Drained marker, which is kept once), and the last state of
// every session always reaches the consumer.
#pragma once
#include <unordered_map>
#include <vector>

#include "types.h"

namespace bfd {

struct Event {
  enum class Kind : uint8_t { State, Drained } kind = Kind::State;  // Drained: a drain's grace ended
  Addr local, remote;
  uint32_t local_discr = 0;
  State from = State::Down, to = State::Down;
  Diag diag = Diag::None;
  Micros at = 0;
};

class EventQueue {
 public:
  explicit EventQueue(size_t capacity) : capacity_(capacity) {}
  void push(const Event& e);
  std::vector<Event> take();  // everything queued, oldest first
  const std::vector<Event>& events() const { return q_; }
  bool empty() const { return q_.empty(); }
  uint64_t coalesced() const { return coalesced_; }  // events merged into an older one (or a repeated Drained)

 private:
  size_t capacity_;
  std::vector<Event> q_;
  std::unordered_map<uint32_t, size_t> newest_;  // local discriminator -> index of its newest State event
  bool drained_queued_ = false;
  uint64_t coalesced_ = 0;
};

}  // namespace bfd
