// TLS contexts for both sides (fallbench/transport/tls.hpp): one place that knows which OpenSSL
// settings the project uses.

#include "fallbench/transport/tls.hpp"

#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>

#include <openssl/err.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <openssl/ssl.h>

namespace fallbench::transport {

namespace ssl = boost::asio::ssl;

namespace {

// The most specific reason OpenSSL queued for the last failure, then the queue cleared.
std::string openssl_reason(boost::system::error_code const& ec) {
  unsigned long const code = ERR_peek_last_error();
  std::string reason;
  if (code != 0) {
    if (char const* r = ERR_reason_error_string(code)) reason = r;
  }
  ERR_clear_error();
  if (reason.empty()) reason = tls_reason(ec);
  return reason;
}

// A file that cannot be opened at all: the system's reason (OpenSSL would only say "system lib").
void check_readable(std::string const& what, std::string const& file) {
  std::ifstream in(file);
  if (!in) throw tls_config_error(what + " '" + file + "': " + std::strerror(errno));
}

std::shared_ptr<ssl::context> base_context(ssl::context::method method) {
  auto ctx = std::make_shared<ssl::context>(method);
  // TLS 1.2 and 1.3 (what browsers and Node offer); no compression; renegotiation off.
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                   ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::no_compression);
  SSL_CTX_set_options(ctx->native_handle(), SSL_OP_NO_RENEGOTIATION);
  return ctx;
}

}  // namespace

std::shared_ptr<ssl::context> make_server_tls_context(std::string const& cert_chain_file, std::string const& key_file) {
  check_readable("certificate", cert_chain_file);
  check_readable("private key", key_file);
  auto ctx = base_context(ssl::context::tls_server);
  boost::system::error_code ec;
  ERR_clear_error();
  ctx->use_certificate_chain_file(cert_chain_file, ec);
  if (ec) throw tls_config_error("certificate '" + cert_chain_file + "': " + openssl_reason(ec));
  ctx->use_private_key_file(key_file, ssl::context::pem, ec);
  if (ec) throw tls_config_error("private key '" + key_file + "': " + openssl_reason(ec));
  if (SSL_CTX_check_private_key(ctx->native_handle()) != 1)
    throw tls_config_error("private key '" + key_file + "' does not match certificate '" + cert_chain_file +
                           "': " + openssl_reason({}));
  return ctx;
}

std::shared_ptr<ssl::context> make_client_tls_context(bool verify, std::string const& ca_file) {
  if (verify && !ca_file.empty()) check_readable("CA file", ca_file);
  auto ctx = base_context(ssl::context::tls_client);
  boost::system::error_code ec;
  ERR_clear_error();
  if (verify) {
    if (ca_file.empty()) {
      ctx->set_default_verify_paths(ec);
      if (ec) throw tls_config_error("the system's certificate store: " + openssl_reason(ec));
    } else {
      ctx->load_verify_file(ca_file, ec);
      if (ec) throw tls_config_error("CA file '" + ca_file + "': " + openssl_reason(ec));
    }
    ctx->set_verify_mode(ssl::verify_peer);
  } else {
    ctx->set_verify_mode(ssl::verify_none);
  }
  return ctx;
}

std::string tls_reason(boost::system::error_code const& ec) {
  if (ec.category() == boost::asio::error::get_ssl_category()) {
    if (char const* r = ERR_reason_error_string(static_cast<unsigned long>(ec.value()))) return r;
  }
  if (ec == boost::asio::ssl::error::stream_truncated) return "the peer closed the connection during the handshake";
  return ec.message();
}

}  // namespace fallbench::transport
