// The compiled-in default trust anchor of DCAP verification.
#pragma once

#include <string_view>

namespace kmra::dcap {

// PEM text of Intel's production SGX Root CA, byte for byte as Intel publishes it.
std::string_view IntelSgxRootCaPem();

}  // namespace kmra::dcap
