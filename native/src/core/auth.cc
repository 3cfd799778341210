#include "auth.h"

#include "digest.h"

namespace bfd {
namespace {

bool is_md5(AuthType t) { return t == AuthType::KeyedMd5 || t == AuthType::MeticulousMd5; }
bool is_meticulous(AuthType t) { return t == AuthType::MeticulousMd5 || t == AuthType::MeticulousSha1; }
size_t digest_len(AuthType t) { return is_md5(t) ? Md5::kLen : Sha1::kLen; }

// Digest of `pkt` (len bytes) with the digest field (at offset 32) replaced by the padded key.
void compute_digest(const AuthConfig& c, const uint8_t* pkt, size_t len, uint8_t* out) {
  uint8_t tmp[kMaxPacketLen];
  std::memcpy(tmp, pkt, len);
  const size_t dl = digest_len(c.type);
  std::memset(tmp + 32, 0, dl);
  std::memcpy(tmp + 32, c.key, c.key_len);
  if (is_md5(c.type)) {
    Md5 h; h.update(tmp, len); h.final(out);
  } else {
    Sha1 h; h.update(tmp, len); h.final(out);
  }
}

bool equal_ct(const uint8_t* a, const uint8_t* b, size_t n) {
  uint8_t d = 0;
  for (size_t i = 0; i < n; i++) d |= uint8_t(a[i] ^ b[i]);
  return d == 0;
}

}  // namespace

bool AuthConfig::operator==(const AuthConfig& o) const {
  return type == o.type && key_id == o.key_id && key_len == o.key_len && std::memcmp(key, o.key, 20) == 0;
}

const char* auth_config_error(const AuthConfig& c) {
  switch (c.type) {
    case AuthType::None: return nullptr;
    case AuthType::Simple:
    case AuthType::KeyedMd5:
    case AuthType::MeticulousMd5:
      return c.key_len >= 1 && c.key_len <= 16 ? nullptr : "key must be 1..16 bytes";
    case AuthType::KeyedSha1:
    case AuthType::MeticulousSha1:
      return c.key_len >= 1 && c.key_len <= 20 ? nullptr : "key must be 1..20 bytes";
  }
  return "unknown authentication type";
}

size_t auth_section_len(const AuthConfig& c) {
  if (c.type == AuthType::None) return 0;
  if (c.type == AuthType::Simple) return 3u + c.key_len;  // U-02
  return 8 + digest_len(c.type);                           // U-03: 24 (MD5) or 28 (SHA1)
}

void auth_sign(const AuthConfig& c, AuthState& st, uint8_t* buf) {
  uint8_t* a = buf + kHeaderLen;
  const size_t alen = auth_section_len(c);
  a[0] = static_cast<uint8_t>(c.type);
  a[1] = uint8_t(alen);
  a[2] = c.key_id;
  if (c.type == AuthType::Simple) {
    std::memcpy(a + 3, c.key, c.key_len);
    return;
  }
  a[3] = 0;  // C-11 reserved
  put32(a + 4, st.xmit_seq);
  st.xmit_seq++;  // U-04: meticulous requires it; keyed accepts it (window starts at RcvAuthSeq)
  compute_digest(c, buf, kHeaderLen + alen, a + 8);
}

AuthResult auth_verify(const AuthConfig& c, AuthState& st, const Packet& p, const uint8_t* raw) {
  const uint8_t* a = p.auth_section;
  const size_t avail = p.auth_section_len;
  if (avail < 3) return AuthResult::Bad;
  const size_t alen = a[1];
  if (a[0] != static_cast<uint8_t>(c.type) || a[2] != c.key_id || alen != auth_section_len(c) || alen > avail)
    return AuthResult::Bad;
  if (c.type == AuthType::Simple)
    return equal_ct(a + 3, c.key, c.key_len) ? AuthResult::Ok : AuthResult::Bad;
  if (p.length != kHeaderLen + alen) return AuthResult::Bad;  // digest covers exactly the packet
  const uint32_t seq = get32(a + 4);
  if (st.seq_known) {  // U-04: circular windows
    const uint32_t ahead = seq - st.rcv_seq;
    const uint32_t width = 3u * p.mult;
    const bool in_window = is_meticulous(c.type) ? (ahead >= 1 && ahead <= width) : ahead <= width;
    if (!in_window) return AuthResult::Seq;
  }
  uint8_t want[Sha1::kLen];
  compute_digest(c, raw, p.length, want);
  if (!equal_ct(want, a + 8, digest_len(c.type))) return AuthResult::Bad;
  st.rcv_seq = seq;  // U-05 on the first packet, U-04 afterwards
  st.seq_known = true;
  return AuthResult::Ok;
}

}  // namespace bfd
