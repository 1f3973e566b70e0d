#include "data/prep.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "data/crc32c.h"
#include "data/document_source.h"
#include "data/inspect.h"
#include "data/manifest.h"
#include "data/record_reader.h"
#include "gtest/gtest.h"
#include "proto/data.pb.h"
#include "tests/data/test_corpus.h"

namespace spacebyte::data {
namespace {

using testing::Gzip;
using testing::Xz;
using testing::Zstd;

void Write(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

TEST(PrepTest, ReadsDirectoriesAndJsonLinesAndReportsBadInputs) {
  const std::string dir = testing::FreshDir("prep");
  Write(dir + "/in/de/a.txt", "Erster Absatz.\nZweite Zeile.\n\n\nZweiter Absatz.\n");
  Write(dir + "/in/el/b.txt", "Πρώτη παράγραφος.\n\nΔεύτερη \xff.\n");
  Write(dir + "/in/el/empty.txt", "\n\n");
  Write(dir + "/docs.jsonl",
        "{\"text\": \"one\"}\n{not json}\n{\"title\": \"no text\"}\n"
        "{\"text\": \"deux\", \"language\": \"fr\"}\n{\"text\": \"\"}\n");
  PrepOptions o;
  o.inputs = {dir + "/in", dir + "/missing"};
  o.language_from = "/in/([a-z]+)/";
  o.separator = "blank";
  o.out = dir + "/out";
  o.threads = 3;
  o.validation_fraction = 0;
  o.test_fraction = 0;
  std::ostringstream out, err;
  ASSERT_TRUE(RunPrep(o, out, err).ok()) << err.str();
  EXPECT_NE(err.str().find("1 unreadable inputs"), std::string::npos) << err.str();
  EXPECT_NE(err.str().find(dir + "/missing"), std::string::npos);
  EXPECT_NE(err.str().find("1 empty documents"), std::string::npos) << err.str();
  EXPECT_NE(err.str().find("empty.txt"), std::string::npos);
  EXPECT_NE(out.str().find("\nel "), std::string::npos) << out.str();

  auto manifest = ReadManifest(o.out);
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  ASSERT_EQ(manifest->shards_size(), 2);
  EXPECT_EQ(manifest->shards(0).records(), 2);  // de: two paragraphs
  const auto& el = manifest->shards(1);
  EXPECT_EQ(el.languages(0).language(), "el");
  EXPECT_EQ(el.languages(0).invalid_utf8_bytes(), 1);
  auto reader = RecordReader::Open(o.out + "/" + manifest->shards(0).file());
  std::string payload;
  ASSERT_TRUE((*reader)->Read(&payload).ok());
  proto::Document doc;
  ASSERT_TRUE(doc.ParseFromString(payload));
  EXPECT_EQ(doc.text(), "Erster Absatz.\nZweite Zeile.");
  EXPECT_EQ(doc.language(), "de");

  PrepOptions jsonl = o;
  jsonl.inputs = {dir + "/docs.jsonl=en"};
  jsonl.format = "jsonl";
  jsonl.out = dir + "/out_jsonl";
  std::ostringstream out2, err2;
  ASSERT_TRUE(RunPrep(jsonl, out2, err2).ok());
  EXPECT_NE(err2.str().find("2 invalid JSON lines"), std::string::npos) << err2.str();
  EXPECT_NE(err2.str().find("docs.jsonl:2"), std::string::npos);
  EXPECT_NE(err2.str().find("1 empty documents"), std::string::npos);
  EXPECT_NE(out2.str().find("fr "), std::string::npos) << out2.str();
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string InspectHashes(const std::string& data, const std::string& split) {
  InspectOptions o;
  o.data_dir = data;
  o.split = split;
  o.context = 64;
  o.batch = 4;
  o.steps = 20;
  std::ostringstream out;
  EXPECT_TRUE(RunInspect(o, out).ok()) << data;
  return out.str();
}

// gzip (two members), zstd and xz inputs, one of them misnamed: the same
// samples as the plain text, by `data inspect` hashes on every split.
TEST(PrepTest, CompressedInputsGiveTheSameSamplesAsPlainText) {
  const std::string dir = testing::FreshDir("prep_compressed");
  const std::string udhr = std::string(SPACEBYTE_TESTDATA) + "/../../data/corpus/udhr/";
  const std::string eng = ReadAll(udhr + "eng.txt"), fra = ReadAll(udhr + "fra.txt"),
                    deu = ReadAll(udhr + "deu.txt");
  Write(dir + "/plain/eng.txt", eng);
  Write(dir + "/plain/fra.txt", fra);
  Write(dir + "/plain/deu.txt", deu);
  Write(dir + "/packed/eng.txt.gz", Gzip({eng.substr(0, 1000), eng.substr(1000)}));
  Write(dir + "/packed/fra.txt.zst", Zstd(fra));
  Write(dir + "/packed/deu.txt", Xz(deu));  // named as plain text: read by content
  std::ostringstream sink;
  for (const char* name : {"plain", "packed"}) {
    PrepOptions o;
    o.inputs = {dir + "/" + name};
    o.language_from = "/([a-z]+)\\.txt";
    o.separator = "blank";
    o.validation_fraction = 0.1;
    o.test_fraction = 0.1;
    o.out = dir + "/" + name + "_out";
    ASSERT_TRUE(RunPrep(o, sink, sink).ok()) << sink.str();
  }
  EXPECT_EQ(sink.str().find("unreadable"), std::string::npos) << sink.str();
  for (const char* split : {"train", "validation", "test"}) {
    const std::string plain = InspectHashes(dir + "/plain_out", split);
    EXPECT_GT(plain.size(), 100u);
    EXPECT_EQ(InspectHashes(dir + "/packed_out", split), plain) << split;
  }
}

// A truncated or corrupted compressed file is reported with the offset
// reached; a binary one is refused unless --allow_binary; the rest is kept.
TEST(PrepTest, CorruptCompressedAndBinaryInputsAreReported) {
  const std::string dir = testing::FreshDir("prep_bad_compressed");
  const std::string text = "A paragraph of text.\n\nAnother one.\n";
  Write(dir + "/in/good.txt", text);
  const std::string gz = Gzip({text + text + text});
  Write(dir + "/in/cut.txt.gz", gz.substr(0, gz.size() / 2));
  std::string flipped = Zstd(text + text);
  flipped[flipped.size() / 2] ^= 0x55;
  Write(dir + "/in/flipped.zst", flipped);
  std::string binary(4096, '\0');
  for (size_t i = 0; i < binary.size(); ++i) binary[i] = static_cast<char>(i * 2654435761u >> 13);
  Write(dir + "/in/image.bin", binary);
  PrepOptions o;
  o.inputs = {dir + "/in=xx"};
  o.separator = "blank";
  o.validation_fraction = 0;
  o.test_fraction = 0;
  o.out = dir + "/out";
  std::ostringstream out, err;
  ASSERT_TRUE(RunPrep(o, out, err).ok()) << err.str();
  EXPECT_NE(err.str().find(dir + "/in/cut.txt.gz: corrupt gzip data at compressed byte offset "),
            std::string::npos) << err.str();
  EXPECT_NE(err.str().find(dir + "/in/flipped.zst: corrupt zstd data at compressed byte offset "),
            std::string::npos) << err.str();
  EXPECT_NE(err.str().find(dir + "/in/image.bin: "), std::string::npos) << err.str();
  EXPECT_NE(err.str().find("are not UTF-8 text"), std::string::npos) << err.str();
  auto manifest = ReadManifest(o.out);
  ASSERT_TRUE(manifest.ok());
  EXPECT_EQ(manifest->shards(0).records(), 2) << "good.txt only";

  o.allow_binary = true;
  std::ostringstream out2, err2;
  ASSERT_TRUE(RunPrep(o, out2, err2).ok()) << err2.str();
  EXPECT_EQ(err2.str().find("image.bin"), std::string::npos) << err2.str();
  EXPECT_GT(ReadManifest(o.out)->shards(0).records(), 2);
}

// A large file is streamed in batches: cut short, the documents handed
// over before the corruption stay (each whole, the first K lines in order),
// the batch being filled is dropped, and the report says how many stayed.
TEST(PrepTest, LargeCorruptFileKeepsTheBatchesReadBeforeIt) {
  const std::string dir = testing::FreshDir("prep_large_corrupt");
  std::string text;
  int64_t lines = 0;
  for (; text.size() < (24u << 20); ++lines) {
    text += "line " + std::to_string(lines) + " " + std::string(60, 'a' + lines % 26) + "\n";
  }
  const std::string gz = Gzip({text}, /*level=*/1);
  Write(dir + "/in/big.txt.gz", gz.substr(0, gz.size() * 3 / 4));
  PrepOptions o;
  o.inputs = {dir + "/in=xx"};
  o.separator = "line";
  o.validation_fraction = 0;
  o.test_fraction = 0;
  o.out = dir + "/out";
  std::ostringstream out, err;
  ASSERT_TRUE(RunPrep(o, out, err).ok()) << err.str();
  auto manifest = ReadManifest(o.out);
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  int64_t kept = 0;
  for (const auto& shard : manifest->shards()) kept += shard.records();
  EXPECT_GT(kept, 0);
  EXPECT_LT(kept, lines * 3 / 4);
  EXPECT_NE(err.str().find("big.txt.gz: corrupt gzip data at compressed byte offset "),
            std::string::npos) << err.str();
  EXPECT_NE(err.str().find("; its first " + std::to_string(kept) + " documents, read before, are kept"),
            std::string::npos) << err.str();
  auto reader = RecordReader::Open(o.out + "/" + manifest->shards(manifest->shards_size() - 1).file());
  ASSERT_TRUE(reader.ok());
  std::string payload, last;
  while ((*reader)->Read(&payload).ok()) last = payload;
  proto::Document doc;
  ASSERT_TRUE(doc.ParseFromString(last));
  EXPECT_EQ(doc.text(), "line " + std::to_string(kept - 1) + " " +
                            std::string(60, 'a' + (kept - 1) % 26));
}

// JSON Lines whose text and language live in other fields (Dolma's "text"
// and "lang", say), named by --text_field and --language_field.
TEST(PrepTest, JsonLinesFieldsAreConfigurable) {
  const std::string dir = testing::FreshDir("prep_fields");
  Write(dir + "/docs.jsonl.gz", Gzip({"{\"body\": \"hello\", \"lang\": \"en\"}\n"
                                      "{\"body\": \"bonjour\", \"lang\": \"fr\"}\n"
                                      "{\"text\": \"no body\"}\n"}));
  PrepOptions o;
  o.inputs = {dir + "/docs.jsonl.gz=und"};
  o.format = "jsonl";
  o.text_field = "body";
  o.language_field = "lang";
  o.validation_fraction = 0;
  o.test_fraction = 0;
  o.out = dir + "/out";
  std::ostringstream out, err;
  ASSERT_TRUE(RunPrep(o, out, err).ok()) << err.str();
  EXPECT_NE(err.str().find("docs.jsonl.gz:3: no string field \"body\""), std::string::npos)
      << err.str();
  std::set<std::string> languages;
  const absl::StatusOr<proto::DatasetManifest> manifest = ReadManifest(o.out);
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  for (const auto& shard : manifest->shards()) {
    languages.insert(shard.languages(0).language());
  }
  EXPECT_EQ(languages, (std::set<std::string>{"en", "fr"}));
}

TEST(PrepTest, OutputDoesNotDependOnThreadsAndSplitsByHash) {
  const std::string dir = testing::FreshDir("prep_threads");
  std::string text;
  for (int i = 0; i < 400; ++i) text += "document number " + std::to_string(i) + "\n";
  for (int f = 0; f < 6; ++f) Write(dir + "/in/f" + std::to_string(f) + ".txt", text + std::to_string(f));
  std::string manifests[2];
  for (int threads : {1, 4}) {
    PrepOptions o;
    o.inputs = {dir + "/in=xx"};
    o.separator = "line";
    o.threads = threads;
    o.shard_bytes = 8000;
    o.validation_fraction = 0.1;
    o.test_fraction = 0.1;
    o.out = dir + "/out" + std::to_string(threads);
    std::ostringstream sink;
    ASSERT_TRUE(RunPrep(o, sink, sink).ok()) << sink.str();
    auto m = ReadManifest(o.out);
    ASSERT_TRUE(m.ok());
    int64_t split_docs[3] = {0, 0, 0};
    for (const auto& s : m->shards()) {
      split_docs[s.split() == "train" ? 0 : s.split() == "validation" ? 1 : 2] += s.records();
    }
    EXPECT_NEAR(split_docs[1] / 2406.0, 0.1, 0.03);
    EXPECT_NEAR(split_docs[2] / 2406.0, 0.1, 0.03);
    EXPECT_GT(m->shards_size(), 3);
    manifests[threads == 1 ? 0 : 1] = m->SerializeAsString();
  }
  EXPECT_EQ(manifests[0], manifests[1]);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The manifest of `dir` when it is a whole dataset (every shard there, with
// the size and CRC32C its manifest records), else "".
std::string WholeDatasetManifest(const std::string& dir) {
  auto m = ReadManifest(dir);
  if (!m.ok()) return "";
  for (const auto& shard : m->shards()) {
    const std::string bytes = ReadFile(dir + "/" + shard.file());
    if (static_cast<int64_t>(bytes.size()) != shard.file_bytes() ||
        Crc32c(bytes) != shard.crc32c()) {
      return "";
    }
  }
  return m->SerializeAsString();
}

PrepOptions Options(const std::string& input, const std::string& out) {
  PrepOptions o;
  o.inputs = {input};
  o.separator = "line";
  o.shard_bytes = 1 << 20;
  o.out = out;
  return o;
}

TEST(PrepTest, DistinctLanguageTagsGetDistinctShards) {
  const std::string dir = testing::FreshDir("prep_tags");
  Write(dir + "/a.txt", "one\ntwo\n");
  Write(dir + "/b.txt", "three\n");
  PrepOptions o = Options(dir + "/a.txt=en-US", dir + "/out");
  o.inputs.push_back(dir + "/b.txt=en_US");
  o.validation_fraction = 0;
  o.test_fraction = 0;
  std::ostringstream sink;
  ASSERT_TRUE(RunPrep(o, sink, sink).ok()) << sink.str();
  auto m = ReadManifest(o.out);
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_EQ(m->shards_size(), 2);
  std::map<std::string, std::pair<std::string, int64_t>> by_language;
  for (const auto& s : m->shards()) {
    by_language[s.languages(0).language()] = {s.file(), s.languages(0).documents()};
  }
  EXPECT_EQ(by_language.at("en-US").second, 2);
  EXPECT_EQ(by_language.at("en_US").second, 1);
  EXPECT_NE(by_language.at("en-US").first, by_language.at("en_US").first);
}

// An input inside the dataset prep replaces, or the dataset inside an input
// directory, would be read back as documents: refused, and the dataset left
// as it was. So is a NaN split fraction.
TEST(PrepTest, InputAndOutputThatOverlapAreRefused) {
  const std::string dir = testing::FreshDir("prep_overlap");
  Write(dir + "/a.txt", "alpha\nbeta\n");
  std::ostringstream sink;
  ASSERT_TRUE(RunPrep(Options(dir + "/a.txt=aa", dir + "/out"), sink, sink).ok()) << sink.str();
  const std::string before = WholeDatasetManifest(dir + "/out");
  for (const auto& [input, out] : {std::pair{dir + "/out", dir + "/out"},
                                   {dir + "/out/", dir + "/out"},
                                   {dir, dir + "/out"}}) {
    const absl::Status s = RunPrep(Options(input, out), sink, sink);
    EXPECT_NE(s.message().find("overlap"), std::string::npos) << input << " -> " << out << s;
  }
  EXPECT_EQ(WholeDatasetManifest(dir + "/out"), before);
  PrepOptions nan = Options(dir + "/a.txt=aa", dir + "/other");
  nan.validation_fraction = std::nan("");
  EXPECT_FALSE(RunPrep(nan, sink, sink).ok());
}

// OUT.staging is cleared before prep writes there: only a leftover of prep
// itself may be. A user's directory of that name, and an input inside it,
// were deleted.
TEST(PrepTest, AStagingDirectoryPrepDidNotMakeIsLeftAlone) {
  const std::string dir = testing::FreshDir("prep_staging");
  Write(dir + "/a.txt", "alpha\nbeta\n");
  Write(dir + "/out.staging/notes.txt", "precious\n");
  std::ostringstream sink;
  absl::Status s = RunPrep(Options(dir + "/a.txt=aa", dir + "/out"), sink, sink);
  EXPECT_NE(s.message().find("out.staging exists and was not left by spacebyte"),
            std::string::npos)
      << s;
  EXPECT_EQ(ReadAll(dir + "/out.staging/notes.txt"), "precious\n");
  s = RunPrep(Options(dir + "/out.staging", dir + "/out"), sink, sink);
  EXPECT_NE(s.message().find("overlap"), std::string::npos) << s;
  EXPECT_EQ(ReadAll(dir + "/out.staging/notes.txt"), "precious\n");
  // A leftover of a killed prep holds the marker and is cleared.
  std::filesystem::remove(dir + "/out.staging/notes.txt");
  Write(dir + "/out.staging/.spacebyte_staging", "\n");
  Write(dir + "/out.staging/train-aa-00000.tfrecord", "half written");
  ASSERT_TRUE(RunPrep(Options(dir + "/a.txt=aa", dir + "/out"), sink, sink).ok()) << sink.str();
  EXPECT_FALSE(std::filesystem::exists(dir + "/out.staging"));
  // "--out DIR/" replaces DIR, rather than staging inside it and failing.
  ASSERT_TRUE(RunPrep(Options(dir + "/a.txt=bb", dir + "/out/"), sink, sink).ok()) << sink.str();
  EXPECT_NE(WholeDatasetManifest(dir + "/out").find("bb"), std::string::npos);
}

// Inputs a user can hand prep by mistake: each is one reported line or
// error, never a hang, a dataset nothing can read, or another file read.
TEST(PrepTest, UnusualInputPathsAreReadOrNamed) {
  const std::string dir = testing::FreshDir("prep_paths");
  // A file name in Latin-1 (not UTF-8): its records stay readable.
  Write(dir + "/latin/caf\xe9.txt", "du caf\xc3\xa9\n");
  std::ostringstream sink;
  ASSERT_TRUE(RunPrep(Options(dir + "/latin", dir + "/out"), sink, sink).ok()) << sink.str();
  auto m = ReadManifest(dir + "/out");
  ASSERT_TRUE(m.ok()) << m.status();
  auto reader = RecordReader::Open(dir + "/out/" + m->shards(0).file());
  ASSERT_TRUE(reader.ok());
  std::string payload;
  ASSERT_TRUE((*reader)->Read(&payload).ok());
  proto::Document doc;
  ASSERT_TRUE(doc.ParseFromString(payload)) << "a record with a non-UTF-8 source";
  EXPECT_NE(doc.source().find("caf\\xE9.txt"), std::string::npos) << doc.source();
  // ... but as a language it is refused by name.
  PrepOptions named = Options(dir + "/latin", dir + "/out2");
  named.language_from = "/([^/]+)\\.txt$";
  absl::Status s = RunPrep(named, sink, sink);
  EXPECT_NE(s.message().find("is not valid UTF-8"), std::string::npos) << s;
  // A path that holds '=' is a path when it exists.
  Write(dir + "/run=1/a.txt", "wanted\n");
  Write(dir + "/run/b.txt", "other\n");
  ASSERT_TRUE(RunPrep(Options(dir + "/run=1", dir + "/out3"), sink, sink).ok()) << sink.str();
  EXPECT_NE(WholeDatasetManifest(dir + "/out3").find("-und-"), std::string::npos)
      << "read " << dir << "/run as language 1";
  // A pipe is reported, not read forever.
  ASSERT_EQ(mkfifo((dir + "/pipe").c_str(), 0644), 0);
  std::ostringstream err;
  PrepOptions pipe = Options(dir + "/pipe", dir + "/out4");
  pipe.inputs.push_back(dir + "/run/b.txt");
  ASSERT_TRUE(RunPrep(pipe, sink, err).ok()) << err.str();
  EXPECT_NE(err.str().find("pipe: not a regular file"), std::string::npos) << err.str();
  PrepOptions threads = Options(dir + "/run/b.txt", dir + "/out5");
  threads.threads = int64_t{1} << 32;
  EXPECT_NE(RunPrep(threads, sink, sink).message().find("--threads 4294967296 exceeds 1024"),
            std::string::npos);
}

// A byte order mark at the start of a JSON Lines file is not part of its
// first line (it was reported as invalid JSON), and a --language_from that
// matches an empty language is refused rather than naming shards "train--".
TEST(PrepTest, ByteOrderMarkIsSkippedAndEmptyLanguagesRefused) {
  const std::string dir = testing::FreshDir("prep_bom");
  Write(dir + "/a.jsonl", "\xEF\xBB\xBF{\"text\": \"one\"}\n{\"text\": \"two\"}\n");
  BadInputs bad;
  std::vector<std::string> texts;
  ASSERT_TRUE(ReadDocuments({dir + "/a.jsonl", "und"}, {InputFormat::kJsonLines}, &bad,
                            [&](RawDocument d) {
                              texts.push_back(d.text);
                              return true;
                            })
                  .ok());
  EXPECT_EQ(texts, (std::vector<std::string>{"one", "two"}));
  EXPECT_EQ(bad.invalid_json.count, 0);
  PrepOptions o = Options(dir + "/a.jsonl", dir + "/out");
  o.language_from = "()";
  std::ostringstream sink;
  EXPECT_NE(RunPrep(o, sink, sink).message().find("an empty language"), std::string::npos);
}

// Bad inputs are counted in full but only the first few are kept: 20
// million blank lines held 3 GB of their names.
TEST(PrepTest, BadInputsAreCountedWithoutKeepingThemAll) {
  const std::string dir = testing::FreshDir("prep_bad_count");
  Write(dir + "/a.txt", "x\n" + std::string(100000, '\n'));
  BadInputs bad;
  int64_t documents = 0;
  ASSERT_TRUE(ReadDocuments({dir + "/a.txt", "und"}, {InputFormat::kText, Separator::kLine}, &bad,
                            [&](RawDocument) { return ++documents > 0; })
                  .ok());
  EXPECT_EQ(documents, 1);
  EXPECT_EQ(bad.empty.count, 100000);
  EXPECT_EQ(bad.empty.shown.size(), BadList::kShown);
  std::ostringstream out, err;
  ASSERT_TRUE(RunPrep(Options(dir + "/a.txt", dir + "/out"), out, err).ok()) << err.str();
  EXPECT_NE(err.str().find("bad inputs: 100000 empty documents"), std::string::npos) << err.str();
  EXPECT_NE(err.str().find("... and 99980 more"), std::string::npos) << err.str();
}

// A manifest edited so that the loader would skip a shard (no language,
// another split), of a version this build does not know, listing a shard
// twice or with negative counts: refused by name, not read as less data.
TEST(PrepTest, ManifestsThatWouldLoseDataAreRefused) {
  const std::string dir = testing::FreshDir("prep_manifest");
  Write(dir + "/a.txt", "alpha\nbeta\n");
  std::ostringstream sink;
  ASSERT_TRUE(RunPrep(Options(dir + "/a.txt=aa", dir + "/out"), sink, sink).ok()) << sink.str();
  auto good = ReadManifest(dir + "/out");
  ASSERT_TRUE(good.ok()) << good.status();
  const std::vector<std::pair<std::function<void(proto::DatasetManifest&)>, std::string>> edits = {
      {[](auto& m) { m.set_format_version(99); }, "format version 99"},
      {[](auto& m) { m.mutable_shards(0)->clear_languages(); }, "lists 0 languages"},
      {[](auto& m) { m.mutable_shards(0)->set_split("../x"); }, "has split '../x'"},
      {[](auto& m) { *m.add_shards() = m.shards(0); }, "is listed twice"},
      {[](auto& m) { m.mutable_shards(0)->mutable_languages(0)->set_bytes(-1); },
       "negative size"},
  };
  for (const auto& [edit, error] : edits) {
    proto::DatasetManifest m = *good;
    edit(m);
    ASSERT_TRUE(WriteManifest(dir + "/out", m).ok());
    const absl::Status s = ReadManifest(dir + "/out").status();
    EXPECT_NE(s.message().find(error), std::string::npos) << error << ": " << s;
  }
}

TEST(PrepTest, RerunReplacesTheDatasetWholeAndLeavesOtherDirectoriesAlone) {
  const std::string dir = testing::FreshDir("prep_rerun");
  Write(dir + "/a.txt", "alpha\nbeta\n");
  Write(dir + "/b.txt", "gamma\n");
  std::ostringstream sink;
  ASSERT_TRUE(RunPrep(Options(dir + "/a.txt=aa", dir + "/out"), sink, sink).ok()) << sink.str();
  ASSERT_TRUE(RunPrep(Options(dir + "/b.txt=bb", dir + "/out"), sink, sink).ok()) << sink.str();
  auto m = ReadManifest(dir + "/out");
  ASSERT_TRUE(m.ok());
  for (const auto& entry : std::filesystem::directory_iterator(dir + "/out")) {
    EXPECT_EQ(entry.path().filename().string().find("-aa-"), std::string::npos)
        << entry.path() << " is left from the first dataset";
  }
  EXPECT_FALSE(std::filesystem::exists(dir + "/out.staging"));
  EXPECT_NE(WholeDatasetManifest(dir + "/out"), "");
  // A failed run (no documents) leaves the dataset as it was.
  Write(dir + "/empty.txt", "\n\n");
  const std::string before = WholeDatasetManifest(dir + "/out");
  EXPECT_FALSE(RunPrep(Options(dir + "/empty.txt=cc", dir + "/out"), sink, sink).ok());
  EXPECT_EQ(WholeDatasetManifest(dir + "/out"), before);
  // A directory that is not a dataset is never replaced.
  Write(dir + "/mine/notes.txt", "keep me");
  const absl::Status refused = RunPrep(Options(dir + "/b.txt=bb", dir + "/mine"), sink, sink);
  EXPECT_TRUE(absl::IsInvalidArgument(refused));
  EXPECT_NE(refused.message().find("not a dataset of `spacebyte prep`"), std::string::npos) << refused;
  EXPECT_EQ(ReadFile(dir + "/mine/notes.txt"), "keep me");
}

// Prep killed (SIGKILL) at many moments while it replaces a dataset: the
// directory always holds the old dataset or the new one, whole.
TEST(PrepTest, KilledAtAnyMomentLeavesTheOldOrTheNewDataset) {
  const std::string dir = testing::FreshDir("prep_kill");
  Write(dir + "/old.txt", "the old dataset\nits second line\n");
  std::string line;
  for (int i = 0; i < 60; ++i) line += "word" + std::to_string(i) + " ";
  std::string big;
  for (int i = 0; i < 40000; ++i) big += line + std::to_string(i) + "\n";
  for (int f = 0; f < 4; ++f) Write(dir + "/new/f" + std::to_string(f) + ".txt", big);
  const std::string out = dir + "/out";
  std::ostringstream sink;
  ASSERT_TRUE(RunPrep(Options(dir + "/old.txt=xx", out), sink, sink).ok());
  const std::string old_manifest = WholeDatasetManifest(out);
  ASSERT_NE(old_manifest, "");
  std::set<std::string> seen;
  for (int delay_ms : {0, 2, 5, 10, 20, 40, 80, 160, 320, 640, 1280}) {
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      std::ostringstream quiet;
      _exit(RunPrep(Options(dir + "/new=xx", out), quiet, quiet).ok() ? 0 : 1);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    kill(child, SIGKILL);
    waitpid(child, nullptr, 0);
    const std::string now = WholeDatasetManifest(out);
    ASSERT_NE(now, "") << "killed after " << delay_ms << " ms: " << out << " is not a whole dataset";
    seen.insert(now == old_manifest ? "old" : "new");
    if (now != old_manifest) break;  // replaced: later kills would find the new one
  }
  EXPECT_TRUE(seen.count("old")) << "no kill landed before the swap";
}

}  // namespace
}  // namespace spacebyte::data
