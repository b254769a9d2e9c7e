// The PROXY protocol version 2 header (HAProxy's send-proxy-v2; haproxy.org/download/2.8/doc/
// proxy-protocol.txt §2.2): 16 fixed bytes, then `length` bytes of addresses and TLVs. Only the
// binary version 2 is accepted; version 1 (text) is refused.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "base/result.h"

namespace kmra::server {

inline constexpr std::size_t kProxyV2FixedBytes = 16;
// Largest address+TLV block accepted (HAProxy sends 12 or 36 bytes plus a few TLVs).
inline constexpr std::size_t kProxyV2MaxBody = 1024;

struct ProxyHeader {
  bool local = false;          // LOCAL command (health check by the proxy): use the peer address
  std::string source_address;  // the client's IP address as text; empty when local or unspecified
  std::uint16_t source_port = 0;
};

// From the first 16 bytes: how many more bytes belong to the header. InvalidArgument naming what
// was wrong (no PROXY v2 signature, wrong version, command or length).
Result<std::size_t> ProxyV2BodyLength(std::span<const std::uint8_t> fixed);

// Parses the whole header (fixed part and body).
Result<ProxyHeader> ParseProxyV2(std::span<const std::uint8_t> header);

}  // namespace kmra::server
