#include "data/prep.h"

#include <algorithm>
#include <condition_variable>
#include <filesystem>
#include <iterator>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "data/document_source.h"
#include "data/hash64.h"
#include "data/manifest.h"
#include "data/progress_bar.h"
#include "data/dir_swap.h"
#include "data/shard_set.h"
#include "data/utf8.h"
#include "proto/data.pb.h"

namespace spacebyte::data {
namespace {

struct PreparedDocument {
  std::string split;
  std::string language;
  std::string payload;  // serialised proto::Document
  int64_t text_bytes;
  int64_t invalid_bytes;
};

// A file's documents travel from its reader to the writer in batches of
// about this many payload bytes. When a file's compressed data turns out to
// be corrupt, the batches handed over before stand and the open one is
// dropped: a corrupt file smaller than this contributes nothing.
constexpr size_t kBatchBytes = 8 << 20;

struct Batch {
  std::vector<PreparedDocument> documents;
  size_t payload_bytes = 0;
  int64_t text_bytes = 0;
};

// The split is a function of the text alone, so a document repeated across
// inputs always lands in the same split.
std::string SplitOf(const std::string& text, const PrepOptions& o) {
  const double u = UniformAt(o.split_seed, /*stream=*/0, Hash64(text));
  if (u < o.validation_fraction) return "validation";
  if (u < o.validation_fraction + o.test_fraction) return "test";
  return "train";
}

PreparedDocument Prepare(RawDocument raw, const std::string& source, const PrepOptions& options) {
  PreparedDocument doc;
  doc.split = SplitOf(raw.text, options);
  doc.language = raw.language;
  doc.text_bytes = raw.text.size();
  doc.invalid_bytes = InvalidUtf8Bytes(raw.text);
  proto::Document record;
  record.set_language(std::move(raw.language));
  // Proto strings must be UTF-8: a file name in Latin-1 made every record of
  // its shard unreadable (the language was checked when the inputs were listed).
  record.set_source(Utf8OrEscaped(source));
  record.set_id(Utf8OrEscaped(raw.id));
  record.set_text(std::move(raw.text));
  doc.payload = record.SerializeAsString();
  return doc;
}

// Files are streamed by `threads` workers but written in input order, so
// the dataset does not depend on the thread count. A file in flight holds
// at most one batch waiting for the writer and one being filled, and at
// most 2 x threads files are in flight: memory is bounded whatever the
// sizes of the corpus and its files (the largest document aside).
class OrderedPipeline {
 public:
  OrderedPipeline(const std::vector<InputFile>& files, int threads, const ReadOptions& read,
                  const PrepOptions& options)
      : files_(files), read_(read), options_(options), slots_(files.size()),
        window_(2 * threads) {
    for (int i = 0; i < threads; ++i) workers_.emplace_back([this] { Work(); });
  }
  ~OrderedPipeline() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (std::thread& t : workers_) t.join();
  }

  // File i's next batch; nullopt once the file is done, with its problems
  // in *bad. Files are taken in order.
  std::optional<Batch> Next(size_t i, BadInputs* bad) {
    std::unique_lock<std::mutex> lock(mu_);
    Slot& slot = slots_[i];
    cv_.wait(lock, [&] { return slot.ready.has_value() || slot.done; });
    std::optional<Batch> batch = std::move(slot.ready);
    slot.ready.reset();
    if (!batch) {
      *bad = std::move(slot.bad);
      consumed_ = i + 1;
    }
    cv_.notify_all();
    return batch;
  }

 private:
  struct Slot {
    std::optional<Batch> ready;
    bool done = false;
    BadInputs bad;
  };

