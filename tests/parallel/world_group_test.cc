// WorldGroup: the host-side agreements every rank of the job settles
// together (run on 2 and 4 ranks).

#include "parallel/world_group.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace spacebyte::parallel {
namespace {

TEST(WorldGroupTest, OneFailingRankReachesEveryRank) {
  const WorldGroup world;
  EXPECT_TRUE(world.AllOk(true));
  EXPECT_FALSE(world.AllOk(world.rank() != world.size() - 1));
  EXPECT_TRUE(world.Agree(absl::OkStatus()).ok());
  const bool failing = world.rank() == 1;
  const absl::Status agreed =
      world.Agree(failing ? absl::DataLossError("shard 7 is corrupt") : absl::OkStatus());
  if (failing) {
    EXPECT_EQ(agreed.message(), "shard 7 is corrupt");
  } else {
    EXPECT_EQ(agreed.code(), absl::StatusCode::kAborted);
    EXPECT_EQ(agreed.message(), "another rank failed; see its message");
  }
}

TEST(WorldGroupTest, MinAndAllGatherSeeEveryRank) {
  const WorldGroup world;
  EXPECT_EQ(world.Min(10 - world.rank()), 11 - world.size());
  const std::vector<double> all = world.AllGather(0.5 * world.rank());
  ASSERT_EQ(static_cast<int>(all.size()), world.size());
  for (int r = 0; r < world.size(); ++r) EXPECT_EQ(all[r], 0.5 * r);
}

TEST(WorldGroupTest, BytesOfEveryLengthGatherAndBroadcast) {
  const WorldGroup world;
  // Lengths 0, 1, 2, ...: an empty part must keep its place.
  const std::string mine(world.rank(), static_cast<char>('a' + world.rank()));
  const int root = world.size() - 1;
  const std::vector<std::string> parts = world.Gather(mine, root);
  if (world.rank() == root) {
    ASSERT_EQ(static_cast<int>(parts.size()), world.size());
    for (int r = 0; r < world.size(); ++r) {
      EXPECT_EQ(parts[r], std::string(r, static_cast<char>('a' + r)));
    }
  } else {
    EXPECT_TRUE(parts.empty());
  }
  const std::string sent = world.rank() == 0 ? std::string("commit\0ok", 9) : "ignored";
  EXPECT_EQ(world.Broadcast(sent, 0), std::string("commit\0ok", 9));
  world.Barrier();
}

}  // namespace
}  // namespace spacebyte::parallel
