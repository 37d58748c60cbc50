// A directory under /tmp survives a fresh tmpfs on /tmp: taken before, attached after, read-only.
#include "sandbox/scratch_rebind.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "sandbox/test_probe.h"

namespace sandgate::sandbox {
namespace {

using testing::report;
using testing::run_in_child;

class ScratchRebind : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "mount namespaces need root here";
    dir_ = "/tmp/sandgate-rebind-test-" + std::to_string(getpid());
    std::filesystem::create_directories(dir_ + "/pkg");
    std::ofstream(dir_ + "/pkg/module.py") << "WORD = 1\n";
    std::ofstream(stray_) << "host scratch\n";
  }
  void TearDown() override {
    std::filesystem::remove_all(dir_);
    std::filesystem::remove(stray_);
  }
  std::string dir_;
  std::string stray_ = "/tmp/sandgate-rebind-stray-" + std::to_string(getpid());
};

TEST_F(ScratchRebind, TreeSurvivesTheNewTmpfsReadOnlyAndNothingElseDoes) {
  const std::string dir = dir_;
  const std::string stray = stray_;
  auto result = run_in_child([&](int fd) {
    if (unshare(CLONE_NEWNS) != 0 || mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return 2;
    const char* paths[] = {dir.c_str()};
    int trees[1];
    if (!take_scratch_trees(paths, 1, trees)) return report(fd, "take_errno", errno), 3;
    if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "size=65536") != 0) return 4;
    if (!attach_scratch_trees(paths, 1, trees)) return report(fd, "attach_errno", errno), 5;
    report(fd, "module_readable", access((dir + "/pkg/module.py").c_str(), R_OK) == 0);
    int written = open((dir + "/pkg/module.py").c_str(), O_WRONLY | O_APPEND);
    report(fd, "write_errno", written < 0 ? errno : 0);
    int created = open((dir + "/new").c_str(), O_WRONLY | O_CREAT, 0644);
    report(fd, "create_errno", created < 0 ? errno : 0);
    report(fd, "stray_hidden", access(stray.c_str(), F_OK) != 0);
    report(fd, "scratch_writable", open("/tmp/own", O_WRONLY | O_CREAT, 0644) >= 0);
    report(fd, "fd_left", fcntl(trees[0], F_GETFD) >= 0);
    return 0;
  });
  ASSERT_TRUE(result.exited_with(0)) << result.describe();
  EXPECT_EQ(result.at("module_readable"), 1);
  EXPECT_EQ(result.at("write_errno"), EROFS);
  EXPECT_EQ(result.at("create_errno"), EROFS);
  EXPECT_EQ(result.at("stray_hidden"), 1);
  EXPECT_EQ(result.at("scratch_writable"), 1);
  EXPECT_EQ(result.at("fd_left"), 0);
}

TEST_F(ScratchRebind, MissingPathFailsAndClosesWhatWasTaken) {
  const std::string dir = dir_;
  auto result = run_in_child([&](int fd) {
    if (unshare(CLONE_NEWNS) != 0) return 2;
    const char* paths[] = {dir.c_str(), "/tmp/sandgate-rebind-absent"};
    int trees[2];
    bool taken = take_scratch_trees(paths, 2, trees);
    report(fd, "taken", taken);
    report(fd, "errno", errno);
    report(fd, "first_closed", fcntl(trees[0], F_GETFD) < 0);
    return 0;
  });
  ASSERT_TRUE(result.exited_with(0)) << result.describe();
  EXPECT_EQ(result.at("taken"), 0);
  EXPECT_EQ(result.at("errno"), ENOENT);
  EXPECT_EQ(result.at("first_closed"), 1);
}

}  // namespace
}  // namespace sandgate::sandbox
