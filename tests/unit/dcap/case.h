// One real DCAP case loaded for the verifier tests: its collateral directory and its quote.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "dcap/collateral.h"
#include "test_data.h"

namespace kmra::dcap::testing {

struct Case {
  Collateral collateral;
  std::vector<uint8_t> quote;
};

inline Case Load(const std::string& name) {
  auto c = LoadCollateralDir(CaseDir(name));
  EXPECT_TRUE(c) << c.error().message();
  return {c ? *c : Collateral{}, ReadBytes(CaseDir(name) + "/quote.bin")};
}

}  // namespace kmra::dcap::testing
