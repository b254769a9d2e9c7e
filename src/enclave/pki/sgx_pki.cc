#include "enclave/pki/sgx_pki.h"

#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <algorithm>
#include <cctype>

#include "base/file.h"
#include "enclave/pki/out_dir.h"
#include "base/hex.h"
#include "crypto/hash.h"
#include "crypto/random.h"
#include "enclave/internal/p256.h"
#include "enclave/pki/der.h"
#include "enclave/pki/sim_collateral.h"
#include "enclave/pki/x509_builder.h"
#include "enclave/sim_layout.h"

namespace kmra::enclave::pki {

namespace fs = std::filesystem;

namespace {

constexpr int64_t kDay = 86400;
constexpr int64_t kYear = 365 * kDay;
constexpr char kSgxOid[] = "1.2.840.113741.1.13.1";
constexpr char kRootCrlUrl[] = "https://pki.openkmra.invalid/sgx/SimulatedSGXRootCA.der";
constexpr char kPckCrlUrl[] =
    "https://pki.openkmra.invalid/sgx/certification/v4/pckcrl?ca=platform&encoding=der";

Name SimName(const std::string& cn) {
  return {{"CN", cn}, {"O", "OpenKMRA Simulation"}, {"L", "Santa Clara"}, {"ST", "CA"}, {"C", "US"}};
}

template <std::size_t N>
Result<std::array<std::uint8_t, N>> RandomArray() {
  std::array<std::uint8_t, N> a{};
  KMRA_TRY(crypto::RandomBytes(a));
  return a;
}

// The SGX extension exactly as in Intel's Platform-CA PCK certificates (DCAP.md section 7):
// PPID, TCB (16 component SVNs, PCESVN, CPUSVN), PCE-ID, FMSPC, SGX type, platform instance ID and
// configuration.
der::Bytes SgxExtension(const SimPlatformInfo& info,
                        const std::array<std::uint8_t, 16>& platform_instance) {
  const std::string base = kSgxOid;
  std::vector<der::Bytes> tcb;
  for (int i = 1; i <= 16; ++i) {
    tcb.push_back(der::Sequence({der::Oid(base + ".2." + std::to_string(i)),
                                 der::Integer(info.tcb_components[i - 1])}));
  }
  tcb.push_back(der::Sequence({der::Oid(base + ".2.17"), der::Integer(info.pce_svn)}));
  tcb.push_back(der::Sequence({der::Oid(base + ".2.18"), der::OctetString(info.tcb_components)}));
  return der::Sequence({
      der::Sequence({der::Oid(base + ".1"), der::OctetString(info.ppid)}),
      der::Sequence({der::Oid(base + ".2"), der::SequenceOf(tcb)}),
      der::Sequence({der::Oid(base + ".3"), der::OctetString(info.pce_id)}),
      der::Sequence({der::Oid(base + ".4"), der::OctetString(info.fmspc)}),
      der::Sequence({der::Oid(base + ".5"), der::Enumerated(1)}),  // Scalable
      der::Sequence({der::Oid(base + ".6"), der::OctetString(platform_instance)}),
      der::Sequence({der::Oid(base + ".7"),
                     der::Sequence({
                         der::Sequence({der::Oid(base + ".7.1"), der::Boolean(true)}),
                         der::Sequence({der::Oid(base + ".7.2"), der::Boolean(true)}),
                         der::Sequence({der::Oid(base + ".7.3"), der::Boolean(true)}),
                     })}),
  });
}

Result<ossl::Ptr<EVP_PKEY>> GenerateSigner() {
  // SGX enclave signing keys are RSA-3072 with public exponent 3 (SIGSTRUCT).
  auto ctx = ossl::Wrap(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  auto e = ossl::Wrap(BN_new());
  EVP_PKEY* key = nullptr;
  if (!ctx || !e || BN_set_word(e.get(), 3) != 1 || EVP_PKEY_keygen_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), 3072) != 1 ||
      EVP_PKEY_CTX_set1_rsa_keygen_pubexp(ctx.get(), e.get()) != 1 ||
      EVP_PKEY_keygen(ctx.get(), &key) != 1) {
    return ossl::Fail(Code::kInternal, "cannot generate the RSA-3072 enclave signer key");
  }
  return ossl::Wrap(key);
}

Status WriteSecret(const fs::path& path, const SecretBytes& data) {
  return WriteNewFile(path, data.Reveal(), 0600);
}

Status WriteText(const fs::path& path, std::string_view text, mode_t mode = 0644) {
  return WriteNewFile(path, text, mode);
}

}  // namespace

