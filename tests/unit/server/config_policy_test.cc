#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "base/file.h"
#include "server/config.h"
#include "server/policy.h"

namespace kmra::server {
namespace {

TEST(ConfigTest, ReadsSettingsAndResolvesPathsAgainstTheConfigDir) {
  auto c = ParseServerConfig(R"(
[listen]
address = "0.0.0.0"
port = 0
port_file = "run/port"
[tls]
certificate = "tls/server.pem"
key = "/abs/server.key"
client_ca = "tls/ca.pem"
admin_clients = ["ops"]
[hsm]
token_label = "keys"
pin_file = "hsm.pin"
[attestation]
trust_simulated_root = true
nonce_lifetime = 120
[clients]
allowed = ["compute-1", "compute-2"]
)",
                             "/etc/kmra");
  ASSERT_TRUE(c.has_value()) << c.error().ToString();
  EXPECT_EQ(c->address, "0.0.0.0");
  EXPECT_EQ(c->port, 0);
  EXPECT_EQ(c->port_file, "/etc/kmra/run/port");
  EXPECT_EQ(c->tls_cert, "/etc/kmra/tls/server.pem");
  EXPECT_EQ(c->tls_key, "/abs/server.key");
  EXPECT_EQ(c->admin_clients, std::vector<std::string>{"ops"});
  EXPECT_EQ(c->hsm_token_label, "keys");
  EXPECT_EQ(c->hsm_pin_file, "/etc/kmra/hsm.pin");
  EXPECT_TRUE(c->trust_simulated_root);
  EXPECT_EQ(c->nonce_lifetime, 120);
  EXPECT_EQ(c->clients.size(), 2u);
}

TEST(ConfigTest, UnknownSettingsAndTypesAreNamed) {
  auto typo = ParseServerConfig("[listen]\nprot = 1\n", "/");
  ASSERT_FALSE(typo.has_value());
  EXPECT_NE(typo.error().message().find("'prot'"), std::string::npos) << typo.error().message();
  auto type = ParseServerConfig("[listen]\nport = \"x\"\n", "/");
  ASSERT_FALSE(type.has_value());
  EXPECT_NE(type.error().message().find("port"), std::string::npos);
  auto range = ParseServerConfig("[listen]\nport = 70000\n", "/");
  EXPECT_FALSE(range.has_value());
  auto section = ParseServerConfig("[lisen]\nport = 1\n", "/");
  ASSERT_FALSE(section.has_value());
  EXPECT_NE(section.error().message().find("lisen"), std::string::npos);
  auto syntax = ParseServerConfig("[listen\n", "/");
  ASSERT_FALSE(syntax.has_value());
  EXPECT_NE(syntax.error().message().find("line 1"), std::string::npos) << syntax.error().message();
}

TEST(ConfigTest, PinInClearNeedsAnExplicitOptIn) {
  EXPECT_FALSE(ParseServerConfig("[hsm]\npin = \"1234\"\n", "/").has_value());
  auto ok = ParseServerConfig("[hsm]\npin = \"1234\"\nallow_pin_in_config = true\n", "/");
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->hsm_pin, "1234");
}

TEST(ConfigTest, MergesKmraApphsmConf) {
  ServerConfig c;
  auto status = MergeApphsmConfText(R"({
    "port": 5000, "ip": "0.0.0.0", "nonce_lifetime": 300,
    "clients": [{"id": "ctk_loadkey_user_id_01234", "permission": "allowed"},
                {"id": "old", "permission": "denied"}],
    "keys": [{"id": "unique_id_1234", "token_name": "default_token", "pin": "1234",
              "key_name": "default_key", "certificate_file": "certs/key.crt"}]})",
                                    "/opt/apphsm", &c);
  ASSERT_TRUE(status.has_value()) << status.error().ToString();
  EXPECT_EQ(c.port, 5000);
  EXPECT_EQ(c.address, "0.0.0.0");
  EXPECT_EQ(c.clients, std::vector<std::string>{"ctk_loadkey_user_id_01234"});
  ASSERT_EQ(c.static_keys.size(), 1u);
  EXPECT_EQ(c.static_keys[0].key_label, "default_key");
  EXPECT_EQ(c.static_keys[0].certificate_file, "/opt/apphsm/certs/key.crt");
  ServerConfig bad;
  auto perm = MergeApphsmConfText(R"({"clients":[{"id":"x","permission":"maybe"}]})", "/", &bad);
  ASSERT_FALSE(perm.has_value());
  EXPECT_NE(perm.error().message().find("maybe"), std::string::npos);
}

TEST(ConfigTest, PolicyDefaultIsCheckedAtLoadAndNamesTheField) {
  auto open = ParseServerConfig("[policy]\ndefault = '{}'\n", "/");
  ASSERT_FALSE(open.has_value());
  EXPECT_NE(open.error().message().find("[policy] default"), std::string::npos);
  EXPECT_NE(open.error().message().find("names no enclave"), std::string::npos);
  auto typo = ParseServerConfig("[policy]\ndefault = '{\"mrsigner\":[\"zz\"]}'\n", "/");
  ASSERT_FALSE(typo.has_value());
  EXPECT_NE(typo.error().message().find("mrsigner"), std::string::npos);
  auto ok = ParseServerConfig(
      "[policy]\ndefault = '{\"mrsigner\":[\"" + std::string(64, 'b') + "\"]}'\n", "/");
  ASSERT_TRUE(ok.has_value()) << ok.error().ToString();
}

