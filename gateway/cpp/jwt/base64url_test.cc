#include "jwt/base64url.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace sandgate::jwt {
namespace {

using namespace std::string_literals;

constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

bool in_alphabet(char c) { return kAlphabet.find(c) != std::string_view::npos; }

TEST(Base64UrlTest, EmptyIsEmpty) {
  EXPECT_EQ(encode_base64url(""), "");
  ASSERT_TRUE(decode_base64url("").has_value());
  EXPECT_EQ(*decode_base64url(""), "");
}

TEST(Base64UrlTest, Rfc4648VectorsWithoutPadding) {
  const std::pair<std::string_view, std::string_view> cases[] = {
      {"f", "Zg"}, {"fo", "Zm8"}, {"foo", "Zm9v"}, {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"}};
  for (const auto& [bytes, text] : cases) {
    EXPECT_EQ(encode_base64url(bytes), text) << bytes;
    EXPECT_EQ(decode_base64url(text), std::string(bytes)) << text;
  }
}

TEST(Base64UrlTest, UrlAlphabetNotStandard) {
  EXPECT_EQ(encode_base64url("\xfb\xef\xbe"), "----");  // "++++" in standard base64
  EXPECT_EQ(encode_base64url("\xff\xff\xff"), "____");  // "////"
  EXPECT_EQ(decode_base64url("-_-_"), "\xfb\xff\xbf"s);
  EXPECT_EQ(encode_base64url("\0\0\0"s), "AAAA");
  EXPECT_EQ(decode_base64url("AAAA"), "\0\0\0"s);
}

TEST(Base64UrlTest, RejectsPadding) {
  for (std::string_view text : {"Zg==", "Zm8=", "Zg=", "Zm9vYg==", "Zm9vYmE=", "Zg==Zm9v", "====", "Zm9v===="}) {
    EXPECT_FALSE(decode_base64url(text).has_value()) << text;
  }
  // The same bytes unpadded: the '=' is the only defect above.
  EXPECT_TRUE(decode_base64url("Zg").has_value());
  EXPECT_TRUE(decode_base64url("Zm8").has_value());
}

TEST(Base64UrlTest, RejectsStandardAlphabet) {
  for (std::string_view text : {"++++", "////", "Zm9v+A", "Zm9v/w", "+_-_", "-_-/"}) {
    EXPECT_FALSE(decode_base64url(text).has_value()) << text;
  }
}

TEST(Base64UrlTest, RejectsWhitespace) {
  // Lengths kept off 4k+1 so only the whitespace can be the reason.
  for (std::string_view text : {" Zm9vYg", "Zm9vYg ", "Zm9v Yg", "Zm\t9vYg", "Zm9vYg\r\n", "Zm9v\nYg", "Zm9v\vYg", "Zm9v\fYg"}) {
    EXPECT_FALSE(decode_base64url(text).has_value()) << text;
  }
}

TEST(Base64UrlTest, RejectsEveryByteOutsideTheAlphabetInEveryPosition) {
  const std::string good = "Zm9vYmFy";
  ASSERT_TRUE(decode_base64url(good).has_value());
  int outside = 0;
  for (int b = 0; b < 256; ++b) {
    const char c = static_cast<char>(b);
    if (in_alphabet(c)) continue;
    ++outside;
    for (std::size_t i = 0; i < good.size(); ++i) {
      std::string text = good;
      text[i] = c;
      EXPECT_FALSE(decode_base64url(text).has_value()) << "byte " << b << " at " << i;
    }
  }
  EXPECT_EQ(outside, 256 - 64);
}

TEST(Base64UrlTest, RejectsLengthOneMoreThanAMultipleOfFour) {
  for (std::string_view text : {"Z", "A", "Zm9vY", "Zm9vYmFyA", "AAAAAAAAA"}) {
    EXPECT_FALSE(decode_base64url(text).has_value()) << text;
  }
  // One character fewer or more is fine.
  for (std::string_view text : {"Zm9v", "Zm9vYg", "Zm9vYmFy", "Zm9vYmFyAA"}) {
    EXPECT_TRUE(decode_base64url(text).has_value()) << text;
  }
}

TEST(Base64UrlTest, RejectsNonZeroUnusedBits) {
  // "f" is "Zg": the second character carries 2 data bits and 4 unused ones, so only "g" of g..v is canonical.
  for (char c : std::string_view("hijklmnopqrstuv")) {
    EXPECT_FALSE(decode_base64url("Z"s + c).has_value()) << "Z" << c;
  }
  // "fo" is "Zm8": the third character carries 4 data bits and 2 unused ones, so 9, - and _ are second spellings.
  for (std::string_view text : {"Zm9", "Zm-", "Zm_", "Zm9vYh", "Zm9vYmF"}) {
    EXPECT_FALSE(decode_base64url(text).has_value()) << text;
  }
  EXPECT_EQ(decode_base64url("Zg"), "f");
  EXPECT_EQ(decode_base64url("Zm8"), "fo");
  EXPECT_EQ(decode_base64url("Zm9vYmE"), "fooba");
}

TEST(Base64UrlTest, EveryShortTextDecodesOnlyInItsOneSpelling) {
  // Exhaustive over all 2- and 3-character texts: accepted exactly when re-encoding gives the text back.
  int accepted = 0;
  for (char a : kAlphabet) {
    for (char b : kAlphabet) {
      const std::string two{a, b};
      const auto decoded = decode_base64url(two);
      if (decoded) {
        ++accepted;
        EXPECT_EQ(decoded->size(), 1u) << two;
        EXPECT_EQ(encode_base64url(*decoded), two);
      }
      for (char c : kAlphabet) {
        const std::string three{a, b, c};
        const auto decoded3 = decode_base64url(three);
        if (decoded3) {
          ++accepted;
          EXPECT_EQ(decoded3->size(), 2u) << three;
          EXPECT_EQ(encode_base64url(*decoded3), three);
        }
      }
    }
  }
  EXPECT_EQ(accepted, 256 + 65536);  // one text per 1- and 2-byte value, no more
}

TEST(Base64UrlTest, RoundTripsEveryByteAndLength) {
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes.push_back(static_cast<char>(i));
  for (std::size_t length = 0; length <= 70; ++length) {
    for (std::size_t start : {std::size_t{0}, std::size_t{100}, std::size_t{185}}) {
      const std::string input = bytes.substr(start, length);
      const std::string text = encode_base64url(input);
      EXPECT_EQ(text.size(), (input.size() * 4 + 2) / 3) << length;
      for (char c : text) EXPECT_TRUE(in_alphabet(c)) << text;
      EXPECT_EQ(decode_base64url(text), input) << text;
    }
  }
  EXPECT_EQ(decode_base64url(encode_base64url(bytes)), bytes);
}

}  // namespace
}  // namespace sandgate::jwt
