// Snapshot state ioctls as raw struct bytes: per vCPU XSAVE, XCRs, vCPU events, debug registers and
// CPUID (KVM_GET_CPUID2); per VM the KVM clock, the irqchip (PIC master, PIC slave, IOAPIC) and PIT2;
// system-wide KVM_GET_MSR_INDEX_LIST. The structs are the fixed x86_64 uapi layouts of
// linux/kvm.h + asm/kvm.h; vmm-core decodes the few fields it needs. No policy here.
#include <linux/kvm.h>

#include <cstring>
#include <string>
#include <vector>

#include "common.h"
#include "kvm-flex.h"

namespace wv {

Napi::Array CpuidToJs(Napi::Env env, const kvm_cpuid_entry2* entries, uint32_t n);

// struct kvm_xsave ends in a flexible array, which C++ sizes differently (see kvm-flex.h): the
// legacy 4 KiB region is what KVM_GET_XSAVE / KVM_SET_XSAVE move, so the ioctl numbers use it.
struct XsaveRegion {
  uint32_t region[1024];
};
static_assert(sizeof(XsaveRegion) == 4096);
constexpr unsigned long IOCTL_GET_XSAVE = _IOR(KVMIO, 0xa4, XsaveRegion);
constexpr unsigned long IOCTL_SET_XSAVE = _IOW(KVMIO, 0xa5, XsaveRegion);
constexpr unsigned long IOCTL_GET_CPUID2 = _IOWR(KVMIO, 0x91, FlexHeader);
// struct kvm_msr_list is a u32 count and u32 indices (a 4-byte header, unlike FlexHeader).
struct MsrListHeader {
  uint32_t nmsrs;
};
constexpr unsigned long IOCTL_GET_MSR_INDEX_LIST = _IOWR(KVMIO, 0x02, MsrListHeader);

// The uapi sizes the state file stores (asm/kvm.h, x86_64); a change would be a new format.
static_assert(sizeof(kvm_xcrs) == 392);
static_assert(sizeof(kvm_vcpu_events) == 64);
static_assert(sizeof(kvm_debugregs) == 128);
static_assert(sizeof(kvm_clock_data) == 48);
static_assert(sizeof(kvm_irqchip) == 520);
static_assert(sizeof(kvm_pit_state2) == 112);

/** One state ioctl pair: the get and set request codes, the struct size and, for irqchips, the chip. */
struct StateKind {
  const char* name;
  unsigned long get;
  unsigned long set;
  const char* get_name;
  const char* set_name;
  size_t size;
  int chip;  // kvm_irqchip.chip_id to preset before the get, or -1
};

static const StateKind kVcpuKinds[] = {
    {"xsave", IOCTL_GET_XSAVE, IOCTL_SET_XSAVE, "KVM_GET_XSAVE", "KVM_SET_XSAVE", sizeof(XsaveRegion), -1},
    {"xcrs", KVM_GET_XCRS, KVM_SET_XCRS, "KVM_GET_XCRS", "KVM_SET_XCRS", sizeof(kvm_xcrs), -1},
    {"vcpu-events", KVM_GET_VCPU_EVENTS, KVM_SET_VCPU_EVENTS, "KVM_GET_VCPU_EVENTS", "KVM_SET_VCPU_EVENTS", sizeof(kvm_vcpu_events), -1},
    {"debugregs", KVM_GET_DEBUGREGS, KVM_SET_DEBUGREGS, "KVM_GET_DEBUGREGS", "KVM_SET_DEBUGREGS", sizeof(kvm_debugregs), -1},
};

static const StateKind kVmKinds[] = {
    {"clock", KVM_GET_CLOCK, KVM_SET_CLOCK, "KVM_GET_CLOCK", "KVM_SET_CLOCK", sizeof(kvm_clock_data), -1},
    {"pic-master", KVM_GET_IRQCHIP, KVM_SET_IRQCHIP, "KVM_GET_IRQCHIP", "KVM_SET_IRQCHIP", sizeof(kvm_irqchip), KVM_IRQCHIP_PIC_MASTER},
    {"pic-slave", KVM_GET_IRQCHIP, KVM_SET_IRQCHIP, "KVM_GET_IRQCHIP", "KVM_SET_IRQCHIP", sizeof(kvm_irqchip), KVM_IRQCHIP_PIC_SLAVE},
    {"ioapic", KVM_GET_IRQCHIP, KVM_SET_IRQCHIP, "KVM_GET_IRQCHIP", "KVM_SET_IRQCHIP", sizeof(kvm_irqchip), KVM_IRQCHIP_IOAPIC},
    {"pit2", KVM_GET_PIT2, KVM_SET_PIT2, "KVM_GET_PIT2", "KVM_SET_PIT2", sizeof(kvm_pit_state2), -1},
};

template <size_t N>
static const StateKind& FindKind(Napi::Env env, const StateKind (&kinds)[N], const std::string& name) {
  for (const StateKind& k : kinds)
    if (name == k.name) return k;
  ThrowArg(env, "unknown state kind " + name);
}

static std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (i >= info.Length() || !info[i].IsString()) ThrowArg(info.Env(), std::string(name) + " must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}

/** get(fd, kind) -> Uint8Array of the struct KVM filled. */
template <size_t N>
static Napi::Value GetBlob(const Napi::CallbackInfo& info, const StateKind (&kinds)[N]) {
  Napi::Env env = info.Env();
  int fd = ArgInt32(info, 0, "fd");
  const StateKind& k = FindKind(env, kinds, ArgString(info, 1, "kind"));
  std::vector<uint8_t> buf(k.size, 0);
  if (k.chip >= 0) reinterpret_cast<kvm_irqchip*>(buf.data())->chip_id = static_cast<uint32_t>(k.chip);
  // SAFETY: buf is exactly the struct the request's size field names, zeroed (chip preset).
  if (Ioctl(fd, k.get, buf.data()) < 0) ThrowErrno(env, errno, "ioctl", k.get_name);
  Napi::Uint8Array out = Napi::Uint8Array::New(env, k.size);
  std::memcpy(out.Data(), buf.data(), k.size);
  return out;
}

/** set(fd, kind, bytes): bytes must be the struct's exact size (and name the kind's irqchip). */
template <size_t N>
static Napi::Value SetBlob(const Napi::CallbackInfo& info, const StateKind (&kinds)[N]) {
  Napi::Env env = info.Env();
  int fd = ArgInt32(info, 0, "fd");
  const StateKind& k = FindKind(env, kinds, ArgString(info, 1, "kind"));
  if (info.Length() < 3 || !info[2].IsTypedArray()) ThrowArg(env, "state must be a Uint8Array");
  Napi::Uint8Array a = info[2].As<Napi::Uint8Array>();
  if (a.ByteLength() != k.size) ThrowArg(env, std::string(k.name) + " state must be " + std::to_string(k.size) + " bytes, not " + std::to_string(a.ByteLength()));
  std::vector<uint8_t> buf(a.Data(), a.Data() + k.size);
  if (k.chip >= 0 && reinterpret_cast<kvm_irqchip*>(buf.data())->chip_id != static_cast<uint32_t>(k.chip))
    ThrowArg(env, std::string(k.name) + " state names another irqchip");
  // SAFETY: buf holds exactly the struct the request expects, copied from JS.
  if (Ioctl(fd, k.set, buf.data()) < 0) ThrowErrno(env, errno, "ioctl", k.set_name);
  return env.Undefined();
}

static Napi::Value GetVcpuState(const Napi::CallbackInfo& info) { return GetBlob(info, kVcpuKinds); }
static Napi::Value SetVcpuState(const Napi::CallbackInfo& info) { return SetBlob(info, kVcpuKinds); }
static Napi::Value GetVmState(const Napi::CallbackInfo& info) { return GetBlob(info, kVmKinds); }
static Napi::Value SetVmState(const Napi::CallbackInfo& info) { return SetBlob(info, kVmKinds); }

/** getCpuid2(vcpuFd) -> the CPUID entries the vCPU was given (KVM_SET_CPUID2). */
static Napi::Value GetCpuid2(const Napi::CallbackInfo& info) {
  int fd = ArgInt32(info, 0, "vcpuFd");
  for (uint32_t nent = 80; nent <= 4096; nent *= 2) {
    FlexBuffer<kvm_cpuid_entry2> buf(nent);
    // SAFETY: buf holds a kvm_cpuid2 header followed by nent entries; KVM writes back the count.
    if (Ioctl(fd, IOCTL_GET_CPUID2, buf.data()) == 0) return CpuidToJs(info.Env(), buf.entries(), buf.header()->count);
    if (errno != E2BIG) ThrowErrno(info.Env(), errno, "ioctl", "KVM_GET_CPUID2");
  }
  ThrowErrno(info.Env(), E2BIG, "ioctl", "KVM_GET_CPUID2");
}

/** getMsrIndexList(kvmFd) -> the MSR indices KVM saves and restores (KVM_GET_MSR_INDEX_LIST). */
static Napi::Value GetMsrIndexList(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgInt32(info, 0, "kvmFd");
  for (uint32_t n = 256; n <= 65536; n *= 4) {
    std::vector<uint32_t> buf(1 + n, 0);
    buf[0] = n;
    // SAFETY: buf is a kvm_msr_list header (nmsrs) followed by room for n indices.
    if (Ioctl(fd, IOCTL_GET_MSR_INDEX_LIST, buf.data()) == 0) {
      uint32_t count = buf[0];
      Napi::Array out = Napi::Array::New(env, count);
      for (uint32_t i = 0; i < count; i++) out.Set(i, buf[1 + i]);
      return out;
    }
    if (errno != E2BIG) ThrowErrno(env, errno, "ioctl", "KVM_GET_MSR_INDEX_LIST");
  }
  ThrowErrno(env, E2BIG, "ioctl", "KVM_GET_MSR_INDEX_LIST");
}

void InitState(Napi::Env env, Napi::Object exports) {
  exports.Set("getVcpuState", Napi::Function::New(env, GetVcpuState));
  exports.Set("setVcpuState", Napi::Function::New(env, SetVcpuState));
  exports.Set("getVmState", Napi::Function::New(env, GetVmState));
  exports.Set("setVmState", Napi::Function::New(env, SetVmState));
  exports.Set("getCpuid2", Napi::Function::New(env, GetCpuid2));
  exports.Set("getMsrIndexList", Napi::Function::New(env, GetMsrIndexList));
}

}  // namespace wv
