# C++ unit tests and fuzz-seed replays; included from the root CMakeLists.txt under SANDGATE_BUILD_TESTS.
# Everything here links sandgate_mcp only: no Asio/Beast translation unit is compiled for tests.
find_package(GTest REQUIRED)
include(GoogleTest)

set(SANDGATE_UNIT_TESTS
  ${CMAKE_CURRENT_LIST_DIR}/common/json_text_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/mcp/jsonrpc_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/mcp/errors_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/mcp/protocol_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/mcp/session_table_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/mcp/catalog_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/mcp/streamable_http_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/mcp/notifications_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/mcp/log_notifications_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/mcp/subscriptions_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/mcp/param_headers_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/mcp/client_requests_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/mcp/request_state_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/mcp/cancel_token_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/mcp/in_flight_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/mcp/conversation_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/server/stdio_server_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/policy/sandbox_grant_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/policy/arg_constraints_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/policy/tool_policy_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/policy/policy_gate_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/auth/api_keys_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/ratelimit/rate_limit_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/ratelimit/policy_limiter_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/mcp/engine_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/mcp/outcome_facts_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/ratelimit/gcra_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/jwt/jws_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/auth/token_authenticator_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/auth/introspection_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/metrics/families_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/audit/audit_log_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/jwt/wycheproof_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/jwt/base64url_test.cc
)

# Test-only helpers (keys and signed tokens); the gateway never signs.
add_library(sandgate_test_support STATIC ${CMAKE_CURRENT_LIST_DIR}/jwt/test_tokens.cc)
target_link_libraries(sandgate_test_support PUBLIC sandgate_mcp)

foreach(source IN LISTS SANDGATE_UNIT_TESTS)
  get_filename_component(name ${source} NAME_WE)
  add_executable(${name} ${source})
  target_link_libraries(${name} PRIVATE sandgate_test_support GTest::gtest_main)
  # PRE_TEST: listing the cases happens when ctest runs, so building never executes a test binary.
  gtest_discover_tests(${name} DISCOVERY_MODE PRE_TEST DISCOVERY_TIMEOUT 30 PROPERTIES TIMEOUT 60)
endforeach()

# The Wycheproof vectors live beside the repository (../shared), where CI checks them out too.
target_compile_definitions(wycheproof_test PRIVATE
  SANDGATE_WYCHEPROOF_DIR="${CMAKE_CURRENT_SOURCE_DIR}/../shared/testvectors/wycheproof")

# Each fuzz target built with gcc and driven by a plain main: ctest replays every seed of testdata/<name> on every run.
function(sandgate_fuzz_replay name)
  add_executable(${name}_fuzz_replay
    ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/fuzz/${name}_fuzz.cc
    ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/fuzz/replay_main.cc
  )
  target_link_libraries(${name}_fuzz_replay PRIVATE sandgate_mcp)
  add_test(NAME ${name}_fuzz_replay
           COMMAND ${name}_fuzz_replay ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/fuzz/testdata/${name})
endfunction()
sandgate_fuzz_replay(jsonrpc)
sandgate_fuzz_replay(arg_constraints)
sandgate_fuzz_replay(jwt)
sandgate_fuzz_replay(request_state)
sandgate_fuzz_replay(param_headers)
sandgate_fuzz_replay(listen_filter)

# Run by hand (benchmarks/RESULTS.md), never by ctest: what one decision of a 100-rule policy costs.
add_executable(policy_decision_bench ${CMAKE_CURRENT_SOURCE_DIR}/benchmarks/policy_decision.cc)
target_link_libraries(policy_decision_bench PRIVATE sandgate_mcp)

# Run by hand (benchmarks/RESULTS.md): what verifying a bearer token costs, cached and not.
add_executable(token_verify_bench ${CMAKE_CURRENT_SOURCE_DIR}/benchmarks/token_verify.cc)
target_link_libraries(token_verify_bench PRIVATE sandgate_test_support)

# With clang, a real libFuzzer binary over an instrumented copy of the protocol library (never run by ctest):
if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  get_target_property(sandgate_mcp_sources sandgate_mcp SOURCES)
  list(TRANSFORM sandgate_mcp_sources PREPEND ${CMAKE_CURRENT_SOURCE_DIR}/)
  add_library(sandgate_mcp_fuzz STATIC ${sandgate_mcp_sources})
  target_include_directories(sandgate_mcp_fuzz PUBLIC ${CMAKE_CURRENT_LIST_DIR})
  target_link_libraries(sandgate_mcp_fuzz PUBLIC Boost::headers OpenSSL::Crypto Threads::Threads PkgConfig::SANDGATE_RE2)
  target_compile_options(sandgate_mcp_fuzz PUBLIC -g -fsanitize=fuzzer-no-link,address,undefined)
  target_link_options(sandgate_mcp_fuzz PUBLIC -fsanitize=address,undefined)

  #   build/cpp/<name>_fuzzer gateway/cpp/fuzz/testdata/<name>, for every target replayed above
  foreach(name IN ITEMS jsonrpc arg_constraints jwt request_state param_headers listen_filter)
    add_executable(${name}_fuzzer ${CMAKE_CURRENT_LIST_DIR}/fuzz/${name}_fuzz.cc)
    target_compile_options(${name}_fuzzer PRIVATE -fsanitize=fuzzer)
    target_link_options(${name}_fuzzer PRIVATE -fsanitize=fuzzer)
    target_link_libraries(${name}_fuzzer PRIVATE sandgate_mcp_fuzz)
  endforeach()
endif()

# Run by hand (benchmarks/RESULTS.md): what the record stage (families, audit line) costs one call.
add_executable(record_stage_bench ${CMAKE_CURRENT_SOURCE_DIR}/benchmarks/record_stage.cc)
target_link_libraries(record_stage_bench PRIVATE sandgate_mcp)

