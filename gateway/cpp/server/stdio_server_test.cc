#include "server/stdio_server.h"

#include "auth/api_keys.h"

#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace sandgate::server {
namespace {

using namespace std::chrono_literals;
namespace mcp = sandgate::mcp;

// `add` answers inline; `hold` parks its call until the test releases it by the `tag` argument; `steps` reports
// `count` progress values, then answers.
class ToolRunner final : public mcp::Dispatcher {
 public:
  struct Held {
    std::string tag;
    std::shared_ptr<mcp::CancelToken> cancel;
    mcp::OutcomeCallback done;
  };

  std::string catalog_json() override { return R"({"tools":[{"name":"add"},{"name":"hold"}]})"; }

  void invoke(mcp::Invocation invocation, std::shared_ptr<mcp::CancelToken> cancel, mcp::OutcomeCallback done) override {
    const json::object args = json::parse(invocation.arguments_json).as_object();
    if (invocation.name == "hold") {
      std::lock_guard lock(mutex_);
      held_.push_back({std::string(args.at("tag").as_string()), std::move(cancel), std::move(done)});
      changed_.notify_all();
      return;
    }
    if (invocation.name == "steps") {
      if (invocation.progress) {
        const json::value token = json::parse(invocation.meta_json).at("progressToken");
        for (std::int64_t i = 1; i <= args.at("count").as_int64(); ++i) {
          invocation.progress->report(json::serialize(json::object{{"progressToken", token}, {"progress", i}}));
        }
      }
      {
        std::lock_guard lock(mutex_);
        last_progress_ = invocation.progress;
      }
      return done({mcp::OutcomeStatus::kOk, R"({"content":[{"type":"text","text":"steps"}]})"});
    }
    const std::int64_t sum = args.at("a").as_int64() + args.at("b").as_int64();
    done({mcp::OutcomeStatus::kOk, R"({"content":[{"type":"text","text":")" + std::to_string(sum) + R"("}]})"});
  }

  std::shared_ptr<mcp::ProgressReporter> last_progress() {
    std::lock_guard lock(mutex_);
    return last_progress_;
  }

  bool wait_for_held(std::size_t count) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, 10s, [&] { return held_.size() >= count; });
  }

  std::shared_ptr<mcp::CancelToken> token(std::string_view tag) {
    std::lock_guard lock(mutex_);
    for (const Held& h : held_) {
      if (h.tag == tag) return h.cancel;
    }
    return nullptr;
  }

  void release(std::string_view tag) {
    mcp::OutcomeCallback done;
    {
      std::lock_guard lock(mutex_);
      for (auto it = held_.begin(); it != held_.end(); ++it) {
        if (it->tag != tag) continue;
        done = std::move(it->done);
        held_.erase(it);
        break;
      }
    }
    ASSERT_TRUE(done) << "nothing held under " << tag;
    done({mcp::OutcomeStatus::kOk, R"({"content":[{"type":"text","text":")" + std::string(tag) + R"("}]})"});
  }

  // Drops parked calls without answering, so nothing runs after a failed test tears down.
  void forget() {
    std::lock_guard lock(mutex_);
    held_.clear();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Held> held_;
  std::shared_ptr<mcp::ProgressReporter> last_progress_;
};

void write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    ASSERT_GT(n, 0) << "write: " << std::strerror(errno);
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

