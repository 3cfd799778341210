#include "mem/release.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
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

ReleaseResult release_file_pages(const std::string& path, const char* smaps) {
  ReleaseResult r;
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
