// Loads plugins/abi_smoke with dlopen and proves the calls cross the boundary both ways: the host
// calls the plugin's TSPluginInit, and the plugin calls back a host function exported through
// -Wl,--dynamic-list. Functions left out of that list are invisible to plugins.
#include <dlfcn.h>

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace {
std::vector<std::string>* recorded = nullptr;
}  // namespace

extern "C" {

// Exported (listed in host_exports.lds).
__attribute__((used)) int TSSmokeHostRecord(const char* text) {
  recorded->emplace_back(text);
  return static_cast<int>(recorded->size());
}

// Not in the dynamic list: a plugin must not be able to find it.
__attribute__((used)) int TSSmokeHostInternal() { return 42; }

}  // extern "C"

namespace {

const char* g_plugin_path = nullptr;

using PluginInitFn = void (*)(int, const char*[]);

class PluginAbiSmokeTest : public ::testing::Test {
 protected:
  void SetUp() override { recorded = &calls_; }
  void TearDown() override { recorded = nullptr; }
  std::vector<std::string> calls_;
};

TEST_F(PluginAbiSmokeTest, PluginInitCallsBackIntoHostExportedFunction) {
  ASSERT_NE(g_plugin_path, nullptr);
  void* handle = dlopen(g_plugin_path, RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(handle, nullptr) << dlerror();

  auto init = reinterpret_cast<PluginInitFn>(dlsym(handle, "TSPluginInit"));
  ASSERT_NE(init, nullptr) << dlerror();
  const char* argv[] = {g_plugin_path, "-first", "second"};
  init(3, argv);

  EXPECT_EQ(calls_, (std::vector<std::string>{"argc=3", "-first", "second"}));
  EXPECT_EQ(dlclose(handle), 0);
}

TEST_F(PluginAbiSmokeTest, OnlyListedHostSymbolsAreExported) {
  EXPECT_NE(dlsym(RTLD_DEFAULT, "TSSmokeHostRecord"), nullptr);
  EXPECT_EQ(dlsym(RTLD_DEFAULT, "TSSmokeHostInternal"), nullptr)
      << "the host exports more than its dynamic list (linked with -rdynamic?)";
  EXPECT_EQ(TSSmokeHostInternal(), 42);
}

TEST_F(PluginAbiSmokeTest, MissingPluginFileFailsToLoadWithReason) {
  void* handle = dlopen("/nonexistent/libnothing.so", RTLD_NOW | RTLD_LOCAL);
  EXPECT_EQ(handle, nullptr);
  const char* error = dlerror();
  ASSERT_NE(error, nullptr);
  EXPECT_NE(std::string(error).find("libnothing.so"), std::string::npos) << error;
}

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc != 2) {
    fprintf(stderr, "usage: %s PLUGIN.so\n", argv[0]);
    return 2;
  }
  g_plugin_path = argv[1];
  return RUN_ALL_TESTS();
}
