#include "token/store.h"

#include <dirent.h>
#include <fcntl.h>
#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "crypto/ossl.h"

namespace kmra::token {
namespace {

constexpr char kMagic[8] = {'K', 'M', 'R', 'A', 'S', 'E', 'L', '1'};
constexpr size_t kNonce = 12, kTag = 16;
constexpr char kMetaAad[] = "kmra-token-meta-v1";
constexpr char kObjectAadPrefix[] = "kmra-token-object-v1:";

// Internal attribute numbers of the token record (it reuses the object encoding).
enum MetaField : CK_ATTRIBUTE_TYPE {
  kLabel = 1, kSerial, kSoSalt, kSoHash, kUserSalt, kUserHash, kUserFail, kSoFail, kGeneration
};

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

Result<std::vector<uint8_t>> ReadAll(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return NotFound(path + " does not exist");
    return Unavailable(Errno("cannot open " + path));
  }
  std::vector<uint8_t> out;
  uint8_t buf[8192];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      return Unavailable(Errno("cannot read " + path));
    }
    if (n == 0) break;
    out.insert(out.end(), buf, buf + n);
    if (out.size() > (64u << 20)) {
      ::close(fd);
      return DataLoss(path + " is larger than any token file can be");
    }
  }
  ::close(fd);
  return out;
}

Status FsyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Unavailable(Errno("cannot open " + dir));
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return Unavailable(Errno("cannot fsync " + dir));
  return OkStatus();
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

SecretBytes HashPin(const SecretBytes& salt, std::string_view pin) {
  SecretBytes out(32);
  PKCS5_PBKDF2_HMAC(pin.data(), static_cast<int>(pin.size()), salt.Reveal().data(),
                    static_cast<int>(salt.size()), 10000, EVP_sha256(), 32,
                    out.RevealMutable().data());
  return out;
}

Result<std::unique_ptr<Store>> Store::Open(const std::string& dir, const SecretBytes& platform_key) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return Unavailable(Errno("cannot create token directory " + dir));
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return FailedPrecondition("token_dir " + dir + " is not a directory");
  }
  const std::string objects = dir + "/objects";
  if (::mkdir(objects.c_str(), 0700) != 0 && errno != EEXIST) {
    return Unavailable(Errno("cannot create " + objects));
  }
  if (::geteuid() == 0) {
    // Keep the store owned by whoever owns token_dir (NGINX workers re-read it as their user).
    if (::chown(objects.c_str(), st.st_uid, st.st_gid) != 0) { /* best effort */ }
  }
  const std::string lock_path = dir + "/.lock";
  int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) fd = ::open(lock_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Unavailable(Errno("cannot open lock file " + lock_path));
  if (::geteuid() == 0 && ::fchown(fd, st.st_uid, st.st_gid) != 0) { /* best effort */ }

  // Store key = HKDF-SHA256(platform sealing key, info "kmra token store v1").
  SecretBytes key(32);
  EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
  EVP_KDF_CTX* kctx = kdf != nullptr ? EVP_KDF_CTX_new(kdf) : nullptr;
  EVP_KDF_free(kdf);
  static char kDigest[] = "SHA256";
  static char kInfo[] = "kmra token store v1";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, kDigest, 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
                                        const_cast<uint8_t*>(platform_key.Reveal().data()),
                                        platform_key.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, kInfo, sizeof kInfo - 1),
      OSSL_PARAM_construct_end()};
  const bool ok = kctx != nullptr &&
                  EVP_KDF_derive(kctx, key.RevealMutable().data(), key.size(), params) == 1;
  EVP_KDF_CTX_free(kctx);
  if (!ok) {
    ::close(fd);
    return ossl::Fail(Code::kInternal, "cannot derive the token store key");
  }
  return std::unique_ptr<Store>(new Store(dir, std::move(key), fd, st.st_uid, st.st_gid));
}

Store::Store(std::string dir, SecretBytes key, int lock_fd, uid_t owner, gid_t group)
    : dir_(std::move(dir)), key_(std::move(key)), lock_fd_(lock_fd), owner_(owner), group_(group) {}

Store::~Store() {
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

Result<FileLock> Store::LockExclusive() {
  while (::flock(lock_fd_, LOCK_EX) != 0) {
    if (errno != EINTR) return Unavailable(Errno("cannot lock " + dir_));
  }
  return FileLock(lock_fd_);
}

Result<FileLock> Store::LockShared() {
  while (::flock(lock_fd_, LOCK_SH) != 0) {
    if (errno != EINTR) return Unavailable(Errno("cannot lock " + dir_));
  }
  return FileLock(lock_fd_);
}

Result<std::vector<uint8_t>> Store::Seal(const SecretBytes& plain, const std::string& aad) {
  std::vector<uint8_t> out(sizeof kMagic + kNonce + plain.size() + kTag);
  std::memcpy(out.data(), kMagic, sizeof kMagic);
  uint8_t* nonce = out.data() + sizeof kMagic;
  if (RAND_bytes(nonce, kNonce) != 1) return ossl::Fail(Code::kInternal, "no randomness");
  auto ctx = ossl::Wrap(EVP_CIPHER_CTX_new());
  int len = 0;
  uint8_t* ct = nonce + kNonce;
  if (!ctx ||
      EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key_.Reveal().data(), nonce) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const uint8_t*>(aad.data()),
                        static_cast<int>(aad.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), ct, &len, plain.Reveal().data(),
                        static_cast<int>(plain.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), ct + len, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTag, ct + plain.size()) != 1) {
    return ossl::Fail(Code::kInternal, "sealing failed");
  }
  return out;
}

