#include "sandbox/mount_tree.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "sandbox/child_steps.h"
#include "sandbox/namespaces.h"
#include "sandbox/seccomp_profile.h"
#include "sandbox/spawn.h"
#include "sandbox/test_probe.h"

namespace sandgate::sandbox {
namespace {

using testing::collect;
using testing::ParkedThread;
using testing::ProbeResult;
using testing::report;
using testing::run_in_child;

constexpr std::size_t kScratchBytes = 1 << 20;
constexpr int kNobody = 65534;
constexpr const char* kHostname = "sandgate-test";

// 0, or the errno of a failed status, printed with its operation for the test log.
int status_errno(const Status& status) {
  if (status.ok()) return 0;
  std::fprintf(stderr, "sandbox status: %s (errno %d)\n", status.what.c_str(), status.err);
  return status.err != 0 ? status.err : -1;
}

int errno_of(int rc) { return rc < 0 ? errno : 0; }

// errno of creating `path`, which must fail; should it not, the file goes again at once.
int create_errno(const std::string& path) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return errno;
  close(fd);
  unlink(path.c_str());
  return 0;
}

bool write_text(const std::string& path, const char* text) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  bool ok = write(fd, text, std::strlen(text)) == static_cast<ssize_t>(std::strlen(text));
  close(fd);
  return ok;
}

std::string read_text(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  char buffer[256];
  ssize_t n = read(fd, buffer, sizeof buffer);
  close(fd);
  return n > 0 ? std::string(buffer, static_cast<std::size_t>(n)) : "";
}

