// The SIGSYS handler that reports a seccomp violation (SECCOMP_RET_TRAP): one log line naming the
// thread and the syscall, written with write(2) to the log's fd, then exit_group with a fixed
// status, as Firecracker's handler does. Everything here is async-signal-safe: no allocation, no
// locks; the thread labels are initial-exec TLS and the syscall names are fixed before any filter.
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "common.h"
#include "seccomp.h"

namespace wv {

namespace {

constexpr size_t kLabelSize = 32;
// initial-exec: reading these in a signal handler never allocates (a dlopen'ed addon's default
// TLS model may allocate on a thread's first access).
__attribute__((tls_model("initial-exec"))) thread_local char t_label[kLabelSize];
char g_process_label[kLabelSize];
int g_log_fd = 2;
int g_exit_code = 159;
bool g_installed = false;
// Written once by seccompReportViolations, before any filter that traps is installed; read-only after.
std::vector<std::string>* g_names = nullptr;

struct Line {
  char buf[512];
  size_t n = 0;
  void Add(const char* s) {
    while (*s != '\0' && n < sizeof(buf) - 1) buf[n++] = *s++;
  }
  void Num(unsigned long long v, int width = 0) {
    char tmp[24];
    int i = 0;
    do {
      tmp[i++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v != 0 && i < 24);
    while (i < width && i < 24) tmp[i++] = '0';
    while (i > 0 && n < sizeof(buf) - 1) buf[n++] = tmp[--i];
  }
};

/** The log's timestamp format (ISO 8601, UTC, ms), from the days since 1970 (H. Hinnant's civil_from_days). */
void AddTimestamp(Line& line) {
  struct timespec ts = {};
  clock_gettime(CLOCK_REALTIME, &ts);
  long long days = ts.tv_sec / 86400;
  long long secs = ts.tv_sec % 86400;
  days += 719468;
  long long era = days / 146097;
  long long doe = days - era * 146097;
  long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  long long mp = (5 * doy + 2) / 153;
  long long day = doy - (153 * mp + 2) / 5 + 1;
  long long month = mp < 10 ? mp + 3 : mp - 9;
  long long year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  line.Num(year, 4), line.Add("-"), line.Num(month, 2), line.Add("-"), line.Num(day, 2), line.Add("T");
  line.Num(secs / 3600, 2), line.Add(":"), line.Num(secs / 60 % 60, 2), line.Add(":"), line.Num(secs % 60, 2), line.Add(".");
  line.Num(ts.tv_nsec / 1000000, 3), line.Add("Z ");
}

void OnSigsys(int, siginfo_t* info, void*) {
  Line line;
  AddTimestamp(line);
  line.Add("ERROR [seccomp] thread ");
  line.Add(t_label[0] != '\0' ? t_label : g_process_label[0] != '\0' ? g_process_label : "?");
  line.Add(" (tid ");
  line.Num(static_cast<unsigned long long>(::syscall(SYS_gettid)));
  line.Add(") made syscall ");
  int nr = info->si_syscall;
  if (g_names != nullptr && nr >= 0 && static_cast<size_t>(nr) < g_names->size() && !(*g_names)[nr].empty()) {
    line.Add((*g_names)[nr].c_str());
    line.Add(" (");
    line.Num(static_cast<unsigned long long>(nr));
    line.Add(")");
  } else {
    line.Num(static_cast<unsigned long long>(static_cast<unsigned int>(nr)));
  }
  line.Add(", which its seccomp filter does not allow; the VMM exits with status ");
  line.Num(static_cast<unsigned long long>(g_exit_code));
  line.Add("\n");
  // SAFETY: buf holds line.n initialized bytes; a short or failed write loses the line, never more.
  ssize_t ignored = ::write(g_log_fd, line.buf, line.n);
  (void)ignored;
  ::_exit(g_exit_code);
}

}  // namespace

void SetThreadSeccompLabel(const std::string& label, bool all_threads) {
  char* dst = all_threads ? g_process_label : t_label;
  size_t n = label.size() < kLabelSize - 1 ? label.size() : kLabelSize - 1;
  std::memcpy(dst, label.data(), n);
  dst[n] = '\0';
}

/**
 * seccompReportViolations(names: string[], logFd: number, exitCode: number): installs the SIGSYS
 * handler (process-wide) that logs a trapped syscall by name (names[nr]) and exits. Call it on the
 * main thread before installing a filter whose actions trap; calling it again only updates logFd
 * and exitCode.
 */
static Napi::Value SeccompReportViolations(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArray()) ThrowArg(env, "names must be an array of syscall names");
  g_log_fd = ArgInt32(info, 1, "logFd");
  g_exit_code = ArgInt32(info, 2, "exitCode");
  if (g_installed) return env.Undefined();
  Napi::Array names = info[0].As<Napi::Array>();
  auto* table = new std::vector<std::string>(names.Length());  // never freed: the handler may run until exit
  for (uint32_t i = 0; i < names.Length(); i++) {
    Napi::Value v = names.Get(i);
    if (v.IsString()) (*table)[i] = v.As<Napi::String>().Utf8Value();
  }
  g_names = table;
  struct sigaction sa = {};
  sa.sa_sigaction = OnSigsys;
  sa.sa_flags = SA_SIGINFO;
  sigemptyset(&sa.sa_mask);
  // SAFETY: sa is fully initialized; OnSigsys only makes async-signal-safe calls.
  if (::sigaction(SIGSYS, &sa, nullptr) != 0) ThrowErrno(env, errno, "sigaction", "SIGSYS");
  g_installed = true;
  return env.Undefined();
}

void InitSeccompReport(Napi::Env env, Napi::Object exports) {
  exports.Set("seccompReportViolations", Napi::Function::New(env, SeccompReportViolations));
}

}  // namespace wv
