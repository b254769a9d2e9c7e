#include "server/proxy_protocol.h"

#include <arpa/inet.h>

#include <cstring>

namespace kmra::server {
namespace {

constexpr std::uint8_t kSignature[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                         0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

std::uint16_t Be16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] << 8 | p[1]); }

}  // namespace

Result<std::size_t> ProxyV2BodyLength(std::span<const std::uint8_t> fixed) {
  if (fixed.size() < kProxyV2FixedBytes) return InvalidArgument("PROXY header: too short");
  if (std::memcmp(fixed.data(), kSignature, sizeof(kSignature)) != 0) {
    return InvalidArgument(
        "PROXY header: the connection does not start with the PROXY protocol v2 signature (the "
        "proxy must send send-proxy-v2)");
  }
  const std::uint8_t version = fixed[12] >> 4, command = fixed[12] & 0x0F;
  if (version != 2) return InvalidArgument("PROXY header: version " + std::to_string(version));
  if (command > 1) return InvalidArgument("PROXY header: command " + std::to_string(command));
  const std::size_t length = Be16(fixed.data() + 14);
  if (length > kProxyV2MaxBody) {
    return InvalidArgument("PROXY header: " + std::to_string(length) +
                           " bytes of addresses, over " + std::to_string(kProxyV2MaxBody));
  }
  return length;
}

Result<ProxyHeader> ParseProxyV2(std::span<const std::uint8_t> header) {
  KMRA_ASSIGN_OR_RETURN(std::size_t length, ProxyV2BodyLength(header));
  if (header.size() != kProxyV2FixedBytes + length) {
    return InvalidArgument("PROXY header: " + std::to_string(header.size()) + " bytes, expected " +
                           std::to_string(kProxyV2FixedBytes + length));
  }
  ProxyHeader out;
  if ((header[12] & 0x0F) == 0) {
    out.local = true;
    return out;
  }
  const std::uint8_t* body = header.data() + kProxyV2FixedBytes;
  char text[INET6_ADDRSTRLEN] = {};
  switch (header[13]) {
    case 0x11:  // TCP over IPv4: src, dst, src port, dst port
      if (length < 12) return InvalidArgument("PROXY header: IPv4 block shorter than 12 bytes");
      inet_ntop(AF_INET, body, text, sizeof(text));
      out.source_port = Be16(body + 8);
      break;
    case 0x21:  // TCP over IPv6
      if (length < 36) return InvalidArgument("PROXY header: IPv6 block shorter than 36 bytes");
      inet_ntop(AF_INET6, body, text, sizeof(text));
      out.source_port = Be16(body + 32);
      break;
    case 0x00:  // UNSPEC: the proxy does not know; the peer address stands
      out.local = true;
      return out;
    default:
      return InvalidArgument("PROXY header: address family/protocol byte " +
                             std::to_string(header[13]) + " (only TCP over IPv4/IPv6)");
  }
  out.source_address = text;
  return out;
}

}  // namespace kmra::server
