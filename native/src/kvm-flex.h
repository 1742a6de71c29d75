// C-layout headers for KVM's variable-length ioctl structs. In C++ the uapi headers'
// __DECLARE_FLEX_ARRAY is an empty struct of size 1, which moves `entries` to offset 12 and
// changes the ioctl numbers (their size field). These 8-byte headers match the C layout.
#pragma once
#include <linux/kvm.h>

#include <cstdint>
#include <vector>

namespace wv {

struct FlexHeader {
  uint32_t count;  // nent / nmsrs / nr
  uint32_t pad;    // padding / pad / flags
};
static_assert(sizeof(FlexHeader) == 8);

constexpr unsigned long IOCTL_GET_SUPPORTED_CPUID = _IOWR(KVMIO, 0x05, FlexHeader);
constexpr unsigned long IOCTL_SET_CPUID2 = _IOW(KVMIO, 0x90, FlexHeader);
constexpr unsigned long IOCTL_GET_MSRS = _IOWR(KVMIO, 0x88, FlexHeader);
constexpr unsigned long IOCTL_SET_MSRS = _IOW(KVMIO, 0x89, FlexHeader);
constexpr unsigned long IOCTL_SET_GSI_ROUTING = _IOW(KVMIO, 0x6a, FlexHeader);

/** A FlexHeader followed by n entries of T, zeroed, 8-byte aligned. */
template <typename T>
class FlexBuffer {
 public:
  explicit FlexBuffer(uint32_t n) : words_((sizeof(FlexHeader) + n * sizeof(T) + 7) / 8, 0) { header()->count = n; }
  FlexHeader* header() { return reinterpret_cast<FlexHeader*>(words_.data()); }
  T* entries() { return reinterpret_cast<T*>(reinterpret_cast<uint8_t*>(words_.data()) + sizeof(FlexHeader)); }
  void* data() { return words_.data(); }

 private:
  std::vector<uint64_t> words_;
};

}  // namespace wv
