// Metrics: series of a label value that is gone (a platform dropped from the collateral map) are
// removed, the others and other families kept.
#include "server/metrics.h"

#include <gtest/gtest.h>

namespace kmra::server {
namespace {

TEST(MetricsTest, KeepOnlyRemovesTheSeriesOfLabelsThatAreGone) {
  Metrics m;
  for (const char* p :
       {"SGX/0FF1CE000000/platform", "SGX/AB0000000001/platform", "SGX/AB0000000002/platform"}) {
    m.Set("kmra_collateral_fresh", {{"platform", p}}, 1);
  }
  m.Set("kmra_other", {{"platform", "SGX/AB0000000001/platform"}}, 7);
  m.KeepOnly("kmra_collateral_fresh", {{{"platform", "SGX/0FF1CE000000/platform"}}});
  const std::string text = m.Render();
  EXPECT_NE(text.find("kmra_collateral_fresh{platform=\"SGX/0FF1CE000000/platform\"} 1"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("kmra_collateral_fresh{platform=\"SGX/AB0000000001"), std::string::npos)
      << text;
  EXPECT_EQ(text.find("kmra_collateral_fresh{platform=\"SGX/AB0000000002"), std::string::npos)
      << text;
  EXPECT_EQ(m.Value("kmra_other", {{"platform", "SGX/AB0000000001/platform"}}), 7);
  // Keeping nothing empties the family; setting a series again brings it back.
  m.KeepOnly("kmra_collateral_fresh", {});
  EXPECT_EQ(m.Render().find("kmra_collateral_fresh{"), std::string::npos);
  m.Set("kmra_collateral_fresh", {{"platform", "SGX/0FF1CE000000/platform"}}, 0);
  EXPECT_NE(m.Render().find("kmra_collateral_fresh{platform=\"SGX/0FF1CE000000/platform\"} 0"),
            std::string::npos);
}

}  // namespace
}  // namespace kmra::server
