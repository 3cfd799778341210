#include "packet.h"

namespace bfd {

bool decode(const uint8_t* buf, size_t len, Packet& out, Drop& why) {
  if (len < 1) { why = Drop::Truncated; return false; }
  out.version = buf[0] >> 5;
  if (out.version != 1) { why = Drop::BadVersion; return false; }
  if (len < 4) { why = Drop::Truncated; return false; }
  const uint8_t flags = buf[1];
  out.auth = flags & 0x04;
  out.length = buf[3];
  if (out.length < (out.auth ? 26 : kHeaderLen)) { why = Drop::BadLength; return false; }
  if (out.length > len) { why = Drop::Truncated; return false; }
  out.mult = buf[2];
  if (out.mult == 0) { why = Drop::BadMult; return false; }
  out.multipoint = flags & 0x01;
  if (out.multipoint) { why = Drop::Multipoint; return false; }
  out.my_discr = get32(buf + 4);
  if (out.my_discr == 0) { why = Drop::ZeroMyDiscr; return false; }
  out.diag = static_cast<Diag>(buf[0] & 0x1f);
  out.state = static_cast<State>(flags >> 6);
  out.poll = flags & 0x20;
  out.final = flags & 0x10;
  out.cpi = flags & 0x08;
  out.demand = flags & 0x02;
  out.your_discr = get32(buf + 8);
  out.desired_min_tx = get32(buf + 12);
  out.required_min_rx = get32(buf + 16);
  out.required_min_echo_rx = get32(buf + 20);
  out.auth_section = out.auth ? buf + kHeaderLen : nullptr;
  out.auth_section_len = out.auth ? out.length - kHeaderLen : 0;
  return true;
}

size_t encode(const Packet& p, uint8_t* buf, size_t cap) {
  if (cap < kHeaderLen || p.length < kHeaderLen) return 0;
  buf[0] = uint8_t((p.version << 5) | (static_cast<uint8_t>(p.diag) & 0x1f));
  buf[1] = uint8_t((static_cast<uint8_t>(p.state) << 6) | (p.poll ? 0x20 : 0) | (p.final ? 0x10 : 0) |
                   (p.cpi ? 0x08 : 0) | (p.auth ? 0x04 : 0) | (p.demand ? 0x02 : 0) |
                   (p.multipoint ? 0x01 : 0));
  buf[2] = p.mult;
  buf[3] = p.length;
  put32(buf + 4, p.my_discr);
  put32(buf + 8, p.your_discr);
  put32(buf + 12, p.desired_min_tx);
  put32(buf + 16, p.required_min_rx);
  put32(buf + 20, p.required_min_echo_rx);
  return kHeaderLen;
}

const char* drop_name(Drop d) {
  switch (d) {
    case Drop::BadVersion: return "badVersion";
    case Drop::BadLength: return "badLength";
    case Drop::Truncated: return "truncated";
    case Drop::BadMult: return "badMult";
    case Drop::Multipoint: return "multipoint";
    case Drop::ZeroMyDiscr: return "zeroMyDiscr";
    case Drop::UnknownDiscr: return "unknownDiscr";
    case Drop::ZeroYourDiscr: return "zeroYourDiscr";
    case Drop::NotAPeer: return "notAPeer";
    case Drop::BadTtl: return "badTtl";
    case Drop::WrongInterface: return "wrongInterface";
    case Drop::AuthUnexpected: return "authUnexpected";
    case Drop::AuthMissing: return "authMissing";
    case Drop::AuthBad: return "authBad";
    case Drop::AuthSeq: return "authSeq";
    case Drop::LocalAdminDown: return "localAdminDown";
    case Drop::Count: break;
  }
  return "unknown";
}

const char* state_name(State s) {
  switch (s) {
    case State::AdminDown: return "AdminDown";
    case State::Down: return "Down";
    case State::Init: return "Init";
    case State::Up: return "Up";
  }
  return "Down";
}

const char* diag_name(Diag d) {
  switch (d) {
    case Diag::None: return "None";
    case Diag::DetectionTimeExpired: return "ControlDetectionTimeExpired";
    case Diag::EchoFailed: return "EchoFunctionFailed";
    case Diag::NeighborDown: return "NeighborSignaledSessionDown";
    case Diag::ForwardingReset: return "ForwardingPlaneReset";
    case Diag::PathDown: return "PathDown";
    case Diag::ConcatPathDown: return "ConcatenatedPathDown";
    case Diag::AdminDown: return "AdministrativelyDown";
    case Diag::ReverseConcatPathDown: return "ReverseConcatenatedPathDown";
  }
  return "None";  // reserved codes 9..31 from a peer are shown as None
}

}  // namespace bfd
