#pragma once
#include <napi.h>

// releaseExecutablePages (see release_napi.cc) on the addon's exports.
void DefineRelease(Napi::Env env, Napi::Object exports);