// Bytes written to a new file in /tmp until the first failure, and that failure's errno.
void fill_scratch(int fd) {
  int file = open("/tmp/fill", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  static char chunk[64 * 1024];
  long long written = 0;
  int error = file < 0 ? errno : 0;
  while (error == 0 && written < 4 * static_cast<long long>(kScratchBytes)) {
    ssize_t n = write(file, chunk, sizeof chunk);
    if (n < 0) error = errno;
    else written += n;
  }
  if (file >= 0) close(file);
  unlink("/tmp/fill");
  report(fd, "scratch_written", written);
  report(fd, "scratch_errno", error);
}

// What any zygote built by setup_filesystem must look like from inside.
void probe_zygote_view(int fd, const std::string& dir, const std::string& link) {
  report(fd, "seed_readable", read_text(dir + "/seed") == "hello");
  report(fd, "readonly_write_errno", create_errno(dir + "/new"));
  report(fd, "symlink_resolved", read_text(link + "/inside") == "real");
  fill_scratch(fd);
  report(fd, "proc_errno", errno_of(access("/proc", F_OK)));
  report(fd, "shadow_errno", errno_of(access("/etc/shadow", F_OK)));
  report(fd, "usr_readable", access("/usr/bin", R_OK | X_OK) == 0);
  report(fd, "usr_write_errno", create_errno("/usr/sandgate-probe"));
  int mkdir_rc = mkdir("/sandgate-probe", 0755);
  report(fd, "root_mkdir_errno", errno_of(mkdir_rc));
  if (mkdir_rc == 0) rmdir("/sandgate-probe");
  report(fd, "dev_null_write", write_text("/dev/null", "x"));
  report(fd, "dev_chmod_errno", errno_of(chmod("/dev/null", 0666)));  // the host's mode: harmless if allowed
  report(fd, "dev_sda_errno", errno_of(access("/dev/sda", F_OK)));
  char cwd[64] = {};
  report(fd, "cwd_is_tmp", getcwd(cwd, sizeof cwd) != nullptr && std::string(cwd) == "/tmp");
  char host[65] = {};
  gethostname(host, sizeof host - 1);
  report(fd, "hostname", std::string(host) == kHostname);
  int tcp = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in loopback{};
  loopback.sin_family = AF_INET;
  loopback.sin_port = htons(9);
  loopback.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  report(fd, "connect_errno", errno_of(connect(tcp, reinterpret_cast<sockaddr*>(&loopback), sizeof loopback)));
  close(tcp);
}

void expect_zygote_view(const ProbeResult& result) {
  EXPECT_EQ(result.at("seed_readable"), 1) << result.describe();
  EXPECT_EQ(result.at("readonly_write_errno"), EROFS);
  EXPECT_EQ(result.at("symlink_resolved"), 1);
  EXPECT_EQ(result.at("scratch_errno"), ENOSPC);
  EXPECT_GE(result.at("scratch_written"), static_cast<long long>(kScratchBytes) / 2);
  EXPECT_LE(result.at("scratch_written"), static_cast<long long>(kScratchBytes));
  EXPECT_EQ(result.at("proc_errno"), ENOENT);
  EXPECT_EQ(result.at("shadow_errno"), ENOENT);
  EXPECT_EQ(result.at("usr_readable"), 1);
  EXPECT_EQ(result.at("usr_write_errno"), EROFS);
  EXPECT_EQ(result.at("root_mkdir_errno"), EROFS);
  EXPECT_EQ(result.at("dev_null_write"), 1);
  EXPECT_EQ(result.at("dev_chmod_errno"), EROFS);
  EXPECT_EQ(result.at("dev_sda_errno"), ENOENT);
  EXPECT_EQ(result.at("cwd_is_tmp"), 1);
  EXPECT_EQ(result.at("hostname"), 1);
  EXPECT_EQ(result.at("connect_errno"), ENETUNREACH);
}

// A call child spawned from inside the zygote: contained, PID 1, still seeing the zygote's tree.
void probe_call_child(int fd, const std::string& bpf, long long uid, const char* prefix) {
  int fds[2];
  if (pipe(fds) != 0) return;
  SpawnRequest request;
  request.keep_fds = std::span<const int>(&fds[1], 1);
  request.seccomp_bpf = bpf;
  request.uid = uid;
  request.gid = uid;
  PreparedSpawn spawn;
  Status status = spawn.prepare(request);
  report(fd, (std::string(prefix) + "prepare_errno").c_str(), status_errno(status));
  if (!status.ok()) return;
  pid_t pid = spawn.spawn();
  if (pid == 0) {
    report(fds[1], "pid", getpid());
    report(fds[1], "tmp_write", write_text("/tmp/from-call", "x"));
    report(fds[1], "shadow_errno", errno_of(access("/etc/shadow", F_OK)));
    _exit(0);
  }
  close(fds[1]);
  ProbeResult child = collect(pid, fds[0]);
  report(fd, (std::string(prefix) + "exit").c_str(), WIFEXITED(child.status) ? WEXITSTATUS(child.status) : -1);
  report(fd, (std::string(prefix) + "pid").c_str(), child.at("pid"));
  report(fd, (std::string(prefix) + "tmp_write").c_str(), child.at("tmp_write"));
  report(fd, (std::string(prefix) + "shadow_errno").c_str(), child.at("shadow_errno"));
}

class MountTree : public ::testing::Test {
 protected:
  void SetUp() override {
    // Under /tmp on purpose: the tool directories of tests live there, below the scratch tmpfs.
    char dir_template[] = "/tmp/sandgate-mount-test-XXXXXX";
    ASSERT_NE(mkdtemp(dir_template), nullptr);
    dir_ = dir_template;
    ASSERT_TRUE(write_text(dir_ + "/seed", "hello"));
    ASSERT_EQ(mkdir((dir_ + "/real").c_str(), 0755), 0);
    ASSERT_TRUE(write_text(dir_ + "/real/inside", "real"));
    link_parent_ = dir_ + "-links";
    ASSERT_EQ(mkdir(link_parent_.c_str(), 0755), 0);
    link_ = link_parent_ + "/link";
    ASSERT_EQ(symlink((dir_ + "/real").c_str(), link_.c_str()), 0);
    ASSERT_TRUE(compile_seccomp_profile(kProfileDefault, &bpf_).ok());
  }

  void TearDown() override {
    unlink(link_.c_str());
    rmdir(link_parent_.c_str());
    unlink((dir_ + "/real/inside").c_str());
    rmdir((dir_ + "/real").c_str());
    unlink((dir_ + "/seed").c_str());
    rmdir(dir_.c_str());
  }

  FilesystemPlan plan() const {
    FilesystemPlan plan{kScratchBytes, {dir_, link_, "/usr", "/lib"}};
    struct stat info{};
    if (lstat("/lib64", &info) == 0) plan.readonly_paths.push_back("/lib64");
    return plan;
  }

  std::string dir_;
  std::string link_parent_;
  std::string link_;
  std::string bpf_;
};

TEST_F(MountTree, UserNamespaceZygote) {
  ProbeResult can = run_in_child([](int) { return unshare(CLONE_NEWUSER) == 0 ? 0 : 1; });
  if (!can.exited_with(0)) GTEST_SKIP() << "user namespaces are not available here";

  FilesystemPlan fs = plan();
  ProbeResult result = run_in_child([&](int fd) {
    std::string uid_map = "0 " + std::to_string(geteuid()) + " 1";
    std::string gid_map = "0 " + std::to_string(getegid()) + " 1";
    gid_t extra_group = 4242;  // a supplementary group that must not follow the zygote inside
    if (geteuid() == 0 && setgroups(1, &extra_group) != 0) return 2;
    if (int err = status_errno(unshare_namespaces(true))) return report(fd, "unshare_errno", err), 1;
    if (int err = status_errno(write_own_id_maps(uid_map, gid_map))) return report(fd, "maps_errno", err), 1;
    if (int err = status_errno(setup_filesystem(fs))) return report(fd, "setup_errno", err), 1;
    if (int err = status_errno(set_hostname(kHostname))) return report(fd, "hostname_errno", err), 1;
    report(fd, "groups", getgroups(0, nullptr));
    probe_zygote_view(fd, dir_, link_);
    probe_call_child(fd, bpf_, -1, "call.");
    probe_call_child(fd, bpf_, kNobody, "unmapped.");  // only uid 0 is mapped here
    return 0;
  });
  ASSERT_TRUE(result.exited_with(0)) << result.describe();
  expect_zygote_view(result);
  // Dropped before unshare: inside, with setgroups denied, they could never be dropped again.
  if (geteuid() == 0) {
    EXPECT_EQ(result.at("groups"), 0);
  }
  EXPECT_EQ(result.at("call.exit"), 0) << result.describe();
  EXPECT_EQ(result.at("call.pid"), 1);
  EXPECT_EQ(result.at("call.tmp_write"), 1);
  EXPECT_EQ(result.at("call.shadow_errno"), ENOENT);
  EXPECT_EQ(result.at("unmapped.exit"), kStepExitBase + static_cast<int>(ChildStep::kDropPrivileges));
}

TEST_F(MountTree, PlainRootZygote) {
  if (geteuid() != 0) GTEST_SKIP() << "a zygote without a user namespace needs root";
  FilesystemPlan fs = plan();
  ProbeResult result = run_in_child([&](int fd) {
    if (int err = status_errno(unshare_namespaces(false))) return report(fd, "unshare_errno", err), 1;
    if (int err = status_errno(setup_filesystem(fs))) return report(fd, "setup_errno", err), 1;
    if (int err = status_errno(set_hostname(kHostname))) return report(fd, "hostname_errno", err), 1;
    probe_zygote_view(fd, dir_, link_);
    probe_call_child(fd, bpf_, kNobody, "nobody.");
    return 0;
  });
  ASSERT_TRUE(result.exited_with(0)) << result.describe();
  expect_zygote_view(result);
  EXPECT_EQ(result.at("nobody.exit"), 0) << result.describe();
  EXPECT_EQ(result.at("nobody.pid"), 1);
  EXPECT_EQ(result.at("nobody.tmp_write"), 1);  // /tmp is 1777
}

TEST_F(MountTree, NestedPathInsideAnotherIsSkipped) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root for the plain mount namespace";
  FilesystemPlan fs{kScratchBytes, {dir_, dir_ + "/real", "/usr", "/lib"}};
  ProbeResult result = run_in_child([&](int fd) {
    if (int err = status_errno(unshare_namespaces(false))) return report(fd, "unshare_errno", err), 1;
    if (int err = status_errno(setup_filesystem(fs))) return report(fd, "setup_errno", err), 1;
    report(fd, "inside", read_text(dir_ + "/real/inside") == "real");
    return 0;
  });
  ASSERT_TRUE(result.exited_with(0)) << result.describe();
  EXPECT_EQ(result.at("inside"), 1);
}

