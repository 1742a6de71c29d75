// VM fd ioctls: memory regions, in-kernel irqchip and PIT, TSS/identity map, IRQ lines,
// irqfd, ioeventfd and GSI routing. Thin wrappers: policy lives in vmm-core.
#include <linux/kvm.h>

#include <map>
#include <mutex>
#include <utility>
#include <vector>

#include "common.h"
#include "kvm-flex.h"
#include "memory.h"

namespace wv {

// Backing stores registered with KVM_SET_USER_MEMORY_REGION, keyed by (vm fd, slot). Holding
// them here is what keeps guest RAM mapped while KVM may touch it, whatever JS's GC does.
// Never destroyed: a process that exits with a VM still registered must not run the backing
// stores' destructors from a static destructor, after V8 is gone (that corrupted the heap at exit).
static std::mutex g_regions_mutex;
static auto& g_regions = *new std::map<std::pair<int, uint32_t>, std::shared_ptr<v8::BackingStore>>();

static void VmIoctl(const Napi::CallbackInfo& info, int fd, unsigned long req, void* arg, const char* name) {
  if (Ioctl(fd, req, arg) < 0) ThrowErrno(info.Env(), errno, "ioctl", name);
}

static Napi::Value SetUserMemoryRegion(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int vm = ArgInt32(info, 0, "vmFd");
  uint32_t slot = ArgUint32(info, 1, "slot");
  uint32_t flags = ArgUint32(info, 2, "flags");
  uint64_t gpa = ArgUint64(info, 3, "guestPhysAddr");
  std::shared_ptr<v8::BackingStore> store = SabBackingStore(env, info[4], "memory");
  uint64_t offset = ArgUint64(info, 5, "offset");
  uint64_t size = ArgUint64(info, 6, "size");
  if (offset > store->ByteLength() || size > store->ByteLength() - offset) ThrowArg(env, "region exceeds the SharedArrayBuffer");
  kvm_userspace_memory_region region{};
  region.slot = slot;
  region.flags = flags;
  region.guest_phys_addr = gpa;
  region.memory_size = size;
  // SAFETY: [data+offset, data+offset+size) lies inside the mapping (checked above), and the
  // mapping outlives the registration because g_regions keeps its backing store alive.
  region.userspace_addr = reinterpret_cast<uint64_t>(static_cast<uint8_t*>(store->Data()) + offset);
  VmIoctl(info, vm, KVM_SET_USER_MEMORY_REGION, &region, "KVM_SET_USER_MEMORY_REGION");
  std::lock_guard<std::mutex> lock(g_regions_mutex);
  if (size == 0) g_regions.erase({vm, slot});
  else g_regions[{vm, slot}] = store;
  return env.Undefined();
}

/** Drops the VM's references to guest RAM; call after the VM fd is closed. */
static Napi::Value ReleaseVmMemory(const Napi::CallbackInfo& info) {
  int vm = ArgInt32(info, 0, "vmFd");
  std::lock_guard<std::mutex> lock(g_regions_mutex);
  for (auto it = g_regions.begin(); it != g_regions.end();) {
    if (it->first.first == vm) it = g_regions.erase(it);
    else ++it;
  }
  return info.Env().Undefined();
}

static Napi::Value CreateIrqchip(const Napi::CallbackInfo& info) {
  // SAFETY: KVM_CREATE_IRQCHIP takes no argument.
  VmIoctl(info, ArgInt32(info, 0, "vmFd"), KVM_CREATE_IRQCHIP, nullptr, "KVM_CREATE_IRQCHIP");
  return info.Env().Undefined();
}

static Napi::Value CreatePit2(const Napi::CallbackInfo& info) {
  kvm_pit_config cfg{};
  cfg.flags = ArgUint32(info, 1, "flags");
  VmIoctl(info, ArgInt32(info, 0, "vmFd"), KVM_CREATE_PIT2, &cfg, "KVM_CREATE_PIT2");
  return info.Env().Undefined();
}

static Napi::Value SetTssAddr(const Napi::CallbackInfo& info) {
  int vm = ArgInt32(info, 0, "vmFd");
  // SAFETY: KVM_SET_TSS_ADDR takes the address as an integer argument.
  if (::ioctl(vm, KVM_SET_TSS_ADDR, static_cast<unsigned long>(ArgUint64(info, 1, "address"))) < 0)
    ThrowErrno(info.Env(), errno, "ioctl", "KVM_SET_TSS_ADDR");
  return info.Env().Undefined();
}

static Napi::Value SetIdentityMapAddr(const Napi::CallbackInfo& info) {
  uint64_t addr = ArgUint64(info, 1, "address");
  VmIoctl(info, ArgInt32(info, 0, "vmFd"), KVM_SET_IDENTITY_MAP_ADDR, &addr, "KVM_SET_IDENTITY_MAP_ADDR");
  return info.Env().Undefined();
}

static Napi::Value IrqLine(const Napi::CallbackInfo& info) {
  kvm_irq_level level{};
  level.irq = ArgUint32(info, 1, "irq");
  level.level = ArgUint32(info, 2, "level");
  VmIoctl(info, ArgInt32(info, 0, "vmFd"), KVM_IRQ_LINE, &level, "KVM_IRQ_LINE");
  return info.Env().Undefined();
}

static Napi::Value Irqfd(const Napi::CallbackInfo& info) {
  kvm_irqfd req{};
  req.fd = ArgUint32(info, 1, "eventfd");
  req.gsi = ArgUint32(info, 2, "gsi");
  req.flags = (info.Length() > 3 && ArgBool(info, 3, "deassign")) ? KVM_IRQFD_FLAG_DEASSIGN : 0;
  VmIoctl(info, ArgInt32(info, 0, "vmFd"), KVM_IRQFD, &req, "KVM_IRQFD");
  return info.Env().Undefined();
}

/** ioeventfd(vmFd, eventfd, addr, len, { pio, datamatch, deassign }) */
static Napi::Value Ioeventfd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  kvm_ioeventfd req{};
  req.fd = ArgInt32(info, 1, "eventfd");
  req.addr = ArgUint64(info, 2, "addr");
  req.len = ArgUint32(info, 3, "len");
  if (info.Length() > 4 && info[4].IsObject()) {
    Napi::Object o = info[4].As<Napi::Object>();
    if (o.Get("pio").ToBoolean()) req.flags |= KVM_IOEVENTFD_FLAG_PIO;
    if (o.Get("deassign").ToBoolean()) req.flags |= KVM_IOEVENTFD_FLAG_DEASSIGN;
    Napi::Value dm = o.Get("datamatch");
    if (!dm.IsUndefined()) {
      req.flags |= KVM_IOEVENTFD_FLAG_DATAMATCH;
      req.datamatch = ValueToUint64(env, dm, "datamatch");
    }
  }
  VmIoctl(info, ArgInt32(info, 0, "vmFd"), KVM_IOEVENTFD, &req, "KVM_IOEVENTFD");
  return env.Undefined();
}

