// Open file description locks on an image file: fcntl(2) F_OFD_SETLK / F_OFD_GETLK, 1:1.
// Node has no fcntl locking; Cloud Hypervisor locks its disk images this way (block/src/fcntl.rs).
#include <fcntl.h>

#include "common.h"

namespace wv {

/** struct flock for a whole-byte-range request; l_pid must be 0 for OFD commands (fcntl(2)). */
static struct flock FlockArg(const Napi::CallbackInfo& info) {
  int32_t type = ArgInt32(info, 1, "type");
  if (type != F_RDLCK && type != F_WRLCK && type != F_UNLCK) ThrowArg(info.Env(), "type must be F_RDLCK, F_WRLCK or F_UNLCK");
  uint64_t start = ArgUint64(info, 2, "start");
  uint64_t len = ArgUint64(info, 3, "len");
  struct flock fl = {};
  fl.l_type = static_cast<short>(type);
  fl.l_whence = SEEK_SET;
  fl.l_start = static_cast<off_t>(start);
  fl.l_len = static_cast<off_t>(len);  // 0 = to the end of the file, however it grows
  fl.l_pid = 0;
  return fl;
}

/** ofdSetLock(fd, type, start, len): takes (or, with F_UNLCK, drops) the lock; never waits. */
static Napi::Value OfdSetLock(const Napi::CallbackInfo& info) {
  int fd = ArgInt32(info, 0, "fd");
  struct flock fl = FlockArg(info);
  int r;
  do {
    // SAFETY: fl is a fully initialized struct flock that lives across the call; F_OFD_SETLK
    // reads it and does not keep the pointer.
    r = ::fcntl(fd, F_OFD_SETLK, &fl);
  } while (r < 0 && errno == EINTR);
  // A conflicting lock is EAGAIN or EACCES (fcntl(2)); the caller asks F_OFD_GETLK who holds it.
  if (r < 0) ThrowErrno(info.Env(), errno, "fcntl", "F_OFD_SETLK");
  return info.Env().Undefined();
}

/**
 * ofdGetLock(fd, type, start, len) -> { type, start, len, pid }: the first lock that would block
 * this one, or type F_UNLCK when none would. pid is -1 when the holder is an OFD lock.
 */
static Napi::Value OfdGetLock(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgInt32(info, 0, "fd");
  struct flock fl = FlockArg(info);
  int r;
  do {
    // SAFETY: as above; F_OFD_GETLK overwrites fl with the conflicting lock (or sets F_UNLCK).
    r = ::fcntl(fd, F_OFD_GETLK, &fl);
  } while (r < 0 && errno == EINTR);
  if (r < 0) ThrowErrno(env, errno, "fcntl", "F_OFD_GETLK");
  Napi::Object out = Napi::Object::New(env);
  out.Set("type", Napi::Number::New(env, fl.l_type));
  out.Set("start", Napi::Number::New(env, static_cast<double>(fl.l_start)));
  out.Set("len", Napi::Number::New(env, static_cast<double>(fl.l_len)));
  out.Set("pid", Napi::Number::New(env, fl.l_pid));
  return out;
}

void InitFileLock(Napi::Env env, Napi::Object exports) {
  exports.Set("ofdSetLock", Napi::Function::New(env, OfdSetLock));
  exports.Set("ofdGetLock", Napi::Function::New(env, OfdGetLock));
  exports.Set("F_RDLCK", Napi::Number::New(env, F_RDLCK));
  exports.Set("F_WRLCK", Napi::Number::New(env, F_WRLCK));
  exports.Set("F_UNLCK", Napi::Number::New(env, F_UNLCK));
}

}  // namespace wv
