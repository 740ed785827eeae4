// The `tollgate` binary as a user runs it: command line, `--check` summaries, and the one-line
// errors that name the file and line. Each test runs the real binary and reads what it prints.

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "iocore/tls/cert_gen.h"

extern char** environ;

namespace tollgate {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::MatchesRegex;
using ::testing::Not;
using ::testing::StartsWith;

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string TestTmpDir() {
  const char* dir = std::getenv("TEST_TMPDIR");
  return dir != nullptr ? dir : "/tmp";
}

std::string TollgatePath() {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  return absl::StrCat(srcdir != nullptr ? srcdir : ".", "/tollgate/proxy/tollgate");
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream data;
  data << in.rdbuf();
  return data.str();
}

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::trunc);
  out << content;
  ASSERT_TRUE(out.good()) << path;
}

// RunTollgate runs tollgate with |args| and returns its exit status and output. stdout and stderr
// go to files, so that neither pipe can fill up while the other is read.
RunResult RunTollgate(const std::vector<std::string>& args) {
  static int run_count = 0;
  const std::string prefix = absl::StrCat(TestTmpDir(), "/run", ++run_count);
  const std::string out_path = prefix + ".out";
  const std::string err_path = prefix + ".err";
  const std::string binary = TollgatePath();

  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(binary.c_str()));
  for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  pid_t pid = 0;
  RunResult result;
  const int spawn_error =
      posix_spawn(&pid, binary.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawn_error != 0) {
    ADD_FAILURE() << "cannot run " << binary << ": " << strerror(spawn_error);
    return result;
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  EXPECT_TRUE(WIFEXITED(status)) << "tollgate did not exit normally, status " << status;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.out = ReadFile(out_path);
  result.err = ReadFile(err_path);
  return result;
}

// MakeDir returns a new empty directory under TEST_TMPDIR.
std::string MakeDir() {
  std::string templ = TestTmpDir() + "/config.XXXXXX";
  EXPECT_NE(mkdtemp(templ.data()), nullptr) << strerror(errno);
  return templ;
}

// GoodConfigDir writes a complete, valid configuration directory and returns its path: three
// ports (two TLS), one certificate for a.test, two SNI rules, one remap rule, one plugin, and
// one unknown record (a warning).
std::string GoodConfigDir() {
  const std::string dir = MakeDir();
  absl::StatusOr<GeneratedCert> cert =
      MakeCert({.common_name = "a.test", .dns_names = {"a.test", "*.b.test"}});
  EXPECT_TRUE(cert.ok()) << cert.status();
  if (!cert.ok()) return dir;
  WriteFile(dir + "/a.pem", cert->CertPem());
  WriteFile(dir + "/a.key", cert->KeyPem());
  WriteFile(dir + "/records.yaml",
            "ts:\n"
            "  http:\n"
            "    server_ports: 8080 8443:ssl 9443:ssl\n"
            "  http.cache.http: 1\n");
  WriteFile(dir + "/ssl_multicert.config", "ssl_cert_name=a.pem ssl_key_name=a.key dest_ip=*\n");
  WriteFile(dir + "/sni.yaml",
            "sni:\n"
            "  - fqdn: '*.tunnel.test'\n"
            "    tunnel_route: $1.origin.test:443\n"
            "  - fqdn: a.test\n"
            "    verify_client: NONE\n");
  WriteFile(dir + "/remap.config", "map https://a.test/ http://127.0.0.1:9000/\n");
  WriteFile(dir + "/hello.so", "");
  WriteFile(dir + "/plugin.config", "hello.so --greeting hi\n");
  return dir;
}

