// End to end: `kmra server --dev` (real SoftHSM2 token, SQLite store, simulated SGX PKI) releases a
// key to a quote from SimPlatform through the KMRA API (driven with the curl command) and /v1; the
// client unwraps it and signs what the certificate's public key verifies. Every refusal is checked
// for its HTTP status and code, the absence of key material, and its audit record.
#include "integration/server_release_fixture.h"

namespace kmra {
namespace {

// Each scenario is a method; ctest runs each TEST in its own process, and starting the server is
// the expensive part, so the scenarios are grouped into a few tests.
class Scenarios : public ServerReleaseTest {
 protected:
  void CurlDrivesTheKmraApiAndTheClientUnwrapsAUsableKey() {
    Client& c = MakeClient();
    auto nonce = KmraNonce(Now());
    Json body = KmraBody("demo", c.pub, c.QuoteFor(nonce), nonce);
    ASSERT_TRUE(integration::WriteFile(D() + "/export.json", body.dump()));
    auto curl = [&](const std::string& path, const std::vector<std::string>& extra) {
      std::vector<std::string> argv = {"curl",     "-sS",
                                       "--cacert", D() + "/tls/ca.pem",
                                       "--cert",   D() + "/tls/client.pem",
                                       "--key",    D() + "/tls/client.key"};
      argv.insert(argv.end(), extra.begin(), extra.end());
      argv.push_back(Url(path));
      return RunCmd(argv);
    };
    auto version = curl("/sys/version", {});
    ASSERT_EQ(version.exit_code, 0) << version.output;
    EXPECT_EQ(Json::parse(version.output)["api_version"], "0.2");
    EXPECT_FALSE(Json::parse(version.output)["version"].get<std::string>().empty())
        << version.output;

    auto exported = curl("/sgx/keys/export", {"-H", "Content-Type: application/json",
                                              "--data-binary", "@" + D() + "/export.json"});
    ASSERT_EQ(exported.exit_code, 0) << exported.output;
    Json reply = Json::parse(exported.output, nullptr, false);
    ASSERT_FALSE(reply.is_discarded()) << exported.output;
    ASSERT_TRUE(reply.contains("wrappedSWK")) << exported.output;
    ASSERT_TRUE(reply.contains("wrappedKey"));
    ASSERT_TRUE(reply.contains("certificate"));
    auto swk = *Base64Decode(reply["wrappedSWK"].get<std::string>());
    auto key = *Base64Decode(reply["wrappedKey"].get<std::string>());
    auto cert = *Base64Decode(reply["certificate"].get<std::string>());
    EXPECT_EQ(swk.size(), c.pub.modulus.size());
    ExpectUsableKey(c, swk, key, std::string(cert.begin(), cert.end()), crypto::HashAlg::kSha1);
    // API 0.2 answers with the key's certificate alone, as KMRA does (the demo key stores its
    // chain: leaf and CA).
    const std::string cert_text(cert.begin(), cert.end());
    EXPECT_EQ(cert_text.find("BEGIN CERTIFICATE"), cert_text.rfind("BEGIN CERTIFICATE"))
        << cert_text;

    // /sgx/attest says verified for a fresh quote.
    auto nonce2 = KmraNonce(Now());
    ASSERT_TRUE(integration::WriteFile(D() + "/attest.json",
                                       KmraBody("demo", c.pub, c.QuoteFor(nonce2), nonce2).dump()));
    auto attest = curl("/sgx/attest", {"-H", "Content-Type: application/json", "--data-binary",
                                       "@" + D() + "/attest.json"});
    ASSERT_EQ(attest.exit_code, 0) << attest.output;
    EXPECT_TRUE(Json::parse(attest.output)["verified"].get<bool>()) << attest.output;
    // /sgx/attest checks the nonce without using it: the same nonce still releases once, and
    // after that /sgx/attest says it was used; an old nonce is not verified either.
    auto attest_again =
        Https(Call("POST", "/sgx/attest", integration::ReadFile(D() + "/attest.json")));
    EXPECT_TRUE(Json::parse(attest_again.body)["verified"].get<bool>()) << attest_again.body;
    EXPECT_EQ(
        Https(Call("POST", "/sgx/keys/export", integration::ReadFile(D() + "/attest.json"))).status,
        200);
    auto used = Https(Call("POST", "/sgx/attest", integration::ReadFile(D() + "/attest.json")));
    EXPECT_FALSE(Json::parse(used.body)["verified"].get<bool>()) << used.body;
    EXPECT_EQ(Json::parse(used.body)["error"]["code"], "nonce.reused") << used.body;
    auto old = KmraNonce(Now() - 600);
    auto stale =
        Https(Call("POST", "/sgx/attest", KmraBody("demo", c.pub, c.QuoteFor(old), old).dump()));
    EXPECT_FALSE(Json::parse(stale.body)["verified"].get<bool>()) << stale.body;
    EXPECT_EQ(Json::parse(stale.body)["error"]["code"], "nonce.expired") << stale.body;
  }

