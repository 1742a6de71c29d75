// Gives ranges of guest RAM back to the host while the VM runs (the virtio-balloon's inflated
// pages): madvise(MADV_REMOVE) on the shared memfd mapping of memory.cc, which punches a hole in
// the memfd (the kernel calls fallocate(PUNCH_HOLE | KEEP_SIZE) on it) and drops the pages from
// every mapping, KVM's included (mmu notifiers). The range reads as zeros afterwards; touching it
// again allocates fresh zero pages.
#include <sys/mman.h>
#include <unistd.h>

#include "memory.h"

namespace wv {

/**
 * discardGuestRam(sab, offset, length) -> boolean: frees bytes [offset, offset+length) of guest
 * RAM (both page multiples, inside the buffer). false when the buffer's RAM was already released
 * (releaseGuestRam); a range outside the buffer is a RangeError, never a syscall.
 */
static Napi::Value DiscardGuestRam(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::shared_ptr<v8::BackingStore> store = SabBackingStore(env, info[0], "memory");
  uint64_t offset = ArgUint64(info, 1, "offset");
  uint64_t length = ArgUint64(info, 2, "length");
  uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  uint64_t size = store->ByteLength();
  if (offset % page != 0 || length % page != 0) ThrowArg(env, "offset and length must be multiples of the page size");
  if (offset > size || length > size - offset) ThrowArg(env, "the range must lie inside the buffer");
  if (length == 0) return Napi::Boolean::New(env, true);
  // Only a live guest RAM mapping (MAP_SHARED over a memfd) may be discarded: on any other buffer
  // MADV_REMOVE would fail at best, and a released one has nothing left to free.
  if (!IsGuestRamMapping(store->Data())) return Napi::Boolean::New(env, false);
  char* start = static_cast<char*>(store->Data()) + offset;
  // SAFETY: [start, start+length) is page-aligned and inside the mapping AllocateGuestRam made
  // (checked above); `store` keeps the mapping alive for the call. MADV_REMOVE frees the memfd's
  // pages for the range only; the mapping stays valid and reads zeros.
  if (::madvise(start, length, MADV_REMOVE) < 0) ThrowErrno(env, errno, "madvise");
  return Napi::Boolean::New(env, true);
}

void InitDiscard(Napi::Env env, Napi::Object exports) {
  exports.Set("discardGuestRam", Napi::Function::New(env, DiscardGuestRam));
}

}  // namespace wv
