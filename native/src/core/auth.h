// BFD authentication (RFC 5880 §4.2-4.4, §6.7): simple password, keyed/meticulous MD5 and SHA1.
#pragma once
#include "packet.h"

namespace bfd {

enum class AuthType : uint8_t {
  None = 0, Simple = 1, KeyedMd5 = 2, MeticulousMd5 = 3, KeyedSha1 = 4, MeticulousSha1 = 5
};

struct AuthConfig {
  AuthType type = AuthType::None;
  uint8_t key_id = 0;
  uint8_t key_len = 0;  // simple: 1..16; MD5: 1..16; SHA1: 1..20 (zero-padded in the digest field)
  uint8_t key[20] = {};
  bool operator==(const AuthConfig& o) const;
};

// Per-session sequence state (bfd.XmitAuthSeq, bfd.RcvAuthSeq, bfd.AuthSeqKnown).
struct AuthState {
  uint32_t xmit_seq = 0;
  uint32_t rcv_seq = 0;
  bool seq_known = false;
};

// Validates a configuration; returns nullptr or a static message naming the problem.
const char* auth_config_error(const AuthConfig& c);

// Length of the Authentication Section we emit for `c` (0 for None).
size_t auth_section_len(const AuthConfig& c);

// Appends the Authentication Section at buf[24] and, for digests, fills the digest over the
// whole packet. `buf` already holds the encoded header whose Length includes the section.
// Advances XmitAuthSeq (we advance it for every packet, which both windows accept).
void auth_sign(const AuthConfig& c, AuthState& st, uint8_t* buf);

enum class AuthResult { Ok, Bad, Seq };

// R-10 / §6.7: verifies `raw` (the received packet, p.length bytes). On success updates the
// receive sequence state (U-04, U-05).
AuthResult auth_verify(const AuthConfig& c, AuthState& st, const Packet& p, const uint8_t* raw);

}  // namespace bfd
