#pragma once
// The pages of server/web/, embedded at build time (cmake/embed_files.cmake generates the definition).

#include <span>
#include <string_view>

namespace fallbench::chat::detail {

/// One embedded file: its name under server/web/ and its bytes.
struct embedded_file {
  std::string_view name;
  std::string_view bytes;
};

/// Every embedded file, in the order CMake lists them.
std::span<embedded_file const> embedded_files() noexcept;

}  // namespace fallbench::chat::detail
