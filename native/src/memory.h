// Guest RAM: anonymous mappings exposed to JS as SharedArrayBuffers.
#pragma once
#include <memory>

#include "common.h"

namespace wv {
/** The backing store of a SharedArrayBuffer argument, or a thrown TypeError. */
std::shared_ptr<v8::BackingStore> SabBackingStore(Napi::Env env, Napi::Value value, const char* name);
}  // namespace wv