// serve_stdio on its own thread between two pipes; output is drained continuously so the server never blocks.
class StdioHarness {
 public:
  StdioHarness(const mcp::Engine& engine, StdioSettings settings, std::optional<mcp::Stages> stages = std::nullopt)
      : sessions_(mcp::SessionTableLimits{2, std::chrono::hours(1)}, clock_),
        conversation_(engine, sessions_, stages ? std::move(*stages) : mcp::open_stages(counters_)) {
    if (::pipe2(in_, O_CLOEXEC) != 0 || ::pipe2(out_, O_CLOEXEC) != 0) std::abort();
    returned_ = returned_promise_.get_future();
    server_ = std::thread([this, settings] {
      serve_stdio(conversation_, in_[0], out_[1], settings);
      ::close(out_[1]);
      returned_promise_.set_value();
    });
    reader_ = std::thread([this] {
      char chunk[4096];
      for (;;) {
        const ssize_t n = ::read(out_[0], chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        output_.append(chunk, static_cast<std::size_t>(n));
      }
    });
  }

  ~StdioHarness() {
    close_input();
    if (server_.joinable()) server_.join();
    if (reader_.joinable()) reader_.join();
    ::close(in_[0]);
    ::close(out_[0]);
  }

  void send(std::string_view bytes) { write_all(in_[1], bytes); }

  void close_input() {
    if (in_[1] >= 0) ::close(in_[1]);
    in_[1] = -1;
  }

  bool returned_within(std::chrono::milliseconds limit) { return returned_.wait_for(limit) == std::future_status::ready; }

  // Closes stdin, requires serve_stdio to return, and yields every output line.
  std::vector<std::string> finish() {
    close_input();
    if (!returned_within(10s)) {
      std::fprintf(stderr, "serve_stdio did not return after EOF\n");
      std::abort();
    }
    server_.join();
    reader_.join();
    std::vector<std::string> lines;
    std::size_t start = 0;
    for (std::size_t nl; (nl = output_.find('\n', start)) != std::string::npos; start = nl + 1) {
      lines.push_back(output_.substr(start, nl - start));
    }
    EXPECT_EQ(start, output_.size()) << "output must end with a newline";
    return lines;
  }

 private:
  ManualClock clock_;
  mcp::SessionTable sessions_;
  std::shared_ptr<metrics::Counters> counters_ = std::make_shared<metrics::Counters>();
  mcp::Conversation conversation_;
  int in_[2] = {-1, -1};
  int out_[2] = {-1, -1};
  std::promise<void> returned_promise_;
  std::future<void> returned_;
  std::thread server_, reader_;
  std::string output_;
};

json::object parse_line(const std::string& line) {
  boost::system::error_code ec;
  json::value value = json::parse(line, ec);
  EXPECT_FALSE(ec) << "not JSON: " << line;
  EXPECT_TRUE(value.is_object()) << line;
  return value.is_object() ? value.get_object() : json::object{};
}

std::string modern_meta_params(std::string_view extra = "") {
  return R"({)" + std::string(extra) + R"("_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28",)"
         R"("io.modelcontextprotocol/clientCapabilities":{}}})";
}

std::string initialize(int id, std::string_view version) {
  return R"({"jsonrpc":"2.0","id":)" + std::to_string(id) + R"(,"method":"initialize","params":{"protocolVersion":")" +
         std::string(version) + R"(","capabilities":{},"clientInfo":{"name":"t","version":"1"}}})";
}

std::string call_add(std::string_view id, int a, int b) {
  return R"({"jsonrpc":"2.0","id":)" + std::string(id) + R"(,"method":"tools/call","params":{"name":"add","arguments":{"a":)" +
         std::to_string(a) + R"(,"b":)" + std::to_string(b) + "}}}";
}

std::string call_hold(std::string_view id, std::string_view tag) {
  return R"({"jsonrpc":"2.0","id":)" + std::string(id) + R"(,"method":"tools/call","params":{"name":"hold","arguments":{"tag":")" +
         std::string(tag) + R"("}}})";
}

std::string ping(int id) { return R"({"jsonrpc":"2.0","id":)" + std::to_string(id) + R"(,"method":"ping"})"; }

// A ping padded with whitespace inside the object to exactly `size` bytes.
std::string ping_of_size(int id, std::size_t size) {
  std::string line = ping(id);
  line.insert(1, std::string(size - line.size(), ' '));
  return line;
}

class StdioServerTest : public testing::Test {
 protected:
  StdioServerTest() : runner_(std::make_shared<ToolRunner>()), engine_(settings(), runner_) {}

  static mcp::EngineSettings settings() {
    mcp::EngineSettings s;
    s.identity = {"sandgate-test", "9.9.9", ""};
    return s;
  }

  std::shared_ptr<ToolRunner> runner_;
  mcp::Engine engine_;
};

