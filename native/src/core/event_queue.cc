#include "event_queue.h"

namespace bfd {

void EventQueue::push(const Event& e) {
  const bool full = q_.size() >= capacity_;
  if (e.kind == Event::Kind::Drained) {
    // One pending Drained says all a second would: the consumer resolves every drain waiter.
    if (full && drained_queued_) { coalesced_++; return; }
    drained_queued_ = true;
    newest_.clear();  // later state changes must stay after the marker, not merge into events before it
    q_.push_back(e);
    return;
  }
  if (full) {
    auto it = newest_.find(e.local_discr);
    if (it != newest_.end()) {
      Event& older = q_[it->second];
      if (older.local == e.local && older.remote == e.remote) {  // not a re-created session reusing the discriminator
        const State from = older.from;
        older = e;
        older.from = from;
        coalesced_++;
        return;
      }
    }
  }
  newest_[e.local_discr] = q_.size();
  q_.push_back(e);
}

std::vector<Event> EventQueue::take() {
  std::vector<Event> out;
  out.swap(q_);
  newest_.clear();
  drained_queued_ = false;
  return out;
}

}  // namespace bfd
