#pragma once
#include <napi.h>

// The RtnlReader class (see rtnl_reader.cc) for the addon's exports.
Napi::Function DefineRtnlReader(Napi::Env env);
