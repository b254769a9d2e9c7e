// What the verifier learns from collateral and PCK chains that does not depend on the quote or the
// time: parsed objects and the outcome of every signature, name and revocation check. These are the
// units the caching verifier keeps; the time checks and the per-quote checks run on every call.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "crypto/crl.h"
#include "crypto/x509.h"
#include "dcap/collateral.h"
#include "dcap/pck_extension.h"
#include "dcap/tcb_info.h"

namespace kmra::dcap::internal {

using crypto::Cert;
using crypto::Crl;

// A time-independent check outcome; `detail` describes it. `checked` is false when the check could
// not run (a signature whose signing chain is not trusted): not ok, but not shown to be bad either.
struct Fact {
  bool ok = false;
  std::string detail;
  bool checked = true;
};

// The trusted root, parsed once per verifier.
struct TrustedRoot {
  Cert cert;
  bool self_signed = false;  // checked once when the verifier is created
  const crypto::PublicKey& key() const { return *cert.key; }
};

struct CrlFacts {
  bool present = false;
  std::string parse_error;
  std::optional<Crl> crl;
  Fact extensions;  // Intel's CRL profile: CRL Number and Authority Key Identifier, once each
};

// A signed JSON document of the collateral (TCB info or QE identity): given, parsed, and its
// signature checked with the TCB signing key.
template <class T>
struct SignedDocFacts {
  bool present = false;
  std::string parse_error;
  std::optional<Signed<T>> doc;
  Fact signature;

  const T* value() const { return doc ? &doc->value : nullptr; }
};

struct CollateralFacts {
  uint64_t id = 0;  // unique per prepared collateral, keys the PCK chain facts that use it
  CrlFacts root_crl;
  CrlFacts pck_crl;
  Fact root_crl_issuer;  // issued and signed by the trusted root

  bool tcb_chain_present = false;
  std::string tcb_chain_parse_error;
  std::vector<Cert> tcb_chain;
  Fact tcb_chain_names;
  Fact tcb_chain_signatures;
  Fact tcb_chain_root;                          // ends in the trusted root
  std::optional<Fact> tcb_signing_not_revoked;  // when the root CRL is usable

  SignedDocFacts<TcbInfo> tcb_info;
  SignedDocFacts<EnclaveIdentity> qe_identity;

  bool tcb_chain_usable() const {
    return tcb_chain_parse_error.empty() && tcb_chain_present && tcb_chain_names.ok &&
           tcb_chain_signatures.ok && tcb_chain_root.ok;
  }
};

struct PckRevocationFacts;

// What a PCK certificate chain shows without collateral or a time: parsed certificates, names,
// signatures up to the trusted root, and the platform facts of the leaf. Shared by every quote that
// carries the same chain (and by every collateral it is checked against).
struct PckChainFacts {
  uint64_t id = 0;  // unique per prepared chain
  std::string parse_error;
  std::vector<Cert> certs;  // leaf, intermediate, root
  Fact names;
  Fact signatures;
  Fact root;
  std::optional<PckExtension> extension;
  std::string extension_error;
  std::string ca_type;  // "processor", "platform" or ""

  // Outcomes of QE report signature checks with this PCK key (bounded; see verifier.cc).
  mutable std::shared_mutex qe_mu;
  mutable std::vector<std::pair<std::string, bool>> qe_memo;
  // Revocation facts of this chain per collateral (by CollateralFacts::id; bounded).
  mutable std::shared_mutex revocation_mu;
  mutable std::vector<std::pair<uint64_t, std::shared_ptr<const PckRevocationFacts>>>
      revocation_memo;

  // Parsed, named as QVL expects, every signature verifies and the chain ends in the trusted root:
  // the leaf's facts (FMSPC, PCE-ID, CA type) are vouched for by the root.
  bool trusted() const { return parse_error.empty() && names.ok && signatures.ok && root.ok; }
  const crypto::PublicKey* leaf_key() const { return certs.empty() ? nullptr : &*certs[0].key; }
};

// What a collateral's CRLs say about a PCK chain.
struct PckRevocationFacts {
  std::optional<Fact> pck_crl_issuer;            // when the PCK CRL parsed
  std::optional<Fact> intermediate_not_revoked;  // when the root CRL is usable
  std::optional<Fact> leaf_not_revoked;          // when the PCK CRL is usable
};

// Parses and checks everything of `c` that does not depend on a quote or a time.
std::shared_ptr<const CollateralFacts> PrepareCollateral(const Collateral& c,
                                                         const TrustedRoot& root, uint64_t id);

// Parses a PCK chain and checks its names and signatures against the trusted root.
std::shared_ptr<const PckChainFacts> PreparePckChain(std::string_view pem, const TrustedRoot& root,
                                                     uint64_t id);

// Checks a parsed chain (with certificates) against the collateral's CRLs.
std::shared_ptr<const PckRevocationFacts> PreparePckRevocation(const PckChainFacts& chain,
                                                               const CollateralFacts& collateral);

}  // namespace kmra::dcap::internal
