// vCPU fd: creation in the thread that runs it, the kvm_run page exposed to JS, KVM_RUN, register
// state ioctls, and the kick: immediate_exit + a real-time signal (no SA_RESTART) sent with
// pthread_kill, plus a sticky stop, so no thread can stay inside KVM_RUN once asked to leave.
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <vector>

#include "common.h"
#include "exit-hub.h"
#include "kvm-convert.h"
#include "kvm-flex.h"

namespace wv {

Napi::Array CpuidToJs(Napi::Env env, const kvm_cpuid_entry2* entries, uint32_t n);

/** run() results that are not KVM_EXIT_* reasons. */
constexpr int32_t RUN_KICKED = -1;
constexpr int32_t RUN_STOPPED = -2;

/** The mmap of a vCPU's struct kvm_run; unmapped when the last owner (vCPU, slot, ArrayBuffer) drops it. */
struct RunMapping {
  kvm_run* run;
  size_t size;
  RunMapping(kvm_run* r, size_t s) : run(r), size(s) {}
  ~RunMapping() {
    // SAFETY: run/size come from the mmap in Vcpu's constructor; no owner is left.
    ::munmap(run, size);
  }
};

/** What other threads may touch of a vCPU: kick/stop target and statistics. */
struct VcpuSlot {
  std::mutex mutex;  // guards mapping, thread, has_thread
  std::shared_ptr<RunMapping> mapping;
  pthread_t thread{};
  bool has_thread = false;
  std::atomic<bool> stopped{false};
  std::atomic<int32_t> tid{0};
  std::atomic<uint64_t> runs{0};
};

static std::mutex g_slots_mutex;
static std::map<std::pair<int, uint32_t>, std::shared_ptr<VcpuSlot>> g_slots;
static int g_kick_signal = 0;
static std::once_flag g_signal_once;

static void KickHandler(int) {}  // its only job is to make KVM_RUN return EINTR

static void InstallKickSignal() {
  std::call_once(g_signal_once, [] {
    g_kick_signal = SIGRTMIN + 2;
    struct sigaction sa {};
    sa.sa_handler = KickHandler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: the interrupted KVM_RUN must fail with EINTR
    ::sigaction(g_kick_signal, &sa, nullptr);
  });
}

static std::shared_ptr<VcpuSlot> Slot(int vm, uint32_t id) {
  std::lock_guard<std::mutex> lock(g_slots_mutex);
  auto& s = g_slots[{vm, id}];
  if (!s) s = std::make_shared<VcpuSlot>();
  return s;
}

static void Kick(VcpuSlot& slot) {
  std::lock_guard<std::mutex> lock(slot.mutex);
  if (slot.mapping) {
    // SAFETY: the mapping is alive while we hold a reference; immediate_exit is a byte KVM
    // reads on entry to KVM_RUN, written with a release fence before the signal.
    __atomic_store_n(&slot.mapping->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
  }
  if (slot.has_thread) ::pthread_kill(slot.thread, g_kick_signal);
}

class Vcpu : public Napi::ObjectWrap<Vcpu> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Vcpu",
                       {
                           InstanceMethod<&Vcpu::Run>("run"),
                           InstanceMethod<&Vcpu::GetRegs>("getRegs"),
                           InstanceMethod<&Vcpu::SetRegs>("setRegs"),
                           InstanceMethod<&Vcpu::GetSregs>("getSregs"),
                           InstanceMethod<&Vcpu::SetSregs>("setSregs"),
                           InstanceMethod<&Vcpu::GetFpu>("getFpu"),
                           InstanceMethod<&Vcpu::SetFpu>("setFpu"),
                           InstanceMethod<&Vcpu::GetMsrs>("getMsrs"),
                           InstanceMethod<&Vcpu::SetMsrs>("setMsrs"),
                           InstanceMethod<&Vcpu::GetLapic>("getLapic"),
                           InstanceMethod<&Vcpu::SetLapic>("setLapic"),
                           InstanceMethod<&Vcpu::SetCpuid2>("setCpuid2"),
                           InstanceMethod<&Vcpu::GetMpState>("getMpState"),
                           InstanceMethod<&Vcpu::SetMpState>("setMpState"),
                           InstanceMethod<&Vcpu::RunCompletingPort>("runCompletingPort"),
                           InstanceMethod<&Vcpu::AttachExitHub>("attachExitHub"),
                           InstanceMethod<&Vcpu::RunForwarding>("runForwarding"),
                           InstanceMethod<&Vcpu::Stats>("stats"),
                           InstanceMethod<&Vcpu::Close>("close"),
                           InstanceAccessor<&Vcpu::RunBuffer>("runBuffer"),
                           InstanceAccessor<&Vcpu::Fd>("fd"),
                       });
  }

  /** new Vcpu(vmFd, id, mmapSize): KVM_CREATE_VCPU + mmap of kvm_run, in the calling thread. */
  Vcpu(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Vcpu>(info) {
    Napi::Env env = info.Env();
    vm_ = ArgInt32(info, 0, "vmFd");
    id_ = ArgUint32(info, 1, "id");
    size_t mmap_size = ArgUint32(info, 2, "mmapSize");
    // SAFETY: KVM_CREATE_VCPU takes the vCPU id as an integer argument.
    fd_ = ::ioctl(vm_, KVM_CREATE_VCPU, static_cast<unsigned long>(id_));
    if (fd_ < 0) ThrowErrno(env, errno, "ioctl", "KVM_CREATE_VCPU");
    ::fcntl(fd_, F_SETFD, FD_CLOEXEC);
    // SAFETY: maps the vCPU's kvm_run area (size from KVM_GET_VCPU_MMAP_SIZE); owned by RunMapping.
    void* p = ::mmap(nullptr, mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
    if (p == MAP_FAILED) {
      int err = errno;
      ::close(fd_);
      ThrowErrno(env, err, "mmap");
    }
    mapping_ = std::make_shared<RunMapping>(static_cast<kvm_run*>(p), mmap_size);
    slot_ = Slot(vm_, id_);
    InstallKickSignal();
    {
      std::lock_guard<std::mutex> lock(slot_->mutex);
      slot_->mapping = mapping_;
      slot_->thread = ::pthread_self();
      slot_->has_thread = true;
    }
    // The kick signal must be deliverable to this thread.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, g_kick_signal);
    ::pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
    // If this thread's environment goes away, nobody may pthread_kill it any more.
    std::shared_ptr<VcpuSlot> slot = slot_;
    env.AddCleanupHook([slot] {
      std::lock_guard<std::mutex> lock(slot->mutex);
      slot->has_thread = false;
    });
  }

  ~Vcpu() override { Release(); }

 private:
  void Release() {
    if (slot_) {
      std::lock_guard<std::mutex> lock(slot_->mutex);
      slot_->has_thread = false;
    }
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  void CheckOpen(Napi::Env env) {
    if (fd_ < 0) ThrowErrno(env, EBADF, "ioctl");
  }

  /** What RunLoop does with port/MMIO exits (a template parameter: run()'s loop has no trace of the others). */
  enum class Mode { kReturn, kCompletePort, kForward };

  /** KVM_RUN until an exit JS must see. Returns a KVM_EXIT_* reason, RUN_KICKED or RUN_STOPPED. */
  Napi::Value Run(const Napi::CallbackInfo& info) { return RunLoop<Mode::kReturn>(info.Env(), -1); }

  /**
   * runCompletingPort(port): run() except that accesses to I/O port `port` are completed here (an
   * OUT is dropped, an IN reads zeros) and counted instead of returned. The benchmark's baseline for
   * an exit that never reaches JS (scripts/bench/exits.mjs); production always calls run().
   */
  Napi::Value RunCompletingPort(const Napi::CallbackInfo& info) {
    int32_t port = ArgInt32(info, 0, "port");
    return RunLoop<Mode::kCompletePort>(info.Env(), port);
  }

  /** attachExitHub(hubId, index): forward port/MMIO exits through slot `index` of that ExitHub (exit-hub.h). */
  Napi::Value AttachExitHub(const Napi::CallbackInfo& info) {
    exit_port_ = ExitPortRef::Find(ArgUint32(info, 0, "hubId"), ArgUint32(info, 1, "index"));
    if (!exit_port_) ThrowArg(info.Env(), "no such exit hub slot (closed or never created)");
    return info.Env().Undefined();
  }

  /**
   * runForwarding(): run() except that port and MMIO exits are forwarded to the core through the
   * attached ExitHub from this thread, without returning to JS; it returns for every other exit.
   */
  Napi::Value RunForwarding(const Napi::CallbackInfo& info) {
    if (!exit_port_) ThrowArg(info.Env(), "runForwarding needs attachExitHub first");
    return RunLoop<Mode::kForward>(info.Env(), -1);
  }

  /** Forwards one IO exit's accesses (count of them for string instructions); false when the vCPU must stop. */
  bool ForwardIo(kvm_run* run) {
    forwarded_io_exits_++;
    const uint32_t size = run->io.size;
    const uint64_t len = static_cast<uint64_t>(size) * run->io.count;
    // A data_offset KVM never produces (outside the page) is ignored rather than trusted.
    if (size == 0 || size > 8 || run->io.data_offset + len > mapping_->size) return true;
    const int32_t kind = run->io.direction == KVM_EXIT_IO_OUT ? kPioWrite : kPioRead;
    for (uint32_t i = 0; i < run->io.count; i++) {
      // SAFETY: the bound check above keeps every access inside the kvm_run mapping.
      uint8_t* data = reinterpret_cast<uint8_t*>(run) + run->io.data_offset + static_cast<uint64_t>(i) * size;
      int r = exit_port_->Call(kind, run->io.port, data, size, slot_->stopped);
      if (r < 0) return false;
      if (r == 0) return true;  // the core closed the hub: the VM is going away
    }
    return true;
  }

  bool ForwardMmio(kvm_run* run) {
    forwarded_mmio_exits_++;
    uint32_t len = run->mmio.len > 8 ? 8 : run->mmio.len;
    if (len == 0) return true;
    return exit_port_->Call(run->mmio.is_write ? kMmioWrite : kMmioRead, run->mmio.phys_addr, run->mmio.data, len, slot_->stopped) >= 0;
  }

  template <Mode kMode>
  Napi::Value RunLoop(Napi::Env env, int32_t port) {
    CheckOpen(env);
    kvm_run* run = mapping_->run;
    slot_->tid.store(static_cast<int32_t>(::syscall(SYS_gettid)), std::memory_order_relaxed);
    for (;;) {
      if (slot_->stopped.load()) return Napi::Number::New(env, RUN_STOPPED);
      int r = IoctlNoRetry(fd_, KVM_RUN, nullptr);
      slot_->runs.fetch_add(1, std::memory_order_relaxed);
      if (r < 0) {
        int err = errno;
        if (err == EINTR || err == EAGAIN) {
          // A kick: clear the request before JS looks at its mailbox, so a kick that lands after
          // this store makes the next KVM_RUN return at once instead of being lost.
          __atomic_store_n(&run->immediate_exit, 0, __ATOMIC_SEQ_CST);
          return Napi::Number::New(env, slot_->stopped.load() ? RUN_STOPPED : RUN_KICKED);
        }
        ThrowErrno(env, err, "ioctl", "KVM_RUN");
      }
      if (run->exit_reason == KVM_EXIT_INTR) {
        __atomic_store_n(&run->immediate_exit, 0, __ATOMIC_SEQ_CST);
        return Napi::Number::New(env, slot_->stopped.load() ? RUN_STOPPED : RUN_KICKED);
      }
      if constexpr (kMode == Mode::kCompletePort) {
        if (run->exit_reason == KVM_EXIT_IO && run->io.port == port) {
          completed_port_accesses_++;
          if (run->io.direction == KVM_EXIT_IO_IN) {
            // SAFETY: data_offset/size/count describe a buffer inside the kvm_run mapping; the
            // bound check keeps a bad value from writing past it.
            uint64_t len = static_cast<uint64_t>(run->io.size) * run->io.count;
            if (run->io.data_offset + len <= mapping_->size)
              std::memset(reinterpret_cast<uint8_t*>(run) + run->io.data_offset, 0, len);
          }
          continue;
        }
      }
      if constexpr (kMode == Mode::kForward) {
        if (run->exit_reason == KVM_EXIT_IO || run->exit_reason == KVM_EXIT_MMIO) {
          bool go_on = run->exit_reason == KVM_EXIT_IO ? ForwardIo(run) : ForwardMmio(run);
          // Stopped while waiting for the core: the access is abandoned with the vCPU.
          if (!go_on) return Napi::Number::New(env, RUN_STOPPED);
          continue;
        }
      }
      return Napi::Number::New(env, static_cast<int32_t>(run->exit_reason));
    }
  }

  template <typename T>
  void Get(Napi::Env env, unsigned long req, T* out, const char* name) {
    CheckOpen(env);
    if (Ioctl(fd_, req, out) < 0) ThrowErrno(env, errno, "ioctl", name);
  }

  Napi::Value GetRegs(const Napi::CallbackInfo& info) {
    kvm_regs r{};
    Get(info.Env(), KVM_GET_REGS, &r, "KVM_GET_REGS");
    return RegsToJs(info.Env(), r);
  }

  Napi::Value SetRegs(const Napi::CallbackInfo& info) {
    if (info.Length() < 1 || !info[0].IsObject()) ThrowArg(info.Env(), "regs must be an object");
    kvm_regs r = RegsFromJs(info[0].As<Napi::Object>());
    Get(info.Env(), KVM_SET_REGS, &r, "KVM_SET_REGS");
    return info.Env().Undefined();
  }

  Napi::Value GetSregs(const Napi::CallbackInfo& info) {
    kvm_sregs s{};
    Get(info.Env(), KVM_GET_SREGS, &s, "KVM_GET_SREGS");
    return SregsToJs(info.Env(), s);
  }

  Napi::Value SetSregs(const Napi::CallbackInfo& info) {
    if (info.Length() < 1 || !info[0].IsObject()) ThrowArg(info.Env(), "sregs must be an object");
    kvm_sregs s = SregsFromJs(info[0].As<Napi::Object>());
    Get(info.Env(), KVM_SET_SREGS, &s, "KVM_SET_SREGS");
    return info.Env().Undefined();
  }

  Napi::Value GetFpu(const Napi::CallbackInfo& info) {
    kvm_fpu f{};
    Get(info.Env(), KVM_GET_FPU, &f, "KVM_GET_FPU");
    return FpuToJs(info.Env(), f);
  }

  Napi::Value SetFpu(const Napi::CallbackInfo& info) {
    if (info.Length() < 1 || !info[0].IsObject()) ThrowArg(info.Env(), "fpu must be an object");
    kvm_fpu f = FpuFromJs(info[0].As<Napi::Object>());
    Get(info.Env(), KVM_SET_FPU, &f, "KVM_SET_FPU");
    return info.Env().Undefined();
  }

  /** getMsrs([index...]) -> [{ index, data }] for the MSRs KVM returned. */
  Napi::Value GetMsrs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    if (info.Length() < 1 || !info[0].IsArray()) ThrowArg(env, "indices must be an array");
    Napi::Array idx = info[0].As<Napi::Array>();
    uint32_t n = idx.Length();
    FlexBuffer<kvm_msr_entry> buf(n);
    kvm_msr_entry* entries = buf.entries();
    for (uint32_t i = 0; i < n; i++) entries[i].index = idx.Get(i).As<Napi::Number>().Uint32Value();
    // SAFETY: buf holds the header and n entries; KVM returns how many it filled.
    int r = Ioctl(fd_, IOCTL_GET_MSRS, buf.data());
    if (r < 0) ThrowErrno(env, errno, "ioctl", "KVM_GET_MSRS");
    Napi::Array out = Napi::Array::New(env, r);
    for (int i = 0; i < r; i++) {
      Napi::Object e = Napi::Object::New(env);
      e.Set("index", entries[i].index);
      e.Set("data", U64(env, entries[i].data));
      out.Set(static_cast<uint32_t>(i), e);
    }
    return out;
  }

  /** setMsrs([{ index, data }]) -> number of MSRs KVM accepted (stops at the first it refuses). */
  Napi::Value SetMsrs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    if (info.Length() < 1 || !info[0].IsArray()) ThrowArg(env, "entries must be an array");
    Napi::Array arr = info[0].As<Napi::Array>();
    uint32_t n = arr.Length();
    FlexBuffer<kvm_msr_entry> buf(n);
    for (uint32_t i = 0; i < n; i++) {
      Napi::Object e = arr.Get(i).As<Napi::Object>();
      buf.entries()[i].index = ObjNum(e, "index");
      buf.entries()[i].data = ValueToUint64(env, e.Get("data"), "data");
    }
    // SAFETY: buf holds the header and n entries.
    int r = Ioctl(fd_, IOCTL_SET_MSRS, buf.data());
    if (r < 0) ThrowErrno(env, errno, "ioctl", "KVM_SET_MSRS");
    return Napi::Number::New(env, r);
  }

  Napi::Value GetLapic(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    kvm_lapic_state l{};
    Get(env, KVM_GET_LAPIC, &l, "KVM_GET_LAPIC");
    Napi::Uint8Array out = Napi::Uint8Array::New(env, sizeof(l.regs));
    std::memcpy(out.Data(), l.regs, sizeof(l.regs));
    return out;
  }

  Napi::Value SetLapic(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsTypedArray()) ThrowArg(env, "lapic must be a Uint8Array");
    Napi::Uint8Array a = info[0].As<Napi::Uint8Array>();
    kvm_lapic_state l{};
    if (a.ByteLength() != sizeof(l.regs)) ThrowArg(env, "lapic must be 1024 bytes");
    std::memcpy(l.regs, a.Data(), sizeof(l.regs));
    Get(env, KVM_SET_LAPIC, &l, "KVM_SET_LAPIC");
    return env.Undefined();
  }

  Napi::Value SetCpuid2(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    if (info.Length() < 1 || !info[0].IsArray()) ThrowArg(env, "entries must be an array");
    Napi::Array arr = info[0].As<Napi::Array>();
    uint32_t n = arr.Length();
    FlexBuffer<kvm_cpuid_entry2> buf(n);
    for (uint32_t i = 0; i < n; i++) {
      Napi::Object e = arr.Get(i).As<Napi::Object>();
      kvm_cpuid_entry2& c = buf.entries()[i];
      c.function = ObjNum(e, "function");
      c.index = ObjNum(e, "index");
      c.flags = ObjNum(e, "flags");
      c.eax = ObjNum(e, "eax");
      c.ebx = ObjNum(e, "ebx");
      c.ecx = ObjNum(e, "ecx");
      c.edx = ObjNum(e, "edx");
    }
    // SAFETY: buf holds the header and n entries.
    if (Ioctl(fd_, IOCTL_SET_CPUID2, buf.data()) < 0) ThrowErrno(env, errno, "ioctl", "KVM_SET_CPUID2");
    return env.Undefined();
  }

  Napi::Value GetMpState(const Napi::CallbackInfo& info) {
    kvm_mp_state s{};
    Get(info.Env(), KVM_GET_MP_STATE, &s, "KVM_GET_MP_STATE");
    return Napi::Number::New(info.Env(), s.mp_state);
  }

  Napi::Value SetMpState(const Napi::CallbackInfo& info) {
    kvm_mp_state s{};
    s.mp_state = ArgUint32(info, 0, "mpState");
    Get(info.Env(), KVM_SET_MP_STATE, &s, "KVM_SET_MP_STATE");
    return info.Env().Undefined();
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("tid", slot_->tid.load());
    o.Set("runs", static_cast<double>(slot_->runs.load()));
    o.Set("completedPortAccesses", static_cast<double>(completed_port_accesses_));
    o.Set("forwardedIoExits", static_cast<double>(forwarded_io_exits_));
    o.Set("forwardedMmioExits", static_cast<double>(forwarded_mmio_exits_));
    return o;
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Release();
    return info.Env().Undefined();
  }

  Napi::Value RunBuffer(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (run_buffer_.IsEmpty()) {
      auto* hold = new std::shared_ptr<RunMapping>(mapping_);
      // SAFETY: the ArrayBuffer covers exactly the kvm_run mapping and keeps it alive through
      // `hold` until V8 finalizes the buffer.
      Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(
          env, mapping_->run, mapping_->size, [](Napi::Env, void*, std::shared_ptr<RunMapping>* h) { delete h; }, hold);
      run_buffer_ = Napi::Persistent(ab);
    }
    return run_buffer_.Value();
  }

  Napi::Value Fd(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), fd_); }

  int vm_ = -1;
  uint32_t id_ = 0;
  int fd_ = -1;
  /** Accesses runCompletingPort completed in C. */
  uint64_t completed_port_accesses_ = 0;
  /** Exits runForwarding handed to the core without returning to JS. */
  uint64_t forwarded_io_exits_ = 0;
  uint64_t forwarded_mmio_exits_ = 0;
  std::unique_ptr<ExitPortRef> exit_port_;
  std::shared_ptr<RunMapping> mapping_;
  std::shared_ptr<VcpuSlot> slot_;
  Napi::Reference<Napi::ArrayBuffer> run_buffer_;
};

