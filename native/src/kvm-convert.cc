// Conversions between KVM's register structs (kvm_regs, kvm_sregs, kvm_fpu) and the plain JS
// objects of native/lib/types.ts. Registers are bigints; small fields numbers.
#include "kvm-convert.h"

namespace wv {

static Napi::Object SegToJs(Napi::Env env, const kvm_segment& s) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("base", U64(env, s.base));
  o.Set("limit", s.limit);
  o.Set("selector", s.selector);
  o.Set("type", s.type);
  o.Set("present", s.present);
  o.Set("dpl", s.dpl);
  o.Set("db", s.db);
  o.Set("s", s.s);
  o.Set("l", s.l);
  o.Set("g", s.g);
  o.Set("avl", s.avl);
  o.Set("unusable", s.unusable);
  return o;
}


uint32_t ObjNum(Napi::Object o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsNumber()) ThrowArg(o.Env(), std::string(key) + " must be a number");
  return v.As<Napi::Number>().Uint32Value();
}

static Napi::Object Obj(Napi::Object o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsObject()) ThrowArg(o.Env(), std::string(key) + " must be an object");
  return v.As<Napi::Object>();
}

static kvm_segment SegFromJs(Napi::Object o) {
  kvm_segment s{};
  s.base = ValueToUint64(o.Env(), o.Get("base"), "base");
  s.limit = ObjNum(o, "limit");
  s.selector = static_cast<uint16_t>(ObjNum(o, "selector"));
  s.type = static_cast<uint8_t>(ObjNum(o, "type"));
  s.present = static_cast<uint8_t>(ObjNum(o, "present"));
  s.dpl = static_cast<uint8_t>(ObjNum(o, "dpl"));
  s.db = static_cast<uint8_t>(ObjNum(o, "db"));
  s.s = static_cast<uint8_t>(ObjNum(o, "s"));
  s.l = static_cast<uint8_t>(ObjNum(o, "l"));
  s.g = static_cast<uint8_t>(ObjNum(o, "g"));
  s.avl = static_cast<uint8_t>(ObjNum(o, "avl"));
  s.unusable = static_cast<uint8_t>(ObjNum(o, "unusable"));
  return s;
}

#define WV_REGS(X) X(rax) X(rbx) X(rcx) X(rdx) X(rsi) X(rdi) X(rsp) X(rbp) X(r8) X(r9) X(r10) X(r11) X(r12) X(r13) X(r14) X(r15) X(rip) X(rflags)
#define WV_SEGS(X) X(cs) X(ds) X(es) X(fs) X(gs) X(ss) X(tr) X(ldt)

Napi::Object RegsToJs(Napi::Env env, const kvm_regs& r) {
  Napi::Object o = Napi::Object::New(env);
#define WV_TO(name) o.Set(#name, U64(env, r.name));
  WV_REGS(WV_TO)
#undef WV_TO
  return o;
}

kvm_regs RegsFromJs(Napi::Object o) {
  kvm_regs r{};
#define WV_FROM(name) r.name = ValueToUint64(o.Env(), o.Get(#name), #name);
  WV_REGS(WV_FROM)
#undef WV_FROM
  return r;
}

Napi::Object SregsToJs(Napi::Env env, const kvm_sregs& s) {
  Napi::Object o = Napi::Object::New(env);
#define WV_TO(name) o.Set(#name, SegToJs(env, s.name));
  WV_SEGS(WV_TO)
#undef WV_TO
  for (auto [name, dt] : {std::pair{"gdt", &s.gdt}, std::pair{"idt", &s.idt}}) {
    Napi::Object d = Napi::Object::New(env);
    d.Set("base", U64(env, dt->base));
    d.Set("limit", dt->limit);
    o.Set(name, d);
  }
  o.Set("cr0", U64(env, s.cr0));
  o.Set("cr2", U64(env, s.cr2));
  o.Set("cr3", U64(env, s.cr3));
  o.Set("cr4", U64(env, s.cr4));
  o.Set("cr8", U64(env, s.cr8));
  o.Set("efer", U64(env, s.efer));
  o.Set("apicBase", U64(env, s.apic_base));
  Napi::Array bm = Napi::Array::New(env, 4);
  for (uint32_t i = 0; i < 4; i++) bm.Set(i, U64(env, s.interrupt_bitmap[i]));
  o.Set("interruptBitmap", bm);
  return o;
}

