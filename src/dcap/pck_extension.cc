#include "dcap/pck_extension.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "crypto/der.h"

namespace kmra::dcap {
namespace {

using crypto::der::DerUint;
using crypto::der::ReadTlv;
using crypto::der::Tlv;

constexpr uint8_t kTagBoolean = 0x01;
constexpr uint8_t kTagInteger = 0x02;
constexpr uint8_t kTagOctetString = 0x04;
constexpr uint8_t kTagOid = 0x06;
constexpr uint8_t kTagEnumerated = 0x0a;
constexpr uint8_t kTagSequence = 0x30;

// Content bytes of OID 1.2.840.113741.1.13.1.
constexpr uint8_t kSgxOid[] = {0x2a, 0x86, 0x48, 0x86, 0xf8, 0x4d, 0x01, 0x0d, 0x01};
constexpr size_t kSgxOidLen = sizeof(kSgxOid);

// If `oid` is the SGX OID followed by exactly `suffix.size()` small arcs, stores them.
bool SubArcs(std::span<const uint8_t> oid, std::span<uint8_t> suffix) {
  if (oid.size() != kSgxOidLen + suffix.size()) return false;
  if (std::memcmp(oid.data(), kSgxOid, kSgxOidLen) != 0) return false;
  for (size_t i = 0; i < suffix.size(); ++i) {
    if (oid[kSgxOidLen + i] & 0x80) return false;
    suffix[i] = oid[kSgxOidLen + i];
  }
  return true;
}

// Reads SEQUENCE { OID, value } from `in`.
bool ReadPair(std::span<const uint8_t>& in, Tlv* oid, Tlv* value) {
  Tlv seq;
  if (!ReadTlv(in, &seq) || seq.tag != kTagSequence) return false;
  std::span<const uint8_t> body = seq.value;
  if (!ReadTlv(body, oid) || oid->tag != kTagOid) return false;
  if (!ReadTlv(body, value)) return false;
  return body.empty();
}

tl::unexpected<Error> Bad(const std::string& what) {
  return InvalidArgument("PCK certificate SGX extension: " + what);
}

template <size_t N>
bool Octets(const Tlv& v, std::array<uint8_t, N>* out) {
  if (v.tag != kTagOctetString || v.value.size() != N) return false;
  std::memcpy(out->data(), v.value.data(), N);
  return true;
}

Status ParseTcb(std::span<const uint8_t> in, PckExtension* ext) {
  uint32_t seen = 0;
  while (!in.empty()) {
    Tlv oid, value;
    uint8_t arcs[2];
    if (!ReadPair(in, &oid, &value) || !SubArcs(oid.value, arcs) || arcs[0] != 2) {
      return Bad("TCB element is not SEQUENCE { 1.2.840.113741.1.13.1.2.N, value }");
    }
    const uint8_t n = arcs[1];
    if (n < 1 || n > 18) return Bad("unknown TCB element .2." + std::to_string(n));
    if (seen & (1u << n)) return Bad("TCB element .2." + std::to_string(n) + " appears twice");
    seen |= 1u << n;
    if (n == 18) {
      if (!Octets(value, &ext->cpu_svn)) return Bad("CPUSVN is not a 16-byte OCTET STRING");
      continue;
    }
    uint32_t v = 0;
    if (value.tag != kTagInteger || !DerUint(value.value, &v)) {
      return Bad("TCB element .2." + std::to_string(n) + " is not a non-negative INTEGER");
    }
    if (n == 17) {
      if (v > 0xffff) return Bad("PCESVN " + std::to_string(v) + " exceeds 65535");
      ext->pce_svn = static_cast<uint16_t>(v);
    } else {
      if (v > 0xff) return Bad("TCB component " + std::to_string(n) + " SVN exceeds 255");
      ext->tcb_components[n - 1] = static_cast<uint8_t>(v);
    }
  }
  if (seen != 0x7fffeu) return Bad("TCB does not carry all 16 component SVNs, PCESVN and CPUSVN");
  return OkStatus();
}

Status ParseConfiguration(std::span<const uint8_t> in, PckConfiguration* cfg) {
  while (!in.empty()) {
    Tlv oid, value;
    uint8_t arcs[2];
    if (!ReadPair(in, &oid, &value) || !SubArcs(oid.value, arcs) || arcs[0] != 7) {
      return Bad("configuration element is not SEQUENCE { 1.2.840.113741.1.13.1.7.N, BOOLEAN }");
    }
    if (value.tag != kTagBoolean || value.value.size() != 1) {
      return Bad("configuration element .7." + std::to_string(arcs[1]) + " is not a BOOLEAN");
    }
    const bool b = value.value[0] != 0;
    if (arcs[1] == 1) cfg->dynamic_platform = b;
    if (arcs[1] == 2) cfg->cached_keys = b;
    if (arcs[1] == 3) cfg->smt_enabled = b;
  }
  return OkStatus();
}

}  // namespace

Result<PckExtension> ParsePckExtension(std::span<const uint8_t> der) {
  Tlv top;
  std::span<const uint8_t> in = der;
  if (!ReadTlv(in, &top) || top.tag != kTagSequence || !in.empty()) {
    return Bad("not a single DER SEQUENCE");
  }
  PckExtension ext;
  uint32_t seen = 0;
  std::span<const uint8_t> items = top.value;
  while (!items.empty()) {
    Tlv oid, value;
    uint8_t arc[1];
    if (!ReadPair(items, &oid, &value)) return Bad("element is not SEQUENCE { OID, value }");
    if (!SubArcs(oid.value, arc)) continue;  // unknown OIDs are ignored, like Intel's parser
    const uint8_t n = arc[0];
    if (n >= 1 && n <= 7) {
      if (seen & (1u << n)) return Bad("element ." + std::to_string(n) + " appears twice");
      seen |= 1u << n;
    }
    switch (n) {
      case 1:
        if (!Octets(value, &ext.ppid)) return Bad("PPID is not a 16-byte OCTET STRING");
        break;
      case 2:
        if (value.tag != kTagSequence) return Bad("TCB is not a SEQUENCE");
        KMRA_TRY(ParseTcb(value.value, &ext));
        break;
      case 3:
        if (!Octets(value, &ext.pce_id)) return Bad("PCE-ID is not a 2-byte OCTET STRING");
        break;
      case 4:
        if (!Octets(value, &ext.fmspc)) return Bad("FMSPC is not a 6-byte OCTET STRING");
        break;
      case 5:
        if (value.tag != kTagEnumerated || !DerUint(value.value, &ext.sgx_type)) {
          return Bad("SGX type is not an ENUMERATED");
        }
        break;
      case 6: {
        std::array<uint8_t, 16> id;
        if (!Octets(value, &id)) return Bad("PlatformInstanceID is not a 16-byte OCTET STRING");
        ext.platform_instance_id = id;
        break;
      }
      case 7: {
        if (value.tag != kTagSequence) return Bad("Configuration is not a SEQUENCE");
        PckConfiguration cfg;
        KMRA_TRY(ParseConfiguration(value.value, &cfg));
        ext.configuration = cfg;
        break;
      }
      default:
        break;
    }
  }
  const char* names[] = {"", "PPID", "TCB", "PCE-ID", "FMSPC", "SGX type"};
  for (uint32_t n = 1; n <= 5; ++n) {
    if (!(seen & (1u << n))) return Bad(std::string(names[n]) + " is missing");
  }
  return ext;
}

Result<PckExtension> PckExtensionOf(const crypto::Cert& cert) {
  const crypto::CertExtension* ext = cert.Extension(kSgxOid);
  if (ext == nullptr) {
    return InvalidArgument(
        "the PCK certificate has no SGX extension (OID 1.2.840.113741.1.13.1); is it a PCK "
        "certificate?");
  }
  return ParsePckExtension(ext->value);
}

}  // namespace kmra::dcap
