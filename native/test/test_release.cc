// memrel: the startup-page release (mem/release.h) on real mappings of a real file.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "check.h"
#include "mem/release.h"

namespace {

constexpr size_t kPages = 64;

// Pages of [p, p + len) mapped in this process (the "present" bit of /proc/self/pagemap).
size_t present_pages(const void* p, size_t len) {
  const long page = sysconf(_SC_PAGESIZE);
  const int fd = open("/proc/self/pagemap", O_RDONLY);
  if (fd < 0) check::fail(__FILE__, __LINE__, "cannot open /proc/self/pagemap");
  size_t n = 0;
  for (uintptr_t a = uintptr_t(p); a < uintptr_t(p) + len; a += page) {
    uint64_t e = 0;
    if (pread(fd, &e, sizeof e, off_t(a / page * sizeof e)) != sizeof e) break;
    n += (e >> 63) & 1;
  }
  close(fd);
  return n;
}

// A file of kPages pages on disk (not tmpfs: shmem pages need swap to be paged out).
struct TempFile {
  std::string path;
  int fd = -1;
  size_t len;
  TempFile() : len(kPages * size_t(sysconf(_SC_PAGESIZE))) {
    char tmpl[] = "native-out-release-XXXXXX";
    fd = mkstemp(tmpl);
    if (fd < 0) check::fail(__FILE__, __LINE__, "mkstemp failed");
    path = tmpl;
    std::string data(len, 'x');
    if (write(fd, data.data(), len) != ssize_t(len)) check::fail(__FILE__, __LINE__, "write failed");
    fsync(fd);
    // The maps file names mappings by absolute path.
    char* abs = realpath(path.c_str(), nullptr);
    path = abs;
    std::free(abs);
  }
  ~TempFile() {
    close(fd);
    unlink(path.c_str());
  }
};

volatile char sink;

void touch(const char* p, size_t len) {
  for (size_t i = 0; i < len; i += 4096) sink = p[i];
}

}  // namespace

TEST("memrel parses /proc/PID/maps lines, with and without a path") {
  memrel::Mapping m;
  CHECK(memrel::parse_maps_line("00400000-00b72000 r--p 00000000 fd:00 1836  /usr/bin/node", m));
  CHECK_EQ(m.start, uintptr_t(0x400000));
  CHECK_EQ(m.end, uintptr_t(0xb72000));
  CHECK(m.readable);
  CHECK(!m.writable);
  CHECK_EQ(m.inode, uint64_t(1836));
  CHECK_EQ(m.path, std::string("/usr/bin/node"));
  CHECK(memrel::parse_maps_line("7f00a000-7f00b000 rw-p 00000000 00:00 0 ", m));
  CHECK(m.writable);
  CHECK_EQ(m.inode, uint64_t(0));
  CHECK_EQ(m.path, std::string());
  CHECK(memrel::parse_maps_line("7f00a000-7f00b000 r--p 00001000 fd:00 9 /tmp/a b (deleted)", m));
  CHECK_EQ(m.path, std::string("/tmp/a b (deleted)"));
  // smaps key lines and garbage are not mappings
  CHECK(!memrel::parse_maps_line("Rss:                 120 kB", m));
  CHECK(!memrel::parse_maps_line("VmFlags: rd ex mr mw me dw", m));
  CHECK(!memrel::parse_maps_line("7f00b000-7f00a000 r--p 0 fd:00 9 /x", m));  // end < start
  CHECK(!memrel::parse_maps_line("", m));
}

TEST("memrel pages out a read-only file mapping; the content reads back the same") {
  TempFile f;
  auto* p = static_cast<const char*>(mmap(nullptr, f.len, PROT_READ, MAP_PRIVATE, f.fd, 0));
  CHECK(p != MAP_FAILED);
  touch(p, f.len);
  CHECK_EQ(present_pages(p, f.len), kPages);
  const memrel::ReleaseResult r = memrel::release_file_pages(f.path);
  CHECK_EQ(r.error, 0);
  CHECK_EQ(r.mappings, size_t(1));
  CHECK_EQ(r.bytes, f.len);
  CHECK_EQ(present_pages(p, f.len), size_t(0));
  CHECK_EQ(p[0], 'x');  // faults back in from the file
  CHECK_EQ(p[f.len - 1], 'x');
  munmap(const_cast<char*>(p), f.len);
}

