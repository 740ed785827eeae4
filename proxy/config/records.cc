#include "proxy/config/records.h"

#include <sys/stat.h>

#include <cstdint>
#include <exception>
#include <limits>
#include <string>
#include <utility>
#include <variant>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "proxy/config/config_file.h"
#include "proxy/config/ports.h"
#include "third_party/yaml_documents.h"
#include "yaml-cpp/yaml.h"

namespace tollgate {
namespace {

constexpr absl::string_view kPrefix = "proxy.config.";
constexpr int kIntMax = std::numeric_limits<int>::max();

// A record's storage in RecordsConfig. int and bool fields are INT records; std::string and
// VerifyServerPolicy fields are STRING records. No record Tollgate reads is a FLOAT.
using Field = std::variant<int RecordsConfig::*, bool RecordsConfig::*,
                           std::string RecordsConfig::*, VerifyServerPolicy RecordsConfig::*>;

struct RecordSpec {
  absl::string_view name;  // Without kPrefix.
  Field field;
  int min = 0;  // For int fields: the inclusive valid range.
  int max = 0;
};

// Every record Tollgate reads. Keep in sync with the fields and comments of RecordsConfig.
const RecordSpec kRecords[] = {
    {"http.server_ports", &RecordsConfig::http_server_ports},
    {"ssl.server.cert.path", &RecordsConfig::ssl_server_cert_path},
    {"ssl.server.private_key.path", &RecordsConfig::ssl_server_private_key_path},
    {"ssl.handshake_timeout_in", &RecordsConfig::ssl_handshake_timeout_in, 0, 65535},
    {"ssl.max_record_size", &RecordsConfig::ssl_max_record_size, -1, 16383},
    {"ssl.server.ticket_key.filename", &RecordsConfig::ssl_server_ticket_key_filename},
    {"ssl.server.cipher_suite", &RecordsConfig::ssl_server_cipher_suite},
    {"ssl.server.groups_list", &RecordsConfig::ssl_server_groups_list},
    {"ssl.TLSv1_2", &RecordsConfig::ssl_tlsv1_2},
    {"ssl.TLSv1_3", &RecordsConfig::ssl_tlsv1_3},
    {"ssl.client.verify.server.policy", &RecordsConfig::ssl_client_verify_server_policy},
    {"ssl.client.CA.cert.filename", &RecordsConfig::ssl_client_ca_cert_filename},
    {"ssl.servername.filename", &RecordsConfig::ssl_servername_filename},
    {"ssl.server.multicert.filename", &RecordsConfig::ssl_server_multicert_filename},
    {"net.connections_throttle", &RecordsConfig::net_connections_throttle, 1, kIntMax},
    {"net.default_inactivity_timeout", &RecordsConfig::net_default_inactivity_timeout, 0, kIntMax},
    {"exec_thread.autoconfig", &RecordsConfig::exec_thread_autoconfig},
    {"exec_thread.limit", &RecordsConfig::exec_thread_limit, 1, 4096},
    {"task_threads", &RecordsConfig::task_threads, 1, 4096},
    {"http.keep_alive_no_activity_timeout_in",
     &RecordsConfig::http_keep_alive_no_activity_timeout_in, 0, kIntMax},
    {"http.keep_alive_no_activity_timeout_out",
     &RecordsConfig::http_keep_alive_no_activity_timeout_out, 0, kIntMax},
    {"http.transaction_no_activity_timeout_in",
     &RecordsConfig::http_transaction_no_activity_timeout_in, 0, kIntMax},
    {"http.transaction_no_activity_timeout_out",
     &RecordsConfig::http_transaction_no_activity_timeout_out, 0, kIntMax},
    {"http.connect_attempts_timeout", &RecordsConfig::http_connect_attempts_timeout, 0, kIntMax},
    {"diags.debug.enabled", &RecordsConfig::diags_debug_enabled},
    {"diags.debug.tags", &RecordsConfig::diags_debug_tags},
    {"plugin.plugin_dir", &RecordsConfig::plugin_plugin_dir},
    {"admin.port", &RecordsConfig::admin_port, 0, 65535},
    {"stop.shutdown_timeout", &RecordsConfig::stop_shutdown_timeout, 0, kIntMax},
};

const RecordSpec* FindRecord(absl::string_view full_name) {
  if (!absl::ConsumePrefix(&full_name, kPrefix)) return nullptr;
  for (const RecordSpec& spec : kRecords) {
    if (spec.name == full_name) return &spec;
  }
  return nullptr;
}

bool IsIntRecord(const RecordSpec& spec) {
  return std::holds_alternative<int RecordsConfig::*>(spec.field) ||
      std::holds_alternative<bool RecordsConfig::*>(spec.field);
}

const char* TypeName(const RecordSpec& spec) { return IsIntRecord(spec) ? "INT" : "STRING"; }

constexpr absl::string_view kPolicyNames[] = {"DISABLED", "PERMISSIVE", "ENFORCED"};

// ApplyValue stores |value| (|is_null| for a YAML null) into |spec|'s field. Its errors say what
// is valid but not where: the caller prefixes "FILE:LINE: RECORD: ".
absl::Status ApplyValue(const RecordSpec& spec, absl::string_view value, bool is_null,
                        RecordsConfig* config) {
  if (auto* field = std::get_if<int RecordsConfig::*>(&spec.field)) {
    int64_t number = 0;
    if (is_null || !absl::SimpleAtoi(value, &number) || number < spec.min || number > spec.max) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", value, "' is not an integer in ", spec.min, "..", spec.max));
    }
    config->*(*field) = static_cast<int>(number);
  } else if (auto* flag = std::get_if<bool RecordsConfig::*>(&spec.field)) {
    if (is_null || (value != "0" && value != "1")) {
      return absl::InvalidArgumentError(absl::StrCat("'", value, "' is not 0 or 1"));
    }
    config->*(*flag) = value == "1";
  } else if (auto* text = std::get_if<std::string RecordsConfig::*>(&spec.field)) {
    std::string stored = is_null ? std::string() : std::string(value);
    if (spec.name == "http.server_ports") {
      absl::StatusOr<std::vector<ServerPort>> ports = ParseServerPorts(stored);
      if (!ports.ok()) return ports.status();
    }
    config->*(*text) = std::move(stored);
  } else if (auto* policy = std::get_if<VerifyServerPolicy RecordsConfig::*>(&spec.field)) {
    for (size_t i = 0; i < std::size(kPolicyNames); ++i) {
      if (!is_null && absl::EqualsIgnoreCase(value, kPolicyNames[i])) {
        config->*(*policy) = static_cast<VerifyServerPolicy>(i);
        return absl::OkStatus();
      }
    }
    return absl::InvalidArgumentError(
        absl::StrCat("'", value, "' is not one of ", absl::StrJoin(kPolicyNames, ", ")));
  }
  return absl::OkStatus();
}

// Loader owns the error and warning format shared by both file formats.
class Loader {
 public:
  Loader(absl::string_view filename, std::vector<std::string>* warnings)
      : filename_(filename), warnings_(warnings) {
    config_.source = std::string(filename);
  }

