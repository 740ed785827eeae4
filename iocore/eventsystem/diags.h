// Diagnostics: one line per message on stderr, as `[time] LEVEL: (tag) message`.
//
// Debug lines print only when debugging is enabled and the tag matches the configured regular
// expression (proxy.config.diags.debug.enabled / .tags). Everything else always prints.
//
//   Diag(DiagLevel::kWarning, "net", absl::StrCat("accept: ", strerror(errno)));
//   if (IsDebugTagSet("ssl")) Diag(DiagLevel::kDebug, "ssl", "handshake parked");

#ifndef TOLLGATE_IOCORE_EVENTSYSTEM_DIAGS_H_
#define TOLLGATE_IOCORE_EVENTSYSTEM_DIAGS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace tollgate {

enum class DiagLevel {
  kDebug,
  kNote,
  kStatus,
  kWarning,
  kError,
  kFatal,
};

// DiagLevelName returns "DEBUG", "NOTE", "STATUS", "WARNING", "ERROR" or "FATAL".
const char* DiagLevelName(DiagLevel level);

// Diag writes one line to stderr (any thread; lines never interleave). Debug-level lines are
// dropped unless IsDebugTagSet(tag).
void Diag(DiagLevel level, absl::string_view tag, absl::string_view message);

// SetDebugTags enables debug output for tags matching |tags_regex| (a POSIX extended regular
// expression, matched against the start of the tag as ATS does), or disables it when |enabled|
// is false. Returns InvalidArgument for a bad expression (the previous setting stays).
absl::Status SetDebugTags(bool enabled, absl::string_view tags_regex);

// IsDebugTagSet returns whether debug lines for |tag| would print. Cheap when debugging is off.
bool IsDebugTagSet(absl::string_view tag);

// FormatDiagLine returns the line Diag would print (without the newline), for tests.
std::string FormatDiagLine(DiagLevel level, absl::string_view tag, absl::string_view message);

}  // namespace tollgate

#endif  // TOLLGATE_IOCORE_EVENTSYSTEM_DIAGS_H_