  void V1ReleaseWithServerNonceAndSpki() {
    Client& c = MakeClient();
    auto nonce_res = Https(Call("POST", "/v1/nonce", "{}"));
    ASSERT_EQ(nonce_res.status, 200) << nonce_res.body;
    auto nonce = *Base64Decode(Json::parse(nonce_res.body)["nonce"].get<std::string>());
    auto spki = *c.key.PublicKey()->ToSpkiDer();
    auto pub = *crypto::RsaPublicNumbersOf(*c.key.PublicKey());
    Json body{{"quote", Base64Encode(c.QuoteFor(nonce))},
              {"nonce", Base64Encode(nonce)},
              {"public_key", {{"spki", Base64Encode(spki)}}}};
    auto res = Https(Call("POST", "/v1/keys/demo/release", body.dump()));
    ASSERT_EQ(res.status, 200) << res.body;
    Json reply = Json::parse(res.body);
    EXPECT_EQ(reply["version"], 1);
    EXPECT_EQ(reply["attestation"]["tcb_status"], "UpToDate");
    // SoftHSM2 2.6.1 cannot wrap with OAEP SHA-256; the response names what was used.
    std::string oaep = reply["oaep_hash"];
    EXPECT_NE(reply["swk_mechanism"].get<std::string>().find("OAEP"), std::string::npos);
    ExpectUsableKey(c, *Base64Decode(reply["wrapped_swk"].get<std::string>()),
                    *Base64Decode(reply["wrapped_key"].get<std::string>()),
                    reply["certificate_chain"],
                    oaep == "sha256" ? crypto::HashAlg::kSha256 : crypto::HashAlg::kSha1);
    // The server nonce is single use.
    int64_t seq = LastSeq();
    ExpectRefused(Https(Call("POST", "/v1/keys/demo/release", body.dump())), seq, 403,
                  "nonce.invalid");
  }

  void RefusesWithoutClientCertificateOrFromAnUnknownCa() {
    int64_t seq = LastSeq();
    ExpectRefused(Https(Call("POST", "/sgx/keys/export", "{}", "")), seq, 401,
                  "client_certificate.missing");
    // A certificate with the right OU from a CA the server does not trust.
    std::string rogue = D() + "/rogue";
    std::filesystem::create_directories(rogue);
    auto made =
        RunCmd({"bash", "-c",
                "cd " + rogue +
                    " && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
                    "-keyout client.key -out client.pem -days 1 "
                    "-subj '/O=Rogue/OU=ctk_loadkey_user_id_01234/CN=client' 2>&1"});
    ASSERT_EQ(made.exit_code, 0) << made.output;
    HttpCall call = Call("POST", "/sgx/keys/export", "{}", "");
    call.cert_file = rogue + "/client.pem";
    call.key_file = rogue + "/client.key";
    seq = LastSeq();
    ExpectRefused(Https(call), seq, 401, "client_certificate.untrusted");
  }

  void RefusesAClientNotAllowedForTheKey() {
    Client& c = MakeClient();
    auto nonce = KmraNonce(Now());
    int64_t seq = LastSeq();
    // The admin certificate is valid, but its OU is not an allowed client of the key.
    ExpectRefused(Https(Call("POST", "/sgx/keys/export",
                             KmraBody("demo", c.pub, c.QuoteFor(nonce), nonce).dump(), "admin")),
                  seq, 403, "policy.client");
  }