Result<SecretBytes> Store::Unseal(const std::vector<uint8_t>& file, const std::string& aad) {
  if (file.size() < sizeof kMagic + kNonce + kTag ||
      std::memcmp(file.data(), kMagic, sizeof kMagic) != 0) {
    return DataLoss("not a sealed token file (bad header)");
  }
  const uint8_t* nonce = file.data() + sizeof kMagic;
  const uint8_t* ct = nonce + kNonce;
  const size_t ct_len = file.size() - sizeof kMagic - kNonce - kTag;
  SecretBytes plain(ct_len);
  auto ctx = ossl::Wrap(EVP_CIPHER_CTX_new());
  int len = 0;
  if (!ctx ||
      EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key_.Reveal().data(), nonce) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const uint8_t*>(aad.data()),
                        static_cast<int>(aad.size())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), plain.RevealMutable().data(), &len, ct,
                        static_cast<int>(ct_len)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTag,
                          const_cast<uint8_t*>(ct + ct_len)) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), plain.RevealMutable().data() + len, &len) != 1) {
    ossl::DrainErrors();
    return DataLoss(
        "authentication failed: the file was modified, moved, or sealed by another enclave or "
        "platform");
  }
  return plain;
}

Status Store::WriteAtomic(const std::string& dir, const std::string& name,
                          const std::vector<uint8_t>& bytes) {
  const std::string tmp = dir + "/." + name + ".tmp." + std::to_string(::getpid());
  const std::string final_path = dir + "/" + name;
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Unavailable(Errno("cannot create " + tmp));
  if (::geteuid() == 0 && ::fchown(fd, owner_, group_) != 0) { /* best effort */ }
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + off, bytes.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      auto err = Unavailable(Errno("cannot write " + tmp));
      ::close(fd);
      ::unlink(tmp.c_str());
      return err;
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    auto err = Unavailable(Errno("cannot fsync " + tmp));
    ::close(fd);
    ::unlink(tmp.c_str());
    return err;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), final_path.c_str()) != 0) {
    auto err = Unavailable(Errno("cannot rename " + tmp + " to " + final_path));
    ::unlink(tmp.c_str());
    return err;
  }
  return FsyncDir(dir);
}

Result<TokenMeta> Store::ReadMeta() {
  KMRA_ASSIGN_OR_RETURN(auto file, ReadAll(dir_ + "/token.meta"));
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
  last_meta_ = std::move(file);
  return m;
}

Status Store::WriteMeta(const TokenMeta& m) {
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
  SecretBytes plain = SerializeObject(rec);
  for (auto& [t, v] : rec.attrs) SecureWipe(v.data(), v.size());
  KMRA_ASSIGN_OR_RETURN(auto sealed, Seal(plain, kMetaAad));
  KMRA_TRY(WriteAtomic(dir_, "token.meta", sealed));
  last_meta_ = std::move(sealed);
  return OkStatus();
}

bool Store::Changed() {
  auto file = ReadAll(dir_ + "/token.meta");
  if (!file) return !last_meta_.empty();
  return *file != last_meta_;
}

std::vector<Object> Store::LoadObjects(std::vector<std::string>* refused) {
  std::vector<Object> out;
  const std::string objects = dir_ + "/objects";
  DIR* d = ::opendir(objects.c_str());
  if (d == nullptr) {
    if (refused) refused->push_back(Errno("cannot list " + objects));
    return out;
  }
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name.empty() || name[0] == '.' || !EndsWith(name, ".obj")) continue;
    std::string uid = name.substr(0, name.size() - 4);
    auto file = ReadAll(objects + "/" + name);
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
  ::closedir(d);
  return out;
}

Status Store::WriteObject(const Object& o) {
  SecretBytes plain = SerializeObject(o);
  KMRA_ASSIGN_OR_RETURN(auto sealed, Seal(plain, kObjectAadPrefix + o.uid));
  return WriteAtomic(dir_ + "/objects", o.uid + ".obj", sealed);
}

Status Store::DeleteObject(const std::string& uid) {
  const std::string path = dir_ + "/objects/" + uid + ".obj";
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return Unavailable(Errno("cannot remove " + path));
  }
  return FsyncDir(dir_ + "/objects");
}

Status Store::Clear() {
  for (const std::string& sub : {dir_ + "/objects", dir_}) {
    DIR* d = ::opendir(sub.c_str());
    if (d == nullptr) return Unavailable(Errno("cannot list " + sub));
    std::vector<std::string> doomed;
    while (dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (EndsWith(name, ".obj") || name.find(".tmp.") != std::string::npos) {
        doomed.push_back(sub + "/" + name);
      }
    }
    ::closedir(d);
    for (const auto& p : doomed) ::unlink(p.c_str());
    KMRA_TRY(FsyncDir(sub));
  }
  return OkStatus();
}

}  // namespace kmra::token
