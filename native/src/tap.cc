// Tap devices (Documentation/networking/tuntap.rst): /dev/net/tun with TUNSETIFF, the vnet header
// ioctls, readv/writev between the tap and views of guest RAM, and the SIOCSIF* ioctls that give
// the host end an address, a netmask, a MAC and the UP flag. Thin 1:1 wrappers, no policy.
#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <vector>

#include "common.h"

namespace wv {

/** Copies a JS interface name into ifr.ifr_name (IFNAMSIZ - 1 bytes at most, NUL-terminated). */
static void SetIfName(Napi::Env env, struct ifreq& ifr, const std::string& name) {
  if (name.size() >= IFNAMSIZ) ThrowArg(env, "interface name \"" + name + "\" is longer than " + std::to_string(IFNAMSIZ - 1) + " bytes");
  std::memset(&ifr, 0, sizeof(ifr));
  std::memcpy(ifr.ifr_name, name.data(), name.size());
}

static std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (i >= info.Length() || !info[i].IsString()) ThrowArg(info.Env(), std::string(name) + " must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}

/** tapOpen(name, flags) -> { fd, name }: opens /dev/net/tun (non-blocking) and attaches it with TUNSETIFF. An empty name lets the kernel pick tapN. */
static Napi::Value TapOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = ArgString(info, 0, "name");
  uint32_t flags = ArgUint32(info, 1, "flags");
  struct ifreq ifr;
  SetIfName(env, ifr, name);
  ifr.ifr_flags = static_cast<short>(flags);
  int fd = ::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) ThrowErrno(env, errno, "open");
  // SAFETY: fd is the tun control device just opened; ifr is a zeroed struct ifreq with a
  // NUL-terminated name, which TUNSETIFF reads and overwrites with the device's name.
  if (Ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int err = errno;
    ::close(fd);
    ThrowErrno(env, err, "ioctl", "TUNSETIFF");
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("fd", Napi::Number::New(env, fd));
  out.Set("name", Napi::String::New(env, std::string(ifr.ifr_name, strnlen(ifr.ifr_name, IFNAMSIZ))));
  return out;
}

/** tapGetIff(fd) -> { name, flags }: TUNGETIFF, to check an fd handed in is a tap with the flags wanted. */
static Napi::Value TapGetIff(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgInt32(info, 0, "fd");
  struct ifreq ifr;
  std::memset(&ifr, 0, sizeof(ifr));
  // SAFETY: TUNGETIFF writes the name and flags into the ifreq we own.
  if (Ioctl(fd, TUNGETIFF, &ifr) < 0) ThrowErrno(env, errno, "ioctl", "TUNGETIFF");
  Napi::Object out = Napi::Object::New(env);
  out.Set("name", Napi::String::New(env, std::string(ifr.ifr_name, strnlen(ifr.ifr_name, IFNAMSIZ))));
  out.Set("flags", Napi::Number::New(env, static_cast<uint16_t>(ifr.ifr_flags)));
  return out;
}

/** tapSetVnetHdrSize(fd, bytes): TUNSETVNETHDRSZ (10, or 12 for virtio_net_hdr_v1). */
static Napi::Value TapSetVnetHdrSize(const Napi::CallbackInfo& info) {
  int fd = ArgInt32(info, 0, "fd");
  int size = ArgInt32(info, 1, "size");
  // SAFETY: TUNSETVNETHDRSZ reads one int from the pointer.
  if (Ioctl(fd, TUNSETVNETHDRSZ, &size) < 0) ThrowErrno(info.Env(), errno, "ioctl", "TUNSETVNETHDRSZ");
  return info.Env().Undefined();
}

/** tapSetOffload(fd, flags): TUNSETOFFLOAD with TUN_F_* bits; EINVAL when the kernel refuses a bit. */
static Napi::Value TapSetOffload(const Napi::CallbackInfo& info) {
  int fd = ArgInt32(info, 0, "fd");
  unsigned long flags = ArgUint32(info, 1, "flags");
  // SAFETY: TUNSETOFFLOAD takes its argument by value (an unsigned long cast to a pointer), no memory is touched.
  if (Ioctl(fd, TUNSETOFFLOAD, reinterpret_cast<void*>(flags)) < 0) ThrowErrno(info.Env(), errno, "ioctl", "TUNSETOFFLOAD");
  return info.Env().Undefined();
}

/** Fills iov from a JS array of Uint8Arrays (any backing: ArrayBuffer or SharedArrayBuffer). */
static void ReadViews(Napi::Env env, Napi::Value v, std::vector<struct iovec>& iov) {
  if (!v.IsArray()) ThrowArg(env, "views must be an array of Uint8Array");
  Napi::Array arr = v.As<Napi::Array>();
  uint32_t n = arr.Length();
  if (n > IOV_MAX) ThrowArg(env, "views has " + std::to_string(n) + " entries, more than IOV_MAX (" + std::to_string(IOV_MAX) + ")");
  iov.resize(n);
  for (uint32_t i = 0; i < n; i++) {
    Napi::Value e = arr.Get(i);
    if (!e.IsTypedArray() || e.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) ThrowArg(env, "views[" + std::to_string(i) + "] must be a Uint8Array");
    Napi::Uint8Array a = e.As<Napi::Uint8Array>();
    // SAFETY: the pointer covers exactly the view's bytes; the caller (the core thread) holds the
    // views, and guest RAM stays mapped while the VM's backing store is referenced, so the
    // memory lives through the synchronous readv/writev below.
    iov[i].iov_base = a.ByteLength() == 0 ? nullptr : a.Data();
    iov[i].iov_len = a.ByteLength();
  }
}

/** fdReadv(fd, views) -> bytes read, 0 at EOF, -1 when the fd would block (EAGAIN). One packet per call on a tap. */
static Napi::Value FdReadv(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgInt32(info, 0, "fd");
  if (info.Length() < 2) ThrowArg(env, "missing argument views");
  std::vector<struct iovec> iov;
  ReadViews(env, info[1], iov);
  ssize_t r;
  do {
    // SAFETY: iov holds valid (pointer, length) pairs into live views (ReadViews).
    r = ::readv(fd, iov.data(), static_cast<int>(iov.size()));
  } while (r < 0 && errno == EINTR);
  if (r < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return Napi::Number::New(env, -1);
    ThrowErrno(env, errno, "readv");
  }
  return Napi::Number::New(env, static_cast<double>(r));
}

/** fdWritev(fd, views) -> bytes written, -1 when the fd would block (EAGAIN). One packet per call on a tap. */
static Napi::Value FdWritev(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgInt32(info, 0, "fd");
  if (info.Length() < 2) ThrowArg(env, "missing argument views");
  std::vector<struct iovec> iov;
  ReadViews(env, info[1], iov);
  ssize_t r;
  do {
    // SAFETY: as FdReadv; writev only reads the buffers.
    r = ::writev(fd, iov.data(), static_cast<int>(iov.size()));
  } while (r < 0 && errno == EINTR);
  if (r < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return Napi::Number::New(env, -1);
    ThrowErrno(env, errno, "writev");
  }
  return Napi::Number::New(env, static_cast<double>(r));
}

/** Runs one SIOCSIF* ioctl on a throwaway AF_INET datagram socket (the way ip(8) and CH's net_util do). */
static void NetifIoctl(Napi::Env env, unsigned long request, const char* name, struct ifreq& ifr) {
  int sock = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) ThrowErrno(env, errno, "socket");
  // SAFETY: sock is our own socket; ifr is a struct ifreq filled for `request`.
  int r = Ioctl(sock, request, &ifr);
  int err = errno;
  ::close(sock);
  if (r < 0) ThrowErrno(env, err, "ioctl", name);
}

