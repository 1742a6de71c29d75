// The exit hand-off between a vCPU thread and the core, in native code on both sides: the vCPU
// posts an access in its slot, wakes the core's event loop with uv_async_send and sleeps on a
// futex on the slot's state; the core runs the access on its bus (a JS call) and wakes it.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

namespace wv {

/** Access kinds, as vcpu-worker's AccessKind. */
enum ExitAccessKind : int32_t { kPioRead = 0, kPioWrite = 1, kMmioRead = 2, kMmioWrite = 3 };

struct ExitHubShared;

/** A vCPU thread's end of the hand-off: slot `index` of hub `hub_id`. */
class ExitPortRef {
 public:
  /** Looks the slot up; null when the hub or the slot does not exist (closed or never made). */
  static std::unique_ptr<ExitPortRef> Find(uint32_t hub_id, uint32_t index);
  ~ExitPortRef();

  /**
   * Sends one access (1..8 bytes of `data`; filled for reads) and waits for the core's answer.
   * Returns 1 when completed, 0 when the hub closed (the access is dropped), -1 when
   * `give_up` became true while waiting (vCPU stop; checked each time a signal interrupts the wait).
   */
  int Call(int32_t kind, uint64_t addr, uint8_t* data, uint32_t size, const std::atomic<bool>& give_up);

  uint64_t calls() const { return calls_; }

 private:
  ExitPortRef(std::shared_ptr<ExitHubShared> hub, uint32_t index);
  std::shared_ptr<ExitHubShared> hub_;
  uint32_t index_;
  uint64_t calls_ = 0;
};

}  // namespace wv
