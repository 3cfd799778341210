// The bounded event queue on its own: merging when full, the Drained marker, take().
#include "core/event_queue.h"
#include "harness.h"

using namespace bfdtest;

namespace {
Event change(uint32_t discr, State from, State to, Micros at) {
  Event e;
  e.local = v4(10, 0, 0, 1);
  e.remote = v4(10, 0, 0, uint8_t(discr));
  e.local_discr = discr;
  e.from = from;
  e.to = to;
  e.at = at;
  return e;
}
Event drained() {
  Event e;
  e.kind = Event::Kind::Drained;
  return e;
}
}  // namespace

TEST("event queue: below capacity every change is kept in order") {
  EventQueue q(4);
  q.push(change(2, State::Down, State::Init, 1));
  q.push(change(2, State::Init, State::Up, 2));
  CHECK_EQ(q.events().size(), size_t(2));
  CHECK_EQ(q.coalesced(), uint64_t(0));
}

TEST("event queue: when full a change merges into the session's newest event (From kept, To/time new)") {
  EventQueue q(1);
  q.push(change(2, State::Down, State::Init, 1));
  q.push(change(2, State::Init, State::Up, 2));
  q.push(change(2, State::Up, State::Down, 3));
  CHECK_EQ(q.events().size(), size_t(1));
  CHECK(q.events()[0].from == State::Down && q.events()[0].to == State::Down && q.events()[0].at == 3);
  CHECK_EQ(q.coalesced(), uint64_t(2));
  q.push(change(3, State::Down, State::Init, 4));  // another session still gets its own entry
  CHECK_EQ(q.events().size(), size_t(2));
}

TEST("event queue: a discriminator reused by another address pair is not merged into the old pair's event") {
  EventQueue q(1);
  q.push(change(2, State::Down, State::Up, 1));
  Event other = change(2, State::Down, State::Init, 2);
  other.remote = v4(10, 0, 0, 99);
  q.push(other);
  CHECK_EQ(q.events().size(), size_t(2));
  CHECK_EQ(q.coalesced(), uint64_t(0));
}

TEST("event queue: changes after a Drained marker stay after it; a repeated marker is kept once when full") {
  EventQueue q(1);
  q.push(change(2, State::Up, State::AdminDown, 1));
  q.push(drained());
  q.push(change(2, State::AdminDown, State::Down, 2));
  q.push(drained());
  q.push(change(2, State::Down, State::Init, 3));
  const std::vector<Event> evs = q.take();
  CHECK_EQ(evs.size(), size_t(3));
  CHECK(evs[1].kind == Event::Kind::Drained);
  CHECK(evs[2].from == State::AdminDown && evs[2].to == State::Init);
  CHECK_EQ(q.coalesced(), uint64_t(2));
  CHECK(q.empty());
  q.push(drained());  // after take() a marker is queued again
  CHECK_EQ(q.events().size(), size_t(1));
}
