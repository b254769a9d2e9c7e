// Templates of new keys (generation and unwrapping share them).
#pragma once

#include <p11-kit/pkcs11.h>

#include "token/object.h"

namespace kmra::token {

// Decodes a key template, checks its attributes belong to the class (read-only ones, the custody
// mark among them, are refused) and sets class and type.
CK_RV PrepareKeyTemplate(const CK_ATTRIBUTE* tmpl, CK_ULONG count, CK_OBJECT_CLASS cls,
                         CK_KEY_TYPE kt, Object& o);

// Sets the attributes a key gets from the way it was made (§4.8 CKA_LOCAL, ALWAYS_SENSITIVE...).
void SetOrigin(Object& o, bool local, CK_MECHANISM_TYPE gen_mech);

}  // namespace kmra::token
