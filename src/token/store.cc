#include "token/store.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "crypto/aes_gcm.h"
#include "crypto/hkdf.h"
#include "crypto/ossl.h"

namespace kmra::token {
namespace {

// A sealed file: magic || IV (12 bytes) || AES-256-GCM ciphertext || tag (16 bytes), which is
// the magic followed by crypto::AesGcmSeal's output.
constexpr char kMagic[8] = {'K', 'M', 'R', 'A', 'S', 'E', 'L', '1'};
constexpr char kStoreKeyInfo[] = "kmra token store v1";
constexpr char kMetaAad[] = "kmra-token-meta-v1";
constexpr char kObjectAadPrefix[] = "kmra-token-object-v1:";

// Internal attribute numbers of the token record (it reuses the object encoding).
enum MetaField : CK_ATTRIBUTE_TYPE {
  kLabel = 1,
  kSerial,
  kSoSalt,
  kSoHash,
  kUserSalt,
  kUserHash,
  kUserFail,
  kSoFail,
  kGeneration,
  kBound  // 1: written with objects/.generation (which must then exist)
};

constexpr char kGenerationAad[] = "kmra-token-generation-v1";
constexpr char kMetaFile[] = "token.meta";
constexpr char kGenerationFile[] = ".generation";
constexpr char kObjectSuffix[] = ".obj";

std::span<const uint8_t> Bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

bool EndsWith(const std::string& s, const char* suffix) {
  size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

}  // namespace

FileLock& FileLock::operator=(FileLock&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::flock(fd_, LOCK_UN);
    fd_ = o.fd_;
    o.fd_ = -1;
  }
  return *this;
}

FileLock::~FileLock() {
  if (fd_ >= 0) ::flock(fd_, LOCK_UN);
}

Result<SecretBytes> HashPin(const SecretBytes& salt, std::string_view pin) {
  SecretBytes out(32);
  if (PKCS5_PBKDF2_HMAC(pin.data(), static_cast<int>(pin.size()), salt.Reveal().data(),
                        static_cast<int>(salt.size()), 10000, EVP_sha256(), 32,
                        out.RevealMutable().data()) != 1) {
    return ossl::Fail(Code::kInternal, "PBKDF2 of a PIN failed");
  }
  return out;
}

Result<std::unique_ptr<Store>> Store::Open(const std::string& dir,
                                           const SecretBytes& platform_key) {
  if (dir.empty() || dir[0] != '/') {
    return FailedPrecondition("token_dir " + dir + " is not an absolute path");
  }
  KMRA_ASSIGN_OR_RETURN(fs::Fd dir_fd, fs::OpenDir(AT_FDCWD, dir, dir));
  KMRA_ASSIGN_OR_RETURN(fs::Fd objects_fd, fs::OpenDir(dir_fd.get(), "objects", dir + "/objects"));
  KMRA_ASSIGN_OR_RETURN(fs::Fd lock_fd, fs::OpenLockFile(dir_fd.get(), ".lock", dir + "/.lock"));

  // Store key = HKDF-SHA256(platform sealing key, no salt, info "kmra token store v1").
  auto key =
      crypto::Hkdf(crypto::HashAlg::kSha256, platform_key.Reveal(), {}, Bytes(kStoreKeyInfo), 32);
  if (!key) return tl::unexpected(key.error().WithContext("cannot derive the token store key"));
  return std::unique_ptr<Store>(new Store(dir, std::move(*key), std::move(dir_fd),
                                          std::move(objects_fd), std::move(lock_fd)));
}

Store::Store(std::string dir, SecretBytes key, fs::Fd dir_fd, fs::Fd objects_fd, fs::Fd lock_fd)
    : dir_(std::move(dir)),
      key_(std::move(key)),
      dir_fd_(std::move(dir_fd)),
      objects_fd_(std::move(objects_fd)),
      lock_fd_(std::move(lock_fd)) {}

Store::~Store() = default;

Result<FileLock> Store::LockExclusive() {
  while (::flock(lock_fd_.get(), LOCK_EX) != 0) {
    if (errno != EINTR) return Unavailable(fs::Errno("cannot lock " + dir_));
  }
  return FileLock(lock_fd_.get());
}

Result<FileLock> Store::LockShared() {
  while (::flock(lock_fd_.get(), LOCK_SH) != 0) {
    if (errno != EINTR) return Unavailable(fs::Errno("cannot lock " + dir_));
  }
  return FileLock(lock_fd_.get());
}

Result<std::vector<uint8_t>> Store::Seal(const SecretBytes& plain, const std::string& aad) {
  KMRA_ASSIGN_OR_RETURN(auto sealed, crypto::AesGcmSeal(key_.Reveal(), plain.Reveal(), Bytes(aad)));
  std::vector<uint8_t> out;
  out.reserve(sizeof kMagic + sealed.size());
  out.insert(out.end(), kMagic, kMagic + sizeof kMagic);
  out.insert(out.end(), sealed.begin(), sealed.end());
  return out;
}

Result<SecretBytes> Store::Unseal(const std::vector<uint8_t>& file, const std::string& aad) {
  if (file.size() < sizeof kMagic + crypto::kGcmIvSize + crypto::kGcmTagSize ||
      std::memcmp(file.data(), kMagic, sizeof kMagic) != 0) {
    return DataLoss("not a sealed token file (bad header)");
  }
  auto plain =
      crypto::AesGcmOpen(key_.Reveal(), std::span(file).subspan(sizeof kMagic), Bytes(aad));
  if (!plain) {
    return DataLoss(
        "authentication failed: the file was modified, moved, or sealed by another enclave or "
        "platform");
  }
  return plain;
}

Result<std::optional<Store::StoreRecord>> Store::ReadStoreGeneration() {
  const std::string shown = dir_ + "/objects/" + kGenerationFile;
  auto file = fs::ReadFileAt(objects_fd_.get(), kGenerationFile, shown);
  if (!file && file.error().code() == Code::kNotFound) return std::optional<StoreRecord>();
  if (!file) return tl::unexpected(file.error());
  auto plain = Unseal(*file, kGenerationAad);
  if (!plain) return DataLoss(shown + ": " + plain.error().message());
  auto rec = DeserializeObject(plain->Reveal(), kGenerationFile);
  if (!rec) return DataLoss(shown + ": " + rec.error().message());
  auto it = rec->attrs.find(kSerial);
  StoreRecord out;
  if (it != rec->attrs.end()) out.serial.assign(it->second.begin(), it->second.end());
  out.generation = rec->Ulong(kGeneration, 0);
  return std::optional<StoreRecord>(std::move(out));
}

Status Store::CheckBinding(const TokenMeta& m, bool bound) {
  const std::string shown = dir_ + "/" + kMetaFile;
  KMRA_ASSIGN_OR_RETURN(auto stored, ReadStoreGeneration());
  if (!stored) {
    // Stores written before the generation file existed have none; any later record says so.
    if (!bound) return OkStatus();
    return DataLoss(dir_ + "/objects/" + kGenerationFile +
                    " is missing although token.meta was written with it (deleted, perhaps to pass "
                    "an older token.meta): restore both files, or remove " +
                    dir_ + " and initialise a new token");
  }
  if (stored->serial != m.serial) {
    return DataLoss(dir_ + "/objects/" + kGenerationFile +
                    " belongs to another token than token.meta: the files were mixed up");
  }
  if (m.generation < stored->generation) {
    return DataLoss(shown + " is older than the object store (generation " +
                    std::to_string(m.generation) + " < " + std::to_string(stored->generation) +
                    "): it was rolled back (which would reset the PIN failure counters); restore "
                    "the current token.meta, or remove " +
                    dir_ + " and initialise a new token");
  }
  return OkStatus();
}

Status Store::WriteStoreGeneration(const std::string& serial, CK_ULONG generation) {
  Object rec;
  rec.SetBytes(kSerial, {reinterpret_cast<const uint8_t*>(serial.data()), serial.size()});
  rec.SetUlong(kGeneration, generation);
  KMRA_ASSIGN_OR_RETURN(auto sealed, Seal(SerializeObject(rec), kGenerationAad));
  return fs::WriteFileAt(objects_fd_.get(), kGenerationFile, sealed,
                         dir_ + "/objects/" + kGenerationFile);
}

Result<TokenMeta> Store::ReadMeta() {
  const std::string shown = dir_ + "/" + kMetaFile;
  auto read = fs::ReadFileAt(dir_fd_.get(), kMetaFile, shown);
  if (!read && read.error().code() == Code::kNotFound) {
    // A store past its first record write had a record: deleting token.meta must not make the
    // token look new (C_InitToken would then take any SO PIN). Generation 0 is only written
    // before a new token's first record.
    auto stored = ReadStoreGeneration();
    if (!stored || (*stored && (*stored)->generation > 0)) {
      return DataLoss(shown +
                      " is missing but the object store belongs to an initialised token: "
                      "restore token.meta, or remove " +
                      dir_ + " and initialise a new token");
    }
  }
  KMRA_ASSIGN_OR_RETURN(auto file, std::move(read));
  auto plain = Unseal(file, kMetaAad);
  if (!plain) return DataLoss(dir_ + "/token.meta: " + plain.error().message());
  KMRA_ASSIGN_OR_RETURN(Object rec, DeserializeObject(plain->Reveal(), "token.meta"));
  auto bytes = [&](CK_ATTRIBUTE_TYPE t) {
    auto it = rec.attrs.find(t);
    return it == rec.attrs.end() ? std::vector<uint8_t>() : it->second;
  };
  auto secret = [&](CK_ATTRIBUTE_TYPE t) { return SecretBytes(bytes(t)); };
  TokenMeta m;
  auto label = bytes(kLabel);
  auto serial = bytes(kSerial);
  m.label.assign(label.begin(), label.end());
  m.serial.assign(serial.begin(), serial.end());
  m.so_salt = secret(kSoSalt);
  m.so_hash = secret(kSoHash);
  m.user_salt = secret(kUserSalt);
  m.user_hash = secret(kUserHash);
  m.user_failures = rec.Ulong(kUserFail, 0);
  m.so_failures = rec.Ulong(kSoFail, 0);
  m.generation = rec.Ulong(kGeneration, 0);
  KMRA_TRY(CheckBinding(m, rec.Ulong(kBound, 0) == 1));
  last_meta_ = std::move(file);
  return m;
}

Status Store::WriteMeta(const TokenMeta& m) {
  // A store without a generation file (a new token, or one from before the file existed) gets
  // one first, one step behind the record about to be written: from here on every record says it
  // is bound to the file, and a crash anywhere below leaves a state ReadMeta accepts.
  KMRA_ASSIGN_OR_RETURN(auto stored, ReadStoreGeneration());
  if (!stored) {
    if (m.generation == 0) return Internal("a token record is written with generation 0");
    KMRA_TRY(WriteStoreGeneration(m.serial, m.generation - 1));
  }
  Object rec;
  rec.SetBytes(kLabel, {reinterpret_cast<const uint8_t*>(m.label.data()), m.label.size()});
  rec.SetBytes(kSerial, {reinterpret_cast<const uint8_t*>(m.serial.data()), m.serial.size()});
  rec.SetBytes(kSoSalt, m.so_salt.Reveal());
  rec.SetBytes(kSoHash, m.so_hash.Reveal());
  rec.SetBytes(kUserSalt, m.user_salt.Reveal());
  rec.SetBytes(kUserHash, m.user_hash.Reveal());
  rec.SetUlong(kUserFail, m.user_failures);
  rec.SetUlong(kSoFail, m.so_failures);
  rec.SetUlong(kGeneration, m.generation);
  rec.SetUlong(kBound, 1);
  SecretBytes plain = SerializeObject(rec);
  KMRA_ASSIGN_OR_RETURN(auto sealed, Seal(plain, kMetaAad));
  KMRA_TRY(fs::WriteFileAt(dir_fd_.get(), kMetaFile, sealed, dir_ + "/" + kMetaFile));
  last_meta_ = std::move(sealed);
  // Record first, then the store's copy of its generation: a crash in between leaves a record
  // newer than the store, which is accepted (and fixed by the next write).
  return WriteStoreGeneration(m.serial, m.generation);
}

bool Store::Changed() {
  auto file = fs::ReadFileAt(dir_fd_.get(), kMetaFile, dir_ + "/" + kMetaFile);
  if (!file) return !last_meta_.empty();
  return *file != last_meta_;
}

std::vector<Object> Store::LoadObjects(std::vector<std::string>* refused) {
  std::vector<Object> out;
  const std::string objects = dir_ + "/objects";
  auto names = fs::ListDir(objects_fd_.get(), objects);
  if (!names) {
    if (refused) refused->push_back(names.error().message());
    return out;
  }
  for (const std::string& name : *names) {
    if (name.empty() || name[0] == '.' || !EndsWith(name, kObjectSuffix)) continue;
    std::string uid = name.substr(0, name.size() - 4);
    auto file =
        fs::ReadFileAt(objects_fd_.get(), name, std::string(objects).append("/").append(name));
    if (!file) {
      if (refused) refused->push_back(uid + ": " + file.error().message());
      continue;
    }
    auto plain = Unseal(*file, kObjectAadPrefix + uid);
    if (!plain) {
      if (refused) refused->push_back(uid + ": " + plain.error().message());
      continue;
    }
    auto obj = DeserializeObject(plain->Reveal(), uid);
    if (!obj) {
      if (refused) refused->push_back(uid + ": " + obj.error().message());
      continue;
    }
    out.push_back(std::move(*obj));
  }
  return out;
}

Status Store::WriteObject(const Object& o) {
  SecretBytes plain = SerializeObject(o);
  KMRA_ASSIGN_OR_RETURN(auto sealed, Seal(plain, kObjectAadPrefix + o.uid));
  const std::string name = o.uid + kObjectSuffix;
  return fs::WriteFileAt(objects_fd_.get(), name, sealed, dir_ + "/objects/" + name);
}

Status Store::DeleteObject(const std::string& uid) {
  const std::string name = uid + kObjectSuffix;
  return fs::RemoveAt(objects_fd_.get(), name, dir_ + "/objects/" + name);
}

Status Store::Clear() {
  // The generation file stays: a re-initialised token continues its generation.
  for (int fd : {objects_fd_.get(), dir_fd_.get()}) {
    const std::string shown = fd == dir_fd_.get() ? dir_ : dir_ + "/objects";
    KMRA_ASSIGN_OR_RETURN(auto names, fs::ListDir(fd, shown));
    for (const auto& name : names) {
      if ((fd == objects_fd_.get() && EndsWith(name, kObjectSuffix)) || fs::IsTempName(name)) {
        if (::unlinkat(fd, name.c_str(), 0) != 0 && errno != ENOENT) {
          return Unavailable(
              fs::Errno(std::string("cannot remove ").append(shown).append("/").append(name)));
        }
      }
    }
    if (::fsync(fd) != 0) return Unavailable(fs::Errno("cannot fsync " + shown));
  }
  return OkStatus();
}

}  // namespace kmra::token