TEST_F(StdioServerTest, ConversationAcrossBothErasAndBadInput) {
  StdioHarness stdio(engine_, StdioSettings{256});
  stdio.send(initialize(1, "2025-06-18") + "\n");
  stdio.send(R"({"jsonrpc":"2.0","method":"notifications/initialized"})" "\n");
  stdio.send("   \t\n");
  stdio.send(call_add("2", 2, 3) + "\n");
  stdio.send(R"({"jsonrpc":"2.0","id":"m","method":"tools/list","params":)" + modern_meta_params() + "}\n");
  stdio.send("{not json\n");
  stdio.send(R"({"jsonrpc":"2.0","id":99,"method":"ping","params":{"pad":")" + std::string(300, 'x') + "\"}}\n");
  stdio.send(ping(3) + "\n");
  stdio.send(call_add("4", 1, 1) + "\r\n");
  stdio.send(ping(5));  // the last line needs no newline
  const std::vector<std::string> lines = stdio.finish();
  ASSERT_EQ(lines.size(), 8u);

  const json::object init = parse_line(lines[0]);
  EXPECT_EQ(init.at("id").as_int64(), 1);
  EXPECT_EQ(init.at("result").at("protocolVersion").as_string(), "2025-06-18");
  EXPECT_EQ(init.at("result").at("serverInfo").at("version").as_string(), "9.9.9");

  const json::object legacy_call = parse_line(lines[1]);
  EXPECT_EQ(legacy_call.at("id").as_int64(), 2);
  EXPECT_EQ(legacy_call.at("result").at("content").at(0).at("text").as_string(), "5");
  EXPECT_FALSE(legacy_call.at("result").as_object().contains("resultType"));

  const json::object modern_list = parse_line(lines[2]);
  EXPECT_EQ(modern_list.at("id").as_string(), "m");
  EXPECT_EQ(modern_list.at("result").at("resultType").as_string(), "complete");
  EXPECT_EQ(modern_list.at("result").at("tools").as_array().size(), 2u);
  EXPECT_TRUE(modern_list.at("result").as_object().contains("ttlMs"));

  const json::object parse_error = parse_line(lines[3]);
  EXPECT_TRUE(parse_error.at("id").is_null());
  EXPECT_EQ(parse_error.at("error").at("code").as_int64(), -32700);

  const json::object too_long = parse_line(lines[4]);
  EXPECT_TRUE(too_long.at("id").is_null());
  EXPECT_EQ(too_long.at("error").at("code").as_int64(), -32600);
  EXPECT_NE(std::string(too_long.at("error").at("message").as_string()).find("256 bytes"), std::string::npos);

  EXPECT_EQ(parse_line(lines[5]).at("id").as_int64(), 3);
  EXPECT_EQ(parse_line(lines[5]).at("result"), json::value(json::object{}));
  EXPECT_EQ(parse_line(lines[6]).at("result").at("content").at(0).at("text").as_string(), "2");
  EXPECT_EQ(parse_line(lines[7]).at("id").as_int64(), 5);
}

TEST_F(StdioServerTest, BeforeInitializeEveryRequestIsModern) {
  StdioHarness stdio(engine_, StdioSettings{});
  stdio.send(R"({"jsonrpc":"2.0","id":1,"method":"tools/list"})" "\n");
  stdio.send(R"({"jsonrpc":"2.0","id":2,"method":"tools/list","params":)" + modern_meta_params() + "}\n");
  stdio.send(ping(3) + "\n");
  stdio.send(initialize(4, "2025-11-25") + "\n");
  stdio.send(R"({"jsonrpc":"2.0","id":5,"method":"tools/list"})" "\n");
  const std::vector<std::string> lines = stdio.finish();
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(parse_line(lines[0]).at("error").at("code").as_int64(), -32602);
  EXPECT_EQ(parse_line(lines[1]).at("result").at("resultType").as_string(), "complete");
  EXPECT_EQ(parse_line(lines[2]).at("error").at("code").as_int64(), -32602);
  EXPECT_EQ(parse_line(lines[3]).at("result").at("protocolVersion").as_string(), "2025-11-25");
  const json::object legacy = parse_line(lines[4]);
  EXPECT_EQ(legacy.at("result").at("tools").as_array().size(), 2u);
  EXPECT_FALSE(legacy.at("result").as_object().contains("ttlMs"));
}