static void SetIpv4(Napi::Env env, struct ifreq& ifr, const std::string& text, const char* what) {
  struct sockaddr_in sin;
  std::memset(&sin, 0, sizeof(sin));
  sin.sin_family = AF_INET;
  if (::inet_pton(AF_INET, text.c_str(), &sin.sin_addr) != 1) ThrowArg(env, std::string(what) + " \"" + text + "\" is not an IPv4 address");
  std::memcpy(&ifr.ifr_addr, &sin, sizeof(sin));
}

/** netifSetAddress(name, ipv4): SIOCSIFADDR. */
static Napi::Value NetifSetAddress(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  struct ifreq ifr;
  SetIfName(env, ifr, ArgString(info, 0, "name"));
  SetIpv4(env, ifr, ArgString(info, 1, "address"), "address");
  NetifIoctl(env, SIOCSIFADDR, "SIOCSIFADDR", ifr);
  return env.Undefined();
}

/** netifSetNetmask(name, ipv4): SIOCSIFNETMASK. */
static Napi::Value NetifSetNetmask(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  struct ifreq ifr;
  SetIfName(env, ifr, ArgString(info, 0, "name"));
  SetIpv4(env, ifr, ArgString(info, 1, "netmask"), "netmask");
  NetifIoctl(env, SIOCSIFNETMASK, "SIOCSIFNETMASK", ifr);
  return env.Undefined();
}