TEST(ConfigTest, NonceSettingsAreBoundedInTomlAndApphsmConf) {
  for (const char* bad :
       {"nonce_lifetime = 0", "nonce_lifetime = 9223372036854775807", "nonce_clock_skew = 3601",
        "nonce_max_outstanding = 0", "nonce_rate = 0", "clock_skew = 3601"}) {
    auto c = ParseServerConfig(std::string("[attestation]\n") + bad + "\n", "/");
    ASSERT_FALSE(c.has_value()) << bad;
    EXPECT_NE(c.error().message().find("must be from"), std::string::npos) << c.error().message();
  }
  ServerConfig c;
  auto huge = MergeApphsmConfText(R"({"nonce_lifetime": 9223372036854775807})", "/", &c);
  ASSERT_FALSE(huge.has_value());
  EXPECT_NE(huge.error().message().find("apphsm.conf nonce_lifetime"), std::string::npos);
  auto skew = ParseServerConfig("[attestation]\nclock_skew = 600\n", "/");
  ASSERT_TRUE(skew.has_value()) << skew.error().ToString();
  EXPECT_EQ(skew->clock_skew, 600);
}

TEST(ConfigTest, ApphsmConfKeyIdsAreOpaqueButPrintable) {
  ServerConfig c;
  ASSERT_TRUE(MergeApphsmConfText(
      R"({"keys":[{"id":"tcsissuer.tcs.intel.com/sandbox.external-ca","key_name":"k"}]})", "/",
      &c));
  EXPECT_EQ(c.static_keys.at(0).id, "tcsissuer.tcs.intel.com/sandbox.external-ca");
  auto bad = MergeApphsmConfText(R"({"keys":[{"id":"a\u0007b","key_name":"k"}]})", "/", &c);
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().message().find("printable ASCII"), std::string::npos) << bad.error().ToString();
}

TEST(ConfigTest, SecretFilesReadableByOthersAreRefusedWithTheChmod) {
  char tmpl[] = "/tmp/kmra-config-test-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  const std::string pin = dir + "/pin";
  ASSERT_TRUE(WriteFileAtomic(pin, "1234\n", 0644));
  ASSERT_TRUE(WriteFileAtomic(dir + "/kmra.toml", "[hsm]\npin_file = \"pin\"\n", 0600));
  auto loose = LoadServerConfig(dir + "/kmra.toml");
  ASSERT_FALSE(loose.has_value());
  EXPECT_NE(loose.error().message().find("[hsm] pin_file"), std::string::npos);
  EXPECT_NE(loose.error().message().find("mode 0644"), std::string::npos);
  EXPECT_NE(loose.error().message().find("chmod 600 " + pin), std::string::npos);
  ASSERT_EQ(::chmod(pin.c_str(), 0600), 0);
  auto tight = LoadServerConfig(dir + "/kmra.toml");
  EXPECT_TRUE(tight.has_value()) << tight.error().ToString();
  std::filesystem::remove_all(dir);
}

AttestationResult Facts() {
  AttestationResult f;
  f.verified = true;
  f.tcb_status = "UpToDate";
  f.mrenclave.fill(0xAA);
  f.mrsigner.fill(0xBB);
  f.isv_prod_id = 3;
  f.isv_svn = 5;
  return f;
}

TEST(PolicyTest, DefaultPolicyAcceptsUpToDateNonDebugOnly) {
  Policy p;
  EXPECT_FALSE(CheckAttestation(p, Facts(), 0).has_value());
  auto f = Facts();
  f.tcb_status = "SWHardeningNeeded";
  auto r = CheckAttestation(p, f, 0);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->code, "policy.tcb_status");
  EXPECT_NE(r->message.find("SWHardeningNeeded"), std::string::npos);
  f = Facts();
  f.debug = true;
  EXPECT_EQ(CheckAttestation(p, f, 0)->code, "policy.debug");
}

