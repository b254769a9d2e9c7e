#include "crypto/x509.h"

#include <algorithm>

#include "base/base64.h"
#include "base/clock.h"
#include "base/hex.h"
#include "crypto/der.h"
#include "crypto/ec.h"
#include "crypto/ecdsa.h"
#include "crypto/hash.h"

namespace kmra::crypto {
namespace {

using Bytes = std::span<const uint8_t>;

constexpr uint8_t kInteger = 0x02, kBitString = 0x03, kOctetString = 0x04, kOid = 0x06,
                  kBoolean = 0x01, kSequence = 0x30, kSet = 0x31;
// [0] EXPLICIT version, [3] EXPLICIT extensions.
constexpr uint8_t kVersionTag = 0xa0, kExtensionsTag = 0xa3;
// AlgorithmIdentifier { ecdsa-with-SHA256 } with the parameters absent (RFC 5758).
constexpr uint8_t kEcdsaSha256[] = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86,
                                    0x48, 0xce, 0x3d, 0x04, 0x03, 0x02};
// AlgorithmIdentifier { id-ecPublicKey, prime256v1 }.
constexpr uint8_t kEcP256Alg[] = {0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
                                  0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
constexpr uint8_t kCommonName[] = {0x55, 0x04, 0x03};  // 2.5.4.3

bool Equal(Bytes a, Bytes b) { return std::equal(a.begin(), a.end(), b.begin(), b.end()); }

// The next TLV with `tag`: its whole encoding (tag and length included) and its value; advances
// `in`.
bool ReadWhole(Bytes& in, uint8_t tag, Bytes* whole, Bytes* value) {
  return der::PeekWhole(in, whole) && der::ReadTag(in, tag, value);
}

// A positive DER INTEGER's magnitude (minimal: no needless leading 0x00, no sign bit set).
bool PositiveInteger(Bytes v, Bytes* magnitude) {
  if (v.empty() || (v[0] & 0x80) != 0) return false;
  if (v.size() > 1 && v[0] == 0 && (v[1] & 0x80) == 0) return false;
  *magnitude = v.size() > 1 && v[0] == 0 ? v.subspan(1) : v;
  return true;
}

// An OID's content: non-empty, each sub-identifier minimal (no leading 0x80) and terminated.
bool ValidOid(Bytes oid) {
  if (oid.empty() || (oid.back() & 0x80) != 0) return false;
  bool start = true;
  for (uint8_t b : oid) {
    if (start && b == 0x80) return false;
    start = (b & 0x80) == 0;
  }
  return true;
}

// RFC 3629 UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
bool ValidUtf8(Bytes s) {
  for (size_t i = 0; i < s.size();) {
    const uint8_t b = s[i];
    const size_t n = b < 0x80             ? 1
                     : (b & 0xe0) == 0xc0 ? 2
                     : (b & 0xf0) == 0xe0 ? 3
                     : (b & 0xf8) == 0xf0 ? 4
                                          : 0;
    if (n == 0 || s.size() - i < n) return false;
    uint32_t cp = n == 1 ? b : b & (0xff >> (n + 1));
    for (size_t k = 1; k < n; ++k) {
      if ((s[i + k] & 0xc0) != 0x80) return false;
      cp = cp << 6 | (s[i + k] & 0x3f);
    }
    static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += n;
  }
  return true;
}

// The attribute value string types read: UTF8String (valid UTF-8), PrintableString, IA5String.
bool ValidNameString(const der::Tlv& v) {
  if (v.tag == 0x0c) return ValidUtf8(v.value);
  if (v.tag == 0x13 || v.tag == 0x16) {
    return std::all_of(v.value.begin(), v.value.end(), [](uint8_t c) { return c < 0x80; });
  }
  return false;
}

// A Name's first commonName (raw content bytes) after checking the RDNSequence structure.
bool ReadName(Bytes name_value, std::string* cn) {
  bool found = false;
  while (!name_value.empty()) {
    Bytes rdn;
    if (!der::ReadTag(name_value, kSet, &rdn) || rdn.empty()) return false;
    while (!rdn.empty()) {
      Bytes atv, oid;
      der::Tlv value;
      if (!der::ReadTag(rdn, kSequence, &atv) || !der::ReadTag(atv, kOid, &oid) ||
          !der::ReadTlv(atv, &value) || !atv.empty() || !ValidOid(oid) || !ValidNameString(value)) {
        return false;
      }
      if (!found && Equal(oid, kCommonName)) {
        cn->assign(reinterpret_cast<const char*>(value.value.data()), value.value.size());
        found = true;
      }
    }
  }
  return true;
}

bool ReadTime(Bytes& in, int64_t* out) {
  der::Tlv t;
  if (!der::ReadTlv(in, &t)) return false;
  auto unix = internal::DerTimeToUnix(t.tag, t.value);
  if (!unix) return false;
  *out = *unix;
  return true;
}

// ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER } -> r || s, 32 bytes each.
bool EcdsaSigToRaw(Bytes sig, std::array<uint8_t, 64>* raw) {
  Bytes seq, r, s;
  if (!der::ReadTag(sig, kSequence, &seq) || !sig.empty()) return false;
  if (!der::ReadTag(seq, kInteger, &r) || !der::ReadTag(seq, kInteger, &s) || !seq.empty()) {
    return false;
  }
  raw->fill(0);
  size_t at = 0;
  for (Bytes v : {r, s}) {
    Bytes m;
    if (!PositiveInteger(v, &m) || m.size() > 32) return false;
    std::copy(m.begin(), m.end(), raw->begin() + static_cast<std::ptrdiff_t>(at + 32 - m.size()));
    at += 32;
  }
  return true;
}

bool ReadExtensions(Bytes in, std::vector<CertExtension>* out) {
  Bytes list;
  if (!der::ReadTag(in, kSequence, &list) || !in.empty() || list.empty()) return false;
  while (!list.empty()) {
    Bytes ext, oid, value;
    if (!der::ReadTag(list, kSequence, &ext) || !der::ReadTag(ext, kOid, &oid) || !ValidOid(oid)) {
      return false;
    }
    CertExtension e;
    if (!ext.empty() && ext[0] == kBoolean) {
      Bytes b;
      // DER: the DEFAULT FALSE is never encoded, so an encoded value is TRUE (0xff).
      if (!der::ReadTag(ext, kBoolean, &b) || b.size() != 1 || b[0] != 0xff) return false;
      e.critical = true;
    }
    if (!der::ReadTag(ext, kOctetString, &value) || !ext.empty()) return false;
    for (const auto& seen : *out) {
      if (Equal(seen.oid, oid)) return false;  // RFC 5280: at most one instance of each
    }
    e.oid.assign(oid.begin(), oid.end());
    e.value.assign(value.begin(), value.end());
    out->push_back(std::move(e));
  }
  return true;
}

// What is wrong with `der` as a certificate of the supported profile, or "" with `c` filled in.
std::string Parse(Bytes der, Cert* c) {
  Bytes in = der, cert, tbs_whole, sig_alg, sig_bits;
  if (!der::ReadTag(in, kSequence, &cert)) return "no DER SEQUENCE";
  if (!in.empty()) return std::to_string(in.size()) + " trailing bytes";
  Bytes body;
  if (!ReadWhole(cert, kSequence, &tbs_whole, &body)) return "no TBSCertificate";
  if (!der::ReadTag(cert, kSequence, &sig_alg) || !der::ReadTag(cert, kBitString, &sig_bits) ||
      !cert.empty()) {
    return "the signature algorithm or value is malformed";
  }
  Bytes version, serial, alg, issuer, validity, subject, spki;
  Bytes v;
  if (!der::ReadTag(body, kVersionTag, &version) || !der::ReadTag(version, kInteger, &v) ||
      !version.empty() || v.size() != 1 || v[0] != 2) {
    return "not an X.509 v3 certificate";
  }
  if (!der::ReadTag(body, kInteger, &serial) || !PositiveInteger(serial, &serial)) {
    return "the serial number is not a positive DER INTEGER";
  }
  if (!der::PeekWhole(body, &alg) || !Equal(alg, kEcdsaSha256)) {
    return "the signature algorithm is not ecdsa-with-SHA256 (the only one supported)";
  }
  body = body.subspan(alg.size());
  Bytes issuer_value, subject_value;
  if (!ReadWhole(body, kSequence, &issuer, &issuer_value) ||
      !ReadName(issuer_value, &c->issuer_cn)) {
    return "the issuer name is malformed";
  }
  if (!der::ReadTag(body, kSequence, &validity) || !ReadTime(validity, &c->not_before) ||
      !ReadTime(validity, &c->not_after) || !validity.empty()) {
    return "the validity is not two UTCTime/GeneralizedTime values of the form RFC 5280 requires";
  }
  if (!ReadWhole(body, kSequence, &subject, &subject_value) ||
      !ReadName(subject_value, &c->subject_cn)) {
    return "the subject name is malformed";
  }
  Bytes spki_alg, point;
  if (!der::ReadTag(body, kSequence, &spki) || !der::PeekWhole(spki, &spki_alg) ||
      !Equal(spki_alg, kEcP256Alg)) {
    return "the public key is not an EC P-256 key (the only kind supported)";
  }
  spki = spki.subspan(spki_alg.size());
  if (!der::ReadTag(spki, kBitString, &point) || !spki.empty() || point.size() != 66 ||
      point[0] != 0 || point[1] != 0x04) {
    return "the public key is not an uncompressed P-256 point";
  }
  if (!body.empty()) {
    Bytes exts_value;
    if (!der::ReadTag(body, kExtensionsTag, &exts_value) || !body.empty()) {
      return "the fields after the public key are not one extensions list ([3])";
    }
    if (!ReadExtensions(exts_value, &c->extensions)) return "the extensions are malformed";
  }
  if (!Equal(sig_alg, Bytes(kEcdsaSha256).subspan(2))) {
    return "the outer signature algorithm is not ecdsa-with-SHA256 (the only one supported)";
  }
  if (sig_bits.empty() || sig_bits[0] != 0 || !EcdsaSigToRaw(sig_bits.subspan(1), &c->signature)) {
    return "the signature is not a DER ECDSA-Sig-Value of two P-256 integers";
  }
  auto key = EcPublicKeyFromPoint(EcCurve::kP256, point.subspan(1));
  if (!key) return "the public key is not a point on P-256";
  c->key = std::move(*key);
  std::copy(point.begin() + 1, point.end(), c->public_point.begin());
  c->der.assign(der.begin(), der.end());
  c->tbs.assign(tbs_whole.begin(), tbs_whole.end());
  c->serial.assign(serial.begin(), serial.end());
  c->serial_hex = HexEncode(serial);
  c->issuer_name.assign(issuer.begin(), issuer.end());
  c->subject_name.assign(subject.begin(), subject.end());
  return "";
}

}  // namespace

namespace internal {

std::optional<int64_t> DerTimeToUnix(uint8_t tag, std::span<const uint8_t> v) {
  const size_t year_digits = tag == 0x17 ? 2 : tag == 0x18 ? 4 : 0;
  if (year_digits == 0 || v.size() != year_digits + 11 || v.back() != 'Z') return std::nullopt;
  int64_t n[6] = {};
  size_t at = 0;
  for (int field = 0; field < 6; ++field) {
    const size_t width = field == 0 ? year_digits : 2;
    for (size_t i = 0; i < width; ++i, ++at) {
      if (v[at] < '0' || v[at] > '9') return std::nullopt;
      n[field] = n[field] * 10 + (v[at] - '0');
    }
  }
  int64_t year = n[0];
  if (tag == 0x17) year += year >= 50 ? 1900 : 2000;  // RFC 5280 4.1.2.5.1
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (n[1] < 1 || n[1] > 12 || n[2] < 1 || n[2] > kDays[n[1] - 1] ||
      (n[1] == 2 && n[2] == 29 && !leap) || n[3] > 23 || n[4] > 59 || n[5] > 59) {
    return std::nullopt;
  }
  return DaysFromCivil(year, static_cast<unsigned>(n[1]), static_cast<unsigned>(n[2])) * 86400 +
         n[3] * 3600 + n[4] * 60 + n[5];
}

}  // namespace internal

const CertExtension* Cert::Extension(std::span<const uint8_t> oid) const {
  for (const auto& e : extensions) {
    if (Equal(e.oid, oid)) return &e;
  }
  return nullptr;
}

Result<Cert> ParseDerCert(std::span<const uint8_t> der, std::string_view what) {
  Cert c;
  const std::string problem = Parse(der, &c);
  if (!problem.empty()) {
    return InvalidArgument(std::string(what) + " is not a DER certificate: " + problem);
  }
  return c;
}

Result<std::vector<Cert>> ParsePemChain(std::string_view pem, std::string_view what,
                                        const Cert* known) {
  static constexpr std::string_view kBegin = "-----BEGIN CERTIFICATE-----";
  static constexpr std::string_view kEnd = "-----END CERTIFICATE-----";
  std::vector<Cert> out;
  size_t pos = 0;
  while ((pos = pem.find(kBegin, pos)) != std::string_view::npos) {
    const size_t body = pos + kBegin.size();
    const size_t end = pem.find(kEnd, body);
    const std::string n = std::to_string(out.size() + 1);
    if (end == std::string_view::npos) {
      return InvalidArgument(std::string(what) + ": certificate " + n + " has no END line");
    }
    std::string b64;
    b64.reserve(end - body);
    for (char ch : pem.substr(body, end - body)) {
      if (ch != '\n' && ch != '\r' && ch != ' ' && ch != '\t') b64 += ch;
    }
    auto der = Base64Decode(b64);
    if (!der) {
      return InvalidArgument(std::string(what) + ": certificate " + n +
                             " is not valid base64: " + der.error().message());
    }
    if (known != nullptr && *der == known->der) {
      out.push_back(*known);
    } else {
      KMRA_ASSIGN_OR_RETURN(Cert c, ParseDerCert(*der, std::string(what) + ": certificate " + n));
      out.push_back(std::move(c));
    }
    pos = end + kEnd.size();
  }
  if (out.empty()) return InvalidArgument(std::string(what) + " holds no PEM certificate");
  return out;
}

bool SignedBy(const Cert& cert, const PublicKey& issuer_key) {
  return EcdsaVerifyRaw(issuer_key, HashAlg::kSha256, cert.tbs, cert.signature).has_value();
}

std::string Sha256Fingerprint(const Cert& cert) {
  const std::string hex = HexEncodeUpper(Sha256(cert.der));
  std::string out;
  for (size_t i = 0; i < hex.size(); i += 2) {
    if (i != 0) out += ':';
    out.append(hex, i, 2);
  }
  return out;
}

std::string DescribeCert(const Cert& cert) {
  return "\"" + cert.subject_cn + "\" (serial " + cert.serial_hex + ", SHA-256 " +
         Sha256Fingerprint(cert) + ", valid " + FormatRfc3339(cert.not_before) + " .. " +
         FormatRfc3339(cert.not_after) + ")";
}

std::string RootFirstProblem(const std::vector<Cert>& chain, std::string_view what) {
  if (chain.size() < 2) return "";
  for (size_t i = 0; i + 1 < chain.size(); ++i) {
    if (IssuedBy(chain[i], chain[i + 1]) || !IssuedBy(chain[i + 1], chain[i])) return "";
  }
  return std::string(what) + " is given root first (certificate 1 is \"" + chain[0].subject_cn +
         "\", the issuer of certificate 2 \"" + chain[1].subject_cn +
         "\"); give it leaf first, each certificate followed by its issuer and the root last, as "
         "Intel's PCS and the quote's certification data do";
}

}  // namespace kmra::crypto
