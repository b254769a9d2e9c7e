// The persistent, sealed store of one token (a directory):
//
//   <token_dir>/token.meta           sealed token record (label, serial, PIN verifiers, counters)
//   <token_dir>/objects/<uid>.obj    one sealed file per token object
//   <token_dir>/objects/.generation  sealed (serial, generation): the store's side of the record
//   <token_dir>/.lock                flock(2) lock shared by every process using the token
//
// Sealing: AES-256-GCM (crypto/aes_gcm.h) under a key derived (crypto/hkdf.h, HKDF-SHA256) from
// the platform's sealing key; the associated data names the file's role and the object's uid, so
// a file moved, swapped or edited is refused. Writes are atomic (temp file, fsync, rename, fsync
// dir); every change bumps the meta generation so other processes notice it and reload. Each record
// write is followed by the .generation write, and the record says it was written so; a token.meta
// older than .generation (a rolled-back record, e.g. to reset the PIN failure counters), one whose
// .generation is gone, or a missing token.meta in a store past its first record, is refused. Files
// are reached through directory descriptors and never through a symbolic link (store_fs.h);
// token_dir must belong to the effective user or root and be writable by nobody else.
// Not thread safe; the module serialises access. Processes coordinate through the lock.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/secret_bytes.h"
#include "token/object.h"
#include "token/store_fs.h"

namespace kmra::token {

// The token record.
struct TokenMeta {
  std::string label;                 // up to 32 characters
  std::string serial;                // 16 hex characters, fixed at initialisation
  SecretBytes so_salt, so_hash;      // PBKDF2-HMAC-SHA256 verifier of the SO PIN
  SecretBytes user_salt, user_hash;  // empty until C_InitPIN
  CK_ULONG user_failures = 0;
  CK_ULONG so_failures = 0;
  CK_ULONG generation = 0;
};

// A held flock(2); released on destruction.
class FileLock {
 public:
  FileLock() = default;
  explicit FileLock(int fd) : fd_(fd) {}
  FileLock(FileLock&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  FileLock& operator=(FileLock&& o) noexcept;
  ~FileLock();

 private:
  int fd_ = -1;
};

class Store {
 public:
  // Opens the token directory, creating it (0700) when missing; refuses one that is a symbolic
  // link, writable by others or owned by another user (the error names the fix). `platform_key`
  // is the platform's sealing key; the store derives its own key from it.
  static Result<std::unique_ptr<Store>> Open(const std::string& dir,
                                             const SecretBytes& platform_key);
  ~Store();

  const std::string& dir() const { return dir_; }

  // Cross-process locks on the token directory.
  Result<FileLock> LockExclusive();
  Result<FileLock> LockShared();

  // The token record; NotFound when the token was never initialised, DataLoss when tampered
  // with, rolled back behind the store's generation, or missing from a store that had one.
  Result<TokenMeta> ReadMeta();
  // Writes the token record atomically (hold the exclusive lock).
  Status WriteMeta(const TokenMeta& meta);
  // True when token.meta differs from what this process last read or wrote.
  bool Changed();

  // Every object file that unseals; a file that does not is reported in `refused` (uid: reason)
  // and skipped.
  std::vector<Object> LoadObjects(std::vector<std::string>* refused);
  // Writes one object atomically (hold the exclusive lock).
  Status WriteObject(const Object& o);
  // Removes one object file (hold the exclusive lock).
  Status DeleteObject(const std::string& uid);
  // Removes every object file and leftover temp files (hold the exclusive lock).
  Status Clear();

 private:
  Store(std::string dir, SecretBytes key, fs::Fd dir_fd, fs::Fd objects_fd, fs::Fd lock_fd);
  Result<SecretBytes> Unseal(const std::vector<uint8_t>& file, const std::string& aad);
  Result<std::vector<uint8_t>> Seal(const SecretBytes& plain, const std::string& aad);
  // What objects/.generation records (nullopt: no such file).
  struct StoreRecord {
    std::string serial;
    CK_ULONG generation = 0;
  };
  Result<std::optional<StoreRecord>> ReadStoreGeneration();
  Status WriteStoreGeneration(const std::string& serial, CK_ULONG generation);
  // Whether record `m` (written bound to the generation file or not) fits the store.
  Status CheckBinding(const TokenMeta& m, bool bound);

  std::string dir_;
  SecretBytes key_;
  fs::Fd dir_fd_, objects_fd_, lock_fd_;
  std::vector<uint8_t> last_meta_;
};

// PBKDF2-HMAC-SHA256 verifier of a PIN (32 bytes); Internal when OpenSSL fails.
Result<SecretBytes> HashPin(const SecretBytes& salt, std::string_view pin);

}  // namespace kmra::token
