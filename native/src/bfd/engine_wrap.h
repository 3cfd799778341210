#pragma once
#include <napi.h>

// The BFD engine's exports (see engine_wrap.cc): Engine, detectLatenessBoundsUs and limits.
void DefineBfdEngine(Napi::Env env, Napi::Object exports);
