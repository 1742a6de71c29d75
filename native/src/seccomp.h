// Shared by seccomp.cc (installing filters) and seccomp-report.cc (the SIGSYS handler).
#pragma once

#include <string>

namespace wv {

/** The name the SIGSYS report gives the calling thread (all_threads: every thread without its own). */
void SetThreadSeccompLabel(const std::string& label, bool all_threads);

}  // namespace wv
