// ExitHub (the core's end of the native exit hand-off, exit-hub.h) and ExitPort (a JS handle on
// one slot, for a thread that forwards accesses from JS). Slot states: IDLE -> PENDING (vCPU
// posted) -> BUSY (core running it) -> DONE (answered) -> IDLE; CANCELLED when the hub closes.
// The doorbell is a plain eventfd the core polls with uv_poll, not uv_async: a vCPU thread and the
// core usually share a CPU here, and uv_async_send's handshake (the loop side spins, then
// sched_yield()s, while the sender is preempted inside its write) cost an extra context switch per
// exit (measured: README "Performance").
#include "exit-hub.h"

#include <linux/futex.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <uv.h>

#include <climits>
#include <cstring>
#include <map>
#include <mutex>

#include "common.h"

namespace wv {

namespace {

constexpr int32_t IDLE = 0;
constexpr int32_t PENDING = 1;
constexpr int32_t BUSY = 2;
constexpr int32_t DONE = 3;
constexpr int32_t CANCELLED = 4;
constexpr uint32_t kMaxSlots = 1024;
/** A futex wait is re-checked at least this often (ns): a lost wake-up costs latency, never a hang. */
constexpr long kWaitSliceNs = 50'000'000;

void FutexWait(std::atomic<int32_t>* word, int32_t expected) {
  timespec slice{0, kWaitSliceNs};
  // SAFETY: word is a live, 4-byte aligned int32 inside a slot the caller holds a reference to;
  // std::atomic<int32_t> is lock-free and has int32_t's layout, as futex(2) needs.
  ::syscall(SYS_futex, reinterpret_cast<int32_t*>(word), FUTEX_WAIT_PRIVATE, expected, &slice, nullptr, 0);
}

void FutexWakeAll(std::atomic<int32_t>* word) {
  // SAFETY: as in FutexWait.
  ::syscall(SYS_futex, reinterpret_cast<int32_t*>(word), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr, nullptr, 0);
}

}  // namespace

/** One vCPU's access in flight. */
struct ExitSlot {
  std::atomic<int32_t> state{IDLE};
  /** Set while the vCPU sleeps on `state`, so the core wakes it only then. */
  std::atomic<int32_t> sleeping{0};
  int32_t kind = 0;
  uint32_t size = 0;
  uint64_t addr = 0;
  alignas(8) uint8_t data[8] = {};
};

/** What the core's hub and every vCPU's port share; freed when the last of them lets go. */
struct ExitHubShared {
  std::atomic<bool> open{true};
  /** vCPU threads between their `open` check and their doorbell write (Shutdown waits for them). */
  std::atomic<int32_t> ringing{0};
  /** The doorbell eventfd; closed by Shutdown once no vCPU can be writing it. */
  int doorbell = -1;
  uint32_t spin = 0;
  std::unique_ptr<ExitSlot[]> slots;
  uint32_t count = 0;
  ~ExitHubShared() {
    if (doorbell >= 0) ::close(doorbell);
  }
};

static std::mutex g_hubs_mutex;
static std::map<uint32_t, std::shared_ptr<ExitHubShared>> g_hubs;
static uint32_t g_next_hub_id = 1;

std::unique_ptr<ExitPortRef> ExitPortRef::Find(uint32_t hub_id, uint32_t index) {
  std::lock_guard<std::mutex> lock(g_hubs_mutex);
  auto it = g_hubs.find(hub_id);
  if (it == g_hubs.end() || index >= it->second->count) return nullptr;
  return std::unique_ptr<ExitPortRef>(new ExitPortRef(it->second, index));
}

ExitPortRef::ExitPortRef(std::shared_ptr<ExitHubShared> hub, uint32_t index) : hub_(std::move(hub)), index_(index) {}
ExitPortRef::~ExitPortRef() = default;

int ExitPortRef::Call(int32_t kind, uint64_t addr, uint8_t* data, uint32_t size, const std::atomic<bool>& give_up) {
  ExitSlot& slot = hub_->slots[index_];
  if (size > sizeof slot.data) size = sizeof slot.data;
  const bool write = kind == kPioWrite || kind == kMmioWrite;
  slot.kind = kind;
  slot.size = size;
  slot.addr = addr;
  if (write) std::memcpy(slot.data, data, size);
  slot.state.store(PENDING);
  hub_->ringing.fetch_add(1);
  if (!hub_->open.load()) {
    hub_->ringing.fetch_sub(1);
    slot.state.store(IDLE);
    return 0;
  }
  const uint64_t one = 1;
  // SAFETY: the doorbell fd stays open while `ringing` counts this thread (Shutdown waits for 0
  // after clearing `open`). A failed write (the counter cannot overflow) would only delay the core.
  [[maybe_unused]] ssize_t w = ::write(hub_->doorbell, &one, sizeof one);
  hub_->ringing.fetch_sub(1);
  int32_t s = slot.state.load();
  // The core usually answers within microseconds: poll a little before paying for a futex sleep.
  for (uint32_t i = 0; i < hub_->spin && (s == PENDING || s == BUSY); i++) {
    __builtin_ia32_pause();
    s = slot.state.load();
  }
  while (s == PENDING || s == BUSY) {
    if (give_up.load()) {
      int32_t expected = PENDING;
      // Not taken by the core yet: withdraw it. Taken (BUSY): the device finishes it; wait for that.
      if (slot.state.compare_exchange_strong(expected, IDLE)) return -1;
    }
    slot.sleeping.store(1);
    s = slot.state.load();
    // A kick's signal interrupts the sleep (EINTR), so give_up is seen at once.
    if (s == PENDING || s == BUSY) FutexWait(&slot.state, s);
    slot.sleeping.store(0);
    s = slot.state.load();
  }
  if (s == CANCELLED) {
    slot.state.store(IDLE);
    return 0;
  }
  if (!write) std::memcpy(data, slot.data, size);
  slot.state.store(IDLE);
  calls_++;
  return 1;
}

/** new ExitHub(slots, spin, callback(kind, addr, data)): the core's end; callback runs each access on the bus. */
class ExitHub : public Napi::ObjectWrap<ExitHub> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "ExitHub", {InstanceAccessor<&ExitHub::Id>("id"), InstanceMethod<&ExitHub::Close>("close")});
  }

  ExitHub(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ExitHub>(info) {
    Napi::Env env = info.Env();
    uint32_t count = ArgUint32(info, 0, "slots");
    uint32_t spin = ArgUint32(info, 1, "spin");
    if (count == 0 || count > kMaxSlots) ThrowArg(env, "slots must be 1.." + std::to_string(kMaxSlots));
    if (info.Length() < 3 || !info[2].IsFunction()) ThrowArg(env, "callback must be a function");
    callback_ = Napi::Persistent(info[2].As<Napi::Function>());
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok) ThrowArg(env, "no event loop");
    shared_ = std::make_shared<ExitHubShared>();
    shared_->slots = std::make_unique<ExitSlot[]>(count);
    shared_->count = count;
    shared_->spin = spin;
    shared_->doorbell = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (shared_->doorbell < 0) ThrowErrno(env, errno, "eventfd");
    poll_ = new uv_poll_t;
    int r = uv_poll_init(loop, poll_, shared_->doorbell);
    if (r != 0) {
      delete poll_;
      poll_ = nullptr;
      ThrowErrno(env, -r, "uv_poll_init");
    }
    poll_->data = this;
    uv_poll_start(poll_, UV_READABLE, OnDoorbell);
    views_.resize(count * 4);
    for (uint32_t i = 0; i < count; i++) {
      // SAFETY: the buffer covers slot i's 8 data bytes; the finalizer's shared_ptr keeps the slots
      // alive as long as V8 holds the buffer.
      auto* hold = new std::shared_ptr<ExitHubShared>(shared_);
      Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(
          env, shared_->slots[i].data, sizeof shared_->slots[i].data,
          [](Napi::Env, void*, std::shared_ptr<ExitHubShared>* h) { delete h; }, hold);
      for (uint32_t k = 0; k < 4; k++) views_[i * 4 + k] = Napi::Persistent(Napi::Uint8Array::New(env, size_t{1} << k, ab, 0));
    }
    {
      std::lock_guard<std::mutex> lock(g_hubs_mutex);
      id_ = g_next_hub_id++;
      g_hubs[id_] = shared_;
    }
    Ref();  // alive while open, even if JS drops it
  }

  ~ExitHub() override { Shutdown(); }

 private:
  static void OnDoorbell(uv_poll_t* handle, int status, int events) {
    auto* self = static_cast<ExitHub*>(handle->data);
    if (self == nullptr) return;
    uint64_t count;
    // SAFETY: reads the 8-byte eventfd counter into a local; non-blocking, EAGAIN is harmless.
    [[maybe_unused]] ssize_t r = ::read(self->shared_->doorbell, &count, sizeof count);
    self->ServeAll();
  }

  /** Runs every posted access on the core's thread, one slot after the other (serialised). */
  void ServeAll() {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    for (uint32_t i = 0; i < shared_->count; i++) {
      ExitSlot& slot = shared_->slots[i];
      int32_t expected = PENDING;
      if (!slot.state.compare_exchange_strong(expected, BUSY)) continue;
      const bool write = slot.kind == kPioWrite || slot.kind == kMmioWrite;
      uint32_t k = slot.size == 8 ? 3 : slot.size == 4 ? 2 : slot.size == 2 ? 1 : 0;
      if (!write) std::memset(slot.data, 0, sizeof slot.data);
      Napi::Value error;
      try {
        callback_.MakeCallback(env.Global(), {Napi::Number::New(env, slot.kind), Napi::Number::New(env, static_cast<double>(slot.addr)), views_[i * 4 + k].Value()});
      } catch (const Napi::Error& e) {
        error = e.Value();
        if (!write) std::memset(slot.data, 0, sizeof slot.data);
      }
      slot.state.store(DONE);
      if (slot.sleeping.load() != 0) FutexWakeAll(&slot.state);
      // The JS side catches device failures; one reaching here is the core's bug: report it as uncaught.
      if (!error.IsEmpty()) napi_fatal_exception(env, error);
      if (!shared_->open.load()) return;
    }
  }

  /** Refuses further accesses, releases every waiting vCPU, closes the libuv handle. */
  void Shutdown() {
    if (!shared_ || !shared_->open.exchange(false)) return;
    uv_poll_stop(poll_);
    poll_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
    poll_ = nullptr;
    for (uint32_t i = 0; i < shared_->count; i++) {
      ExitSlot& slot = shared_->slots[i];
      int32_t expected = PENDING;
      slot.state.compare_exchange_strong(expected, CANCELLED);
      FutexWakeAll(&slot.state);
    }
    // A vCPU past its `open` check is inside one write(2): microseconds.
    while (shared_->ringing.load() != 0) ::sched_yield();
    ::close(shared_->doorbell);
    shared_->doorbell = -1;
    std::lock_guard<std::mutex> lock(g_hubs_mutex);
    g_hubs.erase(id_);
  }

  Napi::Value Id(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), id_); }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (shared_ && shared_->open.load()) {
      Shutdown();
      Unref();
    }
    return info.Env().Undefined();
  }

  std::shared_ptr<ExitHubShared> shared_;
  uv_poll_t* poll_ = nullptr;
  uint32_t id_ = 0;
  Napi::FunctionReference callback_;
  std::vector<Napi::Reference<Napi::Uint8Array>> views_;
};

