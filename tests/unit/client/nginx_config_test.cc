#include "client/nginx_config.h"

#include <gtest/gtest.h>

namespace kmra::client {
namespace {

NginxConfigOptions Base() {
  NginxConfigOptions o;
  o.key_uri = "pkcs11:token=kmra;object=web";
  o.cert_file = "/etc/ssl/web.crt";
  o.module = "/usr/lib/x86_64-linux-gnu/pkcs11/libkmra-pkcs11.so";
  o.env = {"KMRA_TOKEN_CONF"};
  return o;
}

TEST(NginxConfig, InProcessLoadsOurModuleAndKeepsItsEnvironment) {
  auto c = RenderNginxConfig(Base());
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_NE(c->openssl_cnf.find("MODULE_PATH = /usr/lib/x86_64-linux-gnu/pkcs11/libkmra-pkcs11.so\n"),
            std::string::npos);
  EXPECT_NE(c->openssl_cnf.find("init = 1\n"), std::string::npos);
  EXPECT_NE(c->nginx_main.find("env OPENSSL_CONF;\n"), std::string::npos);
  EXPECT_NE(c->nginx_main.find("env KMRA_TOKEN_CONF;\n"), std::string::npos);
  EXPECT_NE(c->nginx_server.find(
                "ssl_certificate_key \"engine:pkcs11:pkcs11:token=kmra;object=web;type=private\";"),
            std::string::npos);
  EXPECT_NE(c->nginx_server.find("ssl_ciphers ECDHE+AESGCM:ECDHE+CHACHA20;"), std::string::npos);
  EXPECT_TRUE(c->p11kit_unit.empty());
  EXPECT_TRUE(c->nginx_full.empty());
}

TEST(NginxConfig, IsolationLoadsTheP11KitClientAndRunsTheModuleInItsOwnProcess) {
  auto o = Base();
  o.isolation = true;
  o.socket = "/run/kmra/s.sock";
  auto c = RenderNginxConfig(o);
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_NE(c->openssl_cnf.find("MODULE_PATH = " + std::string(kP11KitClient)), std::string::npos);
  EXPECT_EQ(c->openssl_cnf.find("libkmra-pkcs11.so"), std::string::npos);
  EXPECT_NE(c->nginx_main.find("env P11_KIT_SERVER_ADDRESS;"), std::string::npos);
  EXPECT_EQ(c->nginx_main.find("KMRA_TOKEN_CONF"), std::string::npos);
  EXPECT_NE(c->systemd_dropin.find("P11_KIT_SERVER_ADDRESS=unix:path=/run/kmra/s.sock"),
            std::string::npos);
  EXPECT_NE(c->p11kit_unit.find("--provider /usr/lib/x86_64-linux-gnu/pkcs11/libkmra-pkcs11.so "
                                "\"pkcs11:token=kmra\""),
            std::string::npos);
}

TEST(NginxConfig, PinGoesIntoTheUriQuery) {
  auto o = Base();
  o.pin_file = "/etc/kmra/pin";
  auto c = RenderNginxConfig(o);
  ASSERT_TRUE(c);
  EXPECT_NE(c->nginx_server.find("type=private?pin-source=file:/etc/kmra/pin\""), std::string::npos);
  o.pin_file.clear();
  o.pin = "1234";
  c = RenderNginxConfig(o);
  ASSERT_TRUE(c);
  EXPECT_NE(c->nginx_server.find("type=private?pin-value=1234\""), std::string::npos);
}

TEST(NginxConfig, StandaloneKeepsEverythingUnderThePrefix) {
  auto o = Base();
  o.prefix = "/tmp/x";
  o.user = "root";
  auto c = RenderNginxConfig(o);
  ASSERT_TRUE(c);
  EXPECT_NE(c->nginx_full.find("pid /tmp/x/nginx.pid;"), std::string::npos);
  EXPECT_NE(c->nginx_full.find("user root;"), std::string::npos);
  EXPECT_NE(c->nginx_full.find(c->nginx_server), std::string::npos);
}

TEST(NginxConfig, RefusesInputThatWouldBreakTheConfigAndSaysWhich) {
  auto o = Base();
  o.key_uri = "token=kmra;object=web";
  auto c = RenderNginxConfig(o);
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message().find("--key-uri"), std::string::npos);

  o = Base();
  o.key_uri = "pkcs11:object=web";
  c = RenderNginxConfig(o);
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message().find("must name the token"), std::string::npos);

  o = Base();
  o.cert_file = "web.crt";
  c = RenderNginxConfig(o);
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message().find("--cert must be an absolute path"), std::string::npos);

  o = Base();
  o.key_uri = "pkcs11:token=a;object=b\";\n  evil on;";
  c = RenderNginxConfig(o);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), Code::kInvalidArgument);

  o = Base();
  o.pin = "12;34";
  EXPECT_FALSE(RenderNginxConfig(o));

  o = Base();
  o.env = {"BAD NAME"};
  EXPECT_FALSE(RenderNginxConfig(o));
}

TEST(NginxConfig, UriAttributesArePercentDecoded) {
  EXPECT_EQ(UriPathAttribute("pkcs11:token=my%20token;object=web?pin-value=1", "token"), "my token");
  EXPECT_EQ(UriPathAttribute("pkcs11:token=t;object=web?pin-value=1", "object"), "web");
  EXPECT_EQ(UriPathAttribute("pkcs11:token=t", "object"), "");
  EXPECT_EQ(UriPathAttribute("file:token=t", "token"), "");
}

}  // namespace
}  // namespace kmra::client
