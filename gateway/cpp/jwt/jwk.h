#pragma once
// Verification keys (RFC 7517) imported into OpenSSL 3 EVP keys once, when a key set is loaded: RSA (n, e),
// EC (P-256, P-384, P-521), OKP (Ed25519), and symmetric `oct` keys only where the operator configured one.
// A set is refused whole when anything in it is doubtful: a private key, a kid used twice, symmetric and
// asymmetric keys mixed, an RSA modulus under the minimum.
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

typedef struct evp_pkey_st EVP_PKEY;

namespace sandgate::jwt {

enum class Algorithm { kRS256, kRS384, kRS512, kPS256, kPS384, kPS512, kES256, kES384, kES512, kEdDSA, kHS256, kHS384, kHS512 };

// The JOSE name: "RS256", ...; nullopt for "none" and every name this verifier does not implement.
std::optional<Algorithm> algorithm_named(std::string_view name);
std::string_view algorithm_name(Algorithm algorithm);

enum class KeyType { kRsa, kEc, kOkp, kOct };

class Jwk {
 public:
  const std::string& kid() const { return kid_; }  // empty: the key has none
  KeyType type() const { return type_; }
  // Whether this key verifies `algorithm`: its type and curve fit it, and its own `alg`, when given, is it.
  bool serves(Algorithm algorithm) const;
  EVP_PKEY* public_key() const { return key_.get(); }   // null for `oct`
  const std::string& secret() const { return secret_; }  // `oct` only

 private:
  friend struct JwkReader;
  std::string kid_;
  KeyType type_ = KeyType::kRsa;
  std::optional<Algorithm> algorithm_;
  std::string curve_;  // EC and OKP
  std::shared_ptr<EVP_PKEY> key_;
  std::string secret_;
};

struct JwksOptions {
  bool allow_symmetric = false;     // `oct` keys: only from the operator's own configuration, never a URL
  std::size_t min_rsa_bits = 2048;
  std::size_t min_secret_bytes = 32;  // RFC 7518 3.2: at least the hash's size for HS256
};

class Jwks {
 public:
  // `json_text`: {"keys": [...]} or one key object. Keys for encryption (`use` other than "sig", `key_ops`
  // without "verify") are left out; a set with no usable key is an error too.
  static std::variant<std::shared_ptr<const Jwks>, std::string> parse(std::string_view json_text,
                                                                      const JwksOptions& options = {});

  // The keys that may have signed a token: the one whose kid matches when the token names one (a token's kid
  // never selects a key of another algorithm), else every key that serves `algorithm`.
  std::vector<const Jwk*> candidates(const std::optional<std::string>& kid, Algorithm algorithm) const;
  const std::vector<Jwk>& keys() const { return keys_; }

 private:
  std::vector<Jwk> keys_;
};

}  // namespace sandgate::jwt
