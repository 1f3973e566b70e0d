// `spacebyte prep` at scale. Generates a multilingual corpus of
// --gigabytes (words drawn at random from each language of the bundled UDHR
// corpus, so every script's byte mix is real) as files of each --kinds,
// then runs the real `spacebyte prep` on it with each --threads count and
// prints, per run, MB/s of decompressed input and the prep process's peak
// resident set. Two floors are measured in the same run on the same files:
// decompressing them on one thread (our reader, zlib/libzstd/liblzma) and
// writing as many bytes to the output disk with fsync.
//
//   prep_benchmark [--gigabytes=2] [--kinds=jsonl.zst,txt.gz,txt]
//                  [--threads=1,2] [--file_mib=32] [--dir=DIR]
//                  [--single_file] [--max_rss_growth_mb=N] [--keep]
//                  [--binaries=SPACEBYTE[,SPACEBYTE...]]
//
// --binaries runs each given `spacebyte` on the same files, one after the
// other (an older build beside this one); the default is this build's.
// Peak RSS is also given as growth over the same binary prepping a
// one-line corpus (loading LibTorch alone takes ~170 MiB). --single_file
// puts the whole corpus in one file; with --max_rss_growth_mb the benchmark
// fails when a prep run grows more than N MiB (ctest prep_streaming_memory:
// memory must not grow with the file). --keep leaves the corpus of the last
// kind in --dir, to profile prep on.

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "data/decompress.h"
#include "data/hash64.h"
#include "nlohmann/json.hpp"
#include "tests/data/test_corpus.h"

namespace spacebyte::data {
namespace {
namespace fs = std::filesystem;

struct Options {
  double gigabytes = 2;
  std::vector<std::string> kinds = {"jsonl.zst", "txt.gz", "txt"};
  std::vector<int> threads = {1, 2};
  int64_t file_mib = 32;
  std::string dir;
  bool single_file = false;
  double max_rss_growth_mb = 0;
  bool keep = false;
  std::vector<std::string> binaries = {SPACEBYTE_BIN};
};

// A language's words: its UDHR text cut at spaces, and scripts written
// without spaces cut every few code points.
struct Language {
  std::string name;
  std::vector<std::string> words;
  bool spaced = true;
};

std::vector<Language> LoadLanguages(const std::string& udhr) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(udhr)) {
    if (entry.path().extension() == ".txt") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  std::vector<Language> languages;
  for (const fs::path& path : files) {
    std::ifstream in(path, std::ios::binary);
    const std::string text((std::istreambuf_iterator<char>(in)), {});
    Language l{path.stem().string()};
    l.spaced = std::count(text.begin(), text.end(), ' ') * 50 > static_cast<int64_t>(text.size());
    for (absl::string_view w : absl::StrSplit(text, absl::ByAnyChar(" \n\t"), absl::SkipEmpty())) {
      if (l.spaced) {
        l.words.emplace_back(w);
        continue;
      }
      // Pieces of 1-3 code points.
      for (size_t i = 0; i < w.size();) {
        size_t j = i, points = 1 + l.words.size() % 3;
        while (j < w.size() && points > 0) {
          ++j;
          while (j < w.size() && (static_cast<unsigned char>(w[j]) & 0xC0) == 0x80) ++j;
          --points;
        }
        l.words.emplace_back(w.substr(i, j - i));
        i = j;
      }
    }
    if (!l.words.empty()) languages.push_back(std::move(l));
  }
  return languages;
}

// One document of 1-6 paragraphs; `seed` makes it reproducible.
std::string Document(const Language& l, uint64_t seed) {
  std::string doc;
  const int paragraphs = 1 + Mix64(seed) % 6;
  uint64_t k = 0;
  for (int p = 0; p < paragraphs; ++p) {
    if (p > 0) doc += "\n";
    const int words = 20 + Mix64(seed ^ (p + 1) * 0x9e37) % 180;
    for (int w = 0; w < words; ++w) {
      if (w > 0 && l.spaced) doc += ' ';
      doc += l.words[Mix64(seed * 1315423911u + ++k) % l.words.size()];
    }
  }
  return doc;
}

bool IsJsonLines(const std::string& kind) { return kind.rfind("jsonl", 0) == 0; }

std::string Compress(const std::string& kind, std::string content) {
  if (absl::EndsWith(kind, ".gz")) return testing::Gzip({content}, /*level=*/1);
  if (absl::EndsWith(kind, ".zst")) return testing::Zstd(content, /*level=*/3);
  if (absl::EndsWith(kind, ".xz")) return testing::Xz(content, /*level=*/1);
  return content;
}

// Writes file `index` of the corpus (about `bytes` before compression) and
// returns its decompressed size.
int64_t WriteCorpusFile(const std::string& root, const std::string& kind,
                        const std::vector<Language>& languages, int64_t index, int64_t bytes) {
  const Language& l = languages[index % languages.size()];
  std::string content;
  for (uint64_t d = 0; static_cast<int64_t>(content.size()) < bytes; ++d) {
    const std::string doc = Document(l, Mix64(index) ^ d);
    if (IsJsonLines(kind)) {
      content += nlohmann::json{{"text", doc}, {"id", d}}.dump();
      content += '\n';
    } else {
      content += doc;
      content += "\n\n";
    }
  }
  const fs::path path = fs::path(root) / l.name / absl::StrFormat("part-%05d.%s", index, kind);
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << Compress(kind, content);
  return content.size();
}

struct Corpus {
  int64_t bytes = 0;  // decompressed
  int64_t files = 0;
};

// The corpus for `kind` under dir/kind, written by all cores.
Corpus Generate(const Options& o, const std::string& kind, const std::vector<Language>& languages) {
  const std::string root = o.dir + "/" + kind;
  fs::remove_all(root);
  const int64_t total = static_cast<int64_t>(o.gigabytes * (1 << 30));
  const int64_t file_bytes = o.single_file ? total : std::min(total, o.file_mib << 20);
  const int64_t files = std::max<int64_t>(1, total / file_bytes);
  std::vector<int64_t> sizes(files);
  std::vector<std::thread> workers;
  const int n = std::max(1u, std::thread::hardware_concurrency());
  for (int w = 0; w < n; ++w) {
    workers.emplace_back([&, w] {
      for (int64_t f = w; f < files; f += n) {
        sizes[f] = WriteCorpusFile(root, kind, languages, f, file_bytes);
      }
    });
  }
  for (std::thread& t : workers) t.join();
  Corpus corpus{0, files};
  for (int64_t s : sizes) corpus.bytes += s;
  return corpus;
}

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

// Decompressed MB/s of reading every file of `root` on one thread.
double DecompressFloor(const std::string& root) {
  std::vector<std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (e.is_regular_file()) files.push_back(e.path().string());
  }
  const auto start = std::chrono::steady_clock::now();
  int64_t bytes = 0;
  std::string buffer;
  for (const std::string& f : files) {
    auto stream = ByteStream::OpenFile(f);
    if (!stream.ok()) return 0;
    while (true) {
      buffer.clear();
      absl::StatusOr<size_t> n = (*stream)->Read(1 << 20, &buffer);
      if (!n.ok() || *n == 0) break;
      bytes += *n;
    }
  }
  return bytes / 1e6 / Seconds(start);
}