  void RefusesATamperedQuoteWithTheVerifierCheck() {
    Client& c = MakeClient();
    auto nonce = KmraNonce(Now());
    auto quote = c.QuoteFor(nonce);
    quote[64 + 48] ^= 0x01;  // a byte of MRENCLAVE: the ISV report signature no longer matches
    int64_t seq = LastSeq();
    auto res =
        Https(Call("POST", "/sgx/keys/export", KmraBody("demo", c.pub, quote, nonce).dump()));
    EXPECT_EQ(res.status, 403) << res.body;
    Json body = Json::parse(res.body);
    std::string code = body["error"]["code"];
    EXPECT_FALSE(body["error"]["details"]["checks"].empty()) << res.body;
    ExpectRefused(res, seq, 403, code);
  }

  void RefusesReportDataNotBoundToThePublicKey() {
    Client& c = MakeClient();
    auto nonce = KmraNonce(Now());
    // The enclave quoted another key; the request carries ours.
    std::vector<uint8_t> other_modulus = c.pub.modulus;
    other_modulus.back() ^= 0x02;
    auto quote = c.QuoteFor(nonce, &other_modulus);
    int64_t seq = LastSeq();
    ExpectRefused(
        Https(Call("POST", "/sgx/keys/export", KmraBody("demo", c.pub, quote, nonce).dump())), seq,
        403, "report_data.binding");
  }

  void RefusesReusedAndExpiredNonces() {
    Client& c = MakeClient();
    auto nonce = KmraNonce(Now());
    std::string body = KmraBody("demo", c.pub, c.QuoteFor(nonce), nonce).dump();
    ASSERT_EQ(Https(Call("POST", "/sgx/keys/export", body)).status, 200);
    int64_t seq = LastSeq();
    ExpectRefused(Https(Call("POST", "/sgx/keys/export", body)), seq, 403, "nonce.reused");
    auto old = KmraNonce(Now() - 3600);
    seq = LastSeq();
    ExpectRefused(Https(Call("POST", "/sgx/keys/export",
                             KmraBody("demo", c.pub, c.QuoteFor(old), old).dump())),
                  seq, 403, "nonce.expired");
    // trusted-certificate-issuer with --use-random-nonce=false sends the bytes 00..1f, whose time
    // reads 1986: the message says the nonce must carry the current time.
    std::vector<uint8_t> fixed(32);
    for (size_t i = 0; i < fixed.size(); ++i) fixed[i] = static_cast<uint8_t>(i);
    seq = LastSeq();
    auto res = Https(
        Call("POST", "/sgx/keys/export", KmraBody("demo", c.pub, c.QuoteFor(fixed), fixed).dump()));
    ExpectRefused(res, seq, 403, "nonce.expired");
    EXPECT_NE(res.body.find("1986"), std::string::npos) << res.body;
    EXPECT_NE(res.body.find("current unix time"), std::string::npos) << res.body;
  }

  void RunPolicyChangesApplyWithoutRestart() {
    Client& c = MakeClient();
    Json policy{{"mrenclave", {std::string(64, 'a')}}};
    auto set = Https(Call("PUT", "/v1/keys/demo/policy", policy.dump(), "admin"));
    ASSERT_EQ(set.status, 200) << set.body;
    auto nonce = KmraNonce(Now());
    const std::string body = KmraBody("demo", c.pub, c.QuoteFor(nonce), nonce).dump();
    int64_t seq = LastSeq();
    ExpectRefused(Https(Call("POST", "/sgx/keys/export", body)), seq, 403, "policy.mrenclave");
    // Deny by default: a policy that names no enclave is refused, and the key stays as it was.
    auto empty = Https(Call("PUT", "/v1/keys/demo/policy", "{}", "admin"));
    EXPECT_EQ(empty.status, 400) << empty.body;
    EXPECT_NE(empty.body.find("allow_any_enclave"), std::string::npos) << empty.body;
    seq = LastSeq();
    ExpectRefused(Https(Call("POST", "/sgx/keys/export", body)), seq, 403, "policy.mrenclave");
    // The operator fixes the policy; the client retries the very same request (same nonce, as
    // trusted-certificate-issuer re-sends its cached quote) and gets the key.
    ASSERT_EQ(Https(Call("PUT", "/v1/keys/demo/policy", TestPolicy().dump(), "admin")).status, 200);
    auto retried = Https(Call("POST", "/sgx/keys/export", body));
    EXPECT_EQ(retried.status, 200) << retried.body;
    // Now the nonce is spent: a replay of the successful request is refused.
    seq = LastSeq();
    ExpectRefused(Https(Call("POST", "/sgx/keys/export", body)), seq, 403, "nonce.reused");
  }