TEST_F(StdioServerTest, InitializeNeedsAVersionString) {
  StdioHarness stdio(engine_, StdioSettings{});
  stdio.send(R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":20250618}})" "\n");
  stdio.send(initialize(2, "1999-01-01") + "\n");
  const std::vector<std::string> lines = stdio.finish();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(parse_line(lines[0]).at("error").at("code").as_int64(), -32602);
  EXPECT_EQ(parse_line(lines[1]).at("result").at("protocolVersion").as_string(), "2025-11-25");
}

TEST_F(StdioServerTest, BatchesOnlyAfterInitializingAt2025_03_26) {
  const std::string batch = "[" + ping(10) + "," + call_add("11", 4, 5) + "," +
                            R"({"jsonrpc":"2.0","method":"notifications/initialized"},"x"])" "\n";
  {
    StdioHarness stdio(engine_, StdioSettings{});
    stdio.send(batch);
    stdio.send(initialize(1, "2025-06-18") + "\n");
    stdio.send(batch);
    const std::vector<std::string> lines = stdio.finish();
    ASSERT_EQ(lines.size(), 3u);
    EXPECT_EQ(parse_line(lines[0]).at("error").at("code").as_int64(), -32600);
    EXPECT_EQ(parse_line(lines[2]).at("error").at("code").as_int64(), -32600);
  }
  StdioHarness stdio(engine_, StdioSettings{});
  stdio.send(initialize(1, "2025-03-26") + "\n");
  stdio.send(batch);
  const std::vector<std::string> lines = stdio.finish();
  // A batch is answered as one JSON array on one line, as JSON-RPC answers batches.
  ASSERT_EQ(lines.size(), 2u);
  const json::value answers = json::parse(lines[1]);
  ASSERT_TRUE(answers.is_array()) << lines[1];
  ASSERT_EQ(answers.as_array().size(), 3u);
  std::map<std::string, json::object> by_id;
  for (const json::value& answer : answers.as_array()) by_id[json::serialize(answer.at("id"))] = answer.as_object();
  EXPECT_TRUE(by_id.at("10").contains("result"));
  EXPECT_EQ(by_id.at("11").at("result").at("content").at(0).at("text").as_string(), "9");
  EXPECT_EQ(by_id.at("null").at("error").at("code").as_int64(), -32600);
}

TEST_F(StdioServerTest, MessageSizeBoundIsExact) {
  constexpr std::size_t kLimit = 100'000;  // over one 64 KiB read, so lines span reads
  StdioHarness stdio(engine_, StdioSettings{kLimit});
  stdio.send(initialize(0, "2025-06-18") + "\n");
  stdio.send(ping_of_size(1, kLimit) + "\n");
  stdio.send(ping_of_size(2, kLimit + 1) + "\n");
  stdio.send(ping_of_size(3, 3 * kLimit) + "\n");
  stdio.send(ping(4) + "\n");
  stdio.send(ping_of_size(5, kLimit + 1));  // unterminated at EOF, still too long
  std::vector<std::string> lines = stdio.finish();
  ASSERT_EQ(lines.size(), 6u);
  lines.erase(lines.begin());  // the initialize reply
  EXPECT_EQ(parse_line(lines[0]).at("id").as_int64(), 1);
  EXPECT_TRUE(parse_line(lines[0]).contains("result"));
  for (std::size_t i : {1u, 2u, 4u}) {
    SCOPED_TRACE(i);
    EXPECT_TRUE(parse_line(lines[i]).at("id").is_null());
    EXPECT_EQ(parse_line(lines[i]).at("error").at("code").as_int64(), -32600);
  }
  EXPECT_EQ(parse_line(lines[3]).at("id").as_int64(), 4);
}

TEST_F(StdioServerTest, WaitsForInFlightCallsAfterEof) {
  StdioHarness stdio(engine_, StdioSettings{});
  stdio.send(initialize(0, "2025-06-18") + "\n");
  stdio.send(call_hold("1", "slow") + "\n");
  stdio.close_input();
  ASSERT_TRUE(runner_->wait_for_held(1));
  EXPECT_FALSE(stdio.returned_within(100ms));
  runner_->release("slow");
  const std::vector<std::string> lines = stdio.finish();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(parse_line(lines[1]).at("result").at("content").at(0).at("text").as_string(), "slow");
}

