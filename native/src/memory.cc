// Guest RAM allocation: a memfd mmap'ed shared, handed to JS as an external SharedArrayBuffer
// (raw V8: Node 20's N-API cannot create one). The mapping is freed only when the last
// reference to its backing store goes: every SAB clone in every worker and the VM's
// KVM_SET_USER_MEMORY_REGION registration (vm.cc) each hold one.
#include "memory.h"

#include <sys/mman.h>
#include <fcntl.h>
#include <linux/falloc.h>

#include <map>
#include <mutex>
#include <unistd.h>

namespace wv {

// The memfd behind each guest RAM mapping, keyed by the mapping's address, until it is released
// (releaseGuestRam) or the mapping goes away.
static std::mutex g_memfds_mutex;
static std::map<void*, int> g_memfds;

static void UnmapGuestRam(void* data, size_t length, void* /*deleter_data*/) {
  // Forget and close the memfd before unmapping, under the lock: once the range is unmapped, a
  // new allocation (maybe on another thread) can get the same address and register its own fd.
  {
    std::lock_guard<std::mutex> lock(g_memfds_mutex);
    auto it = g_memfds.find(data);
    if (it != g_memfds.end()) {
      ::close(it->second);
      g_memfds.erase(it);
    }
  }
  // SAFETY: data/length are exactly what mmap returned in AllocateGuestRam; V8 calls this
  // once, after the last BackingStore reference (JS or native) is gone.
  ::munmap(data, length);
}

static Napi::Value AllocateGuestRam(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t size = ArgUint64(info, 0, "size");
  long page = ::sysconf(_SC_PAGESIZE);
  if (size == 0 || size % static_cast<uint64_t>(page) != 0) ThrowArg(env, "size must be a non-zero multiple of the page size");
  bool hugepages = info.Length() > 1 && info[1].IsBoolean() && info[1].As<Napi::Boolean>().Value();
  // A memfd, not anonymous memory: the same pages can later be handed to another process
  // (snapshots, migration) and are visible at /proc/<pid>/fd for diagnostics and tests.
  int fd = ::memfd_create("workervisor-guest-ram", MFD_CLOEXEC | (hugepages ? MFD_HUGETLB : 0));
  if (fd < 0) ThrowErrno(env, errno, "memfd_create");
  if (::ftruncate(fd, static_cast<off_t>(size)) < 0) {
    int err = errno;
    ::close(fd);
    ThrowErrno(env, err, "ftruncate");
  }
  // SAFETY: a fresh shared mapping of the whole memfd; nothing else refers to it until the
  // BackingStore owns it. The fd stays open (the pages' name in /proc) until the mapping goes.
  void* mem = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
  if (mem == MAP_FAILED) {
    int err = errno;
    ::close(fd);
    ThrowErrno(env, err, "mmap");
  }
  // Guest RAM should not end up in core dumps or be merged; failures here are harmless.
  ::madvise(mem, size, MADV_DONTDUMP);
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  std::unique_ptr<v8::BackingStore> store = v8::SharedArrayBuffer::NewBackingStore(mem, size, UnmapGuestRam, nullptr);
  {
    std::lock_guard<std::mutex> lock(g_memfds_mutex);
    // The address is fresh from mmap, so no live entry can hold it (the deleter erases first).
    g_memfds.emplace(mem, fd);
  }
  v8::Local<v8::SharedArrayBuffer> sab = v8::SharedArrayBuffer::New(isolate, std::move(store));
  return Napi::Value(env, ToNapi(sab));
}

std::shared_ptr<v8::BackingStore> SabBackingStore(Napi::Env env, Napi::Value value, const char* name) {
  v8::Local<v8::Value> local = ToV8(value);
  if (!local->IsSharedArrayBuffer()) ThrowArg(env, std::string(name) + " must be a SharedArrayBuffer");
  return local.As<v8::SharedArrayBuffer>()->GetBackingStore();
}

/**
 * releaseGuestRam(sab): frees guest RAM now instead of when V8 collects the buffer. Punching a hole
 * in the memfd gives the pages back while the mapping stays valid (a late read sees zeros, never
 * SIGBUS); the fd is closed. The address range itself is unmapped by the deleter later.
 * Call only when no vCPU or VM can touch the memory (after the VM fd is closed).
 */
static Napi::Value ReleaseGuestRam(const Napi::CallbackInfo& info) {
  std::shared_ptr<v8::BackingStore> store = SabBackingStore(info.Env(), info[0], "memory");
  void* data = store->Data();
  std::lock_guard<std::mutex> lock(g_memfds_mutex);
  auto it = g_memfds.find(data);
  if (it == g_memfds.end()) return Napi::Boolean::New(info.Env(), false);
  // SAFETY: the fd is this mapping's memfd; punching a hole frees its pages, and the shared
  // mapping keeps reading zeros for the range (the file size is kept).
  if (::fallocate(it->second, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, static_cast<off_t>(store->ByteLength())) < 0) {
    int err = errno;
    ThrowErrno(info.Env(), err, "fallocate");
  }
  ::close(it->second);
  g_memfds.erase(it);
  return Napi::Boolean::New(info.Env(), true);
}

bool IsGuestRamMapping(const void* data) {
  std::lock_guard<std::mutex> lock(g_memfds_mutex);
  return g_memfds.find(const_cast<void*>(data)) != g_memfds.end();
}

static Napi::Value PageSize(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(::sysconf(_SC_PAGESIZE)));
}

void InitMemory(Napi::Env env, Napi::Object exports) {
  exports.Set("allocateGuestRam", Napi::Function::New(env, AllocateGuestRam));
  exports.Set("pageSize", Napi::Function::New(env, PageSize));
  exports.Set("releaseGuestRam", Napi::Function::New(env, ReleaseGuestRam));
}

}  // namespace wv
