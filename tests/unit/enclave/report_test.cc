#include "enclave/report.h"

#include <gtest/gtest.h>

namespace kmra::enclave {
namespace {

TEST(ReportBody, FieldsLandAtTheOffsetsOfSgxReportBody) {
  ReportBody r;
  r.cpu_svn[0] = 0x0b;
  r.misc_select = 0x11223344;
  r.attribute_flags = kAttrInit | kAttrMode64;
  r.xfrm = kDefaultXfrm;
  r.mr_enclave.fill(0xaa);
  r.mr_signer.fill(0xbb);
  r.isv_prod_id = 0x0102;
  r.isv_svn = 0x0304;
  r.report_data.fill(0xcc);
  auto b = r.Serialize();
  EXPECT_EQ(b[0], 0x0b);
  EXPECT_EQ(b[16], 0x44);  // little endian
  EXPECT_EQ(b[19], 0x11);
  EXPECT_EQ(b[48], 0x05);  // INIT|MODE64BIT, as in real ISV reports
  EXPECT_EQ(b[56], 0xe7);
  EXPECT_EQ(b[64], 0xaa);
  EXPECT_EQ(b[95], 0xaa);
  EXPECT_EQ(b[96], 0x00);  // reserved
  EXPECT_EQ(b[128], 0xbb);
  EXPECT_EQ(b[256], 0x02);
  EXPECT_EQ(b[257], 0x01);
  EXPECT_EQ(b[258], 0x04);
  EXPECT_EQ(b[320], 0xcc);
  EXPECT_EQ(b[383], 0xcc);

  auto back = ReportBody::Parse(b);
  EXPECT_EQ(back.mr_enclave, r.mr_enclave);
  EXPECT_EQ(back.mr_signer, r.mr_signer);
  EXPECT_EQ(back.isv_prod_id, r.isv_prod_id);
  EXPECT_EQ(back.isv_svn, r.isv_svn);
  EXPECT_EQ(back.attribute_flags, r.attribute_flags);
  EXPECT_EQ(back.report_data, r.report_data);
}

TEST(QuoteHeaderV3, IsAnSgxV3EcdsaP256Header) {
  QuoteHeaderV3 h;
  h.qe_svn = 10;
  h.pce_svn = 15;
  auto b = h.Serialize();
  EXPECT_EQ(b[0], 3);   // version
  EXPECT_EQ(b[2], 2);   // ECDSA-256-with-P-256
  EXPECT_EQ(b[4], 0);   // tee type SGX
  EXPECT_EQ(b[8], 10);
  EXPECT_EQ(b[10], 15);
  EXPECT_EQ(b[12], 0x93);  // Intel QE vendor id
  EXPECT_EQ(b[27], 0x07);
}

}  // namespace
}  // namespace kmra::enclave
