#include "enclave/pki/sim_collateral.h"

#include <nlohmann/json.hpp>

#include "base/clock.h"
#include "base/file.h"
#include "enclave/pki/out_dir.h"
#include "base/hex.h"
#include "crypto/hash.h"
#include "enclave/internal/p256.h"
#include "enclave/pki/x509_builder.h"

namespace kmra::enclave::pki {

namespace {

using Json = nlohmann::ordered_json;
constexpr int64_t kDay = 86400;
constexpr int kTcbEvaluationDataNumber = 17;

// Collateral times: issued an hour before `now` (so a verifier at `now` is inside every window),
// valid 30 days like Intel's; or, when expired, issued 31 days ago and stale since yesterday.
int64_t IssueTime(const SimCollateralInput& in) {
  return in.expired ? in.now - 31 * kDay : in.now - 3600;
}
int64_t NextUpdate(const SimCollateralInput& in) {
  return in.expired ? in.now - kDay : in.now - 3600 + 30 * kDay;
}

// Intel signs the exact bytes of the body value; we sign exactly what we write.
Result<std::string> Sign(const char* field, const std::string& body, EVP_PKEY* key) {
  KMRA_ASSIGN_OR_RETURN(auto sig, internal::SignP256Raw(
                                      key, std::span<const std::uint8_t>(
                                               reinterpret_cast<const std::uint8_t*>(body.data()),
                                               body.size())));
  return std::string("{\"") + field + "\":" + body + ",\"signature\":\"" + HexEncode(sig) + "\"}";
}

}  // namespace

const std::vector<TcbLevelSpec>& SimTcbLevels() {
  static const std::vector<TcbLevelSpec> levels = {
      {TcbProfile::kUpToDate, {15, 15, 3, 3, 255, 255, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 15,
       "UpToDate", {}},
      {TcbProfile::kSwHardeningNeeded, {14, 14, 3, 3, 255, 255, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 15,
       "SWHardeningNeeded", {"INTEL-SA-00615"}},
      {TcbProfile::kOutOfDate, {13, 13, 3, 3, 255, 255, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 13,
       "OutOfDate", {"INTEL-SA-00828", "INTEL-SA-00615"}},
      {TcbProfile::kRevoked, {6, 6, 2, 2, 255, 255, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 10, "Revoked",
       {"INTEL-SA-00233", "INTEL-SA-00828", "INTEL-SA-00615"}},
  };
  return levels;
}

const TcbLevelSpec& LevelFor(TcbProfile profile) {
  for (const auto& l : SimTcbLevels()) {
    if (l.profile == profile) return l;
  }
  return SimTcbLevels().front();
}

std::array<std::uint8_t, 32> SimQeMrSigner() {
  return crypto::Sha256(std::string_view("OpenKMRA simulated Quoting Enclave signer"));
}

Result<std::string> SignedTcbInfo(const SimCollateralInput& in) {
  Json levels = Json::array();
  int64_t date = in.now - 30 * kDay;
  for (const auto& l : SimTcbLevels()) {
    Json comps = Json::array();
    for (auto svn : l.components) comps.push_back(Json{{"svn", svn}});
    Json level;
    level["tcb"] = Json{{"sgxtcbcomponents", comps}, {"pcesvn", l.pce_svn}};
    level["tcbDate"] = FormatRfc3339(date);
    level["tcbStatus"] = l.status;
    if (!l.advisory_ids.empty()) level["advisoryIDs"] = l.advisory_ids;
    levels.push_back(level);
    date -= 180 * kDay;
  }
  Json info;
  info["id"] = "SGX";
  info["version"] = 3;
  info["issueDate"] = FormatRfc3339(IssueTime(in));
  info["nextUpdate"] = FormatRfc3339(NextUpdate(in));
  info["fmspc"] = kSimFmspc;
  info["pceId"] = "0000";
  info["tcbType"] = 0;
  info["tcbEvaluationDataNumber"] = kTcbEvaluationDataNumber;
  info["tcbLevels"] = levels;
  return Sign("tcbInfo", info.dump(), in.tcb_signing_key);
}

Result<std::string> SignedQeIdentity(const SimCollateralInput& in) {
  Json id;
  id["id"] = "QE";
  id["version"] = 2;
  id["issueDate"] = FormatRfc3339(IssueTime(in));
  id["nextUpdate"] = FormatRfc3339(NextUpdate(in));
  id["tcbEvaluationDataNumber"] = kTcbEvaluationDataNumber;
  id["miscselect"] = "00000000";
  id["miscselectMask"] = "FFFFFFFF";
  // Intel's values: INIT|PROVISIONKEY required, DEBUG masked out by the bits that count.
  id["attributes"] = "11000000000000000000000000000000";
  id["attributesMask"] = "FBFFFFFFFFFFFFFF0000000000000000";
  id["mrsigner"] = HexEncodeUpper(SimQeMrSigner());
  id["isvprodid"] = 1;
  Json levels = Json::array();
  levels.push_back(Json{{"tcb", Json{{"isvsvn", kSimQeIsvSvn}}},
                        {"tcbDate", FormatRfc3339(in.now - 30 * kDay)},
                        {"tcbStatus", "UpToDate"}});
  levels.push_back(Json{{"tcb", Json{{"isvsvn", 6}}},
                        {"tcbDate", FormatRfc3339(in.now - 400 * kDay)},
                        {"tcbStatus", "OutOfDate"},
                        {"advisoryIDs", Json::array({"INTEL-SA-00615"})}});
  id["tcbLevels"] = levels;
  return Sign("enclaveIdentity", id.dump(), in.tcb_signing_key);
}

Status WriteSimCollateral(const std::filesystem::path& dir, const SimCollateralInput& in) {
  const int64_t crl_this = in.now - 3600;
  CrlSpec root_crl_spec;
  root_crl_spec.issuer = in.root;
  root_crl_spec.issuer_key = in.root_key;
  root_crl_spec.this_update = crl_this;
  root_crl_spec.next_update = crl_this + 365 * kDay;
  KMRA_ASSIGN_OR_RETURN(auto root_crl, IssueCrl(root_crl_spec));
  CrlSpec pck_crl_spec;
  pck_crl_spec.issuer = in.pck_ca;
  pck_crl_spec.issuer_key = in.pck_ca_key;
  pck_crl_spec.this_update = crl_this;
  pck_crl_spec.next_update = crl_this + 30 * kDay;
  pck_crl_spec.revoked = in.revoked_pcks;
  KMRA_ASSIGN_OR_RETURN(auto pck_crl, IssueCrl(pck_crl_spec));
  KMRA_ASSIGN_OR_RETURN(auto tcb_info, SignedTcbInfo(in));
  KMRA_ASSIGN_OR_RETURN(auto qe_identity, SignedQeIdentity(in));

  const std::string root_pem = CertPem(in.root);
  KMRA_TRY(CreateDirectories(dir, 0755));
  KMRA_TRY(WriteNewFile(dir / "tcbInfo.json", tcb_info, 0644));
  KMRA_TRY(WriteNewFile(dir / "qeIdentity.json", qe_identity, 0644));
  KMRA_TRY(WriteNewFile(dir / "tcbSignChain.pem", CertPem(in.tcb_signing) + root_pem, 0644));
  KMRA_TRY(WriteNewFile(dir / "rootCaCrl.der", CrlDer(root_crl.get()), 0644));
  KMRA_TRY(WriteNewFile(dir / "rootCaCrl.pem", CrlPem(root_crl.get()), 0644));
  KMRA_TRY(WriteNewFile(dir / "pckCrl.der", CrlDer(pck_crl.get()), 0644));
  KMRA_TRY(WriteNewFile(dir / "pckCrl.pem", CrlPem(pck_crl.get()), 0644));
  KMRA_TRY(WriteNewFile(dir / "pckCrlIssuerChain.pem", CertPem(in.pck_ca) + root_pem, 0644));
  // No trustedRootCaCert.pem on purpose: trusting the simulated root must be an explicit choice
  // (`--root DIR/sgx/root.pem`), so that by default a simulated quote fails against Intel's root.
  return OkStatus();
}

}  // namespace kmra::enclave::pki