  // A key registered without a policy (as apphsm.conf keys are, or keys of older versions) and a
  // stored policy "{}" are never released; once the key gets a policy, the same nonce works.
  void RunKeyWithoutPolicyIsNeverReleased() {
    auto created =
        Https(Call("POST", "/v1/keys", R"({"id":"nopolicy","type":"rsa-2048"})", "admin"));
    EXPECT_EQ(created.status, 400) << created.body;
    EXPECT_NE(created.body.find("policy"), std::string::npos) << created.body;
    auto open_policy = Https(
        Call("POST", "/v1/keys", R"({"id":"nopolicy","type":"rsa-2048","policy":{}})", "admin"));
    EXPECT_EQ(open_policy.status, 400) << open_policy.body;
    // Register a key the way apphsm.conf does: a registry entry naming the demo key's HSM object,
    // with no policy (the server has no [policy] default).
    {
      auto store = store::OpenSqliteStore(D() + "/state.db");
      ASSERT_TRUE(store.has_value()) << store.error().ToString();
      auto demo = (*store)->GetKey("demo");
      ASSERT_TRUE(demo.has_value());
      ASSERT_TRUE((*store)->CreateKey({"legacy", "no policy", Now()}));
      ASSERT_TRUE((*store)->AddKeyVersion("legacy", *demo->newest()));
    }
    Client& c = MakeClient();
    auto nonce = KmraNonce(Now());
    const std::string body = KmraBody("legacy", c.pub, c.QuoteFor(nonce), nonce).dump();
    int64_t seq = LastSeq();
    auto res = Https(Call("POST", "/sgx/keys/export", body));
    ExpectRefused(res, seq, 403, "policy.missing");
    EXPECT_NE(res.body.find("kmra policy set legacy"), std::string::npos) << res.body;
    EXPECT_NE(res.body.find("[policy] default"), std::string::npos) << res.body;
    auto listed = Https(Call("GET", "/v1/keys", "", "admin"));
    EXPECT_NE(listed.body.find(R"("release_policy":"missing")"), std::string::npos) << listed.body;
    // A policy "{}" stored by an older version: refused the same way.
    {
      auto store = store::OpenSqliteStore(D() + "/state.db");
      ASSERT_TRUE(store.has_value());
      ASSERT_TRUE((*store)->PutPolicy({"legacy", "{}", Now()}));
    }
    seq = LastSeq();
    ExpectRefused(Https(Call("POST", "/sgx/keys/export", body)), seq, 403, "policy.missing");
    // The fix, then the same request again.
    auto fixed = Https(Call("PUT", "/v1/keys/legacy/policy", TestPolicy().dump(), "admin"));
    ASSERT_EQ(fixed.status, 200) << fixed.curl_error << fixed.body << "\nserver log:\n"
                                 << integration::ReadFile(D() + "/server.log");
    auto released = Https(Call("POST", "/sgx/keys/export", body));
    EXPECT_EQ(released.status, 200) << released.body;
    // An explicit "any enclave" policy releases, and says so in the key list and /readyz.
    ASSERT_EQ(Https(Call("PUT", "/v1/keys/legacy/policy", R"({"allow_any_enclave":true})", "admin"))
                  .status,
              200);
    auto nonce2 = KmraNonce(Now());
    EXPECT_EQ(Https(Call("POST", "/sgx/keys/export",
                         KmraBody("legacy", c.pub, c.QuoteFor(nonce2), nonce2).dump()))
                  .status,
              200);
    listed = Https(Call("GET", "/v1/keys", "", "admin"));
    EXPECT_NE(listed.body.find(R"("release_policy":"any_enclave")"), std::string::npos)
        << listed.body;
    auto ready = Https(Call("GET", "/readyz", "", ""));
    EXPECT_EQ(Json::parse(ready.body)["keys_allowing_any_enclave"], 1) << ready.body;
    EXPECT_NE(integration::ReadFile(D() + "/server.log").find("allow_any_enclave"),
              std::string::npos);
    // Remove the registry entry only: its HSM object is the demo key's.
    auto store = store::OpenSqliteStore(D() + "/state.db");
    ASSERT_TRUE(store.has_value());
    EXPECT_TRUE((*store)->DeleteKey("legacy"));
  }

  static void Sql(const std::string& sql) { ASSERT_EQ(integration::RunStateSql(D(), sql), ""); }

