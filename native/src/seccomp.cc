// Installs a classic BPF seccomp filter on the calling thread: prctl(PR_SET_NO_NEW_PRIVS) then
// seccomp(SECCOMP_SET_MODE_FILTER), 1:1 (seccomp(2)). The program comes compiled from JS
// (@workervisor/seccomp); the kernel checks it. Filters stack and can never be removed.
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <vector>

#include "common.h"
#include "seccomp.h"

namespace wv {

void InitSeccompReport(Napi::Env env, Napi::Object exports);

/** BPF_MAXINSNS (linux/bpf_common.h): the kernel refuses longer programs with EINVAL. */
constexpr size_t kMaxInstructions = 4096;

/**
 * seccompInstall(program: Uint8Array, flags: number, label?: string) -> undefined. label names the
 * thread (or with TSYNC every thread) in the SIGSYS report (seccomp-report.cc). program is struct sock_filter[]
 * (8 bytes each, little-endian); flags are SECCOMP_FILTER_FLAG_* (TSYNC applies it to every thread
 * of the process, LOG logs every action but allow). Sets no_new_privs first: without CAP_SYS_ADMIN
 * the kernel demands it, and a filtered thread must never exec into more privilege.
 */
static Napi::Value SeccompInstall(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    ThrowArg(env, "program must be a Uint8Array of struct sock_filter");
  }
  Napi::Uint8Array bytes = info[0].As<Napi::Uint8Array>();
  uint32_t flags = ArgUint32(info, 1, "flags");
  if (flags & ~static_cast<uint32_t>(SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_LOG | SECCOMP_FILTER_FLAG_SPEC_ALLOW)) {
    ThrowArg(env, "flags may hold only SECCOMP_FILTER_FLAG_TSYNC, _LOG and _SPEC_ALLOW");
  }
  size_t length = bytes.ByteLength();
  if (length == 0 || length % sizeof(struct sock_filter) != 0 || length / sizeof(struct sock_filter) > kMaxInstructions) {
    ThrowArg(env, "program must be 1 to 4096 instructions of 8 bytes");
  }
  // A copy with sock_filter's alignment: the typed array's bytes may sit at any offset.
  std::vector<struct sock_filter> program(length / sizeof(struct sock_filter));
  std::memcpy(program.data(), bytes.Data(), length);
  struct sock_fprog prog = {};
  prog.len = static_cast<unsigned short>(program.size());
  prog.filter = program.data();

  // Named first: the filter may trap on the very next syscall.
  if (info.Length() > 2 && info[2].IsString()) SetThreadSeccompLabel(info[2].As<Napi::String>().Utf8Value(), (flags & SECCOMP_FILTER_FLAG_TSYNC) != 0);
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) ThrowErrno(env, errno, "prctl", "PR_SET_NO_NEW_PRIVS");
  // SAFETY: prog points at program.size() initialized sock_filter entries that outlive the call;
  // the kernel copies the program (seccomp_prepare_filter) and keeps no pointer to it.
  long r = ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
  if (r < 0) ThrowErrno(env, errno, "seccomp", "SECCOMP_SET_MODE_FILTER");
  if (r > 0) {
    // With TSYNC, a positive result is the id of a thread that could not take the filter (it
    // already has one that is not an ancestor of ours); nothing was installed anywhere.
    Napi::Error e = Napi::Error::New(env, "seccomp SECCOMP_SET_MODE_FILTER failed: thread " + std::to_string(r) + " cannot be synchronized (TSYNC)");
    e.Set("code", Napi::String::New(env, "ESRCH"));
    e.Set("errno", Napi::Number::New(env, ESRCH));
    e.Set("syscall", Napi::String::New(env, "seccomp"));
    e.Set("ioctl", Napi::String::New(env, "SECCOMP_SET_MODE_FILTER"));
    e.Set("tid", Napi::Number::New(env, static_cast<double>(r)));
    throw e;
  }
  return env.Undefined();
}

void InitSeccomp(Napi::Env env, Napi::Object exports) {
  exports.Set("seccompInstall", Napi::Function::New(env, SeccompInstall));
  Napi::Object f = Napi::Object::New(env);
  f.Set("TSYNC", Napi::Number::New(env, SECCOMP_FILTER_FLAG_TSYNC));
  f.Set("LOG", Napi::Number::New(env, SECCOMP_FILTER_FLAG_LOG));
  f.Set("SPEC_ALLOW", Napi::Number::New(env, SECCOMP_FILTER_FLAG_SPEC_ALLOW));
  exports.Set("SECCOMP_FILTER_FLAG", f);
  InitSeccompReport(env, exports);
}

}  // namespace wv
