// Loader throughput on one core: MB/s of packed samples (bytes_per_second),
// from a multilingual dataset prepared in a temp directory.

#include <benchmark/benchmark.h>

#include <string>

#include "data/loader.h"
#include "tests/data/test_corpus.h"

namespace spacebyte::data {
namespace {

const std::string& Dataset() {
  static const std::string* dir = new std::string(testing::MakeDataset(
      testing::FreshDir("bench"),
      {{"ar", 4 << 20}, {"en", 8 << 20}, {"ru", 4 << 20}, {"zh", 4 << 20}}, 16 << 20));
  return *dir;
}

void BM_LoaderNext(benchmark::State& state) {
  LoaderOptions o;
  o.data_dir = Dataset();
  o.context = state.range(0);
  o.global_batch = 32;
  auto loader = Loader::Open(o);
  if (!loader.ok()) {
    state.SkipWithError(std::string(loader.status().message()).c_str());
    return;
  }
  for (auto _ : state) {
    auto batch = (*loader)->Next();
    benchmark::DoNotOptimize(batch->targets.data());
  }
  state.SetBytesProcessed(state.iterations() * o.global_batch * o.context);
}
BENCHMARK(BM_LoaderNext)->Arg(1024)->Arg(8192);

}  // namespace
}  // namespace spacebyte::data

BENCHMARK_MAIN();
