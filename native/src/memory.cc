// Guest RAM allocation: a memfd mmap'ed shared (or a snapshot's memory file mapped private), handed
// to JS as an external SharedArrayBuffer (raw V8: Node 20's N-API cannot create one). The mapping is freed only when the last
// reference to its backing store goes: every SAB clone in every worker and the VM's
// KVM_SET_USER_MEMORY_REGION registration (vm.cc) each hold one.
#include "memory.h"

#include <sys/mman.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/stat.h>

#include <string>

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

/**
 * guestRamDataRanges(sab) -> [[start, end], ...]: the byte ranges of guest RAM's memfd that hold
 * data (SEEK_DATA/SEEK_HOLE); the rest was never touched and reads as zeros. null when the buffer
 * has no memfd (a snapshot file mapped by mapGuestRamFile).
 */
static Napi::Value GuestRamDataRanges(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::shared_ptr<v8::BackingStore> store = SabBackingStore(env, info[0], "memory");
  std::lock_guard<std::mutex> lock(g_memfds_mutex);
  auto it = g_memfds.find(store->Data());
  if (it == g_memfds.end()) return env.Null();
  int fd = it->second;
  off_t end = static_cast<off_t>(store->ByteLength());
  Napi::Array out = Napi::Array::New(env);
  uint32_t n = 0;
  for (off_t pos = 0; pos < end;) {
    off_t data = ::lseek(fd, pos, SEEK_DATA);
    if (data < 0) {
      if (errno == ENXIO) break;  // no data after pos
      ThrowErrno(env, errno, "lseek");
    }
    off_t hole = ::lseek(fd, data, SEEK_HOLE);
    if (hole < 0) ThrowErrno(env, errno, "lseek");
    if (hole > end) hole = end;
    Napi::Array r = Napi::Array::New(env, 2);
    r.Set(0u, Napi::Number::New(env, static_cast<double>(data)));
    r.Set(1u, Napi::Number::New(env, static_cast<double>(hole)));
    out.Set(n++, r);
    pos = hole;
  }
  return out;
}

static void UnmapFileRam(void* data, size_t length, void* /*deleter_data*/) {
  // SAFETY: data/length are exactly what mmap returned in MapGuestRamFile; V8 calls this once,
  // after the last BackingStore reference is gone.
  ::munmap(data, length);
}

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22  // Linux 5.14, include/uapi/asm-generic/mman-common.h
#endif

/**
 * Maps every page of `mem` for reading: the page-cache pages of the file, shared with every other
 * mapping of it, until the guest writes one. MADV_POPULATE_READ where the kernel has it (5.14),
 * else one read per page. Failure is not an error: the pages then fault in on first touch.
 */
static void PrefaultRead(void* mem, uint64_t size, uint64_t page) {
  // SAFETY: mem/size is the whole mapping just made; madvise only populates page tables.
  if (::madvise(mem, size, MADV_POPULATE_READ) == 0) return;
  if (errno != EINVAL) return;
  // SAFETY: every address read lies inside the mapping; a volatile read faults its page in
  // read-only (a private mapping keeps the page-cache page until a write copies it).
  volatile const uint8_t* p = static_cast<const uint8_t*>(mem);
  uint8_t sink = 0;
  for (uint64_t off = 0; off < size; off += page) sink ^= p[off];
  (void)sink;
}

/**
 * mapGuestRamFile(path, size, prefault) -> guest RAM as a private (copy-on-write) mapping of a
 * snapshot's memory file: the guest's writes stay in this process, the file is never changed, and
 * every VMM mapping the same file shares the pages it has not written. prefault maps it all in
 * now, read-only (PrefaultRead), so the pages stay shared. The file must be exactly `size` bytes.
 */
static Napi::Value MapGuestRamFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) ThrowArg(env, "path must be a string");
  std::string path = info[0].As<Napi::String>().Utf8Value();
  uint64_t size = ArgUint64(info, 1, "size");
  bool prefault = info.Length() > 2 && info[2].IsBoolean() && info[2].As<Napi::Boolean>().Value();
  long page = ::sysconf(_SC_PAGESIZE);
  if (size == 0 || size % static_cast<uint64_t>(page) != 0) ThrowArg(env, "size must be a non-zero multiple of the page size");
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) ThrowErrno(env, errno, "open");
  struct stat st {};
  if (::fstat(fd, &st) < 0) {
    int err = errno;
    ::close(fd);
    ThrowErrno(env, err, "fstat");
  }
  if (static_cast<uint64_t>(st.st_size) != size) {
    ::close(fd);
    ThrowArg(env, "the memory file is " + std::to_string(st.st_size) + " bytes, not " + std::to_string(size));
  }
  // SAFETY: a fresh private mapping of the whole file, writable (writes are copied, never reach
  // the file); the mapping keeps the file referenced, so the fd can be closed at once. Not
  // MAP_POPULATE: on a writable private mapping it write-faults every page (mm/gup.c
  // populate_vma_page_range breaks COW), so each clone would get its own copy of all of RAM.
  void* mem = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE, fd, 0);
  int err = errno;
  ::close(fd);
  if (mem == MAP_FAILED) ThrowErrno(env, err, "mmap");
  ::madvise(mem, size, MADV_DONTDUMP);
  if (prefault) PrefaultRead(mem, size, static_cast<uint64_t>(page));
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  std::unique_ptr<v8::BackingStore> store = v8::SharedArrayBuffer::NewBackingStore(mem, size, UnmapFileRam, nullptr);
  v8::Local<v8::SharedArrayBuffer> sab = v8::SharedArrayBuffer::New(isolate, std::move(store));
  return Napi::Value(env, ToNapi(sab));
}

static Napi::Value PageSize(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(::sysconf(_SC_PAGESIZE)));
}

void InitMemory(Napi::Env env, Napi::Object exports) {
  exports.Set("allocateGuestRam", Napi::Function::New(env, AllocateGuestRam));
  exports.Set("pageSize", Napi::Function::New(env, PageSize));
  exports.Set("releaseGuestRam", Napi::Function::New(env, ReleaseGuestRam));
  exports.Set("guestRamDataRanges", Napi::Function::New(env, GuestRamDataRanges));
  exports.Set("mapGuestRamFile", Napi::Function::New(env, MapGuestRamFile));
}

}  // namespace wv