  void Work() {
    while (true) {
      size_t i;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return stop_ || next_ < std::min(files_.size(), consumed_ + window_); });
        if (stop_ || next_ >= files_.size()) return;
        i = next_++;
      }
      ReadFile(i);
    }
  }

  void ReadFile(size_t i) {
    const InputFile& file = files_[i];
    BadInputs bad;
    Batch batch;
    int64_t handed_over = 0;
    absl::Status s = ReadDocuments(file, read_, &bad, [&](RawDocument raw) {
      batch.text_bytes += raw.text.size();
      batch.documents.push_back(Prepare(std::move(raw), file.path, options_));
      batch.payload_bytes += batch.documents.back().payload.size();
      if (batch.payload_bytes < kBatchBytes) return true;
      handed_over += batch.documents.size();
      return Hand(i, std::exchange(batch, {}));
    });
    if (s.ok() && !batch.documents.empty()) Hand(i, std::move(batch));
    if (!s.ok() && !absl::IsCancelled(s)) {
      std::string problem(s.message());
      if (handed_over > 0) {
        absl::StrAppend(&problem, "; its first ", handed_over, " documents, read before, are kept");
      }
      bad.unreadable.Add(std::move(problem));
    }
    std::lock_guard<std::mutex> lock(mu_);
    slots_[i].bad = std::move(bad);
    slots_[i].done = true;
    cv_.notify_all();
  }

  // Waits until file i's previous batch is taken; false when stopping.
  bool Hand(size_t i, Batch batch) {
    std::unique_lock<std::mutex> lock(mu_);
    Slot& slot = slots_[i];
    cv_.wait(lock, [&] { return stop_ || !slot.ready.has_value(); });
    if (stop_) return false;
    slot.ready = std::move(batch);
    cv_.notify_all();
    return true;
  }

  const std::vector<InputFile>& files_;
  const ReadOptions& read_;
  const PrepOptions& options_;
  std::vector<Slot> slots_;
  size_t window_;
  std::mutex mu_;
  std::condition_variable cv_;
  size_t next_ = 0, consumed_ = 0;
  bool stop_ = false;
  std::vector<std::thread> workers_;
};

void PrintTable(const proto::DatasetManifest& manifest, std::ostream& out) {
  std::map<std::string, proto::LanguageBytes> totals;
  for (const proto::ShardInfo& shard : manifest.shards()) {
    for (const proto::LanguageBytes& lb : shard.languages()) {
      proto::LanguageBytes& t = totals[lb.language()];
      t.set_documents(t.documents() + lb.documents());
      t.set_bytes(t.bytes() + lb.bytes());
      t.set_invalid_utf8_bytes(t.invalid_utf8_bytes() + lb.invalid_utf8_bytes());
    }
  }
  out << absl::StrFormat("%-16s %10s %14s %12s\n", "language", "documents", "bytes",
                         "invalid_utf8");
  for (const auto& [language, t] : totals) {
    out << absl::StrFormat("%-16s %10d %14d %11.4f%%\n", language, t.documents(), t.bytes(),
                           t.bytes() > 0 ? 100.0 * t.invalid_utf8_bytes() / t.bytes() : 0.0);
  }
}

void ReportBad(const char* what, const BadList& items, std::ostream& err) {
  if (items.count == 0) return;
  err << "bad inputs: " << items.count << " " << what << ":\n";
  for (const std::string& item : items.shown) err << "  " << item << "\n";
  const int64_t more = items.count - static_cast<int64_t>(items.shown.size());
  if (more > 0) err << "  ... and " << more << " more\n";
}

// --out may be new, empty or an earlier dataset; anything else is the
// user's and is never replaced.
absl::Status CheckReplaceable(const std::string& out) {
  std::error_code ec;
  if (!std::filesystem::exists(out, ec)) return absl::OkStatus();
  if (!std::filesystem::is_directory(out, ec)) {
    return absl::InvalidArgumentError(absl::StrCat("--out ", out, " is a file, not a directory"));
  }
  if (std::filesystem::is_empty(out, ec) || std::filesystem::exists(ManifestPath(out), ec)) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "--out ", out, " holds files but no ", ManifestPath(out),
      ": not a dataset of `spacebyte prep`, so it is left alone; choose another --out"));
}

std::filesystem::path Canonical(const std::string& path) {
  std::error_code ec;
  const std::filesystem::path p = std::filesystem::weakly_canonical(path, ec);
  return ec ? std::filesystem::path(path) : p;
}

// Whether `inner` is `outer` or lies below it.
bool Within(const std::filesystem::path& inner, const std::filesystem::path& outer) {
  auto i = inner.begin();
  for (auto o = outer.begin(); o != outer.end(); ++o, ++i) {
    if (o->empty() && std::next(o) == outer.end()) break;  // a trailing '/'
    if (i == inner.end() || *i != *o) return false;
  }
  return true;
}

