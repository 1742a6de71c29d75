// JS <-> KVM register struct conversions (kvm-convert.cc).
#pragma once
#include <linux/kvm.h>

#include "common.h"

namespace wv {
/** A number property of o as u32, or a thrown TypeError naming the key. */
uint32_t ObjNum(Napi::Object o, const char* key);
Napi::Object RegsToJs(Napi::Env env, const kvm_regs& r);
kvm_regs RegsFromJs(Napi::Object o);
Napi::Object SregsToJs(Napi::Env env, const kvm_sregs& s);
kvm_sregs SregsFromJs(Napi::Object o);
Napi::Object FpuToJs(Napi::Env env, const kvm_fpu& f);
kvm_fpu FpuFromJs(Napi::Object o);
}  // namespace wv