/** kickVcpu(vmFd, id): make the vCPU leave KVM_RUN once (it re-enters after JS handles its mailbox). */
static Napi::Value KickVcpu(const Napi::CallbackInfo& info) {
  InstallKickSignal();
  Kick(*Slot(ArgInt32(info, 0, "vmFd"), ArgUint32(info, 1, "id")));
  return info.Env().Undefined();
}

/** stopVcpu(vmFd, id): sticky; run() returns RUN_STOPPED from now on, even before the vCPU exists. */
static Napi::Value StopVcpu(const Napi::CallbackInfo& info) {
  InstallKickSignal();
  auto slot = Slot(ArgInt32(info, 0, "vmFd"), ArgUint32(info, 1, "id"));
  slot->stopped.store(true);
  Kick(*slot);
  return info.Env().Undefined();
}

static void StopAll() {
  std::vector<std::shared_ptr<VcpuSlot>> slots;
  {
    std::lock_guard<std::mutex> lock(g_slots_mutex);
    for (auto& [key, s] : g_slots) slots.push_back(s);
  }
  for (auto& s : slots) {
    s->stopped.store(true);
    Kick(*s);
  }
}

/** stopAllVcpus(): stop every vCPU of the process (process exit path). */
static Napi::Value StopAllVcpus(const Napi::CallbackInfo& info) {
  InstallKickSignal();
  StopAll();
  return info.Env().Undefined();
}

