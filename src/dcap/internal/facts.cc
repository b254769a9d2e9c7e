#include "dcap/internal/facts.h"

#include "crypto/ecdsa.h"
#include "dcap/internal/bytes.h"

namespace kmra::dcap::internal {
namespace {

bool Contains(const std::string& s, std::string_view part) {
  return s.find(part) != std::string::npos;
}

std::string Quoted(const std::string& s) { return "\"" + s + "\""; }

CrlFacts LoadCrl(const std::vector<uint8_t>& der, const char* what) {
  CrlFacts f;
  f.present = !der.empty();
  if (!f.present) return f;
  auto crl = crypto::ParseCrl(der, what);
  if (!crl) {
    f.parse_error = crl.error().message();
  } else {
    f.crl = std::move(*crl);
    f.extensions.detail = crypto::CrlProfileProblem(*f.crl);
    f.extensions.ok = f.extensions.detail.empty();
    if (f.extensions.ok) f.extensions.detail = "CRL Number and Authority Key Identifier present";
  }
  return f;
}

// QVL's chain rules (PckCertVerifier.cpp / TCBSigningChain.cpp): every certificate is issued (raw
// DN) and signed by the next; the last is self-signed and byte-identical to the trusted root.
void CheckChain(const std::vector<Cert>& chain, const TrustedRoot& root, Fact* signatures,
                Fact* root_fact) {
  signatures->ok = true;
  for (size_t i = 0; i + 1 < chain.size(); ++i) {
    if (!crypto::IssuedBy(chain[i], chain[i + 1])) {
      signatures->ok = false;
      signatures->detail = Quoted(chain[i].subject_cn) + " names issuer " +
                           Quoted(chain[i].issuer_cn) + ", but the next certificate is " +
                           Quoted(chain[i + 1].subject_cn);
      break;
    }
    if (!crypto::SignedBy(chain[i], *chain[i + 1].key)) {
      signatures->ok = false;
      signatures->detail = "the signature of " + Quoted(chain[i].subject_cn) +
                           " does not verify with the key of " + Quoted(chain[i + 1].subject_cn);
      break;
    }
  }
  const Cert& last = chain.back();
  const bool is_root = last.der == root.cert.der;
  const bool self_signed = is_root ? root.self_signed : crypto::SignedBy(last, *last.key);
  if (signatures->ok && !self_signed) {
    signatures->ok = false;
    signatures->detail = "the root " + Quoted(last.subject_cn) + " is not self-signed";
  }
  if (signatures->ok) signatures->detail = std::to_string(chain.size()) + " signatures verify";
  root_fact->ok = is_root;
  if (is_root) {
    root_fact->detail = "the chain ends in the trusted root " + Quoted(root.cert.subject_cn);
  } else {
    const bool same_key = last.public_point == root.cert.public_point;
    root_fact->detail =
        "the chain ends in " + DescribeCert(last) +
        ", which is not byte-identical to the trusted root " + DescribeCert(root.cert) +
        (same_key ? "; both have the same public key: another issue of that root, still not the "
                    "certificate trusted (the root is compared byte for byte, as in QVL)"
                  : "; their public keys differ");
  }
}

Fact NotRevoked(const CrlFacts& crl, const Cert& cert) {
  Fact f;
  f.ok = !crypto::Revoked(*crl.crl, cert);
  f.detail = Quoted(cert.subject_cn) + " serial " + cert.serial_hex +
             (f.ok ? " is not listed in the CRL of " : " is REVOKED by the CRL of ") +
             Quoted(crl.crl->issuer_cn);
  return f;
}

Fact SignedJsonFact(const std::string& body, const std::array<uint8_t, 64>& sig,
                    const CollateralFacts& c, const char* what) {
  Fact f;
  if (!c.tcb_chain_usable()) {
    f.checked = false;
    const char* why = !c.tcb_chain_present               ? "is missing"
                      : !c.tcb_chain_parse_error.empty() ? "does not parse"
                      : !c.tcb_chain_names.ok            ? "has unexpected certificate names"
                      : !c.tcb_chain_signatures.ok       ? "has a signature that does not verify"
                                                         : "does not end in the trusted root";
    f.detail = std::string("not checked: the TCB signing chain ") + why +
               " (see tcb_signing_chain.*), so its key cannot vouch for the " + what +
               "; nothing shows the signature itself is bad";
    return f;
  }
  f.ok =
      crypto::EcdsaVerifyRaw(
          *c.tcb_chain[0].key, crypto::HashAlg::kSha256,
          std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(body.data()), body.size()), sig)
          .has_value();
  f.detail = f.ok ? std::string("ECDSA signature of ") + Quoted(c.tcb_chain[0].subject_cn) +
                        " over the " + what + " body verifies"
                  : std::string("the ") + what + " signature does not verify with the key of " +
                        Quoted(c.tcb_chain[0].subject_cn) + " (altered collateral?)";
  return f;
}

// Parses a signed JSON document of the collateral and checks its signature (`what`: "TCB info").
template <class T, class Parse>
SignedDocFacts<T> PrepareSignedDoc(const std::string& json, Parse parse, const CollateralFacts& c,
                                   const char* what) {
  SignedDocFacts<T> d;
  d.present = !json.empty();
  if (!d.present) return d;
  auto parsed = parse(json);
  if (!parsed) {
    d.parse_error = parsed.error().message();
    return d;
  }
  d.doc = std::move(*parsed);
  d.signature = SignedJsonFact(d.doc->body, d.doc->signature, c, what);
  return d;
}

}  // namespace

