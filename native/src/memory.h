// Guest RAM: memfd mappings exposed to JS as SharedArrayBuffers.
#pragma once
#include <memory>

#include "common.h"

namespace wv {
/** The backing store of a SharedArrayBuffer argument, or a thrown TypeError. */
std::shared_ptr<v8::BackingStore> SabBackingStore(Napi::Env env, Napi::Value value, const char* name);
/** True while `data` is the start of a guest RAM mapping from allocateGuestRam that was not released. */
bool IsGuestRamMapping(const void* data);
}  // namespace wv