TEST("memrel leaves writable mappings and read-only ones with private copies (RELRO) alone") {
  TempFile f;
  auto* w = static_cast<char*>(mmap(nullptr, f.len, PROT_READ | PROT_WRITE, MAP_PRIVATE, f.fd, 0));
  CHECK(w != MAP_FAILED);
  auto* relro = static_cast<char*>(mmap(nullptr, f.len, PROT_READ | PROT_WRITE, MAP_PRIVATE, f.fd, 0));
  CHECK(relro != MAP_FAILED);
  w[0] = 'w';
  relro[0] = 'r';  // copied on write, then made read-only like a relocated RELRO segment
  CHECK_EQ(mprotect(relro, f.len, PROT_READ), 0);
  touch(w, f.len);
  touch(relro, f.len);
  const memrel::ReleaseResult r = memrel::release_file_pages(f.path);
  CHECK_EQ(r.error, 0);
  CHECK_EQ(r.mappings, size_t(0));
  CHECK_EQ(present_pages(w, f.len), kPages);
  CHECK_EQ(present_pages(relro, f.len), kPages);
  CHECK_EQ(w[0], 'w');
  CHECK_EQ(relro[0], 'r');
  munmap(w, f.len);
  munmap(relro, f.len);
}

TEST("memrel reports a missing smaps file instead of advising anything") {
  const memrel::ReleaseResult r = memrel::release_file_pages("/usr/bin/true", "/nonexistent/smaps");
  CHECK_EQ(r.mappings, size_t(0));
  CHECK(r.error != 0);
}

TEST("memrel may_page_out follows the kernel: owner, CAP_FOWNER, or write permission") {
  CHECK(memrel::may_page_out(65534, 65534, false, false));
  CHECK(memrel::may_page_out(0, 0, false, false));
  CHECK(memrel::may_page_out(65534, 0, true, false));
  CHECK(memrel::may_page_out(65534, 0, false, true));
  CHECK(!memrel::may_page_out(65534, 0, false, false));
  CHECK(!memrel::may_page_out(1000, 65534, false, false));
}

// Exit codes of the unprivileged child below.
enum : int { kChildOk = 0, kChildSetuid = 10, kChildMap = 11, kChildError = 12, kChildAdvised = 13, kChildPagedOut = 14 };

TEST("memrel reports EPERM (and advises nothing) for a file the process neither owns nor may write") {
  if (geteuid() != 0) return;  // needs root to hand the file to another uid (CI runs as root)
  TempFile f;
  CHECK_EQ(fchown(f.fd, 0, 0), 0);
  CHECK_EQ(fchmod(f.fd, 0644), 0);
  const pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    // As uid 65534 without capabilities, like the bfdd container: the kernel would skip the pages.
    if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0) _exit(kChildSetuid);
    prctl(PR_SET_DUMPABLE, 1);  // a uid change makes /proc/self root-owned; pagemap must stay readable
    const int fd = open(f.path.c_str(), O_RDONLY);
    if (fd < 0) _exit(kChildMap);
    auto* p = static_cast<const char*>(mmap(nullptr, f.len, PROT_READ, MAP_PRIVATE, fd, 0));
    if (p == MAP_FAILED) _exit(kChildMap);
    touch(p, f.len);
    const memrel::ReleaseResult r = memrel::release_file_pages(f.path);
    if (r.error != EPERM) _exit(kChildError);
    if (r.mappings != 0) _exit(kChildAdvised);
    if (present_pages(p, f.len) != kPages) _exit(kChildPagedOut);
    _exit(kChildOk);
  }
  int status = 0;
  CHECK_EQ(waitpid(pid, &status, 0), pid);
  CHECK(WIFEXITED(status));
  CHECK_EQ(WEXITSTATUS(status), kChildOk);
}
