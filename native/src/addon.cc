// Registers every part of the addon; one file per fd kind holds the code (STYLE.md layout).
#include "common.h"

namespace wv {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  InitSystem(env, exports);
  InitVm(env, exports);
  InitVcpu(env, exports);
  InitMemory(env, exports);
  InitEventfd(env, exports);
  InitPoll(env, exports);
  InitTap(env, exports);
  InitFileLock(env, exports);
  InitDiscard(env, exports);
  InitState(env, exports);
  InitSeccomp(env, exports);
  InitLandlock(env, exports);
  InitExitHub(env, exports);
  return exports;
}

}  // namespace wv

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return wv::Init(env, exports); }

NODE_API_MODULE(workervisor_kvm, InitAddon)