/** new ExitPort(hubId, index): forwards accesses from JS on any thread through slot `index`. */
class ExitPort : public Napi::ObjectWrap<ExitPort> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "ExitPort", {InstanceMethod<&ExitPort::Call>("call")});
  }

  ExitPort(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ExitPort>(info) {
    port_ = ExitPortRef::Find(ArgUint32(info, 0, "hubId"), ArgUint32(info, 1, "index"));
    if (!port_) ThrowArg(info.Env(), "no such exit hub slot (closed or never created)");
  }

 private:
  /** call(kind, addr, data): true when the core completed it, false when the hub closed. */
  Napi::Value Call(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int32_t kind = ArgInt32(info, 0, "kind");
    uint64_t addr = ArgUint64(info, 1, "addr");
    if (info.Length() < 3 || !info[2].IsTypedArray() || info[2].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) ThrowArg(env, "data must be a Uint8Array");
    Napi::Uint8Array data = info[2].As<Napi::Uint8Array>();
    if (data.ByteLength() < 1 || data.ByteLength() > 8) ThrowArg(env, "data must be 1..8 bytes");
    return Napi::Boolean::New(env, port_->Call(kind, addr, data.Data(), static_cast<uint32_t>(data.ByteLength()), never_) == 1);
  }

  std::unique_ptr<ExitPortRef> port_;
  std::atomic<bool> never_{false};
};

void InitExitHub(Napi::Env env, Napi::Object exports) {
  exports.Set("ExitHub", ExitHub::Define(env));
  exports.Set("ExitPort", ExitPort::Define(env));
}

}  // namespace wv