TEST_F(StdioServerTest, RepliesMayArriveOutOfOrder) {
  StdioHarness stdio(engine_, StdioSettings{});
  stdio.send(initialize(0, "2025-06-18") + "\n");
  stdio.send(call_hold("1", "first") + "\n" + call_hold("2", "second") + "\n");
  ASSERT_TRUE(runner_->wait_for_held(2));
  runner_->release("second");
  runner_->release("first");
  const std::vector<std::string> lines = stdio.finish();
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(parse_line(lines[1]).at("id").as_int64(), 2);
  EXPECT_EQ(parse_line(lines[2]).at("id").as_int64(), 1);
}

// Two calls share id 7; whichever finishes first, serve_stdio must still wait for the other.
class ReusedIdTest : public StdioServerTest, public testing::WithParamInterface<bool> {};

INSTANTIATE_TEST_SUITE_P(Order, ReusedIdTest, testing::Values(false, true),
                         [](const testing::TestParamInfo<bool>& info) { return info.param ? "LatestFirst" : "EarliestFirst"; });

TEST_P(ReusedIdTest, InFlightIdReuseStillWaitsForBothCalls) {
  const std::string first = GetParam() ? "b" : "a", second = GetParam() ? "a" : "b";
  StdioHarness stdio(engine_, StdioSettings{});
  stdio.send(initialize(0, "2025-06-18") + "\n");
  stdio.send(call_hold("7", "a") + "\n" + call_hold("7", "b") + "\n");
  stdio.close_input();
  ASSERT_TRUE(runner_->wait_for_held(2));
  runner_->release(first);
  if (stdio.returned_within(100ms)) {
    runner_->forget();
    FAIL() << "serve_stdio returned while a call was still running";
  }
  runner_->release(second);
  const std::vector<std::string> lines = stdio.finish();
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(parse_line(lines[1]).at("result").at("content").at(0).at("text").as_string(), first);
  EXPECT_EQ(parse_line(lines[2]).at("result").at("content").at(0).at("text").as_string(), second);
  EXPECT_EQ(parse_line(lines[2]).at("id").as_int64(), 7);
}

// As over HTTP (conversation_test): once the first of two calls sharing an id is answered, the id still
// cancels the second.
TEST_F(StdioServerTest, AReusedIdStaysCancellableAfterTheFirstCallEnds) {
  StdioHarness stdio(engine_, StdioSettings{});
  stdio.send(initialize(0, "2025-06-18") + "\n");
  stdio.send(call_hold("7", "a") + "\n" + call_hold("7", "b") + "\n");
  ASSERT_TRUE(runner_->wait_for_held(2));
  const auto first = runner_->token("a");
  const auto second = runner_->token("b");
  runner_->release("a");
  stdio.send(R"({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":7}})" "\n");
  for (int i = 0; i < 1000 && !second->cancelled(); ++i) std::this_thread::sleep_for(1ms);
  EXPECT_TRUE(second->cancelled());
  EXPECT_FALSE(first->cancelled());
  runner_->release("b");
  EXPECT_EQ(stdio.finish().size(), 3u);
}

TEST_F(StdioServerTest, CancelledNotificationCancelsOnlyTheMatchingId) {
  StdioHarness stdio(engine_, StdioSettings{});
  stdio.send(initialize(0, "2025-06-18") + "\n");
  stdio.send(call_hold("9", "number") + "\n" + call_hold(R"("9")", "string") + "\n");
  ASSERT_TRUE(runner_->wait_for_held(2));
  const auto number = runner_->token("number");
  const auto string = runner_->token("string");
  ASSERT_TRUE(number && string);
  stdio.send(R"({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"9"}})" "\n");
  // The cancel is processed on the server thread; wait for it, bounded.
  for (int i = 0; i < 1000 && !string->cancelled(); ++i) std::this_thread::sleep_for(1ms);
  EXPECT_TRUE(string->cancelled());
  EXPECT_FALSE(number->cancelled());
  stdio.send(R"({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":10}})" "\n");
  stdio.send(R"({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":9}})" "\n");
  for (int i = 0; i < 1000 && !number->cancelled(); ++i) std::this_thread::sleep_for(1ms);
  EXPECT_TRUE(number->cancelled());
  runner_->release("number");
  runner_->release("string");
  EXPECT_EQ(stdio.finish().size(), 3u);
}

