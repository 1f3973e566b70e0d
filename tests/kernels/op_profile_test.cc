// The per-operator profile behind `spacebyte bench --trace`: self times that
// do not count a called operator twice, phases kept out of the table but
// written to the trace around their operators, and an unwritable trace
// reported with its path.

#include "kernels/op_profile.h"

#include <torch/torch.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "kernels/phase_timer.h"

namespace spacebyte::trainer {
namespace {

const OpTime* Find(const OpProfile& profile, const std::string& name) {
  for (const OpTime& op : profile.ops) {
    if (op.name == name) return &op;
  }
  return nullptr;
}

TEST(OpProfileTest, SelfTimesAddUpToAtMostTheWallTime) {
  torch::NoGradGuard no_grad;
  const torch::Tensor x = torch::randn({256, 512}), w = torch::randn({512, 512});
  const std::string path = testing::TempDir() + "/op_profile_trace.json";
  double wall_ms = 0;
  absl::StatusOr<OpProfile> profile = ProfileOps(
      [&] {
        const auto start = std::chrono::steady_clock::now();
        PhaseScope phase("product phase");
        for (int i = 0; i < 5; ++i) (void)torch::matmul(x, w);
        wall_ms =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                .count();
      },
      /*cuda=*/false, path);
  ASSERT_TRUE(profile.ok()) << profile.status();
  EXPECT_EQ(profile->basis, "cpu operators (self time)");
  const OpTime* matmul = Find(*profile, "aten::matmul");
  const OpTime* product = Find(*profile, "aten::mm");
  ASSERT_NE(matmul, nullptr) << OpTable(*profile, 20, 1);
  ASSERT_NE(product, nullptr) << OpTable(*profile, 20, 1);
  EXPECT_EQ(matmul->calls, 5);
  EXPECT_EQ(product->calls, 5);
  // Inclusive times would count the product again under matmul: about
  // twice the wall time.
  EXPECT_LT(matmul->ms, product->ms);
  EXPECT_LE(profile->total_ms, wall_ms * 1.02 + 0.05);
  EXPECT_EQ(Find(*profile, "product phase"), nullptr) << "phases are not operators";
  EXPECT_NE(OpTable(*profile, 5, 1).find("aten::matmul"), std::string::npos);

  std::ifstream in(path);
  const nlohmann::json trace = nlohmann::json::parse(in);
  double phase_start = -1, phase_end = -1;
  for (const auto& e : trace.at("traceEvents")) {
    if (e.at("name") == "product phase") {
      EXPECT_EQ(e.at("cat"), "phase");
      phase_start = e.at("ts").get<double>();
      phase_end = phase_start + e.at("dur").get<double>();
    }
  }
  ASSERT_GE(phase_start, 0) << "the phase is a range in the trace";
  int inside = 0;
  for (const auto& e : trace.at("traceEvents")) {
    if (e.at("name") != product->name) continue;
    const double ts = e.at("ts").get<double>();
    inside += ts >= phase_start && ts + e.at("dur").get<double>() <= phase_end;
  }
  EXPECT_EQ(inside, 5);
}

TEST(OpProfileTest, AnUnwritableTraceNamesItsPath) {
  const std::string path = testing::TempDir() + "/no such dir/trace.json";
  absl::StatusOr<OpProfile> profile =
      ProfileOps([] { (void)torch::ones({4}).sum(); }, /*cuda=*/false, path);
  ASSERT_FALSE(profile.ok());
  EXPECT_NE(profile.status().message().find(path), std::string::npos) << profile.status();
}

}  // namespace
}  // namespace spacebyte::trainer
