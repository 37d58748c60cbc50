#pragma once
// The hand-run C++ benchmarks' one timing rule: ns per call of `work`, the median of 15 batches of `iterations`.
#include <algorithm>
#include <chrono>
#include <vector>

namespace sandgate::bench {

template <typename Work>
double median_ns(long iterations, Work work) {
  std::vector<double> batches;
  for (int batch = 0; batch < 15; ++batch) {
    const auto start = std::chrono::steady_clock::now();
    for (long i = 0; i < iterations; ++i) work();
    const auto elapsed = std::chrono::steady_clock::now() - start;
    batches.push_back(std::chrono::duration<double, std::nano>(elapsed).count() / static_cast<double>(iterations));
  }
  std::sort(batches.begin(), batches.end());
  return batches[batches.size() / 2];
}

}  // namespace sandgate::bench