TEST(TollgateCommandLineTest, VersionPrintsNameAndVersion) {
  RunResult r = RunTollgate({"--version"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, MatchesRegex("tollgate [0-9]+\\.[0-9]+\\.[0-9]+\n"));
  EXPECT_THAT(r.err, IsEmpty());
}

TEST(TollgateCommandLineTest, HelpPrintsUsageToStdout) {
  RunResult r = RunTollgate({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, StartsWith("usage: tollgate"));
  EXPECT_THAT(r.out, HasSubstr("--config-dir DIR"));
  EXPECT_THAT(r.out, HasSubstr("--check"));
  EXPECT_THAT(r.out, HasSubstr("--version"));
  EXPECT_THAT(r.err, IsEmpty());
}

TEST(TollgateCommandLineTest, UnknownOptionPrintsUsageToStderrAndExits2) {
  RunResult r = RunTollgate({"--bogus"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, StartsWith("tollgate: unknown option '--bogus'\nusage: tollgate"));
  EXPECT_THAT(r.out, IsEmpty());
}

TEST(TollgateCommandLineTest, ConfigDirWithoutValueIsAUsageError) {
  RunResult r = RunTollgate({"--check", "--config-dir"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, StartsWith("tollgate: --config-dir needs a directory\n"));
}

TEST(TollgateCommandLineTest, ServingWithAMissingConfigDirExits1WithoutListening) {
  const std::string missing = absl::StrCat(TestTmpDir(), "/no-such-dir");
  RunResult r = RunTollgate({"--config-dir", missing});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr(missing));
  EXPECT_THAT(r.out, Not(HasSubstr("listening")));
}

TEST(TollgateCheckTest, EmbeddedDefaultsAreValid) {
  RunResult r = RunTollgate({"--check"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("config: embedded defaults"));
  EXPECT_THAT(r.out,
              HasSubstr("2 ports (1 with ssl): 127.0.0.1:8080 (http), 127.0.0.1:8443 (tls)"));
  EXPECT_THAT(r.out, HasSubstr("1 certificate (generated, self-signed)\n  built-in: localhost"));
  EXPECT_THAT(r.out, HasSubstr("0 sni rules\n0 remap rules\n0 plugins\n0 warnings\n"));
  EXPECT_THAT(r.out, EndsWith("configuration OK\n"));
  EXPECT_THAT(r.err, IsEmpty());
}

TEST(TollgateCheckTest, GoodDirectoryIsSummarised) {
  const std::string dir = GoodConfigDir();
  RunResult r = RunTollgate({"--check", "--config-dir", dir});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr(absl::StrCat("config: ", dir, "\n")));
  EXPECT_THAT(r.out, HasSubstr("  records.yaml: loaded"));
  EXPECT_THAT(r.out, HasSubstr("  ssl_multicert.config: loaded"));
  EXPECT_THAT(r.out, HasSubstr("  sni.yaml: loaded"));
  EXPECT_THAT(r.out, HasSubstr("  remap.config: loaded"));
  EXPECT_THAT(r.out, HasSubstr("  plugin.config: loaded"));
  EXPECT_THAT(r.out,
              HasSubstr("3 ports (2 with ssl): 0.0.0.0:8080 (http), 0.0.0.0:8443 (tls), "
                        "0.0.0.0:9443 (tls)\n"));
  EXPECT_THAT(r.out,
              HasSubstr("1 certificate\n  line 1: a.test, *.b.test (ECDSA P-256) dest_ip=*"));
  EXPECT_THAT(r.out, HasSubstr("2 sni rules\n  line 2: fqdn '*.tunnel.test' tunnel_route"));
  EXPECT_THAT(r.out,
              HasSubstr("1 remap rule\n  line 1: map https://a.test/ -> http://127.0.0.1:9000/"));
  EXPECT_THAT(r.out,
              HasSubstr(absl::StrCat("1 plugin\n  line 1: hello.so --greeting hi -> ", dir,
                                     "/hello.so\n")));
  EXPECT_THAT(r.out, HasSubstr("1 warning\n  warning: "));
  EXPECT_THAT(r.out, HasSubstr("unknown record 'proxy.config.http.cache.http' ignored"));
  EXPECT_THAT(r.out, EndsWith("configuration OK\n"));
  EXPECT_THAT(r.err, IsEmpty());
}

TEST(TollgateCheckTest, AbsentFilesGiveDefaults) {
  const std::string dir = MakeDir();
  RunResult r = RunTollgate({"-c", dir, "--check"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  for (const char* file :
       {"records.yaml", "ssl_multicert.config", "sni.yaml", "remap.config", "plugin.config"}) {
    EXPECT_THAT(r.out, HasSubstr(absl::StrCat("  ", file, ": absent, defaults")));
  }
  EXPECT_THAT(r.out, HasSubstr("2 ports (1 with ssl): 0.0.0.0:8080 (http), 0.0.0.0:8443 (tls)"));
  EXPECT_THAT(r.out, HasSubstr("0 certificates\n"));
  EXPECT_THAT(r.out, HasSubstr("warning: 1 TLS port but no certificate"));
  EXPECT_THAT(r.out, EndsWith("configuration OK\n"));
}

TEST(TollgateCheckTest, RecordsConfigIsReadWhenThereIsNoRecordsYaml) {
  const std::string dir = MakeDir();
  WriteFile(dir + "/records.config", "CONFIG proxy.config.http.server_ports STRING 8080\n");
  RunResult r = RunTollgate({"--check", "--config-dir=" + dir});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("  records.config: loaded"));
  EXPECT_THAT(r.out, HasSubstr("1 port (0 with ssl): 0.0.0.0:8080 (http)\n"));
}

// ExpectError checks the one line a user sees for a broken file: "tollgate: FILE:LINE: what".
void ExpectError(const RunResult& r, const std::string& file_and_line, const std::string& what) {
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, StartsWith(absl::StrCat("tollgate: ", file_and_line, ": ")));
  EXPECT_THAT(r.err, HasSubstr(what));
  EXPECT_THAT(r.err, EndsWith("\n"));
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "more than one line: " << r.err;
  EXPECT_THAT(r.out, Not(HasSubstr("configuration OK")));
}

TEST(TollgateCheckTest, BadRecordValueNamesFileAndLine) {
  const std::string dir = GoodConfigDir();
  WriteFile(dir + "/records.yaml",
            "ts:\n"
            "  ssl:\n"
            "    max_record_size: 20000\n");
  ExpectError(RunTollgate({"--check", "-c", dir}), dir + "/records.yaml:3",
              "proxy.config.ssl.max_record_size: '20000' is not an integer in -1..16383");
}

TEST(TollgateCheckTest, MissingCertificateFileNamesFileAndLine) {
  const std::string dir = GoodConfigDir();
  WriteFile(dir + "/ssl_multicert.config",
            "# the default certificate\n"
            "ssl_cert_name=missing.pem dest_ip=*\n");
  ExpectError(RunTollgate({"--check", "-c", dir}), dir + "/ssl_multicert.config:2", "missing.pem");
}

TEST(TollgateCheckTest, KeyThatDoesNotMatchItsCertificateIsAnError) {
  const std::string dir = GoodConfigDir();
  absl::StatusOr<GeneratedCert> other = MakeCert({.common_name = "other.test"});
  ASSERT_TRUE(other.ok()) << other.status();
  WriteFile(dir + "/other.key", other->KeyPem());
  WriteFile(dir + "/ssl_multicert.config", "ssl_cert_name=a.pem ssl_key_name=other.key\n");
  RunResult r = RunTollgate({"--check", "-c", dir});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, StartsWith(absl::StrCat("tollgate: ", dir, "/ssl_multicert.config:1: ")));
}

TEST(TollgateCheckTest, MalformedSniYamlNamesFileAndLine) {
  const std::string dir = GoodConfigDir();
  WriteFile(dir + "/sni.yaml",
            "sni:\n"
            "  - fqdn: a.test\n"
            "  - tunnel_route: b.test:443\n");
  ExpectError(RunTollgate({"--check", "-c", dir}), dir + "/sni.yaml:3", "fqdn is required");
}

TEST(TollgateCheckTest, BadRemapLineNamesFileAndLine) {
  const std::string dir = GoodConfigDir();
  WriteFile(dir + "/remap.config",
            "map https://a.test/ http://127.0.0.1:9000/\n"
            "regex_map http://(.*).test/ http://origin/\n");
  ExpectError(RunTollgate({"--check", "-c", dir}), dir + "/remap.config:2",
              "unsupported rule kind 'regex_map'");
}

TEST(TollgateCheckTest, MissingPluginFileNamesFileAndLine) {
  const std::string dir = GoodConfigDir();
  WriteFile(dir + "/plugin.config",
            "hello.so\n"
            "\n"
            "nope.so arg\n");
  ExpectError(RunTollgate({"--check", "-c", dir}), dir + "/plugin.config:3",
              "plugin 'nope.so' not found");
}

TEST(TollgateCheckTest, MissingConfigDirIsAnError) {
  RunResult r = RunTollgate({"--check", "-c", TestTmpDir() + "/no-such-dir"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, absl::StrCat("tollgate: ", TestTmpDir(), "/no-such-dir: not a directory\n"));
}

}  // namespace
}  // namespace tollgate
