// N-API glue of the page release (release.h); kept apart from release.cc, which the native unit
// tests build without Node.
#include "mem/release_napi.h"

#include <cstring>

#include "mem/release.h"

namespace {

// releaseExecutablePages() -> { mappings, bytes, error: errno name or null }; see release.h.
Napi::Value ReleaseExecutablePages(const Napi::CallbackInfo& info) {
  const memrel::ReleaseResult r = memrel::release_executable_pages();
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("mappings", double(r.mappings));
  o.Set("bytes", double(r.bytes));
  o.Set("error", r.error ? Napi::Value(Napi::String::New(info.Env(), strerrorname_np(r.error) ? strerrorname_np(r.error) : "UNKNOWN"))
                         : info.Env().Null());
  return o;
}

}  // namespace

void DefineRelease(Napi::Env env, Napi::Object exports) {
  exports.Set("releaseExecutablePages", Napi::Function::New(env, ReleaseExecutablePages));
}