kvm_sregs SregsFromJs(Napi::Object o) {
  Napi::Env env = o.Env();
  kvm_sregs s{};
#define WV_FROM(name) s.name = SegFromJs(Obj(o, #name));
  WV_SEGS(WV_FROM)
#undef WV_FROM
  for (auto [name, dt] : {std::pair{"gdt", &s.gdt}, std::pair{"idt", &s.idt}}) {
    Napi::Object d = Obj(o, name);
    dt->base = ValueToUint64(env, d.Get("base"), "base");
    dt->limit = static_cast<uint16_t>(ObjNum(d, "limit"));
  }
  s.cr0 = ValueToUint64(env, o.Get("cr0"), "cr0");
  s.cr2 = ValueToUint64(env, o.Get("cr2"), "cr2");
  s.cr3 = ValueToUint64(env, o.Get("cr3"), "cr3");
  s.cr4 = ValueToUint64(env, o.Get("cr4"), "cr4");
  s.cr8 = ValueToUint64(env, o.Get("cr8"), "cr8");
  s.efer = ValueToUint64(env, o.Get("efer"), "efer");
  s.apic_base = ValueToUint64(env, o.Get("apicBase"), "apicBase");
  Napi::Value bmv = o.Get("interruptBitmap");
  if (bmv.IsArray()) {
    Napi::Array bm = bmv.As<Napi::Array>();
    for (uint32_t i = 0; i < 4 && i < bm.Length(); i++) s.interrupt_bitmap[i] = ValueToUint64(env, bm.Get(i), "interruptBitmap");
  }
  return s;
}

Napi::Object FpuToJs(Napi::Env env, const kvm_fpu& f) {
  Napi::Object o = Napi::Object::New(env);
  Napi::Uint8Array fpr = Napi::Uint8Array::New(env, sizeof(f.fpr));
  std::memcpy(fpr.Data(), f.fpr, sizeof(f.fpr));
  o.Set("fpr", fpr);
  Napi::Uint8Array xmm = Napi::Uint8Array::New(env, sizeof(f.xmm));
  std::memcpy(xmm.Data(), f.xmm, sizeof(f.xmm));
  o.Set("xmm", xmm);
  o.Set("fcw", f.fcw);
  o.Set("fsw", f.fsw);
  o.Set("ftwx", f.ftwx);
  o.Set("lastOpcode", f.last_opcode);
  o.Set("lastIp", U64(env, f.last_ip));
  o.Set("lastDp", U64(env, f.last_dp));
  o.Set("mxcsr", f.mxcsr);
  return o;
}

kvm_fpu FpuFromJs(Napi::Object o) {
  Napi::Env env = o.Env();
  kvm_fpu f{};
  for (auto [key, dst, len] : {std::tuple{"fpr", static_cast<void*>(f.fpr), sizeof(f.fpr)},
                               std::tuple{"xmm", static_cast<void*>(f.xmm), sizeof(f.xmm)}}) {
    Napi::Value v = o.Get(key);
    if (!v.IsTypedArray()) ThrowArg(env, std::string(key) + " must be a Uint8Array");
    Napi::Uint8Array a = v.As<Napi::Uint8Array>();
    if (a.ByteLength() != len) ThrowArg(env, std::string(key) + " has the wrong length");
    std::memcpy(dst, a.Data(), len);
  }
  f.fcw = static_cast<uint16_t>(ObjNum(o, "fcw"));
  f.fsw = static_cast<uint16_t>(ObjNum(o, "fsw"));
  f.ftwx = static_cast<uint8_t>(ObjNum(o, "ftwx"));
  f.last_opcode = static_cast<uint16_t>(ObjNum(o, "lastOpcode"));
  f.last_ip = ValueToUint64(env, o.Get("lastIp"), "lastIp");
  f.last_dp = ValueToUint64(env, o.Get("lastDp"), "lastDp");
  f.mxcsr = ObjNum(o, "mxcsr");
  return f;
}

}  // namespace wv
