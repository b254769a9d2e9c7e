#include "crypto/crl.h"

#include <openssl/x509v3.h>

#include <ctime>

#include "base/clock.h"

namespace kmra::crypto {
namespace {

// Unix seconds of an ASN1_TIME; 0 when unreadable.
int64_t ToUnix(const ASN1_TIME* t) {
  struct tm tm {};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return DaysFromCivil(tm.tm_year + 1900, static_cast<unsigned>(tm.tm_mon + 1),
                       static_cast<unsigned>(tm.tm_mday)) *
             86400 +
         int64_t{tm.tm_hour} * 3600 + int64_t{tm.tm_min} * 60 + tm.tm_sec;
}

// The commonName of a name, or "".
std::string CommonName(const X509_NAME* name) {
  if (name == nullptr) return "";
  const int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (idx < 0) return "";
  const ASN1_STRING* s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<size_t>(ASN1_STRING_length(s)));
}

}  // namespace

Result<Crl> ParseCrl(std::span<const uint8_t> der, std::string_view what) {
  const unsigned char* p = der.data();
  Crl c;
  c.crl.reset(d2i_X509_CRL(nullptr, &p, static_cast<long>(der.size())));
  if (!c.crl || p != der.data() + der.size()) {
    return ossl::Fail(Code::kInvalidArgument, std::string(what) + " is not a DER CRL");
  }
  const X509_NAME* issuer = X509_CRL_get_issuer(c.crl.get());
  const unsigned char* name_der = nullptr;
  size_t name_len = 0;
  if (X509_NAME_get0_der(issuer, &name_der, &name_len) != 1) {
    return ossl::Fail(Code::kInvalidArgument, std::string(what) + " has no readable issuer");
  }
  c.issuer_name.assign(name_der, name_der + name_len);
  c.issuer_cn = CommonName(issuer);
  c.this_update = ToUnix(X509_CRL_get0_lastUpdate(c.crl.get()));
  c.next_update = ToUnix(X509_CRL_get0_nextUpdate(c.crl.get()));
  return c;
}

std::string CrlProfileProblem(const Crl& crl) {
  std::string problems;
  auto note = [&problems](const std::string& problem) {
    problems += (problems.empty() ? "the CRL " : "; it ") + problem;
  };
  auto absent = [](int crit, const char* name) {
    return crit == -1   ? std::string("has no ") + name + " extension"
           : crit == -2 ? std::string("has more than one ") + name + " extension"
                        : std::string("has a ") + name + " extension that does not decode";
  };
  int crit = 0;
  auto* number = static_cast<ASN1_INTEGER*>(
      X509_CRL_get_ext_d2i(crl.crl.get(), NID_crl_number, &crit, nullptr));
  if (number == nullptr) note(absent(crit, "CRL Number"));
  ASN1_INTEGER_free(number);
  auto* aki = static_cast<AUTHORITY_KEYID*>(
      X509_CRL_get_ext_d2i(crl.crl.get(), NID_authority_key_identifier, &crit, nullptr));
  if (aki == nullptr) {
    note(absent(crit, "Authority Key Identifier"));
  } else if (aki->keyid == nullptr) {
    note("has an Authority Key Identifier extension without a key identifier");
  }
  AUTHORITY_KEYID_free(aki);
  ERR_clear_error();
  if (problems.empty()) return problems;
  return problems + " (Intel's CRL profile requires CRL Number and Authority Key Identifier)";
}

bool CrlSignedBy(const Crl& crl, const PublicKey& issuer_key) {
  const bool ok = X509_CRL_verify(crl.crl.get(), issuer_key.get()) == 1;
  ERR_clear_error();
  return ok;
}

bool Revoked(const Crl& crl, const Cert& cert) {
  ossl::Ptr<ASN1_INTEGER> serial(ASN1_INTEGER_new());
  if (!serial || ASN1_STRING_set(serial.get(), cert.serial.data(),
                                 static_cast<int>(cert.serial.size())) != 1) {
    ERR_clear_error();
    return true;  // cannot tell: fail closed
  }
  X509_REVOKED* entry = nullptr;
  return X509_CRL_get0_by_serial(crl.crl.get(), &entry, serial.get()) == 1;
}

}  // namespace kmra::crypto
