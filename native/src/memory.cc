// Guest RAM allocation: mmap'ed anonymous memory handed to JS as an external SharedArrayBuffer
// (raw V8: Node 20's N-API cannot create one). The mapping is freed only when the last
// reference to its backing store goes: every SAB clone in every worker and the VM's
// KVM_SET_USER_MEMORY_REGION registration (vm.cc) each hold one.
#include "memory.h"

#include <sys/mman.h>
#include <unistd.h>

namespace wv {

static void UnmapGuestRam(void* data, size_t length, void* /*deleter_data*/) {
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
  int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | (hugepages ? MAP_HUGETLB : 0);
  // SAFETY: a fresh anonymous mapping; nothing else refers to it until the BackingStore owns it.
  void* mem = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, flags, -1, 0);
  if (mem == MAP_FAILED) ThrowErrno(env, errno, "mmap");
  // Guest RAM should not end up in core dumps or be merged; failures here are harmless.
  ::madvise(mem, size, MADV_DONTDUMP);
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  std::unique_ptr<v8::BackingStore> store = v8::SharedArrayBuffer::NewBackingStore(mem, size, UnmapGuestRam, nullptr);
  v8::Local<v8::SharedArrayBuffer> sab = v8::SharedArrayBuffer::New(isolate, std::move(store));
  return Napi::Value(env, ToNapi(sab));
}

std::shared_ptr<v8::BackingStore> SabBackingStore(Napi::Env env, Napi::Value value, const char* name) {
  v8::Local<v8::Value> local = ToV8(value);
  if (!local->IsSharedArrayBuffer()) ThrowArg(env, std::string(name) + " must be a SharedArrayBuffer");
  return local.As<v8::SharedArrayBuffer>()->GetBackingStore();
}

static Napi::Value PageSize(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(::sysconf(_SC_PAGESIZE)));
}

void InitMemory(Napi::Env env, Napi::Object exports) {
  exports.Set("allocateGuestRam", Napi::Function::New(env, AllocateGuestRam));
  exports.Set("pageSize", Napi::Function::New(env, PageSize));
}

}  // namespace wv