TEST(MountTreePlan, RefusesBadInputBeforeMountingAnything) {
  ProbeResult result = run_in_child([](int fd) {
    const char* invalid[] = {"usr", "/usr/", "//usr", "/usr/../etc", "/usr/./bin", "/", "/tmp", "/dev",
                             "/.sandgate-old-root"};
    int refused = 0;
    for (const char* path : invalid) {
      refused += setup_filesystem(FilesystemPlan{kScratchBytes, {path}}).code == Code::kInvalidArgument;
    }
    report(fd, "refused", refused);
    Status missing = setup_filesystem(FilesystemPlan{kScratchBytes, {"/nonexistent-sandgate-path"}});
    report(fd, "missing_errno", missing.code == Code::kSystem ? missing.err : -1);
    report(fd, "tiny_scratch", setup_filesystem(FilesystemPlan{0, {"/usr"}}).code == Code::kInvalidArgument);
    report(fd, "long_hostname", set_hostname(std::string(65, 'h')).code == Code::kInvalidArgument);
    report(fd, "half_maps", write_own_id_maps("0 0 1", "").code == Code::kInvalidArgument);
    return 0;
  });
  ASSERT_TRUE(result.exited_with(0)) << result.describe();
  EXPECT_EQ(result.at("refused"), 9);
  EXPECT_EQ(result.at("missing_errno"), ENOENT);
  EXPECT_EQ(result.at("tiny_scratch"), 1);
  EXPECT_EQ(result.at("long_hostname"), 1);
  EXPECT_EQ(result.at("half_maps"), 1);
}

TEST(Namespaces, RefuseAThreadedProcess) {
  ProbeResult result = run_in_child([](int fd) {
    ParkedThread parked;
    if (!parked.started()) return 1;
    Status status = unshare_namespaces(false);
    report(fd, "code", static_cast<int>(status.code));
    report(fd, "names_threads", status.what.find("2 threads") != std::string::npos);
    return 0;
  });
  ASSERT_TRUE(result.exited_with(0)) << result.describe();
  EXPECT_EQ(result.at("code"), static_cast<int>(Code::kNotSingleThreaded));
  EXPECT_EQ(result.at("names_threads"), 1);
}

}  // namespace
}  // namespace sandgate::sandbox
