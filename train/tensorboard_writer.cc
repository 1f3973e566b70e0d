#include "train/tensorboard_writer.h"

#include <unistd.h>

#include <chrono>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "data/record_reader.h"
#include "data/record_writer.h"
#include "proto/tensorboard.pb.h"

namespace spacebyte::trainer {
namespace fs = std::filesystem;
namespace {

constexpr char kPrefix[] = "events.out.tfevents.";

double WallTime() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Rewrites `path` without the events past `step`, aside and renamed so a
// crash here loses nothing. Reading stops at a damaged record (the tail a
// crash mid-write leaves), which is dropped as well.
absl::Status DropEventsAfter(const std::string& path, int64_t step) {
  absl::StatusOr<std::unique_ptr<data::RecordReader>> reader = data::RecordReader::Open(path);
  if (!reader.ok()) return reader.status();
  std::string kept, payload;
  proto::Event event;
  while ((*reader)->Read(&payload).ok()) {
    if (!event.ParseFromString(payload)) break;
    if (event.has_summary() && event.step() > step) continue;
    kept += data::FrameRecord(payload);
  }
  const std::string rewritten = path + ".tmp";
  std::FILE* out = std::fopen(rewritten.c_str(), "wb");
  const bool ok = out != nullptr && std::fwrite(kept.data(), 1, kept.size(), out) == kept.size();
  if (out != nullptr && std::fclose(out) != 0) return absl::InternalError("cannot write " + rewritten);
  if (!ok || std::rename(rewritten.c_str(), path.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("cannot rewrite ", path));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<TensorBoardWriter>> TensorBoardWriter::Open(const std::string& dir,
                                                                           int64_t resume_step) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", dir, ": ", ec.message()));
  // At step 0 too: a run that died before its first checkpoint left events
  // that its restart writes again (metrics.jsonl is rewritten the same way).
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(kPrefix, 0) != 0 || name.size() < 4 ||
        name.compare(name.size() - 4, 4, ".tmp") == 0) {
      continue;
    }
    if (absl::Status s = DropEventsAfter(entry.path().string(), resume_step); !s.ok()) return s;
  }
  char host[256] = {};
  ::gethostname(host, sizeof(host) - 1);
  // TensorFlow's name: time, host, pid, and a counter for files of one process.
  const std::string path = (fs::path(dir) / absl::StrFormat("%s%010d.%s.%d.0", kPrefix,
                                                            static_cast<int64_t>(WallTime()),
                                                            host, ::getpid()))
                               .string();
  std::FILE* file = std::fopen(path.c_str(), "ab");
  if (file == nullptr) return absl::InternalError(absl::StrCat("cannot create ", path));
  std::unique_ptr<TensorBoardWriter> writer(new TensorBoardWriter(path, file));
  proto::Event version;
  version.set_wall_time(WallTime());
  version.set_file_version("brain.Event:2");
  if (absl::Status s = writer->Append(version.SerializeAsString()); !s.ok()) return s;
  return writer;
}

TensorBoardWriter::~TensorBoardWriter() { std::fclose(file_); }

absl::Status TensorBoardWriter::Append(const std::string& event) {
  const std::string record = data::FrameRecord(event);
  if (std::fwrite(record.data(), 1, record.size(), file_) != record.size() ||
      std::fflush(file_) != 0) {
    return absl::InternalError(absl::StrCat("cannot write ", path_));
  }
  return absl::OkStatus();
}

absl::Status TensorBoardWriter::Scalars(int64_t step,
                                        const std::vector<std::pair<std::string, double>>& values) {
  proto::Event event;
  event.set_wall_time(WallTime());
  event.set_step(step);
  for (const auto& [tag, value] : values) {
    proto::SummaryValue* v = event.mutable_summary()->add_value();
    v->set_tag(tag);
    v->set_simple_value(static_cast<float>(value));
  }
  return Append(event.SerializeAsString());
}

}  // namespace spacebyte::trainer