  // The policy of a key cannot be used: a stored policy that does not parse (or is over the size
  // cap) is the operator's to mend, 500 policy.invalid naming the key; a store that fails reading
  // the policy after it read the key (a database restart under load) is a dependency that is down,
  // 503 store.unavailable, retried. Either way nothing is released and the nonce stays unspent:
  // once mended, the very same request gets the key.
  void RunUnusablePolicyIsRefusedAndTheNonceKept() {
    ASSERT_EQ(
        Https(Call("POST", "/v1/keys",
                   Json{{"id", "fragile"}, {"type", "ec-p256"}, {"policy", TestPolicy()}}.dump(),
                   "admin"))
            .status,
        201);
    Client& c = MakeClient();
    auto nonce = KmraNonce(Now());
    const std::string body = KmraBody("fragile", c.pub, c.QuoteFor(nonce), nonce).dump();
    const std::string too_big = R"({"mrsigner":[")" + std::string(64, 'a') +
                                R"("],"description":")" + std::string(70 << 10, 'x') + R"("})";
    for (const std::string& stored : {std::string(R"({"mrsigner": 5)"), too_big}) {
      {
        auto store = store::OpenSqliteStore(D() + "/state.db");
        ASSERT_TRUE(store.has_value()) << store.error().ToString();
        ASSERT_TRUE((*store)->PutPolicy({"fragile", stored, Now()}));
      }
      int64_t seq = LastSeq();
      auto res = Https(Call("POST", "/sgx/keys/export", body));
      ExpectRefused(res, seq, 500, "policy.invalid");
      EXPECT_NE(res.body.find("stored policy of key 'fragile'"), std::string::npos) << res.body;
    }
    ASSERT_EQ(Https(Call("PUT", "/v1/keys/fragile/policy", TestPolicy().dump(), "admin")).status,
              200);
    Sql("ALTER TABLE policies RENAME TO policies_away");
    int64_t seq = LastSeq();
    auto down = Https(Call("POST", "/sgx/keys/export", body));
    ExpectRefused(down, seq, 503, "store.unavailable");
    EXPECT_NE(down.body.find("policies"), std::string::npos) << down.body;
    Sql("ALTER TABLE policies_away RENAME TO policies");
    auto released = Https(Call("POST", "/sgx/keys/export", body));
    EXPECT_EQ(released.status, 200) << released.body;
    EXPECT_EQ(Https(Call("DELETE", "/v1/keys/fragile", "", "admin")).status, 204);
  }

  void RefusesAnOutOfDateTcbARevokedPckNoTcbLevelAndADebugEnclave() {
    Client& outdated = MakeClient(2);
    auto n1 = KmraNonce(Now());
    int64_t seq = LastSeq();
    ExpectRefused(Https(Call("POST", "/sgx/keys/export",
                             KmraBody("demo", outdated.pub, outdated.QuoteFor(n1), n1).dump())),
                  seq, 403, "policy.tcb_status");

    Client& revoked = MakeClient(3);
    auto n2 = KmraNonce(Now());
    seq = LastSeq();
    auto res = Https(Call("POST", "/sgx/keys/export",
                          KmraBody("demo", revoked.pub, revoked.QuoteFor(n2), n2).dump()));
    ExpectRefused(res, seq, 403, "pck.revoked");

    // No TCB level met: not verified (as Intel's QVL), refused before any policy.
    Client& below = MakeClient(4);
    auto n4 = KmraNonce(Now());
    seq = LastSeq();
    ExpectRefused(Https(Call("POST", "/sgx/keys/export",
                             KmraBody("demo", below.pub, below.QuoteFor(n4), n4).dump())),
                  seq, 403, "tcb.level_not_supported");

    Client& debug = MakeClient(1, /*debug=*/true);
    auto n3 = KmraNonce(Now());
    seq = LastSeq();
    ExpectRefused(Https(Call("POST", "/sgx/keys/export",
                             KmraBody("demo", debug.pub, debug.QuoteFor(n3), n3).dump())),
                  seq, 403, "policy.debug");
  }

  void MalformedAndOversizedJsonGetClearErrors() {
    int64_t seq = LastSeq();
    auto bad = Https(Call("POST", "/sgx/keys/export", "{\"HsmObject\":"));
    EXPECT_EQ(bad.status, 400) << bad.body;
    EXPECT_EQ(Json::parse(bad.body)["error"]["code"], "request.invalid");
    auto deep = Https(Call("POST", "/sgx/keys/export", std::string(5000, '[')));
    EXPECT_EQ(deep.status, 413) << deep.body;
    auto huge = Https(Call("POST", "/sgx/keys/export", std::string(2 << 20, ' ')));
    EXPECT_EQ(huge.status, 413) << huge.body;
    auto missing =
        Https(Call("POST", "/sgx/keys/export", R"({"HsmObject":{"h_unique_id":"demo"}})"));
    EXPECT_EQ(missing.status, 400);
    EXPECT_NE(Json::parse(missing.body)["error"]["message"].get<std::string>().find("SgxObject"),
              std::string::npos);
    (void)seq;
  }

  void RotationServesTheNewestVersionAndAuditChainVerifies() {
    Json create{{"id", "rot"}, {"type", "rsa-2048"}, {"policy", TestPolicy()}};
    auto created = Https(Call("POST", "/v1/keys", create.dump(), "admin"));
    ASSERT_EQ(created.status, 201) << created.body;
    auto rotated = Https(Call("POST", "/v1/keys/rot/rotate", "{}", "admin"));
    ASSERT_EQ(rotated.status, 200) << rotated.body;
    Client& c = MakeClient();
    auto nonce = Https(Call("POST", "/v1/nonce", "{}"));
    auto n = *Base64Decode(Json::parse(nonce.body)["nonce"].get<std::string>());
    Json body{
        {"quote", Base64Encode(c.QuoteFor(n))},
        {"nonce", Base64Encode(n)},
        {"public_key",
         {{"modulus", Base64Encode(c.pub.modulus)}, {"exponent", Base64Encode(c.pub.exponent)}}}};
    auto res = Https(Call("POST", "/v1/keys/rot/release", body.dump()));
    ASSERT_EQ(res.status, 200) << res.body;
    EXPECT_EQ(Json::parse(res.body)["version"], 2);
    auto verify = RunCmd({Kmra(), "audit", "verify", "--db", D() + "/state.db"});
    EXPECT_EQ(verify.exit_code, 0) << verify.output;
    EXPECT_NE(verify.output.find("intact"), std::string::npos) << verify.output;
    auto api = Https(Call("GET", "/v1/audit/verify", "", "admin"));
    EXPECT_EQ(api.status, 200) << api.body;
    EXPECT_TRUE(Json::parse(api.body)["intact"].get<bool>());
    auto del = RunCmd({Kmra(), "keys", "delete", "rot", "--dir", D()});
    EXPECT_EQ(del.exit_code, 0) << del.output;
  }

  // The HSM's token storage disappears (a failed disk or NFS mount of the token directory):
  // releases fail with 503 hsm.unavailable; when it is back they work, with no restart of the key
  // server.
  void RunHsmOutage() {
    Client& c = MakeClient();
    auto release = [&]() {
      auto nonce = KmraNonce(Now());
      return Https(Call("POST", "/sgx/keys/export",
                        KmraBody("demo", c.pub, c.QuoteFor(nonce), nonce).dump()));
    };
    ASSERT_EQ(release().status, 200);
    std::string tokens = D() + "/hsm/tokens", away = D() + "/hsm/tokens-away";
    std::filesystem::rename(tokens, away);
    // The same requests are retried after the outage: the KMRA client nonce and the /v1 server
    // nonce both survive a 503 (docs/api.md tells clients to retry it).
    auto nonce = KmraNonce(Now());
    const std::string kmra_body = KmraBody("demo", c.pub, c.QuoteFor(nonce), nonce).dump();
    auto issued = Https(Call("POST", "/v1/nonce", "{}"));
    ASSERT_EQ(issued.status, 200) << issued.body;
    auto server_nonce = *Base64Decode(Json::parse(issued.body)["nonce"].get<std::string>());
    const std::string v1_body = Json{{"quote", Base64Encode(c.QuoteFor(server_nonce))},
                                     {"nonce", Base64Encode(server_nonce)},
                                     {"public_key",
                                      {{"modulus", Base64Encode(c.pub.modulus)},
                                       {"exponent", Base64Encode(c.pub.exponent)}}}}
                                    .dump();
    int64_t seq = LastSeq();
    auto refused = Https(Call("POST", "/sgx/keys/export", kmra_body));
    auto refused_v1 = Https(Call("POST", "/v1/keys/demo/release", v1_body));
    std::filesystem::rename(away, tokens);
    ExpectRefused(refused, seq, 503, "hsm.unavailable");
    ExpectRefused(refused_v1, seq, 503, "hsm.unavailable");
    auto again = Https(Call("POST", "/sgx/keys/export", kmra_body));
    EXPECT_EQ(again.status, 200) << again.body;
    auto again_v1 = Https(Call("POST", "/v1/keys/demo/release", v1_body));
    EXPECT_EQ(again_v1.status, 200) << again_v1.body;
  }
};

