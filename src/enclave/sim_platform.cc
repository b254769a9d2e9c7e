#include "enclave/sim_platform.h"

#include <openssl/core_names.h>
#include <openssl/pem.h>

#include <algorithm>
#include <filesystem>

#include "base/file.h"
#include "crypto/hash.h"
#include "crypto/hkdf.h"

namespace kmra::enclave {

namespace {

constexpr std::string_view kSealingSaltText = "OpenKMRA sim sealing v1";
const std::span<const uint8_t> kSealingSalt(
    reinterpret_cast<const uint8_t*>(kSealingSaltText.data()), kSealingSaltText.size());

Result<ossl::Ptr<EVP_PKEY>> LoadPrivateKey(const std::filesystem::path& path) {
  KMRA_ASSIGN_OR_RETURN(auto pem, ReadFileSecret(path));
  auto bio = ossl::Wrap(BIO_new_mem_buf(pem.Reveal().data(), static_cast<int>(pem.size())));
  auto key = ossl::Wrap(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) return ossl::Fail(Code::kInvalidArgument, path.string() + " holds no PEM private key");
  return key;
}

}  // namespace

Result<std::array<std::uint8_t, 32>> MrSignerOf(EVP_PKEY* signer) {
  BIGNUM* n = nullptr;
  if (EVP_PKEY_get_base_id(signer) != EVP_PKEY_RSA ||
      EVP_PKEY_get_bn_param(signer, OSSL_PKEY_PARAM_RSA_N, &n) != 1) {
    ERR_clear_error();
    return InvalidArgument("the enclave signer key is not an RSA key (SGX signs with RSA-3072)");
  }
  auto modulus = ossl::Wrap(n);
  std::vector<std::uint8_t> le(static_cast<std::size_t>(BN_num_bytes(modulus.get())));
  if (BN_bn2lebinpad(modulus.get(), le.data(), static_cast<int>(le.size())) < 0) {
    return ossl::Fail(Code::kInternal, "cannot serialise the signer modulus");
  }
  return crypto::Sha256(le);
}

Result<std::unique_ptr<SimPlatform>> SimPlatform::Open(const SimOptions& options) {
  namespace fs = std::filesystem;
  const fs::path dir(options.platform_dir);
  std::error_code ec;
  if (options.platform_dir.empty() || !fs::is_directory(dir, ec)) {
    return NotFound("simulated platform directory '" + options.platform_dir +
                    "' does not exist; make one with `kmra pki init --dir DIR` and use "
                    "DIR/sgx/platform-1");
  }
  std::unique_ptr<SimPlatform> p(new SimPlatform());
  KMRA_ASSIGN_OR_RETURN(auto config_text, ReadFileText(dir / kSimPlatformConfigFile));
  KMRA_ASSIGN_OR_RETURN(p->info_, SimPlatformInfo::FromJson(config_text));
  KMRA_ASSIGN_OR_RETURN(p->attestation_key_, LoadPrivateKey(dir / kSimAttestationKeyFile));
  KMRA_ASSIGN_OR_RETURN(auto pck_key, LoadPrivateKey(dir / kSimPckKeyFile));
  KMRA_ASSIGN_OR_RETURN(auto signer_key, LoadPrivateKey(dir / kSimSignerKeyFile));
  KMRA_ASSIGN_OR_RETURN(auto chain, ReadFileText(dir / kSimPckChainFile));
  KMRA_ASSIGN_OR_RETURN(p->sealing_secret_, ReadFileSecret(dir / kSimSealingSecretFile));
  if (p->sealing_secret_.size() != 32) {
    return InvalidArgument((dir / kSimSealingSecretFile).string() + " must hold 32 bytes, not " +
                           std::to_string(p->sealing_secret_.size()));
  }

  const SimPlatformInfo& info = p->info_;
  // The QE report as Intel's QE makes it: INIT|MODE64BIT|PROVISIONKEY, the QE identity values.
  ReportBody qe;
  qe.cpu_svn = info.tcb_components;
  qe.attribute_flags = kAttrInit | kAttrMode64 | kAttrProvisionKey;
  qe.xfrm = kDefaultXfrm;
  qe.mr_enclave = info.qe_mrenclave;
  qe.mr_signer = info.qe_mrsigner;
  qe.isv_prod_id = info.qe_isv_prod_id;
  qe.isv_svn = info.qe_isv_svn;
  auto auth = DefaultQeAuthData();
  auto signed_qe = SignQeReport(qe, p->attestation_key_.get(), pck_key.get(), auth, chain);
  if (!signed_qe) return tl::unexpected(signed_qe.error().WithContext(options.platform_dir));
  p->qe_ = std::move(*signed_qe);

  p->header_.qe_svn = info.qe_isv_svn;
  p->header_.pce_svn = info.pce_svn;
  std::copy(info.qe_id.begin(), info.qe_id.end(), p->header_.user_data.begin());

  KMRA_ASSIGN_OR_RETURN(auto mrsigner, MrSignerOf(signer_key.get()));
  ReportBody& isv = p->isv_template_;
  isv.cpu_svn = info.tcb_components;
  isv.attribute_flags = kAttrInit | kAttrMode64 | (options.debug ? kAttrDebug : 0);
  isv.xfrm = kDefaultXfrm;
  isv.mr_enclave = options.mrenclave;
  isv.mr_signer = mrsigner;
  isv.isv_prod_id = options.isv_prod_id;
  isv.isv_svn = options.isv_svn;

  p->identity_.kind = "sim";
  p->identity_.mrenclave = options.mrenclave;
  p->identity_.mrsigner = mrsigner;
  p->identity_.isv_prod_id = options.isv_prod_id;
  p->identity_.isv_svn = options.isv_svn;
  p->identity_.debug = options.debug;
  return p;
}

Result<std::vector<std::uint8_t>> SimPlatform::Quote(
    std::span<const std::uint8_t, 64> report_data) {
  ReportBody isv = isv_template_;
  std::copy(report_data.begin(), report_data.end(), isv.report_data.begin());
  return BuildQuoteV3(header_, isv, attestation_key_.get(), qe_);
}

Result<SecretBytes> SimPlatform::SealingKey() {
  return crypto::Hkdf(crypto::HashAlg::kSha256, sealing_secret_.Reveal(), kSealingSalt,
                      identity_.mrenclave, 32);
}

}  // namespace kmra::enclave
