// The one list of "connection lost" return values: it decides both that a session is broken (the
// pool reconnects) and that an error is Unavailable (the release path reconnects and answers 503).
#include "p11/error.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

namespace kmra::p11 {
namespace {

using ::testing::UnorderedElementsAre;

TEST(ConnectionLostTest, NamesEachCodeAndWhy) {
  std::vector<std::string> names;
  for (const ConnectionLostRv& lost : kConnectionLost) {
    names.push_back(RvName(lost.rv));
    EXPECT_TRUE(IsConnectionLost(lost.rv)) << names.back();
    EXPECT_EQ(RvCode(lost.rv), Code::kUnavailable) << names.back();
    EXPECT_GT(std::strlen(lost.why), 20u) << names.back() << " has no reason given";
  }
  EXPECT_THAT(names,
              UnorderedElementsAre(
                  // The device, the token or the session went away.
                  "CKR_DEVICE_ERROR", "CKR_DEVICE_REMOVED", "CKR_TOKEN_NOT_PRESENT",
                  "CKR_TOKEN_NOT_RECOGNIZED", "CKR_SESSION_CLOSED", "CKR_SESSION_HANDLE_INVALID",
                  // The module was finalized under the process, or is in a state only a new
                  // C_Initialize can leave.
                  "CKR_CRYPTOKI_NOT_INITIALIZED", "CKR_GENERAL_ERROR", "CKR_LIBRARY_LOAD_FAILED",
                  "CKR_FIPS_SELF_TEST_FAILED",
                  // Transient: a cancelled call, no session left for this process.
                  "CKR_FUNCTION_CANCELED", "CKR_SESSION_COUNT"));
}

TEST(ConnectionLostTest, UnavailableIsExactlyTheLostConnections) {
  // Every standard CK_RV (PKCS#11 v2.40 ends at 0x1b8) and the vendor range's first values:
  // Unavailable if and only if on the list, so the two decisions can never disagree again.
  for (CK_RV rv = 0; rv < 0x400; ++rv) {
    EXPECT_EQ(RvCode(rv) == Code::kUnavailable, IsConnectionLost(rv)) << RvName(rv);
  }
  for (CK_RV rv = CKR_VENDOR_DEFINED; rv < CKR_VENDOR_DEFINED + 16; ++rv) {
    EXPECT_FALSE(IsConnectionLost(rv)) << RvName(rv);
  }
}

TEST(ConnectionLostTest, CallerAndCredentialErrorsKeepTheSession) {
  for (CK_RV rv : {CKR_OK, CKR_PIN_INCORRECT, CKR_PIN_LOCKED, CKR_TEMPLATE_INCONSISTENT,
                   CKR_OBJECT_HANDLE_INVALID, CKR_KEY_HANDLE_INVALID, CKR_MECHANISM_INVALID,
                   CKR_BUFFER_TOO_SMALL, CKR_HOST_MEMORY, CKR_OPERATION_ACTIVE}) {
    EXPECT_FALSE(IsConnectionLost(rv)) << RvName(rv);
  }
  // The module cannot honour the locking asked for: reconnecting asks the same again.
  EXPECT_FALSE(IsConnectionLost(CKR_CANT_LOCK));
  EXPECT_EQ(RvCode(CKR_CANT_LOCK), Code::kFailedPrecondition);
}

}  // namespace
}  // namespace kmra::p11