TEST_F(Scenarios, ReleasesThroughBothApis) {
  {
    SCOPED_TRACE("CurlDrivesTheKmraApiAndTheClientUnwrapsAUsableKey");
    CurlDrivesTheKmraApiAndTheClientUnwrapsAUsableKey();
  }
  {
    SCOPED_TRACE("V1ReleaseWithServerNonceAndSpki");
    V1ReleaseWithServerNonceAndSpki();
  }
  {
    SCOPED_TRACE("RotationServesTheNewestVersionAndAuditChainVerifies");
    RotationServesTheNewestVersionAndAuditChainVerifies();
  }
}

TEST_F(Scenarios, RefusalsLeaveAnAuditRecordAndNoKey) {
  {
    SCOPED_TRACE("RefusesWithoutClientCertificateOrFromAnUnknownCa");
    RefusesWithoutClientCertificateOrFromAnUnknownCa();
  }
  {
    SCOPED_TRACE("RefusesAClientNotAllowedForTheKey");
    RefusesAClientNotAllowedForTheKey();
  }
  {
    SCOPED_TRACE("RefusesATamperedQuoteWithTheVerifierCheck");
    RefusesATamperedQuoteWithTheVerifierCheck();
  }
  {
    SCOPED_TRACE("RefusesReportDataNotBoundToThePublicKey");
    RefusesReportDataNotBoundToThePublicKey();
  }
  {
    SCOPED_TRACE("RefusesReusedAndExpiredNonces");
    RefusesReusedAndExpiredNonces();
  }
  {
    SCOPED_TRACE("RefusesAnOutOfDateTcbARevokedPckNoTcbLevelAndADebugEnclave");
    RefusesAnOutOfDateTcbARevokedPckNoTcbLevelAndADebugEnclave();
  }
  {
    SCOPED_TRACE("MalformedAndOversizedJsonGetClearErrors");
    MalformedAndOversizedJsonGetClearErrors();
  }
}

