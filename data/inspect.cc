#include "data/inspect.h"

#include <iostream>
#include <string_view>

#include "absl/strings/str_format.h"
#include "data/hash64.h"
#include "data/loader.h"
#include "data/prefetch_loader.h"

namespace spacebyte::data {

absl::Status RunInspect(const InspectOptions& options, std::ostream& out) {
  LoaderOptions loader_options;
  loader_options.data_dir = options.data_dir;
  loader_options.split = options.split;
  loader_options.context = options.context;
  loader_options.global_batch = options.batch;
  loader_options.dp_size = static_cast<int>(options.dp_size);
  loader_options.dp_rank = static_cast<int>(options.dp_rank);
  loader_options.seed = options.seed;
  loader_options.skip_corrupt = options.skip_corrupt;
  auto loader = Loader::Open(loader_options);
  if (!loader.ok()) return loader.status();
  PrefetchLoader prefetch(std::move(*loader));
  int64_t corrupt = 0;
  for (int64_t step = 0; step < options.steps; ++step) {
    absl::StatusOr<Batch> batch = prefetch.Next();
    if (!batch.ok()) return batch.status();
    corrupt = batch->corrupt_records;
    for (int64_t i = 0; i < batch->rows; ++i) {
      std::string_view bytes(reinterpret_cast<const char*>(batch->targets.data()) +
                                 i * batch->context,
                             batch->context);
      out << absl::StrFormat("%d %d %016x\n", batch->step, batch->first_position + i,
                             Hash64(bytes));
    }
  }
  if (corrupt > 0) {
    std::cerr << "skipped " << corrupt << " corrupt records\n";
  }
  return absl::OkStatus();
}

}  // namespace spacebyte::data