TEST_F(StdioServerTest, ResponsesFromTheClientAreIgnored) {
  StdioHarness stdio(engine_, StdioSettings{});
  stdio.send(R"({"jsonrpc":"2.0","id":1,"result":{}})" "\n");
  stdio.send(R"({"jsonrpc":"2.0","id":2,"error":{"code":-1,"message":"no"}})" "\n");
  stdio.send(R"({"jsonrpc":"2.0","method":"notifications/whatever"})" "\n");
  EXPECT_TRUE(stdio.finish().empty());
}

TEST_F(StdioServerTest, EmptyInputReturnsAtOnce) {
  StdioHarness stdio(engine_, StdioSettings{});
  EXPECT_TRUE(stdio.finish().empty());
}

// Every message of the connection carries the credential the client started the server with.
TEST_F(StdioServerTest, TheConnectionsApiKeyAuthenticatesEveryMessage) {
  // sha256("k")
  const auth::ApiKey key{"k", "8254c329a92850f6d539dd376f4816ee2764517da5e0235514af433164480d7a", "alice", {}};
  auto stages_requiring_a_key = [] (const auth::ApiKey& known) {
    mcp::Stages stages = mcp::open_stages(std::make_shared<metrics::Counters>());
    stages.authenticate = std::make_shared<auth::ApiKeyAuthenticator>(std::vector<auth::ApiKey>{known},
                                                                      auth::AnonymousAccess::kDeny);
    return stages;
  };
  for (const auto& [api_key, admitted] : {std::pair<std::string, bool>{"k", true}, {"wrong", false}, {"", false}}) {
    StdioHarness stdio(engine_, StdioSettings{4096, api_key}, stages_requiring_a_key(key));
    stdio.send(initialize(1, "2025-06-18") + "\n");
    stdio.send(call_add("2", 2, 3) + "\n");
    stdio.send(ping(3) + "\n");
    const std::vector<std::string> lines = stdio.finish();
    ASSERT_EQ(lines.size(), 3u) << api_key;
    for (const std::string& line : lines) {
      EXPECT_EQ(parse_line(line).contains("result"), admitted) << api_key << ": " << line;
    }
  }
}

}  // namespace
}  // namespace sandgate::server