TEST_F(Scenarios, PolicyChangesApplyWithoutRestart) {
  {
    SCOPED_TRACE("PolicyChangesApplyWithoutRestart");
    RunPolicyChangesApplyWithoutRestart();
  }
}

TEST_F(Scenarios, HsmOutageGives503AndRecoversWithoutRestart) { RunHsmOutage(); }

TEST_F(Scenarios, KeyWithoutPolicyIsNeverReleased) { RunKeyWithoutPolicyIsNeverReleased(); }

TEST_F(Scenarios, UnusablePolicyIsRefusedAndTheNonceKept) {
  RunUnusablePolicyIsRefusedAndTheNonceKept();
}

// Admin key creation is atomic: of concurrent creations of one id exactly one succeeds and the HSM
// holds one key for it; a creation that fails after the key was made leaves no HSM object and no
// registry entry behind.
// One key's HSM object disappears (deleted by hand): releases of that key are refused, naming it,
// and releases of the other keys, running at the same time, are not disturbed (no reconnect of
// the HSM under them).
TEST_F(Scenarios, AMissingHsmObjectAffectsOnlyItsKey) {
  Json create{{"id", "lost"}, {"type", "ec-p256"}, {"policy", TestPolicy()}};
  ASSERT_EQ(Https(Call("POST", "/v1/keys", create.dump(), "admin")).status, 201);
  auto removed =
      RunCmd({"pkcs11-tool", "--module", "/usr/lib/softhsm/libsofthsm2.so", "--token-label", "kmra",
              "--login", "--pin", integration::ReadFile(D() + "/hsm/pin").substr(0, 24),
              "--delete-object", "--type", "privkey", "--label", "kmra:lost:v1"},
             {{"SOFTHSM2_CONF", D() + "/hsm/softhsm2.conf"}});
  ASSERT_EQ(removed.exit_code, 0) << removed.output;
  Client& c = MakeClient();
  std::vector<std::string> lost_bodies, demo_bodies;
  for (int i = 0; i < 15; ++i) {
    auto n1 = KmraNonce(Now());
    lost_bodies.push_back(KmraBody("lost", c.pub, c.QuoteFor(n1), n1).dump());
    auto n2 = KmraNonce(Now());
    demo_bodies.push_back(KmraBody("demo", c.pub, c.QuoteFor(n2), n2).dump());
  }
  int64_t seq = LastSeq();
  std::vector<server::testing::HttpResult> lost(lost_bodies.size()), demo(demo_bodies.size());
  std::thread breaker([&] {
    for (size_t i = 0; i < lost.size(); ++i)
      lost[i] = Https(Call("POST", "/sgx/keys/export", lost_bodies[i]));
  });
  for (size_t i = 0; i < demo.size(); ++i)
    demo[i] = Https(Call("POST", "/sgx/keys/export", demo_bodies[i]));
  breaker.join();
  for (const auto& r : demo) EXPECT_EQ(r.status, 200) << r.body;
  for (const auto& r : lost) {
    EXPECT_EQ(r.status, 503) << r.body;
    EXPECT_EQ(Json::parse(r.body)["error"]["code"], "hsm.key_missing") << r.body;
    EXPECT_NE(r.body.find("kmra:lost:v1"), std::string::npos) << r.body;
    EXPECT_EQ(r.body.find("wrappedKey"), std::string::npos);
  }
  size_t audited_lost = 0, audited_demo = 0;
  for (const auto& r : AuditAfter(seq)) {
    const Json& rec = r["record"];
    if (rec["key_id"] == "lost" && rec["failed_check"] == "hsm.key_missing") ++audited_lost;
    if (rec["key_id"] == "demo" && rec["verdict"] == "allowed") ++audited_demo;
  }
  EXPECT_EQ(audited_lost, lost.size());
  EXPECT_EQ(audited_demo, demo.size());
}

