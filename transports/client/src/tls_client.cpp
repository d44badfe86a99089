// The client's TLS connections: the shared contexts, SNI and host-name verification (docs/tls.md).

#include "eio_transport.hpp"

#include "fallbench/transport/tls.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <map>
#include <mutex>
#include <utility>

namespace fallbench::transport {

std::shared_ptr<boost::asio::ssl::context> client_tls_context(client_options const& o) {
  // One context per (verify, CA file) in the process, made on first use: loading and parsing a CA
  // file per client would dominate a connect ramp of thousands of clients.
  static std::mutex mutex;
  static std::map<std::pair<bool, std::string>, std::shared_ptr<boost::asio::ssl::context>> contexts;
  std::lock_guard lock(mutex);
  auto& ctx = contexts[{o.tls_verify, o.tls_verify ? o.tls_ca_file : std::string()}];
  if (!ctx) ctx = make_client_tls_context(o.tls_verify, o.tls_ca_file);
  return ctx;
}

namespace detail {

std::unique_ptr<tls_stream> make_tls_stream(boost::asio::any_io_executor ex, endpoint_info const& where) {
  auto s = std::make_unique<tls_stream>(std::move(ex), *where.tls);
  boost::system::error_code ec;
  boost::asio::ip::make_address(where.tls_host, ec);
  if (ec) {
    // SSL_set_tlsext_host_name, without its macro's C cast.
    SSL_ctrl(s->native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
             const_cast<char*>(where.tls_host.c_str()));
  }
  if (where.tls_verify) s->set_verify_callback(boost::asio::ssl::host_name_verification(where.tls_host));
  return s;
}

std::string tls_failure(tls_stream& s, error_code ec) {
  std::string text = tls_reason(ec);
  long const verify = SSL_get_verify_result(s.native_handle());
  if (verify != X509_V_OK) text += std::string(" (") + X509_verify_cert_error_string(verify) + ")";
  return text;
}

}  // namespace detail
}  // namespace fallbench::transport
