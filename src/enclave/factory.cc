#include "enclave/factory.h"

#include <openssl/evp.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "crypto/ossl.h"
#include "enclave/gramine_platform.h"
#include "enclave/sim_platform.h"

namespace kmra::enclave {

Result<std::array<std::uint8_t, 32>> MeasureFile(const std::string& path) {
  // Streamed: token modules are megabytes and this may run inside NGINX's master process.
  std::FILE* f = std::fopen(path.c_str(), "rbe");
  if (f == nullptr) {
    return NotFound("cannot open " + path + " to measure it as MRENCLAVE: " + std::strerror(errno));
  }
  auto ctx = ossl::Wrap(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) {
    (void)std::fclose(f);  // opened for reading: closing cannot lose data
    return ossl::Fail(Code::kInternal, "cannot start SHA-256");
  }
  unsigned char buf[65536];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) EVP_DigestUpdate(ctx.get(), buf, n);
  const bool failed = std::ferror(f) != 0;
  (void)std::fclose(f);  // opened for reading: closing cannot lose data
  if (failed) return Unavailable("error while reading " + path + " to measure it");
  std::array<std::uint8_t, 32> out{};
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx.get(), out.data(), &len) != 1 || len != 32) {
    return ossl::Fail(Code::kInternal, "SHA-256 failed");
  }
  return out;
}

Result<std::unique_ptr<Platform>> OpenPlatform(const PlatformConfig& config) {
  if (config.kind == "sim") {
    SimOptions o;
    o.platform_dir = config.platform_dir;
    const std::string measured = config.mrenclave_of.empty() ? "/proc/self/exe" : config.mrenclave_of;
    KMRA_ASSIGN_OR_RETURN(o.mrenclave, MeasureFile(measured));
    o.isv_prod_id = config.isv_prod_id;
    o.isv_svn = config.isv_svn;
    o.debug = config.debug;
    KMRA_ASSIGN_OR_RETURN(auto p, SimPlatform::Open(o));
    return std::unique_ptr<Platform>(std::move(p));
  }
  if (config.kind == "gramine") {
    KMRA_ASSIGN_OR_RETURN(auto p, GraminePlatform::Open(config.attestation_dir));
    return std::unique_ptr<Platform>(std::move(p));
  }
  return InvalidArgument("unknown platform kind \"" + config.kind +
                         "\"; expected \"sim\" (simulated SGX) or \"gramine\" (Gramine-SGX)");
}

}  // namespace kmra::enclave