TEST_F(Scenarios, KeyCreationLeavesNoOrphanHsmObjects) {
  auto hsm_objects = [&](const std::string& label) {
    auto listed =
        RunCmd({"pkcs11-tool", "--module", "/usr/lib/softhsm/libsofthsm2.so", "--token-label",
                "kmra", "--login", "--pin", integration::ReadFile(D() + "/hsm/pin").substr(0, 24),
                "--list-objects", "--type", "privkey"},
               {{"SOFTHSM2_CONF", D() + "/hsm/softhsm2.conf"}});
    EXPECT_EQ(listed.exit_code, 0) << listed.output;
    size_t n = 0;
    const std::string needle = "label:      " + label + "\n";
    for (size_t p = listed.output.find(needle); p != std::string::npos;
         p = listed.output.find(needle, p + 1)) {
      ++n;
    }
    return n;
  };
  const std::string body =
      Json{{"id", "race"}, {"type", "ec-p256"}, {"policy", TestPolicy()}}.dump();
  std::vector<std::thread> threads;
  std::vector<long> statuses(6);
  for (size_t i = 0; i < statuses.size(); ++i) {
    threads.emplace_back(
        [&, i] { statuses[i] = Https(Call("POST", "/v1/keys", body, "admin")).status; });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 201), 1);
  EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 409), 5);
  EXPECT_EQ(hsm_objects("kmra:race:v1"), 1u);

  // The demo key's certificate does not belong to a new key: refused after the key was generated.
  auto demo = Json::parse(Https(Call("GET", "/v1/keys/demo", "", "admin")).body);
  const std::string mismatched = Json{{"id", "mismatch"},
                                      {"type", "ec-p256"},
                                      {"policy", TestPolicy()},
                                      {"certificate_pem", demo["versions"][0]["certificate_chain"]}}
                                     .dump();
  auto refused = Https(Call("POST", "/v1/keys", mismatched, "admin"));
  EXPECT_EQ(refused.status, 400) << refused.body;
  EXPECT_EQ(Https(Call("GET", "/v1/keys/mismatch", "", "admin")).status, 404);
  EXPECT_EQ(hsm_objects("kmra:mismatch:v1"), 0u);
  // The id is free again, and the legitimate creation works.
  auto created = Https(Call(
      "POST", "/v1/keys",
      Json{{"id", "mismatch"}, {"type", "ec-p256"}, {"policy", TestPolicy()}}.dump(), "admin"));
  EXPECT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(hsm_objects("kmra:mismatch:v1"), 1u);
}

}  // namespace
}  // namespace kmra
