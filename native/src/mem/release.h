// Gives the kernel back the resident pages of the executable's read-only mappings.
//
// Node.js touches tens of MiB of its own binary while it starts (relocations, the dynamic symbol
// table, the startup snapshot, builtins' code cache) and most of it never again. Those pages count
// in the Pod's RSS and memory limit until the kernel is under pressure. MADV_PAGEOUT reclaims them
// now; the pages the agent still uses come back on their next access. Only the executable is
// released: the BFD thread runs from the addon and libc, which stay resident, so the thread never
// waits for a page of code. Writable and anonymous memory is never touched (MADV_PAGEOUT cannot
// discard data, and read-only mappings with copied-on-write pages, like RELRO, are skipped).
// The kernel pages out a file's pages only for a process that owns the file (or has CAP_FOWNER) or
// may write it; otherwise madvise succeeds and does nothing (mm/madvise.c, can_do_file_pageout).
// That silent no-op is reported here as EPERM, so a wrong image layout is visible in the log: the
// image's node copy belongs to the uid the agent runs as.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace memrel {

struct Mapping {
  uintptr_t start = 0, end = 0;
  bool readable = false, writable = false;
  uint64_t inode = 0;
  std::string path;  // empty for anonymous mappings
};

// Parses one line of /proc/PID/maps ("start-end perms offset dev inode   path"). False if malformed.
bool parse_maps_line(const std::string& line, Mapping& out);

struct ReleaseResult {
  size_t mappings = 0;  // mappings advised
  size_t bytes = 0;     // their total size (not all of it was resident)
  int error = 0;        // errno of the first failure (EINVAL: kernel without MADV_PAGEOUT, < 5.4;
                        // EPERM: the file is neither ours nor writable, the kernel would skip it)
};

// The kernel's rule for paging out a file's pages, on the facts: the caller's effective uid, the
// file's owner, whether the caller has CAP_FOWNER, and whether it may write the file.
bool may_page_out(uint32_t euid, uint32_t file_uid, bool cap_fowner, bool writable);

// Advises MADV_PAGEOUT on every read-only mapping of `path` that holds no private (copied) page.
// `smaps` is the process's smaps file (tests may pass their own).
ReleaseResult release_file_pages(const std::string& path, const char* smaps = "/proc/self/smaps");

// release_file_pages for the running executable (/proc/self/exe).
ReleaseResult release_executable_pages();

}  // namespace memrel
