#include "data/language_stream.h"

#include <algorithm>
#include <cstring>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "data/hash64.h"
#include "data/shard_index.h"

namespace spacebyte::data {

LanguageStream::LanguageStream(std::string language, std::vector<ShardRef> shards,
                               StreamOptions options, int64_t* corrupt_records)
    : language_(std::move(language)),
      shards_(std::move(shards)),
      options_(options),
      corrupt_records_(corrupt_records) {
  cursor_.set_language(language_);
  for (const ShardRef& s : shards_) total_records_ += s.records;
}

absl::Status LanguageStream::Restore(const proto::LanguageCursor& cursor) {
  const int64_t num_shards = static_cast<int64_t>(shards_.size());
  auto bad = [&](const std::string& what) {
    return absl::InvalidArgumentError(absl::StrCat(
        "loader state for language ", language_, ": ", what,
        " (the dataset is not the one the state was saved with)"));
  };
  if (cursor.epoch() < 0 || cursor.offset() < 0) return bad("negative position");
  if (cursor.shard() < 0 || cursor.shard() > num_shards) {
    return bad(absl::StrCat("shard ", cursor.shard(), " of ", num_shards));
  }
  for (const proto::RecordRef& r : cursor.corrupt()) {
    if (r.shard() < 0 || r.shard() >= num_shards) return bad("corrupt record outside the shards");
  }
  const proto::LanguageCursor previous = cursor_;
  cursor_ = cursor;  // ShardAt reads the epoch from it
  if (cursor.shard() < num_shards &&
      (cursor.record() < 0 || cursor.record() >= shards_[ShardAt(cursor.shard())].records)) {
    const int64_t records = shards_[ShardAt(cursor.shard())].records;
    cursor_ = previous;
    return bad(absl::StrCat("record ", cursor.record(), " of ", records));
  }
  loaded_ = false;
  empty_run_ = 0;
  return absl::OkStatus();
}

// Fisher-Yates with the counter-based generator, so the order is the same
// on every platform and standard library.
int64_t LanguageStream::ShardAt(int64_t ordinal) {
  if (order_epoch_ != cursor_.epoch()) {
    std::vector<int64_t>& order = order_;
    order.resize(shards_.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    if (options_.shuffle) {
      const uint64_t stream = Hash64(language_) ^ Mix64(cursor_.epoch());
      for (size_t i = order.size(); i > 1; --i) {
        size_t j = static_cast<size_t>(UniformAt(options_.seed, stream, i) * i);
        std::swap(order[i - 1], order[j]);
      }
    }
    order_epoch_ = cursor_.epoch();
  }
  return order_[ordinal];
}

absl::Status LanguageStream::OpenShard(int64_t shard) {
  const std::string& path = shards_[shard].path;
  reader_.reset();
  reader_shard_ = -1;
  absl::StatusOr<std::vector<uint64_t>> offsets = ReadShardIndex(IndexPath(path));
  if (!offsets.ok()) return offsets.status();
  if (static_cast<int64_t>(offsets->size()) != shards_[shard].records) {
    return absl::DataLossError(absl::StrCat(IndexPath(path), ": has ", offsets->size(),
                                            " records, the manifest says ",
                                            shards_[shard].records));
  }
  absl::StatusOr<std::unique_ptr<RecordReader>> reader = RecordReader::Open(path);
  if (!reader.ok()) return reader.status();
  // Records follow each other: offsets rise and stay inside the shard.
  for (size_t i = 0; i < offsets->size(); ++i) {
    if ((*offsets)[i] >= (*reader)->file_size() || (i > 0 && (*offsets)[i] <= (*offsets)[i - 1])) {
      return absl::DataLossError(absl::StrCat("corrupt shard index ", IndexPath(path),
                                              ": record ", i, " at byte offset ", (*offsets)[i],
                                              " is out of order or past the end of ", path));
    }
  }
  reader_ = std::move(*reader);
  offsets_ = std::move(*offsets);
  reader_shard_ = shard;
  return absl::OkStatus();
}

void LanguageStream::NoteCorrupt(int64_t shard, const absl::Status& why) {
  for (const proto::RecordRef& r : cursor_.corrupt()) {
    if (r.shard() == shard && r.record() == cursor_.record()) return;
  }
  proto::RecordRef* r = cursor_.add_corrupt();
  r->set_shard(shard);
  r->set_record(cursor_.record());
  ++*corrupt_records_;
  if (options_.report_corrupt) {
    std::cerr << absl::StrCat("spacebyte: skipping corrupt record (data.skip_corrupt): ",
                              why.message(), "\n")
              << std::flush;
  }
}

absl::Status LanguageStream::LoadRecord() {
  const int64_t shard = ShardAt(cursor_.shard());
  const std::string& path = shards_[shard].path;
  if (reader_shard_ != shard) {
    if (absl::Status s = OpenShard(shard); !s.ok()) return s;
  }
  const uint64_t offset = offsets_[cursor_.record()];
  reader_->Seek(offset);
  absl::Status status = reader_->Read(&payload_);
  if (status.ok() && !document_.ParseFromString(payload_)) {
    status = absl::DataLossError(absl::StrCat(
        path, ": the record at byte offset ", offset, " is not a Document"));
  }
  if (status.ok()) {
    unit_size_ = 1 + document_.text().size();
  } else if (options_.skip_corrupt && absl::IsDataLoss(status)) {
    NoteCorrupt(shard, status);
    unit_size_ = 0;
  } else {
    return status;
  }
  loaded_ = true;
  return absl::OkStatus();
}

bool LanguageStream::Advance() {
  loaded_ = false;
  cursor_.set_offset(0);
  cursor_.set_record(cursor_.record() + 1);
  const int64_t num_shards = static_cast<int64_t>(shards_.size());
  while (cursor_.record() >= shards_[ShardAt(cursor_.shard())].records) {
    cursor_.set_record(0);
    cursor_.set_shard(cursor_.shard() + 1);
    if (cursor_.shard() == num_shards) {
      if (!options_.wrap || total_records_ == 0) return false;
      cursor_.set_epoch(cursor_.epoch() + 1);
      cursor_.set_shard(0);
    }
  }
  return true;
}

absl::StatusOr<size_t> LanguageStream::Take(size_t n, uint8_t* out) {
  size_t done = 0;
  if (cursor_.shard() >= static_cast<int64_t>(shards_.size())) return done;
  while (done < n) {
    if (!loaded_) {
      if (absl::Status s = LoadRecord(); !s.ok()) return s;
    }
    const size_t offset = cursor_.offset();
    if (offset > unit_size_) {
      return absl::InvalidArgumentError(absl::StrCat(
          "loader state for language ", language_, ": byte ", offset, " of a ", unit_size_,
          "-byte record (the dataset is not the one the state was saved with)"));
    }
    const size_t k = std::min(unit_size_ - offset, n - done);
    if (out != nullptr && k > 0) {
      size_t i = 0;
      if (offset == 0) out[done + i++] = kBos;
      std::memcpy(out + done + i, document_.text().data() + offset + i - 1, k - i);
    }
    done += k;
    cursor_.set_offset(offset + k);
    if (cursor_.offset() == static_cast<int64_t>(unit_size_)) {
      empty_run_ = unit_size_ > 0 ? 0 : empty_run_ + 1;
      if (empty_run_ > total_records_) {
        return absl::DataLossError(
            absl::StrCat("language ", language_, " has no readable records"));
      }
      if (!Advance()) break;
    }
  }
  return done;
}

}  // namespace spacebyte::data