/** netifSetHwaddr(name, mac: Uint8Array(6)): SIOCSIFHWADDR (the interface should be down). */
static Napi::Value NetifSetHwaddr(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  struct ifreq ifr;
  SetIfName(env, ifr, ArgString(info, 0, "name"));
  if (info.Length() < 2 || !info[1].IsTypedArray()) ThrowArg(env, "mac must be a Uint8Array of 6 bytes");
  Napi::Uint8Array mac = info[1].As<Napi::Uint8Array>();
  if (mac.ByteLength() != 6) ThrowArg(env, "mac must be a Uint8Array of 6 bytes");
  ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
  std::memcpy(ifr.ifr_hwaddr.sa_data, mac.Data(), 6);
  NetifIoctl(env, SIOCSIFHWADDR, "SIOCSIFHWADDR", ifr);
  return env.Undefined();
}

/** netifSetUp(name): SIOCGIFFLAGS then SIOCSIFFLAGS with IFF_UP added. */
static Napi::Value NetifSetUp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  struct ifreq ifr;
  SetIfName(env, ifr, ArgString(info, 0, "name"));
  NetifIoctl(env, SIOCGIFFLAGS, "SIOCGIFFLAGS", ifr);
  ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
  NetifIoctl(env, SIOCSIFFLAGS, "SIOCSIFFLAGS", ifr);
  return env.Undefined();
}

void InitTap(Napi::Env env, Napi::Object exports) {
  exports.Set("tapOpen", Napi::Function::New(env, TapOpen));
  exports.Set("tapGetIff", Napi::Function::New(env, TapGetIff));
  exports.Set("tapSetVnetHdrSize", Napi::Function::New(env, TapSetVnetHdrSize));
  exports.Set("tapSetOffload", Napi::Function::New(env, TapSetOffload));
  exports.Set("fdReadv", Napi::Function::New(env, FdReadv));
  exports.Set("fdWritev", Napi::Function::New(env, FdWritev));
  exports.Set("netifSetAddress", Napi::Function::New(env, NetifSetAddress));
  exports.Set("netifSetNetmask", Napi::Function::New(env, NetifSetNetmask));
  exports.Set("netifSetHwaddr", Napi::Function::New(env, NetifSetHwaddr));
  exports.Set("netifSetUp", Napi::Function::New(env, NetifSetUp));
  Napi::Object c = Napi::Object::New(env);
  c.Set("IFF_TAP", Napi::Number::New(env, IFF_TAP));
  c.Set("IFF_NO_PI", Napi::Number::New(env, IFF_NO_PI));
  c.Set("IFF_VNET_HDR", Napi::Number::New(env, IFF_VNET_HDR));
  c.Set("IFF_MULTI_QUEUE", Napi::Number::New(env, IFF_MULTI_QUEUE));
  c.Set("TUN_F_CSUM", Napi::Number::New(env, TUN_F_CSUM));
  c.Set("TUN_F_TSO4", Napi::Number::New(env, TUN_F_TSO4));
  c.Set("TUN_F_TSO6", Napi::Number::New(env, TUN_F_TSO6));
  c.Set("TUN_F_TSO_ECN", Napi::Number::New(env, TUN_F_TSO_ECN));
  c.Set("TUN_F_UFO", Napi::Number::New(env, TUN_F_UFO));
  exports.Set("TAP", c);
}

}  // namespace wv
