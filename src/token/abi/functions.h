// The module's function list (C_GetFunctionList). The C_* functions themselves are declared by
// p11-kit/pkcs11.h and defined in the abi/*.cc files, one file per function group.
#pragma once

#include <p11-kit/pkcs11.h>

namespace kmra::token::abi {

extern CK_FUNCTION_LIST kFunctionList;

}  // namespace kmra::token::abi
