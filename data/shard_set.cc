#include "data/shard_set.h"

#include <cctype>

#include "absl/strings/str_format.h"

namespace spacebyte::data {
namespace {
// Language tags come from users and paths. Letters and digits stay; every
// other byte becomes _XX (hex), '_' included, so distinct tags ("en-US",
// "en_US") always get distinct file names.
std::string FileSafe(const std::string& s) {
  std::string out;
  for (char c : s) {
    const auto byte = static_cast<unsigned char>(c);
    if (std::isalnum(byte) && byte < 0x80) {
      out.push_back(c);
    } else {
      absl::StrAppendFormat(&out, "_%02x", byte);
    }
  }
  return out;
}
}  // namespace

absl::Status ShardSet::Add(const std::string& split, const std::string& language,
                           const std::string& payload, int64_t text_bytes,
                           int64_t invalid_bytes) {
  Open& open = open_[{split, language}];
  if (open.writer == nullptr) {
    const std::string file = absl::StrFormat("%s-%s-%05d.tfrecord", split, FileSafe(language),
                                             open.next_number++);
    auto writer = RecordWriter::Open(dir_ + "/" + file);
    if (!writer.ok()) return writer.status();
    open.writer = std::move(*writer);
    open.info = proto::ShardInfo();
    open.info.set_file(file);
    open.info.set_split(split);
    open.info.add_languages()->set_language(language);
  }
  if (absl::Status s = open.writer->Write(payload); !s.ok()) return s;
  open.info.set_records(open.info.records() + 1);
  open.info.set_bytes(open.info.bytes() + text_bytes);
  proto::LanguageBytes* lb = open.info.mutable_languages(0);
  lb->set_documents(lb->documents() + 1);
  lb->set_bytes(lb->bytes() + text_bytes);
  lb->set_invalid_utf8_bytes(lb->invalid_utf8_bytes() + invalid_bytes);
  if (static_cast<int64_t>(open.writer->file_bytes()) >= shard_bytes_) {
    return Close(&open, &closed_);
  }
  return absl::OkStatus();
}

absl::Status ShardSet::Close(Open* open, proto::DatasetManifest* manifest) {
  if (absl::Status s = open->writer->Close(); !s.ok()) return s;
  open->info.set_file_bytes(open->writer->file_bytes());
  open->info.set_crc32c(open->writer->file_crc32c());
  *manifest->add_shards() = open->info;
  open->writer.reset();
  return absl::OkStatus();
}

absl::Status ShardSet::Finish(proto::DatasetManifest* manifest) {
  for (auto& [key, open] : open_) {
    if (open.writer != nullptr) {
      if (absl::Status s = Close(&open, &closed_); !s.ok()) return s;
    }
  }
  for (const proto::ShardInfo& shard : closed_.shards()) *manifest->add_shards() = shard;
  return absl::OkStatus();
}

}  // namespace spacebyte::data
