#pragma once
#include <napi.h>

// ConntrackReader, conntrackDump, formatSnatLines and conntrackRecordBytes (see ct_reader.cc) on the addon's exports.
void DefineConntrack(Napi::Env env, Napi::Object exports);
