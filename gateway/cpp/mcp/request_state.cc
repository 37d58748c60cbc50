#include "mcp/request_state.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <cstdint>
#include <stdexcept>

#include "jwt/base64url.h"

namespace sandgate::mcp {
namespace {

constexpr std::size_t kNonceBytes = 12;
constexpr std::size_t kTagBytes = 16;
constexpr std::size_t kExpiryBytes = 8;
constexpr std::string_view kVersion = "sandgate-request-state-v1";
// What a state may hold sealed: a base64url text a client echoes must stay a sane size.
constexpr std::size_t kMaxStateChars = 1024 * 1024;

using Context = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

// The associated data: length-prefixed so no two bindings read alike.
std::string associated_data(const StateBinding& binding) {
  std::string aad(kVersion);
  for (std::string_view part : {binding.principal, binding.method, binding.target}) {
    const std::uint64_t size = part.size();
    for (int shift = 56; shift >= 0; shift -= 8) aad.push_back(static_cast<char>((size >> shift) & 0xff));
    aad.append(part);
  }
  return aad;
}

const unsigned char* bytes(std::string_view text) { return reinterpret_cast<const unsigned char*>(text.data()); }
unsigned char* bytes(std::string& text) { return reinterpret_cast<unsigned char*>(text.data()); }

std::int64_t unix_seconds(WallClock::time_point at) {
  return std::chrono::duration_cast<std::chrono::seconds>(at.time_since_epoch()).count();
}

}  // namespace

RequestStateSeal::RequestStateSeal(std::string key, std::shared_ptr<const WallClock> clock,
                                   std::chrono::seconds lifetime)
    : key_(std::move(key)), clock_(std::move(clock)), lifetime_(lifetime) {
  if (key_.size() != kRequestStateKeyBytes) throw std::invalid_argument("a requestState key is 32 bytes");
}

std::string RequestStateSeal::random_key() {
  std::string key(kRequestStateKeyBytes, '\0');
  if (RAND_bytes(bytes(key), static_cast<int>(key.size())) != 1) throw std::runtime_error("RAND_bytes failed");
  return key;
}

std::string RequestStateSeal::seal(std::string_view payload, const StateBinding& binding) const {
  std::string plain(kExpiryBytes, '\0');
  const auto expiry = static_cast<std::uint64_t>(unix_seconds(clock_->now() + lifetime_));
  for (std::size_t i = 0; i < kExpiryBytes; ++i) plain[i] = static_cast<char>((expiry >> (56 - 8 * i)) & 0xff);
  plain.append(payload);
  std::string out(kNonceBytes + plain.size() + kTagBytes, '\0');
  if (RAND_bytes(bytes(out), static_cast<int>(kNonceBytes)) != 1) throw std::runtime_error("RAND_bytes failed");
  const std::string aad = associated_data(binding);
  Context ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  int written = 0;
  if (ctx == nullptr || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, bytes(key_), bytes(out)) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &written, bytes(aad), static_cast<int>(aad.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), bytes(out) + kNonceBytes, &written, bytes(plain),
                        static_cast<int>(plain.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), bytes(out) + kNonceBytes + written, &written) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTagBytes),
                          bytes(out) + kNonceBytes + plain.size()) != 1) {
    throw std::runtime_error("sealing a requestState failed");
  }
  return jwt::encode_base64url(out);
}

std::variant<std::string, StateRefused> RequestStateSeal::open(std::string_view state,
                                                               const StateBinding& binding) const {
  const StateRefused forged{"requestState integrity check failed"};
  if (state.size() > kMaxStateChars) return forged;
  const std::optional<std::string> sealed = jwt::decode_base64url(state);
  if (!sealed || sealed->size() < kNonceBytes + kExpiryBytes + kTagBytes) return forged;
  const std::size_t cipher_size = sealed->size() - kNonceBytes - kTagBytes;
  std::string plain(cipher_size, '\0');
  std::string tag = sealed->substr(kNonceBytes + cipher_size);
  const std::string aad = associated_data(binding);
  Context ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  int written = 0;
  if (ctx == nullptr ||
      EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, bytes(key_), bytes(*sealed)) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &written, bytes(aad), static_cast<int>(aad.size())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), bytes(plain), &written, bytes(*sealed) + kNonceBytes,
                        static_cast<int>(cipher_size)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kTagBytes), bytes(tag)) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), bytes(plain) + written, &written) != 1) {
    return forged;  // changed, made up, sealed under another key, or for another principal or target
  }
  std::uint64_t expiry = 0;
  for (std::size_t i = 0; i < kExpiryBytes; ++i) expiry = (expiry << 8) | static_cast<unsigned char>(plain[i]);
  if (static_cast<std::int64_t>(expiry) < unix_seconds(clock_->now())) return StateRefused{"requestState expired"};
  return plain.substr(kExpiryBytes);
}

}  // namespace sandgate::mcp
