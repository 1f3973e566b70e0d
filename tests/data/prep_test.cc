#include "data/prep.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "data/manifest.h"
#include "data/record_reader.h"
#include "gtest/gtest.h"
#include "proto/data.pb.h"
#include "tests/data/test_corpus.h"

namespace spacebyte::data {
namespace {

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

}  // namespace
}  // namespace spacebyte::data
