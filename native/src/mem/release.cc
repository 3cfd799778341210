#include "mem/release.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

namespace memrel {

bool parse_maps_line(const std::string& line, Mapping& out) {
  std::istringstream in(line);
  std::string range, perms, offset, dev;
  uint64_t inode = 0;
  if (!(in >> range >> perms >> offset >> dev >> inode) || perms.size() < 4) return false;
  const size_t dash = range.find('-');
  if (dash == std::string::npos) return false;
  char* end = nullptr;
  errno = 0;
  const unsigned long long a = std::strtoull(range.c_str(), &end, 16);
  if (errno || end != range.c_str() + dash) return false;
  const unsigned long long b = std::strtoull(range.c_str() + dash + 1, &end, 16);
  if (errno || *end != '\0' || b < a) return false;
  out.start = uintptr_t(a);
  out.end = uintptr_t(b);
  out.readable = perms[0] == 'r';
  out.writable = perms[1] == 'w';
  out.inode = inode;
  std::string rest;
  std::getline(in, rest);
  const size_t p = rest.find_first_not_of(' ');
  out.path = p == std::string::npos ? std::string() : rest.substr(p);
  return true;
}

bool may_page_out(uint32_t euid, uint32_t file_uid, bool cap_fowner, bool writable) {
  return euid == file_uid || cap_fowner || writable;
}

namespace {

constexpr int kCapFowner = 3;  // include/uapi/linux/capability.h

bool has_effective_cap(int cap) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("CapEff:", 0) != 0) continue;
    const unsigned long long eff = std::strtoull(line.c_str() + 7, nullptr, 16);
    return (eff >> cap) & 1ULL;
  }
  return false;
}

// 0, or EPERM when the kernel would silently skip the file's pages, or stat's errno.
int page_out_permission(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return errno;
  const bool writable = faccessat(AT_FDCWD, path.c_str(), W_OK, AT_EACCESS) == 0;
  return may_page_out(geteuid(), st.st_uid, has_effective_cap(kCapFowner), writable) ? 0 : EPERM;
}

}  // namespace

ReleaseResult release_file_pages(const std::string& path, const char* smaps) {
  ReleaseResult r;
  if ((r.error = page_out_permission(path)) != 0) return r;
  std::ifstream in(smaps);
  if (!in) {
    r.error = errno ? errno : ENOENT;
    return r;
  }
  // smaps: a header line per mapping, then "Key: value kB" lines; "Anonymous:" counts the
  // mapping's private copies, which must not be paged out from under the program.
  Mapping cur;
  bool have = false;
  auto flush = [&](uint64_t anon_kb) {
    if (!have || cur.writable || !cur.readable || cur.inode == 0 || cur.path != path || anon_kb != 0) return;
    if (madvise(reinterpret_cast<void*>(cur.start), cur.end - cur.start, MADV_PAGEOUT) != 0) {
      if (!r.error) r.error = errno;
      return;
    }
    r.mappings++;
    r.bytes += cur.end - cur.start;
  };
  std::string line;
  uint64_t anon_kb = UINT64_MAX;  // unknown until the mapping's Anonymous: line
  while (std::getline(in, line)) {
    Mapping m;
    if (parse_maps_line(line, m)) {
      flush(anon_kb);
      cur = m;
      have = true;
      anon_kb = UINT64_MAX;
    } else if (line.rfind("Anonymous:", 0) == 0) {
      anon_kb = std::strtoull(line.c_str() + 10, nullptr, 10);
    }
  }
  flush(anon_kb);
  return r;
}

ReleaseResult release_executable_pages() {
  char buf[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) {
    ReleaseResult r;
    r.error = errno;
    return r;
  }
  return release_file_pages(std::string(buf, size_t(n)));
}

}  // namespace memrel