  absl::Status Error(int line, absl::string_view message) const {
    if (line <= 0) return absl::InvalidArgumentError(absl::StrCat(filename_, ": ", message));
    return absl::InvalidArgumentError(absl::StrCat(filename_, ":", line, ": ", message));
  }

  void Warn(int line, absl::string_view message) const {
    if (warnings_ != nullptr)
      warnings_->push_back(absl::StrCat(filename_, ":", line, ": ", message));
  }

  // Set applies one record. |duplicate_is_error| selects records.yaml's rule (an error) over
  // records.config's (a warning; the later line wins).
  absl::Status Set(absl::string_view full_name, absl::string_view value, bool is_null, int line,
                   bool duplicate_is_error) {
    const RecordSpec* spec = FindRecord(full_name);
    if (spec == nullptr) {
      Warn(line, absl::StrCat("unknown record '", full_name, "' ignored"));
      return absl::OkStatus();
    }
    auto [it, inserted] = config_.lines.try_emplace(std::string(full_name), line);
    if (!inserted) {
      const std::string message =
          absl::StrCat(full_name, ": given twice (first at line ", it->second, ")");
      if (duplicate_is_error) return Error(line, message);
      Warn(line, absl::StrCat(message, "; this line's value is used"));
      it->second = line;
    }
    if (absl::Status s = ApplyValue(*spec, value, is_null, &config_); !s.ok()) {
      return Error(line, absl::StrCat(full_name, ": ", s.message()));
    }
    return absl::OkStatus();
  }