std::shared_ptr<const CollateralFacts> PrepareCollateral(const Collateral& c,
                                                         const TrustedRoot& root, uint64_t id) {
  auto f = std::make_shared<CollateralFacts>();
  f->id = id;
  f->root_crl = LoadCrl(c.root_ca_crl_der, "the root CA CRL");
  f->pck_crl = LoadCrl(c.pck_crl_der, "the PCK CRL");
  if (f->root_crl.crl) {
    const Crl& crl = *f->root_crl.crl;
    const bool issuer = crypto::CrlIssuedBy(crl, root.cert);
    const bool signed_ok = issuer && crypto::CrlSignedBy(crl, root.key());
    f->root_crl_issuer.ok = signed_ok;
    f->root_crl_issuer.detail =
        !issuer ? "the root CA CRL is issued by " + Quoted(f->root_crl.crl->issuer_cn) +
                      ", not by the trusted root " + Quoted(root.cert.subject_cn)
        : !signed_ok ? "the root CA CRL's signature does not verify with the trusted root's key"
                     : "issued and signed by the trusted root";
  }

  f->tcb_chain_present = !c.tcb_signing_chain_pem.empty();
  if (f->tcb_chain_present) {
    auto chain =
        crypto::ParsePemChain(c.tcb_signing_chain_pem, "the TCB signing chain", &root.cert);
    if (!chain) {
      f->tcb_chain_parse_error = chain.error().message();
    } else if (auto order = crypto::RootFirstProblem(*chain, "the TCB signing chain");
               !order.empty()) {
      f->tcb_chain_parse_error = order;
    } else {
      f->tcb_chain = std::move(*chain);
      const auto& ch = f->tcb_chain;
      f->tcb_chain_names.ok = ch.size() == 2 && Contains(ch[0].subject_cn, "SGX TCB Signing") &&
                              Contains(ch[1].subject_cn, "SGX Root CA");
      f->tcb_chain_names.detail =
          ch.size() != 2
              ? "the TCB signing chain holds " + std::to_string(ch.size()) +
                    " certificates; expected the TCB Signing certificate and the root"
              : "signer " + Quoted(ch[0].subject_cn) + ", root " + Quoted(ch[1].subject_cn) +
                    (f->tcb_chain_names.ok ? ""
                                           : " (expected names containing \"SGX TCB "
                                             "Signing\" and \"SGX Root CA\")");
      CheckChain(ch, root, &f->tcb_chain_signatures, &f->tcb_chain_root);
      if (f->root_crl.crl && f->root_crl_issuer.ok) {
        f->tcb_signing_not_revoked = NotRevoked(f->root_crl, ch[0]);
      }
    }
  }

  f->tcb_info = PrepareSignedDoc<TcbInfo>(c.tcb_info_json, ParseTcbInfo, *f, "TCB info");
  f->qe_identity = PrepareSignedDoc<EnclaveIdentity>(c.qe_identity_json, ParseEnclaveIdentity, *f,
                                                     "QE identity");
  return f;
}

