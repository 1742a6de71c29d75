// eventfd(2): create, read, write. Used for ioeventfd/irqfd and as the vCPU -> core doorbell.
#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common.h"

namespace wv {

static Napi::Value EventfdCreate(const Napi::CallbackInfo& info) {
  uint32_t init = info.Length() > 0 ? ArgUint32(info, 0, "initval") : 0;
  int fd = ::eventfd(init, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0) ThrowErrno(info.Env(), errno, "eventfd");
  return Napi::Number::New(info.Env(), fd);
}

/** eventfdRead(fd) -> the counter as a bigint, or 0n when it was zero (non-blocking). */
static Napi::Value EventfdRead(const Napi::CallbackInfo& info) {
  int fd = ArgInt32(info, 0, "fd");
  uint64_t v = 0;
  ssize_t r;
  do {
    r = ::read(fd, &v, sizeof(v));
  } while (r < 0 && errno == EINTR);
  if (r < 0) {
    if (errno == EAGAIN) return U64(info.Env(), 0);
    ThrowErrno(info.Env(), errno, "read");
  }
  return U64(info.Env(), v);
}

static Napi::Value EventfdWrite(const Napi::CallbackInfo& info) {
  int fd = ArgInt32(info, 0, "fd");
  uint64_t v = info.Length() > 1 ? ArgUint64(info, 1, "value") : 1;
  ssize_t r;
  do {
    r = ::write(fd, &v, sizeof(v));
  } while (r < 0 && errno == EINTR);
  if (r < 0) ThrowErrno(info.Env(), errno, "write");
  return info.Env().Undefined();
}

void InitEventfd(Napi::Env env, Napi::Object exports) {
  exports.Set("eventfdCreate", Napi::Function::New(env, EventfdCreate));
  exports.Set("eventfdRead", Napi::Function::New(env, EventfdRead));
  exports.Set("eventfdWrite", Napi::Function::New(env, EventfdWrite));
}

}  // namespace wv