/** releaseVcpuSlots(vmFd): forget the VM's kick targets (after its workers are gone). */
static Napi::Value ReleaseVcpuSlots(const Napi::CallbackInfo& info) {
  int vm = ArgInt32(info, 0, "vmFd");
  std::lock_guard<std::mutex> lock(g_slots_mutex);
  for (auto it = g_slots.begin(); it != g_slots.end();) {
    if (it->first.first == vm) it = g_slots.erase(it);
    else ++it;
  }
  return info.Env().Undefined();
}

static Napi::Value CurrentTid(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(::syscall(SYS_gettid)));
}

void InitVcpu(Napi::Env env, Napi::Object exports) {
  exports.Set("Vcpu", Vcpu::Define(env));
  exports.Set("kickVcpu", Napi::Function::New(env, KickVcpu));
  exports.Set("stopVcpu", Napi::Function::New(env, StopVcpu));
  exports.Set("stopAllVcpus", Napi::Function::New(env, StopAllVcpus));
  exports.Set("releaseVcpuSlots", Napi::Function::New(env, ReleaseVcpuSlots));
  exports.Set("currentTid", Napi::Function::New(env, CurrentTid));
  exports.Set("RUN_KICKED", RUN_KICKED);
  exports.Set("RUN_STOPPED", RUN_STOPPED);
}

}  // namespace wv