TEST(PolicyTest, MeasurementsSvnAdvisoriesAndAge) {
  auto p = ParsePolicy(R"({"mrenclave":[")" + std::string(64, 'a') + R"("],
      "isv_prod_id": 3, "min_isv_svn": 6, "tcb_statuses": ["UpToDate","SWHardeningNeeded"],
      "advisory_ids": ["INTEL-SA-00615"], "max_collateral_age_seconds": 100})");
  ASSERT_TRUE(p.has_value()) << p.error().ToString();
  auto f = Facts();
  EXPECT_EQ(CheckAttestation(*p, f, 0)->code, "policy.isv_svn");
  f.isv_svn = 6;
  EXPECT_FALSE(CheckAttestation(*p, f, 0).has_value());
  f.mrenclave.fill(0xCC);
  EXPECT_EQ(CheckAttestation(*p, f, 0)->code, "policy.mrenclave");
  f = Facts();
  f.isv_svn = 6;
  f.tcb_status = "SWHardeningNeeded";
  f.advisory_ids = {"INTEL-SA-00615", "INTEL-SA-00999"};
  auto adv = CheckAttestation(*p, f, 0);
  ASSERT_TRUE(adv.has_value());
  EXPECT_EQ(adv->code, "policy.advisory");
  EXPECT_NE(adv->message.find("INTEL-SA-00999"), std::string::npos);
  f.advisory_ids = {"INTEL-SA-00615"};
  f.collateral_issued_at = 1000;
  EXPECT_FALSE(CheckAttestation(*p, f, 1050).has_value());
  EXPECT_EQ(CheckAttestation(*p, f, 1200)->code, "policy.collateral_age");
}

TEST(PolicyTest, ClientsFallBackToServerListAndJsonRoundTrips) {
  Policy p;
  EXPECT_FALSE(CheckClient(p, {"a", "b"}, "b").has_value());
  EXPECT_EQ(CheckClient(p, {"a"}, "b")->code, "policy.client");
  p.clients = {"c"};
  EXPECT_TRUE(CheckClient(p, {"b"}, "b").has_value());
  p.allow_any_enclave = true;
  p.kmra_certificate_chain = true;
  auto back = ParsePolicy(p.ToJson());
  ASSERT_TRUE(back.has_value()) << back.error().ToString();
  EXPECT_EQ(back->clients, p.clients);
  EXPECT_EQ(back->tcb_statuses, p.tcb_statuses);
  EXPECT_TRUE(back->allow_any_enclave);
  EXPECT_TRUE(back->kmra_certificate_chain);
}

// Deny by default: a policy has to say which enclave may have the key, or say "any" explicitly.
TEST(PolicyTest, APolicyThatNamesNoEnclaveIsRefusedUnlessItSaysAnyEnclave) {
  for (const char* text : {"{}", R"({"mrenclave":[],"mrsigner":[]})", R"({"allow_debug":false})",
                           R"({"allow_any_enclave":false})"}) {
    auto p = ParsePolicy(text);
    ASSERT_FALSE(p.has_value()) << text;
    EXPECT_NE(p.error().message().find("names no enclave"), std::string::npos) << text;
    EXPECT_NE(p.error().message().find("allow_any_enclave"), std::string::npos) << text;
  }
  auto any = ParsePolicy(R"({"allow_any_enclave":true})");
  ASSERT_TRUE(any.has_value()) << any.error().ToString();
  EXPECT_TRUE(any->NamesEnclave());
  auto signer = ParsePolicy(R"({"mrsigner":[")" + std::string(64, 'b') + R"("]})");
  ASSERT_TRUE(signer.has_value()) << signer.error().ToString();
  // Contradictory: "any" and a list.
  auto both =
      ParsePolicy(R"({"allow_any_enclave":true,"mrsigner":[")" + std::string(64, 'b') + R"("]})");
  ASSERT_FALSE(both.has_value());
  EXPECT_NE(both.error().message().find("one or the other"), std::string::npos);
  // Policies stored by older versions can still be read, to be refused by the release check.
  auto legacy = ParsePolicy("{}", /*allow_unnamed_enclave=*/true);
  ASSERT_TRUE(legacy.has_value());
  EXPECT_FALSE(legacy->NamesEnclave());
}

TEST(PolicyTest, TyposAndBadValuesAreRefusedByName) {
  auto typo = ParsePolicy(R"({"mrenclav":[]})");
  ASSERT_FALSE(typo.has_value());
  EXPECT_NE(typo.error().message().find("mrenclav"), std::string::npos);
  EXPECT_FALSE(ParsePolicy(R"({"mrenclave":["abcd"]})").has_value());
  EXPECT_FALSE(ParsePolicy(R"({"min_isv_svn":-1})").has_value());
  EXPECT_FALSE(ParsePolicy(R"({"allow_debug":"yes"})").has_value());
  EXPECT_FALSE(ParsePolicy(R"({"allow_any_enclave":"yes"})").has_value());
  EXPECT_FALSE(ParsePolicy("[]").has_value());
}

}  // namespace
}  // namespace kmra::server

namespace kmra::server {
namespace {

TEST(ConfigTest, TheDocumentedDeployConfigLoadsWithItsDefaults) {
  auto c = LoadServerConfig(std::string(KMRA_SOURCE_DIR) + "/deploy/kmra-server.toml");
  ASSERT_TRUE(c.has_value()) << c.error().ToString();
  ServerConfig defaults;
  EXPECT_EQ(c->port, defaults.port);
  EXPECT_EQ(c->hsm_module, defaults.hsm_module);
  EXPECT_EQ(c->nonce_lifetime, defaults.nonce_lifetime);
  EXPECT_FALSE(c->trust_simulated_root);
  EXPECT_EQ(c->admin_clients, defaults.admin_clients);
}

}  // namespace
}  // namespace kmra::server
