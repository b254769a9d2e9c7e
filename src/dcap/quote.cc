#include "dcap/quote.h"

#include <cstring>

#include "dcap/internal/bytes.h"

namespace kmra::dcap {
namespace {

using internal::Reader;

constexpr size_t kHeaderSize = 48;
constexpr size_t kTdReport10Size = 584;
constexpr size_t kTdReport15Size = 648;

tl::unexpected<Error> Truncated(const char* field, size_t need, const Reader& r) {
  return InvalidArgument("quote is truncated: " + std::string(field) + " needs " +
                         std::to_string(need) + " bytes at offset " + std::to_string(r.offset()) +
                         ", only " + std::to_string(r.remaining()) + " remain");
}

#define DCAP_READ(call, field, need) \
  if (!(call)) return Truncated(field, need, r)

// Fixed-size fields read in their wire order (little-endian integers, byte arrays as they stand),
// for a header or report body whose size was checked whole before: the reads cannot run short.
void ReadField(Reader& r, uint16_t* v) { r.U16(v); }
void ReadField(Reader& r, uint32_t* v) { r.U32(v); }
template <size_t N>
void ReadField(Reader& r, std::array<uint8_t, N>* a) {
  r.Array(a);
}
template <class... Field>
void ReadFields(Reader& r, Field*... fields) {
  (ReadField(r, fields), ...);
}

Result<EnclaveReport> ReadEnclaveReport(Reader& r, const char* what) {
  std::span<const uint8_t> raw;
  DCAP_READ(r.Bytes(EnclaveReport::kSize, &raw), what, EnclaveReport::kSize);
  EnclaveReport rep;
  std::memcpy(rep.raw.data(), raw.data(), EnclaveReport::kSize);
  Reader b(raw);
  // Offsets per sgx_report_body_t; the sub-reader cannot run short (384 bytes were taken above).
  std::array<uint8_t, 12> reserved1;
  std::array<uint8_t, 32> reserved2;
  std::array<uint8_t, 32> reserved3;
  std::array<uint8_t, 42> reserved4;
  ReadFields(b, &rep.cpu_svn, &rep.misc_select, &reserved1, &rep.isv_ext_prod_id, &rep.attributes,
             &rep.mr_enclave, &reserved2, &rep.mr_signer, &reserved3, &rep.config_id,
             &rep.isv_prod_id, &rep.isv_svn, &rep.config_svn, &reserved4, &rep.isv_family_id,
             &rep.report_data);
  return rep;
}

Result<TdReport> ReadTdReport(Reader& r, bool v15) {
  const size_t size = v15 ? kTdReport15Size : kTdReport10Size;
  std::span<const uint8_t> raw;
  DCAP_READ(r.Bytes(size, &raw), "TD report body", size);
  Reader b(raw);
  TdReport td;
  td.v15 = v15;
  ReadFields(b, &td.tee_tcb_svn, &td.mr_seam, &td.mrsigner_seam, &td.seam_attributes,
             &td.td_attributes, &td.xfam, &td.mr_td, &td.mr_config_id, &td.mr_owner,
             &td.mr_owner_config);
  for (auto& rtmr : td.rtmr) ReadField(b, &rtmr);
  ReadField(b, &td.report_data);
  if (v15) ReadFields(b, &td.tee_tcb_svn2, &td.mr_servicetd);
  return td;
}

// Reads {u16 type, u32 size, data[size]} and, for type 5, extracts the PEM chain.
Status ReadCertData(Reader& r, const char* what, uint16_t* type, uint32_t* size,
                    std::span<const uint8_t>* data) {
  DCAP_READ(r.U16(type), what, 2);
  DCAP_READ(r.U32(size), what, 4);
  if (r.remaining() < *size) {
    return InvalidArgument(std::string(what) + " declares " + std::to_string(*size) +
                           " bytes at offset " + std::to_string(r.offset()) + ", only " +
                           std::to_string(r.remaining()) + " remain");
  }
  r.Bytes(*size, data);
  return OkStatus();
}

Result<std::array<uint8_t, 64>> ReadQeSection(Reader& r, Quote& q) {
  KMRA_ASSIGN_OR_RETURN(q.qe_report, ReadEnclaveReport(r, "QE report body"));
  DCAP_READ(r.Array(&q.qe_report_signature), "QE report signature", 64);
  uint16_t auth_size = 0;
  DCAP_READ(r.U16(&auth_size), "QE authentication data size", 2);
  std::span<const uint8_t> auth;
  DCAP_READ(r.Bytes(auth_size, &auth), "QE authentication data", auth_size);
  q.qe_auth_data.assign(auth.begin(), auth.end());
  return q.qe_report_signature;
}

void SetChain(CertificationData& cd, std::span<const uint8_t> data) {
  cd.data.assign(data.begin(), data.end());
  if (cd.nested_type == static_cast<uint16_t>(CertDataType::kPckCertChain)) {
    size_t n = data.size();
    while (n > 0 && data[n - 1] == 0) --n;  // the chain carries a trailing NUL (DCAP.md §4)
    cd.pck_chain_pem.assign(reinterpret_cast<const char*>(data.data()), n);
  }
}

}  // namespace

uint64_t EnclaveReport::flags() const {
  uint64_t f = 0;
  for (int i = 7; i >= 0; --i) f = f << 8 | attributes[i];
  return f;
}

std::span<const uint8_t, 64> Quote::report_data() const {
  if (td) return std::span<const uint8_t, 64>(td->report_data);
  return std::span<const uint8_t, 64>(sgx->report_data);
}

std::string TeeName(uint32_t tee_type) {
  if (tee_type == kTeeTypeSgx) return "SGX";
  if (tee_type == kTeeTypeTdx) return "TDX";
  char buf[16];
  (void)std::snprintf(buf, sizeof(buf), "0x%08x", tee_type);  // 10 characters: cannot truncate
  return buf;
}

Result<Quote> ParseQuote(std::span<const uint8_t> bytes) {
  Reader r(bytes);
  Quote q;
  QuoteHeader& h = q.header;
  if (bytes.size() < kHeaderSize) {
    return InvalidArgument("quote is " + std::to_string(bytes.size()) +
                           " bytes; a quote header alone needs 48");
  }
  ReadFields(r, &h.version, &h.att_key_type, &h.tee_type, &h.qe_svn, &h.pce_svn, &h.qe_vendor_id,
             &h.user_data);
  if (h.version != 3 && h.version != 4 && h.version != 5) {
    return Unimplemented("quote version " + std::to_string(h.version) +
                         " is not supported (expected 3, 4 or 5)");
  }
  if (h.att_key_type != kAttKeyTypeEcdsaP256) {
    return Unimplemented("attestation key type " + std::to_string(h.att_key_type) +
                         " is not supported (expected 2, ECDSA-256-with-P-256)");
  }
  if (h.tee_type != kTeeTypeSgx && h.tee_type != kTeeTypeTdx) {
    return Unimplemented("TEE type " + TeeName(h.tee_type) +
                         " is not supported (expected 0x00000000 SGX or 0x00000081 TDX)");
  }
  if (h.version == 3 && h.tee_type != kTeeTypeSgx) {
    return InvalidArgument("quote v3 carries TEE type " + TeeName(h.tee_type) +
                           "; v3 quotes are SGX only");
  }

  size_t body_size = 0;
  if (h.version == 5) {
    uint32_t declared = 0;
    DCAP_READ(r.U16(&q.body_type), "v5 body type", 2);
    DCAP_READ(r.U32(&declared), "v5 body size", 4);
    const size_t expected = q.body_type == 1   ? EnclaveReport::kSize
                            : q.body_type == 2 ? kTdReport10Size
                            : q.body_type == 3 ? kTdReport15Size
                                               : 0;
    if (expected == 0) {
      return Unimplemented("quote v5 body type " + std::to_string(q.body_type) +
                           " is not supported (expected 1 SGX, 2 TD 1.0 or 3 TD 1.5)");
    }
    if (declared != expected) {
      return InvalidArgument("quote v5 body type " + std::to_string(q.body_type) + " needs size " +
                             std::to_string(expected) + ", the quote declares " +
                             std::to_string(declared));
    }
    if ((q.body_type == 1) != (h.tee_type == kTeeTypeSgx)) {
      return InvalidArgument("quote v5 body type " + std::to_string(q.body_type) +
                             " does not match TEE type " + TeeName(h.tee_type));
    }
    body_size = expected;
  } else {
    q.body_type = h.tee_type == kTeeTypeSgx ? 1 : 2;
    body_size = q.body_type == 1 ? EnclaveReport::kSize : kTdReport10Size;
  }
  if (q.body_type == 1) {
    KMRA_ASSIGN_OR_RETURN(q.sgx, ReadEnclaveReport(r, "ISV enclave report body"));
  } else {
    KMRA_ASSIGN_OR_RETURN(q.td, ReadTdReport(r, q.body_type == 3));
  }
  (void)body_size;
  q.signed_bytes.assign(bytes.begin(), bytes.begin() + static_cast<ptrdiff_t>(r.offset()));

  DCAP_READ(r.U32(&q.signature_data_len), "signature data length", 4);
  if (q.signature_data_len > r.remaining()) {
    return InvalidArgument("quote signature data length is " +
                           std::to_string(q.signature_data_len) + " at offset " +
                           std::to_string(r.offset() - 4) + ", but only " +
                           std::to_string(r.remaining()) + " bytes follow");
  }
  std::span<const uint8_t> sig_data;
  r.Bytes(q.signature_data_len, &sig_data);
  q.signature_data_offset = r.offset() - q.signature_data_len;
  q.size = r.offset();
  q.trailing_bytes = r.remaining();

  // The signature data is parsed on its own: nothing in it may reach past its declared length.
  Reader s(sig_data);
  {
    Reader& r = s;  // DCAP_READ reports offsets relative to the signature data
    DCAP_READ(r.Array(&q.signature), "quote signature", 64);
    DCAP_READ(r.Array(&q.attestation_key), "attestation public key", 64);
    CertificationData& cd = q.cert_data;
    std::span<const uint8_t> data;
    if (h.version == 3) {
      KMRA_TRY(ReadQeSection(r, q));
      KMRA_TRY(ReadCertData(r, "certification data", &cd.type, &cd.declared_size, &data));
      cd.nested_type = cd.type;
      if (cd.type == static_cast<uint16_t>(CertDataType::kQeReportCertData)) {
        return InvalidArgument("quote v3 carries certification data type 6, which only v4/v5 use");
      }
    } else {
      KMRA_TRY(ReadCertData(r, "certification data", &cd.type, &cd.declared_size, &data));
      if (cd.type != static_cast<uint16_t>(CertDataType::kQeReportCertData)) {
        return InvalidArgument("quote v" + std::to_string(h.version) +
                               " must carry certification data type 6 (QE report), found type " +
                               std::to_string(cd.type));
      }
      Reader inner(data);
      {
        Reader& r = inner;
        KMRA_TRY(ReadQeSection(r, q));
        uint32_t nested_size = 0;
        std::span<const uint8_t> nested;
        KMRA_TRY(
            ReadCertData(r, "nested certification data", &cd.nested_type, &nested_size, &nested));
        if (r.remaining() != 0) {
          return InvalidArgument("QE report certification data declares " +
                                 std::to_string(cd.declared_size) + " bytes but its content ends " +
                                 std::to_string(r.remaining()) + " bytes earlier");
        }
        data = nested;
      }
    }
    if (cd.nested_type < 1 || cd.nested_type > 7 || cd.nested_type == 6) {
      return InvalidArgument("certification data type " + std::to_string(cd.nested_type) +
                             " is not defined (expected 1-5, or 6 wrapping 5)");
    }
    SetChain(cd, data);
    if (r.remaining() != 0) {
      return InvalidArgument("quote signature data declares " +
                             std::to_string(q.signature_data_len) + " bytes but its content ends " +
                             std::to_string(r.remaining()) + " bytes earlier");
    }
  }
  return q;
}

}  // namespace kmra::dcap