  RecordsConfig& config() { return config_; }

 private:
  std::string filename_;
  std::vector<std::string>* warnings_;
  RecordsConfig config_;
};

// --- records.yaml --------------------------------------------------------------------------------

const char* KindName(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      return "nothing";
    case YAML::NodeType::Scalar:
      return "a value";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a map";
  }
  return "nothing";
}

int LineOf(const YAML::Node& node, int fallback) {
  const int line = node.Mark().line;
  return line >= 0 ? line + 1 : fallback;
}

// WalkYaml applies every record in |map|, whose keys extend the dotted |path| ("" under ts:).
absl::Status WalkYaml(const YAML::Node& map, const std::string& path, int map_line,
                      Loader* loader) {
  for (auto it = map.begin(); it != map.end(); ++it) {
    const int key_line = LineOf(it->first, map_line);
    if (!it->first.IsScalar()) {
      return loader->Error(key_line, absl::StrCat("keys must be names, got ", KindName(it->first)));
    }
    const std::string name =
        path.empty() ? it->first.Scalar() : absl::StrCat(path, ".", it->first.Scalar());
    const std::string full_name = absl::StrCat(kPrefix, name);
    const YAML::Node value = it->second;  // A copy: it-> returns a temporary proxy.
    const RecordSpec* spec = FindRecord(full_name);
    if (value.IsMap() && spec == nullptr) {
      if (absl::Status s = WalkYaml(value, name, key_line, loader); !s.ok()) return s;
      continue;
    }
    if (spec == nullptr) {  // An unknown record; its value's shape does not matter.
      loader->Warn(key_line, absl::StrCat("unknown record '", full_name, "' ignored"));
      continue;
    }
    if (!value.IsScalar() && !value.IsNull()) {
      return loader->Error(
          LineOf(value, key_line),
          absl::StrCat(full_name, ": expected ", IsIntRecord(*spec) ? "an INT" : "a STRING",
                       " value, got ", KindName(value)));
    }
    // yaml-cpp marks a null value at the next token, often on the next line: use the key's.
    const int line = value.IsNull() ? key_line : LineOf(value, key_line);
    const std::string text = value.IsScalar() ? value.Scalar() : std::string();
    if (absl::Status s = loader->Set(full_name, text, value.IsNull(), line, true); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::Status LoadYamlDocument(const YAML::Node& root, Loader* loader) {
  if (root.IsNull()) return absl::OkStatus();  // An empty file.
  if (!root.IsMap()) {
    return loader->Error(
        LineOf(root, 1),
        absl::StrCat("expected a map with a 'ts' key at the top, got ", KindName(root)));
  }
  bool seen = false;
  for (auto it = root.begin(); it != root.end(); ++it) {
    const int key_line = LineOf(it->first, 1);
    if (!it->first.IsScalar()) {
      return loader->Error(key_line,
                           absl::StrCat("top-level keys must be names, got ", KindName(it->first)));
    }
    const std::string key = it->first.Scalar();
    if (key != "ts" && key != "records") {
      loader->Warn(key_line, absl::StrCat("unknown top-level key '", key, "' ignored"));
      continue;
    }
    if (seen) return loader->Error(key_line, "only one of 'ts' and 'records' may be given, once");
    seen = true;
    const YAML::Node tree = it->second;  // A copy: it-> returns a temporary proxy.
    if (tree.IsNull()) continue;
    if (!tree.IsMap()) {
      return loader->Error(LineOf(tree, key_line),
                           absl::StrCat(key, ": expected a map of records, got ", KindName(tree)));
    }
    if (absl::Status s = WalkYaml(tree, "", key_line, loader); !s.ok()) return s;
  }
  return absl::OkStatus();
}

// --- records.config ------------------------------------------------------------------------------

// NextWord removes and returns the first blank-separated word of |*rest|.
absl::string_view NextWord(absl::string_view* rest) {
  *rest = absl::StripLeadingAsciiWhitespace(*rest);
  size_t end = 0;
  while (end < rest->size() && !absl::ascii_isspace(static_cast<unsigned char>((*rest)[end]))) {
    ++end;
  }
  absl::string_view word = rest->substr(0, end);
  rest->remove_prefix(end);
  return word;
}

absl::Status LoadConfigLine(absl::string_view line_text, int line, Loader* loader) {
  absl::string_view rest = line_text;
  const absl::string_view kind = NextWord(&rest);
  const absl::string_view name = NextWord(&rest);
  const absl::string_view type = NextWord(&rest);
  const absl::string_view value = absl::StripAsciiWhitespace(rest);
  if ((kind != "CONFIG" && kind != "LOCAL") || name.empty() || type.empty()) {
    return loader->Error(line,
                         absl::StrCat("expected 'CONFIG NAME TYPE VALUE', got '",
                                      absl::StripAsciiWhitespace(line_text), "'"));
  }
  if (type != "INT" && type != "STRING" && type != "FLOAT") {
    return loader->Error(
        line, absl::StrCat(name, ": unknown type '", type, "' (expected INT, STRING or FLOAT)"));
  }
  if (const RecordSpec* spec = FindRecord(name); spec != nullptr && type != TypeName(*spec)) {
    return loader->Error(line,
                         absl::StrCat(name, ": the record is ", TypeName(*spec), ", not ", type));
  }
  // ATS reads the STRING value NULL as no value.
  const bool is_null = type == "STRING" && value == "NULL";
  return loader->Set(name, is_null ? absl::string_view() : value, is_null, line, false);
}

std::string JoinPath(absl::string_view dir, absl::string_view file) {
  if (dir.empty()) return std::string(file);
  if (dir.back() == '/') return absl::StrCat(dir, file);
  return absl::StrCat(dir, "/", file);
}

std::string Quoted(absl::string_view text) { return text.empty() ? "''" : std::string(text); }

}  // namespace

const char* VerifyServerPolicyName(VerifyServerPolicy policy) {
  switch (policy) {
    case VerifyServerPolicy::kDisabled:
      return "DISABLED";
    case VerifyServerPolicy::kPermissive:
      return "PERMISSIVE";
    case VerifyServerPolicy::kEnforced:
      return "ENFORCED";
  }
  return "?";
}

std::vector<std::string> RecordsConfig::Describe() const {
  std::vector<std::string> out;
  out.push_back(absl::StrCat("records: ", source.empty() ? "built-in defaults" : source));
  out.push_back(absl::StrCat("  http.server_ports: ", Quoted(http_server_ports)));
  out.push_back(absl::StrCat("  ssl: TLSv1_2 ", ssl_tlsv1_2 ? 1 : 0, ", TLSv1_3 ",
                             ssl_tlsv1_3 ? 1 : 0, ", handshake_timeout_in ",
                             ssl_handshake_timeout_in, "s, max_record_size ", ssl_max_record_size,
                             ", server.ticket_key.filename ",
                             Quoted(ssl_server_ticket_key_filename)));
  out.push_back(absl::StrCat("  ssl.server: groups_list ", Quoted(ssl_server_groups_list),
                             ", cipher_suite ",
                             ssl_server_cipher_suite.empty() ? std::string("(BoringSSL's default)")
                                                             : Quoted(ssl_server_cipher_suite)));
  out.push_back(absl::StrCat("  ssl files: server.multicert.filename ",
                             Quoted(ssl_server_multicert_filename), ", servername.filename ",
                             Quoted(ssl_servername_filename), ", server.cert.path ",
                             Quoted(ssl_server_cert_path), ", server.private_key.path ",
                             Quoted(ssl_server_private_key_path)));
  out.push_back(absl::StrCat("  ssl.client: verify.server.policy ",
                             VerifyServerPolicyName(ssl_client_verify_server_policy),
                             ", CA.cert.filename ", Quoted(ssl_client_ca_cert_filename)));
  out.push_back(absl::StrCat("  net: connections_throttle ", net_connections_throttle,
                             ", default_inactivity_timeout ", net_default_inactivity_timeout, "s"));
  out.push_back(absl::StrCat("  threads: exec_thread.autoconfig ", exec_thread_autoconfig ? 1 : 0,
                             ", exec_thread.limit ", exec_thread_limit, ", task_threads ",
                             task_threads));
  out.push_back(absl::StrCat(
      "  http timeouts: keep_alive_no_activity in ", http_keep_alive_no_activity_timeout_in,
      "s out ", http_keep_alive_no_activity_timeout_out, "s, transaction_no_activity in ",
      http_transaction_no_activity_timeout_in, "s out ", http_transaction_no_activity_timeout_out,
      "s, connect_attempts ", http_connect_attempts_timeout, "s"));
  out.push_back(absl::StrCat("  diags: debug.enabled ", diags_debug_enabled ? 1 : 0,
                             ", debug.tags ", Quoted(diags_debug_tags)));
  out.push_back(absl::StrCat("  plugin.plugin_dir: ", Quoted(plugin_plugin_dir)));
  out.push_back(absl::StrCat("  admin.port: ", admin_port, admin_port == 0 ? " (off)" : ""));
  out.push_back(absl::StrCat("  stop.shutdown_timeout: ", stop_shutdown_timeout, "s"));
  return out;
}

absl::StatusOr<RecordsConfig> LoadRecordsYaml(absl::string_view content, absl::string_view filename,
                                              std::vector<std::string>* warnings) {
  Loader loader(filename, warnings);
  // yaml-cpp reports syntax errors (and a few misuses) by throwing; nothing may escape.
  try {
    const std::string text(content);
    const YamlDocuments documents = ScanYamlDocuments(text);
    if (documents.stuck_line > 0) {
      return loader.Error(documents.stuck_line, "yaml: unexpected character outside any node");
    }
    if (documents.count > 1) {
      return loader.Error(documents.second_line, "only one YAML document is allowed");
    }
    const YAML::Node root = documents.count == 0 ? YAML::Node() : YAML::Load(text);
    if (absl::Status s = LoadYamlDocument(root, &loader); !s.ok()) return s;
  } catch (const YAML::Exception& e) {
    return loader.Error(e.mark.line >= 0 ? e.mark.line + 1 : 0, absl::StrCat("yaml: ", e.msg));
  } catch (const std::exception& e) {
    return loader.Error(0, absl::StrCat("cannot parse: ", e.what()));
  }
  return std::move(loader.config());
}

absl::StatusOr<RecordsConfig> LoadRecordsConfig(absl::string_view content,
                                                absl::string_view filename,
                                                std::vector<std::string>* warnings) {
  Loader loader(filename, warnings);
  int line = 0;
  for (absl::string_view text : absl::StrSplit(content, '\n')) {
    ++line;
    absl::ConsumeSuffix(&text, "\r");
    const absl::string_view trimmed = absl::StripAsciiWhitespace(text);
    if (trimmed.empty() || trimmed.front() == '#') continue;
    if (absl::Status s = LoadConfigLine(text, line, &loader); !s.ok()) return s;
  }
  return std::move(loader.config());
}

absl::StatusOr<RecordsConfig> LoadRecordsFromDir(const std::string& config_dir,
                                                 std::vector<std::string>* warnings) {
  struct stat st;
  if (stat(config_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return absl::NotFoundError(absl::StrCat(config_dir, ": not a directory"));
  }
  const std::string yaml_path = JoinPath(config_dir, "records.yaml");
  const std::string config_path = JoinPath(config_dir, "records.config");
  absl::StatusOr<std::string> yaml = ReadConfigFile(yaml_path);
  absl::StatusOr<std::string> legacy = ReadConfigFile(config_path);
  if (!yaml.ok() && !absl::IsNotFound(yaml.status())) return yaml.status();
  if (yaml.ok()) {
    if (legacy.ok() && warnings != nullptr) {
      warnings->push_back(absl::StrCat(config_path, ": ignored, because ", yaml_path, " exists"));
    }
    return LoadRecordsYaml(*yaml, yaml_path, warnings);
  }
  if (!legacy.ok() && !absl::IsNotFound(legacy.status())) return legacy.status();
  if (legacy.ok()) return LoadRecordsConfig(*legacy, config_path, warnings);
  return RecordsConfig();
}

}  // namespace tollgate