namespace sandgate::server {
namespace {

std::string call_steps(std::string_view id, int count, std::string_view meta) {
  return R"({"jsonrpc":"2.0","id":)" + std::string(id) + R"(,"method":"tools/call","params":{"name":"steps","arguments":{"count":)" +
         std::to_string(count) + R"(},"_meta":)" + std::string(meta) + "}}";
}

TEST_F(StdioServerTest, ProgressLinesPrecedeTheirReplyAndOnlyWithAToken) {
  StdioHarness stdio(engine_, StdioSettings{});
  stdio.send(initialize(0, "2025-11-25") + "\n");
  stdio.send(call_steps("1", 2, R"({"progressToken":"s-1"})") + "\n");
  stdio.send(call_steps("2", 2, "{}") + "\n");
  stdio.send(call_steps("3", 1, R"({"progressToken":77})") + "\n");
  const std::vector<std::string> lines = stdio.finish();
  ASSERT_EQ(lines.size(), 7u);
  for (int i : {1, 2}) {
    const json::object progress = parse_line(lines[i]);
    EXPECT_EQ(progress.at("method"), "notifications/progress");
    EXPECT_FALSE(progress.contains("id"));
    EXPECT_EQ(progress.at("params").at("progressToken"), "s-1");
    EXPECT_EQ(progress.at("params").at("progress"), i);
  }
  EXPECT_EQ(parse_line(lines[3]).at("id"), 1);
  EXPECT_EQ(parse_line(lines[4]).at("id"), 2);  // no token: no progress lines before it
  EXPECT_EQ(parse_line(lines[5]).at("params").at("progressToken"), 77);
  EXPECT_EQ(parse_line(lines[6]).at("id"), 3);
  EXPECT_EQ(engine_.counters().get(metrics::Counter::kProgressSent), 3u);
}

TEST_F(StdioServerTest, ProgressAfterTheReplyWritesNothing) {
  {
    StdioHarness stdio(engine_, StdioSettings{});
    stdio.send(call_steps(R"("late")", 0, R"({"io.modelcontextprotocol/protocolVersion":"2026-07-28",)"
                                          R"("io.modelcontextprotocol/clientCapabilities":{},"progressToken":"x"})") +
               "\n");
    const std::vector<std::string> lines = stdio.finish();
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(parse_line(lines[0]).at("id"), "late");
  }
  // The session is gone; a tool that kept its notifier must not reach it.
  auto reporter = runner_->last_progress();
  ASSERT_NE(reporter, nullptr);
  EXPECT_FALSE(reporter->report(R"({"progressToken":"x","progress":1})"));
  EXPECT_EQ(engine_.counters().get(metrics::Counter::kProgressDroppedUndeliverable), 1u);
}

// Polls `done` for up to two seconds: the server thread handles lines on its own time.
bool eventually(const std::function<bool()>& done) {
  for (int i = 0; i < 200; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return done();
}

TEST_F(StdioServerTest, ALegacySessionHearsItsSubscriptionsOnTheConnectionAndANewSessionStartsAfresh) {
  StdioHarness stdio(engine_, StdioSettings{});
  const auto& subscriptions = engine_.subscriptions();
  stdio.send(initialize(1, "2025-11-25") + "\n");
  stdio.send(R"({"jsonrpc":"2.0","id":2,"method":"resources/subscribe","params":{"uri":"r://x"}})" "\n");
  ASSERT_TRUE(eventually([&] { return subscriptions->subscription_count("stdio") == 1; }));
  EXPECT_EQ(subscriptions->announce(mcp::Change::kResourceUpdated, "r://x"), 1u);
  stdio.send(initialize(3, "2025-11-25") + "\n");
  ASSERT_TRUE(eventually([&] { return subscriptions->subscription_count("stdio") == 0; }));
  EXPECT_EQ(subscriptions->announce(mcp::Change::kResourceUpdated, "r://x"), 0u);
  EXPECT_EQ(subscriptions->announce(mcp::Change::kToolsListChanged), 1u);  // the new session's stream
  const auto lines = stdio.finish();
  std::vector<std::string> notified;
  for (const auto& line : lines) {
    const json::object message = parse_line(line);
    if (message.contains("method")) notified.emplace_back(message.at("method").as_string());
  }
  EXPECT_EQ(notified, (std::vector<std::string>{"notifications/resources/updated", "notifications/tools/list_changed"}));
}

TEST_F(StdioServerTest, AModernListenStreamIsAnsweredWhenTheClientLeaves) {
  StdioHarness stdio(engine_, StdioSettings{});
  stdio.send(R"({"jsonrpc":"2.0","id":"l","method":"subscriptions/listen","params":)" +
             modern_meta_params(R"("notifications":{"toolsListChanged":true},)") + "}\n");
  ASSERT_TRUE(eventually([&] { return engine_.subscriptions()->listener_count() == 1; }));
  EXPECT_EQ(engine_.subscriptions()->announce(mcp::Change::kToolsListChanged), 1u);
  const auto lines = stdio.finish();  // EOF: the stream ends with its result, and serve_stdio returns
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(parse_line(lines[0]).at("method"), "notifications/subscriptions/acknowledged");
  EXPECT_EQ(parse_line(lines[1]).at("method"), "notifications/tools/list_changed");
  const json::object reply = parse_line(lines[2]);
  EXPECT_EQ(reply.at("id"), "l");
  EXPECT_EQ(reply.at("result").at("_meta").at("io.modelcontextprotocol/subscriptionId"), "l");
}

}  // namespace
}  // namespace sandgate::server
