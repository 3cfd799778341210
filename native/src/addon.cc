// Placeholder until the engine lands (issue 3): exports the addon ABI version only.
#include <napi.h>
static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("abiVersion", Napi::Number::New(env, 1));
  return exports;
}
NODE_API_MODULE(bfd, Init)
