#include "common/digest.h"

#include <openssl/evp.h>

#include <memory>

namespace sandgate {
namespace {

// Fetched once: OpenSSL 3 looks an algorithm up by name (under a lock) on every SHA256() call otherwise.
const EVP_MD* sha256_md() {
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}

}  // namespace

std::string sha256_digest(std::initializer_list<std::string_view> parts) {
  // One context per thread, initialised again for each digest: EVP_Digest allocates and frees one per call.
  thread_local const std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(),
                                                                                     &EVP_MD_CTX_free);
  std::string digest(32, '\0');
  unsigned int size = 0;
  EVP_DigestInit_ex2(context.get(), sha256_md(), nullptr);
  for (const std::string_view part : parts) EVP_DigestUpdate(context.get(), part.data(), part.size());
  EVP_DigestFinal_ex(context.get(), reinterpret_cast<unsigned char*>(digest.data()), &size);
  return digest;
}

std::string sha256_digest(std::string_view bytes) { return sha256_digest({bytes}); }

std::string to_hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(bytes.size() * 2, '\0');
  char* at = out.data();
  for (const char c : bytes) {
    const auto byte = static_cast<unsigned char>(c);
    *at++ = kDigits[byte >> 4];
    *at++ = kDigits[byte & 0xf];
  }
  return out;
}

std::optional<std::string> from_hex(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out(hex.size() / 2, '\0');
  for (std::size_t i = 0; i < out.size(); ++i) {
    const int high = digit(hex[2 * i]), low = digit(hex[2 * i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    out[i] = static_cast<char>(high * 16 + low);
  }
  return out;
}

}  // namespace sandgate