// MB/s of writing `bytes` to a file in `dir` and syncing it, as prep does.
double WriteFloor(const std::string& dir, int64_t bytes) {
  const std::string path = dir + "/write_floor.bin";
  const std::string chunk(8 << 20, 'x');
  const auto start = std::chrono::steady_clock::now();
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return 0;
  for (int64_t done = 0; done < bytes; done += chunk.size()) {
    std::fwrite(chunk.data(), 1, chunk.size(), f);
  }
  std::fflush(f);
  ::fsync(fileno(f));
  std::fclose(f);
  const double mbps = bytes / 1e6 / Seconds(start);
  fs::remove(path);
  return mbps;
}

struct PrepRun {
  double seconds = 0;
  double peak_rss_mb = 0;
  int exit_code = -1;
};

// The real `spacebyte prep` in a child process, timed, with its peak RSS.
PrepRun RunPrepProcess(const Options& o, const std::string& binary, const std::string& kind,
                       int threads) {
  const std::string out = o.dir + "/dataset";
  fs::remove_all(out);
  std::vector<std::string> args = {binary, "prep", "--input", o.dir + "/" + kind,
                                   "--language_from", "/([a-z]+)/part-", "--out", out,
                                   "--threads", std::to_string(threads),
                                   "--separator", "blank", "--format",
                                   IsJsonLines(kind) ? "jsonl" : "text"};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const std::string log = o.dir + "/prep.log";
  std::cout << std::flush;  // or the child's copy of the buffer is printed again
  const auto start = std::chrono::steady_clock::now();
  const pid_t pid = fork();
  if (pid == 0) {
    std::freopen(log.c_str(), "w", stdout);
    std::freopen(log.c_str(), "a", stderr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  PrepRun run;
  int status = 0;
  rusage usage{};
  wait4(pid, &status, 0, &usage);
  run.seconds = Seconds(start);
  run.peak_rss_mb = usage.ru_maxrss / 1024.0;  // Linux reports KiB
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  fs::remove_all(out);
  return run;
}

bool ParseFlag(const std::string& arg, Options* o) {
  auto value = [&](const char* name) -> const char* {
    const std::string prefix = std::string("--") + name + "=";
    return arg.rfind(prefix, 0) == 0 ? arg.c_str() + prefix.size() : nullptr;
  };
  if (const char* v = value("gigabytes")) return (o->gigabytes = std::atof(v)) > 0;
  if (const char* v = value("file_mib")) return (o->file_mib = std::atoll(v)) > 0;
  if (const char* v = value("dir")) return !(o->dir = v).empty();
  if (const char* v = value("max_rss_growth_mb")) return (o->max_rss_growth_mb = std::atof(v)) > 0;
  if (const char* v = value("binaries")) {
    o->binaries = absl::StrSplit(v, ',', absl::SkipEmpty());
    return !o->binaries.empty();
  }
  if (const char* v = value("kinds")) {
    o->kinds = absl::StrSplit(v, ',', absl::SkipEmpty());
    return !o->kinds.empty();
  }
  if (const char* v = value("threads")) {
    o->threads.clear();
    for (absl::string_view t : absl::StrSplit(v, ',', absl::SkipEmpty())) {
      o->threads.push_back(std::atoi(std::string(t).c_str()));
      if (o->threads.back() <= 0) return false;
    }
    return !o->threads.empty();
  }
  if (arg == "--single_file") return o->single_file = true;
  if (arg == "--keep") return o->keep = true;
  return false;
}

int Main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    if (!ParseFlag(argv[i], &o)) {
      std::cerr << "prep_benchmark: bad flag " << argv[i] << " (see the header of prep_benchmark.cc)\n";
      return 1;
    }
  }
  if (o.dir.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    o.dir = absl::StrCat(tmp ? tmp : "/tmp", "/spacebyte_prep_benchmark_", getpid());
  }
  fs::create_directories(o.dir);
  const std::vector<Language> languages = LoadLanguages(SPACEBYTE_SOURCE_DIR "/data/corpus/udhr");
  if (languages.empty()) {
    std::cerr << "prep_benchmark: no languages under data/corpus/udhr\n";
    return 1;
  }
  // Each binary's resident set with nothing to read: LibTorch and the rest.
  std::ofstream(o.dir + "/baseline.txt") << "one line\n";
  std::vector<double> baseline_mb;
  for (size_t b = 0; b < o.binaries.size(); ++b) {
    std::cout << "binary " << b << ": " << o.binaries[b] << "\n";
    baseline_mb.push_back(RunPrepProcess(o, o.binaries[b], "baseline.txt", 1).peak_rss_mb);
  }
  bool ok = true;
  std::vector<nlohmann::json> results;
  std::cout << absl::StrFormat("%-10s %8s %3s %7s %10s %8s %9s %12s %10s %11s\n", "kind",
                               "input_MB", "bin", "threads", "prep_MB/s", "peak_MB",
                               "growth_MB", "decomp_MB/s", "write_MB/s", "prep/floor");
  for (const std::string& kind : o.kinds) {
    const auto gen_start = std::chrono::steady_clock::now();
    const Corpus corpus = Generate(o, kind, languages);
    const int64_t bytes = corpus.bytes;
    std::cerr << absl::StrFormat("generated %s: %d files, %.0f MB in %.0f s\n", kind,
                                 corpus.files, bytes / 1e6, Seconds(gen_start));
    const double decompress = DecompressFloor(o.dir + "/" + kind);
    const double write = WriteFloor(o.dir, bytes);
    for (int threads : o.threads) {
      for (size_t b = 0; b < o.binaries.size(); ++b) {
        const PrepRun run = RunPrepProcess(o, o.binaries[b], kind, threads);
        if (run.exit_code != 0) {
          std::cerr << "prep_benchmark: " << o.binaries[b] << " prep exited " << run.exit_code
                    << "; see " << o.dir << "/prep.log\n";
          return 1;
        }
        const double mbps = bytes / 1e6 / run.seconds;
        const double growth = run.peak_rss_mb - baseline_mb[b];
        // Prep decompresses up to `threads` files at once and writes once.
        const double floor = std::min(decompress * threads, write);
        std::cout << absl::StrFormat(
                         "%-10s %8.0f %3d %7d %10.1f %8.0f %9.0f %12.1f %10.1f %11.2f\n", kind,
                         bytes / 1e6, b, threads, mbps, run.peak_rss_mb, growth, decompress,
                         write, mbps / floor)
                  << std::flush;
        results.push_back({{"kind", kind}, {"binary", o.binaries[b]}, {"input_mb", bytes / 1e6},
                           {"files", corpus.files}, {"threads", threads},
                           {"prep_mb_per_s", mbps}, {"peak_rss_mb", run.peak_rss_mb},
                           {"peak_rss_growth_mb", growth},
                           {"decompress_mb_per_s_1_thread", decompress},
                           {"write_mb_per_s", write}, {"prep_over_floor", mbps / floor}});
        if (o.max_rss_growth_mb > 0 && growth > o.max_rss_growth_mb) {
          std::cerr << absl::StrFormat(
              "prep_benchmark: peak RSS %.0f MiB, %.0f MiB over a one-line corpus's: more "
              "than the %.0f MiB allowed\n",
              run.peak_rss_mb, growth, o.max_rss_growth_mb);
          ok = false;
        }
      }
    }
    if (!o.keep || kind != o.kinds.back()) fs::remove_all(o.dir + "/" + kind);
  }
  for (const nlohmann::json& r : results) std::cout << r.dump() << "\n";
  if (!o.keep) fs::remove_all(o.dir);
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace spacebyte::data

int main(int argc, char** argv) { return spacebyte::data::Main(argc, argv); }