/** setGsiRouting(vmFd, [{ gsi, irqchip, pin }]) */
static Napi::Value SetGsiRouting(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int vm = ArgInt32(info, 0, "vmFd");
  if (info.Length() < 2 || !info[1].IsArray()) ThrowArg(env, "routes must be an array");
  Napi::Array routes = info[1].As<Napi::Array>();
  uint32_t n = routes.Length();
  FlexBuffer<kvm_irq_routing_entry> buf(n);
  for (uint32_t i = 0; i < n; i++) {
    Napi::Object r = routes.Get(i).As<Napi::Object>();
    kvm_irq_routing_entry& e = buf.entries()[i];
    e.gsi = r.Get("gsi").As<Napi::Number>().Uint32Value();
    e.type = KVM_IRQ_ROUTING_IRQCHIP;
    e.u.irqchip.irqchip = r.Get("irqchip").As<Napi::Number>().Uint32Value();
    e.u.irqchip.pin = r.Get("pin").As<Napi::Number>().Uint32Value();
  }
  // SAFETY: buf holds the header and n entries.
  VmIoctl(info, vm, IOCTL_SET_GSI_ROUTING, buf.data(), "KVM_SET_GSI_ROUTING");
  return env.Undefined();
}

void InitVm(Napi::Env env, Napi::Object exports) {
  exports.Set("setUserMemoryRegion", Napi::Function::New(env, SetUserMemoryRegion));
  exports.Set("releaseVmMemory", Napi::Function::New(env, ReleaseVmMemory));
  exports.Set("createIrqchip", Napi::Function::New(env, CreateIrqchip));
  exports.Set("createPit2", Napi::Function::New(env, CreatePit2));
  exports.Set("setTssAddr", Napi::Function::New(env, SetTssAddr));
  exports.Set("setIdentityMapAddr", Napi::Function::New(env, SetIdentityMapAddr));
  exports.Set("irqLine", Napi::Function::New(env, IrqLine));
  exports.Set("irqfd", Napi::Function::New(env, Irqfd));
  exports.Set("ioeventfd", Napi::Function::New(env, Ioeventfd));
  exports.Set("setGsiRouting", Napi::Function::New(env, SetGsiRouting));
}

}  // namespace wv
