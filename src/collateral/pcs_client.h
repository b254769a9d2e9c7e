// Collateral from Intel's PCS or a PCCS over HTTPS (API v4, or v3 for SGX):
//   GET <base>/{sgx|tdx}/certification/v4/tcb?fmspc=F      body TCB info, TCB-Info-Issuer-Chain
//                                                          (v3: SGX-TCB-Info-Issuer-Chain)
//   GET <base>/{sgx|tdx}/certification/v4/qe/identity      body QE identity,
//                                                          SGX-Enclave-Identity-Issuer-Chain
//   GET <base>/sgx/certification/v4/pckcrl?ca=C&encoding=der   CRL (DER; PCCS may send hex text),
//                                                          SGX-PCK-CRL-Issuer-Chain
//   GET <base>/sgx/certification/v4/rootcacrl              PCCS: hex of the Root CA CRL; when it
//                                                          is 404 (Intel PCS), root_ca_crl_url
// Issuer chains arrive percent-encoded and are decoded. Base URLs are tried in order: the first
// that delivers all four documents wins; errors of every URL are reported when none does.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "collateral/internal/http.h"
#include "collateral/source.h"

namespace kmra::collateral {

inline constexpr char kIntelRootCaCrlUrl[] =
    "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der";

struct PcsOptions {
  // e.g. "https://pccs.example:8081" or "https://api.trustedservices.intel.com"; no trailing path.
  std::vector<std::string> base_urls;
  int api_version = 4;             // 4 or 3 (v3 has no TDX paths)
  long timeout_ms = 10000;         // per request
  long connect_timeout_ms = 3000;
  std::string ca_file;             // PEM bundle for the server certificate; empty: system store
  bool verify_tls = true;
  std::string api_key;             // sent as Ocp-Apim-Subscription-Key when set
  std::string root_ca_crl_url = kIntelRootCaCrlUrl;
};

class PcsClient final : public CollateralSource {
 public:
  // InvalidArgument for no URLs or an API version other than 3 or 4.
  static Result<std::unique_ptr<PcsClient>> Create(PcsOptions options);

  using CollateralSource::Get;
  // NotFound when every server answered 404 for the FMSPC; Unavailable (with each URL's reason)
  // when none could deliver; DataLoss for malformed documents (truncated JSON, bad CRL, bad chain
  // header).
  Result<dcap::Collateral> Get(const CollateralKey& key) override;
  std::string Describe() const override;

 private:
  explicit PcsClient(PcsOptions options) : options_(std::move(options)) {}
  Result<dcap::Collateral> FetchFrom(const std::string& base, const CollateralKey& key);
  Result<internal::HttpResponse> Fetch(const std::string& url, bool allow_404 = false);

  PcsOptions options_;
  internal::HttpOptions http_;
};

}  // namespace kmra::collateral
