// Registers every part of the addon; one file per fd kind holds the code (STYLE.md layout).
#include <dlfcn.h>

#include "common.h"

namespace wv {

// Node unloads (dlclose) an addon once the last worker thread that loaded it is gone. Guest RAM's
// SharedArrayBuffer has its deleter (UnmapGuestRam) in this library, and V8 may run it later,
// when a worker's heap is torn down: after an unload that is a jump into unmapped code (seen with
// the VMM core in a worker, createVmm). RTLD_NODELETE on our own handle keeps the code mapped.
static void PinLibrary() {
  Dl_info self{};
  if (dladdr(reinterpret_cast<void*>(&PinLibrary), &self) == 0 || self.dli_fname == nullptr) return;
  // SAFETY: RTLD_NOLOAD only finds the already-loaded object and raises its flags; the extra
  // reference is never closed, on purpose.
  (void)dlopen(self.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  PinLibrary();
  InitSystem(env, exports);
  InitVm(env, exports);
  InitVcpu(env, exports);
  InitMemory(env, exports);
  InitEventfd(env, exports);
  InitPoll(env, exports);
  InitTap(env, exports);
  InitFileLock(env, exports);
  return exports;
}

}  // namespace wv

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return wv::Init(env, exports); }

NODE_API_MODULE(workervisor_kvm, InitAddon)
