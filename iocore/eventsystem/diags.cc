#include "iocore/eventsystem/diags.h"

#include <regex.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <ctime>
#include <memory>
#include <mutex>

#include "absl/strings/str_cat.h"

namespace tollgate {
namespace {

struct DebugConfig {
  std::mutex mu;
  std::unique_ptr<regex_t, void (*)(regex_t*)> regex{nullptr, [](regex_t* r) {
                                                       regfree(r);
                                                       delete r;
                                                     }};
  std::atomic<bool> enabled{false};
};

DebugConfig& Config() {
  static DebugConfig* config = new DebugConfig;
  return *config;
}

}  // namespace

const char* DiagLevelName(DiagLevel level) {
  switch (level) {
    case DiagLevel::kDebug:
      return "DEBUG";
    case DiagLevel::kNote:
      return "NOTE";
    case DiagLevel::kStatus:
      return "STATUS";
    case DiagLevel::kWarning:
      return "WARNING";
    case DiagLevel::kError:
      return "ERROR";
    case DiagLevel::kFatal:
      return "FATAL";
  }
  return "UNKNOWN";
}

std::string FormatDiagLine(DiagLevel level, absl::string_view tag, absl::string_view message) {
  timeval tv;
  gettimeofday(&tv, nullptr);
  struct tm tm;
  localtime_r(&tv.tv_sec, &tm);
  char when[64];
  size_t n = strftime(when, sizeof(when), "%b %e %H:%M:%S", &tm);
  snprintf(when + n, sizeof(when) - n, ".%03ld", static_cast<long>(tv.tv_usec / 1000));
  return absl::StrCat("[", when, "] ", DiagLevelName(level), ": (", tag, ") ", message);
}

void Diag(DiagLevel level, absl::string_view tag, absl::string_view message) {
  if (level == DiagLevel::kDebug && !IsDebugTagSet(tag)) return;
  std::string line = FormatDiagLine(level, tag, message);
  line.push_back('\n');
  // One write(2) per line: lines from different threads never interleave.
  (void)!write(STDERR_FILENO, line.data(), line.size());
}

absl::Status SetDebugTags(bool enabled, absl::string_view tags_regex) {
  DebugConfig& config = Config();
  std::unique_ptr<regex_t> compiled;
  if (enabled) {
    compiled = std::make_unique<regex_t>();
    std::string pattern = absl::StrCat("^(", tags_regex, ")");
    int rc = regcomp(compiled.get(), pattern.c_str(), REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
      char err[256];
      regerror(rc, compiled.get(), err, sizeof(err));
      return absl::InvalidArgumentError(absl::StrCat("debug tags '", tags_regex, "': ", err));
    }
  }
  std::lock_guard<std::mutex> lock(config.mu);
  config.regex.reset(compiled.release());
  config.enabled.store(enabled, std::memory_order_release);
  return absl::OkStatus();
}

bool IsDebugTagSet(absl::string_view tag) {
  DebugConfig& config = Config();
  if (!config.enabled.load(std::memory_order_acquire)) return false;
  std::string t(tag);
  std::lock_guard<std::mutex> lock(config.mu);
  return config.regex != nullptr && regexec(config.regex.get(), t.c_str(), 0, nullptr, 0) == 0;
}

}  // namespace tollgate