Result<TcbProfile> ParseTcbProfile(std::string_view text) {
  std::string t;
  for (char c : text) t.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  if (t == "uptodate") return TcbProfile::kUpToDate;
  if (t == "swhardening" || t == "swhardeningneeded") return TcbProfile::kSwHardeningNeeded;
  if (t == "outofdate") return TcbProfile::kOutOfDate;
  if (t == "revoked") return TcbProfile::kRevoked;
  return InvalidArgument("unknown TCB profile \"" + std::string(text) +
                         "\"; expected uptodate, swhardening, outofdate or revoked");
}

Status WriteSgxPki(const fs::path& dir, const SgxPkiOptions& options) {
  if (options.platforms.empty()) return InvalidArgument("at least one simulated platform is needed");
  const int64_t now = options.now;
  const int64_t cert_start = now - kDay;

  KMRA_ASSIGN_OR_RETURN(auto root_key, internal::GenerateP256());
  KMRA_ASSIGN_OR_RETURN(auto pca_key, internal::GenerateP256());
  KMRA_ASSIGN_OR_RETURN(auto tcb_key, internal::GenerateP256());

  CertSpec root_spec;
  root_spec.subject = SimName("OpenKMRA Simulated SGX Root CA");
  root_spec.subject_key = root_key.get();
  root_spec.issuer_key = root_key.get();
  root_spec.not_before = cert_start;
  root_spec.not_after = now + 25 * kYear;
  root_spec.ca = true;
  root_spec.path_len = 1;
  root_spec.key_usage = "keyCertSign,cRLSign";
  root_spec.crl_distribution_point = kRootCrlUrl;
  KMRA_ASSIGN_OR_RETURN(auto root, IssueCertificate(root_spec));

  CertSpec pca_spec = root_spec;
  pca_spec.subject = SimName("OpenKMRA Simulated SGX PCK Platform CA");
  pca_spec.subject_key = pca_key.get();
  pca_spec.issuer = root.get();
  pca_spec.not_after = now + 15 * kYear;
  pca_spec.path_len = 0;
  KMRA_ASSIGN_OR_RETURN(auto pca, IssueCertificate(pca_spec));

  CertSpec tcb_spec = root_spec;
  tcb_spec.subject = SimName("OpenKMRA Simulated SGX TCB Signing");
  tcb_spec.subject_key = tcb_key.get();
  tcb_spec.issuer = root.get();
  tcb_spec.not_after = now + 7 * kYear;
  tcb_spec.ca = false;
  tcb_spec.path_len = -1;
  tcb_spec.key_usage = "digitalSignature,nonRepudiation";
  KMRA_ASSIGN_OR_RETURN(auto tcb_cert, IssueCertificate(tcb_spec));

  KMRA_ASSIGN_OR_RETURN(auto signer, GenerateSigner());
  const SecretBytes signer_pem = PrivateKeyPem(signer.get());

  const fs::path sgx = dir / "sgx";
  KMRA_TRY(CreateDirectories(sgx / "private", 0700));
  const std::string root_pem = CertPem(root.get());
  const std::string pca_pem = CertPem(pca.get());
  const std::string tcb_pem = CertPem(tcb_cert.get());
  KMRA_TRY(WriteText(sgx / "root.pem", root_pem));
  KMRA_TRY(WriteText(sgx / "pck_platform_ca.pem", pca_pem));
  KMRA_TRY(WriteText(sgx / "tcb_signing.pem", tcb_pem));
  KMRA_TRY(WriteSecret(sgx / "private" / "root_key.pem", PrivateKeyPem(root_key.get())));
  KMRA_TRY(WriteSecret(sgx / "private" / "pck_platform_ca_key.pem", PrivateKeyPem(pca_key.get())));
  KMRA_TRY(WriteSecret(sgx / "private" / "tcb_signing_key.pem", PrivateKeyPem(tcb_key.get())));
  KMRA_TRY(WriteSecret(sgx / "signer_key.pem", signer_pem));

  KMRA_ASSIGN_OR_RETURN(auto fmspc_bytes, HexDecode(kSimFmspc));
  std::vector<ossl::Ptr<X509>> revoked_certs;
  for (std::size_t i = 0; i < options.platforms.size(); ++i) {
    const SimPlatformSpec& spec = options.platforms[i];
    SimPlatformInfo info;
    std::copy(fmspc_bytes.begin(), fmspc_bytes.end(), info.fmspc.begin());
    KMRA_ASSIGN_OR_RETURN(info.ppid, RandomArray<16>());
    KMRA_ASSIGN_OR_RETURN(info.qe_id, RandomArray<16>());
    const TcbLevelSpec& level = LevelFor(spec.tcb);
    info.tcb_components = level.components;
    info.pce_svn = level.pce_svn;
    info.qe_mrenclave = crypto::Sha256(std::string_view("OpenKMRA simulated Quoting Enclave"));
    info.qe_mrsigner = SimQeMrSigner();
    info.qe_isv_prod_id = 1;
    info.qe_isv_svn = kSimQeIsvSvn;
    KMRA_ASSIGN_OR_RETURN(auto instance, RandomArray<16>());

    KMRA_ASSIGN_OR_RETURN(auto attestation_key, internal::GenerateP256());
    KMRA_ASSIGN_OR_RETURN(auto pck_key, internal::GenerateP256());
    CertSpec pck_spec;
    pck_spec.subject = SimName("OpenKMRA Simulated SGX PCK Certificate");
    pck_spec.subject_key = pck_key.get();
    pck_spec.issuer = pca.get();
    pck_spec.issuer_key = pca_key.get();
    pck_spec.not_before = cert_start;
    pck_spec.not_after = now + 7 * kYear;
    pck_spec.key_usage = "digitalSignature,nonRepudiation";
    pck_spec.crl_distribution_point = kPckCrlUrl;
    pck_spec.sgx_extension = SgxExtension(info, instance);
    KMRA_ASSIGN_OR_RETURN(auto pck, IssueCertificate(pck_spec));

    KMRA_ASSIGN_OR_RETURN(auto sealing, crypto::RandomBytes(32));
    const fs::path pdir = sgx / ("platform-" + std::to_string(i + 1));
    KMRA_TRY(CreateDirectories(pdir, 0700));
    KMRA_TRY(WriteText(pdir / kSimPlatformConfigFile, info.ToJson()));
    KMRA_TRY(WriteSecret(pdir / kSimAttestationKeyFile, PrivateKeyPem(attestation_key.get())));
    KMRA_TRY(WriteSecret(pdir / kSimPckKeyFile, PrivateKeyPem(pck_key.get())));
    KMRA_TRY(
        WriteText(pdir / kSimPckChainFile, CertPem(pck.get()).append(pca_pem).append(root_pem)));
    KMRA_TRY(WriteSecret(pdir / kSimSignerKeyFile, signer_pem));
    KMRA_TRY(WriteSecret(pdir / kSimSealingSecretFile, SecretBytes(sealing)));
    SecureWipe(sealing.data(), sealing.size());
    if (spec.revoked_pck) revoked_certs.push_back(std::move(pck));
  }

  SimCollateralInput in;
  in.now = now;
  in.expired = options.expired_collateral;
  in.root = root.get();
  in.root_key = root_key.get();
  in.pck_ca = pca.get();
  in.pck_ca_key = pca_key.get();
  in.tcb_signing = tcb_cert.get();
  in.tcb_signing_key = tcb_key.get();
  for (const auto& c : revoked_certs) in.revoked_pcks.push_back(c.get());
  return WriteSimCollateral(dir / "collateral" / kSimFmspc, in);
}

}  // namespace kmra::enclave::pki