absl::Status CheckOptions(const PrepOptions& o) {
  if (o.inputs.empty()) return absl::InvalidArgumentError("give at least one --input");
  if (o.out.empty()) return absl::InvalidArgumentError("--out is required");
  if (o.shard_bytes <= 0 || o.threads <= 0) {
    return absl::InvalidArgumentError("--shard_bytes and --threads must be positive");
  }
  // 2^32 threads wrapped to none (a hang); 10^5 ran out of memory starting them.
  if (o.threads > 1024) {
    return absl::InvalidArgumentError(absl::StrCat("--threads ", o.threads, " exceeds 1024"));
  }
  // Written so that NaN fails too.
  if (!(o.validation_fraction >= 0 && o.test_fraction >= 0 &&
        o.validation_fraction + o.test_fraction < 1)) {
    return absl::InvalidArgumentError("split fractions must be >= 0 and sum below 1");
  }
  // An input inside the dataset being replaced, or the dataset inside an
  // input directory, would have prep read its own shard files as documents.
  // The staging directory beside it is cleared first: an input there would
  // be deleted before it was read.
  const std::filesystem::path out = Canonical(o.out);
  const std::filesystem::path staging = Canonical(StagingDirOf(o.out));
  for (const std::string& input : o.inputs) {
    const std::filesystem::path in = Canonical(SplitInput(input).first);
    if (Within(in, out) || Within(out, in) || Within(in, staging)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--input ", input, " and --out ", o.out, " overlap: prep would read its own shards"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status RunPrep(const PrepOptions& given, std::ostream& out, std::ostream& err) {
  // "DIR/" staged into "DIR/.staging" and then could not be swapped.
  PrepOptions options = given;
  while (options.out.size() > 1 && options.out.back() == '/') options.out.pop_back();
  if (absl::Status s = CheckOptions(options); !s.ok()) return s;
  auto format = ParseInputFormat(options.format);
  if (!format.ok()) return format.status();
  auto separator = ParseSeparator(options.separator);
  if (!separator.ok()) return separator.status();
  const ReadOptions read{*format, *separator, options.text_field, options.language_field,
                         options.allow_binary};
  BadInputs bad;
  auto files = ListInputs(options.inputs, options.language_from, &bad);
  if (!files.ok()) return files.status();
  if (absl::Status s = CheckReplaceable(options.out); !s.ok()) return s;
  // Written beside --out and swapped in whole at the end: killed at any
  // moment, --out holds the previous dataset or the new one.
  absl::StatusOr<std::string> staging = MakeStagingDir(options.out);
  if (!staging.ok()) return staging.status();
  struct RemoveUnlessCommitted {
    std::string dir;
    ~RemoveUnlessCommitted() {
      std::error_code ec;
      if (!dir.empty()) std::filesystem::remove_all(dir, ec);
    }
  } cleanup{*staging};

  ShardSet shards(*staging, options.shard_bytes);
  int64_t documents = 0, bytes = 0;
  {
    OrderedPipeline pipeline(*files, static_cast<int>(options.threads), read, options);
    ProgressBar progress("prep", files->size());
    for (size_t i = 0; i < files->size(); ++i) {
      BadInputs file_bad;
      while (std::optional<Batch> batch = pipeline.Next(i, &file_bad)) {
        for (const PreparedDocument& d : batch->documents) {
          if (absl::Status s = shards.Add(d.split, d.language, d.payload, d.text_bytes, d.invalid_bytes); !s.ok()) {
            return s;
          }
        }
        documents += batch->documents.size();
        bytes += batch->text_bytes;
        progress.Update(i, bytes);
      }
      bad.Append(file_bad);
      progress.Update(i + 1, bytes);
    }
  }
  proto::DatasetManifest manifest;
  manifest.set_format_version(1);
  manifest.set_validation_fraction(options.validation_fraction);
  manifest.set_test_fraction(options.test_fraction);
  manifest.set_split_seed(options.split_seed);
  if (absl::Status s = shards.Finish(&manifest); !s.ok()) return s;
  if (absl::Status s = WriteManifest(*staging, manifest); !s.ok()) return s;
  PrintTable(manifest, out);
  ReportBad("unreadable inputs", bad.unreadable, err);
  ReportBad("inputs that are not text", bad.not_text, err);
  ReportBad("invalid JSON lines", bad.invalid_json, err);
  ReportBad("empty documents", bad.empty, err);
  if (documents == 0) return absl::InvalidArgumentError("no documents in the inputs");
  if (absl::Status s = SwapInStagingDir(*staging, options.out); !s.ok()) return s;
  cleanup.dir.clear();
  out << absl::StrFormat("%d documents, %d bytes, %d shards in %s\n", documents, bytes,
                         manifest.shards_size(), options.out);
  return absl::OkStatus();
}

}  // namespace spacebyte::data
