#include "p11/key_cache.h"

#include <gtest/gtest.h>

#include "softhsm_fixture.h"

namespace kmra::p11 {
namespace {

using testing::SoftHsmTest;

class KeyHandleCacheTest : public SoftHsmTest {};

TEST_F(KeyHandleCacheTest, AnswersFromTheCacheWhileTheKeyIsUnchanged) {
  auto key = GenerateKeyPair(*session_, *KeySpec::Parse("ec-p256"), KeyName{"cached", {}});
  ASSERT_TRUE(key) << key.error().ToString();
  KeyHandleCache cache;
  auto first = cache.Find(*session_, KeyName{"cached", {}});
  ASSERT_TRUE(first) << first.error().ToString();
  EXPECT_EQ(first->private_key, key->private_key);
  EXPECT_EQ(first->public_key, key->public_key);
  EXPECT_EQ(first->name.id, key->name.id);
  EXPECT_EQ(cache.size(), 1u);
  auto second = cache.Find(*session_, KeyName{"cached", {}});
  ASSERT_TRUE(second);
  EXPECT_EQ(second->private_key, key->private_key);
}

TEST_F(KeyHandleCacheTest, FindsAKeyReplacedBehindItsBack) {
  const KeyName name{"replaced", {}};
  auto old_key = GenerateKeyPair(*session_, *KeySpec::Parse("ec-p256"), name);
  ASSERT_TRUE(old_key);
  KeyHandleCache cache;
  ASSERT_TRUE(cache.Find(*session_, name));
  // Deleted and generated again under the same label, without telling the cache.
  ASSERT_TRUE(DeleteKey(*session_, name));
  auto new_key = GenerateKeyPair(*session_, *KeySpec::Parse("ec-p256"), name);
  ASSERT_TRUE(new_key);
  auto found = cache.Find(*session_, name);
  ASSERT_TRUE(found) << found.error().ToString();
  EXPECT_EQ(found->private_key, new_key->private_key);
  EXPECT_EQ(found->name.id, new_key->name.id);
  // Deleted for good: the cache reports it gone and forgets it.
  ASSERT_TRUE(DeleteKey(*session_, name));
  auto gone = cache.Find(*session_, name);
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code(), Code::kNotFound);
  EXPECT_EQ(cache.size(), 0u);
}

TEST_F(KeyHandleCacheTest, AHandleThatNoLongerCarriesTheNameIsNotUsed) {
  auto key = GenerateKeyPair(*session_, *KeySpec::Parse("ec-p256"), KeyName{"before", {}});
  ASSERT_TRUE(key);
  KeyHandleCache cache;
  ASSERT_TRUE(cache.Find(*session_, KeyName{"before", {}}));
  // The same object now carries another label: the old name must not resolve to it.
  Attrs relabel;
  relabel.String(CKA_LABEL, "after");
  ASSERT_TRUE(session_->SetAttributes(key->private_key, relabel));
  auto stale = cache.Find(*session_, KeyName{"before", {}});
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().code(), Code::kNotFound);
}

}  // namespace
}  // namespace kmra::p11
