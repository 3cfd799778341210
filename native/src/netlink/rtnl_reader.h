#pragma once
#include <napi.h>

// The RtnlReader class (see rtnl_reader.cc) on the addon's exports.
void DefineRtnlReader(Napi::Env env, Napi::Object exports);
