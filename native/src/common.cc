// Errors and argument conversion shared by every file of the addon.
#include "common.h"

#include <sys/ioctl.h>

#include <cmath>

namespace wv {

static const char* ErrnoName(int err) {
  switch (err) {
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EINTR: return "EINTR";
    case EIO: return "EIO";
    case ENXIO: return "ENXIO";
    case E2BIG: return "E2BIG";
    case EBADF: return "EBADF";
    case EAGAIN: return "EAGAIN";
    case ENOMEM: return "ENOMEM";
    case EACCES: return "EACCES";
    case EFAULT: return "EFAULT";
    case EBUSY: return "EBUSY";
    case EEXIST: return "EEXIST";
    case ENODEV: return "ENODEV";
    case EINVAL: return "EINVAL";
    case ENFILE: return "ENFILE";
    case EMFILE: return "EMFILE";
    case ENOTTY: return "ENOTTY";
    case EISDIR: return "EISDIR";
    case ENOTDIR: return "ENOTDIR";
    case ENOSPC: return "ENOSPC";
    case ERANGE: return "ERANGE";
    case ENOSYS: return "ENOSYS";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case ENETDOWN: return "ENETDOWN";
    case EBADFD: return "EBADFD";
    case ENOLCK: return "ENOLCK";
    case ESRCH: return "ESRCH";
    default: return "EUNKNOWN";
  }
}

void ThrowErrno(Napi::Env env, int err, const char* syscall, const char* ioctl) {
  std::string msg = std::string(syscall);
  if (ioctl != nullptr) msg += std::string(" ") + ioctl;
  msg += std::string(" failed: ") + std::strerror(err);
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("code", Napi::String::New(env, ErrnoName(err)));
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("syscall", Napi::String::New(env, syscall));
  if (ioctl != nullptr) e.Set("ioctl", Napi::String::New(env, ioctl));
  throw e;
}

void ThrowArg(Napi::Env env, const std::string& message) {
  throw Napi::TypeError::New(env, message);
}

static Napi::Value Arg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (i >= info.Length()) ThrowArg(info.Env(), std::string("missing argument ") + name);
  return info[i];
}

int32_t ArgInt32(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Value v = Arg(info, i, name);
  if (!v.IsNumber()) ThrowArg(info.Env(), std::string(name) + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (d != std::floor(d) || d < INT32_MIN || d > INT32_MAX) ThrowArg(info.Env(), std::string(name) + " must be an int32");
  return static_cast<int32_t>(d);
}

uint32_t ArgUint32(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Value v = Arg(info, i, name);
  if (!v.IsNumber()) ThrowArg(info.Env(), std::string(name) + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (d != std::floor(d) || d < 0 || d > UINT32_MAX) ThrowArg(info.Env(), std::string(name) + " must be a uint32");
  return static_cast<uint32_t>(d);
}

uint64_t ValueToUint64(Napi::Env env, Napi::Value v, const char* name) {
  if (v.IsBigInt()) {
    bool lossless = false;
    uint64_t r = v.As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) ThrowArg(env, std::string(name) + " does not fit in a u64");
    return r;
  }
  if (v.IsNumber()) {
    double d = v.As<Napi::Number>().DoubleValue();
    if (d != std::floor(d) || d < 0 || d > 9007199254740991.0) ThrowArg(env, std::string(name) + " must be a non-negative safe integer");
    return static_cast<uint64_t>(d);
  }
  ThrowArg(env, std::string(name) + " must be a bigint or a number");
}

uint64_t ArgUint64(const Napi::CallbackInfo& info, size_t i, const char* name) {
  return ValueToUint64(info.Env(), Arg(info, i, name), name);
}

bool ArgBool(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Value v = Arg(info, i, name);
  if (!v.IsBoolean()) ThrowArg(info.Env(), std::string(name) + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

Napi::BigInt U64(Napi::Env env, uint64_t v) { return Napi::BigInt::New(env, v); }

int Ioctl(int fd, unsigned long request, void* arg) {
  int r;
  do {
    // SAFETY: callers pass a request code and an argument of the type that request expects.
    r = ::ioctl(fd, request, arg);
  } while (r < 0 && errno == EINTR);
  return r;
}

int IoctlNoRetry(int fd, unsigned long request, void* arg) {
  // SAFETY: as Ioctl; the caller handles EINTR itself.
  return ::ioctl(fd, request, arg);
}

}  // namespace wv
