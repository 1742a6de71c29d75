// FdWatcher: a libuv poll handle on an fd (an eventfd, usually) that calls a JS function each
// time the fd is readable, from this thread's event loop: the core's "epoll" dispatch.
#include <uv.h>

#include "common.h"

namespace wv {

class FdWatcher : public Napi::ObjectWrap<FdWatcher> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "FdWatcher",
                       {InstanceMethod<&FdWatcher::Stop>("stop"), InstanceMethod<&FdWatcher::SetRef>("setRef")});
  }

  /** new FdWatcher(fd, callback): starts watching for readability at once. */
  FdWatcher(const Napi::CallbackInfo& info) : Napi::ObjectWrap<FdWatcher>(info) {
    Napi::Env env = info.Env();
    int fd = ArgInt32(info, 0, "fd");
    if (info.Length() < 2 || !info[1].IsFunction()) ThrowArg(env, "callback must be a function");
    callback_ = Napi::Persistent(info[1].As<Napi::Function>());
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok) ThrowArg(env, "no event loop");
    handle_ = new uv_poll_t;
    int r = uv_poll_init(loop, handle_, fd);
    if (r != 0) {
      delete handle_;
      handle_ = nullptr;
      ThrowErrno(env, -r, "uv_poll_init");
    }
    handle_->data = this;
    uv_poll_start(handle_, UV_READABLE, OnReady);
    Ref();  // alive while watching, even if JS drops it
  }

  ~FdWatcher() override { Close(); }

 private:
  static void OnReady(uv_poll_t* handle, int status, int events) {
    auto* self = static_cast<FdWatcher*>(handle->data);
    if (self == nullptr) return;
    Napi::Env env = self->Env();
    Napi::HandleScope scope(env);
    try {
      self->callback_.MakeCallback(env.Global(), {Napi::Number::New(env, status)});
    } catch (const Napi::Error& e) {
      // An exception in the handler is the core's bug: report it as uncaught, like any callback.
      napi_fatal_exception(env, e.Value());
    }
  }

  void Close() {
    if (handle_ == nullptr) return;
    uv_poll_stop(handle_);
    handle_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(handle_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
    handle_ = nullptr;
  }

  Napi::Value Stop(const Napi::CallbackInfo& info) {
    if (handle_ != nullptr) {
      Close();
      Unref();
    }
    return info.Env().Undefined();
  }

  /** setRef(false) lets the process exit while this watcher is active. */
  Napi::Value SetRef(const Napi::CallbackInfo& info) {
    if (handle_ != nullptr) {
      if (ArgBool(info, 0, "ref")) uv_ref(reinterpret_cast<uv_handle_t*>(handle_));
      else uv_unref(reinterpret_cast<uv_handle_t*>(handle_));
    }
    return info.Env().Undefined();
  }

  Napi::FunctionReference callback_;
  uv_poll_t* handle_ = nullptr;
};

void InitPoll(Napi::Env env, Napi::Object exports) { exports.Set("FdWatcher", FdWatcher::Define(env)); }

}  // namespace wv
