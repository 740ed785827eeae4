// ReadConfigFile: the one way the config loaders read a file, so that every file error reads the
// same.

#ifndef TOLLGATE_PROXY_CONFIG_CONFIG_FILE_H_
#define TOLLGATE_PROXY_CONFIG_CONFIG_FILE_H_

#include <string>

#include "absl/status/statusor.h"

namespace tollgate {

// ReadConfigFile returns the whole content of the file at |path|. It returns NotFound
// "PATH: cannot read: No such file or directory" when the file does not exist, and
// InvalidArgument "PATH: cannot read: REASON" for any other failure (a directory, no
// permission). Any thread may call it; it blocks on the file system.
absl::StatusOr<std::string> ReadConfigFile(const std::string& path);

}  // namespace tollgate

#endif  // TOLLGATE_PROXY_CONFIG_CONFIG_FILE_H_
