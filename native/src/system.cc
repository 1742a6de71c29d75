// /dev/kvm system ioctls: open, API version, capabilities, vCPU mmap size, supported CPUID, VM create.
#include <fcntl.h>
#include <linux/kvm.h>
#include <unistd.h>

#include <vector>

#include "common.h"
#include "kvm-flex.h"

namespace wv {

static Napi::Value OpenKvm(const Napi::CallbackInfo& info) {
  std::string path = info.Length() > 0 && info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "/dev/kvm";
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) ThrowErrno(info.Env(), errno, "open");
  return Napi::Number::New(info.Env(), fd);
}

static Napi::Value SimpleIoctl(const Napi::CallbackInfo& info, unsigned long req, const char* name, unsigned long arg) {
  int fd = ArgInt32(info, 0, "fd");
  // SAFETY: these ioctls take an integer argument, not a pointer.
  int r = ::ioctl(fd, req, arg);
  if (r < 0) ThrowErrno(info.Env(), errno, "ioctl", name);
  return Napi::Number::New(info.Env(), r);
}

static Napi::Value GetApiVersion(const Napi::CallbackInfo& info) {
  return SimpleIoctl(info, KVM_GET_API_VERSION, "KVM_GET_API_VERSION", 0);
}

static Napi::Value CheckExtension(const Napi::CallbackInfo& info) {
  return SimpleIoctl(info, KVM_CHECK_EXTENSION, "KVM_CHECK_EXTENSION", ArgUint32(info, 1, "cap"));
}

static Napi::Value GetVcpuMmapSize(const Napi::CallbackInfo& info) {
  return SimpleIoctl(info, KVM_GET_VCPU_MMAP_SIZE, "KVM_GET_VCPU_MMAP_SIZE", 0);
}

static Napi::Value CreateVm(const Napi::CallbackInfo& info) {
  int r = SimpleIoctl(info, KVM_CREATE_VM, "KVM_CREATE_VM", 0).As<Napi::Number>().Int32Value();
  // KVM returns a new fd without O_CLOEXEC; children (tests spawn processes) must not inherit it.
  ::fcntl(r, F_SETFD, FD_CLOEXEC);
  return Napi::Number::New(info.Env(), r);
}

Napi::Array CpuidToJs(Napi::Env env, const kvm_cpuid_entry2* entries, uint32_t n) {
  Napi::Array out = Napi::Array::New(env, n);
  for (uint32_t i = 0; i < n; i++) {
    const kvm_cpuid_entry2& e = entries[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("function", e.function);
    o.Set("index", e.index);
    o.Set("flags", e.flags);
    o.Set("eax", e.eax);
    o.Set("ebx", e.ebx);
    o.Set("ecx", e.ecx);
    o.Set("edx", e.edx);
    out.Set(i, o);
  }
  return out;
}

static Napi::Value GetSupportedCpuid(const Napi::CallbackInfo& info) {
  int fd = ArgInt32(info, 0, "kvmFd");
  for (uint32_t nent = 80; nent <= 4096; nent *= 2) {
    FlexBuffer<kvm_cpuid_entry2> buf(nent);
    // SAFETY: buf holds a kvm_cpuid2 header followed by nent entries, as the ioctl requires.
    if (Ioctl(fd, IOCTL_GET_SUPPORTED_CPUID, buf.data()) == 0) return CpuidToJs(info.Env(), buf.entries(), buf.header()->count);
    if (errno != E2BIG) ThrowErrno(info.Env(), errno, "ioctl", "KVM_GET_SUPPORTED_CPUID");
  }
  ThrowErrno(info.Env(), E2BIG, "ioctl", "KVM_GET_SUPPORTED_CPUID");
}

static Napi::Value CloseFd(const Napi::CallbackInfo& info) {
  int fd = ArgInt32(info, 0, "fd");
  if (::close(fd) < 0) ThrowErrno(info.Env(), errno, "close");
  return info.Env().Undefined();
}

void InitSystem(Napi::Env env, Napi::Object exports) {
  exports.Set("openKvm", Napi::Function::New(env, OpenKvm));
  exports.Set("getApiVersion", Napi::Function::New(env, GetApiVersion));
  exports.Set("checkExtension", Napi::Function::New(env, CheckExtension));
  exports.Set("getVcpuMmapSize", Napi::Function::New(env, GetVcpuMmapSize));
  exports.Set("getSupportedCpuid", Napi::Function::New(env, GetSupportedCpuid));
  exports.Set("createVm", Napi::Function::New(env, CreateVm));
  exports.Set("closeFd", Napi::Function::New(env, CloseFd));
}

}  // namespace wv
