#include "fallbench/codec/base64.hpp"

#include <gtest/gtest.h>

namespace fallbench::codec {
namespace {

// RFC 4648 section 10 test vectors.
TEST(Base64Test, EncodesRfc4648Vectors) {
  std::pair<char const*, char const*> const vectors[] = {
      {"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"}, {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"}};
  for (auto const& [plain, encoded] : vectors) {
    std::string out;
    base64_encode(plain, out);
    EXPECT_EQ(out, encoded);
    std::string back;
    ASSERT_TRUE(base64_decode(encoded, back)) << encoded;
    EXPECT_EQ(back, plain);
  }
}

}  // namespace
}  // namespace fallbench::codec
