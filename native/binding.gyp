{
  "targets": [
    {
      "target_name": "workervisor_kvm",
      "sources": ["src/addon.cc", "src/common.cc", "src/system.cc", "src/vm.cc", "src/vcpu.cc", "src/memory.cc", "src/eventfd.cc", "src/poll.cc", "src/kvm-convert.cc", "src/tap.cc", "src/file-lock.cc", "src/discard.cc", "src/state.cc", "src/seccomp.cc", "src/seccomp-report.cc", "src/landlock.cc", "src/exit-hub.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=9", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags_cc": ["-std=c++20", "-fexceptions", "-Wall", "-Wextra", "-Wno-missing-field-initializers", "-Wno-unused-parameter"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "conditions": [["OS!='linux'", { "type": "none" }]]
    }
  ]
}