std::shared_ptr<const PckChainFacts> PreparePckChain(std::string_view pem, const TrustedRoot& root,
                                                     uint64_t id) {
  auto f = std::make_shared<PckChainFacts>();
  f->id = id;
  auto chain = crypto::ParsePemChain(pem, "the PCK certificate chain", &root.cert);
  if (!chain) {
    f->parse_error = chain.error().message();
    return f;
  }
  f->parse_error = crypto::RootFirstProblem(*chain, "the PCK certificate chain");
  if (!f->parse_error.empty()) return f;
  f->certs = std::move(*chain);
  const auto& ch = f->certs;
  // QVL PckCertVerifier: root CN has "SGX Root CA", intermediate "CA", leaf "SGX PCK Certificate".
  f->names.ok = ch.size() == 3 && Contains(ch[0].subject_cn, "SGX PCK Certificate") &&
                Contains(ch[1].subject_cn, "CA") && Contains(ch[2].subject_cn, "SGX Root CA");
  if (ch.size() != 3) {
    f->names.detail = "the PCK chain holds " + std::to_string(ch.size()) +
                      " certificates; expected PCK certificate, PCK CA and root";
  } else {
    f->names.detail = "PCK " + Quoted(ch[0].subject_cn) + ", CA " + Quoted(ch[1].subject_cn) +
                      ", root " + Quoted(ch[2].subject_cn);
    if (!f->names.ok) {
      f->names.detail +=
          " (expected names containing \"SGX PCK Certificate\", \"CA\" and "
          "\"SGX Root CA\")";
    }
  }
  CheckChain(ch, root, &f->signatures, &f->root);
  if (ch.size() >= 2) {
    const std::string& ca = ch[1].subject_cn;
    f->ca_type = Contains(ca, "Processor")  ? "processor"
                 : Contains(ca, "Platform") ? "platform"
                                            : "";
  }
  auto ext = PckExtensionOf(ch[0]);
  if (ext) {
    f->extension = *ext;
  } else {
    f->extension_error = ext.error().message();
  }
  return f;
}

std::shared_ptr<const PckRevocationFacts> PreparePckRevocation(const PckChainFacts& chain,
                                                               const CollateralFacts& c) {
  auto f = std::make_shared<PckRevocationFacts>();
  const auto& ch = chain.certs;
  if (c.pck_crl.crl && ch.size() >= 2) {
    const Crl& crl = *c.pck_crl.crl;
    Fact issuer;
    const bool cn_ok = Contains(crl.issuer_cn, "CA");
    const bool dn_ok = crl.issuer_name == ch[0].issuer_name;
    const bool sig_ok = dn_ok && crypto::CrlSignedBy(crl, *ch[1].key);
    issuer.ok = cn_ok && dn_ok && sig_ok;
    issuer.detail =
        !dn_ok || !cn_ok ? "the PCK CRL is issued by " + Quoted(c.pck_crl.crl->issuer_cn) +
                               " but the PCK certificate by " + Quoted(ch[0].issuer_cn) +
                               " (Processor vs Platform CA CRL?)"
        : !sig_ok
            ? "the PCK CRL's signature does not verify with the key of " + Quoted(ch[1].subject_cn)
            : "issued and signed by " + Quoted(ch[1].subject_cn);
    f->pck_crl_issuer = issuer;
    if (issuer.ok) f->leaf_not_revoked = NotRevoked(c.pck_crl, ch[0]);
  }
  if (c.root_crl.crl && c.root_crl_issuer.ok && ch.size() >= 2) {
    f->intermediate_not_revoked = NotRevoked(c.root_crl, ch[1]);
  }
  return f;
}

}  // namespace kmra::dcap::internal
