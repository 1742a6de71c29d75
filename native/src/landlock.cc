// Landlock (landlock(7)): landlock_create_ruleset, landlock_add_rule (LANDLOCK_RULE_PATH_BENEATH)
// and landlock_restrict_self, 1:1, plus execve(2). A domain restricts the calling thread and the
// threads and processes it starts later, and survives execve; no other thread is touched (ABI < 8
// has no TSYNC), which is why the VMM restricts its main thread and then execs (landlock-exec.ts).
#include <fcntl.h>
#include <linux/landlock.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "common.h"

namespace wv {

/** landlockAbiVersion() -> number: the kernel's Landlock ABI, or 0 when it has none (ENOSYS, EOPNOTSUPP). */
static Napi::Value LandlockAbiVersion(const Napi::CallbackInfo& info) {
  long abi = ::syscall(SYS_landlock_create_ruleset, nullptr, 0, LANDLOCK_CREATE_RULESET_VERSION);
  if (abi < 0 && errno != ENOSYS && errno != EOPNOTSUPP) ThrowErrno(info.Env(), errno, "landlock_create_ruleset", "LANDLOCK_CREATE_RULESET_VERSION");
  return Napi::Number::New(info.Env(), abi < 0 ? 0 : static_cast<double>(abi));
}

/** landlockCreateRuleset(handledAccessFs: number) -> fd (O_CLOEXEC): a ruleset handling those LANDLOCK_ACCESS_FS_* rights. */
static Napi::Value LandlockCreateRuleset(const Napi::CallbackInfo& info) {
  struct landlock_ruleset_attr attr = {};
  attr.handled_access_fs = ArgUint64(info, 0, "handledAccessFs");
  // SAFETY: attr is initialized and outlives the call; only its first sizeof(handled_access_fs)
  // bytes are passed, the size of ABI 1's struct, so a kernel of any ABI reads nothing past it.
  long fd = ::syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr.handled_access_fs), 0);
  if (fd < 0) ThrowErrno(info.Env(), errno, "landlock_create_ruleset");
  return Napi::Number::New(info.Env(), static_cast<double>(fd));
}

/** landlockAddPathRule(rulesetFd, path, allowedAccess): allows those rights on path and everything beneath it. */
static Napi::Value LandlockAddPathRule(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int ruleset = ArgInt32(info, 0, "rulesetFd");
  if (info.Length() < 2 || !info[1].IsString()) ThrowArg(env, "path must be a string");
  std::string path = info[1].As<Napi::String>().Utf8Value();
  uint64_t allowed = ArgUint64(info, 2, "allowedAccess");
  int fd = ::open(path.c_str(), O_PATH | O_CLOEXEC);
  if (fd < 0) ThrowErrno(env, errno, "open", "O_PATH");
  struct landlock_path_beneath_attr attr = {};
  attr.allowed_access = allowed;
  attr.parent_fd = fd;
  // SAFETY: attr is initialized and outlives the call; the kernel takes its own reference to the
  // file behind parent_fd, so closing fd right after is correct.
  long r = ::syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &attr, 0);
  int err = errno;
  ::close(fd);
  if (r < 0) ThrowErrno(env, err, "landlock_add_rule", "LANDLOCK_RULE_PATH_BENEATH");
  return env.Undefined();
}

/** landlockRestrictSelf(rulesetFd): no_new_privs, then the calling thread enters the ruleset's domain. */
static Napi::Value LandlockRestrictSelf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int ruleset = ArgInt32(info, 0, "rulesetFd");
  // Without CAP_SYS_ADMIN the kernel demands no_new_privs (landlock_restrict_self(2)).
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) ThrowErrno(env, errno, "prctl", "PR_SET_NO_NEW_PRIVS");
  if (::syscall(SYS_landlock_restrict_self, ruleset, 0) < 0) ThrowErrno(env, errno, "landlock_restrict_self");
  return env.Undefined();
}

/** strings(value, name): a JS string array as std::strings. */
static std::vector<std::string> Strings(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (info.Length() <= i || !info[i].IsArray()) ThrowArg(info.Env(), std::string(name) + " must be an array of strings");
  Napi::Array a = info[i].As<Napi::Array>();
  std::vector<std::string> out;
  for (uint32_t k = 0; k < a.Length(); k++) {
    Napi::Value v = a.Get(k);
    if (!v.IsString()) ThrowArg(info.Env(), std::string(name) + " must be an array of strings");
    out.push_back(v.As<Napi::String>().Utf8Value());
  }
  return out;
}

/**
 * execve(file, argv, env): replaces the process image; returns only by throwing. Every other
 * thread of the process ends (execve(2)); the pid, fds 0-2 and the fds without FD_CLOEXEC stay.
 */
static Napi::Value Execve(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) ThrowArg(env, "file must be a string");
  std::string file = info[0].As<Napi::String>().Utf8Value();
  std::vector<std::string> args = Strings(info, 1, "argv");
  std::vector<std::string> vars = Strings(info, 2, "env");
  std::vector<char*> argv;
  std::vector<char*> envp;
  for (auto& s : args) argv.push_back(s.data());
  for (auto& s : vars) envp.push_back(s.data());
  argv.push_back(nullptr);
  envp.push_back(nullptr);
  // The new image keeps the standard streams: libuv marks them FD_CLOEXEC, which would leave the
  // exec'd process writing to the /dev/null Node opens for missing stdio.
  for (int fd = 0; fd <= 2; fd++) {
    int flags = ::fcntl(fd, F_GETFD);
    if (flags >= 0 && (flags & FD_CLOEXEC) != 0 && ::fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC) != 0) ThrowErrno(env, errno, "fcntl", "F_SETFD");
  }
  // SAFETY: argv and envp are NULL-terminated arrays of NUL-terminated strings owned by args and
  // vars, alive until execve returns (it only returns on failure).
  ::execve(file.c_str(), argv.data(), envp.data());
  ThrowErrno(env, errno, "execve");
}

void InitLandlock(Napi::Env env, Napi::Object exports) {
  exports.Set("landlockAbiVersion", Napi::Function::New(env, LandlockAbiVersion));
  exports.Set("landlockCreateRuleset", Napi::Function::New(env, LandlockCreateRuleset));
  exports.Set("landlockAddPathRule", Napi::Function::New(env, LandlockAddPathRule));
  exports.Set("landlockRestrictSelf", Napi::Function::New(env, LandlockRestrictSelf));
  exports.Set("execve", Napi::Function::New(env, Execve));
}

}  // namespace wv
