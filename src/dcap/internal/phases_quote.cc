// The phases over the quote itself (QVL's sgxAttestationVerifyQuote, in QVL's order) and the TCB
// level with its status convergence (QVL step 4.1.2.4.17).
#include <openssl/sha.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "dcap/internal/bytes.h"
#include "dcap/internal/phases.h"

namespace kmra::dcap::internal {
namespace {

std::string Quoted(const std::string& s) { return "\"" + s + "\""; }

// Bytes of masked comparisons, e.g. QE identity attributes.
bool MaskedEqual(std::span<const uint8_t> value, std::span<const uint8_t> mask,
                 std::span<const uint8_t> expected) {
  for (size_t i = 0; i < value.size(); ++i) {
    if ((value[i] & mask[i]) != expected[i]) return false;
  }
  return true;
}

void AppendUnique(std::vector<std::string>* out, const std::vector<std::string>& ids) {
  for (const auto& id : ids) {
    if (std::find(out->begin(), out->end(), id) == out->end()) out->push_back(id);
  }
}

}  // namespace

Checks PlatformMatch(const Quote& q, const PckChainFacts* chain, const TcbInfo* tcb_info,
                     VerificationReport* out) {
  Checks b;
  const PckExtension* pck = nullptr;
  if (chain) {
    if (chain->extension) {
      pck = &*chain->extension;
      out->fmspc = HexUpper(pck->fmspc);
      out->pce_id = HexUpper(pck->pce_id);
      out->pck_ca = chain->ca_type;
    } else {
      b.Add("pck.extension", false, chain->extension_error, "pck.extension_invalid");
    }
  }
  if (tcb_info == nullptr) return b;
  const std::string tee = TeeName(q.header.tee_type);
  const bool tee_ok =
      q.is_tdx() ? (tcb_info->version == 3 && tcb_info->id == "TDX") : tcb_info->id == "SGX";
  b.Add("tcb_info.tee_type", tee_ok,
        "TCB info v" + std::to_string(tcb_info->version) + " id " + Quoted(tcb_info->id) +
            (tee_ok ? " matches the " : " does not fit the ") + tee + " quote",
        "tcb_info.mismatch");
  if (pck != nullptr) {
    // The leaf's platform value (as hex in `ours`) against the TCB info's.
    auto same = [&b](std::string_view check, const std::string& label, const auto& leaf,
                     const auto& info, const std::string& ours) {
      const bool ok = leaf == info;
      b.Add(check, ok,
            ok ? label + " " + ours
               : "the PCK certificate has " + label + " " + ours + ", the TCB info is for " +
                     HexUpper(info),
            "tcb_info.mismatch");
    };
    same("tcb_info.fmspc", "FMSPC", pck->fmspc, tcb_info->fmspc, out->fmspc);
    same("tcb_info.pce_id", "PCE-ID", pck->pce_id, tcb_info->pce_id, out->pce_id);
  }
  return b;
}

Checks TdxModule(const Quote& q, const TcbInfo* tcb_info, const TdxModuleIdentity** module) {
  Checks b;
  *module = nullptr;
  if (!q.td || tcb_info == nullptr || tcb_info->id != "TDX") return b;
  const TdReport& td = *q.td;
  *module = SelectTdxModule(*tcb_info, td);
  const TdxModuleIdentity* m = *module;
  if (m == nullptr) {
    char id[8];
    // "TDX_" and 2 hex digits of a byte: cannot truncate.
    (void)std::snprintf(id, sizeof(id), "TDX_%02X", td.tee_tcb_svn[1]);
    b.Add("tdx_module.identity", false,
          std::string("the TCB info has no TDX module identity ") + id, "tdx_module.mismatch");
    return b;
  }
  const bool signer_ok = td.mrsigner_seam == m->mrsigner;
  const bool attrs_zero = std::all_of(td.seam_attributes.begin(), td.seam_attributes.end(),
                                      [](uint8_t v) { return v == 0; });
  const bool attrs_ok =
      attrs_zero && MaskedEqual(td.seam_attributes, m->attributes_mask, m->attributes);
  b.Add("tdx_module.identity", signer_ok && attrs_ok,
        !signer_ok  ? "MRSIGNER_SEAM " + Hex(td.mrsigner_seam) + ", expected " + Hex(m->mrsigner)
        : !attrs_ok ? "SEAM_ATTRIBUTES " + Hex(td.seam_attributes) + ", expected all zero and " +
                          Hex(m->attributes) + " under mask " + Hex(m->attributes_mask)
                    : "TDX module " + (m->id.empty() ? std::string("(tdxModule)") : m->id) +
                          " signer and attributes match",
        "tdx_module.mismatch");
  return b;
}

Checks QeReport(const Quote& q, std::optional<bool> signature_ok) {
  Checks b;
  if (signature_ok) {
    b.Add("qe_report.signature", *signature_ok,
          *signature_ok ? "the QE report is signed by the PCK key"
                        : "the QE report signature does not verify with the PCK certificate's key",
          "qe_report.signature_invalid");
  }
  std::vector<uint8_t> data(q.attestation_key.begin(), q.attestation_key.end());
  data.insert(data.end(), q.qe_auth_data.begin(), q.qe_auth_data.end());
  uint8_t digest[32];
  SHA256(data.data(), data.size(), digest);
  const bool ok = std::memcmp(digest, q.qe_report.report_data.data(), 32) == 0;
  b.Add("qe_report.binding", ok,
        ok ? "QE report data = SHA-256(attestation key || QE authentication data)"
           : "QE report data[0..32] is " +
                 Hex(std::span<const uint8_t>(q.qe_report.report_data.data(), 32)) +
                 ", SHA-256(attestation key || QE authentication data) is " +
                 Hex(std::span<const uint8_t>(digest, 32)),
        "qe_report.binding_invalid");
  return b;
}

Checks QeIdentityMatch(const Quote& q, const EnclaveIdentity& qe_identity,
                       std::optional<EnclaveIdentityLevel>* level, VerificationReport* out) {
  Checks b;
  const std::string tee = TeeName(q.header.tee_type);
  const char* want = q.is_tdx() ? "TD_QE" : "QE";
  const bool id_ok = qe_identity.id == want;
  b.Add("qe_identity.id", id_ok,
        "QE identity " + Quoted(qe_identity.id) + (id_ok ? " for a " : ", expected ") +
            (id_ok ? tee + " quote" : Quoted(want) + " for a " + tee + " quote"),
        "qe_identity.mismatch");
  const EnclaveReport& qr = q.qe_report;
  uint8_t misc[4];
  for (int i = 0; i < 4; ++i) misc[i] = static_cast<uint8_t>(qr.misc_select >> (8 * i));
  std::string mismatch;
  if (!MaskedEqual(misc, qe_identity.miscselect_mask, qe_identity.miscselect)) {
    mismatch = "MISCSELECT " + HexUpper(misc) + " under mask " +
               HexUpper(qe_identity.miscselect_mask) + " is not " +
               HexUpper(qe_identity.miscselect);
  } else if (!MaskedEqual(qr.attributes, qe_identity.attributes_mask, qe_identity.attributes)) {
    mismatch = "ATTRIBUTES " + HexUpper(qr.attributes) + " under mask " +
               HexUpper(qe_identity.attributes_mask) + " is not " +
               HexUpper(qe_identity.attributes);
  } else if (qr.mr_signer != qe_identity.mrsigner) {
    mismatch =
        "MRSIGNER " + HexUpper(qr.mr_signer) + ", expected " + HexUpper(qe_identity.mrsigner);
  } else if (qr.isv_prod_id != qe_identity.isv_prod_id) {
    mismatch = "ISVPRODID " + std::to_string(qr.isv_prod_id) + ", expected " +
               std::to_string(qe_identity.isv_prod_id);
  }
  b.Add("qe_identity.report", mismatch.empty(),
        mismatch.empty()
            ? "the QE report matches the QE identity (ISVSVN " + std::to_string(qr.isv_svn) + ")"
            : mismatch,
        "qe_identity.mismatch");
  *level = SelectQeLevel(qe_identity, qr.isv_svn);
  out->qe_identity_status = *level ? std::string(TcbStatusName((*level)->status))
                                   : std::string(TcbStatusName(TcbStatus::kNotSupported));
  return b;
}

Checks QuoteSignature(bool key_ok, const std::string& key_error, bool ok) {
  Checks b;
  b.Add("quote.signature", ok,
        ok       ? "the quote is signed by the attestation key"
        : key_ok ? "the quote signature over header and report body does not verify with the "
                   "attestation key (altered quote?)"
                 : key_error,
        "quote.signature_invalid");
  return b;
}

Checks TcbLevel(const Quote& q, const TcbInfo& tcb_info, const PckExtension& pck,
                const TdxModuleIdentity* module, const EnclaveIdentity* qe_identity,
                const std::optional<EnclaveIdentityLevel>& qe_level, VerificationReport* out) {
  Checks b;
  const dcap::TcbLevel* level = SelectTcbLevel(tcb_info, pck, q.td ? &*q.td : nullptr);
  TcbStatus status = level ? level->status : TcbStatus::kNotSupported;
  if (level) AppendUnique(&out->advisory_ids, level->advisory_ids);
  if (module != nullptr && !module->levels.empty()) {
    auto mlevel = SelectTdxModuleLevel(*module, *q.td);
    const TcbStatus ms = mlevel ? mlevel->status : TcbStatus::kNotSupported;
    out->tdx_module_status = std::string(TcbStatusName(ms));
    if (mlevel) AppendUnique(&out->advisory_ids, mlevel->advisory_ids);
    status = Converge(status, ms);
  }
  if (qe_identity != nullptr) {
    status = Converge(status, qe_level ? qe_level->status : TcbStatus::kNotSupported);
    if (qe_level) AppendUnique(&out->advisory_ids, qe_level->advisory_ids);
  }
  out->tcb_status = std::string(TcbStatusName(status));
  std::string comps;
  comps.reserve(pck.tcb_components.size() * 4);
  for (uint8_t c : pck.tcb_components) {
    if (!comps.empty()) comps += ',';
    comps += std::to_string(c);
  }
  // No TCB level met is a failed verification, as in QVL (TCB_NOT_SUPPORTED).
  b.Add("tcb.level", level != nullptr,
        level ? "TCB level " + std::string(TcbStatusName(level->status)) + " of " +
                    FormatUtc(level->tcb_date) + " (PCK SVNs " + comps + ", PCESVN " +
                    std::to_string(pck.pce_svn) + "); converged status " + out->tcb_status
              : "no TCB level of the TCB info is met by the platform (PCK SVNs " + comps +
                    ", PCESVN " + std::to_string(pck.pce_svn) +
                    (q.td ? ", TEE_TCB_SVN " + Hex(q.td->tee_tcb_svn) : std::string()) + ")",
        "tcb.level_not_supported");
  return b;
}

}  // namespace kmra::dcap::internal
