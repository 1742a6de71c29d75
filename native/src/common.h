// Helpers shared by the addon's files: errno errors, argument readers, V8 <-> N-API value casts.
#pragma once

#include <napi.h>
#include <v8.h>

#include <sys/ioctl.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

namespace wv {

/** Throws a JS Error carrying code (errno name), errno, syscall and, for ioctls, the ioctl name. */
[[noreturn]] void ThrowErrno(Napi::Env env, int err, const char* syscall, const char* ioctl = nullptr);

/** Throws a TypeError/RangeError for a bad argument from JS (a host programming error, not a guest one). */
[[noreturn]] void ThrowArg(Napi::Env env, const std::string& message);

int32_t ArgInt32(const Napi::CallbackInfo& info, size_t i, const char* name);
uint32_t ArgUint32(const Napi::CallbackInfo& info, size_t i, const char* name);
/** A u64 from a bigint or a non-negative safe-integer number. */
uint64_t ArgUint64(const Napi::CallbackInfo& info, size_t i, const char* name);
uint64_t ValueToUint64(Napi::Env env, Napi::Value v, const char* name);
bool ArgBool(const Napi::CallbackInfo& info, size_t i, const char* name);

Napi::BigInt U64(Napi::Env env, uint64_t v);

// N-API's napi_value is a v8::Local<v8::Value> in disguise (node's js_native_api_v8.h does
// the same casts). Needed only where N-API has no equivalent: SharedArrayBuffer.
inline napi_value ToNapi(v8::Local<v8::Value> local) {
  return reinterpret_cast<napi_value>(*local);
}
inline v8::Local<v8::Value> ToV8(napi_value value) {
  v8::Local<v8::Value> local;
  static_assert(sizeof(local) == sizeof(value));
  std::memcpy(static_cast<void*>(&local), &value, sizeof(value));
  return local;
}

/** ioctl that retries on EINTR unless told not to (KVM_RUN must see EINTR). */
int Ioctl(int fd, unsigned long request, void* arg);
int IoctlNoRetry(int fd, unsigned long request, void* arg);

void InitSystem(Napi::Env env, Napi::Object exports);
void InitVm(Napi::Env env, Napi::Object exports);
void InitVcpu(Napi::Env env, Napi::Object exports);
void InitMemory(Napi::Env env, Napi::Object exports);
void InitEventfd(Napi::Env env, Napi::Object exports);
void InitPoll(Napi::Env env, Napi::Object exports);
void InitTap(Napi::Env env, Napi::Object exports);
void InitFileLock(Napi::Env env, Napi::Object exports);
void InitDiscard(Napi::Env env, Napi::Object exports);
void InitState(Napi::Env env, Napi::Object exports);
void InitSeccomp(Napi::Env env, Napi::Object exports);
void InitLandlock(Napi::Env env, Napi::Object exports);
void InitExitHub(Napi::Env env, Napi::Object exports);

}  // namespace wv
