#pragma once
/// A throwaway PKI for a test (transport::make_throwaway_pki) in a temporary directory, removed at the
/// end: nothing secret is committed, and no openssl command is needed.

#include "fallbench/transport/tls.hpp"

#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>

namespace fallbench::test {

class test_pki {
 public:
  test_pki() {
    std::string pattern = (std::filesystem::temp_directory_path() / "fallbench-pki-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      why_ = "mkdtemp " + pattern + " failed";
      return;
    }
    dir_ = pattern;
    try {
      files_ = transport::make_throwaway_pki(dir_.string());
      ok_ = true;
    } catch (transport::tls_config_error const& e) {
      why_ = e.what();
    }
  }
  ~test_pki() {
    std::error_code ignored;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ignored);
  }
  test_pki(test_pki const&) = delete;
  test_pki& operator=(test_pki const&) = delete;

  bool ok() const { return ok_; }
  std::string const& why() const { return why_; }
  std::string const& ca() const { return files_.ca_file; }
  std::string const& cert() const { return files_.cert_chain_file; }
  std::string const& key() const { return files_.key_file; }
  std::filesystem::path const& dir() const { return dir_; }

 private:
  std::filesystem::path dir_;
  transport::throwaway_pki files_;
  bool ok_ = false;
  std::string why_;
};

}  // namespace fallbench::test
