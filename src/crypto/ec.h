// EC keys on the NIST curves P-256 and P-384.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "crypto/key.h"

namespace kmra::crypto {

enum class EcCurve { kP256, kP384 };

// "P-256", "P-384".
std::string_view EcCurveName(EcCurve curve);
// Bytes of one coordinate (32, 48).
size_t EcCoordinateSize(EcCurve curve);
// Parses "P-256", "p256", "prime256v1", "secp256r1", "P-384", "secp384r1".
Result<EcCurve> ParseEcCurve(std::string_view name);

// A fresh key pair from the OpenSSL DRBG.
Result<PrivateKey> GenerateEcKey(EcCurve curve);

// The curve of an EC key. InvalidArgument for a non-EC key or another curve.
Result<EcCurve> EcCurveOf(const PublicKey& key);
Result<EcCurve> EcCurveOf(const PrivateKey& key);

// Uncompressed point 04 || X || Y.
Result<std::vector<uint8_t>> EcPublicPoint(const PublicKey& key);

// A public key from an uncompressed point (04 || X || Y) or the bare X || Y that SGX quotes carry.
// InvalidArgument when the length is wrong or the point is not on the curve.
Result<PublicKey> EcPublicKeyFromPoint(EcCurve curve, std::span<const uint8_t> point);

}  // namespace kmra::crypto
