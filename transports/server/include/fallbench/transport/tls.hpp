#pragma once
/// TLS for the server side: the context `serve --tls-cert/--tls-key` listens with (and the fault proxy
/// can reuse). docs/tls.md says what is configured and why.

#include <boost/system/error_code.hpp>

#include <memory>
#include <stdexcept>
#include <string>

namespace boost::asio::ssl {
class context;
}

namespace fallbench::transport {

/// A certificate or key that cannot be used; what() names the file and gives OpenSSL's reason.
class tls_config_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A server TLS context: TLS 1.2 and 1.3 only, the certificate chain from `cert_chain_file` (PEM, leaf
/// first) and its private key from `key_file` (PEM), checked to match. Throws tls_config_error.
/// One context serves every connection of a listener: OpenSSL contexts are safe to share between threads.
std::shared_ptr<boost::asio::ssl::context> make_server_tls_context(std::string const& cert_chain_file,
                                                                    std::string const& key_file);

/// A client TLS context: TLS 1.2 and 1.3; with `verify`, the server's chain is checked against the
/// authorities in `ca_file` (PEM), or the system's default store when it is empty. Host-name checking
/// and SNI are per connection (set_client_tls_host). Throws tls_config_error when `ca_file` cannot be
/// loaded. Clients share one context per configuration (client_tls_context in client.hpp).
std::shared_ptr<boost::asio::ssl::context> make_client_tls_context(bool verify, std::string const& ca_file);

/// The files of a throwaway PKI (make_throwaway_pki).
struct throwaway_pki {
  std::string ca_file;          ///< the authority's certificate (PEM): what clients trust
  std::string cert_chain_file;  ///< the server's certificate then the authority's (PEM)
  std::string key_file;         ///< the server's private key (PEM, mode 0600)
};

/// Make a certificate authority and a server certificate it signs, for 127.0.0.1 and localhost (IP and
/// DNS subject alternative names), EC P-256, valid from an hour ago for two days, and write them to
/// `dir` (ca.pem, server.pem, server-key.pem). The authority's key is never written: nothing else can be
/// signed with it once this returns. What `fallbench run` serves TLS targets with, and what the tests
/// use, so that nothing secret is ever committed. Throws tls_config_error naming what failed.
throwaway_pki make_throwaway_pki(std::string const& dir);

/// OpenSSL's reason for `ec` without the library's name ("certificate verify failed"), or ec.message()
/// for errors that are not OpenSSL's.
std::string tls_reason(boost::system::error_code const& ec);

}  // namespace fallbench::transport
