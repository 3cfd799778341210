// Shared vocabulary of the BFD protocol core (RFC 5880/5881). No sockets, no Node, no clock:
// time is passed in by the caller as monotonic microseconds.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace bfd {

using Micros = int64_t;
constexpr Micros kNever = INT64_MAX;
constexpr uint32_t kSlowTxUs = 1000000;  // RFC 5880 §6.8.3: DesiredMinTx while not Up
constexpr uint32_t kMinIntervalUs = 1000;  // never advertise sub-millisecond intervals (OVN truncates to ms)
constexpr uint32_t kMaxIntervalUs = 3600000000u;  // 1 h: the CRD bound of spec.bfd.minRX/minTX
constexpr uint32_t kMaxMultiplier = 255;  // Detect Mult is one byte on the wire (RFC 5880 §4.1)
constexpr uint32_t kMaxDrainGraceMs = 3600000;  // a drain longer than an hour is a mistake, not a grace period

enum class State : uint8_t { AdminDown = 0, Down = 1, Init = 2, Up = 3 };

enum class Diag : uint8_t {
  None = 0,
  DetectionTimeExpired = 1,
  EchoFailed = 2,
  NeighborDown = 3,
  ForwardingReset = 4,
  PathDown = 5,
  ConcatPathDown = 6,
  AdminDown = 7,
  ReverseConcatPathDown = 8,
};

// Why a received packet was discarded. Order follows RFC 5880 §6.8.6, then our own checks.
enum class Drop : uint8_t {
  BadVersion,
  BadLength,
  Truncated,       // R-03 (Length > UDP payload, or payload too short to hold a header)
  BadMult,
  Multipoint,
  ZeroMyDiscr,
  UnknownDiscr,
  ZeroYourDiscr,   // Your Discriminator 0 with State Init/Up
  NotAPeer,        // source/destination pair is not a configured session
  BadTtl,          // RFC 5881 §5 (configurable minimum)
  WrongInterface,  // RFC 5881 §3: arrived on another interface than the one the peer is reached through
  AuthUnexpected,  // A set, no auth configured
  AuthMissing,     // A clear, auth configured
  AuthBad,         // wrong type, key id, length, password or digest
  AuthSeq,         // sequence number outside the window
  LocalAdminDown,
  Count
};
constexpr size_t kDropCount = static_cast<size_t>(Drop::Count);
const char* drop_name(Drop d);
const char* state_name(State s);
const char* diag_name(Diag d);

// An IPv4 or IPv6 address in network byte order (IPv4 uses the first 4 bytes).
struct Addr {
  uint8_t family = 0;  // 4 or 6; 0 = unset
  uint8_t b[16] = {};
  bool operator==(const Addr& o) const { return family == o.family && std::memcmp(b, o.b, 16) == 0; }
  bool operator!=(const Addr& o) const { return !(*this == o); }
  static Addr v4(const uint8_t* p) { Addr a; a.family = 4; std::memcpy(a.b, p, 4); return a; }
  static Addr v6(const uint8_t* p) { Addr a; a.family = 6; std::memcpy(a.b, p, 16); return a; }
};

// Injected randomness (jitter, initial auth sequence) so tests are deterministic.
class RandomSource {
 public:
  virtual ~RandomSource() = default;
  virtual uint32_t next32() = 0;
};

// xorshift64*: good enough for jitter; the engine seeds it from getrandom().
class XorShiftRandom final : public RandomSource {
 public:
  explicit XorShiftRandom(uint64_t seed) : s_(seed ? seed : 0x9E3779B97F4A7C15ull) {}
  uint32_t next32() override {
    s_ ^= s_ >> 12; s_ ^= s_ << 25; s_ ^= s_ >> 27;
    return static_cast<uint32_t>((s_ * 0x2545F4914F6CDD1Dull) >> 32);
  }
 private:
  uint64_t s_;
};

}  // namespace bfd
